//! Which ECR image the gate is on: from `--from`, `--image` or `-r` with `--digest`/`--tag` (no
//! network), then in ECR the tag resolved once to its digest and an index to its platform images.

use super::args::ScanGate;
use super::error::GateError;
use crate::adapters::aws::Ecr;
use crate::cli::Context;
use crate::ecr_host::EcrRegistry;
use crate::error::Error;
use crate::reference::{Digest, ImageRef};

/// The ECR image to gate on.
#[derive(Debug, Clone)]
pub(crate) struct EcrTarget {
    /// The registry's account, when the image was named by a full URI.
    pub(crate) registry_id: Option<String>,
    /// The registry's region, when the image was named by a full URI.
    pub(crate) region: Option<String>,
    /// The repository name.
    pub(crate) repository: String,
    /// A digest (`sha256:…`) or a tag.
    pub(crate) reference: String,
}

/// The ECR image from --from, --image or -r with --digest/--tag; `None` when no ECR scan is asked.
pub(crate) fn target(args: &ScanGate, ctx: &Context) -> Result<Option<EcrTarget>, GateError> {
    if let Some(uri) = named_uri(args, ctx)? {
        return by_uri(&uri).map(Some);
    }
    match &args.repository {
        Some(repo) => in_repository(args, repo).map(Some),
        None if args.ecr => Err(GateError::Usage(
            "gate on ECR: name the image with --from, --image, or -r REPO with --digest or --tag"
                .into(),
        )),
        None => Ok(None),
    }
}

/// The URI in --from's imageDetail.json, else --image.
fn named_uri(args: &ScanGate, ctx: &Context) -> Result<Option<String>, GateError> {
    let Some(path) = &args.from else {
        return Ok(args.image.clone());
    };
    let (uri, _) = crate::image_detail::read(&ctx.env.resolve(path))
        .map_err(|reason| GateError::Usage(format!("read `{}`: {reason}", path.display())))?;
    Ok(Some(uri))
}

/// A full URI, which must name a digest or a tag.
fn by_uri(uri: &str) -> Result<EcrTarget, GateError> {
    let image = ImageRef::parse(uri).map_err(|e| GateError::Usage(e.to_string()))?;
    let reference = match (image.digest(), image.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t))
            if uri.contains(':') && uri.rsplit('/').next().is_some_and(|l| l.contains(':')) =>
        {
            t.to_string()
        }
        _ => {
            return Err(GateError::Usage(format!(
                "gate on `{uri}`: name the image by digest (…@sha256:…) or tag"
            )));
        }
    };
    ecr_target_of(&image, reference, uri)
}

/// -r REPO (a name in the caller's registry, or a full URI) with --digest or --tag.
fn in_repository(args: &ScanGate, repo: &str) -> Result<EcrTarget, GateError> {
    if repo.trim().is_empty() {
        return Err(GateError::Usage(
            "use -r REPOSITORY: it is empty; pass a repository name (team/app) or URI".into(),
        ));
    }
    let reference = match (&args.digest, &args.tag) {
        (Some(d), _) => {
            d.parse::<Digest>()
                .map_err(|e| GateError::Usage(e.to_string()))?;
            d.clone()
        }
        (None, Some(t)) if t.is_empty() => {
            return Err(GateError::Usage(format!(
                "use --tag: it is empty; pass the tag to gate on in `{repo}` (or --digest sha256:…)"
            )));
        }
        (None, Some(t)) => t.clone(),
        (None, None) => {
            return Err(GateError::Usage(format!(
                "gate on `{repo}`: pass --digest sha256:… or --tag TAG"
            )));
        }
    };
    let tag = args.digest.is_none().then_some(reference.as_str());
    let first = repo.split('/').next().unwrap_or("");
    if repo.contains('/') && first.contains('.') {
        let image = ImageRef::parse(repo).map_err(|e| GateError::Usage(e.to_string()))?;
        checked(image.registry(), image.repository(), tag, repo)?;
        return ecr_target_of(&image, reference, repo);
    }
    // A bare name in the caller's registry, and the tag, checked as docker would before ECR is
    // asked (whose answer to `A B` or `v 1` is a remote error, not the flag's).
    checked("ecr.invalid", repo, tag, repo)?;
    Ok(EcrTarget {
        registry_id: None,
        region: None,
        repository: repo.to_string(),
        reference,
    })
}

/// `repository` (and `tag`) as a reference's parts would be; the error names `given`.
fn checked(
    registry: &str,
    repository: &str,
    tag: Option<&str>,
    given: &str,
) -> Result<(), GateError> {
    ImageRef::from_parts(registry, repository, tag, None)
        .map(drop)
        .map_err(|e| {
            let flags = tag.map_or(String::new(), |t| format!(" --tag {t}"));
            GateError::Usage(format!("use -r {given}{flags}: {}", e.reason()))
        })
}

