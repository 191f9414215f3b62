use poolcheck_core::Severity;

use crate::registry::{FixAvailability, Rule, RuleMeta};

// Reported by the suppression pass (`crate::suppress`) after every other rule
// has run, because only then is it known what each comment suppressed.
pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC001,
        name: "unused-suppression",
        severity: Severity::Warning,
        summary: "A `poolcheck: ignore[...]` comment suppressed nothing.",
        fix: FixAvailability::Always,
        what_it_does: "Reports `poolcheck: ignore[...]` and `poolcheck: ignore-file[...]` comments \
that did not suppress any finding, naming the codes that matched nothing, and codes that name no \
rule at all (`unknown rule code PC999`), which can never suppress anything.",
        why: "A stale suppression hides the next real finding on that line. When a setting is \
fixed, its suppression should go too, so that a regression is reported again.",
        example: "```python\nengine = create_engine(URL, pool_size=5)  # poolcheck: ignore[PC101] sized for 2 workers\n```\n\
If the budget fits, PC101 never fires here and the comment suppresses nothing.",
        fix_text: "Remove the comment, or the codes in it that no longer match. `poolcheck check --fix` \
removes it.",
        references: &[
            "ruff's RUF100 (unused-noqa) is the model for this rule: <https://docs.astral.sh/ruff/rules/unused-noqa/>",
        ],
    },
    check: None,
};
