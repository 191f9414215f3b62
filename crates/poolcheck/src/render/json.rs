//! `--format json`: the contract in the README ("JSON contracts").

use poolcheck_core::{Diagnostic, Location};
use poolcheck_rules::registry;
use poolcheck_rules::sources::Sources;
use serde_json::{Value, json};

use super::line_cols;

fn range(location: &Location, sources: &Sources) -> Value {
    let (start, end) = line_cols(location, sources);
    json!({
        "start": {"line": start.line, "column": start.column},
        "end": {"line": end.line, "column": end.column},
    })
}

pub fn diagnostic_value(d: &Diagnostic, sources: &Sources) -> Value {
    let name = registry::by_code(d.code).map_or("", |r| r.meta.name);
    json!({
        "code": d.code,
        "name": name,
        "severity": d.severity.as_str(),
        "message": d.message,
        "file": d.primary.file.to_string(),
        "range": range(&d.primary, sources),
        "related": d.related.iter().map(|r| json!({
            "file": r.location.file.to_string(),
            "range": range(&r.location, sources),
            "message": r.message,
        })).collect::<Vec<_>>(),
        "fix": d.fix.as_ref().map(|f| json!({
            "title": f.title,
            "applicability": f.applicability.as_str(),
            "edits": f.edits.iter().map(|e| json!({
                "file": e.location.file.to_string(),
                "range": range(&e.location, sources),
                "new_text": e.new_text,
            })).collect::<Vec<_>>(),
        })),
        "url": registry::docs_url(d.code),
    })
}

pub fn render(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let value = json!({
        "version": 1,
        "diagnostics": diagnostics.iter().map(|d| diagnostic_value(d, sources)).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}
