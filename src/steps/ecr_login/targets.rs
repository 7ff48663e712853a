//! What the user asked to log in to, and how that groups into API calls.
//!
//! A target is an image reference or registry host (any ECR form, with or without scheme), `ACCOUNT`
//! (the account's registry in the default region), `ACCOUNT@REGION`, or `public.ecr.aws`. No target
//! means the caller's own registry in the default region, whose host the token answer names.

use crate::ecr_host::{EcrHost, EcrRegistry};
use crate::error::Diagnostic;
use crate::exit::Code;
use crate::reference::ImageRef;
use std::collections::{BTreeMap, BTreeSet};

/// One parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A registry host, as the user wrote it (private or public).
    Host(EcrRegistry),
    /// `ACCOUNT` or `ACCOUNT@REGION`.
    Account {
        /// 12 digits.
        account: String,
        /// The region, when given.
        region: Option<String>,
    },
}

/// A target that is not one.
#[derive(Debug, thiserror::Error)]
#[error("use `{input}` as a login target: {reason}")]
pub struct TargetError {
    input: String,
    reason: String,
}

impl Diagnostic for TargetError {
    fn exit_code(&self) -> Code {
        Code::Usage
    }

    fn help(&self) -> Option<String> {
        Some(
            "a target is an ECR registry host or image (123456789012.dkr.ecr.us-east-1.amazonaws.com[/repo:tag]), \
             ACCOUNT, ACCOUNT@REGION, or public.ecr.aws"
                .into(),
        )
    }
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses one target.
pub fn parse(input: &str) -> Result<Target, TargetError> {
    let s = input.trim();
    let err = |reason: String| TargetError {
        input: input.to_string(),
        reason,
    };
    if s.is_empty() {
        return Err(err(
            "it is empty (an empty -r, a stray comma, or ECR_LOGIN_REGISTRIES set to nothing); \
             for your own registry give no target at all"
                .into(),
        ));
    }
    if is_account(s) {
        return Ok(Target::Account {
            account: s.to_string(),
            region: None,
        });
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(format!("`{s}` is not a 12-digit account ID")));
    }
    if let Some((account, region)) = s.split_once('@')
        && is_account(account)
    {
        if !crate::ecr_host::is_region_name(region) {
            return Err(err(format!(
                "`{region}` is not a region name like us-east-1"
            )));
        }
        return Ok(Target::Account {
            account: account.to_string(),
            region: Some(region.to_string()),
        });
    }
    let host_err = match EcrRegistry::parse(s) {
        Ok(r) => return Ok(Target::Host(r)),
        Err(e) => e,
    };
    // An image reference: its registry must be ECR.
    if s.contains('/')
        && !s.contains("://")
        && let Ok(image) = ImageRef::parse(s)
    {
        return EcrRegistry::parse(image.registry())
            .map(Target::Host)
            .map_err(|e| err(format!("the image's registry is not ECR ({e})")));
    }
    if !s.contains('.') && !s.contains('/') {
        return Err(err(format!(
            "`{s}` is neither an ECR registry host, an image in one, ACCOUNT nor ACCOUNT@REGION"
        )));
    }
    Err(err(host_err.to_string()))
}

/// The API calls a set of targets needs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Per region: the hosts to write; `default` when the caller's own registry (named by the token
    /// answer) is wanted too.
    pub regions: BTreeMap<String, RegionPlan>,
    /// The ECR Public hosts to write (one token from the ecr-public API).
    pub public: BTreeSet<String>,
    /// Every named host once, in the order the targets named them (results keep this order).
    pub order: Vec<String>,
}

impl Plan {
    /// Where `host` stands in the user's order (hosts found later, like the caller's own, go first).
    pub fn rank(&self, host: &str) -> usize {
        self.order
            .iter()
            .position(|h| h == host)
            .map_or(0, |i| i + 1)
    }

    /// Every host in the plan: each region's, in region order, then ECR Public's.
    pub fn hosts(&self) -> Vec<String> {
        self.regions
            .values()
            .flat_map(|r| r.hosts.iter().cloned())
            .chain(self.public.iter().cloned())
            .collect()
    }

    /// What each password comes from: one entry per region, and `public.ecr.aws` for ECR Public.
    /// Each has its own password.
    pub fn password_sources(&self) -> Vec<String> {
        let mut sources: Vec<String> = self.regions.keys().cloned().collect();
        if !self.public.is_empty() {
            sources.push("public.ecr.aws".into());
        }
        sources
    }

    /// Every region the plan calls.
    pub fn region_names(&self) -> impl Iterator<Item = &str> {
        self.regions.keys().map(String::as_str)
    }

    fn note(&mut self, host: &str) {
        if !self.order.iter().any(|h| h == host) {
            self.order.push(host.to_string());
        }
    }
}

/// One region's hosts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RegionPlan {
    /// Hosts named by the user (and their other forms with `--all-host-forms`).
    pub hosts: BTreeSet<String>,
    /// Whether the caller's own registry is wanted (no target given).
    pub default: bool,
}

/// The regions the targets name themselves (hosts and `ACCOUNT@REGION`).
pub fn named_regions(targets: &[Target]) -> impl Iterator<Item = &str> {
    targets.iter().filter_map(|t| match t {
        Target::Host(EcrRegistry::Private(h)) => Some(h.region()),
        Target::Account {
            region: Some(r), ..
        } => Some(r.as_str()),
        _ => None,
    })
}

