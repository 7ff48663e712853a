//! The tags: which ones a build gets (`latest`, the commit tag, the ref tag, `--tag`), validated
//! before anything runs, and how they reach the registry once the image is there (every tag checked
//! before any moves, so an immutable conflict leaves the repository as it was).

use super::BuildPush;
use super::args::PlatformTag;
use super::error::BuildPushError;
use super::report::{PushedTag, TagStatus};
use crate::adapters::registry::Registry;
use crate::commit::{Commit, Source};
use crate::destination::Destination;
use crate::environment::Environment;
use crate::error::Error;
use crate::layers;
use crate::platform::Platform;
use crate::reference::Digest;
use std::path::Path;

/// What a tag may be, for the help line of a bad `--tag`.
const TAG_HELP: &str = "a tag is 1 to 128 letters, digits, `_`, `.` and `-`, not starting with `.` \
     or `-` (leave --tag out for no extra tags)";

/// The tags the flags ask for, in order (`latest`, commit tag, `ref_tag`, `--tag`s), trimmed,
/// without repeats, each a valid tag; at least one. With `--push-by-digest`, the platform tag
/// alone (or none).
/// `BUILD_PUSH_TAGS` set to the empty string counts as unset (CI systems export empty variables);
/// `--tag ''` on the command line is an error.
pub(super) fn choose(
    args: &BuildPush,
    commit: &Commit,
    ref_tag: Option<String>,
    env: &Environment,
    platform: Option<&Platform>,
) -> Result<Vec<String>, BuildPushError> {
    if args.push_by_digest {
        return platform_tag(args, commit, env, platform);
    }
    let mut tags: Vec<String> = Vec::new();
    if args.latest {
        tags.push("latest".into());
    }
    tags.extend(args.commit_tag.tag(commit));
    tags.extend(ref_tag);
    if !from_empty_variable(&args.tags, env, "BUILD_PUSH_TAGS") {
        tags.extend(flag_tags(&args.tags)?);
    }
    let tags = crate::reference::tag_list(tags)?;
    if tags.is_empty() {
        return Err(BuildPushError::NoTags(args.repository.clone()));
    }
    Ok(tags)
}

/// `--push-by-digest`'s tag: `<commit tag>-<arch>[-<variant>]`, or none (`--platform-tag none`,
/// `--commit-tag none`). A shared tag asked for as well is an error: a leg must not move it.
fn platform_tag(
    args: &BuildPush,
    commit: &Commit,
    env: &Environment,
    platform: Option<&Platform>,
) -> Result<Vec<String>, BuildPushError> {
    let shared = if args.ref_tag {
        Some("--ref-tag")
    } else if !from_empty_variable(&args.tags, env, "BUILD_PUSH_TAGS") && !args.tags.is_empty() {
        Some("--tag")
    } else {
        None
    };
    if let Some(flag) = shared {
        return Err(BuildPushError::Conflict {
            flags: format!("--push-by-digest and {flag}"),
            reason: "a platform leg moves no shared tag".into(),
            help: "tag the merged index instead (`tag-commit index --tag TAG`), and drop the tag \
                   from this leg"
                .into(),
        });
    }
    let named = platform
        .and_then(Platform::named)
        .ok_or_else(|| BuildPushError::Flag {
            flag: "--platform",
            value: platform.map(|p| p.given().to_string()).unwrap_or_default(),
            reason: "--push-by-digest needs the OS and the architecture of the leg's image".into(),
            help: "pass --platform OS/ARCH[/VARIANT], as linux/arm64".into(),
        })?;
    if args.platform_tag == PlatformTag::None {
        return Ok(Vec::new());
    }
    let tags = args
        .commit_tag
        .tag(commit)
        .map(|t| format!("{t}-{}", named.tag_suffix()));
    Ok(crate::reference::tag_list(tags)?)
}

/// The `--tag` values, trimmed, each a valid tag (distribution's `[\w][\w.-]{0,127}`); an empty
/// one (`--tag ''`, `--tag a,,b`) is an error as in docker, never dropped.
fn flag_tags(values: &[String]) -> Result<Vec<String>, BuildPushError> {
    values
        .iter()
        .map(|value| {
            let tag = value.trim();
            let reason = if tag.is_empty() {
                Some("a tag cannot be empty".to_string())
            } else {
                crate::reference::tag_list([tag.to_string()])
                    .err()
                    .map(|e| e.reason().to_string())
            };
            match reason {
                None => Ok(tag.to_string()),
                Some(reason) => Err(BuildPushError::Flag {
                    flag: "--tag",
                    value: value.clone(),
                    reason,
                    help: TAG_HELP.into(),
                }),
            }
        })
        .collect()
}

