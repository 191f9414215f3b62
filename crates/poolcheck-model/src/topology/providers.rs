//! Managed PostgreSQL in the deployment model: servers that Terraform
//! declares (with the provider's documented limit for their size), the
//! provider and size `[database]` declares, and the poolers providers run
//! (Supavisor, Neon's PgBouncer, Azure's built-in PgBouncer, RDS Proxy…),
//! recognised from a client's host and modelled as PgBouncers so that every
//! PgBouncer rule applies to them.

use std::collections::BTreeMap;

use poolcheck_core::facts::pgbouncer::PgBouncerConfig;
use poolcheck_core::facts::pool::Target;
use poolcheck_core::facts::providers::{
    DocumentedSetting, PoolerKind, Provider, ServerLimits, rds_memory_gib, recognise_host,
    server_limits, supabase_size,
};
use poolcheck_core::facts::terraform::{TfPoolerKind, TfServer, TfSetting};
use poolcheck_core::value::ASSUMPTION;
use poolcheck_core::{Location, Origin, Sourced};

use super::{DatabaseServer, PgBouncer};
use crate::workspace::Workspace;

/// The managed service behind a server, and the size that decided its limit.
#[derive(Debug, Clone)]
pub struct ProviderInfo {
    pub provider: Provider,
    pub size: Option<Sourced<String>>,
    /// True when `max_connections` is the provider's documented default for
    /// the size (not declared, not set in a parameter group).
    pub limit_from_table: bool,
}

/// A provider's documented limits applied to a server: `max_connections`
/// unless something stronger set it, and the provider's reserve.
pub fn apply_limits(
    server: &mut DatabaseServer,
    limits: &ServerLimits,
    size: Option<&Sourced<String>>,
) {
    let at = size.and_then(|s| s.location.clone());
    let tool = |text: String| Origin::ToolDefault {
        tool: format!("{ASSUMPTION}{text}"),
    };
    let mut from_table = false;
    if let Some(max) = limits.max_connections {
        server.max_connections = Sourced::with_origin(max, tool(limits.provenance()), at.clone());
        from_table = true;
    }
    server.superuser_reserved_connections = Sourced::with_origin(
        limits.superuser_reserved,
        tool(format!(
            "{} sets superuser_reserved_connections = {}",
            limits.provider.display_name(),
            limits.superuser_reserved
        )),
        None,
    );
    if limits.provider_reserve > 0 {
        server.provider_reserve = Some(Sourced::with_origin(
            limits.provider_reserve,
            tool(format!(
                "{}; override with [database] provider_reserve",
                limits.reserve_reason
            )),
            None,
        ));
    }
    server.provider = Some(ProviderInfo {
        provider: limits.provider,
        size: size.cloned(),
        limit_from_table: from_table,
    });
}

/// The servers Terraform declares, each with its provider's limit for its
/// size, or the `max_connections` a parameter group, configuration or flag
/// sets.
pub fn terraform_servers(workspace: &Workspace) -> Vec<DatabaseServer> {
    let files: Vec<_> = workspace
        .facts
        .iter()
        .filter_map(|f| f.terraform.as_ref())
        .collect();
    let settings: Vec<&TfSetting> = files.iter().flat_map(|f| &f.settings).collect();
    let mut out = Vec::new();
    let with_paths: Vec<_> = workspace
        .facts
        .iter()
        .filter_map(|f| Some((f.path.as_path().parent(), f.terraform.as_ref()?)))
        .collect();
    for (directory, file) in &with_paths {
        for declared in &file.servers {
            // A module's variables live in any of its files (variables.tf).
            let mut declared = declared.clone();
            if let Some(variable) = &declared.size_variable {
                let default = with_paths
                    .iter()
                    .filter(|(d, _)| d == directory)
                    .flat_map(|(_, f)| &f.variables)
                    .find(|(name, _)| name == variable);
                if let Some((_, value)) = default {
                    declared.size = Sourced::with_origin(
                        value.value.clone().unwrap_or_default(),
                        Origin::Computed {
                            expr: format!("default of var.{variable}"),
                        },
                        value.location.clone(),
                    );
                }
            }
            out.push(terraform_server(&declared, &settings));
        }
    }
    out
}

