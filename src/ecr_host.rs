//! ECR registry host names: which strings name an ECR registry, and which account, region and variant.
//!
//! The rule is the one amazon-ecr-credential-helper applies (strip a scheme, path and port, then match):
//!
//! ```text
//! ^(\d{12})\.dkr[\.\-]ecr(\-fips)?\.([a-zA-Z0-9][a-zA-Z0-9-_]*)\.
//!   (amazonaws\.(?:com(?:\.cn)?|eu)|on\.(?:aws|amazonwebservices\.com\.cn)|sc2s\.sgov\.gov|c2s\.ic\.gov
//!    |cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$
//! ```
//!
//! plus ECR Public (`public.ecr.aws`, `ecr-public.aws.com`). Look-alikes such as
//! `….amazonaws.com.fake.example.com` are rejected: the whole host must match.

use crate::error::Diagnostic;
use crate::exit::Code;
use std::fmt;

/// The DNS suffixes ECR registries live under (one per partition and endpoint family).
pub const SUFFIXES: [&str; 9] = [
    "amazonaws.com",
    "amazonaws.com.cn",
    "amazonaws.eu",
    "on.aws",
    "on.amazonwebservices.com.cn",
    "sc2s.sgov.gov",
    "c2s.ic.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
];

/// The host names of ECR Public.
pub const PUBLIC_HOSTS: [&str; 2] = ["public.ecr.aws", "ecr-public.aws.com"];

/// A registry that ECR serves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EcrRegistry {
    /// An account's private registry in one region.
    Private(EcrHost),
    /// ECR Public (its token comes from the `ecr-public` API in us-east-1).
    Public {
        /// The host as given: `public.ecr.aws` or `ecr-public.aws.com`.
        host: String,
    },
}

/// A private ECR registry host, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EcrHost {
    host: String,
    account: String,
    region: String,
    fips: bool,
    dual_stack: bool,
}

impl EcrHost {
    /// The host name, lowercase, without scheme, port or path.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The 12-digit account ID.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The region, e.g. `us-east-1`.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Whether this is a FIPS endpoint (`dkr.ecr-fips…` or `dkr-ecr-fips…`).
    pub fn fips(&self) -> bool {
        self.fips
    }

    /// Whether this is a dual-stack (IPv4 + IPv6) endpoint (`….on.aws`, `….on.amazonwebservices.com.cn`).
    pub fn dual_stack(&self) -> bool {
        self.dual_stack
    }
}

impl EcrHost {
    /// The usual host for an account's registry in a region: `ACCOUNT.dkr.ecr.REGION.<partition domain>`.
    pub fn standard(account: &str, region: &str) -> Result<EcrHost, NotEcrHost> {
        match EcrRegistry::parse(&format!(
            "{account}.dkr.ecr.{region}.{}",
            partition_domain(region)
        ))? {
            EcrRegistry::Private(h) => Ok(h),
            EcrRegistry::Public { host } => Err(NotEcrHost {
                input: host,
                reason: "is ECR Public".into(),
            }),
        }
    }

    /// Every standard host form for this host's account and region: the classic form, the dual-stack
    /// form where the partition has one, and the FIPS forms in regions that have FIPS endpoints (the US
    /// and GovCloud regions). The host itself is always included.
    pub fn standard_forms(&self) -> Vec<String> {
        let (a, r) = (&self.account, &self.region);
        let mut forms = vec![
            self.host.clone(),
            format!("{a}.dkr.ecr.{r}.{}", partition_domain(r)),
        ];
        match partition_domain(r) {
            "amazonaws.com" => {
                forms.push(format!("{a}.dkr-ecr.{r}.on.aws"));
                if r.starts_with("us-") {
                    forms.push(format!("{a}.dkr.ecr-fips.{r}.amazonaws.com"));
                    forms.push(format!("{a}.dkr-ecr-fips.{r}.on.aws"));
                }
            }
            "amazonaws.com.cn" => {
                forms.push(format!("{a}.dkr-ecr.{r}.on.amazonwebservices.com.cn"));
            }
            _ => {}
        }
        let mut seen = std::collections::BTreeSet::new();
        forms.retain(|f| seen.insert(f.clone()));
        forms
    }
}

/// Whether `s` has the shape of an AWS region name (`us-east-1`, `eusc-de-east-1`, `us-iso-east-1`).
pub fn is_region_name(s: &str) -> bool {
    let first = s.split('-').next().unwrap_or("");
    s.len() <= 32
        && s.contains('-')
        && !first.is_empty()
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().last().is_some_and(|b| b.is_ascii_digit())
}

