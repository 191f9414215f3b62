//! The repository's Python modules by dotted name, and import resolution.

use std::cell::{OnceCell, RefCell};
use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

use poolcheck_core::FilePath;
use poolcheck_core::facts::PythonModule;
use poolcheck_core::facts::python::{
    Arg, ExprKind, Import, ImportKind, Stmt, StmtKind, UnparsedModule,
};

use super::eval::ScopeKind;

/// One module of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleEntry {
    pub path: FilePath,
    /// Dotted name from the project root (`src.app.db`, `api.configs`).
    pub name: String,
    /// An `__init__.py`.
    pub is_package: bool,
}

/// The project's modules by name: everything that depends on which Python
/// files exist and not on what they hold. An analysis of the same files
/// with other contents (the language server's edits) can reuse it, where
/// building it again named every module of a large tree anew.
#[derive(Debug, Default)]
pub struct ModuleNames {
    root: PathBuf,
    /// Sorted by path.
    entries: Vec<ModuleEntry>,
    by_name: HashMap<String, usize>,
    by_path: HashMap<PathBuf, usize>,
    /// Dotted names of the repository's package directories (those that
    /// hold an `__init__.py`), loaded or not: an import root is a directory
    /// that is no package. Given by the workspace that listed the files.
    package_dirs: HashSet<String>,
    /// Modules by every proper dotted suffix of their name (`settings.prod`
    /// of `src.shop.settings.prod`), for imports below an import root;
    /// built on first use.
    by_suffix: OnceLock<HashMap<String, Vec<usize>>>,
    /// Every dotted prefix of a module name: the packages modules live in.
    /// Built on first use.
    package_prefixes: OnceLock<HashSet<String>>,
    /// Packages without a file of their own (`code.part0.sqlalchemy` when
    /// only its submodules are files), by every dotted tail of their name
    /// below the first component. Built on first use: an absolute import
    /// that names no module looked through every module name before.
    packages_by_tail: OnceLock<HashMap<String, String>>,
    /// The modules that are service code (see [`is_non_service_code`]),
    /// decided by their paths alone. Built on first use.
    service_code: OnceLock<Vec<usize>>,
}

impl ModuleNames {
    /// The names of the modules at `paths` (files that are no `.py`/`.pyi`
    /// are left out), with the package directories `package_dirs`.
    pub fn new<'p>(
        root: &Path,
        paths: impl IntoIterator<Item = &'p FilePath>,
        package_dirs: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut entries: Vec<ModuleEntry> = paths
            .into_iter()
            .filter_map(|path| {
                let (name, is_package) = module_name(root, path.as_path())?;
                Some(ModuleEntry {
                    path: path.clone(),
                    name,
                    is_package,
                })
            })
            .collect();
        // Deterministic order whatever order discovery produced.
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let mut by_name = HashMap::new();
        let mut by_path = HashMap::new();
        for (index, entry) in entries.iter().enumerate() {
            by_name.entry(entry.name.clone()).or_insert(index);
            by_path
                .entry(entry.path.as_path().to_path_buf())
                .or_insert(index);
        }
        Self {
            root: root.to_path_buf(),
            entries,
            by_name,
            by_path,
            package_dirs: package_dirs.into_iter().collect(),
            by_suffix: OnceLock::new(),
            package_prefixes: OnceLock::new(),
            packages_by_tail: OnceLock::new(),
            service_code: OnceLock::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The module at each of `sources`' paths, in this index's order, when
    /// `sources` (sorted by path, as a workspace keeps its files) holds
    /// exactly the modules named here: `None` when a module came or went.
    fn align<'a>(
        &self,
        sources: impl IntoIterator<Item = (&'a FilePath, ModuleSource<'a>)>,
    ) -> Option<Vec<ModuleSource<'a>>> {
        let mut aligned = Vec::with_capacity(self.entries.len());
        for (path, source) in sources {
            match self.entries.get(aligned.len()) {
                Some(entry) if entry.path == *path => aligned.push(source),
                // A file that names no module (not `.py`) is left out as
                // `new` leaves it out; any other is a module not named here.
                _ if module_name(&self.root, path.as_path()).is_none() => {}
                _ => return None,
            }
        }
        (aligned.len() == self.entries.len()).then_some(aligned)
    }
}

