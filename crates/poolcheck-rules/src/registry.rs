//! Rule metadata and the list of every rule. The docs pages, `poolcheck rules`,
//! `poolcheck explain`, SARIF rule descriptors and LSP `codeDescription` links
//! all come from here.

use poolcheck_core::{Diagnostic, Severity};

use crate::context::Context;
use crate::rules;

/// Where rule documentation is published: the repository's `docs/rules/`.
pub const DOCS_BASE: &str = "https://github.com/poolcheck/poolcheck/blob/main/docs/rules";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixAvailability {
    None,
    Sometimes,
    Always,
}

impl FixAvailability {
    pub fn as_str(self) -> &'static str {
        match self {
            FixAvailability::None => "none",
            FixAvailability::Sometimes => "sometimes",
            FixAvailability::Always => "always",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RuleMeta {
    pub code: &'static str,
    /// kebab-case name, stable like the code.
    pub name: &'static str,
    pub severity: Severity,
    /// One sentence: what the rule finds.
    pub summary: &'static str,
    pub fix: FixAvailability,
    pub what_it_does: &'static str,
    pub why: &'static str,
    /// Markdown: a configuration that triggers the rule.
    pub example: &'static str,
    /// Markdown: how to fix it.
    pub fix_text: &'static str,
    /// Markdown list items (sources, with links).
    pub references: &'static [&'static str],
}

impl RuleMeta {
    pub fn url(&self) -> String {
        docs_url(self.code)
    }

    /// The rule's documentation page in Markdown.
    pub fn docs_page(&self) -> String {
        let mut page = format!(
            "# {code} {name}\n\nDefault severity: **{severity}**. Fix: {fix}.\n\n{summary}\n\n\
             ## What it does\n\n{what}\n\n## Why is this bad?\n\n{why}\n\n## Example\n\n{example}\n\n\
             ## Fix\n\n{fix_text}\n",
            code = self.code,
            name = self.name,
            severity = self.severity,
            fix = match self.fix {
                FixAvailability::None => "no automatic fix",
                FixAvailability::Sometimes =>
                    "an automatic fix is offered where the change is local and certain",
                FixAvailability::Always => "an automatic fix is always offered",
            },
            summary = self.summary,
            what = self.what_it_does.trim(),
            why = self.why.trim(),
            example = self.example.trim(),
            fix_text = self.fix_text.trim(),
        );
        if !self.references.is_empty() {
            page.push_str("\n## References\n\n");
            for r in self.references {
                page.push_str("- ");
                page.push_str(r);
                page.push('\n');
            }
        }
        page
    }
}

pub fn docs_url(code: &str) -> String {
    format!("{DOCS_BASE}/{code}.md")
}

pub type CheckFn = fn(&Context<'_>, &mut Vec<Diagnostic>);

pub struct Rule {
    pub meta: RuleMeta,
    /// `None` for rules reported outside the rule pass (PC001 comes from the
    /// suppression pass, which runs last).
    pub check: Option<CheckFn>,
}

/// Every rule, in code order.
pub fn all() -> &'static [&'static Rule] {
    rules::ALL
}

pub fn by_code(code: &str) -> Option<&'static Rule> {
    all()
        .iter()
        .copied()
        .find(|r| r.meta.code.eq_ignore_ascii_case(code))
}

/// Whether `selector` (a code or a prefix such as `PC1`, or `ALL`) covers `code`.
pub fn selector_matches(selector: &str, code: &str) -> bool {
    let selector = selector.trim();
    selector.eq_ignore_ascii_case("ALL")
        || (code.len() >= selector.len() && code[..selector.len()].eq_ignore_ascii_case(selector))
}

/// True when `selector` names at least one rule.
pub fn selector_is_known(selector: &str) -> bool {
    all()
        .iter()
        .any(|r| selector_matches(selector, r.meta.code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_sorted_and_named_in_kebab_case() {
        let codes: Vec<_> = all().iter().map(|r| r.meta.code).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted);
        for rule in all() {
            let name = rule.meta.name;
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{name}"
            );
        }
    }

    #[test]
    fn the_configuration_front_end_knows_exactly_these_codes() {
        // poolcheck-extract validates `select`/`ignore` codes without seeing
        // this registry; its copy must not drift.
        let codes: Vec<&str> = all().iter().map(|r| r.meta.code).collect();
        assert_eq!(poolcheck_extract::project::KNOWN_CODES, codes.as_slice());
    }

    #[test]
    fn prefixes_select_families() {
        assert!(selector_matches("PC1", "PC101"));
        assert!(selector_matches("pc10", "PC104"));
        assert!(!selector_matches("PC2", "PC101"));
        assert!(selector_matches("ALL", "PC002"));
        assert!(!selector_matches("PC1011", "PC101"));
        assert!(selector_is_known("PC10"));
        assert!(!selector_is_known("PC9"));
    }
}
