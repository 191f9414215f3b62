use poolcheck_core::facts::pool::{ClientPool, Driver, PoolKind, SettingSource};
use poolcheck_core::{Diagnostic, Fix, Severity};

use super::pgbouncer_text::{
    BouncerClient, PreparedSupport, add_prepared_related, bouncer_clients, client_phrase,
    enable_support_hint, inline_quote, insert_into_dict, insert_keyword, within,
};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::sources::Sources;
use poolcheck_model::facts::PREPARED_STATEMENTS_SINCE;

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for client in bouncer_clients(ctx) {
        let pool = client.pool();
        if !matches!(pool.driver.value, Some(Driver::Asyncpg)) || !client.transaction_pooling() {
            continue;
        }
        let support = PreparedSupport::of(&client.view, ctx.sources);
        if support.supported || pool.settings.prepared_statement_name_func.is_some() {
            continue;
        }
        let Some(cache) = &pool.settings.statement_cache_size else {
            continue;
        };
        if cache.value.is_none_or(|size| size == 0) {
            continue;
        }
        out.push(diagnostic(ctx, &client, cache, &support));
    }
}

fn diagnostic(
    ctx: &Context<'_>,
    client: &BouncerClient<'_>,
    cache: &poolcheck_core::Sourced<i64>,
    support: &PreparedSupport,
) -> Diagnostic {
    let pool = client.pool();
    let sources = ctx.sources;
    let mut message = format!(
        "{} reaches {} in {} without prepared-statement support ({}), and asyncpg's statement \
cache is on ({})",
        client_phrase(pool, sources),
        client.bouncer_phrase(),
        client.mode_phrase(sources),
        support.reason,
        inline_quote(
            sources,
            cache,
            format!("statement_cache_size {}", cache.value.unwrap_or_default())
        ),
    );
    let sqlalchemy_cache_only = sqlalchemy_cache_disabled(pool, sources);
    if let Some(place) = &sqlalchemy_cache_only {
        message.push_str(&format!(
            "; `prepared_statement_cache_size=0` ({place}) turns off SQLAlchemy's cache only, not \
asyncpg's"
        ));
    }
    message.push_str(
        ": queries fail under concurrency with `prepared statement \"__asyncpg_stmt_1__\" does \
not exist` or `already exists`",
    );

    let primary = cache
        .location
        .clone()
        .or_else(|| pool.settings.connect_args_location.clone())
        .unwrap_or_else(|| pool.location.clone());
    let mut d = Diagnostic::new(
        RULE.meta.code,
        support.severity(RULE.meta.severity),
        primary.clone(),
        message,
    )
    .with_label("asyncpg names and caches prepared statements per server connection")
    .with_help(if pool.kind == PoolKind::SqlAlchemy {
        format!(
            "add `\"statement_cache_size\": 0` to `connect_args` and keep \
`\"prepared_statement_cache_size\": 0` (on asyncpg < 0.31 SQLAlchemy's statements stay named: \
SQLAlchemy documents a unique `prepared_statement_name_func` with `NullPool` for that), or {}",
            enable_support_hint(client, PREPARED_STATEMENTS_SINCE)
        )
    } else {
        format!(
            "pass `statement_cache_size=0` (asyncpg ≥ 0.31 then also prepares unnamed statements \
in `prepare()`), or {}",
            enable_support_hint(client, PREPARED_STATEMENTS_SINCE)
        )
    });
    if client.mode_location() != primary {
        d = d.with_related(client.mode_location(), client.mode_label());
    }
    d = add_prepared_related(d, client);
    if sqlalchemy_cache_only.is_some()
        && let Some(loc) = pool
            .settings
            .prepared_statement_cache_size
            .as_ref()
            .and_then(|s| s.location.clone())
        && loc != primary
    {
        d = d.with_related(
            loc,
            "prepared_statement_cache_size = 0 disables SQLAlchemy's cache only",
        );
    }
    if !within(&primary, &pool.location) {
        d = d.with_related(
            pool.location.clone(),
            format!("`{}` is created here", pool.name),
        );
    }
    if let Some(fix) = fix(pool, sources) {
        d = d.with_fix(fix);
    }
    d
}

/// Where a `prepared_statement_cache_size = 0` is written that a user may
/// take for turning prepared statements off (`in connect_args, app/db.py:6`).
fn sqlalchemy_cache_disabled(pool: &ClientPool, sources: &Sources) -> Option<String> {
    let setting = pool.settings.prepared_statement_cache_size.as_ref()?;
    let source = pool.settings.prepared_statement_cache_size_source?;
    if setting.value != Some(0) {
        return None;
    }
    let place = match source {
        SettingSource::Url => "in the URL",
        SettingSource::ConnectArgs => "in connect_args",
    };
    Some(match &setting.location {
        Some(at) => format!("{place}, {}", sources.describe(at)),
        None => place.to_owned(),
    })
}