/// The AWS partitions and the region names each one claims, as the SDK's partition table (botocore's
/// and the Rust SDK's `partitions.json`) writes them: `(partition, regionRegex)`. [`partition`]
/// applies them.
pub const PARTITIONS: [(&str, &str); 8] = [
    ("aws", r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$"),
    ("aws-cn", r"^cn\-\w+\-\d+$"),
    ("aws-us-gov", r"^us\-gov\-\w+\-\d+$"),
    ("aws-iso", r"^us\-iso\-\w+\-\d+$"),
    ("aws-iso-b", r"^us\-isob\-\w+\-\d+$"),
    ("aws-iso-e", r"^eu\-isoe\-\w+\-\d+$"),
    ("aws-iso-f", r"^us\-isof\-\w+\-\d+$"),
    ("aws-eusc", r"^eusc\-(de)\-\w+\-\d+$"),
];

/// The partition whose region pattern (see [`PARTITIONS`]) `region` matches: `us-east-1` → `aws`,
/// `us-gov-west-1` → `aws-us-gov`, `mars-1` → `None`. A name no partition claims is not a region
/// AWS has or could open without a new partition (which a newer SDK, and this table, would list).
pub fn partition(region: &str) -> Option<&'static str> {
    // `\w+` and `\d+` of the patterns, on one label.
    let word = |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let digits = |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit());
    let labels: Vec<&str> = region.split('-').collect();
    match labels.as_slice() {
        ["us", "gov", w, d] if word(w) && digits(d) => Some("aws-us-gov"),
        ["us", "iso", w, d] if word(w) && digits(d) => Some("aws-iso"),
        ["us", "isob", w, d] if word(w) && digits(d) => Some("aws-iso-b"),
        ["us", "isof", w, d] if word(w) && digits(d) => Some("aws-iso-f"),
        ["eu", "isoe", w, d] if word(w) && digits(d) => Some("aws-iso-e"),
        ["eusc", "de", w, d] if word(w) && digits(d) => Some("aws-eusc"),
        ["cn", w, d] if word(w) && digits(d) => Some("aws-cn"),
        [first, w, d]
            if ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"].contains(first)
                && word(w)
                && digits(d) =>
        {
            Some("aws")
        }
        _ => None,
    }
}

/// A clap value parser for `--region`.
pub fn parse_region(s: &str) -> Result<String, String> {
    if is_region_name(s) {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not a region name like us-east-1"))
    }
}

/// The DNS domain of ECR registries in a region's partition.
pub fn partition_domain(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else if region.starts_with("us-isof-") {
        "csp.hci.ic.gov"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else if region.starts_with("eu-isoe-") {
        "cloud.adc-e.uk"
    } else if region.starts_with("eusc-") {
        "amazonaws.eu"
    } else {
        "amazonaws.com"
    }
}

impl EcrRegistry {
    /// The account's private registry `input` names, if it names one (not ECR Public, not another
    /// registry).
    pub fn private(input: &str) -> Option<EcrHost> {
        match EcrRegistry::parse(input) {
            Ok(EcrRegistry::Private(host)) => Some(host),
            _ => None,
        }
    }

    /// Parses a registry host, a `https://host[/path]` URL, or a `host:443` form.
    pub fn parse(input: &str) -> Result<EcrRegistry, NotEcrHost> {
        let host = bare_host(input);
        let err = |reason: String| NotEcrHost {
            input: input.to_string(),
            reason,
        };
        if let Some(public) = PUBLIC_HOSTS.iter().find(|h| **h == host) {
            return Ok(EcrRegistry::Public {
                host: (*public).to_string(),
            });
        }
        let (account, rest) = host
            .split_once('.')
            .ok_or_else(|| err("it has no dots".into()))?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(format!(
                "the first label `{account}` is not a 12-digit account ID"
            )));
        }
        let rest = rest
            .strip_prefix("dkr.ecr")
            .or_else(|| rest.strip_prefix("dkr-ecr"))
            .ok_or_else(|| {
                err(format!(
                    "`{account}.` is not followed by `dkr.ecr` or `dkr-ecr`"
                ))
            })?;
        let (fips, rest) = match rest.strip_prefix("-fips") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let (region, suffix) = rest
            .strip_prefix('.')
            .and_then(|r| r.split_once('.'))
            .ok_or_else(|| err("no region follows `dkr.ecr`".into()))?;
        let region_ok = region
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !region_ok {
            return Err(err(format!("`{region}` is not a region name")));
        }
        if !SUFFIXES.contains(&suffix) {
            return Err(err(format!(
                "`{suffix}` is not an ECR domain (expected one of: {})",
                SUFFIXES.join(", ")
            )));
        }
        Ok(EcrRegistry::Private(EcrHost {
            account: account.to_string(),
            region: region.to_string(),
            fips,
            dual_stack: suffix.starts_with("on."),
            host,
        }))
    }

    /// The host name, as docker keys credentials.
    pub fn host(&self) -> &str {
        match self {
            EcrRegistry::Private(h) => h.host(),
            EcrRegistry::Public { host } => host,
        }
    }
}

