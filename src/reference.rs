//! Image references, parsed and normalised the way the docker CLI does (`distribution/reference`'s
//! `ParseNormalizedNamed` followed by `TagNameOnly`):
//!
//! - `nginx` → `docker.io/library/nginx:latest`; `user/app` → `docker.io/user/app:latest`;
//!   `index.docker.io/x` → `docker.io/x`.
//! - the first path component is a registry only when it contains `.` or `:`, is `localhost`, or has
//!   upper-case letters; `localhost:5000/app`, `[::1]:5000/app` and `host.example/app` keep theirs.
//! - `name:tag@sha256:…` keeps both the tag and the digest; a reference with a digest and no tag gets no
//!   default tag.
//!
//! Invalid forms are rejected with the reason (upper-case repository, empty component, bad tag, digest of
//! the wrong length, a 64-hex name, a name over 255 characters…).

use crate::error::Diagnostic;
use crate::exit::Code;
use std::fmt;
use std::str::FromStr;

/// The registry a reference without one points at.
pub const DEFAULT_REGISTRY: &str = "docker.io";
const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const NAME_TOTAL_LENGTH_MAX: usize = 255;
const TAG_LENGTH_MAX: usize = 128;

/// A content digest such as `sha256:3f…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

/// The digest algorithms registries accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, 64 hex digits.
    Sha256,
    /// SHA-512, 128 hex digits.
    Sha512,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

impl Digest {
    /// The SHA-256 digest of `bytes` (how a manifest's or blob's digest is computed).
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        let sum = sha2::Sha256::digest(bytes);
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex_lower(&sum),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

/// Lowercase hex of bytes.
pub fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ReferenceError {
            input: s.to_string(),
            reason,
        };
        let (alg, hex) = s.split_once(':').ok_or_else(|| {
            err("a digest has the form ALGORITHM:HEX, e.g. sha256:<64 hex digits>".into())
        })?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => {
                return Err(err(format!(
                    "unsupported digest algorithm `{other}` (registries accept sha256 and sha512)"
                )));
            }
        };
        if hex.len() != algorithm.hex_len() {
            return Err(err(format!(
                "a {alg} digest has {} hex digits, this one has {}",
                algorithm.hex_len(),
                hex.len()
            )));
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(err(
                "a digest's hex digits must be 0-9 and lowercase a-f".into()
            ));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A fully normalised image reference: registry, repository, and a tag and/or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a string is not a valid image reference (or digest).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse image reference `{input}`: {reason}")]
pub struct ReferenceError {
    input: String,
    reason: String,
}

impl ReferenceError {
    /// The reason alone, without the input.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl Diagnostic for ReferenceError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        Some(
            "an image reference looks like [REGISTRY[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST], \
             e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.2"
                .into(),
        )
    }
}

