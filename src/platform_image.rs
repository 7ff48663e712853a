//! `platform-image.json`: the descriptor a platform leg writes (`build-push --push-by-digest`) and
//! the merge reads (`tag-commit index --from`) — one image of a multi-platform build, as an OCI
//! index names its children (`mediaType`, `digest`, `size` of the manifest, `platform`), with the
//! repository it is in and the tag it was pushed under — and [`index`], the index over such images
//! with deterministic bytes: sorted by platform (architecture, OS, variant), an OCI image index, or
//! a Docker manifest list when every image is a Docker v2 manifest (what `docker manifest push`
//! writes). The same images always give the same bytes, hence the same digest, so render-taskdef
//! can tell offline which platforms an index digest holds.

use crate::platform::ImagePlatform;
use crate::reference::Digest;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A Docker v2 schema 2 image manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// An OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The version of the file's shape; a reader refuses others.
pub const SCHEMA_VERSION: u64 = 1;

/// One platform image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformImage {
    /// `registry/repository`.
    pub repository: String,
    /// The manifest's media type.
    pub media_type: String,
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest's length in bytes.
    pub size: u64,
    /// The platform its config names.
    pub platform: ImagePlatform,
    /// The tag it was pushed under (none when pushed by digest alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// The file as written: the descriptor, its schema version and the image's URI.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    schema_version: u64,
    image_uri: String,
    #[serde(flatten)]
    image: serde_json::Value,
}

/// The files `patterns` name, each a path or a glob (`out/**/platform-image.json`) against `cwd`:
/// sorted within a glob, each file once. A glob that matches nothing is `(pattern, None)`; one
/// that cannot be used is `(pattern, Some(reason))`.
pub fn files(
    patterns: &[String],
    cwd: &Path,
) -> Result<Vec<PathBuf>, (String, Option<&'static str>)> {
    let mut files: Vec<PathBuf> = Vec::new();
    for pattern in patterns.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        if !crate::build_context::is_glob(pattern) {
            files.push(cwd.join(pattern));
            continue;
        }
        if pattern.split('/').any(|segment| segment == "..") {
            return Err((pattern.to_string(), Some("a glob cannot hold `..`")));
        }
        let found = crate::build_context::matching(&[pattern.to_string()], &[], cwd, None);
        if found.is_empty() {
            return Err((pattern.to_string(), None));
        }
        files.extend(found.into_iter().map(|(_, path)| path));
    }
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(f.clone()));
    Ok(files)
}

impl PlatformImage {
    /// `repository@digest`.
    pub fn image_uri(&self) -> String {
        format!("{}@{}", self.repository, self.digest)
    }

    /// The file's bytes: 2-space JSON, a trailing newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut doc = serde_json::json!({
            "schemaVersion": SCHEMA_VERSION,
            "imageUri": self.image_uri(),
        });
        if let (Some(doc), Ok(serde_json::Value::Object(fields))) =
            (doc.as_object_mut(), serde_json::to_value(self))
        {
            doc.extend(fields);
        }
        crate::document::to_json(&doc).into_bytes()
    }

    /// Reads the file at `path`. The error is the reason alone (callers name the file).
    pub fn read(path: &Path) -> Result<PlatformImage, String> {
        let text = crate::input::read_to_string(path, crate::input::DOCUMENT_LIMIT)
            .map_err(|e| e.to_string())?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        let file: File = serde_json::from_value(doc)
            .map_err(|e| format!("not a platform image descriptor: {e}"))?;
        if file.schema_version != SCHEMA_VERSION {
            return Err(format!(
                "schemaVersion {} is not {SCHEMA_VERSION}, the version this release reads",
                file.schema_version
            ));
        }
        let image: PlatformImage = serde_json::from_value(file.image)
            .map_err(|e| format!("not a platform image descriptor: {e}"))?;
        if file.image_uri != image.image_uri() {
            return Err(format!(
                "imageUri `{}` is not repository@digest (`{}`)",
                file.image_uri,
                image.image_uri()
            ));
        }
        let platform = image
            .platform
            .normalised()
            .ok_or("the platform names no OS or architecture")?;
        Ok(PlatformImage { platform, ..image })
    }
}

/// The index over `images` (sorted by platform first): its media type and bytes.
pub fn index(images: &[&PlatformImage]) -> (&'static str, Vec<u8>) {
    let mut sorted: Vec<&PlatformImage> = images.to_vec();
    sorted.sort_by(|a, b| a.platform.cmp(&b.platform));
    let media_type = if sorted.iter().all(|c| c.media_type == DOCKER_MANIFEST) {
        DOCKER_LIST
    } else {
        OCI_INDEX
    };
    let manifests: Vec<serde_json::Value> = sorted
        .iter()
        .map(|c| {
            serde_json::json!({
                "mediaType": c.media_type,
                "size": c.size,
                "digest": c.digest.to_string(),
                "platform": platform(&c.platform),
            })
        })
        .collect();
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": manifests,
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    bytes.push(b'\n');
    (media_type, bytes)
}

