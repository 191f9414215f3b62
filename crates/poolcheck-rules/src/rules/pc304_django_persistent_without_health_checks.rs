use poolcheck_core::facts::process::ServerKind;
use poolcheck_core::{Diagnostic, Fix, Location, Origin, Severity};
use poolcheck_model::fix_edits as edits;

use super::django_support::{
    DjangoClient, HEALTH_CHECKS_SINCE, alias_phrase, conn_max_age_location, conn_max_age_text,
    django_clients, django_version, health_checks_text, persistent, served_by, service_phrase,
};
use super::pgbouncer_text::within;
use super::process_support::{describe_pin, text_at};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

/// An alias as written: the same settings read by several services is one finding.
type AliasKey = (Location, String, String);

fn key(client: &DjangoClient<'_>) -> AliasKey {
    (
        client.pool.location.clone(),
        client.django.alias.clone(),
        client.django.settings_module.clone(),
    )
}

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let clients = django_clients(ctx);
    // PC301 already asks for `CONN_MAX_AGE = 0` where Django runs over ASGI
    // or in greenlets; health checks would not help there.
    let asgi: Vec<AliasKey> = clients
        .iter()
        .filter(|c| persistent(c.django) && served_by(ctx, c.service, c.django).is_some())
        .map(key)
        .collect();
    let mut groups: Vec<(AliasKey, Vec<&DjangoClient<'_>>)> = Vec::new();
    for client in &clients {
        let django = client.django;
        // With a pool, Django refuses a non-zero CONN_MAX_AGE (PC302).
        if django.pool.is_some()
            || !persistent(django)
            || django.conn_health_checks.value != Some(false)
        {
            continue;
        }
        let k = key(client);
        if asgi.contains(&k) {
            continue;
        }
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, members)) => {
                if !members
                    .iter()
                    .any(|m| m.service.name == client.service.name)
                {
                    members.push(client);
                }
            }
            None => groups.push((k, vec![client])),
        }
    }
    for (_, members) in groups {
        out.push(finding(ctx, &members));
    }
}

fn finding(ctx: &Context<'_>, members: &[&DjangoClient<'_>]) -> Diagnostic {
    let client = members[0];
    let django = client.django;
    let run_by = if ctx.deployment.implicit_service {
        String::new()
    } else {
        let services: Vec<String> = members
            .iter()
            .map(|m| service_phrase(ctx, m.service))
            .collect();
        match services.as_slice() {
            [] => String::new(),
            [one] => format!(", and service {one} runs it"),
            [rest @ .., last] => format!(", and services {} and {last} run it", rest.join(", ")),
        }
    };
    let work = if members
        .iter()
        .any(|m| m.service.server == Some(ServerKind::Celery))
    {
        "request or task"
    } else {
        "request"
    };
    let old_django = django_version(ctx).filter(|(v, _)| *v < HEALTH_CHECKS_SINCE);
    let version_note = old_django.map_or_else(String::new, |(v, pin)| {
        format!(
            "; `CONN_HEALTH_CHECKS` does not exist before Django 4.1, and this project pins {v} ({})",
            describe_pin(ctx, pin)
        )
    });
    let message = format!(
        "{} keeps connections open between requests ({}) without checking them before reuse ({}){run_by}: after a database restart or failover, the first {work} on each kept connection fails with `server closed the connection unexpectedly` or `SSL SYSCALL error: EOF detected`{version_note}",
        alias_phrase(ctx, client),
        conn_max_age_text(ctx, client),
        health_checks_text(ctx, django),
    );
    let checks = &django.conn_health_checks;
    let written_false = checks.origin == Origin::Literal && checks.location.is_some();
    let age_location = conn_max_age_location(client);
    let primary = if written_false {
        checks
            .location
            .clone()
            .unwrap_or_else(|| age_location.clone())
    } else {
        age_location.clone()
    };
    let in_alias = django.alias_dict.as_ref().is_some_and(|dict| {
        django
            .conn_max_age
            .location
            .as_ref()
            .is_none_or(|at| within(at, dict))
    });
    let help = if old_django.is_some() {
        "upgrade to Django ≥ 4.1 and set `\"CONN_HEALTH_CHECKS\": True`, or set `CONN_MAX_AGE` to 0 so that every request opens a fresh connection".to_owned()
    } else if in_alias {
        "set `\"CONN_HEALTH_CHECKS\": True` on the alias: Django then checks a reused connection once per request before its first query, and replaces it if the database has gone away".to_owned()
    } else {
        format!(
            "set `CONN_HEALTH_CHECKS` to True where `CONN_MAX_AGE` is set ({}; `conn_health_checks=True` with dj-database-url): Django then checks a reused connection once per request before its first query, and replaces it if the database has gone away",
            ctx.sources.describe(&age_location)
        )
    };
    let mut d = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary.clone(), message)
        .with_label("persistent connections without health checks")
        .with_help(help);
    if primary != age_location {
        d = d.with_related(age_location, "connections are kept between requests");
    }
    if old_django.is_none()
        && let Some(fix) = health_checks_fix(ctx, client, written_false)
    {
        d = d.with_fix(fix);
    }
    d
}

