//! The only modules that talk to the outside world through third-party clients: the AWS SDK, the Docker
//! Engine API (bollard), OCI registries, and libgit2. Everything else in the crate is pure logic over
//! the types these return, which keeps it testable and the dependency surface in one place.

pub mod credstore;
pub mod docker;
pub mod ecr;
pub mod git;
pub mod github_oidc;
pub mod registry;
