//! What `build-push` reports: [`BuildPushReport`] (the `--json` object, schema version 1), the human
//! summary, the `--format env` variables, the GitHub outputs and the job-summary Markdown.

use crate::commit::Commit;
use crate::output::Report;
use crate::output::progress::human_bytes;
use crate::platform::ImagePlatform;
use crate::reference::Digest;
use serde::Serialize;
use std::fmt;

/// One tag's fate.
#[derive(Debug, Clone, Serialize)]
pub struct PushedTag {
    /// The tag.
    pub tag: String,
    /// What happened to it.
    pub status: TagStatus,
}

/// What happened to a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TagStatus {
    /// `pushed`: the manifest was put under this tag.
    Pushed,
    /// `present`: the tag already named this digest; nothing was sent.
    Present,
    /// `planned`: a dry run; the tag would be pushed.
    Planned,
}

impl TagStatus {
    /// The word `--json` emits.
    pub fn as_str(self) -> &'static str {
        match self {
            TagStatus::Pushed => "pushed",
            TagStatus::Present => "present",
            TagStatus::Planned => "planned",
        }
    }
}

impl fmt::Display for TagStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One layer's fate.
#[derive(Debug, Clone, Serialize)]
pub struct LayerResult {
    /// The blob digest.
    pub digest: Digest,
    /// Compressed size.
    pub size: u64,
    /// Uncompressed size (when the layer was compressed in this run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncompressed: Option<u64>,
    /// `uploaded`, `present` or `mounted`.
    pub status: LayerStatus,
}

/// How a layer's blob got to the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerStatus {
    /// `uploaded`: this run sent the compressed bytes.
    Uploaded,
    /// `present`: the repository already had the blob.
    Present,
    /// `mounted`: mounted from another repository of the same registry that this machine pushed it
    /// to (no bytes sent).
    Mounted,
}

