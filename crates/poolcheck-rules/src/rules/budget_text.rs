//! Wording shared by the budget rules, so that PC101, PC102, PC103 and PC104
//! describe the same arithmetic the same way.

use poolcheck_core::{Diagnostic, Location};

use crate::sources::Sources;
use crate::topology::budget::{Contribution, ContributorKind, Count, ServerBudget};
use crate::topology::{DatabaseServer, Deployment};

/// `max_connections 200 − 3 superuser_reserved_connections, deploy/postgresql.conf:2`
pub fn usable_explanation(server: &DatabaseServer, sources: &Sources) -> String {
    let mut text = usable_limit(server);
    if let Some(loc) = &server.max_connections.location {
        text.push_str(", ");
        text.push_str(&sources.describe(loc));
    } else if let Some(loc) = &server.location {
        text.push_str(", ");
        text.push_str(&sources.describe(loc));
    }
    text
}

/// `max_connections 200 − 3 superuser_reserved_connections`, with how
/// max_connections was decided when it is not written in a file, but without
/// locations: for one-line messages whose notes show them.
pub fn usable_limit(server: &DatabaseServer) -> String {
    let mut text = format!(
        "max_connections {}",
        server
            .max_connections
            .value
            .map_or_else(|| "?".to_owned(), |v| v.to_string())
    );
    for (label, value) in server.reservations() {
        if let Some(v) = value.value {
            text.push_str(&format!(" − {v} {label}"));
        }
    }
    if server.assumed {
        text.push_str(", PostgreSQL defaults assumed: no server configuration found");
    } else if let Some(phrase) = server.max_connections.origin_phrase() {
        text.push_str(&format!(", max_connections {phrase}"));
    }
    text
}

/// The demand in a few words: the formula of a single contributor
/// (`8 workers × (pool_size 15 + max_overflow 30) = 360`), or each
/// contributor's total (`service `web` 360 + service `worker` 180`); the
/// factors and their locations are the diagnostic's notes.
pub fn totals_text(contributions: &[Contribution]) -> String {
    if let [only] = contributions {
        return format!("{} = {}", only.term.formula, only.term.count);
    }
    contributions
        .iter()
        .map(|c| format!("{} `{}` {}", c.kind.as_str(), c.name, c.term.count))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// `8 workers (gunicorn.conf.py:2) × (pool_size 15 + max_overflow 30) (app/db.py:7)`
/// for one contributor, or `web: … = 360 + worker: … = 60` for several.
pub fn contributions_text(contributions: &[Contribution]) -> String {
    if let [only] = contributions {
        return only.term.quoted.clone();
    }
    contributions
        .iter()
        .map(|c| {
            format!(
                "{} `{}`: {} = {}",
                c.kind.as_str(),
                c.name,
                c.term.quoted,
                c.term.count
            )
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Attaches every factor of every contribution, and the server's
/// `max_connections`, as related locations.
pub fn add_related(
    mut diagnostic: Diagnostic,
    contributions: &[Contribution],
    server: Option<&DatabaseServer>,
) -> Diagnostic {
    let mut seen: Vec<(Location, String)> = Vec::new();
    let mut known: std::collections::HashSet<(&Location, &str)> = std::collections::HashSet::new();
    for c in contributions {
        for f in &c.term.factors {
            if let Some(loc) = &f.location {
                if *loc != diagnostic.primary && known.insert((loc, f.label.as_str())) {
                    seen.push((loc.clone(), f.label.clone()));
                }
            }
        }
    }
    if let Some(server) = server {
        if let Some(loc) = server
            .max_connections
            .location
            .clone()
            .or_else(|| server.location.clone())
        {
            let label = format!(
                "max_connections = {}",
                server
                    .max_connections
                    .value
                    .map_or_else(|| "?".to_owned(), |v| v.to_string())
            );
            seen.push((loc, label));
        }
        for (label, value) in server.reservations() {
            if let (Some(loc), Some(v)) = (&value.location, value.value) {
                seen.push((loc.clone(), format!("{label} = {v}")));
            }
        }
    }
    for (loc, label) in seen {
        diagnostic = diagnostic.with_related(loc, label);
    }
    diagnostic
}

/// The primary location of a budget finding: the largest contributor's cap setting.
pub fn primary_location(budget: &ServerBudget, deployment: &Deployment) -> Option<Location> {
    let largest = budget
        .contributors
        .iter()
        .max_by_key(|c| match &c.term.count {
            Count::Known(v) => *v,
            _ => u64::MAX,
        })?;
    largest.primary.clone().or_else(|| match largest.kind {
        ContributorKind::Service => deployment.services[largest.index].location.clone(),
        ContributorKind::PgBouncer => {
            Some(deployment.pgbouncers[largest.index].config.location.clone())
        }
    })
}

/// A short name for a server in messages.
pub fn server_name(server: &DatabaseServer) -> String {
    if server.assumed {
        format!("PostgreSQL server `{}` (assumed)", server.name)
    } else {
        format!("PostgreSQL server `{}`", server.name)
    }
}
