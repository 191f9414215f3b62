//! PC004 on the shapes real repositories write (issue 13): one finding per
//! root cause, on the line that holds it, in a sentence that says what to
//! declare; and no finding when the value can be followed.

mod support;

use support::{fixture, poolcheck, stdout};

fn check(name: &str) -> String {
    stdout(&poolcheck(
        &fixture(&format!("projects/{name}")),
        &["check", "--format", "concise"],
    ))
}

fn pc004(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.contains(": PC004 ")).collect()
}

fn demand(name: &str) -> serde_json::Value {
    let out = poolcheck(
        &fixture(&format!("projects/{name}")),
        &["budget", "--format", "json"],
    );
    assert!(out.status.success(), "{}", support::stderr(&out));
    let budget: serde_json::Value = serde_json::from_slice(&out.stdout).expect("budget JSON");
    budget["databases"][0]["demand"].clone()
}

/// `from app.core.settings import app_settings_constructor`, re-exported by
/// the package's `from .settings import *`: the value is read where the
/// submodule writes it, instead of "`app_settings_constructor` is not defined".
#[test]
fn a_relative_star_reexport_is_followed_to_the_value() {
    let out = check("pc004-relative-reexport");
    assert_eq!(
        pc004(&out),
        [
            "app/core/settings/settings.py:5:14: PC004 database URL of engine `engine` is unknown, \
             so the budget counts its connections on an assumed server: $APP_DB_URL has no value \
             and no default: declare it in [tool.poolcheck.env]"
        ],
        "{out}"
    );
    let twin = check("pc004-relative-reexport-silent");
    assert!(pc004(&twin).is_empty(), "{twin}");
    // 3 workers × pool_size 4 from the re-exported settings class.
    assert_eq!(demand("pc004-relative-reexport-silent"), 12);
}

/// `pool_size` and `max_overflow` hidden in one unknown `**options` are one
/// finding, which says the budget still runs on SQLAlchemy's defaults.
#[test]
fn settings_hidden_in_one_unknown_kwargs_are_one_finding() {
    let out = check("pc004-kwargs-grouped");
    assert_eq!(
        pc004(&out),
        [
            "app/db.py:8:10: PC004 pool_size and max_overflow of `engine` are unknown, so the \
             budget assumes SQLAlchemy's default pool_size 5 and SQLAlchemy's default \
             max_overflow 10: keyword arguments are not all known (`**options`: \
             `load_settings().engine_options()`: `vendor_settings.load_settings()` is outside \
             the repository and not evaluated); if the deployment sets it, write it as a keyword \
             of the call, or read it from an environment variable declared in \
             [tool.poolcheck.env]"
        ],
        "{out}"
    );
    assert!(!out.contains("were skipped"), "{out}");
    let twin = check("pc004-kwargs-grouped-silent");
    assert!(pc004(&twin).is_empty(), "{twin}");
    assert_eq!(demand("pc004-kwargs-grouped-silent"), 10);
}

/// `connect, engine = make_engine(os.environ["REPORTING_DB_URL"], 6)`: the
/// factory's parameters come from the unpacked call, and the unknown URL is
/// reported on the caller's line with the variable to declare.
#[test]
fn a_factory_returning_a_tuple_is_followed_to_its_caller() {
    let out = check("pc004-factory-tuple");
    assert_eq!(
        pc004(&out),
        [
            "app/db.py:11:31: PC004 database URL of engine `engine` is unknown, so the budget \
             counts its connections on an assumed server: $REPORTING_DB_URL has no value and no \
             default: declare it in [tool.poolcheck.env]"
        ],
        "{out}"
    );
    let twin = check("pc004-factory-tuple-silent");
    assert!(pc004(&twin).is_empty(), "{twin}");
    // 2 workers × pool_size 6 passed by the caller.
    assert_eq!(demand("pc004-factory-tuple-silent"), 12);
}

/// A factory whose only call poolcheck does not read: the finding names the
/// parameter, the file, which calls are followed and what to declare.
#[test]
fn an_unfollowed_parameter_says_which_calls_are_followed_and_what_to_declare() {
    let out = check("pc004-factory-other-module");
    let findings = pc004(&out);
    assert_eq!(findings.len(), 2, "{out}");
    assert_eq!(
        findings[0],
        "app/factory.py:5:26: PC004 database URL of engine `make_engine` is unknown, so the \
         budget counts its connections on an assumed server: `url` is a parameter of \
         `make_engine()` (app/factory.py) with no default, and no call of `make_engine()` that \
         poolcheck follows passes it (`x = make_engine(…)` or `return make_engine(…)` in a \
         module that mentions a database or server setting); declare the environment variables \
         the code reads in [tool.poolcheck.env], or the server it reaches with \
         `[databases.<name>] hosts`",
        "{out}"
    );
    assert!(!out.contains("callers are not followed"), "{out}");
    // The twin: the same factory called where poolcheck reads it.
    let twin = check("pc004-factory-tuple-silent");
    assert!(pc004(&twin).is_empty(), "{twin}");
}

/// `settings.pool_size()` on an instance of a repository class: the method
/// runs with `self` bound, so the cause is the settings class's environment
/// read, on its own line, not "`self` is a parameter".
#[test]
fn a_method_called_on_an_instance_reads_its_attributes() {
    let out = check("pc004-instance-method");
    assert_eq!(
        pc004(&out),
        [
            "app/config.py:6:21: PC004 pool_size of `engine` is unknown, so the budget checks \
             that need it were skipped: $APP_POOL_SIZE has no value and no default: declare it \
             in [tool.poolcheck.env]"
        ],
        "{out}"
    );
    let twin = check("pc004-instance-method-silent");
    assert!(pc004(&twin).is_empty(), "{twin}");
    assert_eq!(demand("pc004-instance-method-silent"), 8);
}

/// A URL that is `None` or a library call: the library call is the cause,
/// reported where it is written, never "None, or a value poolcheck cannot
/// evaluate, or … is not a string".
#[test]
fn an_unknown_alternative_names_its_own_cause() {
    let out = check("pc004-dsn-build");
    assert_eq!(
        pc004(&out),
        [
            "app/config.py:9:16: PC004 database URL of engine `engine` is unknown, so the budget \
             counts its connections on an assumed server: `pydantic.PostgresDsn.build()` is \
             outside the repository and not evaluated; declare the environment variables the \
             code reads in [tool.poolcheck.env], or the server it reaches with \
             `[databases.<name>] hosts`"
        ],
        "{out}"
    );
    assert!(!out.contains("cannot evaluate"), "{out}");
    // The twin builds the URL in an f-string poolcheck evaluates.
    let twin = check("pc004-instance-method-silent");
    assert!(pc004(&twin).is_empty(), "{twin}");
}
