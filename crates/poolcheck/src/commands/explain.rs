//! `poolcheck explain CODE`: the rule's documentation page.

use poolcheck_rules::registry;

use crate::EXIT_CLEAN;

pub fn run(code: &str) -> Result<u8, String> {
    let Some(rule) = registry::by_code(code.trim()) else {
        return Err(format!(
            "unknown rule `{code}`: `poolcheck rules` lists every code"
        ));
    };
    print!("{}", rule.meta.docs_page());
    Ok(EXIT_CLEAN)
}
