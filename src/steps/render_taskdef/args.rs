//! The flags of `render-taskdef` and its subcommands (clap derive; their doc comments are `--help`),
//! the value parsers that split `[CONTAINER:]NAME=VALUE` and the other flag forms, and the small
//! value types those parsers return.

#![expect(
    clippy::doc_markdown,
    clippy::doc_link_with_quotes,
    reason = "doc comments on the flag structs are --help text, where backticks would print as written"
)]

use crate::output::OutputArgs;
use crate::reference::ImageRef;
use crate::taskdef::appspec;
use crate::taskdef::edit::Field;
use std::path::PathBuf;

/// Render ECS task definitions and CodeDeploy AppSpecs, validated offline.
///
///   render-taskdef taskdef.json --image web=@imageDetail.json -o out/taskdef.json
///   render-taskdef taskdef.yaml --image web=$URI --env web:LOG_LEVEL=debug -o taskdef.json
///   render-taskdef taskdef.json --codedeploy --image web=@imageDetail.json \
///       --image-detail-dir out -o out/taskdef.json
///   render-taskdef check taskdef.json --appspec appspec.yaml
///   render-taskdef appspec appspec.yaml --taskdef taskdef.json -o out/appspec.yaml
///   render-taskdef new-appspec --container web --port 8080 -o appspec.yaml
///
/// Input: JSON or YAML, or `describe-task-definition` output (unwrapped; read-only keys dropped).
/// `${VAR}` and `${VAR:-default}` in values come from the environment; a missing variable is an
/// error (all of them listed at once); `$${` writes a literal `${`.
///
/// Per-container flags take `CONTAINER:` first (`--env web:KEY=VALUE`); a task with one container may
/// leave it out. Values split on the first `=`, so `KEY=a=b` sets `a=b`. Merge is the default (a name
/// that exists gets the new value in place; everything else is kept, empty values too); `--replace
/// FIELD` makes that field exactly the values given. Fields no flag names are never changed; fields
/// unknown to ECS are kept and warned about (an error under --strict).
///
/// Exit codes: 0 written (or up to date) · 1 findings (errors, or warnings under --strict), or
/// --check found a file that would change · 2 bad flag or input (malformed file with line:column,
/// missing variable, unknown container).
#[derive(Debug, clap::Parser)]
#[command(
    name = "render-taskdef",
    version,
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct RenderTaskdef {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    #[command(flatten)]
    pub(crate) render: RenderArgs,

    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Validate a task definition (and optionally its AppSpec); write nothing. Exit 1 on findings.
    Check(CheckArgs),
    /// Validate an AppSpec (against its task definition) and fill in `<TASK_DEFINITION>` if asked;
    /// YAML in, YAML out (comments kept); JSON in, JSON out.
    Appspec(AppspecArgs),
    /// Write a CodeDeploy AppSpec for ECS blue/green from flags.
    NewAppspec(NewAppspecArgs),
}

/// Flags of the default (render) command.
#[derive(Debug, clap::Args)]
pub(crate) struct RenderArgs {
    /// The task definition template: JSON or YAML, or `-` for stdin.
    #[arg(value_name = "TASKDEF", required = true)]
    pub(crate) input: Option<PathBuf>,

