//! Declarations to the deployment model: lower every front-end into
//! [`Declarations`], then build the servers, PgBouncers and services from
//! them alone, evaluate each service's pools with its own environment, and
//! link every pool to what it connects to.

use poolcheck_core::Code;
use std::path::Path;
use std::sync::Arc;

use poolcheck_core::facts::config::DatabaseDecl;
use poolcheck_core::facts::pool::Target;
use poolcheck_core::{Diagnostic, Origin, Severity, Sourced};
use poolcheck_extract::python::{ModuleNames, ModuleSource, PythonProject};

use super::link::{self, Link, ServerMatch};
use super::{DatabaseServer, Deployment, TargetRef};
use super::{providers, services};
use crate::declarations::Declarations;
use crate::lower;
use crate::workspace::Workspace;

pub fn assemble(workspace: &Workspace) -> Deployment {
    assemble_reusing(workspace, &mut AssemblyCache::default())
}

/// What one assembly leaves for the next assembly of the same workspace
/// with some files' contents changed (the language server's edits): the
/// Python modules' names, which depend only on which files exist.
#[derive(Debug, Clone, Default)]
pub struct AssemblyCache {
    names: Option<Arc<ModuleNames>>,
    /// How many Python files discovery listed when `names` was built: the
    /// package directories come from them.
    python_paths: usize,
}

/// [`assemble`], reusing what `cache` kept from the last assembly when it
/// still describes the workspace, and keeping this one's for the next.
pub fn assemble_reusing(workspace: &Workspace, cache: &mut AssemblyCache) -> Deployment {
    let modules = || {
        workspace.facts.iter().filter_map(|f| {
            let source = match (&f.python, &f.python_unparsed) {
                (Some(module), _) => ModuleSource::Parsed(module),
                (None, Some(unparsed)) => ModuleSource::Unparsed(unparsed),
                (None, None) => return None,
            };
            Some((&f.path, source))
        })
    };
    let reused = cache
        .names
        .as_ref()
        .filter(|_| cache.python_paths == workspace.python_paths.len())
        .and_then(|names| PythonProject::reusing_names(names, modules()));
    let project = reused.unwrap_or_else(|| {
        PythonProject::with_package_dirs(Path::new(""), modules(), workspace.python_package_dirs())
    });
    cache.names = Some(Arc::clone(project.names()));
    cache.python_paths = workspace.python_paths.len();
    let declarations = lower::lower(workspace, &project);
    let mut deployment = Deployment {
        diagnostics: declarations.diagnostics.clone(),
        test_compose_files: declarations.test_compose_files.clone(),
        ..Deployment::default()
    };
    let mut assembler = Assembler {
        workspace,
        deployment: &mut deployment,
        declarations: &declarations,
    };
    assembler.servers();
    assembler.pgbouncers();
    services::build(workspace, &project, &declarations, assembler.deployment);
    assembler.link_pgbouncers();
    assembler.link_pools();
    deployment.diagnostics.sort();
    deployment.diagnostics.dedup();
    deployment
}

struct Assembler<'a> {
    workspace: &'a Workspace,
    deployment: &'a mut Deployment,
    declarations: &'a Declarations,
}

