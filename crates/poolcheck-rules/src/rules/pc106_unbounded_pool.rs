use poolcheck_core::facts::pool::{ClientPool, PoolCap, PoolKind};
use poolcheck_core::facts::process::ServerKind;
use poolcheck_core::{Bound, Diagnostic, IntExpr, Location, Severity};
use poolcheck_model::facts::PgBouncerView;

use super::budget_text::{server_name, usable_explanation};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::budget::{
    ContributorKind, Count, Cpus, concurrency_noun, eval_int, factor_label, per_process,
};
use crate::topology::pgbouncer_budget::{self, Pool};
use crate::topology::{Concurrency, DatabaseServer, Service, TargetRef};

/// gevent/eventlet concurrency from which a per-request connection counts as
/// unbounded (RULES: `worker_connections` ≥ 100).
const GREEN_UNBOUNDED_FROM: u64 = 100;

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for (index, service) in ctx.deployment.services.iter().enumerate() {
        for linked in &service.pools {
            // Behind PgBouncer the client side is bounded by max_client_conn
            // (PC103) and NullPool is the recommended setting.
            let TargetRef::Server(server) = linked.target else {
                continue;
            };
            let Some(server) = ctx.deployment.servers.get(server).map(|s| (server, s)) else {
                continue;
            };
            let found = match &linked.pool.cap {
                PoolCap::Unbounded { reason, location } => Some(unbounded_cap(
                    ctx,
                    (index, service),
                    &linked.pool,
                    reason,
                    location.as_ref(),
                    server,
                )),
                PoolCap::PerConcurrency { reason } => {
                    per_request(ctx, (index, service), &linked.pool, reason, server)
                }
                PoolCap::Bounded { .. } => None,
            };
            out.extend(found);
        }
    }
    for index in 0..ctx.deployment.pgbouncers.len() {
        for pool in pgbouncer_budget::pools(ctx.deployment, index) {
            if pool.cap.value == Some(Bound::Unbounded) {
                out.extend(unbounded_pgbouncer_pool(ctx, index, &pool));
            }
        }
    }
}

/// `max_overflow = -1` or QueuePool `pool_size = 0`.
fn unbounded_cap(
    ctx: &Context<'_>,
    (index, service): (usize, &Service),
    pool: &ClientPool,
    reason: &str,
    setting: Option<&Location>,
    (server_index, server): (usize, &DatabaseServer),
) -> Diagnostic {
    let at = setting
        .cloned()
        .unwrap_or_else(|| pool.cap_location.clone());
    let message = format!(
        "{} `{}` ({}) has no per-process connection limit: {reason} ({}); {} so {} can open any number of connections to {} ({}): under load it runs into `FATAL: sorry, too many clients already`",
        pool_noun(pool),
        pool.name,
        ctx.sources.describe(&pool.location),
        ctx.sources.describe(&at),
        concurrency_clause(ctx, service),
        processes_text(ctx, service),
        server_name(server),
        usable_text(ctx, server),
    );
    let setting_name = if reason.starts_with("pool_size") {
        "pool_size"
    } else {
        "max_overflow"
    };
    let mut help = if setting_name == "pool_size" {
        "give pool_size a positive value (SQLAlchemy's default is 5; 0 means no limit)".to_owned()
    } else {
        "give max_overflow a value ≥ 0 (SQLAlchemy's default is 10; -1 means no limit)".to_owned()
    };
    if let Some(fit) = fitting_cap(ctx, server_index, index, pool) {
        help.push_str(&format!(
            "; pool_size + max_overflow ≤ {fit} per process fits the server's usable slots next to everything else"
        ));
    }
    let mut diagnostic = Diagnostic::new(RULE.meta.code, RULE.meta.severity, at, message)
        .with_label(format!("no limit: {setting_name} {}", limit_value(reason)))
        .with_help(help);
    diagnostic = with_service_related(ctx, diagnostic, service);
    with_server_related(diagnostic, server)
}

