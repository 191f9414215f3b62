//! The deployment model: database servers, PgBouncers, services and the
//! client pools their processes open, linked to what they connect to.

pub mod assemble;
pub mod budget;
pub mod capacity;
pub mod link;
pub mod pgbouncer_budget;
pub mod providers;
pub mod services;

use poolcheck_core::facts::pgbouncer::PgBouncerConfig;
use poolcheck_core::facts::pool::ClientPool;
use poolcheck_core::facts::process::{ServerKind, ServerSettings};
use poolcheck_core::{Diagnostic, Environment, IntExpr, Location, Sourced, Version};
use poolcheck_extract::python::{GunicornConfig, ImportTimeConnection};

/// A PostgreSQL server and the slots it offers.
#[derive(Debug, Clone)]
pub struct DatabaseServer {
    pub name: String,
    /// The config file or compose service that describes it; `None` when assumed.
    pub location: Option<Location>,
    pub max_connections: Sourced<i64>,
    pub superuser_reserved_connections: Sourced<i64>,
    /// PG16+ `reserved_connections`; zero on older servers.
    pub reserved_connections: Sourced<i64>,
    pub provider_reserve: Option<Sourced<i64>>,
    pub other_clients: Option<Sourced<i64>>,
    pub cores: Option<Sourced<i64>>,
    pub spindles: Option<Sourced<i64>>,
    /// `idle_session_timeout` in milliseconds (0 = off).
    pub idle_session_timeout_ms: Option<Sourced<i64>>,
    /// Declared idle timeout of a proxy or load balancer in front, in seconds.
    pub declared_idle_timeout_s: Option<Sourced<f64>>,
    pub version: Option<Sourced<Version>>,
    /// Host names that reach this server.
    pub hosts: Vec<String>,
    /// True when no file describes this server and PostgreSQL's defaults were assumed.
    pub assumed: bool,
    /// The managed service that runs it, when the configuration, Terraform
    /// or a host name says.
    pub provider: Option<providers::ProviderInfo>,
}

impl DatabaseServer {
    /// Every slot subtraction, with its label, for messages and JSON.
    pub fn reservations(&self) -> Vec<(&'static str, &Sourced<i64>)> {
        let mut out = vec![(
            "superuser_reserved_connections",
            &self.superuser_reserved_connections,
        )];
        if self.reserved_connections.value.unwrap_or(0) != 0 {
            out.push(("reserved_connections", &self.reserved_connections));
        }
        if let Some(p) = &self.provider_reserve {
            out.push(("provider_reserve", p));
        }
        if let Some(o) = &self.other_clients {
            out.push(("other_clients", o));
        }
        out
    }

    pub fn reserved_total(&self) -> i64 {
        self.reservations()
            .iter()
            .map(|(_, v)| v.value.unwrap_or(0))
            .sum()
    }

    /// ` on Amazon RDS db.r6g.large`, for budget headers and hovers; empty
    /// without a provider.
    pub fn provider_suffix(&self) -> String {
        let Some(info) = &self.provider else {
            return String::new();
        };
        match info.size.as_ref().and_then(|s| s.value.as_deref()) {
            Some(size) => format!(" on {} {size}", info.provider.display_name()),
            None => format!(" on {} (size unknown)", info.provider.display_name()),
        }
    }

    /// What decided `max_connections`: `config`, `postgresql.conf`,
    /// `command`, `provider` or `default` (the budget's JSON `source`).
    pub fn limit_source(&self) -> &'static str {
        match &self.max_connections.origin {
            poolcheck_core::Origin::Declared => "config",
            _ if self.provider.as_ref().is_some_and(|p| p.limit_from_table) => "provider",
            poolcheck_core::Origin::ToolDefault { .. } | poolcheck_core::Origin::Unknown { .. } => {
                "default"
            }
            _ => match &self.max_connections.location {
                Some(at) => match at
                    .file
                    .as_path()
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase)
                    .as_deref()
                {
                    Some("conf") => "postgresql.conf",
                    Some("tf") => "provider",
                    _ => "command",
                },
                None => "default",
            },
        }
    }

    /// Slots the application may use; `None` when `max_connections` is unknown.
    pub fn usable(&self) -> Option<i64> {
        Some((self.max_connections.value? - self.reserved_total()).max(0))
    }
}

