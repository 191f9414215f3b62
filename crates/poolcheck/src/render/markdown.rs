//! `--format markdown`: GitHub-flavoured Markdown for a pull-request comment
//! or `$GITHUB_STEP_SUMMARY` — the findings as one table (`check`) and the
//! budget as a table per database (`budget`).

use std::fmt::Write as _;

use poolcheck_core::{Diagnostic, Severity};
use poolcheck_rules::registry;
use poolcheck_rules::sources::Sources;
use poolcheck_rules::topology::Deployment;
use poolcheck_rules::topology::budget::{Budget, Count};

use super::concise::position;
use super::human::summary_line;

/// Text safe inside a table cell: pipes escaped, line breaks as `<br>`, and
/// characters GitHub would read as markup (`<`, `>`, `&`) as entities.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

/// Inline code that survives backticks inside it.
fn code(text: &str) -> String {
    let fence = if text.contains('`') { "``" } else { "`" };
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", text.replace('|', "\\|"))
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "🔴 error",
        Severity::Warning => "🟠 warning",
        Severity::Info => "🔵 info",
    }
}

/// `check --format markdown`: a heading with the counts and one row per
/// finding; related locations and the help follow the message in its cell.
pub fn check(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let mut out = format!("### poolcheck: {}\n", summary_line(diagnostics));
    if diagnostics.is_empty() {
        return out;
    }
    out.push_str("\n| Severity | Rule | Location | Finding |\n|---|---|---|---|\n");
    for d in diagnostics {
        let rule = match registry::by_code(d.code) {
            Some(rule) => format!(
                "[{}]({}) {}",
                d.code,
                registry::docs_url(d.code),
                rule.meta.name
            ),
            None => d.code.to_owned(),
        };
        let mut finding = cell(&d.message);
        for related in &d.related {
            let _ = write!(
                finding,
                "<br>• {} {}",
                code(&position(&related.location, sources)),
                cell(&related.message)
            );
        }
        if let Some(help) = &d.help {
            let _ = write!(finding, "<br>**help:** {}", cell(help));
        }
        if let Some(fix) = &d.fix {
            let _ = write!(finding, "<br>**fix available:** {}", cell(&fix.title));
        }
        let _ = writeln!(
            out,
            "| {} | {rule} | {} | {finding} |",
            severity(d.severity),
            code(&position(&d.primary, sources)),
        );
    }
    out
}

/// `budget --format markdown`: per database its limit, one row per
/// contributor and the demand; per PgBouncer its clients; then what each
/// service could grow to.
pub fn budget(deployment: &Deployment, budget: &Budget, sources: &Sources) -> String {
    let mut out = String::from("### poolcheck budget\n");
    if budget.servers.is_empty() && budget.pgbouncers.is_empty() {
        out.push_str("\nNo PostgreSQL client pools or servers found.\n");
        return out;
    }
    for b in &budget.servers {
        let server = &deployment.servers[b.server];
        let _ = writeln!(
            out,
            "\n#### Database {}{}{}\n",
            code(&server.name),
            server.provider_suffix(),
            if server.assumed && server.provider.is_none() {
                " (assumed: PostgreSQL defaults)"
            } else {
                ""
            }
        );
        let (limit, usable, origin) = super::server_limit(server, b, sources);
        let _ = writeln!(out, "{limit} = **{usable} usable** ({})\n", cell(&origin));
        out.push_str("| Contributor | Formula | Connections |\n|---|---|---:|\n");
        for c in &b.contributors {
            let _ = writeln!(
                out,
                "| {} {} | {} | {} |",
                c.kind.as_str(),
                code(&c.name),
                cell(&c.term.formula),
                c.term.count
            );
        }
        let verdict = match (&b.demand, b.usable) {
            (Count::Known(d), Some(u)) if *d > u.max(0) as u64 => {
                format!("**{d} / {u}** ❌ {} over", *d - u.max(0) as u64)
            }
            (Count::Known(d), Some(u)) => {
                format!("**{d} / {u}** ✅ {} free", u.max(0) as u64 - d)
            }
            (Count::Known(d), None) => format!("**{d} / ?**"),
            (Count::Unbounded(why), _) => format!("**unbounded** ❌ {}", cell(why)),
            (Count::Unknown(why), _) => format!("**unknown** ({})", cell(why)),
        };
        let _ = writeln!(out, "| **demand** | | {verdict} |");
    }
    for b in &budget.pgbouncers {
        let bouncer = &deployment.pgbouncers[b.pgbouncer];
        let max_client = b
            .max_client_conn
            .value
            .map_or_else(|| "?".to_owned(), |v| v.to_string());
        let instances = b.instances.value.unwrap_or(1);
        let _ = writeln!(
            out,
            "\n#### PgBouncer {}\n\nmax_client_conn {max_client}{}; server side: {}\n",
            code(&bouncer.config.name),
            if instances > 1 {
                format!(" × {instances} instances")
            } else {
                String::new()
            },
            b.server_side.total()
        );
        out.push_str("| Client | Formula | Connections |\n|---|---|---:|\n");
        for c in &b.clients {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                code(&c.name),
                cell(&c.term.formula),
                c.term.count
            );
        }
        let _ = writeln!(out, "| **clients** | | **{}** |", b.client_demand);
    }
    let lines = super::capacity_lines(deployment, budget);
    if !lines.is_empty() {
        out.push_str("\n#### Capacity\n\n");
        for line in lines {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}
