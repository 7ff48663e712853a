//! Platforms: the one asked for (`--platform`, `--require`), read as docker reads it (containerd's specifier syntax,
//! `OS/ARCH[/VARIANT]` or an OS or architecture alone, and its normalisation: `x86_64` → `amd64`,
//! `aarch64` → `arm64`, `armhf` → `arm/v7`, `macos` → `darwin`), refused unless the OS, the
//! architecture and the variant are values of the OCI platform vocabulary (Go's `GOOS` and `GOARCH`
//! lists, and the variants containerd orders); and the check that the image the engine built is that
//! platform. An engine that cannot build for a platform may quietly build for its own — from a local
//! base image, say — so the config is read before anything is pushed. [`ImagePlatform`] is what an
//! image's config says it is, as an OCI index names it.

use crate::error::Diagnostic;
use crate::exit::Code;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The operating systems containerd knows (Go's `GOOS` list).
const OSES: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

/// The architectures containerd knows (Go's `GOARCH` list).
const ARCHITECTURES: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// A platform value that is not one: the flag, the value and why.
#[derive(Debug, thiserror::Error)]
#[error("use `{value}` as {flag}: {reason}")]
pub struct PlatformError {
    /// The flag (`--platform`).
    pub flag: &'static str,
    /// The value given.
    pub value: String,
    /// Why it is not a platform.
    pub reason: String,
}

impl Diagnostic for PlatformError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        Some("pass one platform, OS/ARCH[/VARIANT]: linux/amd64, linux/arm64, linux/arm/v7".into())
    }
}

/// A platform as asked for: the parts given, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// The value as given (for messages and the engine).
    given: String,
    /// The OS, unless only an architecture was given.
    os: Option<String>,
    /// The architecture, unless only an OS was given.
    architecture: Option<String>,
    /// The variant, normalised (`arm` without one is `v7`; `arm64/v8` and `amd64/v1` are none).
    variant: String,
    /// Whether the variant was given (or is implied, as `arm`'s `v7` is).
    variant_matters: bool,
}

impl Platform {
    /// Parses `flag`'s value; an empty value is no platform (the engine's own), as for docker.
    pub fn parse(flag: &'static str, value: &str) -> Result<Option<Platform>, PlatformError> {
        let given = value.trim();
        if given.is_empty() {
            return Ok(None);
        }
        let bad = |reason: String| PlatformError {
            flag,
            value: value.to_string(),
            reason,
        };
        if given.contains(',') {
            return Err(bad(
                "one image is one platform (build one leg per platform with --push-by-digest, then \
                 merge them with `tag-commit index`)"
                    .into(),
            ));
        }
        let parts: Vec<&str> = given.split('/').collect();
        if parts.len() > 3 {
            return Err(bad("expected OS/ARCH[/VARIANT]".into()));
        }
        for part in &parts {
            if part.is_empty()
                || !part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            {
                return Err(bad(format!(
                    "`{part}` is not a platform component (letters, digits, `_`, `.`, `-`)"
                )));
            }
        }
        let known_os = |os: &str| -> Result<String, PlatformError> {
            let os = normalise_os(os);
            if OSES.contains(&os.as_str()) {
                Ok(os)
            } else {
                Err(bad(format!(
                    "`{os}` is not an operating system the OCI platform values know ({})",
                    OSES.join(", ")
                )))
            }
        };
        let known_arch = |arch: &str, variant: &str| -> Result<(String, String), PlatformError> {
            let (arch, variant) = normalise_arch(arch, variant);
            if !ARCHITECTURES.contains(&arch.as_str()) {
                return Err(bad(format!(
                    "`{arch}` is not an architecture the OCI platform values know ({})",
                    ARCHITECTURES.join(", ")
                )));
            }
            let variants = variants(&arch);
            if !variant.is_empty() && !variants.contains(&variant.as_str()) {
                return Err(bad(if variants.is_empty() {
                    format!("`{arch}` has no variants, and `{variant}` is given")
                } else {
                    format!(
                        "`{variant}` is not a variant of `{arch}` ({})",
                        variants.join(", ")
                    )
                }));
            }
            Ok((arch, variant))
        };
        let platform = |os: Option<String>, arch: Option<(String, String)>, variant_given: bool| {
            let is_arm = arch.as_ref().is_some_and(|(a, _)| a == "arm");
            let (architecture, variant) = match arch {
                Some((a, v)) => (Some(a), v),
                None => (None, String::new()),
            };
            Platform {
                given: given.to_string(),
                os,
                architecture,
                variant,
                variant_matters: variant_given || is_arm,
            }
        };
        Ok(Some(match parts.as_slice() {
            [one] => {
                // An OS alone, else an architecture alone (containerd's order).
                if OSES.contains(&normalise_os(one).as_str()) {
                    platform(Some(known_os(one)?), None, false)
                } else {
                    platform(None, Some(known_arch(one, "")?), false)
                }
            }
            [os, arch] => platform(Some(known_os(os)?), Some(known_arch(arch, "")?), false),
            [os, arch, variant] => {
                platform(Some(known_os(os)?), Some(known_arch(arch, variant)?), true)
            }
            _ => unreachable!("one to three parts"),
        }))
    }

