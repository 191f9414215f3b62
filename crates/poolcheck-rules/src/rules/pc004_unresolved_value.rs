use poolcheck_core::{Diagnostic, Severity};

use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

/// Assembly records every value a budget or pitfall check needed but could
/// not know, with what to declare; front-ends record files they could not read.
fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    super::reported_while_reading(ctx, RULE.meta.code, out);
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC004,
        name: "unresolved-value",
        severity: Severity::Info,
        summary: "A check needed a value that cannot be known statically.",
        fix: FixAvailability::None,
        what_it_does: "Reports settings that a budget or pitfall check needed but whose value \
poolcheck cannot know: an environment variable with no default and no declared value, or an \
expression it does not evaluate. It says which check was skipped and what to declare.",
        why: "poolcheck never guesses. A budget computed from a guessed worker count would be \
wrong in either direction; skipping silently would hide the overrun.",
        example: "```python\n# gunicorn.conf.py\nworkers = int(os.environ[\"WEB_CONCURRENCY\"])\n```",
        fix_text: "Declare the value the deployment really uses:\n\n```toml\n[tool.poolcheck.env]\n\
WEB_CONCURRENCY = \"4\"\n```\n\nor give the lookup a default in the code.",
        references: &["poolcheck README, *Configuration* (`[env]`, `[services.<name>]`)."],
    },
    check: Some(check),
};
