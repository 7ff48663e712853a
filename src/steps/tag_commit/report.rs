//! What `tag-commit` reports: [`TagReport`] (the `--json` object, documented field by field in
//! `docs/json.md`, tag-commit) and each tag's [`TagStatus`]; the human summary, the `--format env`
//! variables and the GitHub outputs.

use super::args::Via;
use crate::commit;
use crate::output::Report;
use crate::reference::Digest;
use serde::Serialize;
use std::fmt;

/// What happened to one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TagStatus {
    /// The tag was written: it was new, or it named another image (in a mutable repository).
    Created,
    /// The tag already named the digest: nothing was written.
    Present,
    /// A dry run: the tag would be written.
    Planned,
}

impl TagStatus {
    /// The status as `--json` and the summary write it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TagStatus::Created => "created",
            TagStatus::Present => "present",
            TagStatus::Planned => "planned",
        }
    }
}

impl fmt::Display for TagStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One tag's fate.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AddedTag {
    /// The tag.
    pub(crate) tag: String,
    /// What happened to it.
    pub(crate) status: TagStatus,
}

/// The result of `tag-commit` (`schema_version` 1); `docs/json.md`, tag-commit lists its fields.
#[derive(Debug, Serialize)]
pub(crate) struct TagReport {
    /// The source, as resolved: `registry/repository@digest`.
    pub(crate) source: String,
    /// The digest every tag now names.
    pub(crate) digest: Digest,
    /// The manifest media type (empty when ECR's API does not say).
    pub(crate) media_type: String,
    /// `registry/repository` the tags are in.
    pub(crate) repository: String,
    /// The tags, the commit tag first.
    pub(crate) tags: Vec<AddedTag>,
    /// How the tags were written.
    pub(crate) via: Via,
    /// The commit the commit tag came from, if one was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) commit: Option<commit::Commit>,
    /// Blobs (and child manifests) mounted into `repository` for a promotion.
    pub(crate) mounted: usize,
}

impl TagReport {
    /// `registry/repository@digest`: the tagged image, pinned.
    pub(crate) fn image_uri(&self) -> String {
        format!("{}@{}", self.repository, self.digest)
    }
}

impl Report for TagReport {
    const STEP: &'static str = "tag-commit";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        let mut s = format!(
            "tagged {}@{} ({})\n",
            self.repository, self.digest, self.media_type
        );
        for t in &self.tags {
            s.push_str(&format!("  tag {:<44} {}\n", t.tag, t.status));
        }
        if self.mounted > 0 {
            s.push_str(&format!(
                "  mounted {} blobs from {}\n",
                self.mounted, self.source
            ));
        }
        s
    }

    fn variables(&self) -> Vec<(String, String)> {
        let tags: Vec<&str> = self.tags.iter().map(|t| t.tag.as_str()).collect();
        vec![
            ("IMAGE_URI".into(), self.image_uri()),
            ("IMAGE_DIGEST".into(), self.digest.to_string()),
            ("IMAGE_TAGS".into(), tags.join(",")),
        ]
    }

    fn github_outputs(&self) -> Vec<(String, String)> {
        let tags: Vec<String> = self
            .tags
            .iter()
            .map(|t| format!("{}:{}", self.repository, t.tag))
            .collect();
        vec![
            ("digest".into(), self.digest.to_string()),
            ("image-uri".into(), self.image_uri()),
            ("tags".into(), tags.join("\n")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> TagReport {
        TagReport {
            source: "r.example/dev/app@sha256:00".into(),
            digest: format!("sha256:{}", "ab".repeat(32)).parse().unwrap(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            repository: "r.example/prod/app".into(),
            tags: vec![
                AddedTag {
                    tag: "v1".into(),
                    status: TagStatus::Created,
                },
                AddedTag {
                    tag: "latest".into(),
                    status: TagStatus::Present,
                },
            ],
            via: Via::Registry,
            commit: None,
            mounted: 3,
        }
    }

    #[test]
    fn statuses_and_via_are_the_documented_strings() {
        let v = serde_json::to_value(report()).unwrap();
        assert_eq!(v["tags"][0]["status"], "created");
        assert_eq!(v["tags"][1]["status"], "present");
        assert_eq!(v["via"], "registry");
        assert!(v.get("commit").is_none());
    }

    #[test]
    fn the_summary_and_variables() {
        let r = report();
        let digest = r.digest.to_string();
        assert_eq!(
            r.human(),
            format!(
                "tagged r.example/prod/app@{digest} (application/vnd.oci.image.manifest.v1+json)\n  tag v1{pad} created\n  tag latest{pad4} present\n  mounted 3 blobs from r.example/dev/app@sha256:00\n",
                pad = " ".repeat(42),
                pad4 = " ".repeat(38)
            )
        );
        assert_eq!(
            r.variables(),
            [
                ("IMAGE_URI".into(), format!("r.example/prod/app@{digest}")),
                ("IMAGE_DIGEST".into(), digest.clone()),
                ("IMAGE_TAGS".into(), "v1,latest".into()),
            ]
        );
        assert_eq!(
            r.github_outputs()[2],
            (
                "tags".into(),
                "r.example/prod/app:v1\nr.example/prod/app:latest".into()
            )
        );
    }
}
