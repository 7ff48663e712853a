//! What the end-to-end tests need from the local rig (`bin/rig`), read from the variables
//! `bin/rig env` exports. `bin/test` starts the rig and exports them; a test run without them fails
//! with the fix rather than skipping.

#![allow(dead_code, unreachable_pub)]

use std::process::Command;

/// The rig's coordinates.
#[derive(Debug, Clone)]
pub struct Rig {
    /// `123456789012.dkr.ecr.us-east-1.amazonaws.com`
    pub registry: String,
    /// `http://127.0.0.1:5055`
    pub moto: String,
    /// The throw-away CA that signed the registry's certificate.
    pub ca: String,
    /// An image in the engine that needs no pull (`local/busybox:1`).
    pub base_image: String,
    /// `unix:///var/run/docker.sock`
    pub docker_host: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the local rig. Run `bin/test`, or \
             `bin/rig start && eval \"$(bin/rig env)\"` before `cargo test`."
        )
    })
}

/// The rig, from the environment.
pub fn rig() -> Rig {
    Rig {
        registry: var("BUILDSTEPS_RIG_REGISTRY"),
        moto: var("BUILDSTEPS_RIG_MOTO"),
        ca: var("BUILDSTEPS_RIG_CA"),
        base_image: var("BUILDSTEPS_RIG_BASE_IMAGE"),
        docker_host: var("DOCKER_HOST"),
    }
}

/// Runs curl (an independent client) and returns (status line code, headers, body).
pub fn curl(args: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-D",
            "/dev/stderr",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
        ])
        .args(args)
        .output()
        .expect("curl runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let headers = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "curl {args:?} failed: {headers}");
    (code.trim().parse().unwrap_or(0), headers, body.to_string())
}