/// NullPool, Django without a pool: one connection per concurrent request,
/// and the concurrency has no useful bound.
fn per_request(
    ctx: &Context<'_>,
    (index, service): (usize, &Service),
    pool: &ClientPool,
    reason: &str,
    (server_index, server): (usize, &DatabaseServer),
) -> Option<Diagnostic> {
    let (why, outcome) = match &service.concurrency {
        Concurrency::Unbounded { reason } => (
            format!("`{}` adds no bound: {reason}", service.name),
            "a burst of requests runs into `FATAL: sorry, too many clients already`".to_owned(),
        ),
        Concurrency::Bounded(c) => {
            let class = service
                .worker_class
                .as_ref()
                .and_then(|c| c.value.as_deref())
                .unwrap_or("");
            if !(class.contains("gevent") || class.contains("eventlet")) {
                return None;
            }
            let n = eval_int(c, service, Cpus::Declared).0.known()?;
            if n < GREEN_UNBOUNDED_FROM {
                return None;
            }
            let (one, many) = concurrency_noun(service);
            let total = eval_int(&service.processes, service, Cpus::Declared)
                .0
                .known()
                .and_then(|p| p.checked_mul(service.replicas.value?.max(0) as u64))
                .and_then(|p| p.checked_mul(n));
            (
                format!(
                    "`{}` runs {class} with {} per process ({GREEN_UNBOUNDED_FROM} or more counts as unbounded)",
                    service.name,
                    factor_label(ctx.sources, c, &Count::Known(n), one, many)
                ),
                match total {
                    Some(total) => format!(
                        "up to {total} connections, set by the {many} rather than by what the database can serve"
                    ),
                    None => format!(
                        "as many connections as {many}, set by them rather than by what the database can serve"
                    ),
                },
            )
        }
    };
    let at = pool.cap_location.clone();
    let message = format!(
        "{} `{}` ({}) has no connection limit: {reason}, and {why}; {} so {} can open a connection for every request in flight to {} ({}): {outcome}",
        pool_noun(pool),
        pool.name,
        ctx.sources.describe(&pool.location),
        if pool.kind == PoolKind::DjangoAlias {
            "Django keeps one connection per thread or greenlet,"
        } else {
            "nothing queues the requests,"
        },
        processes_text(ctx, service),
        server_name(server),
        usable_text(ctx, server),
    );
    let mut help = String::from(match service.server {
        Some(ServerKind::Uvicorn) => "cap the concurrency with `--limit-concurrency N`",
        Some(ServerKind::Gunicorn | ServerKind::Celery)
            if matches!(service.concurrency, Concurrency::Bounded(_)) =>
        {
            "lower `worker_connections`/the greenlet concurrency"
        }
        _ => "cap the server's concurrency",
    });
    help.push_str(match pool.kind {
        PoolKind::DjangoAlias => {
            ", or use Django's pool (`OPTIONS[\"pool\"] = {\"max_size\": N}`, Django ≥ 5.1 with psycopg 3) or PgBouncer in transaction mode"
        }
        _ => {
            ", or use a bounded pool (QueuePool with pool_size + max_overflow = N: requests then wait for a connection) or PgBouncer in transaction mode"
        }
    });
    if let Some(fit) = fitting_cap(ctx, server_index, index, pool) {
        help.push_str(&format!(
            "; N ≤ {fit} per process fits the server's usable slots next to everything else"
        ));
    }
    let mut diagnostic = Diagnostic::new(RULE.meta.code, RULE.meta.severity, at, message)
        .with_label("a connection per request, without limit".to_owned())
        .with_help(help);
    if diagnostic.primary != pool.location {
        diagnostic = diagnostic.with_related(
            pool.location.clone(),
            format!("{} `{}`", pool_noun(pool), pool.name),
        );
    }
    diagnostic = with_service_related(ctx, diagnostic, service);
    Some(with_server_related(diagnostic, server))
}

