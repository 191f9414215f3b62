//! `budget --format json`: the model as numbers (README, "JSON contracts").

use poolcheck_rules::sources::Sources;
use poolcheck_rules::topology::budget::{Budget, Count, Cpus, eval_int, per_process};
use poolcheck_rules::topology::capacity;
use poolcheck_rules::topology::{Concurrency, Deployment, TargetRef};
use serde_json::{Value, json};

fn count(c: &Count) -> Value {
    match c {
        Count::Known(v) => json!(v),
        _ => Value::Null,
    }
}

/// Why a count is null, appended to its formula.
fn formula(formula: &str, c: &Count) -> String {
    match c {
        Count::Known(_) => formula.to_owned(),
        Count::Unbounded(why) => format!("{formula}: unbounded ({why})"),
        Count::Unknown(why) => format!("{formula}: unknown ({why})"),
    }
}

pub fn target_name(deployment: &Deployment, target: &TargetRef) -> String {
    match target {
        TargetRef::Server(i) => deployment.servers[*i].name.clone(),
        TargetRef::PgBouncer { index, database } => {
            format!("{}/{database}", deployment.pgbouncers[*index].config.name)
        }
    }
}

pub fn value(deployment: &Deployment, budget: &Budget, sources: &Sources) -> Value {
    let databases: Vec<Value> = budget
        .servers
        .iter()
        .map(|b| {
            let server = &deployment.servers[b.server];
            json!({
                "name": server.name,
                "max_connections": server.max_connections.value,
                "source": server.limit_source(),
                "provider": server.provider.as_ref().map(|p| p.provider.key()),
                "size": server
                    .provider
                    .as_ref()
                    .and_then(|p| p.size.as_ref())
                    .and_then(|s| s.value.clone()),
                "reserved": server.reserved_total(),
                "usable": b.usable,
                "demand": count(&b.demand),
                "rollout_demand": b.rollout.as_ref().map_or_else(|| count(&b.demand), |r| count(&r.demand)),
                "contributors": b.contributors.iter().map(|c| json!({
                    "kind": c.kind.as_str(),
                    "name": c.name,
                    "connections": count(&c.term.count),
                    "formula": formula(&c.term.formula, &c.term.count),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let pgbouncers: Vec<Value> = budget
        .pgbouncers
        .iter()
        .map(|b| {
            let total = b.server_side.total();
            json!({
                "name": deployment.pgbouncers[b.pgbouncer].config.name,
                "max_client_conn": b.max_client_conn.value,
                "client_demand": count(&b.client_demand),
                "server_demand": count(&total),
            })
        })
        .collect();
    let services: Vec<Value> = deployment
        .services
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let fits = capacity::fits(deployment, budget, index);
            let (replicas, _) = eval_int(
                &s.replicas.clone().map(poolcheck_core::IntExpr::Const),
                s,
                Cpus::Declared,
            );
            let (processes, _) = eval_int(&s.processes, s, Cpus::Declared);
            let concurrency = match &s.concurrency {
                Concurrency::Bounded(c) => count(&eval_int(c, s, Cpus::Declared).0),
                Concurrency::Unbounded { .. } => Value::Null,
            };
            let scaling = s.scaling.as_ref().map(|scaling| {
                json!({
                    "min": scaling.min.value,
                    "max": scaling.max.value,
                    "surge": scaling.surge.value,
                    "source": scaling.source,
                })
            });
            json!({
                "name": s.name,
                "replicas": count(&replicas),
                "scaling": scaling,
                "processes": count(&processes),
                "concurrency": concurrency,
                "fits": json!({
                    "replicas": fits.replicas,
                    "processes": fits.processes,
                    "per_process": fits.per_process,
                }),
                "entry": s.entry,
                "pools": s.pools.iter().map(|p| {
                    let term = per_process(&p.pool, s, Cpus::Declared, sources);
                    json!({
                        "kind": p.pool.kind.as_str(),
                        "target": target_name(deployment, &p.target),
                        "per_process": count(&term.count),
                        "location": sources.describe(&p.pool.location),
                    })
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "version": 1,
        "databases": databases,
        "pgbouncers": pgbouncers,
        "services": services,
    })
}

pub fn render(deployment: &Deployment, budget: &Budget, sources: &Sources) -> String {
    let mut text = serde_json::to_string_pretty(&value(deployment, budget, sources))
        .unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}