    /// The value as given, which the engine is asked for.
    pub fn given(&self) -> &str {
        &self.given
    }

    /// The platform as an image names it, when an OS and an architecture were given.
    pub fn named(&self) -> Option<ImagePlatform> {
        let architecture = self.architecture.clone()?;
        Some(ImagePlatform {
            os: self.os.clone()?,
            architecture,
            variant: (!self.variant.is_empty()).then(|| self.variant.clone()),
        })
    }

    /// Whether an image of platform `image` is this platform.
    pub fn matches(&self, image: &ImagePlatform) -> bool {
        self.os.as_ref().is_none_or(|o| *o == image.os)
            && self
                .architecture
                .as_ref()
                .is_none_or(|a| *a == image.architecture)
            && (!self.variant_matters || self.variant == image.variant.as_deref().unwrap_or(""))
    }

    /// Checks that an image config (`os`, `architecture`, `variant`) is this platform: the platform
    /// it is, or (`Err`) what it says instead.
    pub fn check(&self, config: &[u8]) -> Result<ImagePlatform, String> {
        match ImagePlatform::from_config(config) {
            Some(image) if self.matches(&image) => Ok(image),
            Some(image) => Err(image.to_string()),
            None => Err("an image whose config names no platform".into()),
        }
    }
}

/// The platform an image is, from its config, normalised as containerd normalises it; serialised
/// as an OCI index's `platform` object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ImagePlatform {
    /// `architecture` (`amd64`, `arm64`).
    pub architecture: String,
    /// `os` (`linux`).
    pub os: String,
    /// `variant` (`v7`), absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl ImagePlatform {
    /// The platform an image config names; `None` when it is not JSON or names no OS or
    /// architecture.
    pub fn from_config(config: &[u8]) -> Option<ImagePlatform> {
        let doc: serde_json::Value = serde_json::from_slice(config).ok()?;
        let field = |k: &str| doc.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        ImagePlatform::new(field("os"), field("architecture"), field("variant"))
    }

    /// The platform `os`/`architecture`/`variant` names, normalised; `None` without an OS or an
    /// architecture.
    pub fn new(os: &str, architecture: &str, variant: &str) -> Option<ImagePlatform> {
        let os = normalise_os(os);
        let (architecture, variant) = normalise_arch(architecture, variant);
        if os.is_empty() || architecture.is_empty() {
            return None;
        }
        Some(ImagePlatform {
            os,
            architecture,
            variant: (!variant.is_empty()).then_some(variant),
        })
    }

    /// The same platform, normalised (as read from a descriptor or an index someone else wrote).
    pub fn normalised(&self) -> Option<ImagePlatform> {
        ImagePlatform::new(
            &self.os,
            &self.architecture,
            self.variant.as_deref().unwrap_or(""),
        )
    }

    /// The suffix of a platform tag: the architecture, and `-VARIANT` when there is one
    /// (`arm64`, `amd64`, `arm-v7`).
    pub fn tag_suffix(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}-{v}", self.architecture),
            None => self.architecture.clone(),
        }
    }
}

