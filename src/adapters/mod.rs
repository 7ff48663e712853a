//! The only modules that import third-party clients and talk to other programs and services: the AWS
//! SDK (`aws`: ECR, ECR Public, STS, SSM, Secrets Manager), the Docker Engine API (`docker`, bollard; `buildkit`, its BuildKit
//! build and session over hyper and tonic),
//! OCI registries (`registry`, reqwest), libgit2 (`git`), GitHub's OIDC token endpoint
//! (`github_oidc`) and docker credential helpers (`credstore`, a child process).
//!
//! Other I/O in the crate is local and plain `std`: files written atomically (`atomic`), docker's
//! `config.json` under its lock (`docker_config`), the build context's walk and tar
//! (`build_context`), build-push's layer cache and spool files (`layers`), the token cache
//! (`steps::ecr_login::cache`), and run-buildspec's shell (`steps::run_buildspec::session`, a child
//! process). Everything else is pure logic over the types these return.

pub mod aws;
pub mod buildkit;
pub mod credstore;
pub mod docker;
pub mod git;
pub mod github_oidc;
pub mod registry;
pub(crate) mod tls;