/// The target for `image` (a full URI), which must be in a private ECR registry.
fn ecr_target_of(image: &ImageRef, reference: String, given: &str) -> Result<EcrTarget, GateError> {
    let host = EcrRegistry::private(image.registry()).ok_or_else(|| {
        GateError::Usage(format!(
            "gate on `{given}`: `{}` is not a private ECR registry; for other registries scan with trivy or grype and pass --report",
            image.registry()
        ))
    })?;
    Ok(EcrTarget {
        registry_id: Some(host.account().to_string()),
        region: Some(host.region().to_string()),
        repository: image.repository().to_string(),
        reference,
    })
}

/// The digests to gate on: the image's, or its platform images' when it is an index. A tag is
/// resolved here, once.
pub(crate) async fn platform_images(
    ctx: &Context,
    ecr: &Ecr,
    target: &EcrTarget,
) -> Result<Vec<String>, Error> {
    let image = ecr
        .image_in(
            target.registry_id.as_deref(),
            &target.repository,
            &target.reference,
        )
        .await?
        .ok_or_else(|| GateError::NoImage {
            repository: target.repository.clone(),
            reference: target.reference.clone(),
        })?;
    if !target.reference.starts_with("sha256:") {
        ctx.out.info(&format!(
            "{}:{} is {}",
            target.repository, target.reference, image.digest
        ));
    }
    let digests = platform_digests(&image.manifest).unwrap_or_else(|| vec![image.digest.clone()]);
    if digests.len() > 1 || digests[0] != image.digest {
        ctx.out.info(&format!(
            "{} is an index: gating its {} platform image(s)",
            image.digest,
            digests.len()
        ));
    }
    Ok(digests)
}

/// An index's platform image digests (attestations and unknown platforms skipped); `None` for a
/// single image.
fn platform_digests(manifest: &str) -> Option<Vec<String>> {
    let doc: serde_json::Value = serde_json::from_str(manifest).ok()?;
    let list = doc.get("manifests")?.as_array()?;
    let digests: Vec<String> = list
        .iter()
        .filter(|m| {
            let attestation = m
                .pointer("/annotations/vnd.docker.reference.type")
                .and_then(|v| v.as_str())
                == Some("attestation-manifest");
            let unknown = m.pointer("/platform/os").and_then(|v| v.as_str()) == Some("unknown");
            !attestation && !unknown
        })
        .filter_map(|m| m.get("digest")?.as_str().map(str::to_string))
        .collect();
    Some(digests).filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_resolve_to_platform_images() {
        let index = r#"{"manifests": [
            {"digest": "sha256:aa", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:bb", "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": "sha256:cc", "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]}"#;
        assert_eq!(platform_digests(index).unwrap(), ["sha256:aa", "sha256:bb"]);
        assert_eq!(platform_digests(r#"{"layers": []}"#), None);
    }

    fn args(argv: &[&str]) -> ScanGate {
        <ScanGate as clap::Parser>::try_parse_from(
            std::iter::once("scan-gate").chain(argv.iter().copied()),
        )
        .unwrap()
    }

    #[test]
    fn repositories_and_tags_are_checked_before_ecr_is_asked() {
        let uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app";
        for (repo, tag) in [("app", "v1"), ("team/app", "1.0_rc-2"), (uri, "latest")] {
            let t = in_repository(&args(&["-r", repo, "--tag", tag]), repo).unwrap();
            assert_eq!(t.reference, tag, "{repo}");
        }
        for (repo, tag, needle) in [
            ("app", "", "use --tag: it is empty"),
            (
                "app",
                "v 1",
                "use -r app --tag v 1: a reference cannot contain white space",
            ),
            ("app", ".hidden", "tag `.hidden` is invalid"),
            ("app", &"t".repeat(129), "the limit is 128"),
            ("A B", "v1", "use -r A B --tag v1:"),
            ("App", "v1", "must be lowercase"),
            ("", "v1", "use -r REPOSITORY: it is empty"),
            (" ", "v1", "use -r REPOSITORY: it is empty"),
            (uri, "bad:tag", "use -r"),
        ] {
            let e = in_repository(&args(&["-r", repo, "--tag", tag]), repo)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "-r {repo:?} --tag {tag:?}: {e}");
        }
        let digest = format!("sha256:{}", "a".repeat(64));
        assert!(in_repository(&args(&["-r", "app", "--digest", &digest]), "app").is_ok());
        assert!(in_repository(&args(&["-r", "A B", "--digest", &digest]), "A B").is_err());
    }
}
