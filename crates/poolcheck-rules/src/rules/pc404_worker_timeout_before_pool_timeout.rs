use poolcheck_core::facts::pool::{ClientPool, PoolCap, PoolKind};
use poolcheck_core::{Diagnostic, Severity, Sourced};

use super::process_support::{describe_pool, gunicorn_worker_class, seconds};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

/// A request waits for the pool only when the process serves more requests
/// at once than the pool holds connections; a sync worker with a pool of one
/// or more never waits, so its timeouts cannot race.
fn can_wait(service: &crate::topology::Service, pool: &ClientPool, ctx: &Context<'_>) -> bool {
    use crate::topology::Concurrency;
    use crate::topology::budget::{Count, Cpus, eval_int, per_process};
    let cap = per_process(pool, service, Cpus::Declared, ctx.sources).count;
    let concurrency = match &service.concurrency {
        Concurrency::Bounded(c) => eval_int(c, service, Cpus::Declared).0,
        Concurrency::Unbounded { reason } => Count::Unbounded(reason.clone()),
    };
    match (concurrency, cap) {
        (Count::Known(c), Count::Known(cap)) => c > cap,
        // Unknown either way: the waiting cannot be ruled out.
        (Count::Unknown(_), _)
        | (_, Count::Unknown(_))
        | (Count::Unbounded(_), Count::Known(_)) => true,
        (_, Count::Unbounded(_)) => false,
    }
}

/// gunicorn's `timeout` when nothing sets it.
const GUNICORN_DEFAULT_TIMEOUT: i64 = 30;

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for service in &ctx.deployment.services {
        let Some(class) = gunicorn_worker_class(service) else {
            continue;
        };
        if class != "sync" && class != "gthread" {
            continue;
        }
        // `threads > 1` turns sync into gthread: name what actually runs.
        let class = service
            .worker_class
            .as_ref()
            .and_then(|c| c.value.as_deref())
            .map(str::to_ascii_lowercase)
            .filter(|c| c == "gthread")
            .unwrap_or(class);
        let timeout = service
            .settings
            .timeout
            .clone()
            .unwrap_or_else(|| Sourced::tool_default(GUNICORN_DEFAULT_TIMEOUT, "gunicorn"));
        // 0 turns the worker timeout off.
        let Some(worker_timeout) = timeout.value.filter(|t| *t > 0) else {
            continue;
        };
        for linked in &service.pools {
            let pool = &linked.pool;
            if !can_wait(service, pool, ctx) {
                continue;
            }
            let Some((setting, wait)) = wait_timeout(pool) else {
                continue;
            };
            let wait = &wait;
            let Some(wait_s) = wait.value else {
                continue;
            };
            if (worker_timeout as f64) > wait_s {
                continue;
            }
            let timeout_text = ctx.sources.quote(&timeout, |t| format!("timeout = {t} s"));
            let wait_text = ctx
                .sources
                .quote(wait, |w| format!("{setting} = {} s", seconds(*w)));
            let message = format!(
                "gunicorn service `{}` kills a {class} worker after {timeout_text}, but {} waits up to {wait_text} for a free connection: a request waiting for the pool is killed with `WORKER TIMEOUT` instead of getting the pool's error",
                service.name,
                describe_pool(ctx, pool),
            );
            let primary = wait
                .location
                .clone()
                .filter(|_| !wait.is_default())
                .or_else(|| timeout.location.clone().filter(|_| !timeout.is_default()))
                .unwrap_or_else(|| pool.location.clone());
            let mut d = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary.clone(), message)
                .with_label(format!(
                    "waits {} s ≥ the worker timeout of {worker_timeout} s",
                    seconds(wait_s)
                ))
                .with_help(format!(
                    "make `{setting}` shorter than the worker timeout (e.g. `{setting}={}`) so the request fails with the pool's error, or raise gunicorn `timeout` above {} s deliberately",
                    suggested_wait(worker_timeout),
                    seconds(wait_s)
                ));
            if let Some(loc) = timeout.location.as_ref().filter(|l| **l != primary) {
                d = d.with_related(loc.clone(), format!("worker timeout {worker_timeout} s"));
            } else if timeout.location.is_none()
                // A service found only through its config file has no command to show.
                && let Some(loc) = service
                    .location
                    .as_ref()
                    .filter(|l| **l != primary && !l.span.is_empty())
            {
                d = d.with_related(
                    loc.clone(),
                    format!("gunicorn started here with the default timeout of {worker_timeout} s"),
                );
            }
            if let Some(loc) = wait.location.as_ref().filter(|l| **l != primary) {
                d = d.with_related(loc.clone(), format!("{setting} {} s", seconds(wait_s)));
            } else if wait.location.is_none() && pool.location != primary {
                d = d.with_related(
                    pool.location.clone(),
                    format!("{setting} {} s by default", seconds(wait_s)),
                );
            }
            out.push(d);
        }
    }
}