impl Assembler<'_> {
    fn servers(&mut self) {
        self.deployment.servers.extend(
            self.declarations
                .servers
                .iter()
                .map(|declared| declared.server.clone()),
        );
        self.declared_servers();
    }

    /// `[database]` refines the one described server (or describes it);
    /// `[databases.<name>]` adds servers matched by `hosts`.
    fn declared_servers(&mut self) {
        let config = &self.workspace.config;
        if let Some(decl) = &config.database {
            if self.deployment.servers.len() <= 1 {
                if self.deployment.servers.is_empty() {
                    self.deployment
                        .servers
                        .push(declared_server("database", decl));
                }
                apply_decl(&mut self.deployment.servers[0], decl);
            } else if let Some(loc) = &decl.location {
                self.deployment.diagnostics.push(Diagnostic::new(
                    Code::PC003,
                    Severity::Error,
                    loc.clone(),
                    format!(
                        "`[database]` describes one server, but the repository describes {}: use `[databases.<name>]` with `hosts` for each",
                        self.deployment.servers.len()
                    ),
                ));
            }
        }
        for decl in &config.databases {
            let name = decl.name.clone().unwrap_or_else(|| "database".to_owned());
            let hosts: Vec<String> = decl.hosts.iter().filter_map(|h| h.value.clone()).collect();
            let existing = self.deployment.servers.iter().position(|s| {
                s.name == name
                    || s.hosts
                        .iter()
                        .any(|h| hosts.iter().any(|d| d.eq_ignore_ascii_case(h)))
            });
            let index = existing.unwrap_or_else(|| {
                self.deployment.servers.push(declared_server(&name, decl));
                self.deployment.servers.len() - 1
            });
            apply_decl(&mut self.deployment.servers[index], decl);
        }
    }

    fn pgbouncers(&mut self) {
        let ws = self.workspace;
        self.deployment
            .pgbouncers
            .extend(self.declarations.poolers.iter().cloned());
        // A workload running a PgBouncer image configured by a file is that
        // file's PgBouncer when the repository holds exactly one.
        let file_configured = self
            .deployment
            .pgbouncers
            .iter()
            .filter(|b| b.from_file)
            .count();
        if file_configured == 1 {
            for name in &self.declarations.file_pooler_hosts {
                if let Some(bouncer) = self.deployment.pgbouncers.iter_mut().find(|b| b.from_file)
                    && !bouncer.config.host_aliases.contains(name)
                {
                    bouncer.config.host_aliases.push(name.clone());
                }
            }
        }
        if let Some(decl) = &ws.config.pgbouncer {
            for bouncer in &mut self.deployment.pgbouncers {
                if let Some(v) = &decl.version {
                    bouncer.version = Some(v.clone());
                    bouncer.config.version = Some(v.clone());
                }
                if let Some(i) = &decl.instances {
                    bouncer.instances = i.clone();
                }
            }
        }
        for bouncer in &mut self.deployment.pgbouncers {
            if bouncer.version.is_none() {
                bouncer.version = bouncer.config.version.clone();
            }
        }
    }

    /// Links every PgBouncer `[databases]` entry to its server.
    fn link_pgbouncers(&mut self) {
        for index in 0..self.deployment.pgbouncers.len() {
            let entries: Vec<(String, Option<String>)> = self.deployment.pgbouncers[index]
                .config
                .databases
                .iter()
                .map(|d| {
                    (
                        d.name.clone(),
                        d.params.get("host").map(|h| h.value.clone()),
                    )
                })
                .collect();
            for (name, host) in entries {
                let server = self.server_for(host.as_deref());
                self.deployment.pgbouncer_links.push((index, name, server));
            }
        }
    }

    /// The index of the server a host reaches, assuming one with defaults
    /// when none matches.
    fn server_for(&mut self, host: Option<&str>) -> usize {
        match link::find_server(host, &self.deployment.servers) {
            ServerMatch::Existing(index) => index,
            ServerMatch::New { host } => {
                if let Some(i) = self
                    .deployment
                    .servers
                    .iter()
                    .position(|s| s.assumed && s.hosts.contains(&host))
                {
                    return i;
                }
                self.deployment.servers.push(assumed_server(&host));
                self.deployment.servers.len() - 1
            }
        }
    }

    /// The expression a pool's unknown host comes from, as written
    /// (`env("DB_HOST")`, `os.environ["DATABASE_URL"]`), whitespace removed;
    /// `None` when the target is known.
    fn unknown_host_expression(&self, target: &Sourced<Target>) -> Option<String> {
        if target.value.is_some() {
            return None;
        }
        let written = target.location.as_ref().and_then(|location| {
            let file = self.workspace.sources.get(&location.file)?;
            let start = location.span.start as usize;
            let end = location.span.end as usize;
            file.text().get(start..end).map(str::to_owned)
        });
        let key = written
            .filter(|w| !w.trim().is_empty())
            .or_else(|| target.unknown_reason().map(str::to_owned))
            .unwrap_or_default();
        Some(key.split_whitespace().collect())
    }

    /// The assumed server of one unknown host expression.
    fn server_for_unknown(&mut self, expression: &str) -> usize {
        let name = format!("unknown host {expression}");
        if let Some(i) = self
            .deployment
            .servers
            .iter()
            .position(|s| s.assumed && s.name == name)
        {
            return i;
        }
        let mut server = assumed_server(&name);
        // Matched by expression only, never by a host name.
        server.hosts.clear();
        self.deployment.servers.push(server);
        self.deployment.servers.len() - 1
    }

    fn link_pools(&mut self) {
        // Targets whose host is unknown reach the same server only when
        // their host expressions are the same; with one such expression the
        // server keeps its historical name (`localhost`, PostgreSQL's default).
        let mut unknown_expressions = std::collections::BTreeSet::new();
        for service in &self.deployment.services {
            for pool in &service.pools {
                unknown_expressions.extend(self.unknown_host_expression(&pool.pool.target));
            }
        }
        let distinct_unknown = unknown_expressions.len() > 1;
        for s in 0..self.deployment.services.len() {
            for p in 0..self.deployment.services[s].pools.len() {
                let target = self.deployment.services[s].pools[p]
                    .pool
                    .target
                    .value
                    .clone()
                    .unwrap_or_default();
                if let Some(linked) = self.link_provider_pooler(s, p, &target) {
                    self.deployment.services[s].pools[p].target = linked;
                    continue;
                }
                let linked = match link::link(
                    &target,
                    &self.deployment.servers,
                    &self.deployment.pgbouncers,
                ) {
                    Link::PgBouncer { index, database } => {
                        // A database PgBouncer serves through `*` needs its own link.
                        let links = &self.deployment.pgbouncer_links;
                        if !links.iter().any(|(i, d, _)| *i == index && *d == database)
                            && let Some(&(_, _, server)) =
                                links.iter().find(|(i, d, _)| *i == index && d == "*")
                        {
                            self.deployment
                                .pgbouncer_links
                                .push((index, database.clone(), server));
                        }
                        TargetRef::PgBouncer { index, database }
                    }
                    Link::Server(ServerMatch::Existing(index)) => TargetRef::Server(index),
                    Link::Server(ServerMatch::New { host }) => {
                        let expression = self.unknown_host_expression(
                            &self.deployment.services[s].pools[p].pool.target,
                        );
                        if let Some(expression) = expression.filter(|_| distinct_unknown) {
                            TargetRef::Server(self.server_for_unknown(&expression))
                        } else {
                            let server = self.server_for(Some(&host));
                            self.mark_provider(server, &target);
                            TargetRef::Server(server)
                        }
                    }
                };
                self.deployment.services[s].pools[p].target = linked;
            }
        }
    }
}

