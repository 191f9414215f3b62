//! Modules reached only through imports are read for their imports and parsed
//! only when evaluation needs one of their names; a copy of a library
//! poolcheck models is read as that library. Each test checks what a user
//! sees: the budget, and `--verbose`'s account of what was parsed.

mod support;

use std::path::Path;

use support::{poolcheck, stderr, stdout};

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn budget(root: &Path) -> serde_json::Value {
    let out = poolcheck(root, &["budget", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("budget JSON")
}

/// `api.main` (named by the Procfile) imports `api.routes` as a name of the
/// package (`from api import routes`); `routes` holds no trigger word and
/// imports `api.db`, whose engine takes its size from `api.limits` (no
/// trigger word either). The engine is the service's, with the size read
/// from the module parsed on demand; of the three modules read for their
/// imports (`api/__init__.py`, `routes`, `limits`) only `limits` is parsed.
/// Before, the submodule imported as a package's name was never loaded and
/// the service had no pool.
#[test]
fn a_chain_of_plain_modules_links_the_entry_to_its_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    write(root, "Procfile", "web: gunicorn --workers 3 api.main:app\n");
    write(root, "api/__init__.py", "");
    write(
        root,
        "api/main.py",
        "from flask import Flask\n\nfrom api import routes\n\napp = Flask(__name__)\n",
    );
    write(
        root,
        "api/routes.py",
        "\"\"\"Views.\n\nimport not_a_module\n\"\"\"\nfrom api.db import engine\n\n\ndef index():\n    return engine.url\n",
    );
    write(
        root,
        "api/db.py",
        "from sqlalchemy import create_engine\n\nfrom api.limits import CONNECTIONS\n\nengine = create_engine(\"postgresql://app@db/app\", pool_size=CONNECTIONS, max_overflow=0)\n",
    );
    write(root, "api/limits.py", "CONNECTIONS = 7\nTIMEOUT = 30\n");
    // A module no service imports: its engine is nobody's.
    write(
        root,
        "api/unused.py",
        "from sqlalchemy import create_engine\n\nengine = create_engine(\"postgresql://app@db/app\", pool_size=50)\n",
    );
    write(root, "postgresql.conf", "max_connections = 100\n");
    let budget = budget(root);
    assert_eq!(budget["databases"][0]["demand"], 21, "{budget:#}");
    let verbose = poolcheck(root, &["budget", "--verbose"]);
    let said = stderr(&verbose);
    assert!(
        said.contains(
            "read 3 imported modules only for their imports; evaluation parsed 1 of them"
        ),
        "{said}"
    );
}

/// A repository that vendors its dependencies below an import root
/// (`vendor/sqlalchemy/…`) imports the library, not the copy: the copy's
/// `create_engine` (here one that would change the meaning) is never
/// evaluated, and SQLAlchemy's defaults apply.
#[test]
fn a_vendored_copy_of_a_modelled_library_is_read_as_the_library() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    write(root, "Procfile", "web: gunicorn --workers 2 app.main:app\n");
    write(root, "app/__init__.py", "");
    write(
        root,
        "app/main.py",
        "from sqlalchemy import create_engine\n\nengine = create_engine(\"postgresql://app@db/app\")\napp = object()\n",
    );
    write(
        root,
        "vendor/sqlalchemy/__init__.py",
        "from .engine import *\n",
    );
    write(
        root,
        "vendor/sqlalchemy/engine.py",
        "def create_engine(url, **kwargs):\n    return None\n",
    );
    write(root, "postgresql.conf", "max_connections = 100\n");
    let budget = budget(root);
    // 2 workers × (5 + 10): SQLAlchemy's QueuePool defaults.
    assert_eq!(budget["databases"][0]["demand"], 30, "{budget:#}");
    let check = stdout(&poolcheck(root, &["check", "--format", "concise"]));
    assert!(!check.contains("PC004"), "{check}");
}

/// A package `__init__.py` that re-exports its submodules is admitted for
/// the names it may bind, but starts nothing: when no module that starts
/// something imports it, its submodules are not read. Once one does, they
/// are, and the name imported through the package sizes the pool.
#[test]
fn a_re_exporting_package_is_followed_only_once_it_is_imported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    write(root, "Procfile", "web: gunicorn --workers 2 app.main:app\n");
    write(root, "app/__init__.py", "");
    write(
        root,
        "app/main.py",
        "from sqlalchemy import create_engine\n\nengine = create_engine(\"postgresql://app@db/app\", pool_size=4, max_overflow=0)\napp = object()\n",
    );
    write(root, "limits/__init__.py", "from .values import *\n");
    write(root, "limits/values.py", "POOL = 9\n");
    write(root, "postgresql.conf", "max_connections = 100\n");
    let said = stderr(&poolcheck(root, &["budget", "--verbose"]));
    // `limits/__init__.py` itself, and not `limits/values.py`.
    assert!(
        said.contains("read 1 imported modules only for their imports"),
        "{said}"
    );
    assert_eq!(budget(root)["databases"][0]["demand"], 8);

    write(
        root,
        "app/main.py",
        "from sqlalchemy import create_engine\n\nfrom limits import POOL\n\nengine = create_engine(\"postgresql://app@db/app\", pool_size=POOL, max_overflow=0)\napp = object()\n",
    );
    let said = stderr(&poolcheck(root, &["budget", "--verbose"]));
    assert!(
        said.contains("read 2 imported modules only for their imports"),
        "{said}"
    );
    // 2 workers × 9, the size re-exported by the package.
    assert_eq!(budget(root)["databases"][0]["demand"], 18);
}
