use poolcheck_core::facts::pool::{ClientPool, PoolCap, PoolKind};
use poolcheck_core::facts::process::ServerKind;
use poolcheck_core::{Diagnostic, IntExpr, Severity, Sourced};

use super::budget_text::server_name;
use super::pc106_unbounded_pool::pool_noun;
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::sources::Sources;
use crate::topology::budget::{Count, Cpus, concurrency_noun, eval_int, factor_label, per_process};
use crate::topology::{Concurrency, Deployment, LinkedPool, Service, TargetRef};

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for service in &ctx.deployment.services {
        let Concurrency::Bounded(concurrency) = &service.concurrency else {
            continue;
        };
        let Count::Known(concurrency_n) = eval_int(concurrency, service, Cpus::Declared).0 else {
            continue;
        };
        for linked in &service.pools {
            if let Some(d) = finding(ctx, service, linked, concurrency, concurrency_n) {
                out.push(d);
            }
        }
    }
}

fn finding(
    ctx: &Context<'_>,
    service: &Service,
    linked: &LinkedPool,
    concurrency: &Sourced<IntExpr>,
    concurrency_n: u64,
) -> Option<Diagnostic> {
    let pool = &linked.pool;
    // A bare `connect()` is one connection by design, not a pool that queues.
    if pool.single_connection {
        return None;
    }
    let PoolCap::Bounded { size, overflow } = &pool.cap else {
        return None;
    };
    let term = per_process(pool, service, Cpus::Declared, ctx.sources);
    let Count::Known(cap) = term.count else {
        return None;
    };
    if cap == 0 || concurrency_n <= cap {
        return None;
    }
    let size_n = eval_int(size, service, Cpus::Declared).0.known()?;
    let overflow_n = match overflow {
        Some(o) => Some(eval_int(o, service, Cpus::Declared).0.known()?),
        None => None,
    };

    let (one, many) = concurrency_noun(service);
    let concurrency_text = factor_label(
        ctx.sources,
        concurrency,
        &Count::Known(concurrency_n),
        one,
        many,
    );
    let class = service
        .worker_class
        .as_ref()
        .and_then(|c| c.value.as_deref());
    let is_celery = service.server == Some(ServerKind::Celery);
    let runs = match class {
        Some(class) if is_celery => format!("`{}` (celery {class} pool)", service.name),
        Some(class) => format!("`{}` ({class} workers)", service.name),
        None => format!("`{}`", service.name),
    };
    let work = if is_celery { "tasks" } else { "requests" };
    let failure = failure_text(ctx.sources, pool, size_n, overflow_n);
    let message = format!(
        "{runs} serves {concurrency_text} per process, but {} `{}` ({}) holds at most {} = {cap} connections per process: beyond {cap} concurrent {work} {failure}",
        pool_noun(pool),
        pool.name,
        ctx.sources.describe(&pool.location),
        term.quoted,
    );
    let mut diagnostic = Diagnostic::new(
        RULE.meta.code,
        RULE.meta.severity,
        pool.cap_location.clone(),
        message,
    )
    .with_label(format!("{cap} connections < {concurrency_n} {many}"))
    .with_help(help(
        ctx,
        service,
        linked,
        concurrency_n,
        cap,
        overflow_n.is_some(),
    ));
    let concurrency_at = concurrency
        .location
        .clone()
        .or_else(|| service.location.clone());
    if let Some(at) = concurrency_at {
        diagnostic = diagnostic.with_related(at, format!("{concurrency_text} per process"));
    }
    for factor in &term.factors {
        if let Some(at) = &factor.location
            && *at != diagnostic.primary
        {
            diagnostic = diagnostic.with_related(at.clone(), factor.label.clone());
        }
    }
    if let Some(timeout) = wait_setting(pool)
        && let Some(at) = &timeout.location
    {
        diagnostic = diagnostic.with_related(
            at.clone(),
            format!(
                "{} = {}",
                wait_setting_name(pool),
                timeout.value.unwrap_or_default()
            ),
        );
    }
    Some(diagnostic)
}

/// The setting that decides how long a request waits for a free connection.
fn wait_setting(pool: &ClientPool) -> Option<&Sourced<f64>> {
    match pool.kind {
        PoolKind::SqlAlchemy => pool.settings.pool_timeout.as_ref(),
        PoolKind::DjangoPool | PoolKind::PsycopgPool => pool.settings.timeout.as_ref(),
        _ => None,
    }
}

