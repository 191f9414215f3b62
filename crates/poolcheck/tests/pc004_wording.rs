//! PC004 on the shapes real repositories write (issue 13): the value is
//! followed where the repository says it (a constructor's arguments, the
//! Flask app's config, every caller of a factory), and what cannot be known
//! is one sentence that says what to declare or where to pass the value.

mod support;

use support::{fixture, poolcheck, stdout};

fn check(name: &str) -> String {
    stdout(&poolcheck(
        &fixture(&format!("projects/{name}")),
        &["check", "--format", "concise"],
    ))
}

fn budget(name: &str) -> serde_json::Value {
    let out = poolcheck(
        &fixture(&format!("projects/{name}")),
        &["budget", "--format", "json"],
    );
    assert!(out.status.success(), "{}", support::stderr(&out));
    serde_json::from_slice(&out.stdout).expect("budget JSON")
}

fn demand(budget: &serde_json::Value) -> &serde_json::Value {
    &budget["databases"][0]["demand"]
}

fn lines_with<'a>(text: &'a str, code: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(code)).collect()
}

/// `self.pool_size` set in `__init__` from `Database(url, pool_size=40)`:
/// 4 workers × 40 = 160 > 97; the twin passes 5 (4 × 5 = 20).
#[test]
fn instance_attributes_come_from_the_construction_of_the_class() {
    assert_eq!(demand(&budget("evaluator-self-attributes")), 160);
    let out = check("evaluator-self-attributes");
    assert_eq!(lines_with(&out, "PC101").len(), 1, "{out}");
    assert!(lines_with(&out, "PC004").is_empty(), "{out}");

    assert_eq!(demand(&budget("evaluator-self-attributes-silent")), 20);
    let twin = check("evaluator-self-attributes-silent");
    assert!(lines_with(&twin, "PC101").is_empty(), "{twin}");
    assert!(lines_with(&twin, "PC004").is_empty(), "{twin}");
}

/// `current_app.config["DATABASE_URL"]` comes from the production config
/// class, `current_app.config.get("DB_POOL_SIZE", 2)` from
/// `app.config["DB_POOL_SIZE"] = 30`: 4 workers × 30 = 120 > 97.
#[test]
fn flask_config_keys_are_read_where_the_app_sets_them() {
    assert_eq!(demand(&budget("evaluator-flask-config")), 120);
    let out = check("evaluator-flask-config");
    assert_eq!(lines_with(&out, "PC101").len(), 1, "{out}");
    assert!(lines_with(&out, "PC004").is_empty(), "{out}");

    assert_eq!(demand(&budget("evaluator-flask-config-silent")), 20);
    let twin = check("evaluator-flask-config-silent");
    assert!(lines_with(&twin, "PC101").is_empty(), "{twin}");
    assert!(lines_with(&twin, "PC004").is_empty(), "{twin}");
}

/// A factory nothing in the repository calls: PC004 names the parameter,
/// the function and what to do, once, at the keyword that needs it.
#[test]
fn a_parameter_without_a_caller_says_where_to_pass_the_value() {
    let out = check("pc004-parameter-without-caller");
    let pc004 = lines_with(&out, "PC004");
    assert_eq!(pc004.len(), 2, "{out}");
    assert!(
        pc004[0].contains("app/db.py:7:26")
            && pc004[0].contains(
                "database URL of engine `make_engine` is unknown: `url` is a parameter of \
                 `make_engine()` (app/db.py), and no `x = make_engine(…)` or \
                 `return make_engine(…)` in the repository passes it a value"
            ),
        "{out}"
    );
    assert!(
        pc004[1].contains("pool_size of `make_engine` is unknown: `size` is a parameter"),
        "{out}"
    );
    assert!(!out.contains("callers are not followed"), "{out}");
    assert!(!out.contains("were skipped"), "{out}");

    let twin = check("pc004-parameter-without-caller-silent");
    assert!(lines_with(&twin, "PC004").is_empty(), "{twin}");
    assert_eq!(demand(&budget("pc004-parameter-without-caller-silent")), 6);
}

/// Django gives an alias without ENGINE its dummy backend: no PostgreSQL,
/// no finding. An ENGINE from an unset variable says which to declare.
#[test]
fn a_django_alias_without_engine_is_no_database() {
    let out = check("pc004-django-alias-engine");
    let pc004 = lines_with(&out, "PC004");
    assert_eq!(pc004.len(), 1, "{out}");
    assert!(
        pc004[0].contains(
            "ENGINE of Django alias `archive` is unknown: $ARCHIVE_DB_ENGINE has no value and \
             no default: declare it in [tool.poolcheck.env]"
        ),
        "{out}"
    );
    let twin = check("pc004-django-alias-engine-silent");
    assert!(lines_with(&twin, "PC004").is_empty(), "{twin}");
}

/// A factory called with several values: the budget counts the largest and
/// the message shows each caller's value.
#[test]
fn several_callers_show_each_value() {
    let out = stdout(&poolcheck(
        &fixture("projects/evaluator-caller-args"),
        &["check"],
    ));
    assert!(
        out.contains("30 of the values the calls of `make_engine()` pass for `pool_size` (30, 10)"),
        "{out}"
    );
}