impl fmt::Display for EcrRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.host())
    }
}

/// Whether `input` names an ECR registry (private or public).
pub fn is_ecr(input: &str) -> bool {
    EcrRegistry::parse(input).is_ok()
}

/// Strips a scheme, a path and a port, and lowercases (DNS names are case-insensitive).
fn bare_host(input: &str) -> String {
    let s = input.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let s = s.split('/').next().unwrap_or("");
    let s = s.rsplit_once(':').map_or(s, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            s
        }
    });
    s.to_ascii_lowercase()
}

/// A string that is not an ECR registry host, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("recognise `{input}` as an ECR registry: {reason}")]
pub struct NotEcrHost {
    input: String,
    reason: String,
}

impl Diagnostic for NotEcrHost {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        Some(
            "ECR registries look like ACCOUNT.dkr.ecr.REGION.amazonaws.com (also dkr-ecr.REGION.on.aws, \
             the -fips and China forms) or public.ecr.aws"
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/ecr-hosts")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn every_fixture_host_parses_or_is_rejected_as_listed() {
        let text = fixture("ecr-hosts.txt");
        let mut valid = 0;
        let mut invalid = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                ["VALID", host, account, region, fips] => {
                    let parsed = EcrRegistry::parse(host).unwrap_or_else(|e| panic!("{host}: {e}"));
                    let EcrRegistry::Private(h) = parsed else {
                        panic!("{host} parsed as public")
                    };
                    assert_eq!(h.account(), *account, "{host}");
                    assert_eq!(h.region(), *region, "{host}");
                    assert_eq!(h.fips(), *fips == "yes", "{host}");
                    assert_eq!(h.host(), *host);
                    // The same host in the forms docker config keys and URLs use.
                    for form in [
                        format!("https://{host}"),
                        format!("{host}:443"),
                        format!("https://{host}/v2/"),
                    ] {
                        assert_eq!(EcrRegistry::parse(&form).unwrap().host(), *host, "{form}");
                    }
                    valid += 1;
                }
                ["INVALID", host] => {
                    assert!(
                        EcrRegistry::parse(host).is_err(),
                        "{host} should be rejected"
                    );
                    invalid += 1;
                }
                _ => panic!("unexpected fixture line {line:?}"),
            }
        }
        assert_eq!((valid, invalid), (14, 7));
    }

    #[test]
    fn standard_hosts_follow_the_partition() {
        let h = EcrHost::standard("123456789012", "us-east-1").unwrap();
        assert_eq!(h.host(), "123456789012.dkr.ecr.us-east-1.amazonaws.com");
        assert_eq!(
            h.standard_forms(),
            [
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "123456789012.dkr-ecr.us-east-1.on.aws",
                "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
                "123456789012.dkr-ecr-fips.us-east-1.on.aws",
            ]
        );
        let cn = EcrHost::standard("210987654321", "cn-north-1").unwrap();
        assert_eq!(
            cn.host(),
            "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(cn.standard_forms().len(), 2);
        let eu = EcrHost::standard("123456789012", "eu-west-1").unwrap();
        assert_eq!(eu.standard_forms().len(), 2, "no FIPS outside the US");
        for (region, host) in [
            ("us-iso-east-1", "c2s.ic.gov"),
            ("us-isob-east-1", "sc2s.sgov.gov"),
            ("us-isof-east-1", "csp.hci.ic.gov"),
            ("eu-isoe-west-1", "cloud.adc-e.uk"),
            ("eusc-de-east-1", "amazonaws.eu"),
        ] {
            let h = EcrHost::standard("123456789012", region).unwrap();
            assert!(h.host().ends_with(host), "{region}");
            assert_eq!(h.standard_forms(), [h.host()]);
        }
        // Every standard form is itself a valid host for the same account and region.
        for form in h.standard_forms() {
            let EcrRegistry::Private(p) = EcrRegistry::parse(&form).unwrap() else {
                panic!()
            };
            assert_eq!((p.account(), p.region()), ("123456789012", "us-east-1"));
        }
        // A dual-stack host given by the user keeps its own form first.
        let EcrRegistry::Private(ds) =
            EcrRegistry::parse("123456789012.dkr-ecr.us-west-2.on.aws").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            ds.standard_forms()[0],
            "123456789012.dkr-ecr.us-west-2.on.aws"
        );
        assert!(EcrHost::standard("1234", "us-east-1").is_err());
    }

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "cn-north-1",
            "us-gov-west-1",
            "us-iso-east-1",
            "eusc-de-east-1",
        ] {
            assert!(is_region_name(ok), "{ok}");
        }
        for bad in [
            "moon",
            "us1",
            "US-EAST-1",
            "us-east-",
            "-east-1",
            "us east 1",
            "",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
        assert!(
            parse_region("moon")
                .unwrap_err()
                .contains("not a region name")
        );
    }

    #[test]
    fn partitions_claim_the_regions_the_sdk_table_names() {
        for (region, want) in [
            ("us-east-1", "aws"),
            ("ap-southeast-7", "aws"),
            ("mx-central-1", "aws"),
            ("il-central-1", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert_eq!(partition(region), Some(want), "{region}");
            // Every region a partition claims has the shape of a region name, and a host there.
            assert!(is_region_name(region), "{region}");
            assert!(
                EcrHost::standard("123456789012", region).is_ok(),
                "{region}"
            );
        }
        for unknown in [
            "mars-1",
            "moon-base-1",
            "xx-east-1",
            "us-east",
            "us-east-1a",
            "us--1",
            "eusc-fr-east-1",
            "us-gov-west-1-x",
            "aws-global",
            "",
        ] {
            assert_eq!(partition(unknown), None, "{unknown}");
        }
        assert_eq!(PARTITIONS.len(), 8, "one row per partition the SDK knows");
    }

    #[test]
    fn public_hosts() {
        for host in fixture("ecr-public-hosts.txt")
            .lines()
            .filter(|l| !l.is_empty())
        {
            assert_eq!(
                EcrRegistry::parse(host).unwrap(),
                EcrRegistry::Public {
                    host: host.to_string()
                }
            );
        }
        assert!(EcrRegistry::parse("https://public.ecr.aws/").is_ok());
    }

    #[test]
    fn dual_stack_and_case() {
        let EcrRegistry::Private(h) = EcrRegistry::parse(
            "HTTPS://123456789012.DKR-ECR.US-WEST-2.ON.AWS"
                .to_ascii_lowercase()
                .as_str(),
        )
        .unwrap() else {
            panic!()
        };
        assert!(h.dual_stack());
        let EcrRegistry::Private(h) =
            EcrRegistry::parse("123456789012.DKR.ECR.us-east-1.AMAZONAWS.COM").unwrap()
        else {
            panic!()
        };
        assert_eq!(h.host(), "123456789012.dkr.ecr.us-east-1.amazonaws.com");
        assert!(!h.dual_stack());
    }

    #[test]
    fn reasons_name_what_is_wrong() {
        let cases = [
            (
                "12345.dkr.ecr.us-east-1.amazonaws.com",
                "not a 12-digit account ID",
            ),
            (
                "123456789012.ecr.us-east-1.amazonaws.com",
                "not followed by `dkr.ecr`",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com.fake.example.com",
                "not an ECR domain",
            ),
            ("123456789012.dkr.ecr", "no region"),
            ("123456789012.dkr.ecr._x.amazonaws.com", "not a region name"),
            ("localhost", "no dots"),
        ];
        for (input, want) in cases {
            let err = EcrRegistry::parse(input).unwrap_err();
            assert!(err.to_string().contains(want), "{input}: {err}");
            assert_eq!(err.exit_code(), Code::Usage);
        }
        assert!(!is_ecr("docker.io"));
        assert!(is_ecr("123456789012.dkr.ecr.us-east-1.amazonaws.com"));
    }
}
