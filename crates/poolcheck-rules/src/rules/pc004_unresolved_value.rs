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
expression it does not evaluate. There is one finding per cause, on the line that holds it \
(where the unknown value is computed, not where it is used): values left unknown by the same \
cause, such as `pool_size` and `max_overflow` hidden in one unknown `**kwargs`, are one \
finding. It says what the budget does without the value (skips the checks that need it, \
assumes the tool's default, or counts the connections on an assumed server) and what to \
declare: the environment variable in `[tool.poolcheck.env]`, the server in \
`[databases.<name>] hosts`, or the value written where poolcheck reads it.",
        why: "poolcheck never guesses. A budget computed from a guessed worker count would be \
wrong in either direction; skipping silently would hide the overrun.",
        example: "```python\n# gunicorn.conf.py\nworkers = int(os.environ[\"WEB_CONCURRENCY\"])\n```",
        fix_text: "Declare the value the deployment really uses:\n\n```toml\n[tool.poolcheck.env]\n\
WEB_CONCURRENCY = \"4\"\n```\n\nor give the lookup a default in the code. For a database URL \
built where poolcheck cannot follow (a library call such as `PostgresDsn.build()`, a value set on \
an object after it is built), declare the server its connections reach:\n\n```toml\n\
[databases.main]\nhosts = [\"db.internal\"]\nmax_connections = 200\n```\n\nA one-off `--set \
env.WEB_CONCURRENCY=8` tries a value for one run.",
        references: &["poolcheck README, *Configuration* (`[env]`, `[services.<name>]`)."],
    },
    check: Some(check),
};
