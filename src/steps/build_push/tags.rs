//! The tags: which ones a build gets (`latest`, the commit tag, the ref tag, `--tag`), validated
//! before anything runs, and how they reach the registry once the image is there (every tag checked
//! before any moves, so an immutable conflict leaves the repository as it was).

use super::BuildPush;
use super::error::BuildPushError;
use super::report::{PushedTag, TagStatus};
use crate::adapters::registry::Registry;
use crate::commit::Commit;
use crate::destination::Destination;
use crate::error::Error;
use crate::layers;
use crate::reference::Digest;

/// The tags the flags ask for, in order (`latest`, commit tag, ref tag, `--tag`s), trimmed, without
/// repeats, each a valid tag; at least one.
pub(super) fn choose(args: &BuildPush, commit: &Commit) -> Result<Vec<String>, BuildPushError> {
    let mut tags: Vec<String> = Vec::new();
    if args.latest {
        tags.push("latest".into());
    }
    tags.extend(args.commit_tag.tag(commit));
    if args.ref_tag {
        tags.extend(ref_tag(commit));
    }
    tags.extend(
        args.tags
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()),
    );
    let tags = crate::reference::tag_list(tags)?;
    if tags.is_empty() {
        return Err(BuildPushError::NoTags(args.repository.clone()));
    }
    Ok(tags)
}

/// `[^a-zA-Z0-9._-]+` → `-`, trimmed of `-` and `.` at the ends, at most 128 characters.
pub fn sanitise_ref(r: &str) -> String {
    let r = r
        .strip_prefix("refs/heads/")
        .or_else(|| r.strip_prefix("refs/tags/"))
        .unwrap_or(r);
    let mut out = String::new();
    for c in r.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches(|c| c == '-' || c == '.');
    t.chars().take(128).collect()
}

/// `pr-N` for a pull request, else the sanitised branch or tag name.
fn ref_tag(commit: &Commit) -> Option<String> {
    if let Some(n) = commit.pull_request {
        return Some(format!("pr-{n}"));
    }
    commit
        .reference
        .as_deref()
        .map(sanitise_ref)
        .filter(|s| !s.is_empty())
}

/// The tags as `planned`, for a dry run.
pub(super) fn planned(tags: &[String]) -> Vec<PushedTag> {
    tags.iter()
        .map(|t| PushedTag {
            tag: t.clone(),
            status: TagStatus::Planned,
        })
        .collect()
}

/// Puts `manifest` (whose digest is `digest`) under every tag that does not name it yet, after
/// checking them all; the results are in the order of `tags`.
pub(super) async fn publish(
    registry: &Registry,
    dest: &Destination,
    tags: &[String],
    manifest: &[u8],
    digest: &Digest,
) -> Result<Vec<PushedTag>, Error> {
    let (mut results, to_put) = check(registry, dest, tags, digest).await?;
    for t in to_put {
        let d = registry
            .put_manifest(&dest.repository, &t, manifest, layers::MANIFEST_MEDIA_TYPE)
            .await?;
        debug_assert_eq!(&d, digest);
        results.push(PushedTag {
            tag: t,
            status: TagStatus::Pushed,
        });
    }
    results.sort_by_key(|r| tags.iter().position(|t| *t == r.tag));
    Ok(results)
}

/// The tags already naming `digest` (as `present`) and the tags to put; an error when the repository
/// is immutable and a tag names another image.
async fn check(
    registry: &Registry,
    dest: &Destination,
    tags: &[String],
    digest: &Digest,
) -> Result<(Vec<PushedTag>, Vec<String>), Error> {
    let mut present = Vec::new();
    let mut to_put = Vec::new();
    for t in tags {
        match registry.manifest_digest(&dest.repository, t).await? {
            Some(d) if d == *digest => present.push(PushedTag {
                tag: t.clone(),
                status: TagStatus::Present,
            }),
            Some(d) if dest.immutable() => {
                return Err(BuildPushError::Immutable {
                    repository: format!("{}/{}", dest.registry, dest.repository),
                    tag: t.clone(),
                    existing: d,
                    built: digest.clone(),
                }
                .into());
            }
            _ => to_put.push(t.clone()),
        }
    }
    Ok((present, to_put))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_sanitised_like_metadata_action() {
        assert_eq!(sanitise_ref("refs/heads/my/branch"), "my-branch");
        assert_eq!(sanitise_ref("feature/ABC_1.2"), "feature-ABC_1.2");
        assert_eq!(sanitise_ref("--weird//name--"), "weird-name");
        assert_eq!(sanitise_ref(&"a".repeat(200)).len(), 128);
    }
}
