//! `buildsteps`: small, single-purpose binaries for container CI on AWS. See `ARCHITECTURE.md` for the
//! map of this crate and the invariants it keeps.

pub mod adapters;
pub mod atomic;
pub(crate) mod build_context;
pub mod buildspec;
pub mod cli;
pub mod commit;
pub(crate) mod destination;
pub(crate) mod docker_config;
pub mod document;
pub mod ecr_host;
pub mod environment;
pub mod error;
pub mod exit;
pub(crate) mod image_detail;
pub mod input;
pub(crate) mod layers;
pub mod output;
pub mod output_path;
pub mod platform;
pub mod platform_image;
pub mod reference;
pub mod scan;
pub mod secret;
pub mod steps;
pub mod taskdef;
pub(crate) mod time;
