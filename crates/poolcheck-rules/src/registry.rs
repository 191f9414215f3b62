//! Rule metadata and the list of every rule. The docs pages, `poolcheck rules`,
//! `poolcheck explain`, SARIF rule descriptors and LSP `codeDescription` links
//! all come from here.

use poolcheck_core::{Code, Diagnostic, Selector, Severity};

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
    pub code: Code,
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
        docs_url(self.code.as_str())
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

/// The rule of a code (any letter case), if it is implemented.
pub fn by_code(code: &str) -> Option<&'static Rule> {
    let code = Code::parse(code)?;
    all().iter().copied().find(|r| r.meta.code == code)
}

/// Whether `selector` (a code or a prefix such as `PC1`, or `ALL`, in any
/// letter case) covers `code`. A text that is no selector covers nothing.
pub fn selector_matches(selector: &str, code: impl AsRef<str>) -> bool {
    match (Selector::parse(selector), Code::parse(code.as_ref())) {
        (Ok(selector), Some(code)) => selector.matches(code),
        _ => false,
    }
}

/// True when `selector` names at least one rule code.
pub fn selector_is_known(selector: &str) -> bool {
    Selector::parse(selector).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes the catalog specifies that no rule implements yet.
    const NOT_IMPLEMENTED: &[Code] = &[];

    #[test]
    fn every_code_has_one_rule_in_code_order() {
        let codes: Vec<Code> = all().iter().map(|r| r.meta.code).collect();
        let expected: Vec<Code> = Code::ALL
            .iter()
            .copied()
            .filter(|c| !NOT_IMPLEMENTED.contains(c))
            .collect();
        assert_eq!(codes, expected);
        for rule in all() {
            let name = rule.meta.name;
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{name}"
            );
        }
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