/// Turns asyncpg's cache off where it is configured: in the `connect_args`
/// dict, or as a new argument of the call.
fn fix(pool: &ClientPool, sources: &Sources) -> Option<Fix> {
    let sqlalchemy = pool.kind == PoolKind::SqlAlchemy;
    let also_sqlalchemy_cache = sqlalchemy
        && pool.settings.prepared_statement_cache_size_source != Some(SettingSource::ConnectArgs);
    let cache_off: &[(&str, &str)] = if also_sqlalchemy_cache {
        &[
            ("\"statement_cache_size\"", "0"),
            ("\"prepared_statement_cache_size\"", "0"),
        ]
    } else {
        &[("\"statement_cache_size\"", "0")]
    };
    let edit = if pool
        .settings
        .statement_cache_size
        .as_ref()
        .and_then(|s| s.location.as_ref())
        .is_some()
    {
        // A written non-zero value: changing it is a decision, not an insertion.
        return None;
    } else if let Some(dict) = &pool.settings.connect_args_location {
        insert_into_dict(sources, dict, cache_off)?
    } else if sqlalchemy {
        let arguments = pool.settings.arguments_location.as_ref()?;
        let entries: Vec<String> = cache_off.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        insert_keyword(
            sources,
            arguments,
            "connect_args",
            &format!("{{{}}}", entries.join(", ")),
        )?
    } else {
        let arguments = pool.settings.arguments_location.as_ref()?;
        insert_keyword(sources, arguments, "statement_cache_size", "0")?
    };
    // Safe: the cache only saves a round trip per statement; turning it off
    // changes no query's result.
    Some(Fix::safe(
        "turn off asyncpg's statement cache (`statement_cache_size=0`)",
        vec![edit],
    ))
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC201,
        name: "asyncpg-prepared-statements",
        severity: Severity::Error,
        summary: "An asyncpg client keeps its statement cache on behind PgBouncer transaction pooling without prepared-statement support.",
        fix: FixAvailability::Sometimes,
        what_it_does: "Finds asyncpg clients — SQLAlchemy `postgresql+asyncpg` engines and \
`asyncpg.connect`/`asyncpg.create_pool` — that reach a PgBouncer database whose effective \
`pool_mode` (per user, per database, else global) is `transaction` or `statement`, where \
PgBouncer does not support prepared statements (before 1.21, or `max_prepared_statements = 0`, \
the default before 1.24), while asyncpg's own statement cache is on (`statement_cache_size` is \
not 0; asyncpg's default is 100) and no unique `prepared_statement_name_func` is set. When \
PgBouncer's version is unknown and `max_prepared_statements` is absent, support is assumed off \
and the finding is a warning. A `prepared_statement_cache_size=0` in the URL or `connect_args` \
only turns off SQLAlchemy's cache, and the message says so.",
        why: "asyncpg prepares every query as a named statement on the server connection it \
has. In transaction pooling the next transaction may run on another server connection, where \
that name does not exist or already exists: `asyncpg.exceptions.InvalidSQLStatementNameError: \
prepared statement \"__asyncpg_stmt_xx__\" does not exist` or \
`asyncpg.exceptions.DuplicatePreparedStatementError: prepared statement \"__asyncpg_stmt_1__\" \
already exists`. The errors are intermittent and appear only under concurrency, so they pass \
tests and fail in production. SQLAlchemy's `prepared_statement_cache_size=0` does not help: \
SQLAlchemy still calls `connection.prepare()` for every statement.",
        example: "```python\nengine = create_async_engine(\n    \"postgresql+asyncpg://app@pgbouncer:6432/app\",\n    connect_args={\"prepared_statement_cache_size\": 0},\n)\n```\n\n\
```ini\n[pgbouncer]\npool_mode = transaction\n```",
        fix_text: "Turn asyncpg's cache off: `connect_args={\"statement_cache_size\": 0, \
\"prepared_statement_cache_size\": 0}` (raw asyncpg: `statement_cache_size=0`). From asyncpg \
0.31 `prepare()` then uses unnamed statements; on older asyncpg with SQLAlchemy, SQLAlchemy \
documents `connect_args={\"prepared_statement_name_func\": lambda: f\"__asyncpg_{uuid4()}__\"}` \
with `poolclass=NullPool` and PgBouncer discarding state on release. Better: let PgBouncer \
track prepared statements — PgBouncer ≥ 1.21 with `max_prepared_statements = 200` (the default \
from 1.24). The quick fix inserts `\"statement_cache_size\": 0` into `connect_args`.",
        references: &[
            "asyncpg FAQ (*Why am I getting prepared statement errors?*): <https://magicstack.github.io/asyncpg/current/faq.html>",
            "SQLAlchemy asyncpg dialect, *Prepared Statement Cache* and *Prepared Statement Name with PGBouncer*: <https://docs.sqlalchemy.org/en/20/dialects/postgresql.html#module-sqlalchemy.dialects.postgresql.asyncpg>",
            "PgBouncer `max_prepared_statements`: <https://www.pgbouncer.org/config.html#max_prepared_statements>",
            "sqlalchemy/sqlalchemy#6467: <https://github.com/sqlalchemy/sqlalchemy/issues/6467>",
            "MagicStack/asyncpg#1058: <https://github.com/MagicStack/asyncpg/issues/1058>",
            "sqlalchemy/sqlalchemy#12836: <https://github.com/sqlalchemy/sqlalchemy/issues/12836>",
            "Reproduced against PostgreSQL 15 and PgBouncer 1.18 by `verify/scenarios/PC201-asyncpg-through-transaction-pooling` (`verify/run PC201`)",
            "MagicStack/asyncpg#1195 (discussion): <https://github.com/MagicStack/asyncpg/discussions/1195>",
        ],
    },
    check: Some(check),
};