/// A module as the workspace holds it.
#[derive(Debug, Clone, Copy)]
pub enum ModuleSource<'a> {
    /// Parsed up front: it may start a pool or a server.
    Parsed(&'a PythonModule),
    /// Read for its imports alone; parsed when evaluation needs its names.
    Unparsed(&'a UnparsedModule),
}

/// All Python modules of a repository, resolvable by import.
pub struct PythonProject<'a> {
    /// The modules' names and the indices over them.
    names: Arc<ModuleNames>,
    /// Each module's IR, in the order of `names`.
    sources: Vec<ModuleSource<'a>>,
    resolved: RefCell<HashMap<(usize, String), Option<usize>>>,
    /// Statements `x = f(...)` / `return f(...)`, by the callee's last name:
    /// where a function's arguments may come from. Built on first use.
    callers: OnceCell<HashMap<&'a str, Vec<Caller<'a>>>>,
    /// The modules each module's imports run, computed once per module:
    /// every service's reachability walks the same import graph.
    imports: Vec<OnceCell<Vec<usize>>>,
    /// Whether some module imports Flask-SQLAlchemy.
    uses_flask_sqlalchemy: OnceCell<bool>,
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
            .field("root", &self.names.root)
            .field("modules", &self.names.len())
            .finish()
    }
}

/// Libraries whose behaviour poolcheck knows by their API (what a call of
/// `sqlalchemy.create_engine` or `environ.Env` means). An absolute import of
/// one names the library even when the repository holds a copy of it (a
/// vendored site-packages, `code/vendor/django/`): the copy's source is
/// neither evaluated nor counted as code a service runs, as Python would
/// import the library itself and poolcheck reads it by its API.
const MODELLED_LIBRARIES: &[&str] = &[
    "asyncpg",
    "celery",
    "decouple",
    "django",
    "dramatiq",
    "environ",
    "fastapi",
    "flask",
    "flask_sqlalchemy",
    "granian",
    "gunicorn",
    "huey",
    "peewee",
    "playhouse",
    "psycopg",
    "psycopg2",
    "psycopg_pool",
    "pydantic",
    "pydantic_settings",
    "rq",
    "split_settings",
    "sqlalchemy",
    "sqlmodel",
    "tortoise",
    "uvicorn",
    "uvicorn_worker",
];