fn terraform_server(declared: &TfServer, settings: &[&TfSetting]) -> DatabaseServer {
    {
        let mut server = super::assemble::described_server(&declared.address);
        server.location = Some(declared.location.clone());
        let size = declared.size.value.as_deref();
        match server_limits(declared.provider, size) {
            Ok(limits) => apply_limits(&mut server, &limits, Some(&declared.size)),
            Err(problem) => {
                server.provider = Some(ProviderInfo {
                    provider: declared.provider,
                    size: Some(declared.size.clone()),
                    limit_from_table: false,
                });
                server.max_connections = Sourced::unknown(problem, declared.size.location.clone());
            }
        }
        if size.is_none() {
            let reason = format!(
                "{} size of {}: {}; declare [database] max_connections",
                declared.provider.display_name(),
                declared.address,
                declared.size.unknown_reason().unwrap_or("unknown")
            );
            server.max_connections = Sourced::unknown(reason, declared.size.location.clone());
        }
        let setting = declared.max_connections.as_ref().or_else(|| {
            settings
                .iter()
                .find(|s| configures(s, declared))
                .map(|s| &s.max_connections)
        });
        if let Some(setting) = setting {
            server.max_connections = setting_value(setting, declared);
            if let Some(info) = &mut server.provider {
                info.limit_from_table = false;
            }
        }
        server
    }
}

/// True when `setting` belongs to `server`: a parameter group the instance
/// names (by address or literal name), or a configuration whose server_id
/// refers to it.
fn configures(setting: &TfSetting, server: &TfServer) -> bool {
    if let Some(target) = &setting.server {
        return *target == server.address;
    }
    server
        .refers_to
        .iter()
        .any(|r| *r == setting.address || setting.name.as_deref() == Some(r.as_str()))
}

/// A `max_connections` written in Terraform: an integer, RDS's
/// `{DBInstanceClassMemory/N}` formula (computed from the instance's
/// size), or unknown with the reason.
fn setting_value(value: &Sourced<String>, server: &TfServer) -> Sourced<i64> {
    let Some(text) = value.value.as_deref() else {
        return Sourced::unknown(
            value.unknown_reason().unwrap_or("unknown").to_owned(),
            value.location.clone(),
        );
    };
    if let Ok(n) = text.trim().parse::<i64>() {
        return Sourced::with_origin(n, value.origin.clone(), value.location.clone());
    }
    match rds_formula(text, server.size.value.as_deref()) {
        Ok((n, expr)) => Sourced::computed(n, expr, value.location.clone()),
        Err(reason) => Sourced::unknown(reason, value.location.clone()),
    }
}

/// `{DBInstanceClassMemory/9531392}` or `LEAST({DBInstanceClassMemory/9531392},5000)`.
fn rds_formula(text: &str, class: Option<&str>) -> Result<(i64, String), String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (inner, cap) = match compact
        .strip_prefix("LEAST(")
        .and_then(|r| r.strip_suffix(')'))
    {
        Some(args) => {
            let (formula, cap) = args
                .rsplit_once(',')
                .ok_or_else(|| format!("`{text}` is not a formula poolcheck evaluates"))?;
            let cap: i64 = cap
                .parse()
                .map_err(|_| format!("`{text}` is not a formula poolcheck evaluates"))?;
            (formula.to_owned(), Some(cap))
        }
        None => (compact.clone(), None),
    };
    let divisor: i64 = inner
        .strip_prefix("{DBInstanceClassMemory/")
        .and_then(|r| r.strip_suffix('}'))
        .and_then(|d| d.parse().ok())
        .filter(|d| *d > 0)
        .ok_or_else(|| {
            format!(
                "`{text}` is not a formula poolcheck evaluates; declare [database] max_connections"
            )
        })?;
    let Some(class) = class else {
        return Err(format!(
            "`{text}` depends on the instance's memory, and its instance class is unknown"
        ));
    };
    let gib = rds_memory_gib(class).ok_or_else(|| {
        format!("`{text}` depends on the instance's memory, and {class} is not in poolcheck's table of RDS classes")
    })?;
    let mut n = gib.saturating_mul(1 << 30) / divisor;
    if let Some(cap) = cap {
        n = n.min(cap);
    }
    Ok((
        n,
        format!("{text} with {gib} GiB ({class}; RDS counts a little less memory)"),
    ))
}

/// The provider pooler a client target reaches, recognised from its host
/// and port (or Heroku's pooled URL variable); `None` for any other host.
pub fn pooler_for(target: &Target, expression: Option<&str>) -> Option<PoolerKind> {
    if expression.is_some_and(|e| e.contains("DATABASE_CONNECTION_POOL_URL")) {
        return Some(PoolerKind::HerokuPooling);
    }
    recognise_host(target.host.as_deref()?, target.port)?.pooler
}