/// A PgBouncer (possibly several identical instances).
#[derive(Debug, Clone)]
pub struct PgBouncer {
    pub config: PgBouncerConfig,
    /// Configured by a `pgbouncer.ini` in the repository (rather than by a
    /// compose service's environment variables).
    pub from_file: bool,
    pub instances: Sourced<i64>,
    pub version: Option<Sourced<Version>>,
}

/// How many requests one process serves at once.
#[derive(Debug, Clone)]
pub enum Concurrency {
    Bounded(Sourced<IntExpr>),
    /// ASGI servers and async workers without a limit.
    Unbounded {
        reason: String,
    },
}

/// A group of identical processes.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub server: Option<ServerKind>,
    /// Where the service is started; `None` for the implicit service.
    pub location: Option<Location>,
    pub replicas: Sourced<i64>,
    /// Processes per replica.
    pub processes: Sourced<IntExpr>,
    /// Concurrent requests per process.
    pub concurrency: Concurrency,
    pub asgi: bool,
    /// The worker class in effect (`sync`, `gthread`, `gevent`, a uvicorn worker, a celery pool).
    pub worker_class: Option<Sourced<String>>,
    pub settings: ServerSettings,
    /// The app target the service's command starts, as written, when it
    /// names a module of the repository; `None` when the service runs all
    /// service code.
    pub entry: Option<String>,
    /// Set on standalone server configurations that no deployment file
    /// starts (a `contrib/gunicorn.py` beside a `contrib/uwsgi.ini`): they
    /// are alternative ways to run one app, and the budget counts the
    /// largest of the services sharing this group.
    pub alternative_group: Option<usize>,
    /// Why the service runs all service code (no entry point found), for
    /// `budget` and `--verbose`.
    pub runs_all_code: Option<String>,
    /// Declared `cpu_count`, which makes CPU-dependent factors concrete.
    pub cpu_count: Option<Sourced<i64>>,
    /// The replicas of the workload that runs the service, when a
    /// deployment file (compose, Kubernetes) declares one.
    pub scaling: Option<Scaling>,
    pub env: Environment,
    pub pools: Vec<LinkedPool>,
    /// Connections the service's code opens when it is imported (PC401).
    pub import_time_connections: Vec<ImportTimeConnection>,
    /// The gunicorn config file the service reads, with its server hooks (PC401).
    pub gunicorn_config: Option<GunicornConfig>,
}

/// How many replicas of a service run: steadily between an autoscaler's
/// bounds (`max` is what the budget counts) and, during a rolling update,
/// `surge` more beside them.
#[derive(Debug, Clone)]
pub struct Scaling {
    pub min: Sourced<i64>,
    pub max: Sourced<i64>,
    pub surge: Sourced<i64>,
    /// What decides `max`, for messages and JSON (`HorizontalPodAutoscaler
    /// web maxReplicas`, `Deployment replicas`, `compose deploy.replicas`).
    pub source: String,
}

/// Where a pool's connections go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetRef {
    Server(usize),
    /// A PgBouncer (index) and the `[databases]` entry name it matched.
    PgBouncer {
        index: usize,
        database: String,
    },
}

#[derive(Debug, Clone)]
pub struct LinkedPool {
    pub pool: ClientPool,
    pub target: TargetRef,
}

/// Everything the rules read.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    pub servers: Vec<DatabaseServer>,
    pub pgbouncers: Vec<PgBouncer>,
    pub services: Vec<Service>,
    /// Which PostgreSQL server each PgBouncer `[databases]` entry reaches,
    /// by (pgbouncer index, database name).
    pub pgbouncer_links: Vec<(usize, String, usize)>,
    /// Problems found while assembling (PC002 include errors, PC003 unknown
    /// services, PC004 unresolved values).
    pub diagnostics: Vec<Diagnostic>,
    /// True when no server command was found and one implicit process was assumed.
    pub implicit_service: bool,
    /// Compose files left out of the budget because they describe test
    /// runs, for `budget` and `--verbose`.
    pub test_compose_files: Vec<poolcheck_core::FilePath>,
}
