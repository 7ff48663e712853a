//! The `runtime-platform` rule: the platform the task runs on (`runtimePlatform`: its
//! `operatingSystemFamily` and `cpuArchitecture`, `LINUX`/`X86_64` when absent, as ECS runs it)
//! must be one the container's image has. Offline: the platforms come from the platform-image.json descriptors of
//! the build, and an image pinned to a digest is one of them, or the index over all of them — whose
//! bytes, hence digest, are deterministic ([`crate::platform_image::index`]).

use super::{Finding, JsonPath, containers};
use crate::platform::ImagePlatform;
use crate::platform_image::PlatformImage;
use crate::reference::{Digest, ImageRef};
use serde_json::Value;

/// Findings for `td`, whose containers run `images` (container name → URI, as rendered: a
/// CodeDeploy placeholder's URI in its place), against the build's `descriptors`.
pub fn check(
    td: &Value,
    images: &[(String, String)],
    descriptors: &[PlatformImage],
) -> Vec<Finding> {
    if descriptors.is_empty() {
        return Vec::new();
    }
    let (_, bytes) = crate::platform_image::index(&descriptors.iter().collect::<Vec<_>>());
    let index = Digest::sha256_of(&bytes);
    let all: Vec<&ImagePlatform> = descriptors.iter().map(|d| &d.platform).collect();
    let (wanted, at, given) = task_platform(td);
    let mut out = Vec::new();
    let mut described = 0;
    for (i, c) in containers(td).iter().enumerate() {
        let Some(name) = c.get("name").and_then(Value::as_str) else {
            continue;
        };
        let Some((_, uri)) = images.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let Some(digest) = ImageRef::parse(uri).ok().and_then(|r| r.digest().cloned()) else {
            continue;
        };
        let platforms: Vec<&ImagePlatform> = if digest == index {
            all.clone()
        } else if let Some(d) = descriptors.iter().find(|d| d.digest == digest) {
            vec![&d.platform]
        } else {
            continue;
        };
        described += 1;
        if !platforms
            .iter()
            .any(|p| p.os == wanted.os && p.architecture == wanted.architecture)
        {
            let has = platforms
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            out.push(Finding::error(
                "runtime-platform",
                &at,
                format!(
                    "the task runs on {given} ({}/{}), and the image of container `{name}` \
                     (containerDefinitions[{i}]) has {has} only: set runtimePlatform to one of its \
                     platforms, or build the image for {}/{}",
                    wanted.os, wanted.architecture, wanted.os, wanted.architecture
                ),
            ));
        }
    }
    if described == 0 {
        out.push(Finding::error(
            "runtime-platform",
            &JsonPath::root().key("containerDefinitions"),
            format!(
                "no container's image is the index of the platform images given ({index}) or one \
                 of them: the descriptors are of another build, or the images are not pinned by \
                 digest"
            ),
        ));
    }
    out
}

/// The platform the task runs on, where it is said, and how the task says it.
fn task_platform(td: &Value) -> (ImagePlatform, JsonPath, String) {
    let rp = td.get("runtimePlatform");
    let field = |k: &str| rp.and_then(|r| r.get(k)).and_then(Value::as_str);
    let cpu = field("cpuArchitecture");
    let family = field("operatingSystemFamily");
    let architecture = match cpu {
        Some("ARM64") => "arm64",
        _ => "amd64",
    };
    let os = match family {
        Some(f) if f.starts_with("WINDOWS") => "windows",
        _ => "linux",
    };
    let at = match (rp, cpu) {
        (Some(_), Some(_)) => JsonPath::root()
            .key("runtimePlatform")
            .key("cpuArchitecture"),
        (Some(_), None) => JsonPath::root().key("runtimePlatform"),
        (None, _) => JsonPath::root(),
    };
    let given = format!(
        "{}/{}{}",
        family.unwrap_or("LINUX"),
        cpu.unwrap_or("X86_64"),
        if cpu.is_none() {
            " (no cpuArchitecture: ECS's default)"
        } else {
            ""
        }
    );
    let wanted = ImagePlatform {
        os: os.into(),
        architecture: architecture.into(),
        variant: None,
    };
    (wanted, at, given)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(arch: &str, n: u8) -> PlatformImage {
        PlatformImage {
            repository: "r.example/app".into(),
            media_type: crate::platform_image::DOCKER_MANIFEST.into(),
            digest: Digest::sha256_of(&[n]),
            size: 500,
            platform: ImagePlatform::new("linux", arch, "").unwrap(),
            tag: None,
        }
    }

    fn td(runtime: Option<Value>) -> Value {
        let mut td = serde_json::json!({"family": "f", "containerDefinitions": [{"name": "web", "image": "x"}]});
        if let Some(r) = runtime {
            td["runtimePlatform"] = r;
        }
        td
    }

    #[test]
    fn the_task_platform_must_be_one_the_image_has() {
        let amd = descriptor("amd64", 1);
        let arm = descriptor("arm64", 2);
        let both = [amd.clone(), arm.clone()];
        let (_, bytes) = crate::platform_image::index(&[&amd, &arm]);
        let index = format!("r.example/app@{}", Digest::sha256_of(&bytes));
        let web = |uri: &str| vec![("web".to_string(), uri.to_string())];
        let arm64 =
            Some(serde_json::json!({"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}));
        // The index has both platforms.
        assert!(check(&td(arm64.clone()), &web(&index), &both).is_empty());
        assert!(check(&td(None), &web(&index), &both).is_empty());
        // The amd64 child alone, on an ARM64 task.
        let child = format!("r.example/app@{}", amd.digest);
        let f = check(&td(arm64.clone()), &web(&child), &both);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, "runtime-platform");
        assert_eq!(f[0].path, "runtimePlatform.cpuArchitecture");
        assert!(
            f[0].message.contains("has linux/amd64 only"),
            "{}",
            f[0].message
        );
        // An index of the amd64 leg only, and a task with no runtimePlatform (X86_64) is fine, an
        // ARM64 one is not.
        let (_, one) = crate::platform_image::index(&[&amd]);
        let amd_index = format!("r.example/app@{}", Digest::sha256_of(&one));
        assert!(check(&td(None), &web(&amd_index), std::slice::from_ref(&amd)).is_empty());
        assert_eq!(check(&td(arm64), &web(&amd_index), &[amd]).len(), 1);
        // Descriptors of another build: said, not ignored.
        let f = check(
            &td(None),
            &web("r.example/app@sha256:".to_string().as_str()),
            &both,
        );
        assert!(f[0].message.contains("another build"), "{f:?}");
    }
}