    /// Where to write the rendered task definition (JSON); `-` for stdout.
    #[arg(
        short = 'o',
        long,
        value_name = "PATH",
        default_value = "-",
        env = "RENDER_TASKDEF_OUTPUT"
    )]
    pub(crate) output: PathBuf,

    /// A container's image: `CONTAINER=URI` or `CONTAINER=@imageDetail.json` (its ImageURI, as
    /// build-push writes it). A single-container task may give just `URI` or `@imageDetail.json`.
    #[arg(long = "image", value_name = "[CONTAINER=]URI|@FILE", value_parser = parse_image)]
    pub(crate) images: Vec<(Option<String>, ImageSource)>,

    /// Set an environment variable: `[CONTAINER:]NAME=VALUE` (repeatable).
    #[arg(long = "env", value_name = "[CONTAINER:]NAME=VALUE", value_parser = parse_pair)]
    pub(crate) env: Vec<Pair>,

    /// Read environment variables from a file of `NAME=VALUE` lines (`#` comments, optional
    /// `export`, optional quotes): `[CONTAINER:]PATH`. Applied before --env.
    #[arg(long = "env-file", value_name = "[CONTAINER:]PATH", value_parser = parse_prefixed)]
    pub(crate) env_files: Vec<(Option<String>, String)>,

    /// Add a secret by ARN: `[CONTAINER:]NAME=ARN` (Secrets Manager or SSM; sets `valueFrom`).
    #[arg(long = "secret", value_name = "[CONTAINER:]NAME=ARN", value_parser = parse_pair)]
    pub(crate) secrets: Vec<Pair>,

    /// Set a Docker label: `[CONTAINER:]KEY=VALUE`.
    #[arg(long = "label", value_name = "[CONTAINER:]KEY=VALUE", value_parser = parse_pair)]
    pub(crate) labels: Vec<Pair>,

    /// Set the log driver: `[CONTAINER:]DRIVER` (e.g. awslogs).
    #[arg(long = "log-driver", value_name = "[CONTAINER:]DRIVER", value_parser = parse_prefixed)]
    pub(crate) log_drivers: Vec<(Option<String>, String)>,

    /// Set a log driver option: `[CONTAINER:]KEY=VALUE` (e.g. web:awslogs-group=/ecs/web).
    #[arg(long = "log-option", value_name = "[CONTAINER:]KEY=VALUE", value_parser = parse_pair)]
    pub(crate) log_options: Vec<Pair>,

    /// Replace the command: `[CONTAINER:]JSON-ARRAY`, e.g. 'web:["npm","start"]'.
    #[arg(long = "command", value_name = "[CONTAINER:]JSON", value_parser = parse_command)]
    pub(crate) commands: Vec<(Option<String>, Vec<String>)>,

    /// Make a field exactly the values given instead of merging into it (repeatable).
    #[arg(long, value_enum, value_name = "FIELD")]
    pub(crate) replace: Vec<Field>,

    /// Render the CodeDeployToECS template: images given with --image become (or stay)
    /// `<IMAGEn_NAME>` placeholders, at most 4, and their URIs go to imageDetail.json files.
    #[arg(long, env = "RENDER_TASKDEF_CODEDEPLOY")]
    pub(crate) codedeploy: bool,

    /// With --codedeploy: write each placeholder's imageDetail.json here — IMAGE1_NAME's as
    /// DIR/imageDetail.json, IMAGEn_NAME's as DIR/imageN/imageDetail.json.
    #[arg(long, value_name = "DIR", requires = "codedeploy")]
    pub(crate) image_detail_dir: Option<PathBuf>,

    /// The platform images of a multi-platform build (the platform-image.json files build-push
    /// --push-by-digest wrote; paths or globs, repeatable, comma-separated): the task's
    /// runtimePlatform must be one that each container image pinned to their index (or to one of
    /// them) has — rule `runtime-platform`.
    #[arg(
        long = "platform-images",
        value_name = "FILE|GLOB",
        env = "RENDER_TASKDEF_PLATFORM_IMAGES",
        value_delimiter = ','
    )]
    pub(crate) platform_images: Vec<String>,

    /// Also write imagedefinitions.json (the ECS rolling-deploy action's input) for the images given.
    #[arg(long, value_name = "PATH")]
    pub(crate) imagedefinitions: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) common: Common,
}

// Flags every writing command takes.
#[derive(Debug, clap::Args)]
pub(crate) struct Common {
    /// Treat warnings (unknown fields, secret-looking environment values) as errors.
    #[arg(long, env = "RENDER_TASKDEF_STRICT")]
    pub(crate) strict: bool,

    /// Write nothing; exit 1 if a file on disk differs from what would be written.
    #[arg(long)]
    pub(crate) check: bool,
}

// Flags of `check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The task definition: JSON or YAML, or `-` for stdin.
    #[arg(value_name = "TASKDEF")]
    pub(crate) input: PathBuf,

    /// The file is the CodeDeployToECS template: `<IMAGEn_NAME>` placeholders are expected.
    #[arg(long)]
    pub(crate) codedeploy: bool,

    /// Also validate this AppSpec against the task definition.
    #[arg(long, value_name = "PATH")]
    pub(crate) appspec: Option<PathBuf>,

    /// Treat warnings as errors.
    #[arg(long, env = "RENDER_TASKDEF_STRICT")]
    pub(crate) strict: bool,

    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

// Flags of `appspec`.
#[derive(Debug, clap::Args)]
pub(crate) struct AppspecArgs {
    /// The AppSpec: YAML or JSON, or `-` for stdin.
    #[arg(value_name = "APPSPEC")]
    pub(crate) input: PathBuf,

    /// The task definition it deploys: ContainerName and ContainerPort are checked against it.
    #[arg(long, value_name = "PATH")]
    pub(crate) taskdef: Option<PathBuf>,

    /// Replace `<TASK_DEFINITION>` with this ARN (for deploys outside the CodeDeployToECS action).
    #[arg(long, value_name = "ARN", value_parser = parse_task_definition_arn)]
    pub(crate) task_definition_arn: Option<String>,

    /// Where to write it; `-` for stdout.
    #[arg(short = 'o', long, value_name = "PATH", default_value = "-")]
    pub(crate) output: PathBuf,

