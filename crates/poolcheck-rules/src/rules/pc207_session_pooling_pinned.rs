use std::collections::BTreeMap;

use poolcheck_core::facts::pool::{ClientPool, PoolKind};
use poolcheck_core::{Bound, Diagnostic, Severity, Sourced};
use poolcheck_model::facts::{PgBouncerView, PoolMode};

use super::budget_text::{add_related, totals_text};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::budget::{Contribution, ContributorKind, Count, Cpus, service_term};
use crate::topology::{LinkedPool, PgBouncer, Service, TargetRef};

/// The clients of one PgBouncer pool: a (database, pool user) pair.
#[derive(Default)]
struct PoolClients<'a> {
    /// Per service: the service index and its pools that land in this pool.
    services: Vec<(usize, Vec<&'a LinkedPool>)>,
}

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for (index, bouncer) in ctx.deployment.pgbouncers.iter().enumerate() {
        let view = PgBouncerView::new(&bouncer.config);
        let mut pools: BTreeMap<(String, Option<String>), PoolClients<'_>> = BTreeMap::new();
        for (s, service) in ctx.deployment.services.iter().enumerate() {
            for linked in &service.pools {
                let TargetRef::PgBouncer { index: i, database } = &linked.target else {
                    continue;
                };
                if *i != index {
                    continue;
                }
                let user = linked
                    .pool
                    .target
                    .value
                    .as_ref()
                    .and_then(|t| t.user.as_deref());
                if view.effective_pool_mode(database, user).value != Some(PoolMode::Session) {
                    continue;
                }
                let key = (
                    database.clone(),
                    view.pool_user(database, user).map(str::to_owned),
                );
                let entry = pools.entry(key).or_default();
                match entry.services.iter_mut().find(|(i, _)| *i == s) {
                    Some((_, list)) => list.push(linked),
                    None => entry.services.push((s, vec![linked])),
                }
            }
        }
        for ((database, user), clients) in &pools {
            if let Some(d) = pinned(
                ctx,
                index,
                bouncer,
                view,
                database,
                user.as_deref(),
                clients,
            ) {
                out.push(d);
            }
        }
    }
}

fn pinned(
    ctx: &Context<'_>,
    index: usize,
    bouncer: &PgBouncer,
    view: PgBouncerView<'_>,
    database: &str,
    user: Option<&str>,
    clients: &PoolClients<'_>,
) -> Option<Diagnostic> {
    let sources = ctx.sources;
    let mut holders: Vec<(&ClientPool, String)> = Vec::new();
    for (_, pools) in &clients.services {
        for linked in pools {
            if let Some(how) = holds_connections(&linked.pool)
                && !holders
                    .iter()
                    .any(|(p, _)| p.location == linked.pool.location)
            {
                holders.push((&linked.pool, how));
            }
        }
    }
    if holders.is_empty() {
        return None;
    }

    let target = TargetRef::PgBouncer {
        index,
        database: database.to_owned(),
    };
    let mut contributions = Vec::new();
    let mut demand = Count::Known(0);
    for (s, pools) in &clients.services {
        let service: &Service = &ctx.deployment.services[*s];
        let only_this_pool = Service {
            pools: pools.iter().map(|p| (*p).clone()).collect(),
            ..service.clone()
        };
        if let Some((term, primary)) =
            service_term(&only_this_pool, &target, Cpus::Declared, sources)
        {
            demand = demand.plus(term.count.clone());
            contributions.push(Contribution {
                kind: ContributorKind::Service,
                name: service.name.clone(),
                index: *s,
                term,
                primary,
            });
        }
    }
    let Count::Known(demand) = demand else {
        return None;
    };

    let cap = view.server_connection_cap(database, user);
    let Some(Bound::Finite(per_instance)) = cap.value else {
        return None;
    };
    let instances = bouncer.instances.value.unwrap_or(1).max(1) as u64;
    let servers = per_instance.saturating_mul(instances);
    if demand <= servers {
        return None;
    }

    let mode = view.effective_pool_mode(database, user);
    let size = view.effective_pool_size(database, user);
    let reserve = view.effective_reserve_pool_size(database, user);
    let size_name = if size.location.is_some() && size.location == view.default_pool_size().location
        || size.location.is_none()
    {
        "default_pool_size"
    } else {
        "pool_size"
    };
    // The message says the totals and the limits in words; every factor and
    // setting, with its location, is a note.
    let mut pool_text = format!("{size_name} {}", size.value.unwrap_or_default());
    if let Some(r) = reserve.value.filter(|r| *r > 0) {
        pool_text = format!("{pool_text}; reserve_pool_size {r}");
    }
    if size
        .value
        .zip(reserve.value)
        .is_some_and(|(s, r)| (s + r.max(0)) as u64 > per_instance)
    {
        pool_text = format!(
            "{pool_text}; capped at {per_instance} by max_db_connections/max_user_connections"
        );
    }
    if instances > 1 {
        pool_text = format!("{pool_text}; × {instances} instances");
    }
    let holders_text = holders
        .iter()
        .map(|(pool, how)| format!("`{}` {how}", pool.name))
        .collect::<Vec<_>>()
        .join(", ");
    let demand_text = if contributions.len() == 1 {
        totals_text(&contributions)
    } else {
        format!("{demand} ({})", totals_text(&contributions))
    };
    let wait = view.query_wait_timeout();
    let user_text = user.map(|u| format!(" (user `{u}`)")).unwrap_or_default();
    let message = format!(
        "PgBouncer `{}` database `{database}`{user_text} pools in session mode and its clients \
keep their connections open ({holders_text}): {demand_text} client connections > {servers} server \
connections ({pool_text}); each idle client pins a server connection and the others wait \
`query_wait_timeout` ({} s) and are disconnected",
        bouncer.config.name,
        wait.value.map_or_else(|| "?".to_owned(), |w| w.to_string()),
    );
    let primary = mode
        .location
        .clone()
        .unwrap_or_else(|| bouncer.config.location.clone());
    let mut d = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary.clone(), message)
        .with_label(format!(
            "{demand} clients share {servers} server connections"
        ))
        .with_help(
            "use `pool_mode = transaction` for this database (check the other PC2 rules \
first: prepared statements, server-side cursors and session state must not rely on one \
server connection), or use `poolclass=NullPool` / `CONN_MAX_AGE = 0` in the applications so \
connections return to PgBouncer after each request",
        );
    for (pool, how) in &holders {
        if pool.location != primary {
            d = d.with_related(pool.location.clone(), format!("`{}` {how}", pool.name));
        }
    }
    if let Some(at) = size.location.clone() {
        d = d.with_related(
            at,
            format!("{size_name} = {}", size.value.unwrap_or_default()),
        );
    }
    Some(add_related(d, &contributions, None))
}

