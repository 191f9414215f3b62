//! `poolcheck.toml` / `[tool.poolcheck]`: what the user declares about the
//! deployment and how the tool should behave.

use crate::diagnostic::Severity;
use crate::source::{FilePath, Location};
use crate::value::Sourced;
use crate::version::Version;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProjectConfig {
    /// The file it was read from; `None` for the built-in defaults.
    pub path: Option<FilePath>,
    pub exclude: Vec<Sourced<String>>,
    pub select: Option<Vec<Sourced<String>>>,
    pub ignore: Vec<Sourced<String>>,
    /// Per-code (or prefix) severity overrides.
    pub severity: Vec<(Sourced<String>, Severity)>,
    pub fail_on: Option<Sourced<Severity>>,
    /// PC102's free-slot fraction (default 0.1).
    pub headroom: Option<Sourced<f64>>,
    /// `[env]`: the assumed environment of every service.
    pub env: Vec<(String, Sourced<String>)>,
    /// `[database]`: the one server when the repository describes one.
    pub database: Option<DatabaseDecl>,
    /// `[databases.<name>]`: several servers.
    pub databases: Vec<DatabaseDecl>,
    pub pgbouncer: Option<PgBouncerDecl>,
    pub services: Vec<ServiceDecl>,
    pub helm: Option<HelmDecl>,
}

/// `[helm]`: how charts are rendered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HelmDecl {
    pub location: Option<Location>,
    /// Extra values files, relative to the configuration's directory, laid
    /// over a chart's values.yaml in order (`helm -f`). A file inside a
    /// chart's directory applies to that chart; one outside every chart
    /// applies to every chart.
    pub values: Vec<Sourced<String>>,
    /// `.Release.Name` (default `release-name`, as `helm template`).
    pub release: Option<Sourced<String>>,
    /// `.Release.Namespace` (default `default`).
    pub namespace: Option<Sourced<String>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatabaseDecl {
    /// `None` for `[database]`, the table name for `[databases.<name>]`.
    pub name: Option<String>,
    pub location: Option<Location>,
    pub max_connections: Option<Sourced<i64>>,
    pub superuser_reserved_connections: Option<Sourced<i64>>,
    pub reserved_connections: Option<Sourced<i64>>,
    pub other_clients: Option<Sourced<i64>>,
    pub provider_reserve: Option<Sourced<i64>>,
    pub cores: Option<Sourced<i64>>,
    pub spindles: Option<Sourced<i64>>,
    /// Seconds after which something between client and server drops idle connections.
    pub idle_timeout: Option<Sourced<f64>>,
    pub version: Option<Sourced<Version>>,
    pub hosts: Vec<Sourced<String>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PgBouncerDecl {
    pub location: Option<Location>,
    pub version: Option<Sourced<Version>>,
    pub instances: Option<Sourced<i64>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceDecl {
    pub name: String,
    /// The `[services.<name>]` header, for PC003 when no service has that name.
    pub location: Option<Location>,
    pub replicas: Option<Sourced<i64>>,
    pub paths: Vec<Sourced<String>>,
    pub cpu_count: Option<Sourced<i64>>,
    pub env: Vec<(String, Sourced<String>)>,
}

impl ProjectConfig {
    /// Lays `over` on top of this configuration, setting by setting: what
    /// `over` declares wins, everything else stays (what-if `--set` values
    /// over the project's file).
    pub fn overlay(&mut self, over: ProjectConfig) {
        fn keep<T>(base: &mut Option<T>, over: Option<T>) {
            if over.is_some() {
                *base = over;
            }
        }
        fn pairs<T>(base: &mut Vec<(String, T)>, over: Vec<(String, T)>) {
            for (key, value) in over {
                match base.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => base.push((key, value)),
                }
            }
        }
        fn database(base: &mut DatabaseDecl, over: DatabaseDecl) {
            keep(&mut base.max_connections, over.max_connections);
            keep(
                &mut base.superuser_reserved_connections,
                over.superuser_reserved_connections,
            );
            keep(&mut base.reserved_connections, over.reserved_connections);
            keep(&mut base.other_clients, over.other_clients);
            keep(&mut base.provider_reserve, over.provider_reserve);
            keep(&mut base.cores, over.cores);
            keep(&mut base.spindles, over.spindles);
            keep(&mut base.idle_timeout, over.idle_timeout);
            keep(&mut base.version, over.version);
            if !over.hosts.is_empty() {
                base.hosts = over.hosts;
            }
        }
        if !over.exclude.is_empty() {
            self.exclude.extend(over.exclude);
        }
        keep(&mut self.select, over.select);
        self.ignore.extend(over.ignore);
        self.severity.extend(over.severity);
        keep(&mut self.fail_on, over.fail_on);
        keep(&mut self.headroom, over.headroom);
        pairs(&mut self.env, over.env);
        if let Some(over) = over.database {
            match &mut self.database {
                Some(base) => database(base, over),
                None => self.database = Some(over),
            }
        }
        for over in over.databases {
            match self.databases.iter_mut().find(|d| d.name == over.name) {
                Some(base) => database(base, over),
                None => self.databases.push(over),
            }
        }
        if let Some(over) = over.pgbouncer {
            match &mut self.pgbouncer {
                Some(base) => {
                    keep(&mut base.version, over.version);
                    keep(&mut base.instances, over.instances);
                }
                None => self.pgbouncer = Some(over),
            }
        }
        if let Some(over) = over.helm {
            match &mut self.helm {
                Some(base) => {
                    if !over.values.is_empty() {
                        base.values = over.values;
                    }
                    keep(&mut base.release, over.release);
                    keep(&mut base.namespace, over.namespace);
                }
                None => self.helm = Some(over),
            }
        }
        for over in over.services {
            match self.services.iter_mut().find(|s| s.name == over.name) {
                Some(base) => {
                    keep(&mut base.replicas, over.replicas);
                    keep(&mut base.cpu_count, over.cpu_count);
                    if !over.paths.is_empty() {
                        base.paths = over.paths;
                    }
                    pairs(&mut base.env, over.env);
                }
                None => self.services.push(over),
            }
        }
    }
}