impl Assembler<'_> {
    /// Links a pool whose host is a provider's pooler (Supavisor, Neon's
    /// `-pooler`, Azure's port 6432, RDS Proxy…) to a PgBouncer that stands
    /// for it, created on first use, and that PgBouncer to the server behind.
    fn link_provider_pooler(&mut self, s: usize, p: usize, target: &Target) -> Option<TargetRef> {
        let sourced = &self.deployment.services[s].pools[p].pool.target;
        let expression = self
            .unknown_host_expression(sourced)
            .or_else(|| match &sourced.origin {
                Origin::EnvValue { var, .. } | Origin::EnvDefault { var } => Some(var.clone()),
                _ => None,
            });
        let kind = providers::pooler_for(target, expression.as_deref())?;
        let host = target
            .host
            .clone()
            .or_else(|| expression.clone())
            .unwrap_or_default();
        let reached_at = sourced
            .location
            .clone()
            .unwrap_or_else(|| self.deployment.services[s].pools[p].pool.location.clone());
        let database = target
            .dbname
            .clone()
            .unwrap_or_else(|| "postgres".to_owned());
        let server = self.server_for(target.host.as_deref());
        self.mark_provider(server, target);
        let index = if let Some(index) = self.deployment.pgbouncers.iter().position(|b| {
            b.config
                .provider
                .as_ref()
                .is_some_and(|spec| spec.kind == kind)
                && b.config.host_aliases.contains(&host)
        }) {
            index
        } else {
            let bouncer = providers::provider_pgbouncer(
                kind,
                &host,
                reached_at,
                self.deployment.servers.get(server),
                &self.declarations.provider_poolers,
            );
            self.deployment.pgbouncers.push(bouncer);
            self.deployment.pgbouncers.len() - 1
        };
        let links = &mut self.deployment.pgbouncer_links;
        if !links.iter().any(|(i, d, _)| *i == index && *d == database) {
            links.push((index, database.clone(), server));
        }
        Some(TargetRef::PgBouncer { index, database })
    }

    /// An assumed server reached at a provider's host runs at that provider:
    /// its reserve applies, and the budget names it.
    fn mark_provider(&mut self, server: usize, target: &Target) {
        let Some(host) = target.host.as_deref() else {
            return;
        };
        let Some(provider) = providers::provider_of_host(host, target.port) else {
            return;
        };
        let server = &mut self.deployment.servers[server];
        if server.provider.is_some() || !server.assumed {
            return;
        }
        if let Ok(limits) = poolcheck_core::facts::providers::server_limits(provider, None) {
            providers::apply_limits(server, &limits, None);
        }
    }
}

