use poolcheck_core::facts::pool::{ClientPool, Driver, PoolKind};
use poolcheck_core::{Diagnostic, Severity};

use super::process_support::{distinct_pools, name_pool};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

/// libpq's environment fallback for `connect_timeout`.
const LIBPQ_TIMEOUT_VAR: &str = "PGCONNECT_TIMEOUT";

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let mut reported = Vec::new();
    for (service, linked) in distinct_pools(ctx) {
        let pool = &linked.pool;
        if reported.contains(&&pool.location) {
            continue;
        }
        let Some(client) = libpq_client(pool) else {
            continue;
        };
        if pool.settings.connect_timeout.is_some() {
            continue;
        }
        // An unknown DSN may carry `connect_timeout` itself.
        if !pool.target.is_known() {
            continue;
        }
        if service
            .env
            .get(LIBPQ_TIMEOUT_VAR)
            .is_some_and(|v| !v.value.trim().is_empty())
        {
            continue;
        }
        reported.push(&pool.location);
        let message = format!(
            "{} connects through libpq ({client}) with no `connect_timeout`: libpq then waits indefinitely for a server that does not answer (only the OS TCP timeout, about two minutes on Linux, ends the attempt), so during an outage every worker hangs instead of failing fast",
            name_pool(pool)
        );
        out.push(
            Diagnostic::new(
                RULE.meta.code,
                RULE.meta.severity,
                pool.location.clone(),
                message,
            )
            .with_label("no connect_timeout")
            .with_help(help(pool)),
        );
    }
}

/// The libpq-based driver a pool uses, for the message.
fn libpq_client(pool: &ClientPool) -> Option<&'static str> {
    match pool.kind {
        PoolKind::DjangoAlias | PoolKind::DjangoPool => Some("Django's PostgreSQL backend"),
        _ => match pool.driver.value {
            Some(Driver::Psycopg2) => Some("psycopg2"),
            Some(Driver::Psycopg3) => Some("psycopg 3"),
            _ => None,
        },
    }
}

fn help(pool: &ClientPool) -> String {
    match pool.kind {
        PoolKind::DjangoAlias | PoolKind::DjangoPool => {
            "add `\"connect_timeout\": 10` (seconds) to the alias's `OPTIONS`".to_owned()
        }
        PoolKind::SqlAlchemy => {
            "add `connect_args={\"connect_timeout\": 10}` (seconds) to the engine, or `?connect_timeout=10` to the URL".to_owned()
        }
        _ => "add `connect_timeout=10` (seconds) to the connection parameters (`kwargs` of the pool, or the DSN)".to_owned(),
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC503,
        name: "no-connect-timeout",
        severity: Severity::Info,
        summary: "A libpq-based client (psycopg2, psycopg 3, Django) sets no `connect_timeout`.",
        fix: FixAvailability::None,
        what_it_does: "Reports each pool or Django database whose driver is built on libpq — \
psycopg2, psycopg 3, Django's PostgreSQL backend — and that sets no `connect_timeout`: not in \
the DSN or URL (`?connect_timeout=10`), not in `connect_args` / the pool's `kwargs`, not in \
Django's `OPTIONS`, and not through `PGCONNECT_TIMEOUT` in the service's environment. Clients \
whose URL is unknown are skipped (the URL may carry it). asyncpg is not reported: its \
`timeout` defaults to 60 s.",
        why: "libpq has no connect timeout of its own: unset, it waits indefinitely, and only the \
operating system's TCP timeout (about two minutes on Linux) ends an attempt at a host that \
does not answer. During a database failover or network outage every worker blocks in \
`connect()` for that long instead of failing fast, requests pile up behind them, and the \
health checks and worker timeouts that should take over fire late or kill workers instead.",
        example: "```python\nengine = create_engine(\"postgresql+psycopg2://app@db:5432/app\", pool_size=10)\n```",
        fix_text: "Set a connect timeout that is short compared with your request timeout:\n\n\
- SQLAlchemy: `create_engine(url, connect_args={\"connect_timeout\": 10})` or \
`?connect_timeout=10` in the URL.\n\
- Django: `DATABASES[\"default\"][\"OPTIONS\"][\"connect_timeout\"] = 10`.\n\
- psycopg_pool: `ConnectionPool(conninfo, kwargs={\"connect_timeout\": 10})`.\n\
- Or `PGCONNECT_TIMEOUT=10` in the service's environment.",
        references: &[
            "libpq connection parameters, `connect_timeout`: <https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-CONNECT-TIMEOUT>",
            "libpq environment variables (`PGCONNECT_TIMEOUT`): <https://www.postgresql.org/docs/current/libpq-envars.html>",
            "asyncpg `connect(timeout=60)`: <https://magicstack.github.io/asyncpg/current/api/index.html#asyncpg.connection.connect>",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use super::super::process_support::testing::Project;

    #[test]
    fn psycopg2_engine_without_timeout_is_reported_once() {
        let db = "from sqlalchemy import create_engine\nengine = create_engine(\"postgresql+psycopg2://app@db:5432/app\")\n";
        let project = Project::new(&[
            (
                "Procfile",
                "web: gunicorn app.wsgi:app\nworker: celery -A app worker\n",
            ),
            ("app/db.py", db),
        ]);
        let found = project.findings("PC503");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            project
                .primary_text(&found[0])
                .starts_with("create_engine(")
        );
    }

    #[test]
    fn timeouts_in_the_url_connect_args_or_environment_are_enough() {
        let cases = [
            (
                "postgresql+psycopg2://app@db:5432/app?connect_timeout=5",
                "",
                "",
            ),
            (
                "postgresql+psycopg://app@db:5432/app",
                ", connect_args={\"connect_timeout\": 5}",
                "",
            ),
            (
                "postgresql+psycopg2://app@db:5432/app",
                "",
                "[env]\nPGCONNECT_TIMEOUT = \"5\"\n",
            ),
            ("postgresql+asyncpg://app@db:5432/app", "", ""),
        ];
        for (url, args, env) in cases {
            let db = format!(
                "from sqlalchemy import create_engine\nengine = create_engine(\"{url}\"{args})\n"
            );
            let project = Project::new(&[("app/db.py", &db), ("poolcheck.toml", env)]);
            assert!(project.findings("PC503").is_empty(), "{url}{args} {env}");
        }
    }
}