/// Whether the absolute dotted name `name` lies in a library poolcheck
/// models (see [`MODELLED_LIBRARIES`]).
pub fn is_modelled_library(name: &str) -> bool {
    let first = name.split('.').next().unwrap_or(name);
    MODELLED_LIBRARIES.binary_search(&first).is_ok()
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
        Self::from_sources(
            root,
            modules
                .into_iter()
                .map(|(path, module)| (path, ModuleSource::Parsed(module))),
        )
    }

    /// [`Self::new`] over parsed modules and modules read only for their imports.
    pub fn from_sources(
        root: &Path,
        modules: impl IntoIterator<Item = (&'a FilePath, ModuleSource<'a>)>,
    ) -> Self {
        Self::with_package_dirs(root, modules, std::iter::empty())
    }

    /// [`Self::from_sources`] with the dotted names of the repository's
    /// package directories, from the `__init__.py` files the workspace
    /// found (parsed or not).
    pub fn with_package_dirs(
        root: &Path,
        modules: impl IntoIterator<Item = (&'a FilePath, ModuleSource<'a>)>,
        package_dirs: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut modules: Vec<(&'a FilePath, ModuleSource<'a>)> = modules
            .into_iter()
            .filter(|(path, _)| module_name(root, path.as_path()).is_some())
            .collect();
        modules.sort_by(|a, b| a.0.cmp(b.0));
        let names = ModuleNames::new(root, modules.iter().map(|(path, _)| *path), package_dirs);
        let sources = modules.into_iter().map(|(_, source)| source).collect();
        Self::from_parts(Arc::new(names), sources)
    }

    /// The project over `names` when `modules` (sorted by path) are the
    /// modules it names, reusing its indices; `None` when a module came or
    /// went since `names` was built.
    pub fn reusing_names(
        names: &Arc<ModuleNames>,
        modules: impl IntoIterator<Item = (&'a FilePath, ModuleSource<'a>)>,
    ) -> Option<Self> {
        let sources = names.align(modules)?;
        Some(Self::from_parts(Arc::clone(names), sources))
    }

    /// The names this project resolves imports with, for reuse.
    pub fn names(&self) -> &Arc<ModuleNames> {
        &self.names
    }

    fn from_parts(names: Arc<ModuleNames>, sources: Vec<ModuleSource<'a>>) -> Self {
        let imports = sources.iter().map(|_| OnceCell::new()).collect();
        Self {
            names,
            sources,
            resolved: RefCell::new(HashMap::new()),
            callers: OnceCell::new(),
            imports,
            uses_flask_sqlalchemy: OnceCell::new(),
        }
    }

    /// True when some module imports `flask_sqlalchemy` (or below it).
    pub fn uses_flask_sqlalchemy(&self) -> bool {
        *self.uses_flask_sqlalchemy.get_or_init(|| {
            (0..self.len()).any(|m| {
                self.module_level_imports(m).any(|import| {
                    import.level == 0
                        && (import.module == "flask_sqlalchemy"
                            || import.module.starts_with("flask_sqlalchemy."))
                })
            })
        })
    }

    /// The first package (in module order, then by position in the name)
    /// whose full name ends with `.{tail}` and that holds a module below it.
    fn package_with_tail(&self, tail: &str) -> Option<&str> {
        self.names
            .packages_by_tail
            .get_or_init(|| {
                let mut index: HashMap<String, String> = HashMap::new();
                let mut seen: HashSet<&str> = HashSet::new();
                for m in &self.names.entries {
                    let parts: Vec<&str> = m.name.split('.').collect();
                    // Each package prefix `parts[..=last]` (a module lies
                    // below it), its tails from the second component on.
                    for last in 0..parts.len().saturating_sub(1) {
                        let end = parts[..=last].iter().map(|p| p.len() + 1).sum::<usize>() - 1;
                        let package = &m.name[..end];
                        if !seen.insert(package) {
                            continue;
                        }
                        for first in 1..=last {
                            let tail = parts[first..=last].join(".");
                            index.entry(tail).or_insert_with(|| package.to_owned());
                        }
                    }
                }
                index
            })
            .get(tail)
            .map(String::as_str)
    }

    /// The statements that call a function named `name` (assignment or
    /// return of the call), in module order.
    pub fn callers_of(&self, name: &str) -> &[Caller<'a>] {
        let index = self.callers.get_or_init(|| {
            let mut index: HashMap<&'a str, Vec<Caller<'a>>> = HashMap::new();
            // Modules read for their imports alone hold no call worth
            // following (they passed no trigger word): parsing them all here
            // would undo the laziness.
            for (m, source) in self.sources.iter().enumerate() {
                let ModuleSource::Parsed(module) = *source else {
                    continue;
                };
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
                        let ExprKind::Call { func: callee, .. } = &called(value).kind else {
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
        &self.names.root
    }

    pub fn len(&self) -> usize {
        self.sources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    pub fn entry(&self, index: usize) -> &ModuleEntry {
        &self.names.entries[index]
    }

    /// The module's statements, parsing it first if it was read only for
    /// its imports.
    pub fn module(&self, index: usize) -> &'a PythonModule {
        match self.sources[index] {
            ModuleSource::Parsed(module) => module,
            ModuleSource::Unparsed(unparsed) => unparsed.parsed_with(super::parse::parse_module),
        }
    }

    /// False when the module cannot bind `name` at module level, known
    /// without parsing it: a module read only for its imports binds a name
    /// only where its text spells it, or through a star import.
    pub fn may_bind(&self, index: usize, name: &str) -> bool {
        self.may_bind_within(index, name, &mut Vec::new())
    }

    /// [`Self::may_bind`], following star imports without parsing: a package
    /// `__init__` that star-imports its submodules binds a name only if one
    /// of them may (parsing every star-importing module on each lookup made
    /// re-exporting packages expensive).
    fn may_bind_within(&self, index: usize, name: &str, seen: &mut Vec<usize>) -> bool {
        match self.sources[index] {
            ModuleSource::Parsed(_) => true,
            ModuleSource::Unparsed(unparsed) => {
                if unparsed.spells(name) {
                    return true;
                }
                seen.push(index);
                unparsed
                    .imports
                    .iter()
                    .filter(|i| i.kind == ImportKind::Star)
                    .any(|i| {
                        let target = self.import_target_name(index, &i.module, i.level);
                        match self.index_of_name(&target) {
                            Some(m) if seen.contains(&m) => false,
                            Some(m) => self.may_bind_within(m, name, seen),
                            // Not loaded: the evaluator binds nothing from it.
                            None => false,
                        }
                    })
            }
        }
    }

    /// The module when it was parsed up front, for what it starts (its
    /// calls of interest, import-time activity, event handlers, classes);
    /// `None` for a module read only for its imports, which starts nothing.
    pub fn activity(&self, index: usize) -> Option<&'a PythonModule> {
        match self.sources[index] {
            ModuleSource::Parsed(module) => Some(module),
            ModuleSource::Unparsed(_) => None,
        }
    }

    /// The imports that run when the module is imported, without parsing it.
    pub fn module_level_imports(&self, index: usize) -> impl Iterator<Item = &'a Import> + 'a {
        let (parsed, scanned): (Option<&'a PythonModule>, &'a [Import]) = match self.sources[index]
        {
            ModuleSource::Parsed(module) => (Some(module), &[]),
            ModuleSource::Unparsed(unparsed) => (None, &unparsed.imports),
        };
        parsed
            .into_iter()
            .flat_map(|m| m.body.iter())
            .filter_map(|stmt| match &stmt.kind {
                StmtKind::Import(import) => Some(import),
                _ => None,
            })
            .chain(scanned)
    }

    /// Every import the module runs, at module level or when one of its
    /// functions is called, without parsing it.
    pub fn imports_run(&self, index: usize) -> impl Iterator<Item = &'a Import> + 'a {
        let (parsed, scanned): (Option<&'a PythonModule>, &'a [Import]) = match self.sources[index]
        {
            ModuleSource::Parsed(module) => (Some(module), &[]),
            ModuleSource::Unparsed(unparsed) => (None, &unparsed.nested_imports),
        };
        let in_functions = parsed
            .into_iter()
            .flat_map(|m| m.functions.iter().flat_map(|f| f.body.iter()))
            .filter_map(|stmt| match &stmt.kind {
                StmtKind::Import(import) => Some(import),
                _ => None,
            });
        self.module_level_imports(index)
            .chain(in_functions)
            .chain(scanned)
    }

    pub fn path(&self, index: usize) -> &FilePath {
        &self.names.entries[index].path
    }

    /// The module whose file is `path`.
    pub fn index_of_path(&self, path: &Path) -> Option<usize> {
        self.names.by_path.get(path).copied().or_else(|| {
            let (name, _) = module_name(&self.names.root, path)?;
            self.names.by_name.get(&name).copied()
        })
    }

    /// The module with this full dotted name (from the root).
    pub fn index_of_name(&self, name: &str) -> Option<usize> {
        self.names.by_name.get(name).copied()
    }

    /// True when some module lives below the dotted package `name`.
    pub fn has_package(&self, name: &str) -> bool {
        self.names.by_name.contains_key(name)
            || self
                .names
                .package_prefixes
                .get_or_init(|| {
                    let mut prefixes = HashSet::new();
                    for m in &self.names.entries {
                        let mut rest = m.name.as_str();
                        while let Some((head, _)) = rest.rsplit_once('.') {
                            if !prefixes.insert(head.to_owned()) {
                                break;
                            }
                            rest = head;
                        }
                    }
                    prefixes
                })
                .contains(name)
    }

    /// Modules whose dotted name ends with `.{name}`.
    fn with_suffix(&self, name: &str) -> &[usize] {
        self.names
            .by_suffix
            .get_or_init(|| {
                let mut index: HashMap<String, Vec<usize>> = HashMap::new();
                for (at, m) in self.names.entries.iter().enumerate() {
                    let mut rest = m.name.as_str();
                    while let Some((_, tail)) = rest.split_once('.') {
                        index.entry(tail.to_owned()).or_default().push(at);
                        rest = tail;
                    }
                }
                index
            })
            .get(name)
            .map_or(&[], Vec::as_slice)
    }

    fn is_package_dir(&self, dotted: &str) -> bool {
        if dotted.is_empty() {
            return false;
        }
        if let Some(index) = self.names.by_name.get(dotted) {
            return self.names.entries[*index].is_package;
        }
        self.names.package_dirs.contains(dotted)
    }

    /// Resolves an absolute import `name` seen in module `from`: the module
    /// with that full name, else one whose name ends with it and whose prefix
    /// is an import root (a directory that is not itself a package, such as
    /// `src/` or `api/`), preferring the root nearest the importing module.
    pub fn resolve_absolute(&self, from: usize, name: &str) -> Option<usize> {
        if is_modelled_library(name) {
            return None;
        }
        if let Some(index) = self.names.by_name.get(name) {
            return Some(*index);
        }
        let key = (from, name.to_owned());
        if let Some(cached) = self.resolved.borrow().get(&key) {
            return *cached;
        }
        let suffix = format!(".{name}");
        // `from` may be no module at all: a settings module named by `.env`
        // in a repository without Python files.
        let from_name = self.names.entries.get(from).map_or("", |m| m.name.as_str());
        let found = self
            .with_suffix(name)
            .iter()
            .map(|&index| (index, &self.names.entries[index]))
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
        if level == 0 && is_modelled_library(module) {
            return module.to_owned();
        }
        if level == 0 {
            return if let Some(index) = self.resolve_absolute(from, module) {
                self.names.entries[index].name.clone()
            } else {
                // A package without its own file: find its prefix via a child.
                self.package_with_tail(module)
                    .map(str::to_owned)
                    .filter(|full| {
                        let prefix = &full[..full.len() - module.len() - 1];
                        !self.is_package_dir(prefix)
                    })
                    .unwrap_or_else(|| module.to_owned())
            };
        }
        let Some(entry) = self.names.entries.get(from) else {
            return module.to_owned();
        };
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

/// The call an assigned value makes: `make(...)` itself, or the call whose
/// result `a, b = make(...)` unpacks (parsed as `make(...)[0]`, `make(...)[1]`).
pub fn called(value: &poolcheck_core::facts::python::Expr) -> &poolcheck_core::facts::python::Expr {
    match &value.kind {
        ExprKind::Subscript(inner, _) if matches!(inner.kind, ExprKind::Call { .. }) => inner,
        _ => value,
    }
}

/// Code that no deployed process runs unless a deployment file names it:
/// test suites, migrations, one-off scripts, examples, documentation,
/// benchmarks and load tests.
pub fn is_non_service_code(path: &FilePath) -> bool {
    if path.is_python_test() {
        return true;
    }
    path.as_path().components().any(|c| {
        matches!(
            c.as_os_str().to_str(),
            Some(
                "migrations"
                    | "alembic"
                    | "scripts"
                    | "examples"
                    | "docs"
                    | "benchmarks"
                    | "load_testing"
            )
        )
    })
}

impl PythonProject<'_> {
    /// Every module that is service code (see [`is_non_service_code`]).
    pub fn service_code(&self) -> Vec<usize> {
        self.names
            .service_code
            .get_or_init(|| {
                (0..self.len())
                    .filter(|&m| !is_non_service_code(self.path(m)))
                    .collect()
            })
            .clone()
    }

    /// The module a server's app target names: `pkg.mod:app`, `pkg.mod`,
    /// `pkg/mod.py` (a path, possibly inside a container: matched by its
    /// longest tail that names one module).
    pub fn entry_module(&self, target: &str) -> Option<usize> {
        let target = target.trim();
        let module = target.split(':').next().unwrap_or(target).trim();
        if module.is_empty() {
            return None;
        }
        if module.contains('/') || Path::new(module).extension().is_some_and(|e| e == "py") {
            let written: Vec<&str> = module
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect();
            return (0..written.len()).find_map(|skip| {
                let tail: PathBuf = written[skip..].iter().collect();
                let mut matching = self
                    .names
                    .entries
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.path.as_path().ends_with(&tail));
                match (matching.next(), matching.next()) {
                    (Some((only, _)), None) => Some(only),
                    _ => None,
                }
            });
        }
        if !module
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        {
            return None;
        }
        if let Some(index) = self.index_of_name(module) {
            return Some(index);
        }
        if self.is_empty() {
            return None;
        }
        self.resolve_absolute(0, module)
    }

    /// The modules this module's imports run (module level and inside
    /// functions, which run when the function is called), with the packages
    /// they sit in.
    fn imports_of(&self, from: usize) -> &[usize] {
        self.imports[from].get_or_init(|| self.resolve_imports_of(from))
    }

    fn resolve_imports_of(&self, from: usize) -> Vec<usize> {
        let mut out = Vec::new();
        for import in self.imports_run(from) {
            if import.level == 0 && is_modelled_library(&import.module) {
                continue;
            }
            let full = self.import_target_name(from, &import.module, import.level);
            let mut prefix = String::new();
            for part in full.split('.') {
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(part);
                out.extend(self.index_of_name(&prefix));
            }
            if import.level == 0 && self.index_of_name(&full).is_none() {
                out.extend(self.resolve_absolute(from, &full));
            }
            if let ImportKind::Names(names) = &import.kind {
                for name in names {
                    let child = if full.is_empty() {
                        name.name.clone()
                    } else {
                        format!("{full}.{}", name.name)
                    };
                    out.extend(self.index_of_name(&child));
                }
            }
        }
        let Some(module) = self.activity(from) else {
            return out;
        };
        // `app.autodiscover_tasks(["shop.orders", "shop.billing"])`: the
        // worker imports each package's `tasks` module.
        for site in module
            .calls
            .iter()
            .filter(|c| c.callee_name == "autodiscover_tasks")
        {
            let ExprKind::Call { args, .. } = &site.call.kind else {
                continue;
            };
            let Some(Arg::Positional(first)) = args.first() else {
                continue;
            };
            let ExprKind::List(items) = &first.kind else {
                continue;
            };
            for item in items {
                if let ExprKind::Str(package) = &item.kind {
                    out.extend(self.entry_module(&format!("{package}.tasks")));
                }
            }
        }
        out
    }

    /// The modules importing `starts` runs, `starts` included, in index order.
    pub fn reachable_from(&self, starts: &[usize]) -> Vec<usize> {
        // A walk over the edges reached, never over every module: each
        // service of a large monorepo walks its own part of the graph.
        let mut seen: HashSet<usize> = HashSet::new();
        let mut pending: Vec<usize> = starts.iter().copied().filter(|&m| m < self.len()).collect();
        while let Some(m) = pending.pop() {
            if !seen.insert(m) {
                continue;
            }
            pending.extend(self.imports_of(m).iter().filter(|i| !seen.contains(i)));
        }
        let mut reached: Vec<usize> = seen.into_iter().collect();
        reached.sort_unstable();
        reached
    }

    /// Every module of the package `name` (its `__init__` and everything
    /// below it).
    pub fn package_modules(&self, name: &str) -> Vec<usize> {
        let Some(root) = self.index_of_name(name).or_else(|| {
            (!self.is_empty())
                .then(|| self.resolve_absolute(0, name))
                .flatten()
        }) else {
            return Vec::new();
        };
        let full = &self.names.entries[root].name;
        let prefix = format!("{full}.");
        (0..self.len())
            .filter(|&m| m == root || self.names.entries[m].name.starts_with(&prefix))
            .collect()
    }

    /// True when one of `modules` imports `package` or something below it.
    pub fn imports_package(&self, modules: &[usize], package: &str) -> bool {
        let below = format!("{package}.");
        modules.iter().any(|&m| {
            self.imports_run(m).any(|import| {
                import.level == 0 && (import.module == package || import.module.starts_with(&below))
            })
        })
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

    #[test]
    fn entry_points_reach_what_they_import_and_nothing_else() {
        let main = crate::python::parse_source("from app.db import engine\napp = object()\n");
        let db = crate::python::parse_source("import os\n");
        let script = crate::python::parse_source("from app import db\n");
        let paths = [
            FilePath::new("app/__init__.py"),
            FilePath::new("app/main.py"),
            FilePath::new("app/db.py"),
            FilePath::new("scripts/backfill.py"),
        ];
        let empty = PythonModule::default();
        let project = PythonProject::new(
            Path::new(""),
            [
                (&paths[0], &empty),
                (&paths[1], &main),
                (&paths[2], &db),
                (&paths[3], &script),
            ],
        );
        let entry = project.entry_module("app.main:app").unwrap();
        let reached: Vec<String> = project
            .reachable_from(&[entry])
            .into_iter()
            .map(|m| project.entry(m).name.clone())
            .collect();
        assert_eq!(reached, ["app", "app.db", "app.main"]);
        // A path inside a container names the module by its tail.
        assert_eq!(project.entry_module("/srv/app/main.py"), Some(entry));
        assert_eq!(project.entry_module("missing.module:app"), None);
        assert!(is_non_service_code(&paths[3]));
        assert!(!is_non_service_code(&paths[2]));
    }

    /// The names of one analysis serve the next while the same modules
    /// exist (their contents changed), and never once a module came or went.
    #[test]
    fn module_names_are_reused_only_for_the_same_modules() {
        let old_db = crate::python::parse_source("x = 1\n");
        let new_db = crate::python::parse_source("import app.settings\n");
        let settings = crate::python::parse_source("DATABASES = {}\n");
        let paths = [
            FilePath::new("app/__init__.py"),
            FilePath::new("app/db.py"),
            FilePath::new("app/settings.py"),
            FilePath::new("README.md"),
        ];
        let empty = PythonModule::default();
        let first = PythonProject::new(Path::new(""), [(&paths[0], &empty), (&paths[1], &old_db)]);
        let names = Arc::clone(first.names());
        let edited = PythonProject::reusing_names(
            &names,
            [
                (&paths[3], ModuleSource::Parsed(&empty)),
                (&paths[0], ModuleSource::Parsed(&empty)),
                (&paths[1], ModuleSource::Parsed(&new_db)),
            ],
        )
        .expect("the same modules");
        assert_eq!(edited.index_of_name("app.db"), Some(1));
        assert_eq!(edited.module(1), &new_db);
        let added = [
            (&paths[0], ModuleSource::Parsed(&empty)),
            (&paths[1], ModuleSource::Parsed(&new_db)),
            (&paths[2], ModuleSource::Parsed(&settings)),
        ];
        assert!(PythonProject::reusing_names(&names, added).is_none());
        let removed = [(&paths[0], ModuleSource::Parsed(&empty))];
        assert!(PythonProject::reusing_names(&names, removed).is_none());
    }

    #[test]
    fn celery_autodiscovery_reaches_the_listed_packages_tasks() {
        let celery = crate::python::parse_source(
            "from celery import Celery\napp = Celery('shop')\napp.autodiscover_tasks(['shop.orders'])\n",
        );
        let tasks = crate::python::parse_source("x = 1\n");
        let other = crate::python::parse_source("y = 2\n");
        let paths = [
            FilePath::new("shop/celery.py"),
            FilePath::new("shop/orders/tasks.py"),
            FilePath::new("shop/billing/tasks.py"),
        ];
        let project = PythonProject::new(
            Path::new(""),
            [
                (&paths[0], &celery),
                (&paths[1], &tasks),
                (&paths[2], &other),
            ],
        );
        let entry = project.entry_module("shop.celery").unwrap();
        let reached: Vec<String> = project
            .reachable_from(&[entry])
            .into_iter()
            .map(|m| project.entry(m).name.clone())
            .collect();
        assert_eq!(reached, ["shop.celery", "shop.orders.tasks"]);
    }
}
