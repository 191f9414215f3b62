use poolcheck_core::{Diagnostic, Severity};

use super::budget_text::{add_related, server_name, usable_explanation};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::budget::{ContributorKind, Count, ServerBudget};

/// True when one PgBouncer's server side alone exceeds the usable slots: then
/// this rule is reported and PC101 is not.
pub fn single_pgbouncer_explains(budget: &ServerBudget, usable: i64) -> bool {
    budget.contributors.iter().any(|c| {
        c.kind == ContributorKind::PgBouncer
            && matches!(c.term.count, Count::Known(n) if n > usable.max(0) as u64)
    })
}

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for budget in &ctx.budget.servers {
        let server = &ctx.deployment.servers[budget.server];
        let Some(usable) = budget.usable else {
            continue;
        };
        for contribution in &budget.contributors {
            if contribution.kind != ContributorKind::PgBouncer {
                continue;
            }
            let Count::Known(n) = contribution.term.count else {
                continue;
            };
            if n <= usable.max(0) as u64 {
                continue;
            }
            let bouncer = &ctx.deployment.pgbouncers[contribution.index];
            let primary = contribution
                .primary
                .clone()
                .unwrap_or_else(|| bouncer.config.location.clone());
            let message = format!(
                "PgBouncer `{}` alone can open {} = {n} server connections > {usable} usable ({})",
                bouncer.config.name,
                contribution.term.quoted,
                usable_explanation(server, ctx.sources)
            );
            let diagnostic = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary, message)
                .with_label(format!(
                    "{n} server connections > {usable} usable on {}",
                    server_name(server)
                ))
                .with_help(format!(
                    "cap the server side with `max_db_connections` (≤ {usable} across all pools and instances) or lower the pool sizes"
                ));
            out.push(add_related(
                diagnostic,
                std::slice::from_ref(contribution),
                Some(server),
            ));
        }
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC104,
        name: "pgbouncer-pool-exceeds-db",
        severity: Severity::Error,
        summary: "One PgBouncer's server-side pools alone exceed the PostgreSQL server's usable slots.",
        fix: FixAvailability::None,
        what_it_does: "Computes the most server connections a PgBouncer can open: for each \
(database, user) pool, `pool_size` (per user, per database, else `default_pool_size`) + \
`reserve_pool_size`, capped by `max_db_connections` and `max_user_connections`, summed over the \
pools and multiplied by the instances. Pools are per (database, user): without a forced `user=` \
every login user that reaches a database gets its own pool. `pool_size = 0` means unlimited on \
PgBouncer 1.24+. It is reported instead of PC101 when this PgBouncer alone explains the overrun.",
        why: "PgBouncer opens server connections up to its pool limits when clients wait; beyond \
PostgreSQL's limit the logins fail with `sorry, too many clients already`, which PgBouncer relays \
or caches (`server login has been failing, cached error`). The pooler meant to protect the \
server then overloads it.",
        example: "```ini\n[databases]\n* = host=pg port=5432 user=app\n\n[pgbouncer]\ndefault_pool_size = 450\n```\n\n\
```ini\n# postgresql.conf\nmax_connections = 300\n```",
        fix_text: "Set `max_db_connections` (and `max_user_connections`) so the server side fits, \
or lower `default_pool_size`/`pool_size`. Account for every PgBouncer instance.",
        references: &[
            "PgBouncer `default_pool_size`, `max_db_connections`: <https://www.pgbouncer.org/config.html>",
            "mediacloud/backend#784: <https://github.com/mediacloud/backend/pull/784>",
            "pgbouncer/pgbouncer#1285: <https://github.com/pgbouncer/pgbouncer/issues/1285>",
            "Reproduced against PostgreSQL 15 and PgBouncer 1.18 by `verify/scenarios/PC104-pgbouncer-pool-over-max-connections` (`verify/run PC104`)",
        ],
    },
    check: Some(check),
};