/// PgBouncer ≥ 1.24 (or of unknown version) with `pool_size = 0` and no
/// `max_db_connections`/`max_user_connections`.
fn unbounded_pgbouncer_pool(ctx: &Context<'_>, index: usize, pool: &Pool) -> Option<Diagnostic> {
    let bouncer = &ctx.deployment.pgbouncers[index];
    let view = PgBouncerView::new(&bouncer.config);
    let setting = size_setting_name(view, pool);
    let at = pool
        .size
        .location
        .clone()
        .unwrap_or_else(|| bouncer.config.location.clone());
    let version = match view.version() {
        // Before 1.24 the view reads 0 as an empty pool, never as unbounded.
        Some(v) => format!("PgBouncer {v} reads it as unlimited (from 1.24)"),
        None => "the PgBouncer version is unknown, so 1.24 or later is assumed, where it means unlimited (before 1.24 a pool of size 0 opens no server connection at all)".to_owned(),
    };
    let pool_name = match &pool.user {
        Some(user) => format!("`{}` (user {user})", pool.database),
        None => format!("`{}`", pool.database),
    };
    let server = ctx.deployment.servers.get(pool.server)?;
    let instances = match bouncer.instances.value {
        Some(n) if n > 1 => format!(
            " in each of {}",
            ctx.sources.quote_with(&bouncer.instances, "instances")
        ),
        _ => String::new(),
    };
    let message = format!(
        "PgBouncer `{}` pool {pool_name} has no server connection limit{instances}: {setting} = 0 ({}), {version}, and no max_db_connections or max_user_connections caps it; waiting clients open server connections to {} ({}) until it refuses them with `FATAL: sorry, too many clients already`",
        bouncer.config.name,
        ctx.sources.describe(&at),
        server_name(server),
        usable_text(ctx, server),
    );
    let usable = server
        .usable()
        .map_or_else(|| "the server's usable slots".to_owned(), |u| u.to_string());
    let diagnostic = Diagnostic::new(RULE.meta.code, RULE.meta.severity, at, message)
        .with_label(format!("{setting} = 0: no limit"))
        .with_help(format!(
            "set `max_db_connections` (at most {usable} across every pool and instance) under `[pgbouncer]` or on the database entry, or give `{setting}` a positive size"
        ));
    Some(with_server_related(diagnostic, server))
}

/// Whether the pool's size comes from a `pool_size` override or `default_pool_size`.
fn size_setting_name(view: PgBouncerView<'_>, pool: &Pool) -> &'static str {
    let Some(at) = &pool.size.location else {
        return "default_pool_size";
    };
    let user = view.pool_user(&pool.database, pool.user.as_deref());
    let overridden = [
        view.database(&pool.database),
        user.and_then(|u| view.user(u)),
    ]
    .into_iter()
    .flatten()
    .filter_map(|d| d.params.get("pool_size"))
    .any(|e| e.value_location == *at);
    if overridden {
        "pool_size"
    } else {
        "default_pool_size"
    }
}

pub(super) fn pool_noun(pool: &ClientPool) -> &'static str {
    match pool.kind {
        PoolKind::SqlAlchemy => "engine",
        PoolKind::DjangoAlias | PoolKind::DjangoPool => "Django database",
        PoolKind::AsyncpgPool => "asyncpg pool",
        PoolKind::PsycopgPool => "psycopg_pool",
        PoolKind::Psycopg2Pool => "psycopg2 pool",
    }
}

fn limit_value(reason: &str) -> &'static str {
    if reason.starts_with("pool_size") {
        "= 0"
    } else {
        "= -1"
    }
}

/// `each `web` process serves at most 1 request at a time (…), ` or the
/// unbounded concurrency's reason: why the process itself does not help.
fn concurrency_clause(ctx: &Context<'_>, service: &Service) -> String {
    match &service.concurrency {
        Concurrency::Unbounded { reason } => {
            format!("`{}` adds no bound either ({reason}),", service.name)
        }
        Concurrency::Bounded(c) => {
            let (n, _) = eval_int(c, service, Cpus::Declared);
            let (one, many) = concurrency_noun(service);
            format!(
                "a `{}` process serves {} at a time, which bounds it only while no request holds several connections,",
                service.name,
                factor_label(ctx.sources, c, &n, one, many)
            )
        }
    }
}

