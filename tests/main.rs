//! The integration and end-to-end tests, as one test binary (one link instead of one per file).
//! Each module is one area; `common` is what they share: the rig's coordinates, running the real
//! binaries with a clean environment, scratch directories, the registry log, fault proxies.
//!
//! Every test that needs the local rig (`bin/rig start && eval "$(bin/rig env)"`, which `bin/test`
//! does) has `on_the_rig` in its path: the areas below that are all rig, and an `on_the_rig` module
//! inside the others. The rest need only the binaries cargo builds — the quick loop,
//! `cargo test --test main -- --skip on_the_rig --skip release::` (`release` checks what
//! `bin/release` left in `dist/`).

#![expect(
    clippy::unwrap_used,
    reason = "a test fails by panicking, and the panic names what was unwrapped"
)]
#![expect(
    clippy::too_many_lines,
    reason = "each end-to-end test is one scenario told start to finish"
)]

mod common;

mod batch;
mod examples;
mod hostile;
mod install;
mod offline;
mod patterns;
mod properties;
mod release;
mod render_properties;
mod render_taskdef;
mod run_buildspec;
mod scan_gate;
mod workflow;

/// The areas whose every test needs the rig (their files are beside this one).
#[path = "."]
mod on_the_rig {
    mod build_push;
    mod ecr_login;
    mod github_actions;
    mod multiarch;
    mod rig;
    mod tag_commit;
}
