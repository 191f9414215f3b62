//! Output renderers: one module per format.

pub mod budget_human;
pub mod budget_json;
pub mod concise;
#[cfg(test)]
mod fixture;
pub mod github;
pub mod gitlab;
pub mod human;
pub mod identity;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;

use std::fmt::Write as _;

use poolcheck_core::{LineCol, Location};
use poolcheck_rules::sources::Sources;
use poolcheck_rules::topology::Deployment;
use poolcheck_rules::topology::budget::Budget;
use poolcheck_rules::topology::capacity;

/// 1-based start and end of a location (1:1 when the file is unknown).
pub fn line_cols(location: &Location, sources: &Sources) -> (LineCol, LineCol) {
    sources.get(&location.file).map_or(
        (
            LineCol { line: 1, column: 1 },
            LineCol { line: 1, column: 1 },
        ),
        |file| file.span_line_cols(location.span),
    )
}

/// A server's limit as both budget forms print it:
/// (`max_connections 200 − 3 superuser_reserved_connections`, `197`,
/// where max_connections comes from).
pub fn server_limit(
    server: &poolcheck_rules::topology::DatabaseServer,
    budget: &poolcheck_rules::topology::budget::ServerBudget,
    sources: &Sources,
) -> (String, String, String) {
    let max = server
        .max_connections
        .value
        .map_or_else(|| "?".to_owned(), |v| v.to_string());
    let mut limit = format!("max_connections {max}");
    for (label, value) in server.reservations() {
        if let Some(v) = value.value {
            let _ = write!(limit, " − {v} {label}");
        }
    }
    // A provider's documented figure says so, and how to override it.
    let from_provider = server.provider.as_ref().is_some_and(|p| p.limit_from_table);
    let origin = Some(sources.provenance(&server.max_connections))
        .filter(|_| from_provider)
        .or_else(|| {
            server
                .max_connections
                .location
                .as_ref()
                .map(|l| sources.describe(l))
        })
        .or_else(|| server.max_connections.origin_phrase())
        .unwrap_or_default();
    let usable = budget
        .usable
        .map_or_else(|| "?".to_owned(), |u| u.to_string());
    (limit, usable, origin)
}

/// One sentence per service that reaches a limit: the largest replicas,
/// processes per replica and per-process cap that fit, each with what the
/// configuration has now, the others unchanged.
pub fn capacity_lines(deployment: &Deployment, budget: &Budget) -> Vec<String> {
    let answer = |fits: Option<u64>, now: Option<u64>, one: &str, many: &str| {
        let noun = |n: u64| if n == 1 { one } else { many };
        match (fits, now) {
            (Some(n), Some(now)) => Some(format!("{n} {} (now {now})", noun(n))),
            (Some(n), None) => Some(format!("{n} {}", noun(n))),
            (None, _) => None,
        }
    };
    deployment
        .services
        .iter()
        .enumerate()
        .filter_map(|(index, service)| {
            let fits = capacity::fits(deployment, budget, index);
            if !fits.constrained {
                return None;
            }
            let parts: Vec<String> = [
                answer(fits.replicas, fits.now.replicas, "replica", "replicas"),
                answer(
                    fits.processes,
                    fits.now.processes,
                    "process per replica",
                    "processes per replica",
                ),
                answer(
                    fits.per_process,
                    fits.now.per_process,
                    "connection per process",
                    "connections per process",
                ),
            ]
            .into_iter()
            .flatten()
            .collect();
            let mut line = format!("`{}` ", service.name);
            if parts.is_empty() {
                line.push_str(
                    "does not fit at any size: the rest of the deployment already takes every usable slot it reaches",
                );
            } else {
                let _ = write!(line, "fits up to {}", parts.join(", or "));
            }
            Some(line)
        })
        .collect()
}