/// A platform object: `architecture`, `os`, then `variant` when there is one.
fn platform(p: &ImagePlatform) -> serde_json::Value {
    let mut v = serde_json::json!({ "architecture": p.architecture, "os": p.os });
    if let Some(variant) = &p.variant {
        v["variant"] = serde_json::json!(variant);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> PlatformImage {
        PlatformImage {
            repository: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app".into(),
            media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
            digest: format!("sha256:{}", "a".repeat(64)).parse().unwrap(),
            size: 528,
            platform: ImagePlatform::new("linux", "arm64", "").unwrap(),
            tag: Some("abc-arm64".into()),
        }
    }

    #[test]
    fn reads_what_it_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("platform-image.json");
        std::fs::write(&path, image().to_bytes()).unwrap();
        assert_eq!(PlatformImage::read(&path).unwrap(), image());
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["schemaVersion"], 1);
        assert_eq!(doc["platform"]["architecture"], "arm64");
        assert_eq!(doc["imageUri"], image().image_uri());
    }

    #[test]
    fn names_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("platform-image.json");
        let cases: &[(&str, &str)] = &[
            ("{", "invalid JSON"),
            (
                r#"{"schemaVersion": 2, "imageUri": "x"}"#,
                "schemaVersion 2",
            ),
            (r#"{"ImageURI": "x"}"#, "missing field `schemaVersion`"),
        ];
        for (text, reason) in cases {
            std::fs::write(&path, text).unwrap();
            let e = PlatformImage::read(&path).unwrap_err();
            assert!(e.contains(reason), "{text}: {e}");
        }
        let mut doc: serde_json::Value = serde_json::from_slice(&image().to_bytes()).unwrap();
        doc["imageUri"] = "elsewhere/app@sha256:00".into();
        std::fs::write(&path, doc.to_string()).unwrap();
        assert!(PlatformImage::read(&path).unwrap_err().contains("imageUri"));
        doc["imageUri"] = image().image_uri().into();
        doc["platform"] = serde_json::json!({"os": "linux", "architecture": ""});
        std::fs::write(&path, doc.to_string()).unwrap();
        assert!(
            PlatformImage::read(&path)
                .unwrap_err()
                .contains("names no OS")
        );
        doc["platform"] = serde_json::json!({"os": "linux", "architecture": "arm64"});
        doc["extra"] = serde_json::json!(1);
        std::fs::write(&path, doc.to_string()).unwrap();
        assert!(PlatformImage::read(&path).unwrap_err().contains("extra"));
    }

    fn child(arch: &str, variant: &str, media_type: &str, n: u8) -> PlatformImage {
        PlatformImage {
            platform: ImagePlatform::new("linux", arch, variant).unwrap(),
            digest: Digest::sha256_of(&[n]),
            size: 500 + u64::from(n),
            media_type: media_type.into(),
            repository: "r.example/app".into(),
            tag: None,
        }
    }

    #[test]
    fn the_same_images_in_any_order_give_the_same_bytes() {
        let a = child("arm64", "", DOCKER_MANIFEST, 1);
        let b = child("amd64", "", DOCKER_MANIFEST, 2);
        let c = child("arm", "v7", DOCKER_MANIFEST, 3);
        let (t1, one) = index(&[&a, &b, &c]);
        let (t2, two) = index(&[&c, &b, &a]);
        assert_eq!((t1, &one), (t2, &two));
        assert_eq!(t1, DOCKER_LIST);
        let doc: serde_json::Value = serde_json::from_slice(&one).unwrap();
        let platforms: Vec<String> = doc["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let p: ImagePlatform = serde_json::from_value(m["platform"].clone()).unwrap();
                p.to_string()
            })
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm/v7", "linux/arm64"]);
        assert_eq!(doc["schemaVersion"], 2);
        assert_eq!(doc["manifests"][0]["size"], 502);
        assert!(doc["manifests"][0]["platform"].get("variant").is_none());
        assert_eq!(doc["manifests"][1]["platform"]["variant"], "v7");
    }

    #[test]
    fn an_oci_image_makes_an_oci_index() {
        let (t, bytes) = index(&[
            &child("amd64", "", DOCKER_MANIFEST, 1),
            &child("arm64", "", OCI_MANIFEST, 2),
        ]);
        assert_eq!(t, OCI_INDEX);
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["mediaType"], OCI_INDEX);
        assert_eq!(doc["manifests"][1]["mediaType"], OCI_MANIFEST);
    }
}