/// The provider a direct host belongs to.
pub fn provider_of_host(host: &str, port: Option<u16>) -> Option<Provider> {
    recognise_host(host, port).map(|m| m.provider)
}

/// Builds the PgBouncer that stands for a provider's pooler. `host` is the
/// client's host (its alias), `reached_at` where the client names it, and
/// `server` the server behind it (for pool limits that depend on its size).
pub fn provider_pgbouncer(
    kind: PoolerKind,
    host: &str,
    reached_at: Location,
    server: Option<&DatabaseServer>,
    workspace: &Workspace,
) -> PgBouncer {
    let (mode, size) = if kind == PoolerKind::DigitalOceanPool {
        digitalocean_pool(workspace)
    } else {
        (None, None)
    };
    let mut spec = kind.spec(mode.as_deref(), size);
    let server_size = server
        .and_then(|s| s.provider.as_ref())
        .filter(|p| p.provider == spec.provider)
        .and_then(|p| p.size.as_ref())
        .and_then(|s| s.value.clone());
    let max_connections = server.and_then(|s| s.max_connections.value);
    for setting in &mut spec.settings {
        fill_from_server(kind, setting, server_size.as_deref(), max_connections);
    }
    let name = format!("{} at {host}", spec.label);
    PgBouncer {
        config: PgBouncerConfig {
            name,
            location: reached_at,
            settings: BTreeMap::new(),
            databases: Vec::new(),
            users: Vec::new(),
            version: None,
            instances: None,
            host_aliases: vec![host.to_owned()],
            provider: Some(spec),
        },
        from_file: false,
        instances: Sourced::tool_default(1, "poolcheck (a provider's pooler counts once)"),
        version: None,
    }
}

/// Limits that the provider documents per server size.
fn fill_from_server(
    kind: PoolerKind,
    setting: &mut DocumentedSetting,
    size: Option<&str>,
    max_connections: Option<i64>,
) {
    match (kind, setting.key) {
        (PoolerKind::SupavisorTransaction | PoolerKind::SupavisorSession, "max_client_conn") => {
            if let Some((_, clients)) = size.and_then(supabase_size) {
                setting.value = Some(clients.to_string());
                setting.note = format!(
                    "Supabase's pooler client limit for compute size {}",
                    size.unwrap_or("")
                );
            }
        }
        (PoolerKind::NeonPooler, "default_pool_size") => {
            if let Some(max) = max_connections {
                let pool = max * 9 / 10;
                setting.value = Some(pool.to_string());
                setting.note = format!("90% of the compute's max_connections {max}");
            }
        }
        _ => {}
    }
}

/// The mode and size of the DigitalOcean pool Terraform declares, when it
/// declares exactly one.
fn digitalocean_pool(workspace: &Workspace) -> (Option<String>, Option<i64>) {
    let pools: Vec<_> = workspace
        .facts
        .iter()
        .filter_map(|f| f.terraform.as_ref())
        .flat_map(|t| &t.poolers)
        .filter(|p| p.kind == TfPoolerKind::DigitalOceanPool)
        .collect();
    match pools.as_slice() {
        [pool] => (
            pool.mode.as_ref().and_then(|m| m.value.clone()),
            pool.size.as_ref().and_then(|s| s.value),
        ),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_formulas_are_computed_from_the_class() {
        let (n, _) = rds_formula("{DBInstanceClassMemory/9531392}", Some("db.r6g.large"))
            .expect("evaluates");
        assert_eq!(n, 1802);
        let (n, _) = rds_formula(
            "LEAST({DBInstanceClassMemory/9531392}, 1000)",
            Some("db.r6g.large"),
        )
        .expect("evaluates");
        assert_eq!(n, 1000);
        let error = rds_formula("{DBInstanceClassMemory/9531392}", None).expect_err("no class");
        assert!(error.contains("instance class is unknown"), "{error}");
        assert!(rds_formula("GREATEST(1,2)", Some("db.r6g.large")).is_err());
    }

    #[test]
    fn heroku_pooling_is_recognised_by_its_variable() {
        let target = Target::default();
        assert_eq!(
            pooler_for(
                &target,
                Some("os.environ[\"DATABASE_CONNECTION_POOL_URL\"]")
            ),
            Some(PoolerKind::HerokuPooling)
        );
        assert_eq!(
            pooler_for(&target, Some("os.environ[\"DATABASE_URL\"]")),
            None
        );
    }
}
