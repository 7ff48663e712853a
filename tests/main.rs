//! The integration and end-to-end tests, as one test binary (one link instead of one per file).
//! Each module is one area; `common` is what they share: the rig's coordinates, running the real
//! binaries with a clean environment, scratch directories, the registry log, fault proxies.
//!
//! The end-to-end modules need the local rig (`bin/rig start && eval "$(bin/rig env)"`, which
//! `bin/test` does); `offline` and `render_properties` need nothing.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails by panicking, and the panic names what was unwrapped"
)]
#![expect(
    clippy::too_many_lines,
    reason = "each end-to-end test is one scenario told start to finish"
)]

mod common;

mod build_push;
mod ecr_login;
mod examples;
mod github_actions;
mod install;
mod offline;
mod release;
mod render_properties;
mod render_taskdef;
mod rig;
mod run_buildspec;
mod scan_gate;
mod tag_commit;
mod workflow;
