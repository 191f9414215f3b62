//! The PC2 rules end to end on in-memory projects: messages, spans, severity
//! and quick fixes that make the finding go away when applied.

use poolcheck_core::{Diagnostic, FileKind, FilePath, Severity};
use poolcheck_rules::analysis::Options;
use poolcheck_rules::{Workspace, analyze};

fn workspace(files: &[(&str, FileKind, &str)]) -> Workspace {
    let mut workspace = Workspace::default();
    for (path, kind, text) in files {
        workspace.update(&FilePath::new(path), *kind, (*text).to_owned());
    }
    workspace
}

fn findings(workspace: &Workspace, code: &str) -> Vec<Diagnostic> {
    analyze(workspace, &Options::default())
        .diagnostics
        .into_iter()
        .filter(|d| d.code == code)
        .collect()
}

fn primary_text(workspace: &Workspace, d: &Diagnostic) -> String {
    let file = workspace
        .sources
        .get(&d.primary.file)
        .expect("file is known");
    file.slice(d.primary.span).to_owned()
}

/// Applies a finding's fix to its file (edits in reverse order) and returns
/// the workspace with the new text.
fn apply_fix(mut workspace: Workspace, d: &Diagnostic) -> Workspace {
    let fix = d.fix.as_ref().expect("a fix is offered");
    let path = fix.edits[0].location.file.clone();
    let mut text = workspace
        .sources
        .get(&path)
        .expect("file")
        .text()
        .to_owned();
    let mut edits = fix.edits.clone();
    edits.sort_by_key(|e| std::cmp::Reverse(e.location.span.start));
    for edit in edits {
        assert_eq!(edit.location.file, path, "one file per fix");
        text.replace_range(edit.location.span.range(), &edit.new_text);
    }
    workspace.update(&path, FileKind::Python, text);
    workspace
}

const TRANSACTION_INI: &str = "[databases]\napp = host=db port=5432 dbname=app\n\n[pgbouncer]\nlisten_port = 6432\npool_mode = transaction\nmax_client_conn = 1000\n";

#[test]
fn sqlalchemy_cache_only_is_named_and_the_fix_turns_asyncpg_cache_off() {
    let db = "from sqlalchemy.ext.asyncio import create_async_engine\n\
engine = create_async_engine(\n    \"postgresql+asyncpg://app@pgbouncer:6432/app\",\n    \
connect_args={\"prepared_statement_cache_size\": 0},\n)\n";
    let ws = workspace(&[
        ("pgbouncer.ini", FileKind::Ini, TRANSACTION_INI),
        ("app/db.py", FileKind::Python, db),
    ]);
    let found = findings(&ws, "PC201");
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = &found[0];
    // Version unknown and the setting absent: support assumed off, so a warning.
    assert_eq!(d.severity, Severity::Warning);
    assert!(d.message.contains(
        "`prepared_statement_cache_size=0` (in connect_args, app/db.py:4) turns off SQLAlchemy's cache only, not asyncpg's"
    ), "{}", d.message);
    assert!(
        d.message
            .contains("statement_cache_size 100, asyncpg default")
    );
    assert_eq!(
        primary_text(&ws, d),
        "{\"prepared_statement_cache_size\": 0}"
    );

    let fixed = apply_fix(ws, d);
    let text = fixed
        .sources
        .get(&FilePath::new("app/db.py"))
        .unwrap()
        .text()
        .to_owned();
    assert!(
        text.contains(
            "connect_args={\"prepared_statement_cache_size\": 0, \"statement_cache_size\": 0},"
        ),
        "{text}"
    );
    assert!(findings(&fixed, "PC201").is_empty());
}

#[test]
fn known_off_support_is_an_error_and_the_fix_adds_connect_args() {
    let ini = format!("{TRANSACTION_INI}max_prepared_statements = 0\n");
    let db = "from sqlalchemy.ext.asyncio import create_async_engine\n\
engine = create_async_engine(\"postgresql+asyncpg://app@pgbouncer:6432/app\", pool_size=2)\n";
    let ws = workspace(&[
        ("pgbouncer.ini", FileKind::Ini, &ini),
        ("app/db.py", FileKind::Python, db),
    ]);
    let found = findings(&ws, "PC201");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Error);
    assert!(
        found[0]
            .message
            .contains("max_prepared_statements = 0, pgbouncer.ini:8")
    );
    let fixed = apply_fix(ws, &found[0]);
    let text = fixed
        .sources
        .get(&FilePath::new("app/db.py"))
        .unwrap()
        .text()
        .to_owned();
    assert!(text.contains(
        "pool_size=2, connect_args={\"statement_cache_size\": 0, \"prepared_statement_cache_size\": 0})"
    ), "{text}");
    assert!(findings(&fixed, "PC201").is_empty());
}

