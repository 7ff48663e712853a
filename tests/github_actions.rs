//! The composite action (`action.yml`) and the example workflow against the binaries' real behaviour
//! in GitHub Actions: every output the action declares is one a step writes to `$GITHUB_OUTPUT`
//! (run with `GITHUB_ACTIONS=true` and real files), and the workflow only names steps that exist.

use crate::common::{Scratch, create_repository, rig, run, unique};
use serde_json::Value;
use std::collections::BTreeMap;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap();
    buildsteps::document::parse(&text, buildsteps::document::Syntax::Yaml).unwrap()
}

/// Reads a `$GITHUB_OUTPUT` file (both the `name=value` and the delimiter forms).
fn outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        }
    }
    out
}

#[test]
fn the_actions_outputs_are_what_the_steps_write() {
    let rig = rig();
    let sb = Scratch::rig();
    let mut written: BTreeMap<String, String> = BTreeMap::new();
    let mut step = |bin: &str, args: &[&str], extra_env: &[(&str, &str)]| {
        let file = sb.write(
            &format!("gh/{}-{}", bin.rsplit('/').next().unwrap(), written.len()),
            "",
        );
        let summary = sb.write(&format!("gh/summary-{}", written.len()), "");
        let mut env = sb.env_with(extra_env);
        env.extend([
            ("GITHUB_ACTIONS".to_string(), "true".to_string()),
            ("GITHUB_OUTPUT".to_string(), file.clone()),
            ("GITHUB_STEP_SUMMARY".to_string(), summary),
        ]);
        let out = run(bin, args, &env, None);
        assert!(
            out.code == 0 || out.code == 1,
            "{bin} {args:?}: {}",
            out.stderr
        );
        let got = outputs(&std::fs::read_to_string(&file).unwrap());
        assert!(!got.is_empty(), "{bin} wrote GitHub outputs");
        written.extend(got);
        out
    };

    let login = step(env!("CARGO_BIN_EXE_ecr-login"), &[], &[]);
    assert!(
        login.stderr.contains("::add-mask::"),
        "the password is masked first: {}",
        login.stderr
    );
    let repo = unique("gha/app");
    create_repository(&repo, "MUTABLE");
    let detail = sb.p("imageDetail.json");
    step(
        env!("CARGO_BIN_EXE_build-push"),
        &[
            &format!("{ROOT}/examples/app"),
            "-r",
            &format!("{}/{repo}", rig.registry),
            "--latest",
            "false",
            "--build-arg",
            &format!("BASE={}", rig.base_image),
            "--image-detail",
            &detail,
        ],
        &[],
    );
    step(
        env!("CARGO_BIN_EXE_tag-commit"),
        &["--from", &detail, "--tag", "latest", "--commit-tag", "none"],
        &[],
    );
    step(
        env!("CARGO_BIN_EXE_render-taskdef"),
        &[
            &format!("{ROOT}/taskdef.json"),
            "--image",
            &format!("web=@{detail}"),
            "-o",
            &sb.p("rendered.json"),
        ],
        &[
            ("AWS_ACCOUNT_ID", "123456789012"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    step(
        env!("CARGO_BIN_EXE_scan-gate"),
        &[
            "--report",
            &format!("{ROOT}/tests/fixtures/trivy/main-dc3c56e/alpine-39.json.golden"),
        ],
        &[],
    );

    let action = yaml("action.yml");
    let declared = action["outputs"].as_object().unwrap();
    assert!(!declared.is_empty());
    for (name, spec) in declared {
        let value = spec["value"].as_str().unwrap();
        let key = value
            .strip_prefix("${{ steps.run.outputs.")
            .and_then(|v| v.strip_suffix(" }}"))
            .unwrap_or_else(|| panic!("{name}: {value}"));
        assert!(
            written.contains_key(key),
            "action output `{name}` reads `{key}`, which no step writes: {written:?}"
        );
    }
    assert_eq!(written["file"], sb.p("rendered.json"));
    assert!(written["image-uri"].contains(&repo), "{written:?}");
    assert_eq!(written["passed"], "false");
    assert_eq!(written["registry"], rig.registry);

    // The install step takes its steps from the package's binaries, not from a list of its own
    // (tests/workflow.rs plays it: a step runs, an unknown one is refused naming the steps).
    let install = action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Install buildsteps")
        .and_then(|s| s["run"].as_str())
        .unwrap();
    assert!(
        install.contains("src/bin/$STEP.rs"),
        "the install step checks the step against src/bin: {install}"
    );
    let bins: Vec<String> = buildsteps::steps::BINARIES
        .iter()
        .map(|b| (*b).to_string())
        .collect();
    // The example workflow names only those steps.
    let workflow = yaml("examples/github/deploy.yml");
    let steps = workflow["jobs"]["deploy"]["steps"].as_array().unwrap();
    let used: Vec<&str> = steps
        .iter()
        .filter_map(|s| s["with"]["step"].as_str())
        .collect();
    assert_eq!(
        used,
        [
            "ecr-login",
            "build-push",
            "scan-gate",
            "tag-commit",
            "render-taskdef"
        ]
    );
    assert!(used.iter().all(|u| bins.iter().any(|b| b == u)));
}
