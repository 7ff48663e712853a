//! The default command: a task definition template rendered — read, substituted, edited as the flags
//! say, validated — and written with its deploy artifacts (an imageDetail.json per CodeDeploy
//! placeholder, imagedefinitions.json for the rolling deploy).

use super::args::RenderArgs;
use super::edits;
use super::error::RenderError;
use super::files::{Artifact, Plan};
use super::input::{self, TaskDefinition};
use super::report::{CommandName, ContainerImage, RenderReport, conclude, display};
use crate::cli::Context;
use crate::document;
use crate::error::Error;
use crate::exit::Code;
use crate::platform_image::PlatformImage;
use crate::taskdef::edit::{self, ImageMode, Placeholder};
use crate::taskdef::{self, validate};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Renders the task definition; writes nothing when it has errors.
pub(crate) fn run(args: &RenderArgs, ctx: &Context) -> Result<Code, Error> {
    let input = args.input.clone().unwrap_or_else(|| PathBuf::from("-"));
    let mut td = input::read_task_definition(ctx, &input)?;
    let applied = apply_flags(args, ctx, &mut td.value)?;
    let descriptors = platform_images(args, ctx)?;
    let mut report = judge(args, &td, &applied, &descriptors);
    if report.errors > 0 {
        return conclude(ctx, &report);
    }
    if args.codedeploy && args.image_detail_dir.is_some() {
        warn_unfilled(ctx, &applied.placeholders);
    }
    let mut plan =
        Plan::new(&args.output, document::to_json(&td.value).into_bytes()).reading(args.inputs());
    plan.extend(artifact_files(args, &applied)?);
    plan.finish(ctx, args.common.check, &mut report)?;
    conclude(ctx, &report)
}

/// Makes the edits the flags ask for; under --codedeploy images become `<IMAGEn_NAME>` placeholders.
fn apply_flags(
    args: &RenderArgs,
    ctx: &Context,
    td: &mut Value,
) -> Result<edit::Applied, RenderError> {
    let edits = edits::from_flags(args, ctx)?;
    let mode = if args.codedeploy {
        ImageMode::CodeDeploy
    } else {
        ImageMode::Concrete
    };
    Ok(edit::apply(td, &edits, &args.replace, mode)?)
}

/// The report before anything is written: what was read and rendered, and the findings.
fn judge(
    args: &RenderArgs,
    td: &TaskDefinition,
    applied: &edit::Applied,
    descriptors: &[PlatformImage],
) -> RenderReport {
    let mut report = RenderReport {
        output: Some(display(&args.output)),
        variables: td.expanded.used.clone(),
        normalized: td.normalized.clone(),
        check: args.common.check,
        containers: containers(&td.value),
        placeholders: applied.placeholders.clone(),
        ..RenderReport::new(CommandName::Render, &td.path)
    };
    let mut findings = validate::task_definition(
        &td.value,
        &validate::Options {
            codedeploy: args.codedeploy,
            literal: td.expanded.literal.clone(),
        },
    );
    findings.extend(taskdef::platforms::check(
        &td.value,
        &rendered_images(&td.value, applied),
        descriptors,
    ));
    report.tally(findings, args.common.strict);
    report
}

/// `--platform-images`: the descriptors, each read and checked.
fn platform_images(args: &RenderArgs, ctx: &Context) -> Result<Vec<PlatformImage>, RenderError> {
    let files = crate::platform_image::files(&args.platform_images, ctx.env.cwd()).map_err(
        |(pattern, reason)| RenderError::PlatformImages {
            path: pattern.into(),
            reason: reason.unwrap_or("no file matches").into(),
        },
    )?;
    files
        .into_iter()
        .map(|path| {
            PlatformImage::read(&path)
                .map_err(|reason| RenderError::PlatformImages { path, reason })
        })
        .collect()
}

/// Each container's image as it will run: the URI given for it (which a CodeDeploy placeholder
/// stands for), else its `image`.
fn rendered_images(td: &Value, applied: &edit::Applied) -> Vec<(String, String)> {
    taskdef::containers(td)
        .iter()
        .filter_map(|c| {
            let name = c.get("name")?.as_str()?.to_string();
            let uri = applied
                .images
                .iter()
                .rev()
                .find(|(n, _)| *n == name)
                .map(|(_, uri)| uri.clone())
                .or_else(|| c.get("image")?.as_str().map(str::to_string))?;
            Some((name, uri))
        })
        .collect()
}

/// Each container's name and `image` as rendered.
fn containers(td: &Value) -> Vec<ContainerImage> {
    taskdef::containers(td)
        .iter()
        .filter_map(|c| {
            Some(ContainerImage {
                name: c.get("name")?.as_str()?.to_string(),
                image: c.get("image")?.as_str()?.to_string(),
            })
        })
        .collect()
}

/// A placeholder no --image filled gets no imageDetail.json; the pipeline has to bring one.
fn warn_unfilled(ctx: &Context, placeholders: &[Placeholder]) {
    for p in placeholders.iter().filter(|p| p.image_uri.is_none()) {
        ctx.out.warn(&format!(
            "<{}> (container {}) has no --image here, so no imageDetail.json is written for it; the pipeline must supply that artifact",
            p.placeholder, p.container
        ));
    }
}

/// imageDetail.json per placeholder (with --image-detail-dir) and imagedefinitions.json (if asked),
/// each with its flag.
fn artifact_files(
    args: &RenderArgs,
    applied: &edit::Applied,
) -> Result<Vec<Artifact>, RenderError> {
    let mut files = Vec::new();
    if let Some(dir) = &args.image_detail_dir {
        let details = image_details(dir, &applied.placeholders);
        files.extend(
            details
                .into_iter()
                .map(|(p, b)| ("--image-detail-dir", p, b)),
        );
    }
    if let Some(path) = &args.imagedefinitions {
        let bytes = imagedefinitions(&applied.images)?;
        files.push(("--imagedefinitions", path.clone(), bytes));
    }
    Ok(files)
}

/// `IMAGE1_NAME`'s URI as `DIR/imageDetail.json`, `IMAGEn_NAME`'s as `DIR/imageN/imageDetail.json`.
fn image_details(dir: &Path, placeholders: &[Placeholder]) -> Vec<(PathBuf, Vec<u8>)> {
    placeholders
        .iter()
        .filter_map(|p| {
            let uri = p.image_uri.as_ref()?;
            let n = p.number();
            let path = if n == 1 {
                dir.join("imageDetail.json")
            } else {
                dir.join(format!("image{n}")).join("imageDetail.json")
            };
            Some((path, crate::image_detail::minimal(uri)))
        })
        .collect()
}

/// imagedefinitions.json: `[{"name": CONTAINER, "imageUri": URI}]` for each --image, in flag order.
fn imagedefinitions(images: &[(String, String)]) -> Result<Vec<u8>, RenderError> {
    if images.is_empty() {
        return Err(RenderError::Usage(
            "write imagedefinitions.json: no --image was given, so there is nothing to deploy"
                .into(),
        ));
    }
    let list: Vec<Value> = images
        .iter()
        .map(|(name, uri)| serde_json::json!({ "name": name, "imageUri": uri }))
        .collect();
    Ok(document::to_json(&Value::Array(list)).into_bytes())
}
