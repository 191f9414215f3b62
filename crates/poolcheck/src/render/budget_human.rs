//! `budget` as a table per database with a bar of how its slots are shared.

use std::fmt::Write as _;

use poolcheck_rules::sources::Sources;
use poolcheck_rules::topology::Deployment;
use poolcheck_rules::topology::budget::{Budget, Count};

/// Columns are padded to their widest cell up to this many characters: a
/// formula of thousands of terms (a monorepo's every pool) runs past its
/// column instead of padding every row to its length (and beyond the widths
/// `format!` accepts, which panicked).
const WIDEST_COLUMN: usize = 120;
const BAR_WIDTH: usize = 50;
/// One fill per contributor, cycled; free slots are dots.
const FILLS: [char; 4] = ['█', '▓', '▒', '░'];
const COLORS: [&str; 4] = ["\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[34m"];
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, style: &str, text: &str) -> String {
        if self.on {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }
}

pub fn render(deployment: &Deployment, budget: &Budget, sources: &Sources, color: bool) -> String {
    let paint = Paint { on: color };
    let mut out = String::new();
    if budget.servers.is_empty() && budget.pgbouncers.is_empty() {
        out.push_str("No PostgreSQL client pools or servers found.\n");
        return out;
    }
    for b in &budget.servers {
        let server = &deployment.servers[b.server];
        let (limit, usable, origin) = super::server_limit(server, b, sources);
        let _ = writeln!(
            out,
            "{} {}{}{}",
            paint.wrap(BOLD, "Database"),
            paint.wrap(BOLD, &server.name),
            server.provider_suffix(),
            if server.assumed && server.provider.is_none() {
                " (assumed: PostgreSQL defaults)"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "  {limit} = {usable} usable ({origin})");
        let rows: Vec<[String; 3]> = b
            .contributors
            .iter()
            .map(|c| {
                [
                    format!("{} {}", c.kind.as_str(), c.name),
                    c.term.formula.clone(),
                    c.term.count.to_string(),
                ]
            })
            .collect();
        let w0 = rows
            .iter()
            .map(|r| r[0].chars().count())
            .max()
            .unwrap_or(0)
            .clamp(11, WIDEST_COLUMN);
        let w1 = rows
            .iter()
            .map(|r| r[1].chars().count())
            .max()
            .unwrap_or(0)
            .clamp(7, WIDEST_COLUMN);
        let _ = writeln!(
            out,
            "  {:<w0$}  {:<w1$}  CONNECTIONS",
            "CONTRIBUTOR", "FORMULA"
        );
        for r in &rows {
            let _ = writeln!(out, "  {:<w0$}  {:<w1$}  {:>11}", r[0], r[1], r[2]);
        }
        let demand_text = match &b.demand {
            Count::Known(d) => match b.usable {
                Some(u) if *d > u as u64 => {
                    paint.wrap(RED, &format!("{d} / {u} ({} over)", *d - u as u64))
                }
                Some(u) => format!("{d} / {u} ({} free)", u as u64 - d),
                None => format!("{d} / ?"),
            },
            Count::Unbounded(why) => paint.wrap(RED, &format!("unbounded ({why})")),
            Count::Unknown(why) => format!("unknown ({why})"),
        };
        let _ = writeln!(out, "  {:<w0$}  {:<w1$}  {demand_text}", "demand", "");
        if let Some(rollout) = &b.rollout {
            let service = &deployment.services[rollout.service].name;
            let surge = rollout.surge.value.unwrap_or(0);
            let formula = format!(
                "+ {surge} surge {} of {service} × {}",
                if surge == 1 { "replica" } else { "replicas" },
                rollout.per_replica
            );
            let text = match (&rollout.demand, b.usable) {
                (Count::Known(d), Some(u)) if *d > u as u64 => {
                    paint.wrap(RED, &format!("{d} / {u} ({} over)", *d - u as u64))
                }
                (Count::Known(d), Some(u)) => format!("{d} / {u} ({} free)", u as u64 - d),
                (other, _) => other.to_string(),
            };
            let _ = writeln!(out, "  {:<w0$}  {formula:<w1$}  {text}", "rollout");
        }
        if let (Some(u), Count::Known(_)) = (b.usable, &b.demand) {
            let _ = writeln!(out, "  {}", bar(b, u.max(0) as u64, &paint));
            if !b.contributors.is_empty() {
                let legend: Vec<String> = b
                    .contributors
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let fill = FILLS[i % FILLS.len()].to_string();
                        format!("{} {}", paint.wrap(COLORS[i % COLORS.len()], &fill), c.name)
                    })
                    .collect();
                let over = b.demand.known().is_some_and(|d| d > u.max(0) as u64);
                let _ = writeln!(
                    out,
                    "  {}  {}",
                    legend.join("  "),
                    if over { "│ usable limit" } else { "· free" }
                );
            }
        }
        out.push('\n');
    }
    // Services whose pools are counted from all service code say why: the
    // number may include code those processes never import.
    for service in deployment.services.iter().filter(|s| s.server.is_some()) {
        if let Some(reason) = &service.runs_all_code {
            let _ = writeln!(
                out,
                "Service {} runs all service code (no entry point resolved: {reason})",
                service.name
            );
        }
    }
    if deployment
        .services
        .iter()
        .any(|s| s.server.is_some() && s.runs_all_code.is_some())
    {
        out.push('\n');
    }
    // A monorepo keeps one test compose file per app: past a few, one line.
    let test_files = &deployment.test_compose_files;
    if test_files.len() <= 3 {
        for file in test_files {
            let _ = writeln!(
                out,
                "Not counted: {file} describes test runs (its name says so), not the deployment"
            );
        }
    } else {
        let _ = writeln!(
            out,
            "Not counted: {} compose files for test runs ({}, {}, …; `--verbose` lists them)",
            test_files.len(),
            test_files[0],
            test_files[1]
        );
    }
    if !test_files.is_empty() {
        out.push('\n');
    }
    for b in &budget.pgbouncers {
        let bouncer = &deployment.pgbouncers[b.pgbouncer];
        let _ = writeln!(
            out,
            "{} {}",
            paint.wrap(BOLD, "PgBouncer"),
            paint.wrap(BOLD, &bouncer.config.name)
        );
        let max_client = b
            .max_client_conn
            .value
            .map_or_else(|| "?".to_owned(), |v| v.to_string());
        let _ = writeln!(
            out,
            "  clients: {} / max_client_conn {max_client}{}",
            b.client_demand,
            if b.instances.value.unwrap_or(1) > 1 {
                format!(" × {} instances", b.instances.value.unwrap_or(1))
            } else {
                String::new()
            }
        );
        for c in &b.clients {
            let _ = writeln!(out, "    {}: {} = {}", c.name, c.term.formula, c.term.count);
        }
        let total = b.server_side.total();
        let _ = writeln!(out, "  server side: {total}");
        for (server, term) in &b.server_side.per_server {
            let _ = writeln!(
                out,
                "    → {}: {} = {}",
                deployment.servers[*server].name, term.formula, term.count
            );
        }
        out.push('\n');
    }
    let capacity = super::capacity_lines(deployment, budget);
    if !capacity.is_empty() {
        let _ = writeln!(out, "{}", paint.wrap(BOLD, "Capacity"));
        for line in capacity {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// `[████▓▓▓▓····]`: one segment per contributor, proportional to its
/// connections. Within the limit the bar spans the usable slots and the rest
/// is free (`·`); over it the bar spans the demand instead, so every
/// contributor keeps its true share, and `│` marks where the usable slots end.
fn bar(b: &poolcheck_rules::topology::budget::ServerBudget, usable: u64, paint: &Paint) -> String {
    let counts: Vec<u64> = b
        .contributors
        .iter()
        .map(|c| c.term.count.known().unwrap_or(0))
        .collect();
    let total = counts.iter().fold(0u64, |a, &n| a.saturating_add(n));
    let over = total > usable;
    let span = if over { total } else { usable };
    let scale = |n: u64| -> usize {
        if span == 0 {
            0
        } else {
            ((n as f64 / span as f64) * BAR_WIDTH as f64).round() as usize
        }
    };
    // Cell boundaries from cumulative sums, so rounding never loses a cell
    // and the segments always add up to the bar.
    let mut cells: Vec<(usize, char)> = Vec::with_capacity(BAR_WIDTH);
    let mut running = 0u64;
    let mut used = 0usize;
    for (i, &n) in counts.iter().enumerate() {
        running = running.saturating_add(n);
        let mut end = scale(running).min(BAR_WIDTH);
        // A contributor too small to round to a cell still gets one.
        if n > 0 && end == used && used < BAR_WIDTH {
            end = used + 1;
        }
        for _ in used..end {
            cells.push((i, FILLS[i % FILLS.len()]));
        }
        used = used.max(end);
    }
    let limit_cell = if over {
        Some(scale(usable).min(BAR_WIDTH))
    } else {
        None
    };
    let mut text = String::new();
    for (position, (i, fill)) in cells.iter().enumerate() {
        if limit_cell == Some(position) {
            text.push_str(&paint.wrap(RED, "│"));
        }
        text.push_str(&paint.wrap(COLORS[i % COLORS.len()], &fill.to_string()));
    }
    if used < BAR_WIDTH {
        text.push_str(&"·".repeat(BAR_WIDTH - used));
    }
    if limit_cell.is_some_and(|c| c >= cells.len()) {
        text.push_str(&paint.wrap(RED, "│"));
    }
    let percent = total.saturating_mul(100).checked_div(usable).unwrap_or(0);
    let tail = if over {
        paint.wrap(RED, &format!("▶ {percent}% of usable"))
    } else {
        format!("{percent}% of usable")
    };
    format!("[{text}] {tail}")
}