/// Why a client keeps its connections open between requests, if it does.
fn holds_connections(pool: &ClientPool) -> Option<String> {
    match pool.kind {
        PoolKind::SqlAlchemy => {
            let class = pool.settings.pool_class.as_ref()?.value.as_deref()?;
            class
                .ends_with("QueuePool")
                .then(|| format!("keeps idle connections in its {class}"))
        }
        PoolKind::DjangoPool => Some("keeps its connection pool open".to_owned()),
        PoolKind::DjangoAlias => {
            let age = django_conn_max_age(pool)?;
            match age.value {
                Some(Some(0)) | None => None,
                Some(None) => Some("keeps connections open (`CONN_MAX_AGE = None`)".to_owned()),
                Some(Some(seconds)) => Some(format!(
                    "keeps connections open for {seconds} s (`CONN_MAX_AGE`)"
                )),
            }
        }
        _ => None,
    }
}

/// Django `CONN_MAX_AGE` of the alias (`Some(None)` for unlimited). The Django
/// front-end does not record it yet: it needs a `PoolSettings` field
/// `conn_max_age: Option<Sourced<Option<i64>>>`. Until then Django aliases
/// without a pool are not counted as holding connections.
fn django_conn_max_age(pool: &ClientPool) -> Option<Sourced<Option<i64>>> {
    pool.settings
        .django
        .as_ref()
        .map(|d| d.conn_max_age.clone())
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC207,
        name: "session-pooling-pinned",
        severity: Severity::Warning,
        summary: "Clients that hold connections open outnumber a session-mode PgBouncer pool.",
        fix: FixAvailability::None,
        what_it_does: "For each PgBouncer pool — a (database, user) pair — whose effective \
`pool_mode` is `session` (PgBouncer's default), checks whether its clients keep connections \
open between requests (SQLAlchemy `QueuePool`/`AsyncAdaptedQueuePool`, Django \
`CONN_MAX_AGE` ≠ 0, Django `OPTIONS[\"pool\"]`) and whether the client connections they can \
open (replicas × processes × per-process cap, as in the budget) exceed the pool's server \
connections (`pool_size` or `default_pool_size`, plus `reserve_pool_size`, capped by \
`max_db_connections`/`max_user_connections`, × instances).",
        why: "In session pooling a client keeps its server connection until it disconnects. An \
application pool that keeps idle connections open therefore pins PgBouncer's server \
connections even when it does nothing; once they are all pinned, other clients queue and are \
disconnected after `query_wait_timeout` (120 s by default) with `query_wait_timeout` in \
PgBouncer's log. PgBouncer then adds nothing but a limit.",
        example: "```ini\n[pgbouncer]\npool_mode = session\ndefault_pool_size = 20\nmax_client_conn = 500\n```\n\n\
8 gunicorn workers × (pool_size 5 + max_overflow 10) = 120 client connections into a pool of 20.",
        fix_text: "Switch the database to `pool_mode = transaction` when the applications allow \
it (see PC201–PC209), or stop holding connections in the applications (`poolclass=NullPool`, \
`CONN_MAX_AGE = 0`), or enlarge the PgBouncer pool to the client demand — which removes the \
point of PgBouncer for this database.",
        references: &[
            "PgBouncer `pool_mode` and `query_wait_timeout`: <https://www.pgbouncer.org/config.html#pool_mode>",
            "autobase-tech/autobase#89 (both causes explained): <https://github.com/autobase-tech/autobase/issues/89>",
            "Reproduced against PostgreSQL 15 and PgBouncer 1.18 by `verify/scenarios/PC207-session-pooling-pinned-by-queuepool` (`verify/run PC207`)",
        ],
    },
    check: Some(check),
};
