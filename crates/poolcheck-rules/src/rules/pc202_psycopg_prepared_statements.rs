use poolcheck_core::facts::pool::{ClientPool, Driver, PoolKind};
use poolcheck_core::{Diagnostic, Fix, Severity, Sourced};

use super::pgbouncer_text::{
    BouncerClient, PreparedSupport, add_prepared_related, bouncer_clients, client_phrase,
    enable_support_hint, inline_quote, insert_into_dict, insert_keyword, within,
};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::sources::Sources;

/// psycopg's PgBouncer support needs 1.22 (`DEALLOCATE` tracking), not just 1.21.
const PSYCOPG_SUPPORT_SINCE: poolcheck_core::Version = poolcheck_core::Version::new(1, 22, 0);

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for client in bouncer_clients(ctx) {
        let pool = client.pool();
        if !prepares_server_side(pool) || !client.transaction_pooling() {
            continue;
        }
        let support = PreparedSupport::of(&client.view, ctx.sources);
        if support.supported {
            continue;
        }
        let Some(threshold) = &pool.settings.prepare_threshold else {
            continue;
        };
        // `Some(None)` is an explicit `prepare_threshold=None`; `None` is unknown.
        let Some(Some(n)) = threshold.value else {
            continue;
        };
        out.push(diagnostic(ctx, &client, threshold, n, &support));
    }
}

/// psycopg 3 clients that can prepare statements: SQLAlchemy `+psycopg`
/// engines, psycopg connections and pools, and Django aliases that opted into
/// server-side binding (Django's default client-side cursors never prepare).
fn prepares_server_side(pool: &ClientPool) -> bool {
    if !matches!(pool.driver.value, Some(Driver::Psycopg3)) {
        return false;
    }
    match pool.kind {
        PoolKind::DjangoAlias | PoolKind::DjangoPool => {
            django_server_side_binding(pool).is_some_and(|b| b.value == Some(true))
        }
        _ => true,
    }
}

/// Django `OPTIONS["server_side_binding"]`. The Django front-end does not
/// record it yet (it needs a `PoolSettings` field); until then Django aliases
/// are taken to use Django's default client-side binding, which does not
/// prepare.
fn django_server_side_binding(pool: &ClientPool) -> Option<Sourced<bool>> {
    pool.settings
        .django
        .as_ref()
        .map(|d| d.server_side_binding.clone())
}

fn diagnostic(
    ctx: &Context<'_>,
    client: &BouncerClient<'_>,
    threshold: &Sourced<Option<i64>>,
    n: i64,
    support: &PreparedSupport,
) -> Diagnostic {
    let pool = client.pool();
    let sources = ctx.sources;
    let message = format!(
        "{} reaches {} in {} without prepared-statement support ({}), and psycopg prepares \
statements it runs {} times ({}): queries fail with `prepared statement \"_pg3_0\" does not \
exist` or `already exists`",
        client_phrase(pool, sources),
        client.bouncer_phrase(),
        client.mode_phrase(sources),
        support.reason,
        n,
        inline_quote(sources, threshold, format!("prepare_threshold {n}")),
    );
    let primary = threshold
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
    .with_label("psycopg prepares statements on the server connection it has")
    .with_help(format!(
        "pass `prepare_threshold=None` ({}), or {}, with psycopg ≥ 3.2 and libpq ≥ 17 (with \
an older libpq also set `prepared_max=None` on each connection)",
        match pool.kind {
            PoolKind::SqlAlchemy => "in `connect_args`",
            PoolKind::DjangoAlias | PoolKind::DjangoPool => "in `OPTIONS`",
            PoolKind::PsycopgPool if !pool.single_connection => "in the pool's `kwargs`",
            _ => "to `connect()`",
        },
        enable_support_hint(client, PSYCOPG_SUPPORT_SINCE)
    ));
    if client.mode_location() != primary {
        d = d.with_related(client.mode_location(), client.mode_label());
    }
    d = add_prepared_related(d, client);
    if !within(&primary, &pool.location) {
        d = d.with_related(
            pool.location.clone(),
            format!("`{}` is created here", pool.name),
        );
    }
    if threshold.location.is_none()
        && let Some(fix) = fix(pool, sources)
    {
        d = d.with_fix(fix);
    }
    d
}

