use poolcheck_core::facts::pool::{Driver, PoolKind};
use poolcheck_core::{Diagnostic, Severity, Version};

use super::process_support::{
    describe_pool, describe_pool_mode, distinct_pools, pinned_version, transaction_pooler,
};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

/// The release that runs the asyncpg ping inside a transaction (ticket 10226).
const FIXED_IN: Version = Version::new(2, 0, 21);

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let sqlalchemy = pinned_version(ctx, "sqlalchemy");
    for (_, linked) in distinct_pools(ctx) {
        let pool = &linked.pool;
        if pool.kind != PoolKind::SqlAlchemy || !matches!(pool.driver.value, Some(Driver::Asyncpg))
        {
            continue;
        }
        let Some(pre_ping) = &pool.settings.pool_pre_ping else {
            continue;
        };
        if pre_ping.value != Some(true) {
            continue;
        }
        let Some(pooler) = transaction_pooler(ctx, linked) else {
            continue;
        };
        let autocommit = pool.settings.isolation_level.as_ref().filter(|l| {
            l.value
                .as_deref()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("AUTOCOMMIT"))
        });
        let old = sqlalchemy.filter(|(v, _)| *v < FIXED_IN);
        let reason = match (autocommit, old) {
            (Some(level), _) => format!(
                "the engine runs in {} and SQLAlchemy does not wrap the ping in a transaction in AUTOCOMMIT mode, which stays incompatible with transaction pooling",
                match &level.location {
                    Some(l) =>
                        format!("isolation_level `AUTOCOMMIT` ({})", ctx.sources.describe(l)),
                    None => "isolation_level `AUTOCOMMIT`".to_owned(),
                }
            ),
            (None, Some((version, pin))) => format!(
                "SQLAlchemy {version} ({}) runs asyncpg's ping outside a transaction, so its statements can be split across server connections (fixed in {FIXED_IN})",
                ctx.sources.describe(&pin.location)
            ),
            (None, None) => continue,
        };
        let primary = pre_ping
            .location
            .clone()
            .unwrap_or_else(|| pool.location.clone());
        let message = format!(
            "{} sets {} and reaches PgBouncer `{}` database `{}` in transaction pooling ({}): {reason}; the ping fails with prepared-statement errors (`prepared statement \"__asyncpg_stmt_…__\" does not exist`)",
            describe_pool(ctx, pool),
            pre_ping.location.as_ref().map_or_else(
                || "`pool_pre_ping=True`".to_owned(),
                |l| format!("`pool_pre_ping=True` ({})", ctx.sources.describe(l))
            ),
            pooler.bouncer.config.name,
            pooler.database,
            describe_pool_mode(ctx, &pooler),
        );
        let help = if autocommit.is_some() {
            "drop `pool_pre_ping` on this AUTOCOMMIT engine (or use a separate engine for autocommit work), or reach the database in session pooling"
                .to_owned()
        } else {
            format!("upgrade SQLAlchemy to {FIXED_IN} or later, or drop `pool_pre_ping`")
        };
        let mut d = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary, message)
            .with_label("pre-ping through transaction pooling")
            .with_help(help);
        if let Some(loc) = &pooler.mode.location {
            d = d.with_related(loc.clone(), "transaction pooling");
        }
        if let Some(loc) = autocommit.and_then(|l| l.location.clone()) {
            d = d.with_related(loc, "AUTOCOMMIT");
        } else if let Some((_, pin)) = old {
            d = d.with_related(
                pin.location.clone(),
                format!("SQLAlchemy pinned before {FIXED_IN}"),
            );
        }
        out.push(d);
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC502,
        name: "pre-ping-asyncpg-old-sqlalchemy",
        severity: Severity::Warning,
        summary: "`pool_pre_ping=True` on an asyncpg engine through transaction pooling breaks with SQLAlchemy < 2.0.21 or in AUTOCOMMIT.",
        fix: FixAvailability::None,
        what_it_does: "Reports a SQLAlchemy engine on asyncpg (`postgresql+asyncpg://`) with \
`pool_pre_ping=True` that reaches a PgBouncer database in transaction or statement pooling, \
when the repository pins SQLAlchemy below 2.0.21, or when the engine's `isolation_level` is \
`AUTOCOMMIT` (any version). Without a pinned SQLAlchemy version only the AUTOCOMMIT case is \
reported.",
        why: "asyncpg's ping is several protocol messages. Before SQLAlchemy 2.0.21 they were sent \
outside a transaction, so PgBouncer in transaction mode could route them to different server \
connections: \"Multiple PostgreSQL commands emitted by asyncpg could be broken out among \
multiple connections\", and the ping fails with prepared-statement errors. 2.0.21 runs the \
ping inside a transaction, but the changelog notes the fix is \"not used if the asyncpg dialect \
is used in AUTOCOMMIT mode, which remains incompatible with pgbouncer transaction mode\".",
        example: "```python\nengine = create_async_engine(\n    \"postgresql+asyncpg://app@pgbouncer:6432/app\",\n    pool_pre_ping=True,\n)\n```\n\n\
```text\n# requirements.txt\nSQLAlchemy==2.0.15\n```\n\n\
```ini\n# pgbouncer.ini\n[pgbouncer]\npool_mode = transaction\n```",
        fix_text: "Upgrade SQLAlchemy to 2.0.21 or later (released 2023-09-18). For an AUTOCOMMIT \
engine, drop `pool_pre_ping` or reach the database through session pooling.",
        references: &[
            "SQLAlchemy 2.0.21 changelog, ticket 10226: <https://docs.sqlalchemy.org/en/20/changelog/changelog_20.html#change-2.0.21>",
            "sqlalchemy/sqlalchemy#10226: <https://github.com/sqlalchemy/sqlalchemy/issues/10226>",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use super::super::process_support::testing::Project;

    const PGBOUNCER: &str = "[databases]\napp = host=postgres port=5432 dbname=app\n\n[pgbouncer]\nlisten_port = 6432\npool_mode = transaction\nmax_prepared_statements = 200\n";

    fn engine(extra: &str) -> String {
        format!(
            "from sqlalchemy.ext.asyncio import create_async_engine\n\nengine = create_async_engine(\"postgresql+asyncpg://app@pgbouncer:6432/app\", pool_pre_ping=True{extra})\n"
        )
    }

    #[test]
    fn old_pinned_sqlalchemy_fires_at_the_pre_ping_argument() {
        let db = engine("");
        let project = Project::new(&[
            ("pgbouncer.ini", PGBOUNCER),
            ("app/db.py", &db),
            ("requirements.txt", "SQLAlchemy==2.0.15\nasyncpg==0.29.0\n"),
        ]);
        let found = project.findings("PC502");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(project.primary_text(&found[0]), "True");
        assert!(
            found[0].message.contains("SQLAlchemy 2.0.15"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn new_or_unknown_sqlalchemy_without_autocommit_is_silent() {
        for requirements in ["SQLAlchemy==2.0.30\n", "SQLAlchemy>=2.0\n"] {
            let db = engine("");
            let project = Project::new(&[
                ("pgbouncer.ini", PGBOUNCER),
                ("app/db.py", &db),
                ("requirements.txt", requirements),
            ]);
            assert!(project.findings("PC502").is_empty(), "{requirements}");
        }
    }

    #[test]
    fn autocommit_fires_on_any_version() {
        let db = engine(", isolation_level=\"AUTOCOMMIT\"");
        let project = Project::new(&[
            ("pgbouncer.ini", PGBOUNCER),
            ("app/db.py", &db),
            ("requirements.txt", "SQLAlchemy==2.0.30\n"),
        ]);
        let found = project.findings("PC502");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].message.contains("AUTOCOMMIT"));
    }
}
