//! The repository's Python modules by dotted name, and import resolution.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use poolcheck_core::FilePath;
use poolcheck_core::facts::PythonModule;
use poolcheck_core::facts::python::{ExprKind, Stmt, StmtKind};

use super::eval::ScopeKind;

/// One module of the project.
#[derive(Debug)]
pub struct ModuleEntry<'a> {
    pub path: &'a FilePath,
    /// Dotted name from the project root (`src.app.db`, `api.configs`).
    pub name: String,
    /// An `__init__.py`.
    pub is_package: bool,
    pub module: &'a PythonModule,
}

/// All Python modules of a repository, resolvable by import.
pub struct PythonProject<'a> {
    root: PathBuf,
    pub(crate) modules: Vec<ModuleEntry<'a>>,
    by_name: HashMap<String, usize>,
    /// Dotted names of every package directory (prefixes of module names).
    packages_on_disk: RefCell<HashMap<String, bool>>,
    resolved: RefCell<HashMap<(usize, String), Option<usize>>>,
    /// Statements `x = f(...)` / `return f(...)`, by the callee's last name:
    /// where a function's arguments may come from. Built on first use.
    callers: OnceCell<HashMap<&'a str, Vec<Caller<'a>>>>,
}

/// A statement that calls a function by name, and where it stands.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub module: usize,
    pub scope: ScopeKind,
    pub stmt: &'a Stmt,
}

impl std::fmt::Debug for PythonProject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonProject")
            .field("root", &self.root)
            .field("modules", &self.modules.len())
            .finish()
    }
}

/// The dotted module name of `path` relative to `root` (`None` when it is not a `.py` file).
pub fn module_name(root: &Path, path: &Path) -> Option<(String, bool)> {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let mut parts: Vec<String> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let file = parts.pop()?;
    let stem = file
        .strip_suffix(".py")
        .or_else(|| file.strip_suffix(".pyi"))?;
    let is_package = stem == "__init__";
    if !is_package {
        parts.push(stem.to_owned());
    }
    Some((parts.join("."), is_package))
}

impl<'a> PythonProject<'a> {
    pub fn new(
        root: &Path,
        modules: impl IntoIterator<Item = (&'a FilePath, &'a PythonModule)>,
    ) -> Self {
        let mut entries = Vec::new();
        for (path, module) in modules {
            let Some((name, is_package)) = module_name(root, path.as_path()) else {
                continue;
            };
            entries.push(ModuleEntry {
                path,
                name,
                is_package,
                module,
            });
        }
        // Deterministic order whatever order discovery produced.
        entries.sort_by(|a, b| a.path.cmp(b.path));
        let mut by_name = HashMap::new();
        for (index, entry) in entries.iter().enumerate() {
            by_name.entry(entry.name.clone()).or_insert(index);
        }
        Self {
            root: root.to_path_buf(),
            modules: entries,
            by_name,
            packages_on_disk: RefCell::new(HashMap::new()),
            resolved: RefCell::new(HashMap::new()),
            callers: OnceCell::new(),
        }
    }

    /// The statements that call a function named `name` (assignment or
    /// return of the call), in module order.
    pub fn callers_of(&self, name: &str) -> &[Caller<'a>] {
        let index = self.callers.get_or_init(|| {
            let mut index: HashMap<&'a str, Vec<Caller<'a>>> = HashMap::new();
            for (m, entry) in self.modules.iter().enumerate() {
                let module: &'a PythonModule = entry.module;
                let scopes = std::iter::once((ScopeKind::Module, &module.body)).chain(
                    module
                        .functions
                        .iter()
                        .enumerate()
                        .map(|(i, f)| (ScopeKind::Function(i), &f.body)),
                );
                for (scope, body) in scopes {
                    for stmt in body {
                        let (StmtKind::Assign { value, .. }
                        | StmtKind::Return { value: Some(value) }) = &stmt.kind
                        else {
                            continue;
                        };
                        let ExprKind::Call { func: callee, .. } = &value.kind else {
                            continue;
                        };
                        if let Some(last) = callee.last_name() {
                            index.entry(last).or_default().push(Caller {
                                module: m,
                                scope,
                                stmt,
                            });
                        }
                    }
                }
            }
            index
        });
        index.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn len(&self) -> usize {
        self.modules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    pub fn entry(&self, index: usize) -> &ModuleEntry<'a> {
        &self.modules[index]
    }

    pub fn module(&self, index: usize) -> &'a PythonModule {
        self.modules[index].module
    }

    pub fn path(&self, index: usize) -> &FilePath {
        self.modules[index].path
    }

    /// The module whose file is `path`.
    pub fn index_of_path(&self, path: &Path) -> Option<usize> {
        self.modules
            .iter()
            .position(|m| m.path.as_path() == path)
            .or_else(|| {
                let (name, _) = module_name(&self.root, path)?;
                self.by_name.get(&name).copied()
            })
    }

