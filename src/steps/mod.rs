//! One module per step: its flags (clap derive, each with an environment fallback) and its logic.

pub mod build_push;
pub mod ecr_login;
pub mod render_taskdef;
pub mod run_buildspec;
pub mod scan_gate;
pub mod tag_commit;
