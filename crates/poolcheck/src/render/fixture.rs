//! A fixed set of findings shared by the output-format snapshot tests: an
//! error with related locations in two other files and a help, a warning
//! with a fix in a file whose path is not ASCII, an info, and an error whose
//! message holds every character the formats must escape.

use poolcheck_core::Code;
use std::sync::Arc;

use poolcheck_core::{Diagnostic, Edit, Fix, Location, Severity, SourceFile, Span};
use poolcheck_rules::sources::Sources;

pub const DB_PY: &str = "app/db.py";
pub const GUNICORN: &str = "gunicorn.conf.py";
pub const POSTGRESQL_CONF: &str = "postgres/postgresql.conf";
pub const PGBOUNCER_INI: &str = "déploiement/pgbouncer.ini";

/// A message with `%`, `:`, `,`, a line break, `<`, `&` and both quotes.
pub const NASTY_MESSAGE: &str = "invalid value `50%` for `superuser_reserved_connections`: expected an integer, got \"half\" & <unset>\nsee the 'reserved' notes";

fn file(path: &str, text: &str) -> Arc<SourceFile> {
    Arc::new(SourceFile::new(path, text))
}

/// The location of the first occurrence of `needle` in `file`.
pub fn locate(file: &SourceFile, needle: &str) -> Location {
    let start = file
        .text()
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` is not in {}", file.path()));
    file.location(Span::new(start, start + needle.len()))
}

pub fn sources() -> Sources {
    let mut sources = Sources::default();
    sources.insert(file(
        DB_PY,
        "from sqlalchemy import create_engine\n\
         \n\
         engine = create_engine(\n    \
             DATABASE_URL,\n    \
             pool_size=20,\n    \
             max_overflow=10,\n\
         )\n",
    ));
    sources.insert(file(GUNICORN, "bind = \"0.0.0.0:8000\"\nworkers = 8\n"));
    sources.insert(file(
        POSTGRESQL_CONF,
        "max_connections = 100\nsuperuser_reserved_connections = half\n",
    ));
    sources.insert(file(
        PGBOUNCER_INI,
        "[pgbouncer]\npool_mode = transaction\nmax_client_conn = 100\ndefault_pool_size = 95\n",
    ));
    sources
}

/// The findings, in the order the analysis sorts them (file, then position).
pub fn diagnostics(sources: &Sources) -> Vec<Diagnostic> {
    let get = |path: &str| {
        sources
            .get(&path.into())
            .unwrap_or_else(|| panic!("{path} is in the fixture"))
            .clone()
    };
    let db = get(DB_PY);
    let gunicorn = get(GUNICORN);
    let pg = get(POSTGRESQL_CONF);
    let bouncer = get(PGBOUNCER_INI);
    vec![
        Diagnostic::new(
            Code::PC004,
            Severity::Info,
            locate(&db, "DATABASE_URL"),
            "`DATABASE_URL` has no value here; the database is taken from poolcheck.toml",
        ),
        Diagnostic::new(
            Code::PC101,
            Severity::Error,
            locate(&db, "pool_size=20"),
            "8 workers × (pool_size 20 + max_overflow 10) = 240 connections, over the 97 that max_connections allows",
        )
        .with_label("20 per process")
        .with_related(locate(&gunicorn, "workers = 8"), "8 workers")
        .with_related(locate(&pg, "max_connections = 100"), "max_connections = 100")
        .with_help("lower pool_size to 9 or less, or put PgBouncer in front of the database"),
        Diagnostic::new(
            Code::PC102,
            Severity::Warning,
            locate(&bouncer, "default_pool_size = 95"),
            "default_pool_size 95 leaves 2 of 97 usable connections free (2%, below the 10% headroom)",
        )
        .with_fix(Fix::safe(
            "set default_pool_size to 87",
            vec![Edit {
                location: locate(&bouncer, "95"),
                new_text: "87".to_owned(),
            }],
        )),
        Diagnostic::new(
            Code::PC002,
            Severity::Error,
            locate(&pg, "half"),
            NASTY_MESSAGE,
        ),
    ]
}
