//! `env.parameter-store` and `env.secrets-manager` variables: their values from `--env`, else read
//! through the AWS SDK (`GetParameter` with decryption; `GetSecretValue` with json-key,
//! version-stage, version-id), and the values the log masks.

use super::error::{FetchError, RunError};
use crate::adapters::aws::{Aws, AwsError};
use crate::buildspec::Buildspec;
use crate::error::Error;
use std::collections::BTreeMap;

/// The secret variables' values and what to mask in the log.
#[derive(Debug, Default)]
pub(super) struct Resolved {
    /// Variable → value, parameter-store ones first, each in file order.
    pub(super) values: Vec<(String, String)>,
    /// The values of three characters or more (shorter ones would mask too much), longest first,
    /// so a secret that contains another is masked whole.
    pub(super) masks: Vec<String>,
}

/// Where a secret variable's value lives.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    /// An SSM parameter name or ARN.
    Parameter(&'a str),
    /// `secret-id[:json-key[:version-stage[:version-id]]]` (the secret ID may be an ARN).
    Secret(&'a str),
}

/// The values of `spec`'s secret variables: from `given` (`--env`), else through the AWS SDK in
/// `region` (loaded only when one is missing).
pub(super) async fn resolve(
    spec: &Buildspec,
    given: &[(String, String)],
    region: Option<&str>,
) -> Result<Resolved, Error> {
    let given: BTreeMap<&str, &str> = given
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let wanted = wanted(spec);
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(k, _)| !given.contains_key(k))
        .map(|(k, _)| (*k).to_string())
        .collect();
    let aws = if missing.is_empty() {
        None
    } else {
        Some(connect(region, missing).await?)
    };
    let mut values = Vec::new();
    for (name, source) in wanted {
        let value = match (given.get(name), &aws) {
            (Some(v), _) => (*v).to_string(),
            (None, Some(aws)) => source.fetch(aws).await.map_err(|reason| RunError::Fetch {
                name: name.to_string(),
                source_ref: source.describe(),
                reason,
            })?,
            (None, None) => unreachable!("credentials were loaded for every missing value"),
        };
        values.push((name.to_string(), value));
    }
    let masks = crate::secret::Masks::new(values.iter().map(|(_, v)| v.clone()))
        .values()
        .to_vec();
    Ok(Resolved { values, masks })
}

/// `text` with every value of `masks` ([`Resolved::masks`], longest first) replaced by `***`, as
/// CodeBuild's log shows it. Called for every line the build prints.
pub(super) fn mask(masks: &[String], text: &str) -> String {
    crate::secret::mask_all(masks, text)
}

/// Every secret variable and where its value lives: parameter-store first, then secrets-manager.
fn wanted(spec: &Buildspec) -> Vec<(&str, Source<'_>)> {
    spec.parameter_store
        .iter()
        .map(|(k, v)| (k.as_str(), Source::Parameter(v.as_str())))
        .chain(
            spec.secrets_manager
                .iter()
                .map(|(k, v)| (k.as_str(), Source::Secret(v.as_str()))),
        )
        .collect()
}

/// AWS for reading the `missing` values; no credentials (or no region) is [`RunError::Unresolved`].
async fn connect(region: Option<&str>, missing: Vec<String>) -> Result<Aws, Error> {
    Aws::load(region, None).await.map_err(|e| match e {
        AwsError::NoCredentials { .. } | AwsError::NoRegion => {
            Error::from(RunError::Unresolved { names: missing })
        }
        other => Error::from(other),
    })
}

/// `secret-id:json-key:version-stage:version-id`, the secret ID possibly an ARN (7 `:`-parts).
fn split_secret_ref(reference: &str) -> (String, Option<&str>, Option<&str>, Option<&str>) {
    let parts: Vec<&str> = reference.split(':').collect();
    let id_parts = if reference.starts_with("arn:") {
        7.min(parts.len())
    } else {
        1
    };
    let rest = &parts[id_parts..];
    let field = |i: usize| rest.get(i).copied().filter(|s| !s.is_empty());
    (parts[..id_parts].join(":"), field(0), field(1), field(2))
}

impl Source<'_> {
    /// `SSM parameter …` or `Secrets Manager secret …`, for errors.
    fn describe(&self) -> String {
        match self {
            Source::Parameter(p) => format!("SSM parameter {p}"),
            Source::Secret(s) => format!("Secrets Manager secret {s}"),
        }
    }

    /// The value: the parameter (decrypted), or the secret's string or its JSON key's value.
    async fn fetch(&self, aws: &Aws) -> Result<String, FetchError> {
        match self {
            Source::Parameter(name) => Ok(aws.parameter(name).await?),
            Source::Secret(reference) => {
                let (id, key, stage, version) = split_secret_ref(reference);
                let text = aws.secret(&id, stage, version).await?;
                let Some(key) = key else { return Ok(text) };
                let doc: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
                    FetchError::Key(format!("the secret is not JSON, so it has no key `{key}`"))
                })?;
                match doc.get(key) {
                    Some(serde_json::Value::String(s)) => Ok(s.clone()),
                    Some(other) => Ok(other.to_string()),
                    None => Err(FetchError::Key(format!(
                        "the secret's JSON has no key `{key}`"
                    ))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_references() {
        assert_eq!(
            split_secret_ref("prod/db"),
            ("prod/db".into(), None, None, None)
        );
        assert_eq!(
            split_secret_ref("prod/db:password"),
            ("prod/db".into(), Some("password"), None, None)
        );
        assert_eq!(
            split_secret_ref(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf:password::v1"
            ),
            (
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf".into(),
                Some("password"),
                None,
                Some("v1")
            )
        );
    }
}
