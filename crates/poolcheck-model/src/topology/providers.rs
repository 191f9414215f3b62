//! Managed PostgreSQL in the deployment model: a provider's documented
//! limits applied to a server (Terraform's, lowered in `lower::terraform`,
//! or the provider and size `[database]` declares), and the poolers providers run
//! (Supavisor, Neon's PgBouncer, Azure's built-in PgBouncer, RDS Proxy…),
//! recognised from a client's host and modelled as PgBouncers so that every
//! PgBouncer rule applies to them.

use std::collections::BTreeMap;

use poolcheck_core::facts::pgbouncer::PgBouncerConfig;
use poolcheck_core::facts::pool::Target;
use poolcheck_core::facts::providers::{
    DocumentedSetting, PoolerKind, Provider, ServerLimits, recognise_host, supabase_size,
};
use poolcheck_core::facts::terraform::{TfPooler, TfPoolerKind};
use poolcheck_core::value::ASSUMPTION;
use poolcheck_core::{Location, Origin, Sourced};

use super::{DatabaseServer, PgBouncer};

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
    declared_pools: &[TfPooler],
) -> PgBouncer {
    let (mode, size) = if kind == PoolerKind::DigitalOceanPool {
        digitalocean_pool(declared_pools)
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
fn digitalocean_pool(declared_pools: &[TfPooler]) -> (Option<String>, Option<i64>) {
    let pools: Vec<_> = declared_pools
        .iter()
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