fn wait_setting_name(pool: &ClientPool) -> &'static str {
    if pool.kind == PoolKind::SqlAlchemy {
        "pool_timeout"
    } else {
        "timeout"
    }
}

/// What the request beyond the cap sees, with the error text its library
/// raises, filled with the configured numbers.
fn failure_text(sources: &Sources, pool: &ClientPool, size: u64, overflow: Option<u64>) -> String {
    // Both libraries default to 30 s; an unknown value is shown as unknown.
    let timeout = wait_setting(pool);
    let seconds = match timeout {
        Some(t) => t.value.map(|v| format!("{v:.2}")),
        None => Some("30.00".to_owned()),
    }
    .unwrap_or_else(|| "T".to_owned());
    let waited = timeout.map_or_else(
        || "30 s".to_owned(),
        |t| sources.quote(t, |v| format!("{v} s")),
    );
    match pool.kind {
        PoolKind::SqlAlchemy => format!(
            "wait pool_timeout {waited} and then fail with `QueuePool limit of size {size} overflow {} reached, connection timed out, timeout {seconds}` (sqlalchemy.exc.TimeoutError)",
            overflow.unwrap_or(0)
        ),
        PoolKind::DjangoPool | PoolKind::PsycopgPool => format!(
            "wait timeout {waited} and then fail with `psycopg_pool.PoolTimeout: couldn't get a connection after {seconds} sec`"
        ),
        PoolKind::Psycopg2Pool => {
            "fail at once with `psycopg2.pool.PoolError: connection pool exhausted`".to_owned()
        }
        PoolKind::AsyncpgPool | PoolKind::DjangoAlias => {
            "queue in `acquire()`, which waits without a timeout unless one is passed".to_owned()
        }
    }
}

/// How to close the gap, and what raising the pool costs in the budget.
fn help(
    ctx: &Context<'_>,
    service: &Service,
    linked: &LinkedPool,
    concurrency: u64,
    cap: u64,
    has_overflow: bool,
) -> String {
    let missing = concurrency - cap;
    let (_, many) = concurrency_noun(service);
    let mut text = if has_overflow {
        format!(
            "raise max_overflow by {missing} so that pool_size + max_overflow ≥ {concurrency}, or lower the {many} per process to {cap}"
        )
    } else {
        format!("raise max_size to {concurrency}, or lower the {many} per process to {cap}")
    };
    let replicas = eval_int(
        &service.replicas.clone().map(IntExpr::Const),
        service,
        Cpus::Declared,
    )
    .0
    .known();
    let processes = eval_int(&service.processes, service, Cpus::Declared)
        .0
        .known();
    if let (Some(r), Some(p)) = (replicas, processes) {
        let multiplier = r.saturating_mul(p);
        text.push_str(&format!(
            "; raising the pool adds {multiplier} {} × {missing} = {} connections at {}",
            if multiplier == 1 {
                "process"
            } else {
                "processes"
            },
            multiplier.saturating_mul(missing),
            target_name(ctx.deployment, &linked.target)
        ));
    }
    text
}

