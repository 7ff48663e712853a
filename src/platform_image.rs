//! `platform-image.json`: the descriptor a platform leg writes (`build-push --push-by-digest`) and
//! the merge reads (`tag-commit index --from`) — one image of a multi-platform build, as an OCI
//! index names its children (`mediaType`, `digest`, `size` of the manifest, `platform`), with the
//! repository it is in and the tag it was pushed under.

use crate::platform::ImagePlatform;
use crate::reference::Digest;
use serde::{Deserialize, Serialize};
use std::path::Path;

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
}
