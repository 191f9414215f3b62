use poolcheck_core::{Diagnostic, Severity};

use super::budget_text::{add_related, primary_location, server_name, usable_limit};
use super::pc104_pgbouncer_pool_exceeds_db::single_pgbouncer_explains;
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::budget::Count;

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for budget in &ctx.budget.servers {
        let Some(rollout) = &budget.rollout else {
            continue;
        };
        let (Some(usable), Count::Known(steady), Count::Known(peak)) =
            (budget.usable, &budget.demand, &rollout.demand)
        else {
            continue;
        };
        let usable_slots = usable.max(0) as u64;
        // Over the limit already: PC101 reports the server, not this rule.
        if *steady > usable_slots
            || *peak <= usable_slots
            || single_pgbouncer_explains(budget, usable)
        {
            continue;
        }
        let server = &ctx.deployment.servers[budget.server];
        let service = &ctx.deployment.services[rollout.service];
        let surge = rollout.surge.value.unwrap_or(0);
        let origin = match (&rollout.surge.location, rollout.surge.origin_phrase()) {
            (Some(at), Some(phrase)) => format!("{phrase}, {}", ctx.sources.describe(at)),
            (Some(at), None) => format!("maxSurge at {}", ctx.sources.describe(at)),
            (None, Some(phrase)) => phrase,
            (None, None) => "the platform default".to_owned(),
        };
        let Some(primary) = rollout
            .surge
            .location
            .clone()
            .or_else(|| primary_location(budget, ctx.deployment))
        else {
            continue;
        };
        let name = server_name(server);
        let replicas = if surge == 1 { "replica" } else { "replicas" };
        let message = format!(
            "a rolling update of `{}` needs {peak} connections to {name} > {usable} usable ({}): the steady {steady} fit, but {surge} surge {replicas} ({origin}) add {surge} × {} connections while the old ones still hold theirs",
            service.name,
            usable_limit(server),
            rollout.per_replica,
        );
        let room = usable_slots - steady;
        let fitting = room.checked_div(rollout.per_replica).unwrap_or(0);
        let help = if fitting >= 1 {
            format!(
                "the largest maxSurge that fits is {fitting} ({fitting} × {} ≤ {room} free slots): set `strategy.rollingUpdate.maxSurge: {fitting}`, or shrink the pool",
                rollout.per_replica
            )
        } else {
            format!(
                "no surge replica fits ({room} free slots < {} per replica): set `maxSurge: 0` with `maxUnavailable: 1`, or shrink the pool",
                rollout.per_replica
            )
        };
        let diagnostic = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary, message)
            .with_label(format!(
                "{peak} connections during a rollout > {usable} usable"
            ))
            .with_help(help);
        out.push(add_related(diagnostic, &budget.contributors, Some(server)));
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC109,
        name: "rollout-surge-exceeded",
        severity: Severity::Error,
        summary: "The steady demand fits the PostgreSQL server, but a rolling update does not.",
        fix: FixAvailability::None,
        what_it_does: "For each PostgreSQL server whose steady demand fits, takes the service \
whose rolling update adds the most connections: its surge replicas (Kubernetes \
`strategy.rollingUpdate.maxSurge`, 25 % of the replicas rounded up by default, 0 with \
`Recreate`; the replicas are an autoscaler's maximum when one targets the workload) × the \
connections one replica opens. When the steady demand plus that surge exceeds the usable slots, \
it reports both demands, where the surge comes from and the largest `maxSurge` that fits. It \
never fires for a server PC101 already reports.",
        why: "During a rolling update the new pods start and open their pools before the old \
ones are terminated. A budget that is exactly full in steady state runs out of slots at every \
deploy: the surge pods fail their readiness checks with `FATAL: sorry, too many clients already` \
or `remaining connection slots are reserved for roles with privileges of the \
pg_use_reserved_connections role` (PostgreSQL 16+), and the rollout stalls.",
        example: "```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n  strategy:\n    rollingUpdate:\n      maxSurge: 2\n  template:\n    spec:\n      containers:\n        - name: web\n          args: [\"gunicorn\", \"-w\", \"4\", \"app.wsgi:app\"]\n```\n\n\
With a pool of 10 per worker: 4 × 4 × 10 = 160 steady connections fit 197 usable slots; \
during a rollout 2 more replicas add 2 × 40 = 80, so 240 > 197.",
        fix_text: "Lower `maxSurge` (to 1, or to 0 with `maxUnavailable: 1` so an old pod stops \
before a new one starts), shrink the pool, or leave room in the budget for the surge.",
        references: &[
            "Kubernetes Deployments, *Max Surge* (default 25 %, rounded up): <https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#max-surge>",
            "PostgreSQL *Connections and Authentication* (`reserved_connections`, PostgreSQL 16): <https://www.postgresql.org/docs/current/runtime-config-connection.html>",
        ],
    },
    check: Some(check),
};
