//! `poolcheck rules`: every rule with its code, name, severity and summary.

use std::fmt::Write as _;

use poolcheck_rules::registry;

use crate::EXIT_CLEAN;
use crate::args::RulesArgs;

pub fn run(args: &RulesArgs) -> Result<u8, String> {
    if args.json {
        let rules: Vec<_> = registry::all()
            .iter()
            .map(|r| {
                serde_json::json!({
                    "code": r.meta.code.as_str(),
                    "name": r.meta.name,
                    "severity": r.meta.severity.as_str(),
                    "summary": r.meta.summary,
                    "fix": r.meta.fix.as_str(),
                    "url": r.meta.url(),
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&rules).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(EXIT_CLEAN);
    }
    let width = registry::all()
        .iter()
        .map(|r| r.meta.name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for r in registry::all() {
        let _ = writeln!(
            out,
            "{}  {:<width$}  {:<7}  {}",
            r.meta.code,
            r.meta.name,
            r.meta.severity.as_str(),
            r.meta.summary
        );
    }
    print!("{out}");
    Ok(EXIT_CLEAN)
}
