//! Deployment files: command lines (Procfile, Dockerfile, compose, shell
//! scripts), compose services, `.env` files and uwsgi configs.
//! Filled in by the deployment front-ends.

/// What one deployment file declares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeployFacts {}
