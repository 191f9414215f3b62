//! Services: groups of identical processes found in command lines, server
//! config files and code, each with its environment and the pools its code opens.

use poolcheck_core::{Environment, IntExpr, Sourced};

use poolcheck_core::facts::process::ServerSettings;

use super::{Concurrency, Deployment, Service};
use crate::workspace::Workspace;

pub fn build(_workspace: &Workspace, deployment: &mut Deployment) {
    if deployment.services.is_empty() {
        deployment.implicit_service = true;
        deployment
            .services
            .push(implicit_service(Environment::new()));
    }
}

/// No server command anywhere: one process serving one request at a time.
fn implicit_service(env: Environment) -> Service {
    Service {
        name: "app".to_owned(),
        server: None,
        location: None,
        replicas: Sourced::tool_default(1, "poolcheck"),
        processes: Sourced::tool_default(
            IntExpr::Const(1),
            "poolcheck (no server command found: one implicit process)",
        ),
        concurrency: Concurrency::Bounded(Sourced::tool_default(
            IntExpr::Const(1),
            "poolcheck (no server command found)",
        )),
        asgi: false,
        worker_class: None,
        settings: ServerSettings::default(),
        cpu_count: None,
        env,
        pools: Vec::new(),
    }
}