/// `False` → `True` where `CONN_HEALTH_CHECKS` is written; otherwise the key
/// added to the alias's dict literal.
fn health_checks_fix(
    ctx: &Context<'_>,
    client: &DjangoClient<'_>,
    written_false: bool,
) -> Option<Fix> {
    // Safe: Django then tests a reused connection before a request uses it;
    // queries are unchanged.
    let title = "enable `CONN_HEALTH_CHECKS`";
    let checks = &client.django.conn_health_checks;
    if written_false {
        let location = checks.location.as_ref()?;
        if text_at(ctx, location)? != "False" {
            return None;
        }
        let file = ctx.sources.get(&location.file)?;
        let edit = edits::replace_literal(file, location.span, "True")?;
        return Some(Fix::safe(title, vec![edit]));
    }
    if !checks.is_default() {
        return None;
    }
    let dict = client.django.alias_dict.as_ref()?;
    let file = ctx.sources.get(&dict.file)?;
    let edit = edits::insert_dict_entry(file, dict.span, "\"CONN_HEALTH_CHECKS\"", "True")?;
    Some(Fix::safe(title, vec![edit]))
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC304,
        name: "django-persistent-without-health-checks",
        severity: Severity::Info,
        summary: "A Django database keeps persistent connections (`CONN_MAX_AGE` ≠ 0) without `CONN_HEALTH_CHECKS`.",
        fix: FixAvailability::Sometimes,
        what_it_does: "Reports a Django `DATABASES` alias without `OPTIONS[\"pool\"]` whose \
`CONN_MAX_AGE` keeps connections between requests (a positive number of seconds, or `None`) \
while `CONN_HEALTH_CHECKS` is False (Django's default). Aliases that PC301 reports (Django served \
over ASGI or in greenlets, where `CONN_MAX_AGE` must be 0) are left to it. When the repository \
pins Django below 4.1, where `CONN_HEALTH_CHECKS` does not exist, the message says so and asks \
for an upgrade or `CONN_MAX_AGE = 0`. The quick fix sets `CONN_HEALTH_CHECKS` to True: it \
replaces a written `False`, or adds the key to the alias's dict.",
        why: "A persistent connection outlives the database session behind it when PostgreSQL \
restarts or fails over. Without health checks Django hands that dead connection to the next \
request of the thread that holds it, whose first query fails with `server closed the connection \
unexpectedly` or `SSL SYSCALL error: EOF detected`; Django then discards the connection. As \
Django's documentation puts it, \"database errors affect at most one request per each \
application's worker thread\" — after every restart, one failed request per thread of every \
worker of every replica.",
        example: "```python\nDATABASES = {\n    \"default\": {\n        \"ENGINE\": \"django.db.backends.postgresql\",\n        \"HOST\": \"db\",\n        \"CONN_MAX_AGE\": 600,\n    }\n}\n```",
        fix_text: "Set `\"CONN_HEALTH_CHECKS\": True` (Django ≥ 4.1): \"The health check is performed \
only once per request and only if the database is being accessed.\" With dj-database-url, pass \
`conn_health_checks=True`. On older Django, set `CONN_MAX_AGE` to 0 or accept the failed \
requests.",
        references: &[
            "Django databases documentation, persistent connections and `CONN_HEALTH_CHECKS`: <https://docs.djangoproject.com/en/stable/ref/databases/#persistent-connections>",
            "Django settings, `CONN_HEALTH_CHECKS` (new in 4.1): <https://docs.djangoproject.com/en/stable/ref/settings/#conn-health-checks>",
            "bcgov/DriveBC.ca#1163: <https://github.com/bcgov/DriveBC.ca/pull/1163>",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use poolcheck_core::{FilePath, SourceFile, Span};

    use super::super::django_support::testing::relative;
    use super::super::process_support::testing::Project;
    use poolcheck_model::fix_edits as edits;

    fn project(alias: &str, requirements: &str) -> Project {
        let settings = format!("DATABASES = {{\n    \"default\": {{\n{alias}    }}\n}}\n");
        Project::new(&[
            ("Procfile", "web: gunicorn shop.wsgi:application -w 4\n"),
            ("requirements.txt", requirements),
            ("shop/__init__.py", ""),
            ("shop/settings.py", &settings),
        ])
    }

    const ENGINE: &str =
        "        \"ENGINE\": \"django.db.backends.postgresql\",\n        \"HOST\": \"db\",\n";

    #[test]
    fn the_fix_adds_health_checks_to_the_alias() {
        let project = project(
            &format!("{ENGINE}        \"CONN_MAX_AGE\": 600,\n"),
            "Django==4.2.16\n",
        );
        let found = project.findings("PC304");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(project.primary_text(&found[0]), "600");
        assert_eq!(
            relative(&found[0].message),
            "Django database `default` of settings `shop.settings` (shop/settings.py:2) keeps connections open between requests (`CONN_MAX_AGE` 600, shop/settings.py:5) without checking them before reuse (`CONN_HEALTH_CHECKS` False, Django default), and service `web` (gunicorn, Procfile:1) runs it: after a database restart or failover, the first request on each kept connection fails with `server closed the connection unexpectedly` or `SSL SYSCALL error: EOF detected`"
        );
        let fix = found[0].fix.as_ref().expect("a fix");
        assert_eq!(
            fix.edits[0].new_text,
            "\n        \"CONN_HEALTH_CHECKS\": True,"
        );
        project.apply(fix);
        assert!(project.findings("PC304").is_empty());
    }

    #[test]
    fn a_written_false_is_the_primary_and_becomes_true() {
        let project = project(
            &format!(
                "{ENGINE}        \"CONN_MAX_AGE\": None,\n        \"CONN_HEALTH_CHECKS\": False,\n"
            ),
            "Django==5.2\n",
        );
        let found = project.findings("PC304");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(project.primary_text(&found[0]), "False");
        assert_eq!(
            found[0].related[0].message,
            "connections are kept between requests"
        );
        project.apply(found[0].fix.as_ref().expect("a fix"));
        assert!(project.findings("PC304").is_empty());
    }

    #[test]
    fn django_before_4_1_has_no_health_checks_to_offer() {
        let project = project(
            &format!("{ENGINE}        \"CONN_MAX_AGE\": 300,\n"),
            "Django==3.2.25\n",
        );
        let found = project.findings("PC304");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            relative(&found[0].message).ends_with(
                "; `CONN_HEALTH_CHECKS` does not exist before Django 4.1, and this project pins 3.2.25 (`django==3.2.25` at requirements.txt:1)"
            ),
            "{}",
            found[0].message
        );
        assert!(found[0].fix.is_none());
        assert!(
            found[0]
                .help
                .as_deref()
                .is_some_and(|h| h.starts_with("upgrade to Django ≥ 4.1"))
        );
    }

    #[test]
    fn per_request_connections_and_checked_ones_stay_silent() {
        for alias in [
            ENGINE.to_owned(),
            format!("{ENGINE}        \"CONN_MAX_AGE\": 0,\n"),
            format!(
                "{ENGINE}        \"CONN_MAX_AGE\": 60,\n        \"CONN_HEALTH_CHECKS\": True,\n"
            ),
        ] {
            assert!(
                project(&alias, "Django==5.2\n")
                    .findings("PC304")
                    .is_empty(),
                "{alias}"
            );
        }
    }

    fn insert(text: &str) -> Option<String> {
        let file = SourceFile::new(FilePath::from("settings.py"), text.to_owned());
        let start = text.find('{')?;
        let end = text.rfind('}')? + 1;
        let edit = edits::insert_dict_entry(
            &file,
            Span::new(start, end),
            "\"CONN_HEALTH_CHECKS\"",
            "True",
        )?;
        let mut out = text.to_owned();
        out.replace_range(edit.location.span.range(), &edit.new_text);
        Some(out)
    }

    #[test]
    fn a_multi_line_dict_gets_a_line_of_its_own() {
        assert_eq!(
            insert("D = {\n    \"ENGINE\": \"x\",\n}\n").as_deref(),
            Some("D = {\n    \"ENGINE\": \"x\",\n    \"CONN_HEALTH_CHECKS\": True,\n}\n")
        );
    }

    #[test]
    fn a_one_line_dict_stays_on_one_line() {
        assert_eq!(
            insert("D = {\"ENGINE\": \"x\"}\n").as_deref(),
            Some("D = {\"ENGINE\": \"x\", \"CONN_HEALTH_CHECKS\": True}\n")
        );
        assert_eq!(
            insert("D = {}\n").as_deref(),
            Some("D = {\"CONN_HEALTH_CHECKS\": True}\n")
        );
    }
}
