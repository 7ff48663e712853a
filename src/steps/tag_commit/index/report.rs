//! What `tag-commit index` reports: [`IndexReport`] (the `--json` object, `command: "index"`), the
//! human summary, the `--format env` variables and the GitHub outputs.

use super::super::report::AddedTag;
use crate::commit::Commit;
use crate::output::Report;
use crate::platform::ImagePlatform;
use crate::reference::Digest;
use serde::Serialize;

/// How a platform image got into the index's repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ChildStatus {
    /// `present`: the repository had the manifest.
    Present,
    /// `mounted`: its blobs were mounted from the repository its descriptor names, and the
    /// manifest put by digest.
    Mounted,
    /// `planned`: a dry run; it would be mounted.
    Planned,
}

impl ChildStatus {
    fn as_str(self) -> &'static str {
        match self {
            ChildStatus::Present => "present",
            ChildStatus::Mounted => "mounted",
            ChildStatus::Planned => "planned",
        }
    }
}

/// One platform image of the index.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IndexChild {
    /// Its platform, as its config names it.
    pub(crate) platform: ImagePlatform,
    /// Its manifest's digest.
    pub(crate) digest: Digest,
    /// Its manifest's media type.
    pub(crate) media_type: String,
    /// Where it was named (a descriptor file, or `--source TAG`).
    pub(crate) from: String,
    /// How it got into the repository.
    pub(crate) status: ChildStatus,
}

/// The result of `tag-commit index` (`schema_version` 1).
#[derive(Debug, Serialize)]
pub(crate) struct IndexReport {
    /// Always `index`.
    pub(crate) command: &'static str,
    /// `registry/repository` of the index.
    pub(crate) repository: String,
    /// The index's digest.
    pub(crate) digest: Digest,
    /// The index's media type (a Docker manifest list or an OCI image index).
    pub(crate) media_type: String,
    /// `registry/repository@digest`.
    pub(crate) image_uri: String,
    /// The platform images, in the index's order.
    pub(crate) manifests: Vec<IndexChild>,
    /// The tags, in order.
    pub(crate) tags: Vec<AddedTag>,
    /// The commit the commit tag came from, if one was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) commit: Option<Commit>,
    /// Artifacts written (in a dry run: that would be written).
    pub(crate) artifacts: Vec<String>,
    /// Whether this was a dry run.
    pub(crate) dry_run: bool,
}

impl IndexReport {
    fn platforms(&self) -> String {
        self.manifests
            .iter()
            .map(|m| m.platform.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Report for IndexReport {
    const STEP: &'static str = "tag-commit";
    const SCHEMA_VERSION: u32 = 1;

    fn human(&self) -> String {
        use std::fmt::Write as _;
        let verb = if self.dry_run {
            "would merge"
        } else {
            "merged"
        };
        let mut s = format!(
            "{verb} {} platform images into {} ({})\n",
            self.manifests.len(),
            self.image_uri,
            self.media_type
        );
        for m in &self.manifests {
            let _ = writeln!(
                s,
                "  {:<16} {} {}",
                m.platform.to_string(),
                m.digest,
                m.status.as_str()
            );
        }
        for t in &self.tags {
            let _ = writeln!(s, "  tag {:<44} {}", t.tag, t.status);
        }
        let verb = if self.dry_run { "would write" } else { "wrote" };
        for a in &self.artifacts {
            let _ = writeln!(s, "  {verb} {a}");
        }
        s
    }

    fn variables(&self) -> Vec<(String, String)> {
        let tags: Vec<&str> = self.tags.iter().map(|t| t.tag.as_str()).collect();
        vec![
            ("IMAGE_URI".into(), self.image_uri.clone()),
            ("IMAGE_DIGEST".into(), self.digest.to_string()),
            ("IMAGE_TAGS".into(), tags.join(",")),
            ("IMAGE_PLATFORMS".into(), self.platforms()),
        ]
    }

    fn markdown(&self) -> Option<String> {
        let mut md = format!(
            "### tag-commit index\n\n`{}`\n\n| platform | digest |\n|---|---|\n",
            self.image_uri
        );
        for m in &self.manifests {
            md.push_str(&format!("| {} | `{}` |\n", m.platform, m.digest));
        }
        Some(md)
    }
}