/// The result of `build-push` (schema version 1).
#[derive(Debug, Serialize)]
pub struct BuildPushReport {
    /// The registry host.
    pub registry: String,
    /// The repository path.
    pub repository: String,
    /// `registry/repository@digest` (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_uri: Option<String>,
    /// The manifest digest (absent in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// The platform the image's config names (in a dry run: `--platform`, if it names one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<ImagePlatform>,
    /// Whether the image was pushed by digest, as one platform's leg (`--push-by-digest`).
    pub push_by_digest: bool,
    /// The tags, in the order they were chosen.
    pub tags: Vec<PushedTag>,
    /// The layers, in manifest order (the config blob is not listed; `size` counts it). Empty in a
    /// dry run.
    pub layers: Vec<LayerResult>,
    /// Total compressed bytes (layers + config), as ECR's `imageSizeInBytes` counts.
    pub size: u64,
    /// The commit and where it came from.
    pub commit: Commit,
    /// Bytes of the regular files in the build context after `.dockerignore`.
    pub context_bytes: u64,
    /// Artifacts written (in a dry run: that would be written).
    pub artifacts: Vec<String>,
    /// Milliseconds spent building and pushing.
    pub timings: Timings,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// Where the time went.
#[derive(Debug, Default, Serialize)]
pub struct Timings {
    /// Building.
    pub build_ms: u64,
    /// Exporting, compressing and uploading, and moving the tags.
    pub push_ms: u64,
}

impl Report for BuildPushReport {
    const STEP: &'static str = "build-push";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        if self.dry_run {
            let _ = writeln!(
                s,
                "dry run: would build {} of context and push {}/{}",
                human_bytes(self.context_bytes as f64),
                self.registry,
                self.repository
            );
        } else if let Some(uri) = &self.image_uri {
            let _ = writeln!(s, "pushed {uri} ({})", human_bytes(self.size as f64));
        }
        if let Some(p) = &self.platform {
            let by_digest = if self.push_by_digest {
                " (pushed by digest: no shared tag moved)"
            } else {
                ""
            };
            let _ = writeln!(s, "  platform {p}{by_digest}");
        }
        for t in &self.tags {
            let _ = writeln!(s, "  tag {:<44} {}", t.tag, t.status);
        }
        let _ = writeln!(
            s,
            "  commit {} (from {})",
            self.commit.id,
            self.commit.source.describe()
        );
        let verb = if self.dry_run { "would write" } else { "wrote" };
        for a in &self.artifacts {
            let _ = writeln!(s, "  {verb} {a}");
        }
        s
    }

    fn variables(&self) -> Vec<(String, String)> {
        let tags: Vec<&str> = self.tags.iter().map(|t| t.tag.as_str()).collect();
        vec![
            (
                "IMAGE_URI".into(),
                self.image_uri.clone().unwrap_or_default(),
            ),
            (
                "IMAGE_DIGEST".into(),
                self.digest
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            (
                "IMAGE_REPOSITORY".into(),
                format!("{}/{}", self.registry, self.repository),
            ),
            ("IMAGE_TAGS".into(), tags.join(",")),
            (
                "IMAGE_PLATFORM".into(),
                self.platform
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
        ]
    }

    fn github_outputs(&self) -> Vec<(String, String)> {
        let tags: Vec<String> = self
            .tags
            .iter()
            .map(|t| format!("{}/{}:{}", self.registry, self.repository, t.tag))
            .collect();
        vec![
            (
                "digest".into(),
                self.digest
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            (
                "image-uri".into(),
                self.image_uri.clone().unwrap_or_default(),
            ),
            ("tags".into(), tags.join("\n")),
            (
                "platform".into(),
                self.platform
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
        ]
    }

    fn markdown(&self) -> Option<String> {
        let mut md = format!(
            "### build-push\n\n`{}`\n\n| tag | status |\n|---|---|\n",
            self.image_uri.as_deref().unwrap_or("(dry run)")
        );
        for t in &self.tags {
            md.push_str(&format!("| `{}` | {} |\n", t.tag, t.status));
        }
        Some(md)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(dry_run: bool) -> BuildPushReport {
        BuildPushReport {
            registry: "r.example".into(),
            repository: "app".into(),
            image_uri: None,
            digest: None,
            platform: None,
            push_by_digest: false,
            tags: vec![PushedTag {
                tag: "latest".into(),
                status: TagStatus::Planned,
            }],
            layers: Vec::new(),
            size: 0,
            commit: crate::commit::resolve(
                Some("0123456789abcdef0123456789abcdef01234567"),
                &crate::environment::Environment::new(Vec::<(String, String)>::new(), "/"),
                std::path::Path::new("/"),
            )
            .unwrap(),
            context_bytes: 10,
            artifacts: vec!["/w/imageDetail.json".into()],
            timings: Timings::default(),
            dry_run,
        }
    }

    #[test]
    fn a_dry_run_says_what_it_would_write() {
        let text = report(true).human();
        assert!(
            text.contains("  would write /w/imageDetail.json\n"),
            "{text}"
        );
        assert!(!text.contains("  wrote "), "{text}");
        let text = report(false).human();
        assert!(text.contains("  wrote /w/imageDetail.json\n"), "{text}");
    }

    #[test]
    fn statuses_serialise_as_the_words_the_docs_list() {
        let words = |v: serde_json::Value| v.as_str().map(str::to_string);
        for (status, word) in [
            (TagStatus::Pushed, "pushed"),
            (TagStatus::Present, "present"),
            (TagStatus::Planned, "planned"),
        ] {
            let json = serde_json::to_value(status).ok().and_then(words);
            assert_eq!(json.as_deref(), Some(word));
            assert_eq!(status.to_string(), word, "the human text says the same");
        }
        for (status, word) in [
            (LayerStatus::Uploaded, "uploaded"),
            (LayerStatus::Present, "present"),
            (LayerStatus::Mounted, "mounted"),
        ] {
            let json = serde_json::to_value(status).ok().and_then(words);
            assert_eq!(json.as_deref(), Some(word));
        }
    }
}