#[test]
fn session_pooling_or_a_name_func_is_not_reported() {
    let session = TRANSACTION_INI.replace("transaction", "session");
    let db = "from sqlalchemy.ext.asyncio import create_async_engine\n\
engine = create_async_engine(\"postgresql+asyncpg://app@pgbouncer:6432/app\")\n";
    let ws = workspace(&[
        ("pgbouncer.ini", FileKind::Ini, &session),
        ("app/db.py", FileKind::Python, db),
    ]);
    assert!(findings(&ws, "PC201").is_empty());

    let named = "from uuid import uuid4\nfrom sqlalchemy.ext.asyncio import create_async_engine\n\
engine = create_async_engine(\"postgresql+asyncpg://app@pgbouncer:6432/app\", \
connect_args={\"prepared_statement_name_func\": lambda: f\"__asyncpg_{uuid4()}__\"})\n";
    let ws = workspace(&[
        ("pgbouncer.ini", FileKind::Ini, TRANSACTION_INI),
        ("app/db.py", FileKind::Python, named),
    ]);
    assert!(findings(&ws, "PC201").is_empty());
}

#[test]
fn psycopg_connect_gets_prepare_threshold_none() {
    let ini = format!("{TRANSACTION_INI}max_prepared_statements = 0\n");
    let db = "import psycopg\n\nconn = psycopg.connect(\"host=pgbouncer port=6432 dbname=app\")\n";
    let ws = workspace(&[
        ("pgbouncer.ini", FileKind::Ini, &ini),
        ("app/db.py", FileKind::Python, db),
    ]);
    let found = findings(&ws, "PC202");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.starts_with("psycopg connection `conn` (app/db.py:3) reaches PgBouncer `pgbouncer.ini` database `app` in transaction pooling (pool_mode = transaction, pgbouncer.ini:6)"), "{}", found[0].message);
    assert!(
        found[0]
            .message
            .contains("`prepared statement \"_pg3_0\" does not exist`")
    );
    let fixed = apply_fix(ws, &found[0]);
    let text = fixed
        .sources
        .get(&FilePath::new("app/db.py"))
        .unwrap()
        .text()
        .to_owned();
    assert!(
        text.contains(
            "psycopg.connect(\"host=pgbouncer port=6432 dbname=app\", prepare_threshold=None)"
        ),
        "{text}"
    );
    assert!(findings(&fixed, "PC202").is_empty());
}

#[test]
fn startup_parameters_are_refused_or_dropped_by_name() {
    let ini = "[databases]\napp = host=db port=5432 dbname=app\n\n[pgbouncer]\nlisten_port = 6432\nignore_startup_parameters = extra_float_digits, statement_timeout\n";
    let db = "from sqlalchemy import create_engine\nfrom sqlalchemy.pool import NullPool\n\
engine = create_engine(\"postgresql+psycopg2://app@pgbouncer:6432/app\", poolclass=NullPool, \
connect_args={\"options\": \"-c statement_timeout=5s -c geqo=off -c timezone=UTC\"})\n";
    let ws = workspace(&[
        ("pgbouncer.ini", FileKind::Ini, ini),
        ("app/db.py", FileKind::Python, db),
    ]);
    let refused = findings(&ws, "PC204");
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert!(
        refused[0]
            .message
            .ends_with("`unsupported startup parameter in options: geqo`"),
        "{}",
        refused[0].message
    );
    let dropped = findings(&ws, "PC205");
    assert_eq!(dropped.len(), 1, "{dropped:#?}");
    assert!(
        dropped[0].message.contains(
            "`statement_timeout` is listed in `ignore_startup_parameters` (pgbouncer.ini:6)"
        ),
        "{}",
        dropped[0].message
    );
}

#[test]
fn session_pool_within_its_size_is_not_pinned() {
    let ini = "[databases]\napp = host=db port=5432 dbname=app pool_size=10\n\n[pgbouncer]\nlisten_port = 6432\nmax_client_conn = 1000\n";
    let db = "from sqlalchemy import create_engine\n\
engine = create_engine(\"postgresql+psycopg2://app@pgbouncer:6432/app\", pool_size=4, max_overflow=6)\n";
    let within = workspace(&[
        ("pgbouncer.ini", FileKind::Ini, ini),
        ("app/db.py", FileKind::Python, db),
    ]);
    // One implicit process × 10 = 10 client connections: exactly the pool.
    assert!(findings(&within, "PC207").is_empty());

    let over = workspace(&[
        ("pgbouncer.ini", FileKind::Ini, ini),
        ("app/db.py", FileKind::Python, db),
        ("gunicorn.conf.py", FileKind::Python, "workers = 2\n"),
    ]);
    let found = findings(&over, "PC207");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains(
            "2 workers × (pool_size 4 + max_overflow 6) = 20 client connections > 10 server connections (pool_size 10)"
        ),
        "{}",
        found[0].message
    );
    // PgBouncer's default pool mode is session: the header is the primary.
    assert_eq!(primary_text(&over, &found[0]), "[pgbouncer]");
}