impl fmt::Display for ImagePlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// containerd's OS normalisation: lowercase, `macos` → `darwin`.
fn normalise_os(os: &str) -> String {
    match os.to_ascii_lowercase().as_str() {
        "macos" => "darwin".into(),
        other => other.into(),
    }
}

/// containerd's architecture and variant normalisation (and `arm`'s default variant, `v7`).
fn normalise_arch(arch: &str, variant: &str) -> (String, String) {
    let (arch, variant) = (arch.to_ascii_lowercase(), variant.to_ascii_lowercase());
    match arch.as_str() {
        "i386" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => (
            "amd64".into(),
            if variant == "v1" {
                String::new()
            } else {
                variant
            },
        ),
        "aarch64" | "arm64" => (
            "arm64".into(),
            match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".into(),
                _ => variant,
            },
        ),
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => (
            "arm".into(),
            match variant.as_str() {
                "" | "7" => "v7".into(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            },
        ),
        _ => (arch, variant),
    }
}

/// The variants an architecture has (normalised: the default one is not listed).
fn variants(arch: &str) -> &'static [&'static str] {
    match arch {
        "amd64" => &["v2", "v3", "v4"],
        "arm" => &["v5", "v6", "v7", "v8"],
        "arm64" => &[
            "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9", "v9", "v9.1",
            "v9.2", "v9.3", "v9.4", "v9.5", "v9.6", "v9.7",
        ],
        "riscv64" => &["rva20u64", "rva22u64", "rva23u64"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(value: &str) -> Platform {
        Platform::parse("--platform", value)
            .unwrap_or_else(|e| panic!("{value}: {e}"))
            .unwrap_or_else(|| panic!("{value}: no platform"))
    }

    fn config(os: &str, arch: &str, variant: Option<&str>) -> Vec<u8> {
        let mut c = serde_json::json!({"os": os, "architecture": arch, "rootfs": {}});
        if let Some(v) = variant {
            c["variant"] = serde_json::json!(v);
        }
        serde_json::to_vec(&c).unwrap()
    }

    #[test]
    fn what_docker_accepts_is_accepted_and_normalised() {
        for (value, os, arch, variant) in [
            ("linux/amd64", Some("linux"), Some("amd64"), ""),
            ("Linux/X86_64", Some("linux"), Some("amd64"), ""),
            ("linux/x86-64/v1", Some("linux"), Some("amd64"), ""),
            ("linux/amd64/v3", Some("linux"), Some("amd64"), "v3"),
            ("linux/aarch64", Some("linux"), Some("arm64"), ""),
            ("linux/arm64/v8", Some("linux"), Some("arm64"), ""),
            ("linux/arm64/9.0", Some("linux"), Some("arm64"), "v9"),
            ("linux/arm64/v8.2", Some("linux"), Some("arm64"), "v8.2"),
            ("linux/arm", Some("linux"), Some("arm"), "v7"),
            ("linux/armhf", Some("linux"), Some("arm"), "v7"),
            ("linux/armel", Some("linux"), Some("arm"), "v6"),
            ("linux/arm/6", Some("linux"), Some("arm"), "v6"),
            ("linux/i386", Some("linux"), Some("386"), ""),
            (
                "linux/riscv64/rva22u64",
                Some("linux"),
                Some("riscv64"),
                "rva22u64",
            ),
            ("windows/amd64", Some("windows"), Some("amd64"), ""),
            ("macos/arm64", Some("darwin"), Some("arm64"), ""),
            ("linux/s390x", Some("linux"), Some("s390x"), ""),
            ("linux", Some("linux"), None, ""),
            ("arm64", None, Some("arm64"), ""),
            (" linux/ppc64le ", Some("linux"), Some("ppc64le"), ""),
        ] {
            let p = parsed(value);
            assert_eq!(
                (
                    p.os.as_deref(),
                    p.architecture.as_deref(),
                    p.variant.as_str()
                ),
                (os, arch, variant),
                "{value}"
            );
        }
        assert_eq!(Platform::parse("--platform", "").unwrap(), None);
        assert_eq!(Platform::parse("--platform", "  ").unwrap(), None);
    }

    #[test]
    fn values_docker_does_not_know_are_refused_naming_the_flag() {
        for (value, reason) in [
            ("linux/notarch", "`notarch` is not an architecture"),
            ("notos/amd64", "`notos` is not an operating system"),
            ("notarch", "`notarch` is not an architecture"),
            ("linux/amd64/v9", "`v9` is not a variant of `amd64`"),
            ("linux/arm/v9", "`v9` is not a variant of `arm`"),
            ("linux/386/v2", "`386` has no variants"),
            ("linux/amd64,linux/arm64", "one platform"),
            ("linux/amd64/v2/x", "expected OS/ARCH[/VARIANT]"),
            ("linux/", "`` is not a platform component"),
            ("/amd64", "`` is not a platform component"),
            ("linux/*", "`*` is not a platform component"),
            ("linux/amd 64", "`amd 64` is not a platform component"),
            ("windows(10.0)/amd64", "is not a platform component"),
        ] {
            let e = Platform::parse("--platform", value).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("--platform"), "{value}: {text}");
            assert!(text.contains(reason), "{value}: {text}");
            assert!(crate::error::Diagnostic::help(&e).is_some(), "{value}");
            assert_eq!(
                crate::error::Diagnostic::exit_code(&e),
                crate::exit::Code::Usage
            );
        }
    }

    #[test]
    fn the_built_config_must_be_the_platform_asked_for() {
        let ok: &[(&str, Vec<u8>)] = &[
            ("linux/amd64", config("linux", "amd64", None)),
            ("linux/x86_64", config("linux", "amd64", None)),
            ("linux/amd64", config("linux", "amd64", Some("v3"))),
            ("linux/arm64", config("linux", "arm64", Some("v8"))),
            ("linux/arm64/v8", config("linux", "arm64", None)),
            ("linux/arm", config("linux", "arm", Some("v7"))),
            ("linux/arm/v7", config("linux", "arm", None)),
            ("linux/arm/v6", config("linux", "arm", Some("v6"))),
            ("arm64", config("linux", "arm64", None)),
            ("linux", config("linux", "s390x", None)),
        ];
        for (asked, cfg) in ok {
            parsed(asked)
                .check(cfg)
                .unwrap_or_else(|e| panic!("{asked}: {e}"));
        }
        let wrong: &[(&str, Vec<u8>, &str)] = &[
            ("linux/arm64", config("linux", "amd64", None), "linux/amd64"),
            (
                "linux/amd64/v3",
                config("linux", "amd64", None),
                "linux/amd64",
            ),
            (
                "linux/arm/v6",
                config("linux", "arm", Some("v7")),
                "linux/arm/v7",
            ),
            (
                "linux/arm",
                config("linux", "arm", Some("v6")),
                "linux/arm/v6",
            ),
            (
                "windows/amd64",
                config("linux", "amd64", None),
                "linux/amd64",
            ),
            ("arm64", config("linux", "amd64", None), "linux/amd64"),
            (
                "linux/amd64",
                b"not json".to_vec(),
                "an image whose config names no platform",
            ),
        ];
        for (asked, cfg, built) in wrong {
            assert_eq!(parsed(asked).check(cfg).unwrap_err(), *built, "{asked}");
        }
    }

    #[test]
    fn an_image_platform_reads_as_an_index_names_it() {
        let p = ImagePlatform::from_config(&config("linux", "aarch64", Some("v8"))).unwrap();
        assert_eq!(p.to_string(), "linux/arm64");
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"architecture":"arm64","os":"linux"}"#
        );
        assert_eq!(p.tag_suffix(), "arm64");
        let arm = ImagePlatform::from_config(&config("linux", "arm", None)).unwrap();
        assert_eq!(
            (arm.to_string(), arm.tag_suffix()),
            ("linux/arm/v7".into(), "arm-v7".into())
        );
        assert_eq!(ImagePlatform::from_config(br#"{"os":"linux"}"#), None);
        let odd = ImagePlatform {
            os: "Linux".into(),
            architecture: "x86_64".into(),
            variant: Some("v1".into()),
        };
        assert_eq!(odd.normalised().unwrap().to_string(), "linux/amd64");
    }
}
