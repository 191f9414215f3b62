//! The capacity answers of DESIGN: for each service, the largest replicas,
//! processes per replica and per-process pool cap that keep every server and
//! PgBouncer it reaches within its usable slots, everything else unchanged.
//!
//! A service adds `replicas × processes × cap` at each target it connects to
//! directly, so each answer is one division: the slots the rest of the
//! deployment leaves, over what one unit of the factor costs.

use poolcheck_core::IntExpr;

use super::Deployment;
use super::budget::{Budget, Count, Cpus, eval_int};

/// The largest value of each factor that fits; `None` when even one unit does
/// not fit, or when a number it depends on is unknown or unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fits {
    pub replicas: Option<u64>,
    pub processes: Option<u64>,
    /// The per-process connection cap towards the tightest target (the sum of
    /// the caps of its pools there).
    pub per_process: Option<u64>,
    /// True when the service reaches at least one target with a known limit.
    pub constrained: bool,
    /// What the configuration runs now: replicas, processes per replica and
    /// the per-process cap at the tightest target.
    pub now: Now,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    pub replicas: Option<u64>,
    pub processes: Option<u64>,
    pub per_process: Option<u64>,
}

/// One limit the service shares: what the others leave, and what this
/// service now takes there.
struct Share {
    left: u64,
    taken: u64,
}

fn shares(budget: &Budget, service: usize) -> Option<Vec<Share>> {
    let mut out = Vec::new();
    for server in &budget.servers {
        let Some(mine) = server
            .contributors
            .iter()
            .find(|c| c.kind == super::budget::ContributorKind::Service && c.index == service)
        else {
            continue;
        };
        let usable = u64::try_from(server.usable?).ok()?;
        let demand = server.demand.known()?;
        let taken = mine.term.count.known()?;
        out.push(Share {
            left: usable.saturating_sub(demand.saturating_sub(taken)),
            taken,
        });
    }
    for bouncer in &budget.pgbouncers {
        let Some(mine) = bouncer.clients.iter().find(|c| c.index == service) else {
            continue;
        };
        let limit = bouncer
            .max_client_conn
            .value?
            .checked_mul(bouncer.instances.value.unwrap_or(1))?;
        let limit = u64::try_from(limit).ok()?;
        let demand = bouncer.client_demand.known()?;
        let taken = mine.term.count.known()?;
        out.push(Share {
            left: limit.saturating_sub(demand.saturating_sub(taken)),
            taken,
        });
    }
    Some(out)
}

/// The capacity answers for one service of the deployment.
pub fn fits(deployment: &Deployment, budget: &Budget, service: usize) -> Fits {
    let Some(s) = deployment.services.get(service) else {
        return Fits::default();
    };
    let Some(shares) = shares(budget, service) else {
        return Fits::default();
    };
    if shares.is_empty() {
        return Fits::default();
    }
    let known = |c: Count| c.known().filter(|&n| n > 0);
    let replicas = known(eval_int(&s.replicas.clone().map(IntExpr::Const), s, Cpus::Declared).0);
    let processes = known(eval_int(&s.processes, s, Cpus::Declared).0);
    // What one replica, one process (in every replica) and one connection
    // of cap (in every process) cost at a target.
    let largest = |unit_cost: &dyn Fn(&Share) -> Option<u64>| -> Option<u64> {
        shares
            .iter()
            .map(|share| {
                // A factor that costs nothing at a target is not limited there.
                Some(
                    share
                        .left
                        .checked_div(unit_cost(share)?)
                        .unwrap_or(u64::MAX),
                )
            })
            .try_fold(u64::MAX, |acc, n| Some(acc.min(n?)))
            .filter(|&n| n > 0 && n != u64::MAX)
    };
    let per_replica = |share: &Share| Some(share.taken / replicas?);
    let per_process = |share: &Share| Some(share.taken / replicas? / processes?);
    let per_slot = |_: &Share| replicas?.checked_mul(processes?);
    let per_process_now = shares.iter().filter_map(&per_process).max();
    Fits {
        now: Now {
            replicas,
            processes,
            per_process: per_process_now,
        },
        replicas: largest(&per_replica),
        processes: largest(&|share| per_process(share)?.checked_mul(replicas?)),
        per_process: largest(&per_slot),
        constrained: true,
    }
}
