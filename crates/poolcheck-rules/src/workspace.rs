//! The set of files one analysis reads: discovered, read and extracted in
//! parallel, with the configuration that applies. The CLI loads it once; the
//! language server keeps it and replaces single files as they change.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::facts::ProjectConfig;
use poolcheck_core::{FileFacts, FileKind, FilePath, SourceFile};
use poolcheck_extract::discover::{self, DiscoverOptions, SkipReason};
use rayon::prelude::*;

use crate::sources::Sources;

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub respect_gitignore: bool,
    /// `--config FILE`: use this configuration instead of searching upward.
    pub config_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// The directory relative paths and `%include`s are resolved against.
    pub root: PathBuf,
    /// Facts of every extracted file, sorted by path.
    pub facts: Vec<FileFacts>,
    pub sources: Sources,
    /// The configuration in effect (defaults when there is none).
    pub config: ProjectConfig,
    /// Every Python file under the roots, for imports of unparsed modules.
    pub python_paths: Vec<PathBuf>,
    pub skipped: Vec<(PathBuf, SkipReason)>,
    /// One line per file that could not be read.
    pub errors: Vec<String>,
    pub visited: usize,
}

impl Workspace {
    /// Discovers, reads and extracts everything under `roots`.
    pub fn load(roots: &[PathBuf], options: &LoadOptions) -> Result<Workspace, String> {
        for root in roots {
            if !root.exists() {
                return Err(format!("{}: no such file or directory", root.display()));
            }
        }
        let first = roots.first().cloned().unwrap_or_else(|| PathBuf::from("."));
        let root = if first.is_dir() {
            first.clone()
        } else {
            first
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        };

        let config_path = match &options.config_file {
            Some(path) if !path.is_file() => {
                return Err(format!("{}: configuration file not found", path.display()));
            }
            Some(path) => Some(path.clone()),
            None => poolcheck_extract::project::find_config(&absolute(&root)),
        };
        let mut workspace = Workspace {
            root: root.clone(),
            ..Workspace::default()
        };
        let mut config_facts = None;
        if let Some(path) = &config_path {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("{}: cannot read configuration: {e}", path.display()))?;
            let kind = if path
                .file_name()
                .is_some_and(|n| n.eq_ignore_ascii_case("pyproject.toml"))
            {
                FileKind::PyProject
            } else {
                FileKind::PoolcheckToml
            };
            let file = SourceFile::new(display_path(path), text);
            let facts = poolcheck_extract::extract(&file, kind);
            if let Some(config) = &facts.config {
                workspace.config = config.clone();
            }
            config_facts = Some((Arc::new(file), facts));
        }

        let exclude = workspace
            .config
            .exclude
            .iter()
            .filter_map(|g| g.value.clone())
            .collect();
        let found = discover::discover(
            roots,
            &DiscoverOptions {
                respect_gitignore: options.respect_gitignore,
                exclude,
                prefilter: true,
            },
        );
        workspace.python_paths = found.python_paths;
        workspace.skipped = found.skipped;
        workspace.errors = found.errors;
        workspace.visited = found.visited;

        let extracted: Vec<(Arc<SourceFile>, FileFacts)> = found
            .files
            .into_par_iter()
            .map(|f| {
                let file = SourceFile::new(display_path(&f.path), f.text);
                let facts = poolcheck_extract::extract(&file, f.kind);
                (Arc::new(file), facts)
            })
            .collect();
        for (file, facts) in extracted.into_iter().chain(config_facts) {
            workspace.insert(file, facts);
        }
        workspace.load_imported_modules(None);
        Ok(workspace)
    }

    /// Adds or replaces one file's text and facts (the config file included).
    pub fn insert(&mut self, file: Arc<SourceFile>, facts: FileFacts) {
        // Facts stay sorted by path; the configuration may be both discovered
        // and loaded explicitly: one copy, the newest.
        match self.facts.binary_search_by(|f| f.path.cmp(&facts.path)) {
            Ok(at) => self.facts[at] = facts,
            Err(at) => self.facts.insert(at, facts),
        }
        self.sources.insert(file);
    }

    /// Re-extracts one file from new text (the language server's edits).
    pub fn update(&mut self, path: &FilePath, kind: FileKind, text: String) {
        let file = SourceFile::new(path.clone(), text);
        let facts = poolcheck_extract::extract(&file, kind);
        if kind == FileKind::PoolcheckToml || kind == FileKind::PyProject {
            if let Some(config) = &facts.config {
                self.config = config.clone();
            }
        }
        self.insert(Arc::new(file), facts);
        if kind == FileKind::Python {
            // Only the edited module's imports can be new.
            self.load_imported_modules(Some(path));
        }
    }

    /// Adds the modules admitted files (or just `from`) import that
    /// discovery did not admit.
    pub fn load_imported_modules(&mut self, from: Option<&FilePath>) {
        for (file, facts) in crate::imports::imported_modules(self, from) {
            self.insert(file, facts);
        }
    }

    pub fn remove(&mut self, path: &FilePath) {
        self.facts.retain(|f| &f.path != path);
        self.sources.remove(path);
    }

    pub fn facts_of(&self, path: &FilePath) -> Option<&FileFacts> {
        self.facts
            .binary_search_by(|f| f.path.cmp(path))
            .ok()
            .map(|at| &self.facts[at])
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Paths as users see them: relative to the working directory when below it.
pub fn display_path(path: &Path) -> FilePath {
    if path.is_absolute() {
        if let Ok(cwd) = std::env::current_dir() {
            if let Ok(rel) = path.strip_prefix(&cwd) {
                return FilePath::new(rel);
            }
        }
        return FilePath::new(path);
    }
    FilePath::new(path.strip_prefix("./").unwrap_or(path))
}
