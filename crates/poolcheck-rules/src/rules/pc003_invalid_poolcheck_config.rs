use poolcheck_core::{Diagnostic, Severity};

use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

/// The configuration front-end reports unknown keys and wrong types while
/// reading; assembly reports `[services.<name>]` tables that name no service.
fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    super::reported_while_reading(ctx, RULE.meta.code, out);
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC003,
        name: "invalid-poolcheck-config",
        severity: Severity::Error,
        summary: "Unknown key or wrong type in `poolcheck.toml` or `[tool.poolcheck]`.",
        fix: FixAvailability::None,
        what_it_does: "Validates poolcheck's own configuration: every key of `poolcheck.toml` and of \
`[tool.poolcheck]` in `pyproject.toml`, the type and range of every value, rule codes in `select`, \
`ignore` and `severity`, and that each `[services.<name>]` names a service poolcheck found. A \
configuration file that cannot be read, or is not UTF-8, is reported at the file and the project is \
checked with defaults.\n\n\
PC003 always runs: `select` and `ignore` (in the configuration, on the command line or in an editor) \
cannot turn it off, so the configuration is validated whatever they say. A `select` of the wrong \
type (`select = \"PC1\"`) or without a valid code (`select = [\"PC9\"]`) is reported and treated as \
absent, so every rule still runs.",
        why: "A misspelt key (`max_conections`) would otherwise be ignored silently and poolcheck \
would check the budget against a default the user thinks they replaced. A configuration mistake \
that turned rules off would report nothing at all, which looks exactly like a healthy project.",
        example: "```toml\n[database]\nmax_conections = 200\n\n[services.api]\nreplicas = \"3\"\n```",
        fix_text: "Use the key the message suggests (`max_connections`) and the documented type \
(`replicas = 3`). The README lists every key.",
        references: &[
            "poolcheck README, *Configuration*: <https://github.com/poolcheck/poolcheck#configuration>",
        ],
    },
    check: Some(check),
};