/// Inserts `prepare_threshold=None` where the client's connect arguments are.
fn fix(pool: &ClientPool, sources: &Sources) -> Option<Fix> {
    let key = "\"prepare_threshold\"";
    let edit = if let Some(dict) = &pool.settings.connect_args_location {
        insert_into_dict(sources, dict, &[(key, "None")])?
    } else {
        let arguments = pool.settings.arguments_location.as_ref()?;
        match pool.kind {
            PoolKind::SqlAlchemy => insert_keyword(
                sources,
                arguments,
                "connect_args",
                &format!("{{{key}: None}}"),
            )?,
            PoolKind::PsycopgPool if !pool.single_connection => {
                insert_keyword(sources, arguments, "kwargs", &format!("{{{key}: None}}"))?
            }
            PoolKind::PsycopgPool => {
                insert_keyword(sources, arguments, "prepare_threshold", "None")?
            }
            _ => return None,
        }
    };
    // Safe: preparing only saves planning time; queries return the same.
    Some(Fix::safe(
        "turn off psycopg's automatic prepared statements (`prepare_threshold=None`)",
        vec![edit],
    ))
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC202,
        name: "psycopg-prepared-statements",
        severity: Severity::Error,
        summary: "A psycopg 3 client prepares statements behind PgBouncer transaction pooling without prepared-statement support.",
        fix: FixAvailability::Sometimes,
        what_it_does: "Finds psycopg 3 clients — SQLAlchemy `postgresql+psycopg` and \
`postgresql+psycopg_async` engines, `psycopg.connect`, psycopg_pool pools, and Django aliases \
with `OPTIONS[\"server_side_binding\"] = True` — that reach a PgBouncer database in \
`transaction` or `statement` pooling where PgBouncer does not support prepared statements \
(before 1.21, or `max_prepared_statements = 0`, the default before 1.24), while \
`prepare_threshold` is not `None` (psycopg's default is 5: a query run five times on a \
connection is prepared). When PgBouncer's version is unknown and `max_prepared_statements` is \
absent, support is assumed off and the finding is a warning.",
        why: "psycopg 3 sends queries and parameters separately and prepares a query once it has \
run `prepare_threshold` times on a connection, as `_pg3_N`. Through transaction pooling the \
next transaction may run on another server connection: `psycopg.errors.InvalidSqlStatementName: \
prepared statement \"_pg3_N\" does not exist`, or `prepared statement \"_pg3_N\" already \
exists`. The failures are rare and recurring, hard to connect to the pooler. Django's default \
client-side binding cursors do not prepare; `server_side_binding = True` does.",
        example: "```python\nengine = create_async_engine(\"postgresql+psycopg://app@pgbouncer:6432/app\")\n```\n\n\
```ini\n[pgbouncer]\npool_mode = transaction\n```",
        fix_text: "Pass `prepare_threshold=None`: `connect_args={\"prepare_threshold\": None}` \
for SQLAlchemy, `kwargs={\"prepare_threshold\": None}` for psycopg_pool, \
`OPTIONS[\"prepare_threshold\"] = None` for Django. Or make PgBouncer track prepared \
statements: PgBouncer ≥ 1.22 with `max_prepared_statements > 0`, psycopg ≥ 3.2 and libpq ≥ 17 \
(with an older libpq set `prepared_max = None` on each connection, e.g. in a SQLAlchemy \
`connect` event). The quick fix inserts `\"prepare_threshold\": None` into the connect \
arguments.",
        references: &[
            "psycopg, *Prepared statements* (PgBouncer section): <https://www.psycopg.org/psycopg3/docs/advanced/prepare.html>",
            "psycopg, *Server-side binding* and client-side cursors: <https://www.psycopg.org/psycopg3/docs/advanced/cursors.html>",
            "PgBouncer `max_prepared_statements`: <https://www.pgbouncer.org/config.html#max_prepared_statements>",
            "psycopg/psycopg#935: <https://github.com/psycopg/psycopg/issues/935>",
            "psycopg/psycopg#280: <https://github.com/psycopg/psycopg/issues/280>",
            "Reproduced against PostgreSQL 15 and PgBouncer 1.18 by `verify/scenarios/PC202-psycopg3-through-transaction-pooling` (`verify/run PC202`)",
        ],
    },
    check: Some(check),
};