    /// The module with this full dotted name (from the root).
    pub fn index_of_name(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// True when some module lives below the dotted package `name`.
    pub fn has_package(&self, name: &str) -> bool {
        let prefix = format!("{name}.");
        self.by_name.contains_key(name) || self.modules.iter().any(|m| m.name.starts_with(&prefix))
    }

    fn is_package_dir(&self, dotted: &str) -> bool {
        if dotted.is_empty() {
            return false;
        }
        if let Some(index) = self.by_name.get(dotted) {
            return self.modules[*index].is_package;
        }
        let mut cache = self.packages_on_disk.borrow_mut();
        *cache.entry(dotted.to_owned()).or_insert_with(|| {
            let mut dir = self.root.clone();
            for part in dotted.split('.') {
                dir.push(part);
            }
            dir.join("__init__.py").is_file()
        })
    }

    /// Resolves an absolute import `name` seen in module `from`: the module
    /// with that full name, else one whose name ends with it and whose prefix
    /// is an import root (a directory that is not itself a package, such as
    /// `src/` or `api/`), preferring the root nearest the importing module.
    pub fn resolve_absolute(&self, from: usize, name: &str) -> Option<usize> {
        if let Some(index) = self.by_name.get(name) {
            return Some(*index);
        }
        let key = (from, name.to_owned());
        if let Some(cached) = self.resolved.borrow().get(&key) {
            return *cached;
        }
        let suffix = format!(".{name}");
        // `from` is no module when a process names a settings module in a
        // repository without Python files (found by fuzzing).
        let from_name = self.modules.get(from).map_or("", |m| m.name.as_str());
        let found = self
            .modules
            .iter()
            .enumerate()
            .filter(|(_, m)| m.name.ends_with(&suffix))
            .filter(|(_, m)| {
                let prefix = &m.name[..m.name.len() - suffix.len()];
                !self.is_package_dir(prefix)
            })
            .max_by_key(|(_, m)| {
                let prefix = &m.name[..m.name.len() - suffix.len()];
                usize::from(from_name.starts_with(prefix)) * 1000 + prefix.len()
            })
            .map(|(index, _)| index);
        self.resolved.borrow_mut().insert(key, found);
        found
    }

    /// The full dotted name an import refers to, for a relative import
    /// (`level` dots) or an absolute one resolved by [`Self::resolve_absolute`].
    pub fn import_target_name(&self, from: usize, module: &str, level: u32) -> String {
        if level == 0 {
            return if let Some(index) = self.resolve_absolute(from, module) {
                self.modules[index].name.clone()
            } else {
                // A package without its own file: find its prefix via a child.
                let suffix = format!(".{module}.");
                self.modules
                    .iter()
                    .find_map(|m| {
                        m.name
                            .find(&suffix)
                            .map(|at| m.name[..at + suffix.len() - 1].to_owned())
                    })
                    .filter(|full| {
                        let prefix = &full[..full.len() - module.len() - 1];
                        !self.is_package_dir(prefix)
                    })
                    .unwrap_or_else(|| module.to_owned())
            };
        }
        let entry = &self.modules[from];
        let mut package: Vec<&str> = if entry.name.is_empty() {
            Vec::new()
        } else {
            entry.name.split('.').collect()
        };
        if !entry.is_package {
            package.pop();
        }
        for _ in 1..level {
            package.pop();
        }
        let mut name = package.join(".");
        if !module.is_empty() {
            if !name.is_empty() {
                name.push('.');
            }
            name.push_str(module);
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_from_paths() {
        let root = Path::new("/repo");
        assert_eq!(
            module_name(root, Path::new("/repo/src/app/db.py")),
            Some(("src.app.db".into(), false))
        );
        assert_eq!(
            module_name(root, Path::new("/repo/app/__init__.py")),
            Some(("app".into(), true))
        );
        assert_eq!(module_name(root, Path::new("/repo/README.md")), None);
    }

    #[test]
    fn a_settings_module_in_a_repository_without_python_is_not_found() {
        // Found by the dockerfile fuzz target: a Dockerfile setting
        // DJANGO_SETTINGS_MODULE in a repository without Python files.
        let project = PythonProject::new(Path::new(""), std::iter::empty());
        assert_eq!(project.resolve_absolute(0, "shop.settings.prod"), None);
    }

    #[test]
    fn src_layout_imports_resolve_by_suffix() {
        let m = PythonModule::default();
        let a = FilePath::new("src/dispatch/config.py");
        let b = FilePath::new("src/dispatch/database/core.py");
        let project = PythonProject::new(Path::new(""), [(&a, &m), (&b, &m)]);
        let core = project.index_of_name("src.dispatch.database.core").unwrap();
        let config = project.resolve_absolute(core, "dispatch.config").unwrap();
        assert_eq!(project.entry(config).name, "src.dispatch.config");
        assert_eq!(
            project.import_target_name(core, "config", 2),
            "src.dispatch.config"
        );
    }
}
