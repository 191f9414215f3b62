use poolcheck_core::facts::pool::PoolKind;
use poolcheck_core::{Diagnostic, Severity};

use super::pgbouncer_text::{bouncer_clients, client_phrase};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::budget::{Count, Cpus, per_process};

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let sources = ctx.sources;
    for client in bouncer_clients(ctx) {
        let pool = client.pool();
        if pool.kind != PoolKind::SqlAlchemy || !client.transaction_pooling() {
            continue;
        }
        let Some(class) = &pool.settings.pool_class else {
            continue;
        };
        let Some(name) = class.value.as_deref().filter(|c| c.ends_with("QueuePool")) else {
            continue;
        };
        let per_process = per_process(pool, client.service, Cpus::Declared, sources);
        let size = match &per_process.count {
            Count::Known(n) => format!(
                " of up to {n} connections per process = {}",
                per_process.quoted
            ),
            _ => format!(", {}", per_process.quoted),
        };
        let message = format!(
            "{} keeps its own {} ({}){size}, behind {} in {}: two pools are stacked, and the \
application's idle connections occupy PgBouncer client slots that PgBouncer would multiplex \
anyway",
            client_phrase(pool, sources),
            name,
            class.origin_phrase().unwrap_or_else(|| format!(
                "poolclass, {}",
                class.location.as_ref().map_or_else(
                    || sources.describe(&pool.location),
                    |at| sources.describe(at)
                )
            )),
            client.bouncer_phrase(),
            client.mode_phrase(sources),
        );
        let primary = class
            .location
            .clone()
            .unwrap_or_else(|| pool.cap_location.clone());
        let mut d = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary.clone(), message)
            .with_label("an application pool behind a transaction pooler")
            .with_help(
                "use `poolclass=NullPool` (SQLAlchemy's advice behind PgBouncer in transaction \
mode) and size the pool once, in PgBouncer (`default_pool_size`/`pool_size`)",
            );
        if client.mode_location() != primary {
            d = d.with_related(client.mode_location(), client.mode_label());
        }
        out.push(d);
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC208,
        name: "app-pool-behind-transaction-pooler",
        severity: Severity::Info,
        summary: "A SQLAlchemy QueuePool engine reaches PgBouncer transaction pooling: two pools stacked.",
        fix: FixAvailability::None,
        what_it_does: "Finds SQLAlchemy engines with a `QueuePool` or `AsyncAdaptedQueuePool` \
(the default pool classes) whose connections reach a PgBouncer database in `transaction` or \
`statement` pooling.",
        why: "PgBouncer in transaction mode already shares a few server connections among many \
clients. An application-side QueuePool in front of it keeps up to `pool_size + max_overflow` \
client connections per process open, which count against `max_client_conn` while idle, hide \
the real sizing in two places, and keep connections that PgBouncer may close \
(`client_idle_timeout`). SQLAlchemy's documentation recommends `NullPool` behind PgBouncer in \
transaction mode (for asyncpg in particular).",
        example: "```python\nengine = create_engine(\"postgresql+psycopg2://app@pgbouncer:6543/app\", pool_size=10)\n```\n\n\
```ini\n[pgbouncer]\npool_mode = transaction\n```",
        fix_text: "Use `poolclass=NullPool` in the engine and size the pool in PgBouncer \
(`default_pool_size` or a database's `pool_size`). If connection setup latency matters, keep \
a small application pool deliberately and accept the finding.",
        references: &[
            "SQLAlchemy, *Switching Pool Implementations* and *Using Connection Pools with Multiprocessing*: <https://docs.sqlalchemy.org/en/20/core/pooling.html>",
            "SQLAlchemy asyncpg dialect, *Prepared Statement Name with PGBouncer* (NullPool): <https://docs.sqlalchemy.org/en/20/dialects/postgresql.html#module-sqlalchemy.dialects.postgresql.asyncpg>",
            "PgBouncer `pool_mode`: <https://www.pgbouncer.org/config.html#pool_mode>",
            "autobase-tech/autobase#89 (issue): <https://github.com/autobase-tech/autobase/issues/89>",
        ],
    },
    check: Some(check),
};
