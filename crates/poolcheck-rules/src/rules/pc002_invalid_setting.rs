use poolcheck_core::{Diagnostic, Severity};

use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

/// The front-ends find these while reading (an unknown PgBouncer key, a bad
/// unit); assembly finds broken `%include`s. This check surfaces both.
fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    super::reported_while_reading(ctx, RULE.meta.code, out);
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC002,
        name: "invalid-setting",
        severity: Severity::Error,
        summary: "A config file sets something the tool it configures rejects or ignores.",
        fix: FixAvailability::None,
        what_it_does: "Checks PgBouncer and PostgreSQL configuration files, server command lines and \
gunicorn settings against what those tools accept: unknown PgBouncer keys (with the closest valid \
key), bad enum values such as `pool_mode = transactions`, non-numbers where a number is required, \
values with units the setting does not take, unknown gunicorn worker classes, `%include` files that \
are missing, cyclic or outside the project, and syntax errors that hide a setting.",
        why: "PgBouncer refuses to start on an unknown key or a bad value, and a typo in a pool \
setting is otherwise noticed only at deploy time — or never, when the tool falls back to a \
default. poolcheck also cannot compute a budget from a setting it cannot read.",
        example: "```ini\n[pgbouncer]\npool_mode = transactions\nmax_client_connections = 500\n```",
        fix_text: "Correct the key or value as the message says: `pool_mode = transaction`, \
`max_client_conn = 500`.",
        references: &[
            "PgBouncer configuration reference: <https://www.pgbouncer.org/config.html>",
            "PostgreSQL, *Setting Parameters* (units and includes): <https://www.postgresql.org/docs/current/config-setting.html>",
        ],
    },
    check: Some(check),
};
