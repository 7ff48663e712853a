//! The index's bytes: the platform images sorted by platform (architecture, OS, variant), as an
//! OCI image index, or a Docker manifest list when every image is a Docker v2 manifest (what
//! `docker manifest push` and registries' older clients expect). The same images always give the
//! same bytes, hence the same digest.

use super::inputs::Child;
use crate::platform::ImagePlatform;

/// A Docker v2 schema 2 image manifest.
pub(super) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A Docker manifest list.
pub(super) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// An OCI image manifest.
pub(super) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index.
pub(super) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The index over `children` (sorted by platform first): its media type and bytes.
pub(super) fn index(children: &[Child]) -> (&'static str, Vec<u8>) {
    let mut sorted: Vec<&Child> = children.iter().collect();
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
    use crate::reference::Digest;

    fn child(arch: &str, variant: &str, media_type: &str, n: u8) -> Child {
        Child {
            platform: ImagePlatform::new("linux", arch, variant).unwrap(),
            digest: Digest::sha256_of(&[n]),
            size: 500 + u64::from(n),
            media_type: media_type.into(),
            bytes: Vec::new(),
            repository: "app".into(),
            origin: format!("child {n}"),
        }
    }

    #[test]
    fn the_same_images_in_any_order_give_the_same_bytes() {
        let a = child("arm64", "", DOCKER_MANIFEST, 1);
        let b = child("amd64", "", DOCKER_MANIFEST, 2);
        let c = child("arm", "v7", DOCKER_MANIFEST, 3);
        let (t1, one) = index(&[a.clone(), b.clone(), c.clone()]);
        let (t2, two) = index(&[c, b, a]);
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
            child("amd64", "", DOCKER_MANIFEST, 1),
            child("arm64", "", OCI_MANIFEST, 2),
        ]);
        assert_eq!(t, OCI_INDEX);
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["mediaType"], OCI_INDEX);
        assert_eq!(doc["manifests"][1]["mediaType"], OCI_MANIFEST);
    }
}
