//! `imageDetail.json`: the artifact build-push writes and CodePipeline's ECR source and
//! CodeDeployToECS actions read — `{"ImageURI": "registry/repository@sha256:…"}`, possibly with more
//! ECR fields. One reader and one writer for every step that takes or updates it.

use crate::reference::ImageRef;
use std::path::Path;

/// The `ImageURI` of the file at `path`, parsed. The error is the reason alone (callers name the file).
pub(crate) fn read(path: &Path) -> Result<(String, ImageRef), String> {
    let text = crate::input::read_to_string(path, crate::input::DOCUMENT_LIMIT)
        .map_err(|e| e.to_string())?;
    // Editors on Windows save JSON with a byte-order mark; it is not part of the document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let uri = doc
        .get("ImageURI")
        .and_then(serde_json::Value::as_str)
        .ok_or("no `ImageURI` field")?;
    let image = ImageRef::parse(uri).map_err(|e| e.to_string())?;
    Ok((uri.to_string(), image))
}

/// The minimal form's bytes: `{"ImageURI": uri}`, 2-space JSON with a trailing newline.
pub(crate) fn minimal(uri: &str) -> Vec<u8> {
    crate::document::to_json(&serde_json::json!({ "ImageURI": uri })).into_bytes()
}

/// imagedefinitions.json's bytes (the ECS rolling-deploy action's input): `container` runs `uri`.
pub(crate) fn definitions(container: &str, uri: &str) -> Vec<u8> {
    crate::document::to_json(&serde_json::json!([{ "name": container, "imageUri": uri }]))
        .into_bytes()
}

/// Why `name` is not an ECS container name (1 to 255 letters, digits, `_` and `-`), if it is not:
/// the deploy action would refuse imagedefinitions.json.
pub(crate) fn container_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("the name is empty")
    } else if name.len() > 255 {
        Some("the name is longer than 255 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
    {
        Some("ECS container names hold only letters, digits, `_` and `-`")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imageDetail.json");
        let uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:".to_string()
            + &"a".repeat(64);
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend(minimal(&uri));
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(read(&path).unwrap().0, uri);
    }

    #[test]
    fn reads_what_it_writes_and_names_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imageDetail.json");
        let uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:".to_string()
            + &"a".repeat(64);
        std::fs::write(&path, minimal(&uri)).unwrap();
        let (read_uri, image) = read(&path).unwrap();
        assert_eq!(
            (read_uri.as_str(), image.repository()),
            (uri.as_str(), "app")
        );
        std::fs::write(&path, "{\"ImageUri\": \"x\"}").unwrap();
        assert_eq!(read(&path).unwrap_err(), "no `ImageURI` field");
        std::fs::write(&path, "{").unwrap();
        assert!(read(&path).unwrap_err().starts_with("invalid JSON"));
    }
}
