use poolcheck_core::{Diagnostic, Severity};

use super::budget_text::{add_related, totals_text};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::budget::Count;

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for budget in &ctx.budget.pgbouncers {
        let bouncer = &ctx.deployment.pgbouncers[budget.pgbouncer];
        let Count::Known(clients) = budget.client_demand else {
            continue;
        };
        let (Some(max_client_conn), Some(instances)) =
            (budget.max_client_conn.value, budget.instances.value)
        else {
            continue;
        };
        let limit = (max_client_conn.max(0) as u64).saturating_mul(instances.max(1) as u64);
        if clients <= limit {
            continue;
        }
        let primary = budget
            .clients
            .iter()
            .max_by_key(|c| c.term.count.known().unwrap_or(0))
            .and_then(|c| c.primary.clone())
            .unwrap_or_else(|| bouncer.config.location.clone());
        let limit_text = if instances > 1 {
            format!(
                "max_client_conn {} × {instances} instances = {limit}",
                ctx.sources.quote_with(&budget.max_client_conn, "")
            )
        } else {
            format!(
                "max_client_conn {}",
                ctx.sources.quote_with(&budget.max_client_conn, "")
            )
        };
        // Short: the totals and the limit; each factor is a note.
        let message = if budget.clients.len() == 1 {
            format!(
                "{} client connections into PgBouncer `{}` > {limit_text}",
                totals_text(&budget.clients),
                bouncer.config.name
            )
        } else {
            format!(
                "{clients} client connections into PgBouncer `{}` ({}) > {limit_text}",
                bouncer.config.name,
                totals_text(&budget.clients)
            )
        };
        let mut diagnostic = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary, message)
            .with_label(format!("{clients} clients > {limit} allowed"))
            .with_help(format!(
                "raise `max_client_conn` to at least {clients} (and the file-descriptor limit with it), or lower the client pools"
            ));
        let limit_location = budget
            .max_client_conn
            .location
            .clone()
            .unwrap_or_else(|| bouncer.config.location.clone());
        diagnostic = diagnostic.with_related(
            limit_location,
            format!(
                "max_client_conn = {max_client_conn}{}",
                if budget.max_client_conn.is_default() {
                    " (PgBouncer default)"
                } else {
                    ""
                }
            ),
        );
        out.push(add_related(diagnostic, &budget.clients, None));
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC103,
        name: "pgbouncer-client-limit-exceeded",
        severity: Severity::Error,
        summary: "The client connections into a PgBouncer exceed its `max_client_conn`.",
        fix: FixAvailability::None,
        what_it_does: "Adds up the client connections every service can open into each PgBouncer \
(replicas × processes × per-process cap of each pool that targets it) and compares the sum with \
`max_client_conn` × the number of PgBouncer instances. `max_client_conn` defaults to 100.",
        why: "PgBouncer refuses clients beyond `max_client_conn` with `ERROR: no more connections \
allowed (max_client_conn)`. Application pools behind PgBouncer are often left at their defaults \
and multiplied by many workers, so the 100-client default is reached long before the database is \
busy.",
        example: "```ini\n; pgbouncer.ini: max_client_conn left at 100\n[pgbouncer]\npool_mode = transaction\n```\n\n\
16 workers × (pool_size 5 + max_overflow 5) = 160 client connections.",
        fix_text: "Raise `max_client_conn` (and the process's open-file limit: PgBouncer's docs \
give `max_client_conn + (max pool_size × databases × users)`), or shrink the application pools; \
behind a transaction pooler a small application pool, or `NullPool`, is enough.",
        references: &[
            "PgBouncer `max_client_conn`: <https://www.pgbouncer.org/config.html#max_client_conn>",
            "pgbouncer/pgbouncer#293: <https://github.com/pgbouncer/pgbouncer/issues/293>",
            "Reproduced against PostgreSQL 15 and PgBouncer 1.18 by `verify/scenarios/PC103-workers-times-pool-over-max-client-conn` (`verify/run PC103`)",
        ],
    },
    check: Some(check),
};
