//! Image references, parsed and normalised the way the docker CLI does (`distribution/reference`'s
//! `ParseNormalizedNamed` followed by `TagNameOnly`):
//!
//! - `nginx` → `docker.io/library/nginx:latest`; `user/app` → `docker.io/user/app:latest`;
//!   `index.docker.io/x` → `docker.io/x`.
//! - the first path component is a registry only when it contains `.` or `:`, is `localhost`, or has
//!   upper-case letters (`LOCALDOMAIN/debian`); `localhost:5000/app`, `[::1]:5000/app` and
//!   `host.example/app` keep theirs.
//! - `name:tag@sha256:…` keeps both the tag and the digest; a reference with a digest and no tag gets no
//!   default tag.
//! - the repository path (`library/nginx`) is at most 255 characters; the registry does not count.
//! - an IPv6 registry is hex digits and colons in brackets: no zone (`%eth0`), no IPv4 tail
//!   (`[2001:db8::192.0.2.33]`).
//!
//! [`docker::Reference`] is that grammar to the letter (tested against distribution/reference's own
//! tables). [`ImageRef`] refuses what it refuses, with the reason (upper-case repository, empty
//! component, bad tag, digest of the wrong length, a 64-hex name, a path over 255 characters…), and
//! also what docker accepts only to fail on later: a port over 65535, brackets that are not an IPv6
//! address, a digest algorithm other than sha256 and sha512, and a first component that docker takes
//! for a registry but then reads as a path with no registry at all (`foo_bar.com/app`).

use crate::error::Diagnostic;
use crate::exit::Code;
use std::fmt;
use std::str::FromStr;

