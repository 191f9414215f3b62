use poolcheck_core::facts::pool::{ClientPool, PoolKind};
use poolcheck_core::{Diagnostic, Severity, Sourced};
use poolcheck_model::facts::PoolMode;

use super::pgbouncer_text::{bouncer_clients, client_phrase};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let sources = ctx.sources;
    for client in bouncer_clients(ctx) {
        if client.mode.value != Some(PoolMode::Statement) {
            continue;
        }
        let pool = client.pool();
        let Some((how, at)) = uses_transactions(pool) else {
            continue;
        };
        let message = format!(
            "{} reaches {} in {} and {how}: PgBouncer closes the server connection with \
`transaction blocks not allowed in statement pooling mode`",
            client_phrase(pool, sources),
            client.bouncer_phrase(),
            client.mode_phrase(sources),
        );
        let primary = client.mode_location();
        let mut d = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary.clone(), message)
            .with_label("statement pooling allows no multi-statement transactions")
            .with_help(match pool.kind {
                PoolKind::SqlAlchemy => {
                    "use `pool_mode = transaction` for this database, or give the engine \
`isolation_level=\"AUTOCOMMIT\"` if it really never needs a transaction"
                }
                _ => {
                    "use `pool_mode = transaction` for this database, or set \
`ATOMIC_REQUESTS = False` and keep every query in autocommit"
                }
            });
        let at = at.unwrap_or_else(|| pool.location.clone());
        if at != primary {
            d = d.with_related(
                at,
                match pool.kind {
                    PoolKind::SqlAlchemy => {
                        "the engine runs every use of a connection in a transaction"
                    }
                    _ => "ATOMIC_REQUESTS wraps each request in a transaction",
                },
            );
        }
        out.push(d);
    }
}

/// How the client opens transactions, and where that is decided; `None` when
/// it runs in autocommit (or it is not known).
fn uses_transactions(pool: &ClientPool) -> Option<(String, Option<poolcheck_core::Location>)> {
    match pool.kind {
        PoolKind::SqlAlchemy => match &pool.settings.isolation_level {
            None => Some((
                "runs transactions (no `isolation_level=\"AUTOCOMMIT\"`: SQLAlchemy begins a \
transaction on every connection it uses)"
                    .to_owned(),
                None,
            )),
            Some(level) => {
                let value = level.value.as_deref()?;
                if value.trim().eq_ignore_ascii_case("AUTOCOMMIT") {
                    return None;
                }
                Some((
                    format!("runs transactions (isolation_level `{value}`)"),
                    level.location.clone(),
                ))
            }
        },
        PoolKind::DjangoAlias | PoolKind::DjangoPool => {
            let atomic = django_atomic_requests(pool)?;
            (atomic.value == Some(true)).then(|| {
                (
                    "wraps every request in a transaction (`ATOMIC_REQUESTS = True`)".to_owned(),
                    atomic.location.clone(),
                )
            })
        }
        _ => None,
    }
}

/// Django `ATOMIC_REQUESTS` of the alias. The Django front-end does not
/// record it yet: it needs a `PoolSettings` field
/// `atomic_requests: Option<Sourced<bool>>`. Until then Django aliases are
/// not reported.
fn django_atomic_requests(pool: &ClientPool) -> Option<Sourced<bool>> {
    pool.settings
        .django
        .as_ref()
        .map(|d| d.atomic_requests.clone())
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC206,
        name: "statement-pooling-transactions",
        severity: Severity::Error,
        summary: "A client that uses transactions reaches a PgBouncer database in statement pooling.",
        fix: FixAvailability::None,
        what_it_does: "Finds clients that reach a PgBouncer database whose effective `pool_mode` \
(per user, per database, else global) is `statement`, and that use transactions: SQLAlchemy \
engines without `isolation_level=\"AUTOCOMMIT\"` (SQLAlchemy begins a transaction on every \
connection use) and Django aliases with `ATOMIC_REQUESTS = True`.",
        why: "In statement pooling PgBouncer returns the server connection after every \
statement, so it refuses multi-statement transactions: the server connection is closed with \
`transaction blocks not allowed in statement pooling mode`. Drivers that are not in autocommit \
(psycopg2 and psycopg by default, SQLAlchemy without AUTOCOMMIT) open implicit transactions, so \
even simple ORM code hits it.",
        example: "```ini\n[databases]\napp = host=db dbname=app pool_mode=statement\n```\n\n\
```python\nengine = create_engine(\"postgresql+psycopg2://app@pgbouncer:6432/app\")\n```",
        fix_text: "Use `pool_mode = transaction` for databases whose clients use transactions. \
Keep statement pooling only for clients that run in autocommit everywhere \
(`isolation_level=\"AUTOCOMMIT\"`).",
        references: &[
            "PgBouncer `pool_mode`: <https://www.pgbouncer.org/config.html#pool_mode>",
            "PgBouncer source, `src/server.c` (the error text): <https://github.com/pgbouncer/pgbouncer/blob/master/src/server.c>",
            "Reproduced against PostgreSQL 15 and PgBouncer 1.18 by `verify/scenarios/PC206-transactions-in-statement-pooling` (`verify/run PC206`)",
        ],
    },
    check: Some(check),
};