/// The setting that bounds how long a checkout waits, when the pool can
/// make a request wait at all (a bounded queue of connections).
fn wait_timeout(pool: &ClientPool) -> Option<(&'static str, Sourced<f64>)> {
    match pool.kind {
        PoolKind::SqlAlchemy => {
            let PoolCap::Bounded { overflow, .. } = &pool.cap else {
                return None;
            };
            // NullPool/StaticPool/SingletonThreadPool never queue; QueuePool
            // (the one with an overflow) does.
            overflow.as_ref()?;
            Some(("pool_timeout", pool.settings.pool_timeout.clone()?))
        }
        PoolKind::PsycopgPool | PoolKind::DjangoPool => Some((
            "timeout",
            pool.settings
                .timeout
                .clone()
                .unwrap_or_else(|| Sourced::tool_default(30.0, "psycopg_pool")),
        )),
        _ => None,
    }
}

/// A wait comfortably inside the worker timeout.
fn suggested_wait(worker_timeout: i64) -> i64 {
    (worker_timeout / 3).max(1)
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC404,
        name: "worker-timeout-before-pool-timeout",
        severity: Severity::Warning,
        summary: "A sync/gthread gunicorn worker times out no later than its pool's wait for a free connection.",
        fix: FixAvailability::None,
        what_it_does: "For gunicorn services with the `sync` or `gthread` worker, compares \
gunicorn's `timeout` (default 30 s; 0 turns it off) with how long each of the service's pools \
waits for a free connection: SQLAlchemy's `pool_timeout` (default 30 s, QueuePool only) and \
the psycopg_pool / Django pool `timeout` (default 30 s). It reports when the worker timeout is \
not longer than the wait.",
        why: "When the pool is exhausted a request blocks for up to the pool's wait before the \
pool raises a clean, catchable error (`QueuePool limit of size 5 overflow 10 reached, \
connection timed out, timeout 30`, psycopg_pool's `PoolTimeout`). If gunicorn's arbiter times \
the worker out first, it logs `WORKER TIMEOUT (pid:…)` at critical level and kills the process: \
the client sees a dropped connection, the error never reaches the application's handlers, and \
the killed worker's pooled connections are dropped and reopened by its replacement. With both \
defaults at 30 s this is the normal state of an untuned deployment.",
        example: "```python\n# gunicorn.conf.py\nworkers = 4\ntimeout = 30\n```\n\n\
```python\n# app/db.py\nengine = create_engine(DATABASE_URL, pool_size=5, pool_timeout=30)\n```",
        fix_text: "Make the pool give up first: set `pool_timeout` (or the pool's `timeout`) \
clearly below gunicorn's `timeout`, e.g. `pool_timeout=10` with `timeout = 30`. Raise gunicorn's \
`timeout` only deliberately (gunicorn: \"Only set this noticeably higher if you're sure of the \
repercussions for sync workers\"), and bound slow queries with `statement_timeout`.",
        references: &[
            "gunicorn `timeout` setting: <https://docs.gunicorn.org/en/stable/settings.html#timeout>",
            "gunicorn `arbiter.py` (`WORKER TIMEOUT (pid:%s)`): <https://github.com/benoitc/gunicorn/blob/master/gunicorn/arbiter.py>",
            "benoitc/gunicorn#2055: <https://github.com/benoitc/gunicorn/issues/2055>",
            "SQLAlchemy `create_engine.pool_timeout`: <https://docs.sqlalchemy.org/en/20/core/engines.html#sqlalchemy.create_engine.params.pool_timeout>",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use super::super::process_support::testing::Project;

    const ENGINE: &str = "from sqlalchemy import create_engine\nengine = create_engine(\"postgresql+psycopg2://app@db/app?connect_timeout=5\", pool_timeout=45)\n";

    #[test]
    fn pool_timeout_longer_than_the_worker_timeout_fires_at_pool_timeout() {
        let project = Project::new(&[
            (
                "gunicorn.conf.py",
                "workers = 2\nworker_class = \"gthread\"\nthreads = 32\ntimeout = 40\n",
            ),
            ("app/__init__.py", ""),
            ("app/db.py", ENGINE),
        ]);
        let found = project.findings("PC404");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(project.primary_text(&found[0]), "45");
        assert!(
            found[0].message.contains("timeout = 40 s"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_sync_worker_never_waits_for_its_pool() {
        let project = Project::new(&[
            ("gunicorn.conf.py", "workers = 2\ntimeout = 40\n"),
            ("app/__init__.py", ""),
            ("app/db.py", ENGINE),
        ]);
        assert!(project.findings("PC404").is_empty());
    }

    #[test]
    fn gevent_workers_and_disabled_timeouts_are_not_reported() {
        for config in ["worker_class = \"gevent\"\n", "timeout = 0\n"] {
            let project = Project::new(&[
                ("gunicorn.conf.py", config),
                ("app/__init__.py", ""),
                ("app/db.py", ENGINE),
            ]);
            assert!(project.findings("PC404").is_empty(), "{config}");
        }
    }
}
