use poolcheck_core::{Diagnostic, Severity};

use super::budget_text::{add_related, primary_location, server_name, totals_text, usable_limit};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::budget::Count;

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let headroom = ctx.headroom();
    for budget in &ctx.budget.servers {
        let server = &ctx.deployment.servers[budget.server];
        let (Some(usable), Count::Known(demand)) = (budget.usable, &budget.demand) else {
            continue;
        };
        let (usable, demand) = (usable as u64, *demand);
        if demand > usable || demand == 0 {
            continue;
        }
        let free = usable - demand;
        let wanted = (usable as f64 * headroom).ceil() as u64;
        if free >= wanted {
            continue;
        }
        let Some(primary) = primary_location(budget, ctx.deployment) else {
            continue;
        };
        // Short: the totals and the limit; every factor, with its location,
        // is a note.
        let demand_text = if budget.contributors.len() == 1 {
            totals_text(&budget.contributors)
        } else {
            format!("{demand} ({})", totals_text(&budget.contributors))
        };
        let message = format!(
            "{demand_text} connections leave {free} of {usable} usable slots free on {} ({}), less than the {}% headroom ({wanted}) kept for migrations, admin shells, monitoring and deploy overlap",
            server_name(server),
            usable_limit(server),
            (headroom * 100.0).round(),
        );
        let diagnostic = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary, message)
            .with_label(format!("{free} free of {usable} on {}", server_name(server)))
            .with_help(format!(
                "keep demand at or below {} (usable {usable} − headroom {wanted}); `headroom` in the poolcheck configuration sets the fraction",
                usable - wanted
            ));
        out.push(add_related(diagnostic, &budget.contributors, Some(server)));
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC102,
        name: "db-headroom-low",
        severity: Severity::Warning,
        summary: "The budget fits, but leaves less than the headroom free.",
        fix: FixAvailability::None,
        what_it_does: "Reports a PostgreSQL server whose demand fits its usable slots but leaves \
fewer free than `headroom` × usable (10% unless configured).",
        why: "A budget that fits exactly fails as soon as anything else connects: a migration, a \
`psql` shell during an incident, a monitoring agent, a cron job, or the new processes of a rolling \
deploy starting before the old ones stop. The PostgreSQL wiki advises keeping \"a few slots \
available for direct connections for system maintenance and monitoring\".",
        example: "```ini\n# postgresql.conf\nmax_connections = 100\n```\n\n6 workers × (pool_size 5 + max_overflow 10) = 90 of 97 usable: 7 free, below 10%.",
        fix_text: "Lower a pool or the process count, or raise `max_connections`. To accept a \
smaller margin, set `headroom = 0.05` in `[tool.poolcheck]`.",
        references: &[
            "PostgreSQL wiki, *Number Of Database Connections*: <https://wiki.postgresql.org/wiki/Number_Of_Database_Connections>",
        ],
    },
    check: Some(check),
};