impl ImageRef {
    /// Parses and normalises like `docker pull NAME`; a reference with neither tag nor digest gets
    /// the tag `latest`.
    pub fn parse(input: &str) -> Result<ImageRef, ReferenceError> {
        let err = |reason: &str| ReferenceError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if input.is_empty() {
            return Err(err("the reference is empty"));
        }
        if input.trim() != input || input.contains(char::is_whitespace) {
            return Err(err("a reference cannot contain white space"));
        }
        if input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err(
                "a 64-digit hex string is an image ID, not a repository name; use REPOSITORY@sha256:…",
            ));
        }

        // Split off the digest, then the tag (a ':' after the last '/').
        let (rest, digest) = match input.split_once('@') {
            Some((rest, d)) => (rest, Some(d.parse::<Digest>().map_err(|e| err(&e.reason))?)),
            None => (input, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|r| err(&r))?;
        }

        let (registry, repository) = split_registry(name);
        let registry = if registry == LEGACY_DEFAULT_REGISTRY {
            DEFAULT_REGISTRY.to_string()
        } else {
            validate_registry(registry).map_err(|r| err(&r))?;
            registry.to_string()
        };
        if repository.to_ascii_lowercase() != repository {
            return Err(err(&format!(
                "repository name `{repository}` must be lowercase"
            )));
        }
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("{OFFICIAL_PREFIX}{repository}")
        } else {
            repository.to_string()
        };
        validate_repository(&repository).map_err(|r| err(&r))?;
        if registry.len() + 1 + repository.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(err(&format!(
                "the name is longer than {NAME_TOTAL_LENGTH_MAX} characters"
            )));
        }

        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// Builds a reference from parts already known to be valid elsewhere (e.g. a registry host and a
    /// repository name), validating them the same way [`ImageRef::parse`] does.
    pub fn from_parts(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<&Digest>,
    ) -> Result<ImageRef, ReferenceError> {
        let mut text = format!("{registry}/{repository}");
        if let Some(t) = tag {
            text.push(':');
            text.push_str(t);
        }
        if let Some(d) = digest {
            text.push('@');
            text.push_str(&d.to_string());
        }
        let parsed = ImageRef::parse(&text)?;
        if parsed.registry != registry {
            return Err(ReferenceError {
                input: text,
                reason: format!("`{registry}` is not a registry host"),
            });
        }
        Ok(parsed)
    }

    /// The registry host (with port, if any): `docker.io`, `localhost:5000`, `123….dkr.ecr….com`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry: `library/nginx`, `team/app`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<ImageRef, ReferenceError> {
        validate_tag(tag).map_err(|reason| ReferenceError {
            input: format!("{}:{tag}", self.name()),
            reason,
        })?;
        Ok(ImageRef {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to a digest (and no tag): what deploy artifacts should name.
    #[must_use]
    pub fn with_digest(&self, digest: Digest) -> ImageRef {
        ImageRef {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The short form the docker CLI prints: `nginx:latest`, `user/app:1`, other registries in full.
    pub fn familiar(&self) -> String {
        let full = self.to_string();
        if self.registry != DEFAULT_REGISTRY {
            return full;
        }
        let rest = &full[DEFAULT_REGISTRY.len() + 1..];
        rest.strip_prefix(OFFICIAL_PREFIX)
            .filter(|r| !r.split([':', '@']).next().unwrap_or("").contains('/'))
            .unwrap_or(rest)
            .to_string()
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Trims tags, drops empty and repeated ones (the first stays, order kept), and checks each is a
/// valid tag.
pub fn tag_list(tags: impl IntoIterator<Item = String>) -> Result<Vec<String>, ReferenceError> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_string();
        if tag.is_empty() || out.contains(&tag) {
            continue;
        }
        validate_tag(&tag).map_err(|reason| ReferenceError {
            input: tag.clone(),
            reason,
        })?;
        out.push(tag);
    }
    Ok(out)
}

/// docker's `splitDockerDomain`: the first component is a registry only if it looks like a host.
fn split_registry(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_ascii_lowercase() != first =>
        {
            (first, rest)
        }
        _ => (DEFAULT_REGISTRY, name),
    }
}

fn validate_registry(registry: &str) -> Result<(), String> {
    let (host, port) =
        if let Some(v6) = registry.strip_prefix('[') {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("registry `{registry}` has an unclosed `[`"))?;
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("`{addr}` is not an IPv6 address"));
            }
            match after {
                "" => return Ok(()),
                p => (
                    "",
                    Some(p.strip_prefix(':').ok_or_else(|| {
                        format!("registry `{registry}`: expected `:PORT` after `]`")
                    })?),
                ),
            }
        } else {
            match registry.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (registry, None),
            }
        };
    if let Some(port) = port
        && (port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err())
    {
        return Err(format!(
            "registry `{registry}` has an invalid port `{port}`"
        ));
    }
    if host.is_empty() && !registry.starts_with('[') {
        return Err(format!("registry `{registry}` has no host name"));
    }
    for label in host.split('.').filter(|_| !host.is_empty()) {
        let ok = !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "registry host `{host}` is not a valid host name (letters, digits and inner `-`, \
                 separated by `.`)"
            ));
        }
    }
    Ok(())
}