fn target_name(deployment: &Deployment, target: &TargetRef) -> String {
    match target {
        TargetRef::Server(i) => deployment
            .servers
            .get(*i)
            .map_or_else(|| "the database".to_owned(), server_name),
        TargetRef::PgBouncer { index, database } => deployment.pgbouncers.get(*index).map_or_else(
            || "PgBouncer".to_owned(),
            |b| format!("PgBouncer `{}` (database `{database}`)", b.config.name),
        ),
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC105,
        name: "pool-smaller-than-concurrency",
        severity: Severity::Warning,
        summary: "A process serves more requests at once than its bounded pool has connections.",
        fix: FixAvailability::None,
        what_it_does: "For every service whose per-process concurrency is bounded (gunicorn \
`gthread` threads, gevent/eventlet `worker_connections`, celery `threads`/`gevent` pool \
concurrency, uwsgi threads, uvicorn `--limit-concurrency`), compares that concurrency with the cap \
of each bounded pool the process opens: `pool_size + max_overflow` for SQLAlchemy's QueuePool \
(defaults 5 + 10 = 15), `max_size` for Django's 5.1+ pool, psycopg_pool and asyncpg, `maxconn` \
for psycopg2's pools. It reports a pool smaller than the concurrency, with both numbers and where \
they are set.",
        why: "Each request that touches the database holds a connection. When more requests run \
at once than the pool can hand out, the extra ones wait for a free connection and then fail: \
SQLAlchemy raises `sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, \
connection timed out, timeout 30.00` after `pool_timeout` (30 s), which its documentation calls \
\"possibly the most common runtime error experienced\"; psycopg_pool (and Django's pool) raises \
`PoolTimeout: couldn't get a connection after 30.00 sec`; psycopg2's pools raise `PoolError: \
connection pool exhausted` at once. The failure appears only under load, as latency spikes \
followed by errors.",
        example: "```sh\n# Procfile (superset's shape: 20 threads per worker)\nweb: gunicorn --workers 2 --worker-class gthread --threads 20 app:app\n```\n\n\
```python\n# app/db.py: SQLAlchemy defaults, pool_size 5 + max_overflow 10 = 15\nengine = create_engine(DATABASE_URL)\n```",
        fix_text: "Make `pool_size + max_overflow` (or `max_size`) at least the concurrency per \
process (the help line says by how much and what it adds to the connection budget), or lower the \
threads/`worker_connections` to the pool's cap. zzzeek's advice in sqlalchemy#5308: \"if your \
system allows 500 concurrent greenlets that all do database access, then increase pool size + max \
overflow so that they add up to 500\". Check the PostgreSQL budget (PC101) after raising it.",
        references: &[
            "SQLAlchemy error `3o7r`: <https://docs.sqlalchemy.org/en/20/errors.html#error-3o7r>",
            "SQLAlchemy pooling (`pool_size`, `max_overflow`, `pool_timeout`): <https://docs.sqlalchemy.org/en/20/core/pooling.html>",
            "sqlalchemy/sqlalchemy#5308 (pool size vs greenlets): <https://github.com/sqlalchemy/sqlalchemy/issues/5308>",
            "psycopg_pool `ConnectionPool` (`max_size`, `timeout`, `PoolTimeout`): <https://www.psycopg.org/psycopg3/docs/api/pool.html>",
            "gunicorn settings (`threads`, `worker_connections`): <https://docs.gunicorn.org/en/stable/settings.html>",
            "Reproduced against PostgreSQL 15 by `verify/scenarios/PC105-gthread-threads-over-queuepool` (`verify/run PC105`)",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::facts::pool::{Driver, Target};
    use poolcheck_core::{FilePath, Location, Span};

    fn pool(kind: PoolKind, timeout: Option<f64>) -> ClientPool {
        let at = Location::new(FilePath::from("app/db.py"), Span::empty(0));
        let mut pool = ClientPool::new(
            kind,
            "engine",
            at.clone(),
            Sourced::tool_default(Driver::Psycopg2, "test"),
            false,
            Sourced::tool_default(Target::default(), "test"),
            PoolCap::Bounded {
                size: Sourced::tool_default(IntExpr::Const(5), "test"),
                overflow: None,
            },
            at,
        );
        match kind {
            PoolKind::SqlAlchemy => {
                pool.settings.pool_timeout =
                    timeout.map(|t| Sourced::tool_default(t, "SQLAlchemy"));
            }
            _ => pool.settings.timeout = timeout.map(|t| Sourced::tool_default(t, "psycopg_pool")),
        }
        pool
    }

    #[test]
    fn sqlalchemy_failure_quotes_the_configured_numbers() {
        let text = failure_text(
            &Sources::default(),
            &pool(PoolKind::SqlAlchemy, Some(10.0)),
            20,
            Some(0),
        );
        assert!(
            text.contains(
                "`QueuePool limit of size 20 overflow 0 reached, connection timed out, timeout 10.00`"
            ),
            "{text}"
        );
        assert!(
            text.starts_with("wait pool_timeout 10 s (SQLAlchemy default)"),
            "{text}"
        );
    }

    #[test]
    fn psycopg_pool_failure_uses_its_timeout() {
        let text = failure_text(
            &Sources::default(),
            &pool(PoolKind::PsycopgPool, Some(5.5)),
            4,
            None,
        );
        assert!(
            text.ends_with("`psycopg_pool.PoolTimeout: couldn't get a connection after 5.50 sec`"),
            "{text}"
        );
    }

    #[test]
    fn psycopg2_pools_fail_without_waiting() {
        let text = failure_text(
            &Sources::default(),
            &pool(PoolKind::Psycopg2Pool, None),
            4,
            None,
        );
        assert_eq!(
            text,
            "fail at once with `psycopg2.pool.PoolError: connection pool exhausted`"
        );
    }
}
