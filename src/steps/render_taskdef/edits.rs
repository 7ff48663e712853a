//! The render flags as task definition edits, in a fixed order, with the files some of them name
//! read: `--env-file` (`NAME=VALUE` lines) and `--image CONTAINER=@imageDetail.json`.

use super::args::{ImageSource, Pair, RenderArgs};
use super::error::RenderError;
use crate::cli::Context;
use crate::taskdef::edit::{Change, Edit, Field};
use std::path::Path;

/// The flags as edits, in a fixed order: env files, --env, --secret, --label, --log-driver,
/// --log-option, --command, --image.
pub(crate) fn from_flags(args: &RenderArgs, ctx: &Context) -> Result<Vec<Edit>, RenderError> {
    let mut edits = Vec::new();
    for (container, path) in &args.env_files {
        for (name, value) in read_env_file(ctx, Path::new(path))? {
            let change = Change::Pair(Field::Environment, name, value);
            edits.push(edit(container.as_deref(), change));
        }
    }
    for (field, pairs) in [
        (Field::Environment, &args.env),
        (Field::Secrets, &args.secrets),
        (Field::Labels, &args.labels),
    ] {
        edits.extend(pairs.iter().map(|p| pair(field, p)));
    }
    for (container, driver) in &args.log_drivers {
        edits.push(edit(
            container.as_deref(),
            Change::LogDriver(driver.clone()),
        ));
    }
    edits.extend(args.log_options.iter().map(|p| pair(Field::LogOptions, p)));
    for (container, command) in &args.commands {
        edits.push(edit(container.as_deref(), Change::Command(command.clone())));
    }
    for (container, source) in &args.images {
        let uri = image_uri(ctx, source)?;
        edits.push(edit(container.as_deref(), Change::Image(uri)));
    }
    Ok(edits)
}

/// One change for the container named (or the only one).
fn edit(container: Option<&str>, change: Change) -> Edit {
    Edit {
        container: container.map(str::to_string),
        change,
    }
}

/// A `[CONTAINER:]NAME=VALUE` flag's change to `field`.
fn pair(field: Field, p: &Pair) -> Edit {
    edit(
        p.container.as_deref(),
        Change::Pair(field, p.name.clone(), p.value.clone()),
    )
}

/// `NAME=VALUE` lines; `#` comments and blank lines skipped; `export ` and matching quotes stripped.
fn read_env_file(ctx: &Context, path: &Path) -> Result<Vec<(String, String)>, RenderError> {
    let text = crate::input::read_to_string(&ctx.env.resolve(path), crate::input::DOCUMENT_LIMIT)
        .map_err(|source| RenderError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let err = |reason: &str| RenderError::EnvFile {
            path: path.to_path_buf(),
            line: i + 1,
            reason: reason.into(),
        };
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| err("expected NAME=VALUE"))?;
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(err("the name is empty or has spaces"));
        }
        let value = value.trim();
        let value = [('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|(a, b)| value.strip_prefix(*a).and_then(|v| v.strip_suffix(*b)))
            .unwrap_or(value);
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

/// The URI an `--image` names: given, or the ImageURI of an imageDetail.json (build-push's or the ECR
/// source action's).
fn image_uri(ctx: &Context, source: &ImageSource) -> Result<String, RenderError> {
    match source {
        ImageSource::Uri(uri) => Ok(uri.clone()),
        ImageSource::Detail(path) => crate::image_detail::read(&ctx.env.resolve(path))
            .map(|(uri, _)| uri)
            .map_err(|reason| RenderError::ImageDetail {
                path: path.clone(),
                reason,
            }),
    }
}