/// A server nothing describes: PostgreSQL's defaults, and the messages say so.
fn assumed_server(host: &str) -> DatabaseServer {
    DatabaseServer {
        name: host.to_owned(),
        location: None,
        max_connections: Sourced::tool_default(100, "PostgreSQL"),
        superuser_reserved_connections: Sourced::tool_default(3, "PostgreSQL"),
        reserved_connections: Sourced::tool_default(0, "PostgreSQL"),
        provider_reserve: None,
        other_clients: None,
        cores: None,
        spindles: None,
        idle_session_timeout_ms: None,
        declared_idle_timeout_s: None,
        version: None,
        hosts: vec![host.to_owned()],
        assumed: true,
        provider: None,
    }
}

/// A server a file describes (Terraform), before its limits are set.
pub(crate) fn described_server(name: &str) -> DatabaseServer {
    let mut server = assumed_server(name);
    server.assumed = false;
    server.hosts.clear();
    server
}

fn declared_server(name: &str, decl: &DatabaseDecl) -> DatabaseServer {
    let mut server = assumed_server(name);
    server.assumed = false;
    server.location.clone_from(&decl.location);
    server.hosts = decl.hosts.iter().filter_map(|h| h.value.clone()).collect();
    server
}

/// Declared values win over files: the user states what production runs.
fn apply_decl(server: &mut DatabaseServer, decl: &DatabaseDecl) {
    if let Some(provider) = decl.provider.as_ref().and_then(|p| p.value) {
        // An invalid size is PC003 in the configuration; the server then
        // keeps what it had.
        if let Ok(limits) = poolcheck_core::facts::providers::server_limits(
            provider,
            decl.size.as_ref().and_then(|s| s.value.as_deref()),
        ) {
            providers::apply_limits(server, &limits, decl.size.as_ref());
            if decl.size.is_some() {
                server.assumed = false;
            }
        }
    }
    let set = |target: &mut Sourced<i64>, value: &Option<Sourced<i64>>| {
        if let Some(v) = value {
            *target = v.clone();
        }
    };
    set(&mut server.max_connections, &decl.max_connections);
    set(
        &mut server.superuser_reserved_connections,
        &decl.superuser_reserved_connections,
    );
    set(&mut server.reserved_connections, &decl.reserved_connections);
    if decl.provider_reserve.is_some() {
        server.provider_reserve.clone_from(&decl.provider_reserve);
    }
    if decl.other_clients.is_some() {
        server.other_clients.clone_from(&decl.other_clients);
    }
    if decl.cores.is_some() {
        server.cores.clone_from(&decl.cores);
    }
    if decl.spindles.is_some() {
        server.spindles.clone_from(&decl.spindles);
    }
    if decl.idle_timeout.is_some() {
        server
            .declared_idle_timeout_s
            .clone_from(&decl.idle_timeout);
    }
    if decl.version.is_some() {
        server.version.clone_from(&decl.version);
    }
    for host in decl.hosts.iter().filter_map(|h| h.value.clone()) {
        if !server.hosts.contains(&host) {
            server.hosts.push(host);
        }
    }
    if server.assumed && decl.max_connections.is_some() {
        server.assumed = false;
    }
    // PG15 and older have no reserved_connections: a value read from a file
    // for an older server does not reduce the budget.
    if server
        .version
        .as_ref()
        .and_then(|v| v.value)
        .is_some_and(|v| v.major < 16)
        && !matches!(server.reserved_connections.origin, Origin::Declared)
    {
        server.reserved_connections = Sourced::tool_default(0, "PostgreSQL ≤ 15");
    }
}