/// Groups targets by region. `default_region` is needed for bare `ACCOUNT` targets and for no target.
pub fn plan(
    targets: &[Target],
    default_region: Option<&str>,
    all_forms: bool,
) -> Result<Plan, TargetError> {
    let mut plan = Plan::default();
    let need_region = |what: &str| TargetError {
        input: what.to_string(),
        reason: "no region: pass --region or set AWS_REGION, or write ACCOUNT@REGION".into(),
    };
    if targets.is_empty() {
        let region = default_region.ok_or_else(|| need_region("(your own registry)"))?;
        plan.regions.entry(region.to_string()).or_default().default = true;
        return Ok(plan);
    }
    for target in targets {
        let host = match target {
            Target::Host(EcrRegistry::Public { host }) => {
                plan.public.insert(host.clone());
                plan.note(host);
                continue;
            }
            Target::Host(EcrRegistry::Private(h)) => h.clone(),
            Target::Account { account, region } => {
                let region = region
                    .as_deref()
                    .or(default_region)
                    .ok_or_else(|| need_region(account))?;
                EcrHost::standard(account, region).map_err(|e| TargetError {
                    input: account.clone(),
                    reason: e.to_string(),
                })?
            }
        };
        let forms = if all_forms {
            host.standard_forms()
        } else {
            vec![host.host().to_string()]
        };
        for form in &forms {
            plan.note(form);
        }
        plan.regions
            .entry(host.region().to_string())
            .or_default()
            .hosts
            .extend(forms);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

    fn hosts(plan: &Plan, region: &str) -> Vec<String> {
        plan.regions[region].hosts.iter().cloned().collect()
    }

    #[test]
    fn every_target_form_parses() {
        let account = Target::Account {
            account: "123456789012".into(),
            region: None,
        };
        assert_eq!(parse("123456789012").unwrap(), account);
        assert_eq!(
            parse("123456789012@eu-west-1").unwrap(),
            Target::Account {
                account: "123456789012".into(),
                region: Some("eu-west-1".into())
            }
        );
        for input in [
            HOST,
            &format!("https://{HOST}"),
            &format!("{HOST}/team/app:1.2"),
            &format!("{HOST}/app@sha256:{}", "a".repeat(64)),
        ] {
            let Target::Host(EcrRegistry::Private(h)) = parse(input).unwrap() else {
                panic!("{input}")
            };
            assert_eq!(h.host(), HOST, "{input}");
        }
        assert_eq!(
            parse("public.ecr.aws/nginx/nginx:latest").unwrap(),
            Target::Host(EcrRegistry::Public {
                host: "public.ecr.aws".into()
            })
        );
    }

    #[test]
    fn bad_targets_say_why() {
        let cases = [
            ("docker.io/library/nginx", "registry is not ECR"),
            ("ghcr.io/o/app:1", "registry is not ECR"),
            ("123456789012@moon", "not a region name"),
            ("12345", "not a 12-digit account ID"),
            ("", "it is empty"),
            ("  ", "it is empty"),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
                "not an ECR domain",
            ),
        ];
        for (input, want) in cases {
            let err = parse(input).unwrap_err();
            assert!(err.to_string().contains(want), "{input}: {err}");
            assert_eq!(err.exit_code(), Code::Usage);
        }
    }

    #[test]
    fn targets_group_by_region_one_call_each() {
        let targets: Vec<Target> = [
            HOST,
            "123456789012",
            "210987654321@us-east-1",
            "123456789012@us-west-2",
            "123456789012.dkr-ecr.us-west-2.on.aws",
            "public.ecr.aws",
        ]
        .iter()
        .map(|t| parse(t).unwrap())
        .collect();
        let plan = plan(&targets, Some("us-east-1"), false).unwrap();
        assert_eq!(plan.regions.len(), 2);
        assert_eq!(
            hosts(&plan, "us-east-1"),
            [HOST, "210987654321.dkr.ecr.us-east-1.amazonaws.com"]
        );
        assert_eq!(
            hosts(&plan, "us-west-2"),
            [
                "123456789012.dkr-ecr.us-west-2.on.aws",
                "123456789012.dkr.ecr.us-west-2.amazonaws.com"
            ]
        );
        assert!(!plan.regions["us-east-1"].default);
        assert_eq!(plan.public.iter().collect::<Vec<_>>(), ["public.ecr.aws"]);
        assert_eq!(plan.order[0], HOST);
        assert_eq!(plan.order.len(), 5, "the same host twice counts once");
        assert_eq!(plan.rank("public.ecr.aws"), 5);
        assert_eq!(plan.rank("unknown"), 0);
        assert_eq!(
            plan.password_sources(),
            ["us-east-1", "us-west-2", "public.ecr.aws"],
            "one password per region, one for ECR Public"
        );
        assert_eq!(
            named_regions(&targets).collect::<Vec<_>>(),
            ["us-east-1", "us-east-1", "us-west-2", "us-west-2"],
            "a bare account names none"
        );
    }

    #[test]
    fn no_target_means_the_callers_registry_and_needs_a_region() {
        let p = plan(&[], Some("eu-central-1"), false).unwrap();
        assert!(p.regions["eu-central-1"].default);
        assert!(p.regions["eu-central-1"].hosts.is_empty());
        assert!(
            plan(&[], None, false)
                .unwrap_err()
                .to_string()
                .contains("no region")
        );
        let bare = [parse("123456789012").unwrap()];
        assert!(plan(&bare, None, false).is_err());
    }

    #[test]
    fn all_forms_adds_the_standard_forms() {
        let p = plan(&[parse(HOST).unwrap()], None, true).unwrap();
        assert_eq!(hosts(&p, "us-east-1").len(), 4);
        assert!(
            hosts(&p, "us-east-1").contains(&"123456789012.dkr-ecr.us-east-1.on.aws".to_string())
        );
    }
}
