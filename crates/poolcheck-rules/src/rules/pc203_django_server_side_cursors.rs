use poolcheck_core::facts::pool::{ClientPool, PoolKind};
use poolcheck_core::{Diagnostic, Fix, Severity, Sourced};

use super::pgbouncer_text::{bouncer_clients, client_phrase, insert_into_dict};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for client in bouncer_clients(ctx) {
        let pool = client.pool();
        if !matches!(pool.kind, PoolKind::DjangoAlias | PoolKind::DjangoPool)
            || !client.transaction_pooling()
        {
            continue;
        }
        let setting = disable_server_side_cursors(pool);
        if setting.value != Some(false) {
            // True, or unknown (an expression poolcheck cannot evaluate).
            continue;
        }
        let sources = ctx.sources;
        let shown = match &setting.location {
            Some(at) => format!(
                "`DISABLE_SERVER_SIDE_CURSORS` is False ({})",
                sources.describe(at)
            ),
            None => "`DISABLE_SERVER_SIDE_CURSORS` is not set (Django default False)".to_owned(),
        };
        let message = format!(
            "{} reaches {} in {} and {shown}: `QuerySet.iterator()` declares a server-side \
cursor in one transaction and fetches from it in the next, on another server connection: \
`cursor \"_django_curs_…\" does not exist`",
            client_phrase(pool, sources),
            client.bouncer_phrase(),
            client.mode_phrase(sources),
        );
        let primary = setting
            .location
            .clone()
            .unwrap_or_else(|| pool.location.clone());
        let mut d = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary.clone(), message)
            .with_label("server-side cursors do not survive transaction pooling")
            .with_help(
                "set `\"DISABLE_SERVER_SIDE_CURSORS\": True` in this DATABASES entry, or give \
code that iterates large querysets an alias that connects directly or through a session-mode \
PgBouncer database",
            );
        if client.mode_location() != primary {
            d = d.with_related(client.mode_location(), client.mode_label());
        }
        if setting.location.is_none()
            && let Some(edit) = insert_into_dict(
                sources,
                alias_dict(pool),
                &[("\"DISABLE_SERVER_SIDE_CURSORS\"", "True")],
            )
        {
            // Unsafe: `QuerySet.iterator()` then reads the whole result into
            // memory on the client, which a large table may not fit.
            d = d.with_fix(Fix::unsafe_fix(
                "disable server-side cursors (`\"DISABLE_SERVER_SIDE_CURSORS\": True`)",
                vec![edit],
            ));
        }
        out.push(d);
    }
}

/// The alias's `DISABLE_SERVER_SIDE_CURSORS`, Django's default False when it
/// is absent.
///
/// The Django front-end does not record this setting yet: it needs a
/// `PoolSettings` field `disable_server_side_cursors: Option<Sourced<bool>>`
/// (the value as written, with the key's location; `None` when absent). Until
/// it exists every Django alias reads as the default.
fn disable_server_side_cursors(pool: &ClientPool) -> Sourced<bool> {
    pool.settings.django.as_ref().map_or_else(
        || Sourced::tool_default(false, "Django"),
        |d| d.disable_server_side_cursors.clone(),
    )
}

/// The alias's dict literal, where the fix inserts the key (`insert_into_dict`
/// checks it is one); the pool's own location when the front-end has none.
fn alias_dict(pool: &ClientPool) -> &poolcheck_core::Location {
    pool.settings
        .django
        .as_ref()
        .and_then(|d| d.alias_dict.as_ref())
        .unwrap_or(&pool.location)
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC203,
        name: "django-server-side-cursors",
        severity: Severity::Warning,
        summary: "A Django database reaches PgBouncer transaction pooling with server-side cursors enabled.",
        fix: FixAvailability::Sometimes,
        what_it_does: "Finds Django `DATABASES` aliases (with or without `OPTIONS[\"pool\"]`) \
whose host reaches a PgBouncer database in `transaction` or `statement` pooling while \
`DISABLE_SERVER_SIDE_CURSORS` is not `True` (Django's default is False).",
        why: "On PostgreSQL, `QuerySet.iterator()` uses a server-side cursor: Django declares it \
and then fetches from it in chunks. Outside an explicit transaction each fetch may run on a \
different server connection behind a transaction pooler, where the cursor does not exist: \
`django.db.utils.OperationalError` / `psycopg2.errors.InvalidCursorName` / \
`psycopg.errors.InvalidCursorName: cursor \"_django_curs_<…>\" does not exist`. Django's \
documentation calls this out under *Transaction pooling and server-side cursors*.",
        example: "```python\nDATABASES = {\n    \"default\": {\n        \"ENGINE\": \"django.db.backends.postgresql\",\n        \"HOST\": \"pgbouncer\",\n        \"NAME\": \"app\",\n    }\n}\n```\n\n\
```yaml\npgbouncer:\n  image: edoburu/pgbouncer:v1.25.2-p0\n  environment:\n    POOL_MODE: transaction\n```",
        fix_text: "Set `\"DISABLE_SERVER_SIDE_CURSORS\": True` in the alias. Alternatives: a \
second alias that connects directly (or through a session-mode database) for code that \
iterates large querysets, or wrapping the iteration in `transaction.atomic()`. The quick fix \
inserts the key into the alias's dict.",
        references: &[
            "Django, *Transaction pooling and server-side cursors*: <https://docs.djangoproject.com/en/stable/ref/databases/#transaction-pooling-and-server-side-cursors>",
            "Django `DISABLE_SERVER_SIDE_CURSORS` (1.11.1+, ticket #28062): <https://github.com/django/django/pull/8430>",
            "Reproduced against PostgreSQL 15 and PgBouncer 1.18 by `verify/scenarios/PC203-django-iterator-through-transaction-pooling` (`verify/run PC203`)",
        ],
    },
    check: Some(check),
};