/// Whether a list flag's values are the one empty value an empty environment variable `name` gives.
pub(super) fn from_empty_variable(values: &[String], env: &Environment, name: &str) -> bool {
    values.iter().all(String::is_empty) && env.vars().any(|(k, v)| k == name && v.is_empty())
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

/// The ref tag (`--ref-tag`): `pr-N` for a pull request, else the sanitised branch or tag name.
/// A commit given with `--commit` carries no branch of its own: the environment's (CI variables,
/// else the git repository at `dir`) is used when it names the same commit. No branch at all is an
/// error, never a tag silently left out.
pub(super) fn ref_tag(
    commit: &Commit,
    env: &Environment,
    dir: &Path,
) -> Result<String, BuildPushError> {
    let from_env;
    let named = if commit.pull_request.is_none()
        && commit.reference.is_none()
        && commit.source == Source::Flag
    {
        from_env = crate::commit::resolve(None, env, dir).map_err(|_| {
            BuildPushError::RefTag(format!(
                "--commit {} says no branch, and neither CI variables nor a git repository name one",
                commit.id
            ))
        })?;
        if !from_env.id.starts_with(&commit.id) {
            return Err(BuildPushError::RefTag(format!(
                "--commit {} says no branch, and the branch the environment names is for another \
                 commit ({} from {})",
                commit.id,
                from_env.short,
                from_env.source.describe()
            )));
        }
        &from_env
    } else {
        commit
    };
    if let Some(n) = named.pull_request {
        return Ok(format!("pr-{n}"));
    }
    let Some(reference) = named.reference.as_deref() else {
        return Err(BuildPushError::RefTag(format!(
            "commit {} (from {}) is on no branch or pull request that is known (a detached HEAD, or \
             a build started without a branch)",
            named.short,
            named.source.describe()
        )));
    };
    let tag = sanitise_ref(reference);
    if tag.is_empty() {
        return Err(BuildPushError::RefTag(format!(
            "the branch `{reference}` has no character a tag can hold"
        )));
    }
    Ok(tag)
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
/// checking them all; the results are in the order of `tags`. No tags: the manifest is put by its
/// digest.
pub(super) async fn publish(
    registry: &Registry,
    dest: &Destination,
    tags: &[String],
    manifest: &[u8],
    digest: &Digest,
) -> Result<Vec<PushedTag>, Error> {
    if tags.is_empty() {
        let reference = digest.to_string();
        registry
            .put_manifest(
                &dest.repository,
                &reference,
                manifest,
                layers::MANIFEST_MEDIA_TYPE,
            )
            .await?;
        return Ok(Vec::new());
    }
    let lookups = registry.tag_digests(&dest.repository, tags).await;
    let now = lookups.into_iter().collect::<Result<Vec<_>, _>>()?;
    let sorted = dest.sort_known(tags, now, digest, |tag, existing| {
        BuildPushError::Immutable {
            repository: dest.name(),
            tag,
            existing,
            built: digest.clone(),
        }
        .into()
    })?;
    registry
        .put_tags(
            &dest.repository,
            &sorted.to_put,
            manifest,
            layers::MANIFEST_MEDIA_TYPE,
        )
        .await?;
    let statuses = sorted.statuses(tags, TagStatus::Present, TagStatus::Pushed);
    Ok(statuses
        .map(|(tag, status)| PushedTag { tag, status })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn args(extra: &[&str]) -> BuildPush {
        let mut argv = vec!["build-push", "-r", "r.example/app"];
        argv.extend_from_slice(extra);
        BuildPush::try_parse_from(argv).unwrap()
    }

    fn no_env() -> Environment {
        Environment::new(Vec::<(String, String)>::new(), "/")
    }

    fn flag_commit() -> Commit {
        crate::commit::resolve(
            Some("0123456789abcdef0123456789abcdef01234567"),
            &no_env(),
            Path::new("/"),
        )
        .unwrap()
    }

    #[test]
    fn empty_and_invalid_tags_are_refused_naming_the_flag() {
        let commit = flag_commit();
        for (tag, reason) in [
            ("", "a tag cannot be empty"),
            ("  ", "a tag cannot be empty"),
            ("a,,b", "a tag cannot be empty"),
            ("v1,", "a tag cannot be empty"),
            ("bad tag!", "is invalid"),
            (".hidden", "is invalid"),
            ("-dash", "is invalid"),
            ("a/b", "is invalid"),
            ("a:b", "is invalid"),
            ("../x", "is invalid"),
            ("t\u{e9}", "is invalid"),
        ] {
            let flag = format!("--tag={tag}");
            let e = choose(&args(&[&flag]), &commit, None, &no_env(), None).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("as --tag") && text.contains(reason),
                "{tag:?}: {text}"
            );
            assert!(crate::error::Diagnostic::help(&e).is_some());
        }
        let long = "a".repeat(129);
        let e = choose(&args(&["--tag", &long]), &commit, None, &no_env(), None).unwrap_err();
        assert!(e.to_string().contains("the limit is 128"), "{e}");
        let ok = choose(
            &args(&["--tag", " v1 , v2", "--tag", &"b".repeat(128)]),
            &commit,
            None,
            &no_env(),
            None,
        )
        .unwrap();
        assert_eq!(ok[2..], ["v1".to_string(), "v2".into(), "b".repeat(128)]);
        // An empty BUILD_PUSH_TAGS is unset; `--tag ''` with it is still read as the variable.
        let empty = Environment::new([("BUILD_PUSH_TAGS", "")], "/");
        let tags = choose(&args(&["--tag", ""]), &commit, None, &empty, None).unwrap();
        assert_eq!(tags.len(), 2, "{tags:?}");
    }

    #[test]
    fn a_ref_tag_with_no_branch_is_an_error_not_nothing() {
        let env = no_env();
        let dir = tempfile::tempdir().unwrap();
        // --commit outside any repository or CI: nothing says which branch.
        let e = ref_tag(&flag_commit(), &env, dir.path()).unwrap_err();
        assert!(e.to_string().contains("--ref-tag"), "{e}");
        assert!(e.to_string().contains("says no branch"), "{e}");
        // --commit and a CI that names the same commit and its branch: the branch is used.
        let ci = Environment::new(
            [
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
                ("GITHUB_REF_NAME", "feature/x"),
            ],
            "/",
        );
        assert_eq!(
            ref_tag(&flag_commit(), &ci, dir.path()).unwrap(),
            "feature-x"
        );
        // … an abbreviated --commit too.
        let short = crate::commit::resolve(Some("0123456"), &env, dir.path()).unwrap();
        assert_eq!(ref_tag(&short, &ci, dir.path()).unwrap(), "feature-x");
        // … but not a CI that names another commit.
        let other = Environment::new(
            [
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_SHA", "fedcba9876543210fedcba9876543210fedcba98"),
                ("GITHUB_REF_NAME", "main"),
            ],
            "/",
        );
        let e = ref_tag(&flag_commit(), &other, dir.path()).unwrap_err();
        assert!(
            e.to_string()
                .contains("another commit (fedcba9 from GITHUB_SHA)"),
            "{e}"
        );
        // A commit the environment found, on no branch.
        let detached = Commit {
            reference: None,
            source: Source::Github,
            ..flag_commit()
        };
        let e = ref_tag(&detached, &env, dir.path()).unwrap_err();
        assert!(e.to_string().contains("no branch or pull request"), "{e}");
        // A branch with nothing a tag can hold.
        let odd = Commit {
            reference: Some("///".into()),
            source: Source::Git,
            ..flag_commit()
        };
        let e = ref_tag(&odd, &env, dir.path()).unwrap_err();
        assert!(e.to_string().contains("no character a tag can hold"), "{e}");
        let pr = Commit {
            pull_request: Some(7),
            source: Source::GithubPullRequest,
            ..flag_commit()
        };
        assert_eq!(ref_tag(&pr, &env, dir.path()).unwrap(), "pr-7");
    }

    #[test]
    fn refs_are_sanitised_like_metadata_action() {
        assert_eq!(sanitise_ref("refs/heads/my/branch"), "my-branch");
        assert_eq!(sanitise_ref("feature/ABC_1.2"), "feature-ABC_1.2");
        assert_eq!(sanitise_ref("--weird//name--"), "weird-name");
        assert_eq!(sanitise_ref(&"a".repeat(200)).len(), 128);
    }
}