fn validate_repository(repository: &str) -> Result<(), String> {
    if repository.is_empty() {
        return Err("the repository name is empty".into());
    }
    for component in repository.split('/') {
        if component.is_empty() {
            return Err(format!(
                "repository `{repository}` has an empty path component (`//` or a leading/trailing `/`)"
            ));
        }
        if !valid_path_component(component) {
            return Err(format!(
                "repository path component `{component}` is invalid: use lowercase letters and digits, \
                 separated by `.`, `_`, `__` or dashes, starting and ending with a letter or digit"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__`, or one or more `-`.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn validate_tag(tag: &str) -> Result<(), String> {
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let b = tag.as_bytes();
    if b.is_empty() {
        return Err("the tag after `:` is empty".into());
    }
    if b.len() > TAG_LENGTH_MAX {
        return Err(format!(
            "tag `{tag}` is {} characters long; the limit is {TAG_LENGTH_MAX}",
            b.len()
        ));
    }
    if !word(b[0]) || !b.iter().all(|&x| word(x) || x == b'.' || x == b'-') {
        return Err(format!(
            "tag `{tag}` is invalid: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn norm(s: &str) -> String {
        ImageRef::parse(s).unwrap().to_string()
    }

    fn reason(s: &str) -> String {
        ImageRef::parse(s).unwrap_err().reason().to_string()
    }

    #[test]
    fn normalises_like_the_docker_cli() {
        let cases = [
            ("nginx", "docker.io/library/nginx:latest"),
            ("nginx:1.25", "docker.io/library/nginx:1.25"),
            ("user/app", "docker.io/user/app:latest"),
            ("docker.io/nginx", "docker.io/library/nginx:latest"),
            ("index.docker.io/nginx:1", "docker.io/library/nginx:1"),
            ("index.docker.io/user/app", "docker.io/user/app:latest"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/app:dev", "localhost:5000/app:dev"),
            (
                "registry.example.com:5000/team/app",
                "registry.example.com:5000/team/app:latest",
            ),
            ("[::1]:5000/app:1", "[::1]:5000/app:1"),
            ("127.0.0.1:5000/a/b/c", "127.0.0.1:5000/a/b/c:latest"),
            // An upper-case first component is a host, like docker.
            ("Registry/app", "Registry/app:latest"),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:abc123",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:abc123",
            ),
            ("a__b/c.d_e-f--g", "docker.io/a__b/c.d_e-f--g:latest"),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input), want, "{input}");
        }
    }

    #[test]
    fn digests_keep_or_omit_the_tag() {
        let r = ImageRef::parse(&format!("app@{D}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().to_string(), D);
        assert_eq!(r.to_string(), format!("docker.io/library/app@{D}"));
        let both = ImageRef::parse(&format!("localhost:5000/app:v1@{D}")).unwrap();
        assert_eq!(both.tag(), Some("v1"));
        assert_eq!(both.to_string(), format!("localhost:5000/app:v1@{D}"));
        assert_eq!(both.registry(), "localhost:5000");
        assert_eq!(both.repository(), "app");
    }

    #[test]
    fn rejects_invalid_forms_with_the_reason() {
        let cases = [
            ("", "empty"),
            ("Nginx", "must be lowercase"),
            ("docker.io/User/app", "must be lowercase"),
            ("app:", "tag after `:` is empty"),
            ("app:-x", "tag `-x` is invalid"),
            ("app:.x", "tag `.x` is invalid"),
            ("app:a/b", "invalid port `a`"),
            ("app@sha256:abc", "has 64 hex digits, this one has 3"),
            ("app@md5:0123", "unsupported digest algorithm `md5`"),
            (
                "app@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                "lowercase",
            ),
            ("app@", "ALGORITHM:HEX"),
            ("a//b", "empty path component"),
            ("a/", "empty path component"),
            ("/a", "empty path component"),
            ("-app", "is invalid"),
            ("app-", "is invalid"),
            ("a..b", "is invalid"),
            ("a___b", "is invalid"),
            ("a.-b", "is invalid"),
            ("host:port/app", "invalid port `port`"),
            ("host:99999/app", "invalid port"),
            ("bad_host.com/app", "not a valid host name"),
            ("-host.com/app", "not a valid host name"),
            ("[::1/app", "unclosed"),
            ("[zz]:5000/app", "not an IPv6 address"),
            ("has space", "white space"),
            (" nginx", "white space"),
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "image ID",
            ),
        ];
        for (input, want) in cases {
            let r = reason(input);
            assert!(r.contains(want), "{input:?}: {r:?} lacks {want:?}");
        }
    }

    #[test]
    fn length_limits() {
        let long_tag = "t".repeat(129);
        assert!(reason(&format!("app:{long_tag}")).contains("limit is 128"));
        assert!(ImageRef::parse(&format!("app:{}", "t".repeat(128))).is_ok());
        let long_name = format!("example.com/{}", "a".repeat(250));
        assert!(reason(&long_name).contains("longer than 255"));
    }

    #[test]
    fn the_error_message_names_the_input_and_exits_2() {
        let err = ImageRef::parse("Nginx").unwrap_err();
        assert_eq!(
            err.to_string(),
            "parse image reference `Nginx`: repository name `Nginx` must be lowercase"
        );
        assert_eq!(err.exit_code(), Code::Usage);
    }

    #[test]
    fn familiar_form_and_helpers() {
        assert_eq!(ImageRef::parse("nginx").unwrap().familiar(), "nginx:latest");
        assert_eq!(
            ImageRef::parse("user/app:1").unwrap().familiar(),
            "user/app:1"
        );
        assert_eq!(
            ImageRef::parse("localhost:5000/app").unwrap().familiar(),
            "localhost:5000/app:latest"
        );
        let r = ImageRef::parse("localhost:5000/app:1").unwrap();
        assert_eq!(r.with_tag("2").unwrap().to_string(), "localhost:5000/app:2");
        assert!(r.with_tag("bad tag").is_err());
        let pinned = r.with_digest(D.parse().unwrap());
        assert_eq!(pinned.to_string(), format!("localhost:5000/app@{D}"));
        assert_eq!(pinned.name(), "localhost:5000/app");
        let built = ImageRef::from_parts("localhost:5000", "team/app", Some("v1"), None).unwrap();
        assert_eq!(built.to_string(), "localhost:5000/team/app:v1");
        assert!(ImageRef::from_parts("notahost", "app", None, None).is_err());
    }

    #[test]
    fn tag_lists_are_trimmed_deduplicated_and_checked() {
        let tags = tag_list(["latest", " v1 ", "", "latest", "abc"].map(String::from)).unwrap();
        assert_eq!(tags, ["latest", "v1", "abc"]);
        assert!(
            tag_list(["ok".to_string(), "bad tag".to_string()])
                .unwrap_err()
                .to_string()
                .contains("bad tag")
        );
    }

    #[test]
    fn sha256_of_matches_the_known_empty_digest() {
        assert_eq!(Digest::sha256_of(b"").to_string(), D);
        let d: Digest = D.parse().unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{D}\""));
        assert_eq!(
            serde_json::from_str::<Digest>(&format!("\"{D}\"")).unwrap(),
            d
        );
        assert!(serde_json::from_str::<Digest>("\"sha256:x\"").is_err());
    }
}