    #[command(flatten)]
    pub(crate) common: Common,

    #[command(flatten)]
    pub(crate) output_args: OutputArgs,
}

// Flags of `new-appspec`.
#[derive(Debug, clap::Args)]
pub(crate) struct NewAppspecArgs {
    /// The container the load balancer sends traffic to.
    #[arg(long, value_name = "NAME")]
    pub(crate) container: String,

    /// Its port.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) port: u16,

    /// Check the container and port against this task definition.
    #[arg(long, value_name = "PATH")]
    pub(crate) taskdef: Option<PathBuf>,

    /// The task definition ARN (default: `<TASK_DEFINITION>`, which the CodeDeployToECS action fills in).
    #[arg(long, value_name = "ARN", value_parser = parse_task_definition_arn)]
    pub(crate) task_definition_arn: Option<String>,

    /// Fargate platform version (`LATEST` or like `1.4.0`).
    #[arg(long, value_name = "VERSION")]
    pub(crate) platform_version: Option<String>,

    /// A subnet for the awsvpc network configuration (repeatable; with --security-group).
    #[arg(long = "subnet", value_name = "ID", requires = "security_groups")]
    pub(crate) subnets: Vec<String>,

    /// A security group (repeatable; with --subnet).
    #[arg(long = "security-group", value_name = "ID", requires = "subnets")]
    pub(crate) security_groups: Vec<String>,

    /// Give tasks a public IP (AssignPublicIp ENABLED; default DISABLED).
    #[arg(long, requires = "subnets")]
    pub(crate) assign_public_ip: bool,

    /// A capacity provider: `NAME[:BASE[:WEIGHT]]` (repeatable), e.g. FARGATE:1:1.
    #[arg(long = "capacity-provider", value_name = "NAME[:BASE[:WEIGHT]]", value_parser = parse_capacity_provider)]
    pub(crate) capacity_providers: Vec<(String, Option<u64>, Option<u64>)>,

    /// A lifecycle hook: `HOOK=FUNCTION` (BeforeInstall, AfterInstall, AfterAllowTestTraffic,
    /// BeforeAllowTraffic, AfterAllowTraffic).
    #[arg(long = "hook", value_name = "HOOK=FUNCTION", value_parser = parse_hook)]
    pub(crate) hooks: Vec<(String, String)>,

    /// Where to write it (`.json` → JSON, else YAML); `-` for stdout (YAML).
    #[arg(short = 'o', long, value_name = "PATH", default_value = "-")]
    pub(crate) output: PathBuf,

    #[command(flatten)]
    pub(crate) common: Common,

    #[command(flatten)]
    pub(crate) output_args: OutputArgs,
}

impl RenderArgs {
    /// The files read (`(flag, path)`): the template, `--image @FILE`s and `--env-file`s.
    pub(crate) fn inputs(&self) -> Vec<(&'static str, PathBuf)> {
        let images = self.images.iter().filter_map(|(_, source)| match source {
            ImageSource::Detail(path) => Some(("--image", path.clone())),
            ImageSource::Uri(_) => None,
        });
        let env_files = self
            .env_files
            .iter()
            .map(|(_, path)| ("--env-file", PathBuf::from(path)));
        self.input
            .iter()
            .map(|p| ("TASKDEF", p.clone()))
            .chain(images)
            .chain(env_files)
            .collect()
    }
}

impl AppspecArgs {
    /// The files read (`(flag, path)`): the AppSpec and `--taskdef`.
    pub(crate) fn inputs(&self) -> Vec<(&'static str, PathBuf)> {
        std::iter::once(("APPSPEC", self.input.clone()))
            .chain(self.taskdef.iter().map(|p| ("--taskdef", p.clone())))
            .collect()
    }
}

impl NewAppspecArgs {
    /// The files read (`(flag, path)`): `--taskdef`.
    pub(crate) fn inputs(&self) -> Vec<(&'static str, PathBuf)> {
        self.taskdef
            .iter()
            .map(|p| ("--taskdef", p.clone()))
            .collect()
    }
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImageSource {
    /// The URI itself.
    Uri(String),
    /// An imageDetail.json holding it.
    Detail(PathBuf),
}

/// `[CONTAINER:]NAME=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pair {
    /// The container, when named.
    pub(crate) container: Option<String>,
    /// Before the first `=`.
    pub(crate) name: String,
    /// After it (may be empty).
    pub(crate) value: String,
}

fn split_container(s: &str) -> (Option<String>, &str) {
    match s.split_once(':') {
        Some((c, rest)) if !c.is_empty() => (Some(c.to_string()), rest),
        _ => (None, s),
    }
}