/// `4 workers (gunicorn.conf.py:2) of `web``.
fn processes_text(ctx: &Context<'_>, service: &Service) -> String {
    let (processes, _) = eval_int(&service.processes, service, Cpus::Declared);
    let (one, many) = crate::topology::budget::process_noun(service);
    let label = factor_label(ctx.sources, &service.processes, &processes, one, many);
    let replicas = service.replicas.value.unwrap_or(1);
    if replicas > 1 {
        format!(
            "{} × {label} of `{}`",
            ctx.sources.quote_with(&service.replicas, "replicas"),
            service.name
        )
    } else {
        format!("{label} of `{}`", service.name)
    }
}

fn usable_text(ctx: &Context<'_>, server: &DatabaseServer) -> String {
    match server.usable() {
        Some(u) => format!("{u} usable: {}", usable_explanation(server, ctx.sources)),
        None => "unknown".to_owned(),
    }
}

/// The largest per-process cap for `pool` that keeps the server's demand
/// within its usable slots, when everything else is known.
fn fitting_cap(
    ctx: &Context<'_>,
    server: usize,
    service_index: usize,
    pool: &ClientPool,
) -> Option<u64> {
    let budget = ctx.budget.servers.iter().find(|b| b.server == server)?;
    let usable = u64::try_from(budget.usable?).ok()?;
    let mut others = 0u64;
    for c in &budget.contributors {
        if c.kind == ContributorKind::Service && c.index == service_index {
            continue;
        }
        others = others.checked_add(c.term.count.known()?)?;
    }
    let service = &ctx.deployment.services[service_index];
    let mut same_process = 0u64;
    for linked in &service.pools {
        if linked.target != TargetRef::Server(server) || linked.pool.location == pool.location {
            continue;
        }
        let term = per_process(&linked.pool, service, Cpus::Declared, ctx.sources);
        same_process = same_process.checked_add(term.count.known()?)?;
    }
    let replicas = eval_int(
        &service.replicas.clone().map(IntExpr::Const),
        service,
        Cpus::Declared,
    )
    .0
    .known()?;
    let processes = eval_int(&service.processes, service, Cpus::Declared)
        .0
        .known()?;
    let multiplier = replicas.checked_mul(processes)?;
    let per_process = usable.saturating_sub(others).checked_div(multiplier)?;
    let fit = per_process.saturating_sub(same_process);
    (fit > 0).then_some(fit)
}

fn with_service_related(
    ctx: &Context<'_>,
    mut diagnostic: Diagnostic,
    service: &Service,
) -> Diagnostic {
    let (processes, _) = eval_int(&service.processes, service, Cpus::Declared);
    let (one, many) = crate::topology::budget::process_noun(service);
    if let Some(at) = service
        .processes
        .location
        .clone()
        .or_else(|| service.location.clone())
    {
        diagnostic = diagnostic.with_related(
            at,
            factor_label(ctx.sources, &service.processes, &processes, one, many),
        );
    }
    match &service.concurrency {
        Concurrency::Bounded(c) => {
            if let Some(at) = &c.location {
                let (n, _) = eval_int(c, service, Cpus::Declared);
                let (one, many) = concurrency_noun(service);
                diagnostic = diagnostic.with_related(
                    at.clone(),
                    format!(
                        "{} per process",
                        factor_label(ctx.sources, c, &n, one, many)
                    ),
                );
            }
        }
        Concurrency::Unbounded { reason } => {
            if let Some(at) = &service.location {
                diagnostic = diagnostic.with_related(at.clone(), reason.clone());
            }
        }
    }
    diagnostic
}