/// The registry a reference without one points at.
pub const DEFAULT_REGISTRY: &str = "docker.io";
const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const PATH_LENGTH_MAX: usize = 255;
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
    /// the tag `latest`. What docker's [`docker::Reference::parse_normalized`] refuses is refused
    /// (with the reason), and a little more: see the module documentation.
    pub fn parse(input: &str) -> Result<ImageRef, ReferenceError> {
        let err = |reason: String| ReferenceError {
            input: input.to_string(),
            reason,
        };
        let docker = docker::Reference::parse_normalized(input)?;
        // docker reads `foo_bar.com/app` as a path with no registry at all.
        if docker.domain().is_empty() {
            return Err(err(diagnose(input)));
        }
        if docker.domain() != DEFAULT_REGISTRY {
            validate_registry(docker.domain()).map_err(err)?;
        }
        let digest = match docker.digest() {
            Some(d) => Some(d.parse::<Digest>().map_err(|e| err(e.reason))?),
            None => None,
        };
        let tag = match (docker.tag(), &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(ImageRef {
            registry: docker.domain().to_string(),
            repository: docker.path().to_string(),
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

    /// docker's `FamiliarName`: the name without tag or digest, Docker Hub's registry and `library/`
    /// left out (`nginx`, `user/app`, `localhost:5000/app`).
    pub fn familiar_name(&self) -> String {
        if self.registry != DEFAULT_REGISTRY {
            return self.name();
        }
        match self.repository.strip_prefix(OFFICIAL_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => self.repository.clone(),
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
                || first.to_lowercase() != first =>
        {
            (first, rest)
        }
        _ => (DEFAULT_REGISTRY, name),
    }
}

fn validate_registry(registry: &str) -> Result<(), String> {
    let (host, port) = if let Some(v6) = registry.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("registry `{registry}` has an unclosed `[`"))?;
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(format!(
                "`{addr}` is not an IPv6 address as a reference may write it: hex digits and `:` \
                     only (no zone, no IPv4 tail)"
            ));
        }
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{addr}` is not an IPv6 address"));
        }
        match after {
            "" => return Ok(()),
            p => {
                (
                    "",
                    Some(p.strip_prefix(':').ok_or_else(|| {
                        format!("registry `{registry}`: expected `:PORT` after `]`")
                    })?),
                )
            }
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
    if !b.first().is_some_and(|x| alnum(*x)) || !b.last().is_some_and(|x| alnum(*x)) {
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

/// What is wrong with the registry of `name` (a reference without tag or digest), if docker takes
/// its first component for one.
fn registry_problem(name: &str) -> Option<String> {
    let (registry, _) = split_registry(name);
    if registry == DEFAULT_REGISTRY {
        return None;
    }
    validate_registry(registry).err()
}

/// The name part of a reference: without digest and tag.
fn name_part(input: &str) -> &str {
    let rest = input.split('@').next().unwrap_or_default();
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => &rest[..last_slash + i],
        None => rest,
    }
}

/// Why docker's grammar refuses `input`: the first part that is wrong, checked one at a time.
fn diagnose(input: &str) -> String {
    if input.contains(char::is_whitespace) {
        return "a reference cannot contain white space".into();
    }
    let (rest, digest) = match input.split_once('@') {
        Some((rest, d)) => (rest, Some(d)),
        None => (input, None),
    };
    if let Some(Err(e)) = digest.map(str::parse::<Digest>) {
        return e.reason;
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(Err(reason)) = tag.map(validate_tag) {
        return reason;
    }
    if let Some(reason) = registry_problem(name) {
        return reason;
    }
    let (_, repository) = split_registry(name);
    if let Err(reason) = validate_repository(repository) {
        return reason;
    }
    "it is not a valid image reference".into()
}

/// distribution/reference (v0.6) to the letter: its grammar, `Parse`, `ParseNormalizedNamed`,
/// `WithName`, `WithTag` and `WithDigest`. Digests in a parsed reference are checked as [`Digest`]s
/// (sha256 and sha512; docker's binaries also know sha384); `with_digest` checks only their form, as
/// docker's does.
pub mod docker {
    use super::{
        DEFAULT_REGISTRY, Digest, LEGACY_DEFAULT_REGISTRY, OFFICIAL_PREFIX, PATH_LENGTH_MAX,
        ReferenceError, diagnose, name_part, registry_problem, valid_path_component, validate_tag,
    };
    use std::fmt;

    /// A reference as docker's grammar splits it. The domain is empty when the first component is
    /// not one (`Parse("ubuntu")`, `Parse("foo_bar.com/app")`).
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct Reference {
        domain: String,
        path: String,
        tag: Option<String>,
        digest: Option<String>,
    }

    fn error(input: &str, reason: impl Into<String>) -> ReferenceError {
        ReferenceError {
            input: input.to_string(),
            reason: reason.into(),
        }
    }

    /// `domainNameComponent`: `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
    fn domain_component(c: &str) -> bool {
        let b = c.as_bytes();
        b.first().is_some_and(u8::is_ascii_alphanumeric)
            && b.last().is_some_and(u8::is_ascii_alphanumeric)
            && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
    }

    /// `domainAndPort`, anchored: a host name, IPv4 address or bracketed IPv6 address (`[` hex digits
    /// and `:` `]`), then `:PORT` (any number of digits) or nothing.
    pub fn is_domain(s: &str) -> bool {
        let (host, port) = if s.starts_with('[') {
            let Some(end) = s.find(']') else {
                return false;
            };
            let inner = &s[1..end];
            if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                return false;
            }
            (None, &s[end + 1..])
        } else {
            match s.find(':') {
                Some(i) => (Some(&s[..i]), &s[i..]),
                None => (Some(s), ""),
            }
        };
        if host.is_some_and(|h| !h.split('.').all(domain_component)) {
            return false;
        }
        port.is_empty()
            || port
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    }

    /// `remoteName`: path components (`[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`) joined by `/`.
    fn is_path(s: &str) -> bool {
        s.split('/').all(valid_path_component)
    }

    /// `anchoredNameRegexp`: a name split into its domain (empty when there is none) and path; the
    /// first component is the domain whenever it can be one (`a/b/c` → `a`, `b/c`).
    pub fn split_name(s: &str) -> Option<(&str, &str)> {
        if let Some((first, rest)) = s.split_once('/')
            && is_domain(first)
            && is_path(rest)
        {
            return Some((first, rest));
        }
        is_path(s).then_some(("", s))
    }

    /// `anchoredIdentifierRegexp`: 64 lowercase hex digits (an image ID).
    pub fn is_identifier(s: &str) -> bool {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    /// `digestPat`: `ALGORITHM:HEX`, the algorithm `[A-Za-z][A-Za-z0-9]*` parts joined by one of
    /// `-_+.`, at least 32 hex digits.
    fn is_digest_form(s: &str) -> bool {
        let Some((alg, hex)) = s.split_once(':') else {
            return false;
        };
        let part = |p: &str| {
            p.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && p.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        alg.split(['-', '_', '+', '.']).all(part)
            && hex.len() >= 32
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// `referenceRegexp`: name, tag, digest.
    fn split_reference(s: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => (rest, Some(d)),
            None => (s, None),
        };
        if digest.is_some_and(|d| !is_digest_form(d)) {
            return None;
        }
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if tag.is_some_and(|t| validate_tag(t).is_err()) || split_name(name).is_none() {
            return None;
        }
        Some((name, tag, digest))
    }

    /// Why `Parse` fails.
    enum Failure {
        Empty,
        Format,
        Uppercase,
        TooLong(usize),
        Digest(String),
    }

    impl Failure {
        /// The error for `input`, explained with the parts of `shown`.
        fn error(self, input: &str, shown: &str) -> ReferenceError {
            error(
                input,
                match self {
                    Failure::Empty => "the reference is empty".into(),
                    Failure::Format => diagnose(shown),
                    Failure::Uppercase => registry_problem(name_part(shown)).unwrap_or_else(|| {
                        format!("repository name `{}` must be lowercase", name_part(shown))
                    }),
                    Failure::TooLong(n) => format!(
                        "the repository path is {n} characters long, longer than {PATH_LENGTH_MAX}"
                    ),
                    Failure::Digest(reason) => reason,
                },
            )
        }
    }

    fn parse(s: &str) -> Result<Reference, Failure> {
        if s.is_empty() {
            return Err(Failure::Empty);
        }
        let Some((name, tag, digest)) = split_reference(s) else {
            let lower = s.to_lowercase();
            if lower != s && split_reference(&lower).is_some() {
                return Err(Failure::Uppercase);
            }
            return Err(Failure::Format);
        };
        let (domain, path) = split_name(name).unwrap_or(("", name));
        if path.len() > PATH_LENGTH_MAX {
            return Err(Failure::TooLong(path.len()));
        }
        if let Some(d) = digest {
            d.parse::<Digest>().map_err(|e| Failure::Digest(e.reason))?;
        }
        Ok(Reference {
            domain: domain.to_string(),
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    impl Reference {
        /// `Parse`: the grammar alone, no normalisation.
        pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
            parse(s).map_err(|f| f.error(s, s))
        }

        /// `ParseNormalizedNamed`: `nginx` → `docker.io/library/nginx` (no default tag).
        pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
            if s.is_empty() {
                return Err(Failure::Empty.error(s, s));
            }
            if is_identifier(s) {
                return Err(error(
                    s,
                    "a 64-digit hex string is an image ID, not a repository name; use \
                     REPOSITORY@sha256:…",
                ));
            }
            let (domain, remainder, written) = split_domain(s);
            let remote = remainder.split(':').next().unwrap_or_default();
            if remote.to_lowercase() != remote {
                let written = written.split(':').next().unwrap_or_default();
                return Err(error(
                    s,
                    format!("repository name `{written}` must be lowercase"),
                ));
            }
            parse(&format!("{domain}/{remainder}")).map_err(|f| f.error(s, s))
        }

        /// `WithName`: a name alone (no tag or digest).
        pub fn with_name(name: &str) -> Result<Reference, ReferenceError> {
            let (domain, path) =
                split_name(name).ok_or_else(|| error(name, "it is not a repository name"))?;
            if path.len() > PATH_LENGTH_MAX {
                return Err(Failure::TooLong(path.len()).error(name, name));
            }
            Ok(Reference {
                domain: domain.to_string(),
                path: path.to_string(),
                tag: None,
                digest: None,
            })
        }

        /// `WithTag`: the same name (and digest) with `tag`.
        pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
            validate_tag(tag).map_err(|r| error(tag, r))?;
            Ok(Reference {
                tag: Some(tag.to_string()),
                ..self.clone()
            })
        }

        /// `WithDigest`: the same name (and tag) with `digest`, which must have a digest's form.
        pub fn with_digest(&self, digest: &str) -> Result<Reference, ReferenceError> {
            if !is_digest_form(digest) {
                return Err(error(digest, "it does not have a digest's form"));
            }
            Ok(Reference {
                digest: Some(digest.to_string()),
                ..self.clone()
            })
        }

        /// The domain: registry host and port; empty when there is none.
        pub fn domain(&self) -> &str {
            &self.domain
        }

        /// The path (docker's `Path`, the remote name).
        pub fn path(&self) -> &str {
            &self.path
        }

        /// The tag, if any.
        pub fn tag(&self) -> Option<&str> {
            self.tag.as_deref()
        }

        /// The digest, if any.
        pub fn digest(&self) -> Option<&str> {
            self.digest.as_deref()
        }

        /// `Name()`: the domain and path.
        pub fn name(&self) -> String {
            if self.domain.is_empty() {
                self.path.clone()
            } else {
                format!("{}/{}", self.domain, self.path)
            }
        }
    }

    impl fmt::Display for Reference {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.name())?;
            if let Some(t) = &self.tag {
                write!(f, ":{t}")?;
            }
            if let Some(d) = &self.digest {
                write!(f, "@{d}")?;
            }
            Ok(())
        }
    }

    /// `splitDockerDomain`: the registry docker assumes for `name` and the rest, with `library/`
    /// for an official image on Docker Hub (`LOCALDOMAIN/debian` → `LOCALDOMAIN`, `debian`;
    /// `team/app` → `docker.io`, `team/app`). `name` is not checked.
    pub fn split_docker_domain(name: &str) -> (&str, String) {
        let (domain, remainder, _) = split_domain(name);
        (domain, remainder)
    }

    /// Whether the first component of a name with a `/` is a registry host, by docker's rule: it
    /// has a `.` or a `:`, or upper case, or is `localhost`.
    pub fn names_a_registry(first: &str) -> bool {
        first == "localhost" || first.contains(['.', ':']) || first.to_lowercase() != first
    }

    /// [`split_docker_domain`], and the rest as written.
    fn split_domain(name: &str) -> (&str, String, &str) {
        let Some((first, rest)) = name.split_once('/') else {
            return (DEFAULT_REGISTRY, format!("{OFFICIAL_PREFIX}{name}"), name);
        };
        let (domain, remote) = if first == LEGACY_DEFAULT_REGISTRY {
            (DEFAULT_REGISTRY, rest)
        } else if names_a_registry(first) {
            (first, rest)
        } else {
            (DEFAULT_REGISTRY, name)
        };
        if domain == DEFAULT_REGISTRY && !remote.contains('/') {
            return (domain, format!("{OFFICIAL_PREFIX}{remote}"), remote);
        }
        (domain, remote.to_string(), remote)
    }
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
            ("LOCALDOMAIN/debian", "LOCALDOMAIN/debian:latest"),
            ("Foo/bar:Tag", "Foo/bar:Tag"),
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
            ("[2001:db8:3:4::192.0.2.33]:5000/debian", "no IPv4 tail"),
            ("[fe80::1%eth0]:5000/debian", "no zone"),
            ("[fd00123123123]:5000/app", "not an IPv6 address"),
            ("LOCAL_DOMAIN/debian", "not a valid host name"),
            ("foo_bar.com/app", "not a valid host name"),
            (
                "7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C",
                "must be lowercase",
            ),
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
        // The limit is on the repository path; the registry does not count, `library/` does.
        assert!(ImageRef::parse(&format!("example.com/{}", "a".repeat(255))).is_ok());
        assert!(ImageRef::parse(&format!("example.com:5000/{}", "a".repeat(250))).is_ok());
        assert!(reason(&format!("example.com/{}", "a".repeat(256))).contains("longer than 255"));
        assert!(ImageRef::parse(&"a".repeat(247)).is_ok());
        assert!(reason(&"a".repeat(248)).contains("256 characters long, longer than 255"));
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