fn parse_pair(s: &str) -> Result<Pair, String> {
    let Some((left, value)) = s.split_once('=') else {
        return Err("expected [CONTAINER:]NAME=VALUE".into());
    };
    let (container, name) = split_container(left);
    if name.is_empty() {
        return Err("the name before `=` is empty".into());
    }
    Ok(Pair {
        container,
        name: name.to_string(),
        value: value.to_string(),
    })
}

fn parse_prefixed(s: &str) -> Result<(Option<String>, String), String> {
    let (container, rest) = split_container(s);
    if rest.is_empty() {
        return Err("the value after the container is empty".into());
    }
    Ok((container, rest.to_string()))
}

fn parse_command(s: &str) -> Result<(Option<String>, Vec<String>), String> {
    let (container, json) = if s.trim_start().starts_with('[') {
        (None, s)
    } else {
        split_container(s)
    };
    let args: Vec<String> = serde_json::from_str(json).map_err(|e| {
        format!("expected a JSON array of strings like '[\"npm\",\"start\"]' ({e})")
    })?;
    Ok((container, args))
}

fn parse_image(s: &str) -> Result<(Option<String>, ImageSource), String> {
    let (container, source) = match s.split_once('=') {
        Some((c, rest)) if !c.is_empty() => (Some(c.to_string()), rest),
        _ => (None, s),
    };
    if let Some(path) = source.strip_prefix('@') {
        if path.is_empty() {
            return Err("`@` needs a file: @imageDetail.json".into());
        }
        return Ok((container, ImageSource::Detail(PathBuf::from(path))));
    }
    ImageRef::parse(source).map_err(|e| e.reason().to_string())?;
    Ok((container, ImageSource::Uri(source.to_string())))
}

fn parse_task_definition_arn(s: &str) -> Result<String, String> {
    if appspec::is_task_definition_arn(s) {
        Ok(s.to_string())
    } else {
        Err("expected arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION".into())
    }
}

fn parse_capacity_provider(s: &str) -> Result<(String, Option<u64>, Option<u64>), String> {
    let mut parts = s.split(':');
    let name = parts.next().unwrap_or_default().to_string();
    if name.is_empty() {
        return Err("expected NAME[:BASE[:WEIGHT]]".into());
    }
    let mut number = |what: &str| -> Result<Option<u64>, String> {
        parts
            .next()
            .map(|p| {
                p.parse::<u64>()
                    .map_err(|_| format!("{what} `{p}` is not a whole number"))
            })
            .transpose()
    };
    let base = number("base")?;
    let weight = number("weight")?;
    Ok((name, base, weight))
}

fn parse_hook(s: &str) -> Result<(String, String), String> {
    let (hook, function) = s.split_once('=').ok_or("expected HOOK=FUNCTION")?;
    if !appspec::HOOKS.contains(&hook) {
        return Err(format!(
            "`{hook}` is not an ECS hook; use one of {}",
            appspec::HOOKS.join(", ")
        ));
    }
    if function.trim().is_empty() {
        return Err("the function name is empty".into());
    }
    Ok((hook.to_string(), function.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_split_where_the_docs_say() {
        assert_eq!(
            parse_pair("web:URL=http://x?a=b").unwrap(),
            Pair {
                container: Some("web".into()),
                name: "URL".into(),
                value: "http://x?a=b".into()
            }
        );
        assert_eq!(
            parse_pair("KEY=").unwrap(),
            Pair {
                container: None,
                name: "KEY".into(),
                value: String::new()
            }
        );
        assert!(parse_pair("KEY").is_err());
        assert!(parse_pair("web:=v").is_err());
        assert_eq!(
            parse_command("[\"a b\",\"c\"]").unwrap(),
            (None, vec!["a b".into(), "c".into()])
        );
        assert_eq!(
            parse_command("web:[\"x\"]").unwrap(),
            (Some("web".into()), vec!["x".into()])
        );
        assert!(parse_command("web:npm start").is_err());
        assert_eq!(
            parse_image("web=@out/imageDetail.json").unwrap(),
            (
                Some("web".into()),
                ImageSource::Detail("out/imageDetail.json".into())
            )
        );
        assert_eq!(
            parse_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1").unwrap(),
            (
                None,
                ImageSource::Uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1".into())
            )
        );
        assert!(parse_image("web=Not An Image").is_err());
        assert_eq!(
            parse_capacity_provider("FARGATE:1:2").unwrap(),
            ("FARGATE".into(), Some(1), Some(2))
        );
        assert_eq!(
            parse_capacity_provider("FARGATE_SPOT").unwrap(),
            ("FARGATE_SPOT".into(), None, None)
        );
        assert!(parse_hook("BeforeStart=x").is_err());
    }

    #[test]
    fn clap_configuration_is_consistent() {
        use clap::CommandFactory;
        RenderTaskdef::command().debug_assert();
    }
}