fn with_server_related(diagnostic: Diagnostic, server: &DatabaseServer) -> Diagnostic {
    match server
        .max_connections
        .location
        .clone()
        .or_else(|| server.location.clone())
    {
        Some(at) => diagnostic.with_related(
            at,
            format!(
                "max_connections = {}",
                server
                    .max_connections
                    .value
                    .map_or_else(|| "?".to_owned(), |v| v.to_string())
            ),
        ),
        None => diagnostic,
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC106,
        name: "unbounded-pool",
        severity: Severity::Warning,
        summary: "Nothing bounds the connections a process, or a PgBouncer pool, can open to PostgreSQL.",
        fix: FixAvailability::None,
        what_it_does: "Reports every per-process cap that is unbounded for a client connecting \
directly to PostgreSQL: SQLAlchemy's `max_overflow=-1` or QueuePool `pool_size=0` (both mean \"no \
limit\"), and a pool that opens one connection per request (`NullPool`, Django without \
`OPTIONS[\"pool\"]`) under unbounded concurrency: an ASGI server or worker without \
`--limit-concurrency`, or gevent/eventlet with `worker_connections` (or celery gevent \
concurrency) of 100 or more. It also reports a PgBouncer pool whose `pool_size`/`default_pool_size` \
is 0, which PgBouncer 1.24 and later reads as unlimited, when no `max_db_connections` or \
`max_user_connections` caps it; when the PgBouncer version is unknown, 1.24 or later is assumed \
and the message says so. The connection budget (PC101) cannot be checked for such a server, so \
this rule is what reports it, naming the pool, the service and why its concurrency is unbounded. \
Clients behind PgBouncer are not reported: `max_client_conn` bounds them (PC103) and `NullPool` is \
the recommended setting there.",
        why: "An unbounded pool turns a burst of requests into a burst of connections: PostgreSQL \
refuses those beyond its limit with `FATAL: sorry, too many clients already`, for every \
application that shares the server. SQLAlchemy's documentation calls the pool \"a safety valve\" \
and warns that unlimited overflow \"does not actually solve the underlying issue … can also \
interfere with other applications\". Under gevent, a Django process opens a connection per \
greenlet (\"I see DB connections going high based on the number of concurrent request\", \
django-db-connection-pool#51).",
        example: "```sh\n# Procfile\nweb: uvicorn app.main:app --host 0.0.0.0 --workers 2\n```\n\n\
```python\n# app/db.py\nengine = create_async_engine(DATABASE_URL, poolclass=NullPool)\n```",
        fix_text: "Bound every process: a QueuePool with `pool_size + max_overflow` sized to the \
budget (the help line gives the largest that fits), uvicorn `--limit-concurrency`, fewer \
gevent `worker_connections`, or PgBouncer in transaction mode in front of the server. For \
PgBouncer, set `max_db_connections` or a positive pool size.",
        references: &[
            "SQLAlchemy `max_overflow`, `pool_size` (\"0 indicates no limit\"), and error `3o7r`: <https://docs.sqlalchemy.org/en/20/core/engines.html#sqlalchemy.create_engine.params.max_overflow>, <https://docs.sqlalchemy.org/en/20/errors.html#error-3o7r>",
            "PgBouncer `default_pool_size` (0 = no limit from 1.24, pgbouncer/pgbouncer#1227) and `max_db_connections`: <https://www.pgbouncer.org/config.html>",
            "uvicorn `--limit-concurrency`: <https://www.uvicorn.org/settings/#resource-limits>",
            "altairbow/django-db-connection-pool#51 (gevent workers and per-request connections): <https://github.com/altairbow/django-db-connection-pool/issues/51>",
            "cityofaustin/joplin#529 (pull request): <https://github.com/cityofaustin/joplin/pull/529>",
            "benoitc/gunicorn#996 (issue): <https://github.com/benoitc/gunicorn/issues/996>",
        ],
    },
    check: Some(check),
};
