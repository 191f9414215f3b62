//! Finding and reading the configuration file: `poolcheck.toml`, or a
//! `pyproject.toml` with a `[tool.poolcheck]` table. The parsing is
//! `poolcheck_extract::project`'s; this module only touches the disk.

use std::path::{Path, PathBuf};

use poolcheck_core::{FileFacts, FileKind, FilePath, SourceFile};
use poolcheck_extract::project::{config_from_bytes, configures_poolcheck};

/// The nearest configuration upward from `start` (a file or a directory),
/// absolute: `poolcheck.toml`, or a `pyproject.toml` with a `[tool.poolcheck]`
/// table; `poolcheck.toml` wins in the same directory.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(start).ok()?;
    let first_dir = if absolute.is_file() {
        absolute.parent()?.to_path_buf()
    } else {
        absolute
    };
    first_dir.ancestors().find_map(|dir| {
        let poolcheck = dir.join("poolcheck.toml");
        if poolcheck.is_file() {
            return Some(poolcheck);
        }
        let pyproject = dir.join("pyproject.toml");
        (pyproject.is_file() && pyproject_configures_poolcheck(&pyproject)).then_some(pyproject)
    })
}

/// A pyproject that cannot be read may configure poolcheck: it counts, so
/// that [`load_config`] says why its settings do not apply.
fn pyproject_configures_poolcheck(path: &Path) -> bool {
    match std::fs::read_to_string(path) {
        Ok(text) => configures_poolcheck(&text),
        Err(_) => true,
    }
}

/// Reads the configuration file at `path` as `kind`, shown as `display`. A
/// file that cannot be read is PC003 at the file (see
/// [`config_from_bytes`]), never an error that stops the run.
pub fn load_config(path: &Path, display: FilePath, kind: FileKind) -> (SourceFile, FileFacts) {
    let read = std::fs::read(path).map_err(|error| error.to_string());
    config_from_bytes(read, display, kind)
}

/// The kind a configuration file is read as, by its name.
pub fn config_kind(path: &Path) -> FileKind {
    if path
        .file_name()
        .is_some_and(|n| n.eq_ignore_ascii_case("pyproject.toml"))
    {
        FileKind::PyProject
    } else {
        FileKind::PoolcheckToml
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_config_prefers_poolcheck_toml_and_skips_unrelated_pyprojects() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let nested = root.join("svc/app");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(
            root.join("pyproject.toml"),
            "[tool.poolcheck]\nheadroom = 0.2\n",
        )
        .unwrap();
        std::fs::write(root.join("svc/pyproject.toml"), "[tool.ruff]\n").unwrap();
        assert_eq!(find_config(&nested), Some(root.join("pyproject.toml")));
        std::fs::write(root.join("poolcheck.toml"), "").unwrap();
        assert_eq!(find_config(&nested), Some(root.join("poolcheck.toml")));
        std::fs::write(nested.join("settings.py"), "").unwrap();
        std::fs::write(
            root.join("svc/pyproject.toml"),
            "[tool.poolcheck.database]\nmax_connections = 10\n",
        )
        .unwrap();
        assert_eq!(
            find_config(&nested.join("settings.py")),
            Some(root.join("svc/pyproject.toml"))
        );
    }

    #[test]
    fn a_configuration_that_cannot_be_read_is_pc003_at_the_file_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        // Reading a directory fails for every user, root included.
        let (_, facts) = load_config(
            dir.path(),
            FilePath::new("poolcheck.toml"),
            FileKind::PoolcheckToml,
        );
        assert_eq!(facts.diagnostics.len(), 1);
        let d = &facts.diagnostics[0];
        assert_eq!(d.code, "PC003");
        assert!(
            d.message.starts_with("cannot read the configuration: "),
            "{}",
            d.message
        );
        assert!(d.primary.span.is_empty());
        let config = facts.config.unwrap();
        assert_eq!(config.path.unwrap().display_string(), "poolcheck.toml");
        assert_eq!(config.select, None);
        // An unreadable pyproject.toml is treated the same way.
        let (_, facts) = load_config(
            dir.path(),
            FilePath::new("pyproject.toml"),
            FileKind::PyProject,
        );
        assert_eq!(facts.diagnostics[0].code, "PC003");
    }
}
