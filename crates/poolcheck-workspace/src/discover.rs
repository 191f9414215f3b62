//! Finding the files that can matter: a parallel, .gitignore-aware walk, then
//! classification by name, then a content prefilter, so that only files that
//! can hold a setting are ever parsed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aho_corasick::packed;
use ignore::overrides::OverrideBuilder;
use ignore::{WalkBuilder, WalkState};
use poolcheck_core::FileKind;
use poolcheck_core::decode::{self, DecodeError};

pub use poolcheck_core::decode::{MAX_FILE_SIZE, ReadProblem};

#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    pub respect_gitignore: bool,
    /// Gitignore-style globs, relative to the walk root (`exclude` in the config).
    pub exclude: Vec<String>,
    /// Run the content prefilter; off only to measure what it saves.
    pub prefilter: bool,
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        Self {
            respect_gitignore: true,
            exclude: Vec::new(),
            prefilter: true,
        }
    }
}

/// A file worth extracting, with its text already read.
#[derive(Debug, Clone)]
pub struct FoundFile {
    pub path: PathBuf,
    pub kind: FileKind,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    TooLarge(u64),
    Binary,
    Undecodable(DecodeError),
}

impl SkipReason {
    /// A file that passed classification and the content prefilter yet
    /// cannot be decoded holds settings poolcheck would otherwise read: that
    /// is said without `--verbose`. Size and NUL bytes mark generated blobs,
    /// said only for files named on the command line.
    pub fn matters(&self) -> bool {
        matches!(self, SkipReason::Undecodable(_))
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::TooLarge(size) => write!(
                f,
                "larger than {} MiB ({size} bytes)",
                MAX_FILE_SIZE / 1024 / 1024
            ),
            SkipReason::Binary => f.write_str("binary (contains a NUL byte)"),
            SkipReason::Undecodable(err) => write!(f, "{err}"),
        }
    }
}

#[derive(Debug, Default)]
pub struct Discovery {
    /// Files that passed name classification and the prefilter, sorted by path.
    pub files: Vec<FoundFile>,
    /// Directories of installed third-party packages (a `*.dist-info` or
    /// `*.egg-info` beside them, or a virtualenv's `pyvenv.cfg`): their code is
    /// libraries, not this deployment, and is left out.
    pub installed_dirs: Vec<PathBuf>,
    /// Copies of libraries poolcheck models by their API (a vendored
    /// `django/`), not walked.
    pub library_copies: Vec<PathBuf>,
    /// Every Python file seen, prefiltered or not, so that imports of a
    /// module that holds no trigger word can still be resolved on demand.
    pub python_paths: Vec<PathBuf>,
    /// Candidates skipped for their size or content, and whether each was
    /// named on the command line.
    pub skipped: Vec<(PathBuf, SkipReason, bool)>,
    /// Files that would be read but are templates (a cookiecutter
    /// `{{cookiecutter.project_slug}}/` tree, a Jinja `{% if … %}` compose
    /// file): they describe a deployment still to be generated, not this one.
    pub templates: Vec<PathBuf>,
    /// One line per file or directory that could not be read.
    pub errors: Vec<String>,
    /// How many files the walk visited and how many passed classification.
    pub visited: usize,
    pub candidates: usize,
}

/// The kind to extract a file's current text as (the language server's open
/// documents): the name decides, then the same content check as discovery.
/// `None` when discovery would not read it.
pub fn classify_text(path: &Path, text: &str) -> Option<FileKind> {
    let kind = classify(path)?;
    shared_prefilter().admit(kind, path, text)
}

/// One prefilter for the checks made outside a discovery walk (building
/// its automata costs more than most checks).
fn shared_prefilter() -> &'static Prefilter {
    static PREFILTER: std::sync::OnceLock<Prefilter> = std::sync::OnceLock::new();
    PREFILTER.get_or_init(Prefilter::new)
}

/// True for a Python file discovery admits only for the values it may hold
/// (a configuration package's module, a re-exporting `__init__.py`): it
/// holds no trigger word, so it starts nothing, and is read for its imports
/// until evaluation needs its names.
pub fn holds_values_only(path: &Path, text: &str) -> bool {
    !is_gunicorn_config(path) && !shared_prefilter().python.is_match(text.as_bytes())
}

/// Decides from the file name alone whether poolcheck may read a file.
pub fn classify(path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_str()?;
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e);

    if lower == "poolcheck.toml" {
        return Some(FileKind::PoolcheckToml);
    }
    if lower == "pyproject.toml" {
        return Some(FileKind::PyProject);
    }
    if lower == "poetry.lock" {
        return Some(FileKind::PoetryLock);
    }
    if lower == "uv.lock" {
        return Some(FileKind::UvLock);
    }
    if lower == "pipfile.lock" {
        return Some(FileKind::PipfileLock);
    }
    if lower.starts_with("requirements") && ext == Some("txt")
        || ext == Some("txt") && path_has_dir(path, "requirements")
    {
        return Some(FileKind::Requirements);
    }
    if let Some(kind) = classify_helm(path, &lower) {
        return Some(kind);
    }
    if lower == "procfile" || lower.starts_with("procfile.") {
        return Some(FileKind::Procfile);
    }
    if lower == "dockerfile"
        || lower.starts_with("dockerfile.")
        || lower.ends_with(".dockerfile")
        || lower == "containerfile"
    {
        return Some(FileKind::Dockerfile);
    }
    if (lower.starts_with("docker-compose") || lower.starts_with("compose"))
        && matches!(ext, Some("yml" | "yaml"))
    {
        return Some(FileKind::Compose);
    }
    // Any other YAML file may hold Kubernetes objects: content decides.
    if matches!(ext, Some("yml" | "yaml")) {
        return Some(FileKind::Kubernetes);
    }
    if lower == ".env" || lower.starts_with(".env.") || ext == Some("env") {
        return Some(FileKind::DotEnv);
    }
    match ext {
        Some("py") => Some(FileKind::Python),
        Some("ini") => Some(FileKind::Ini),
        Some("conf") if lower.starts_with("postgresql") => Some(FileKind::PostgresConf),
        // Other .conf files may be a PostgreSQL or PgBouncer config; content decides.
        Some("conf") => Some(FileKind::PostgresConf),
        Some("sh" | "bash") => Some(FileKind::Shell),
        Some("tf") => Some(FileKind::Terraform),
        // Extensionless entrypoint scripts (`bin/docker-entrypoint`, s6 `run`):
        // content decides (a shebang and a server command).
        None if lower.contains("entrypoint") || lower == "run" || lower == "start" => {
            Some(FileKind::Shell)
        }
        _ => None,
    }
}

/// A Helm chart's files, by their place beside or under a `Chart.yaml`:
/// templates are text until rendered, so they must never reach a YAML
/// reader (compose, Kubernetes manifests) as they are. Only paths under a
/// `templates` directory, or named like values files, cost a look at the disk.
fn classify_helm(path: &Path, lower: &str) -> Option<FileKind> {
    if lower == "chart.yaml" {
        return Some(FileKind::HelmChart);
    }
    let is_chart_dir = |dir: &Path| dir.join("Chart.yaml").is_file();
    let ext = lower.rsplit_once('.').map(|(_, e)| e);
    let yaml = matches!(ext, Some("yaml" | "yml"));
    if yaml && lower.starts_with("values") && path.parent().is_some_and(is_chart_dir) {
        return Some(FileKind::HelmValues);
    }
    if !(yaml || ext == Some("tpl")) {
        return None;
    }
    for dir in path.ancestors().skip(1) {
        if dir.file_name().is_some_and(|n| n == "templates") {
            return dir
                .parent()
                .filter(|chart| is_chart_dir(chart))
                .map(|_| FileKind::HelmTemplate);
        }
    }
    None
}

/// Alembic's `env.py` builds an engine to run migrations once, not a pool a
/// service keeps: it is not part of any budget.
fn is_alembic_env(text: &str) -> bool {
    text.contains("from alembic import context")
}

/// gunicorn config files are read whatever they contain (`gunicorn.conf.py`,
/// `gunicorn_config.py`).
fn is_gunicorn_config(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.to_ascii_lowercase().starts_with("gunicorn"))
}

fn path_has_dir(path: &Path, dir: &str) -> bool {
    path.parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d.eq_ignore_ascii_case(dir))
}

/// Words whose absence proves a Python file starts nothing poolcheck counts:
/// no pool, no Django or Flask database settings, no server. Modules that
/// only hold values those files use (a settings module with `POOL_SIZE = 20`)
/// are read when an admitted file imports them.
const PYTHON_TRIGGERS: &[&str] = &[
    "create_engine",
    "create_async_engine",
    "engine_from_config",
    "create_pool",
    // psycopg's pools, by their modules and their own class names (a bare
    // `ConnectionPool` is also urllib3's, httpcore's and redis's).
    "psycopg_pool",
    "psycopg2.pool",
    "SimpleConnectionPool",
    "ThreadedConnectionPool",
    "PersistentConnectionPool",
    "NullConnectionPool",
    "asyncpg.connect",
    "psycopg.connect",
    "psycopg2.connect",
    "DATABASES",
    "SQLALCHEMY_",
    "flask_sqlalchemy",
    "DJANGO_SETTINGS_MODULE",
    "uvicorn.run",
    "listens_for",
    // Modules that only hold the values a pool or a worker count is built
    // from, imported by name into the module that builds it.
    "pool_size",
    "POOL_SIZE",
    "max_overflow",
    "MAX_OVERFLOW",
    "CONN_MAX_AGE",
    "WORKER_CONCURRENCY",
    "worker_concurrency",
    "split_settings",
    "UvicornWorker",
    "GeventWorker",
    "EventletWorker",
];

/// A module of a configuration package (`app/config/values.py`) or a
/// django-split-settings component (`settings/components/base.py`): it may
/// hold only the plain values (`DB_HOST = …`) that the module building a pool
/// or a Django alias imports or includes. Settings variants beside each other
/// (`settings/local.py`) are not admitted by their place alone: each would be
/// one more configuration to check.
fn is_config_path(path: &Path, text: &[u8]) -> bool {
    if text.iter().all(u8::is_ascii_whitespace) {
        return false;
    }
    let Some(parent) = path.parent() else {
        return false;
    };
    let is = |component: Option<std::path::Component<'_>>, name: &str| {
        component.is_some_and(|c| c.as_os_str().eq_ignore_ascii_case(name))
    };
    let mut previous = None;
    for component in parent.components() {
        if ["config", "configs", "conf", "configuration"]
            .iter()
            .any(|name| is(Some(component), name))
            || (is(previous, "settings") && is(Some(component), "components"))
        {
            return true;
        }
        previous = Some(component);
    }
    false
}

/// A package `__init__.py` that re-exports a submodule (`from .engine import *`):
/// names imported through the package resolve only when it is read.
fn is_reexporting_init(path: &Path, text: &[u8]) -> bool {
    path.file_name().is_some_and(|n| n == "__init__.py")
        && memchr::memmem::find(text, b"import *").is_some()
}

const SHELL_TRIGGERS: &[&str] = &[
    "gunicorn",
    "uvicorn",
    "daphne",
    "hypercorn",
    "granian",
    "uwsgi",
    "celery",
    "manage.py",
];

/// A set of literal words searched for at once. The SIMD "Teddy" searcher
/// is several times faster than a general automaton on these few short
/// words; where the CPU lacks it, a memmem finder per word is used.
struct TriggerWords {
    words: &'static [&'static str],
    search: WordSearch,
}

enum WordSearch {
    Packed(packed::Searcher),
    Each(Vec<memchr::memmem::Finder<'static>>),
}

/// Trigger words that count only as a whole name's end: `create_pool(` is
/// asyncpg's, `_create_pool_manager` (kubernetes, aiohttp) is not.
const WHOLE_NAME_TRIGGERS: &[&str] = &["create_pool"];

impl TriggerWords {
    fn new(words: &'static [&'static str]) -> Self {
        let search = match packed::Config::new().builder().extend(words).build() {
            Some(searcher) => WordSearch::Packed(searcher),
            None => WordSearch::Each(words.iter().map(memchr::memmem::Finder::new).collect()),
        };
        Self { words, search }
    }

    fn is_match(&self, haystack: &[u8]) -> bool {
        let counts = |word: usize, end: usize| {
            !WHOLE_NAME_TRIGGERS.contains(&self.words[word])
                || !haystack
                    .get(end)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        };
        match &self.search {
            WordSearch::Packed(searcher) => searcher
                .find_iter(haystack)
                .any(|m| counts(m.pattern().as_usize(), m.end())),
            WordSearch::Each(finders) => finders.iter().enumerate().any(|(word, finder)| {
                finder
                    .find_iter(haystack)
                    .any(|start| counts(word, start + self.words[word].len()))
            }),
        }
    }
}

struct Prefilter {
    python: TriggerWords,
    shell: TriggerWords,
}

impl Prefilter {
    fn new() -> Self {
        // The patterns are fixed ASCII words: building the automata cannot fail.
        Self {
            python: TriggerWords::new(PYTHON_TRIGGERS),
            shell: TriggerWords::new(SHELL_TRIGGERS),
        }
    }

    /// True when the raw bytes already prove a file irrelevant, so that most
    /// library code is dropped before it is even checked to be UTF-8.
    fn rejects_bytes(&self, kind: FileKind, path: &Path, bytes: &[u8]) -> bool {
        match kind {
            FileKind::Python => {
                !is_gunicorn_config(path)
                    && !self.python.is_match(bytes)
                    && !is_reexporting_init(path, bytes)
                    && !is_config_path(path, bytes)
            }
            FileKind::Shell => !self.shell.is_match(bytes),
            _ => false,
        }
    }

    /// The kind to extract the file as, or `None` when its content proves it
    /// irrelevant.
    fn admit(&self, kind: FileKind, path: &Path, text: &str) -> Option<FileKind> {
        match kind {
            FileKind::Python => {
                let wanted = is_gunicorn_config(path)
                    || self.python.is_match(text.as_bytes())
                    || is_reexporting_init(path, text.as_bytes())
                    || is_config_path(path, text.as_bytes());
                (wanted && !is_alembic_env(text)).then_some(kind)
            }
            FileKind::Shell => self.shell.is_match(text.as_bytes()).then_some(kind),
            FileKind::Kubernetes => {
                poolcheck_extract::kubernetes::looks_like_manifest(path, text).then_some(kind)
            }
            FileKind::Ini => {
                let lower = text.to_ascii_lowercase();
                ["[pgbouncer]", "[uwsgi]", "[program:"]
                    .iter()
                    .any(|s| lower.contains(s))
                    .then_some(kind)
            }
            FileKind::PostgresConf => {
                let lower = text.to_ascii_lowercase();
                // PgBouncer and supervisord (`supervisord.conf`, `conf.d/*.conf`)
                // configs are INI files.
                if lower.contains("[pgbouncer]") || lower.contains("[program:") {
                    return Some(FileKind::Ini);
                }
                let named = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.to_ascii_lowercase().starts_with("postgresql"));
                (named || poolcheck_extract::pgconf::looks_like_postgresql_conf(text))
                    .then_some(kind)
            }
            // A module's `variables.tf` holds the sizes its resources use.
            FileKind::Terraform => (poolcheck_extract::terraform::RESOURCE_TYPES
                .iter()
                .any(|t| text.contains(t))
                || text.contains("variable"))
            .then_some(kind),
            FileKind::PyProject => text.contains("poolcheck").then_some(kind).or_else(|| {
                // Dependencies in pyproject.toml matter even without a [tool.poolcheck].
                (text.contains("dependencies")).then_some(kind)
            }),
            _ => Some(kind),
        }
    }
}

/// Walks `roots` in parallel and returns the files worth extracting.
/// Explicitly named files are always classified, even when ignored.
pub fn discover(roots: &[PathBuf], options: &DiscoverOptions) -> Discovery {
    let prefilter = Prefilter::new();
    let result = Mutex::new(Discovery::default());
    let Some((first, rest)) = roots.split_first() else {
        return Discovery::default();
    };

    let mut builder = WalkBuilder::new(first);
    for root in rest {
        builder.add(root);
    }
    let installed = Arc::new(Mutex::new(Vec::new()));
    let installed_seen = Arc::clone(&installed);
    let library_copies = Arc::new(Mutex::new(Vec::new()));
    let copies_seen = Arc::clone(&library_copies);
    let installed_in_roots = installed_in_walk_roots(roots);
    builder
        // Hidden directories (.git, .venv, .tox) are skipped, but `.env` files
        // are the assumed environment and must be read.
        .hidden(false)
        .filter_entry(move |entry| {
            let name = entry.file_name().to_string_lossy();
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let shown = entry.depth() == 0
                || !name.starts_with('.')
                || (entry.file_type().is_some_and(|t| t.is_file()) && name.starts_with(".env"));
            // Installed packages are never descended into: reading a
            // site-packages only to drop it was most of a large tree's run.
            if shown && is_dir && is_installed_packages_dir(entry.path()) {
                lock(&installed_seen).push(entry.path().to_path_buf());
                return false;
            }
            // poolcheck reads these libraries by their API; a copy of one in
            // the tree is never what a service imports under that name.
            if shown && is_dir && entry.depth() > 0 && is_library_copy(entry.path()) {
                lock(&copies_seen).push(entry.path().to_path_buf());
                return false;
            }
            // A walk root that is itself a site-packages (a project checked
            // in place of its environment) is walked, but the packages its
            // `*.dist-info` records name are not.
            if shown && entry.depth() == 1 && installed_in_roots.names(entry.path()) {
                if is_dir {
                    lock(&installed_seen).push(entry.path().to_path_buf());
                }
                return false;
            }
            shown
        })
        .git_ignore(options.respect_gitignore)
        .git_global(options.respect_gitignore)
        .git_exclude(options.respect_gitignore)
        .ignore(options.respect_gitignore)
        .parents(options.respect_gitignore)
        .require_git(false)
        .follow_links(false)
        .threads(std::thread::available_parallelism().map_or(2, std::num::NonZero::get));
    if !options.exclude.is_empty() {
        let mut overrides = OverrideBuilder::new(first);
        for glob in &options.exclude {
            // An override without `!` whitelists; with `!` it excludes.
            if let Err(err) = overrides.add(&format!("!{glob}")) {
                lock(&result)
                    .errors
                    .push(format!("invalid exclude pattern `{glob}`: {err}"));
            }
        }
        match overrides.build() {
            Ok(o) => {
                builder.overrides(o);
            }
            Err(err) => lock(&result)
                .errors
                .push(format!("invalid exclude patterns: {err}")),
        }
    }

    builder.build_parallel().run(|| {
        let prefilter = &prefilter;
        let result = &result;
        Box::new(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    lock(result).errors.push(err.to_string());
                    return WalkState::Continue;
                }
            };
            let path = entry.path();
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let in_template = roots
                .iter()
                .find_map(|root| path.strip_prefix(root).ok())
                .is_some_and(is_template_path);
            let outcome = examine(path, prefilter, options.prefilter, in_template);
            let mut r = lock(result);
            r.visited += 1;
            match outcome {
                Examined::Irrelevant => {}
                Examined::Template => r.templates.push(path.to_path_buf()),
                Examined::PythonOnly => r.python_paths.push(path.to_path_buf()),
                Examined::Found(file) => {
                    r.candidates += 1;
                    if file.kind == FileKind::Python {
                        r.python_paths.push(file.path.clone());
                    }
                    r.files.push(file);
                }
                Examined::Skipped(reason) => {
                    r.candidates += 1;
                    let named = is_named_root(path, roots);
                    r.skipped.push((path.to_path_buf(), reason, named));
                }
                Examined::Failed(err) => {
                    r.candidates += 1;
                    // Named from the project root, like every path the
                    // workspace keeps.
                    let shown = path.strip_prefix(first).unwrap_or(path);
                    r.errors.push(format!("{}: {err}", shown.display()));
                }
            }
            WalkState::Continue
        })
    });

    let mut discovery = result
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    discovery.installed_dirs = std::mem::take(&mut *lock(&installed));
    discovery.library_copies = std::mem::take(&mut *lock(&library_copies));
    discovery.library_copies.sort();
    if !discovery.installed_dirs.is_empty() {
        discovery.installed_dirs.sort();
        discovery.installed_dirs.dedup();
        let installed = std::mem::take(&mut discovery.installed_dirs);
        let inside = |p: &Path| installed.iter().any(|d| p.starts_with(d));
        let before = discovery.files.len();
        discovery
            .files
            .retain(|f| !inside(&f.path) || is_named_root(&f.path, roots));
        discovery.candidates -= before - discovery.files.len();
        discovery.python_paths.retain(|p| !inside(p));
        discovery.installed_dirs = installed;
    }
    // A file named on the command line is also reached by the walk of its
    // project: one copy, by one spelling of its path.
    let normalize = poolcheck_core::normalize_lexically;
    for file in &mut discovery.files {
        file.path = normalize(&file.path);
    }
    for path in &mut discovery.python_paths {
        *path = normalize(path);
    }
    for (path, _, _) in &mut discovery.skipped {
        *path = normalize(path);
    }
    discovery.files.sort_by(|a, b| a.path.cmp(&b.path));
    let before = discovery.files.len();
    discovery.files.dedup_by(|a, b| a.path == b.path);
    discovery.candidates -= before - discovery.files.len();
    // Byte order: a component-wise sort of every Python path of a large
    // tree costs more than the order is worth (only the duplicates matter).
    discovery
        .python_paths
        .sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    discovery.python_paths.dedup();
    // Named first, so that the copy kept knows it was named.
    discovery
        .skipped
        .sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)));
    discovery.skipped.dedup_by(|a, b| a.0 == b.0);
    for path in &mut discovery.templates {
        *path = normalize(path);
    }
    discovery.templates.sort();
    discovery.templates.dedup();
    discovery.errors.sort();
    discovery.errors.dedup();
    discovery
}

/// A path below a directory or file named by a template placeholder
/// (`{{cookiecutter.project_slug}}/docker-compose.yml`): cookiecutter and
/// copier render those names, so nothing under them is deployed as it is.
fn is_template_path(relative: &Path) -> bool {
    relative.components().any(|component| {
        let name = component.as_os_str().to_string_lossy();
        name.contains("{{") || name.contains("{%")
    })
}

/// A deployment file written as a Jinja template: a line that is a Jinja
/// statement (`{% if cookiecutter.use_celery == "y" %}`) or a cookiecutter
/// placeholder. Python is left out: `{%` at a line start there is inside a
/// string (an inline Django template). Helm templates are Go templates,
/// rendered by poolcheck itself.
fn is_jinja_template(kind: FileKind, text: &str) -> bool {
    let placeholder = text.contains("{{cookiecutter.") || text.contains("{{ cookiecutter.");
    let deployment_text = !matches!(
        kind,
        FileKind::Python | FileKind::HelmChart | FileKind::HelmValues | FileKind::HelmTemplate
    );
    placeholder || (deployment_text && text.lines().any(|line| line.trim_start().starts_with("{%")))
}

/// Whether `dir` is a top-level package of a library poolcheck models by its
/// API (`vendor/django/`, `third_party/sqlalchemy/`): a package whose parent
/// directory is no package, named as the library. A package of that name
/// inside the project's own package (`shop/celery/`) is the project's, and a
/// plain directory (`deploy/gunicorn/`) holds its configuration.
fn is_library_copy(dir: &Path) -> bool {
    let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    !name.contains('.')
        && poolcheck_extract::python::project::is_modelled_library(name)
        && dir.join("__init__.py").is_file()
        && !dir
            .parent()
            .is_some_and(|p| p.join("__init__.py").is_file())
}

/// Whether `dir` holds installed third-party packages: a `*.dist-info` or
/// `*.egg-info` directory beside them, or a virtualenv's `pyvenv.cfg`.
fn is_installed_packages_dir(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return false;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        (is_dir && (name.ends_with(".dist-info") || name.ends_with(".egg-info")))
            || (!is_dir && name == "pyvenv.cfg")
    })
}

/// The entries of walk roots that installed distributions own, by root.
struct InstalledInRoots(Vec<(PathBuf, std::collections::HashSet<std::ffi::OsString>)>);

impl InstalledInRoots {
    /// Whether `path`, an entry directly below a walk root, belongs to an
    /// installed distribution recorded in that root.
    fn names(&self, path: &Path) -> bool {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return false;
        };
        self.0
            .iter()
            .any(|(root, names)| root == parent && names.contains(name))
    }
}

fn installed_in_walk_roots(roots: &[PathBuf]) -> InstalledInRoots {
    InstalledInRoots(
        roots
            .iter()
            .filter(|root| root.is_dir())
            .map(|root| (root.clone(), installed_entries(root)))
            .filter(|(_, names)| !names.is_empty())
            .collect(),
    )
}

/// The entries of `dir` (package directories, single-module files, the
/// `*.dist-info` directories themselves) that the distributions installed
/// there own: the first component of each path their `RECORD` lists, and
/// the modules their `top_level.txt` names. Only installed metadata counts:
/// a `*.egg-info` with `installed-files.txt` (pip's legacy installs), never
/// the one `pip install -e .` or `setup.py develop` leaves beside a
/// project's own sources, whose `top_level.txt` names the project itself.
fn installed_entries(dir: &Path) -> std::collections::HashSet<std::ffi::OsString> {
    let mut names = std::collections::HashSet::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return names;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(meta_name) = file_name.to_str() else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let meta = entry.path();
        let listed = if meta_name.ends_with(".dist-info") {
            read_small(&meta.join("RECORD"))
        } else if meta_name.ends_with(".egg-info") {
            // Paths relative to the egg-info directory: `../django/__init__.py`.
            read_small(&meta.join("installed-files.txt")).map(|text| {
                text.lines()
                    .filter_map(|line| line.strip_prefix("../"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        } else {
            continue;
        };
        let Some(listed) = listed else {
            continue;
        };
        names.insert(file_name.clone());
        for line in listed.lines() {
            // RECORD rows are `path,hash,size`; paths use `/`.
            let path = line.split(',').next().unwrap_or(line);
            let first = path.split('/').next().unwrap_or(path).trim();
            if !first.is_empty() && first != ".." && first != "." {
                names.insert(first.into());
            }
        }
        if let Some(top_level) = read_small(&meta.join("top_level.txt")) {
            for module in top_level.lines().map(str::trim).filter(|m| !m.is_empty()) {
                names.insert(module.into());
                names.insert(format!("{module}.py").into());
            }
        }
    }
    names
}

/// A metadata file's text, when it is a regular file of sane size.
fn read_small(path: &Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() || metadata.len() > MAX_FILE_SIZE {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// Files named on the command line are always checked.
fn is_named_root(path: &Path, roots: &[PathBuf]) -> bool {
    let path = poolcheck_core::normalize_lexically(path);
    roots
        .iter()
        .any(|r| poolcheck_core::normalize_lexically(r) == path)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

enum Examined {
    Irrelevant,
    /// A Python file without trigger words: not parsed now, importable later.
    PythonOnly,
    Found(FoundFile),
    /// A file poolcheck would read that is a template of one.
    Template,
    Skipped(SkipReason),
    Failed(std::io::Error),
}

fn examine(path: &Path, prefilter: &Prefilter, use_prefilter: bool, in_template: bool) -> Examined {
    let Some(kind) = classify(path) else {
        return Examined::Irrelevant;
    };
    if in_template {
        return Examined::Template;
    }
    let irrelevant = || {
        if kind == FileKind::Python {
            Examined::PythonOnly
        } else {
            Examined::Irrelevant
        }
    };
    // Most files of a large tree are dropped by the prefilter: they are read
    // into one buffer per thread, and copied out only when admitted.
    let bytes = READ_BUFFER.with_borrow_mut(|buffer| {
        match read_regular_file_into(path, buffer) {
            Ok(None) => {}
            Ok(Some(reason)) => return Err(Examined::Skipped(reason)),
            Err(err) => return Err(Examined::Failed(err)),
        }
        if use_prefilter && prefilter.rejects_bytes(kind, path, buffer) {
            return Err(irrelevant());
        }
        Ok(buffer.clone())
    });
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(examined) => return examined,
    };
    let text = match decode_as(kind, bytes) {
        Ok(text) => text,
        Err(err) => return Examined::Skipped(SkipReason::Undecodable(err)),
    };
    let admitted = if use_prefilter {
        prefilter.admit(kind, path, &text)
    } else {
        Some(kind)
    };
    match admitted {
        Some(kind) if is_jinja_template(kind, &text) => Examined::Template,
        Some(kind) => Examined::Found(FoundFile {
            path: path.to_path_buf(),
            kind,
            text,
        }),
        None => irrelevant(),
    }
}

thread_local! {
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A candidate's bytes, refusing huge and binary files.
fn read_bytes(path: &Path) -> std::io::Result<Result<Vec<u8>, SkipReason>> {
    // The type is checked before opening: opening a FIFO blocks.
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    Ok(match read_regular_file_into(path, &mut bytes)? {
        Some(reason) => Err(reason),
        None => Ok(bytes),
    })
}

/// Reads a file known to be a regular file (the walk saw its type) into
/// `bytes`, replacing what it held; `Some` when it is refused as huge or
/// binary.
fn read_regular_file_into(path: &Path, bytes: &mut Vec<u8>) -> std::io::Result<Option<SkipReason>> {
    use std::io::Read as _;
    bytes.clear();
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_FILE_SIZE {
        return Ok(Some(SkipReason::TooLarge(size)));
    }
    bytes.reserve(size as usize + 1);
    // A file that grows while it is read stops at the limit.
    file.take(MAX_FILE_SIZE + 1).read_to_end(bytes)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Ok(Some(SkipReason::TooLarge(bytes.len() as u64)));
    }
    if memchr::memchr(0, bytes).is_some() {
        return Ok(Some(SkipReason::Binary));
    }
    Ok(None)
}

/// The root of the project that holds `path`, absolute: the nearest directory
/// at or above it with a `poolcheck.toml`, a `pyproject.toml` that
/// configures poolcheck, or `.git`; with none, the directory itself (a
/// file's own directory).
pub fn project_root(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let absolute = poolcheck_core::normalize_lexically(&absolute);
    let start = if absolute.is_dir() {
        absolute
    } else {
        absolute
            .parent()
            .map_or(absolute.clone(), Path::to_path_buf)
    };
    start
        .ancestors()
        .find(|dir| is_project_root(dir))
        .map_or_else(|| start.clone(), Path::to_path_buf)
}

fn is_project_root(dir: &Path) -> bool {
    if dir.join("poolcheck.toml").is_file() || dir.join(".git").exists() {
        return true;
    }
    let pyproject = dir.join("pyproject.toml");
    pyproject.is_file()
        && std::fs::read(&pyproject)
            .is_ok_and(|text| memchr::memmem::find(&text, b"tool.poolcheck").is_some())
}

/// An I/O error in words, without the path (which may lie outside the project).
pub fn describe_io_error(err: &std::io::Error) -> String {
    // ELOOP (Linux): "too many levels of symbolic links" says less than this.
    if err.raw_os_error() == Some(40) {
        return "a symlink loop".to_owned();
    }
    match err.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        _ => err.to_string(),
    }
}

/// Why a path named on the command line cannot be checked, in words (a
/// broken link and a link to itself are told apart from a missing file).
pub fn check_named_path(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(err)
            if err.kind() == std::io::ErrorKind::NotFound
                && std::fs::symlink_metadata(path).is_ok() =>
        {
            Err("a broken symbolic link (its target does not exist)".to_owned())
        }
        Err(err) => Err(describe_io_error(&err)),
    }
}

/// Reads a file another file references, as `kind` is read: only a regular
/// file, only inside `root` once symbolic links are resolved, and never more
/// than [`MAX_FILE_SIZE`] (the type is checked before opening, so a FIFO
/// cannot block and `/dev/zero` is never read).
pub fn read_referenced(path: &Path, kind: FileKind, root: &Path) -> Result<String, ReadProblem> {
    use std::io::Read as _;
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(ReadProblem::Missing),
        Err(err) => return Err(ReadProblem::Unreadable(describe_io_error(&err))),
    };
    let real = std::fs::canonicalize(path)
        .map_err(|err| ReadProblem::Unreadable(describe_io_error(&err)))?;
    let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    if !real.starts_with(&real_root) {
        return Err(ReadProblem::Outside);
    }
    if !metadata.is_file() {
        return Err(ReadProblem::NotRegular);
    }
    if metadata.len() > MAX_FILE_SIZE {
        return Err(ReadProblem::TooLarge(metadata.len()));
    }
    let file = std::fs::File::open(&real)
        .map_err(|err| ReadProblem::Unreadable(describe_io_error(&err)))?;
    let mut bytes = Vec::with_capacity(metadata.len() as usize + 1);
    // The file may have grown since it was measured.
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| ReadProblem::Unreadable(describe_io_error(&err)))?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(ReadProblem::TooLarge(bytes.len() as u64));
    }
    if memchr::memchr(0, &bytes).is_some() {
        return Err(ReadProblem::Binary);
    }
    decode_as(kind, bytes).map_err(ReadProblem::Undecodable)
}

/// Text as the program that reads a file of this kind sees it: Python by its
/// coding cookie; PostgreSQL, PgBouncer, uWSGI, shells, env-file readers,
/// Procfile runners and Docker take bytes as they come (Latin-1 for a byte
/// that is not UTF-8); TOML, YAML and lock files must be UTF-8.
pub fn decode_as(kind: FileKind, bytes: Vec<u8>) -> Result<String, DecodeError> {
    match kind {
        FileKind::Python => decode::python(bytes),
        FileKind::PostgresConf
        | FileKind::Ini
        | FileKind::DotEnv
        | FileKind::Shell
        | FileKind::Procfile
        | FileKind::Dockerfile => Ok(decode::utf8_or_latin1(bytes)),
        _ => decode::utf8(bytes),
    }
}

/// Reads a file that passed classification, refusing binary and huge files.
/// A file whose name classifies as nothing is a referenced configuration file
/// (an env file, an include) and is read as bytes-tolerant readers read it.
pub fn read_candidate(path: &Path) -> std::io::Result<Result<String, SkipReason>> {
    let kind = classify(path).unwrap_or(FileKind::DotEnv);
    Ok(read_bytes(path)?.and_then(|bytes| decode_as(kind, bytes).map_err(SkipReason::Undecodable)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_name() {
        let cases = [
            ("app/db.py", Some(FileKind::Python)),
            ("deploy/pgbouncer.ini", Some(FileKind::Ini)),
            ("postgresql.conf", Some(FileKind::PostgresConf)),
            ("postgresql.auto.conf", Some(FileKind::PostgresConf)),
            ("poolcheck.toml", Some(FileKind::PoolcheckToml)),
            ("pyproject.toml", Some(FileKind::PyProject)),
            ("requirements-prod.txt", Some(FileKind::Requirements)),
            ("requirements/base.txt", Some(FileKind::Requirements)),
            ("Procfile", Some(FileKind::Procfile)),
            ("docker/Dockerfile.prod", Some(FileKind::Dockerfile)),
            ("docker-compose.override.yml", Some(FileKind::Compose)),
            ("compose.yaml", Some(FileKind::Compose)),
            (".env", Some(FileKind::DotEnv)),
            (".env.production", Some(FileKind::DotEnv)),
            ("bin/docker-entrypoint", Some(FileKind::Shell)),
            ("entrypoint.sh", Some(FileKind::Shell)),
            ("README.md", None),
            ("app/models.pyi", None),
            ("notes.txt", None),
        ];
        for (path, kind) in cases {
            assert_eq!(classify(Path::new(path)), kind, "{path}");
        }
    }

    #[test]
    fn prefilter_drops_python_without_trigger_words() {
        let p = Prefilter::new();
        let py = Path::new("x.py");
        assert_eq!(
            p.admit(FileKind::Python, py, "def add(a, b):\n    return a + b\n"),
            None
        );
        assert_eq!(
            p.admit(FileKind::Python, py, "engine = create_engine(URL)\n"),
            Some(FileKind::Python)
        );
        let alembic = "from alembic import context\nengine = engine_from_config(cfg)\n";
        assert_eq!(
            p.admit(FileKind::Python, Path::new("migrations/env.py"), alembic),
            None
        );
    }

    /// The files discovery found, relative to `root` (discovery sorts them).
    fn found_names(found: &Discovery, root: &Path) -> Vec<String> {
        found
            .files
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn pool_words_of_other_libraries_do_not_admit_a_module() {
        let p = Prefilter::new();
        let py = Path::new("x.py");
        // urllib3's, httpcore's and redis's pools share psycopg's class name.
        let urllib3 = "class HTTPConnectionPool(ConnectionPool, RequestMethods):\n    pass\n";
        assert_eq!(p.admit(FileKind::Python, py, urllib3), None);
        let kubernetes = "def _create_pool_manager(self):\n    return aiohttp.ClientSession()\n";
        assert_eq!(p.admit(FileKind::Python, py, kubernetes), None);
        for admitted in [
            "from psycopg_pool import ConnectionPool\npool = ConnectionPool(DSN)\n",
            "from psycopg2 import pool\ndb = pool.ThreadedConnectionPool(1, 20, DSN)\n",
            "import psycopg2.pool\n",
            "pool = await asyncpg.create_pool(DSN)\n",
            "from asyncpg import create_pool\n",
        ] {
            assert_eq!(
                p.admit(FileKind::Python, py, admitted),
                Some(FileKind::Python),
                "{admitted}"
            );
        }
    }

    #[test]
    fn conf_files_are_recognised_by_content() {
        let p = Prefilter::new();
        let conf = Path::new("db/main.conf");
        assert_eq!(
            p.admit(
                FileKind::PostgresConf,
                conf,
                "max_connections = 300\nshared_buffers = 1GB\n"
            ),
            Some(FileKind::PostgresConf)
        );
        assert_eq!(
            p.admit(
                FileKind::PostgresConf,
                conf,
                "[pgbouncer]\nlisten_port = 6432\n"
            ),
            Some(FileKind::Ini)
        );
        assert_eq!(
            p.admit(FileKind::PostgresConf, conf, "server { listen 80; }\n"),
            None
        );
        assert_eq!(
            p.admit(
                FileKind::Ini,
                Path::new("setup.ini"),
                "[metadata]\nname = x\n"
            ),
            None
        );
    }

    #[test]
    fn walk_skips_binary_huge_ignored_and_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("db.py"),
            "engine = create_engine('postgresql://db/app')\n",
        )
        .unwrap();
        std::fs::write(root.join("util.py"), "def f():\n    pass\n").unwrap();
        std::fs::write(root.join(".env"), "WEB_CONCURRENCY=4\n").unwrap();
        std::fs::write(root.join(".hidden.py"), "create_engine()\n").unwrap();
        std::fs::write(root.join("blob.py"), b"create_engine\0\x01").unwrap();
        std::fs::create_dir(root.join(".venv")).unwrap();
        std::fs::write(root.join(".venv/x.py"), "create_engine()\n").unwrap();
        std::fs::create_dir(root.join("build")).unwrap();
        std::fs::write(root.join("build/y.py"), "create_engine()\n").unwrap();
        std::fs::write(root.join(".gitignore"), "build/\n").unwrap();
        let big = "x = 1\n".repeat((MAX_FILE_SIZE as usize / 6) + 10);
        std::fs::write(root.join("huge.py"), big).unwrap();

        let found = discover(&[root.to_path_buf()], &DiscoverOptions::default());
        let names: Vec<_> = found
            .files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [".env", "db.py"]);
        let skipped: Vec<_> = found
            .skipped
            .iter()
            .map(|(p, r, _)| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    r.clone(),
                )
            })
            .collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(
            skipped
                .iter()
                .any(|(n, r)| n == "blob.py" && *r == SkipReason::Binary)
        );
        assert!(
            skipped
                .iter()
                .any(|(n, r)| n == "huge.py" && matches!(r, SkipReason::TooLarge(_)))
        );
        // util.py is not parsed but stays importable.
        assert!(found.python_paths.iter().any(|p| p.ends_with("util.py")));

        let unfiltered = discover(
            &[root.to_path_buf()],
            &DiscoverOptions {
                respect_gitignore: false,
                ..DiscoverOptions::default()
            },
        );
        assert!(
            unfiltered
                .files
                .iter()
                .any(|f| f.path.ends_with("build/y.py"))
        );
    }

    #[test]
    fn stray_bytes_are_read_as_the_reading_program_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("postgresql.conf"),
            b"# r\xe9glages\nmax_connections = 300\n",
        )
        .unwrap();
        std::fs::write(
            root.join("db.py"),
            b"# -*- coding: latin-1 -*-\n# caf\xe9\nengine = create_engine('postgresql://db/app')\n",
        )
        .unwrap();
        std::fs::write(root.join("broken.py"), b"# caf\xe9\ncreate_engine('x')\n").unwrap();
        let found = discover(&[root.to_path_buf()], &DiscoverOptions::default());
        let conf = found
            .files
            .iter()
            .find(|f| f.path.ends_with("postgresql.conf"))
            .expect("postgresql.conf is read");
        assert_eq!(conf.text, "# réglages\nmax_connections = 300\n");
        let python = found
            .files
            .iter()
            .find(|f| f.path.ends_with("db.py"))
            .expect("db.py is read");
        assert!(python.text.contains("# café"));
        assert_eq!(found.skipped.len(), 1, "{:?}", found.skipped);
        let (path, reason, _) = &found.skipped[0];
        assert!(path.ends_with("broken.py"));
        assert!(reason.matters());
    }

    #[test]
    fn a_fifo_is_refused_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("web.env");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening it for reading would wait for a writer forever.
        assert!(read_candidate(&fifo).is_err());
        assert_eq!(
            read_referenced(&fifo, FileKind::DotEnv, dir.path()),
            Err(ReadProblem::NotRegular)
        );
    }

    #[test]
    fn exclude_globs_from_the_config_apply() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("tests")).unwrap();
        std::fs::write(
            root.join("tests/conftest.py"),
            "create_engine('sqlite://')\n",
        )
        .unwrap();
        std::fs::write(root.join("db.py"), "create_engine('postgresql://db/app')\n").unwrap();
        let found = discover(
            &[root.to_path_buf()],
            &DiscoverOptions {
                exclude: vec!["tests/".to_owned()],
                ..DiscoverOptions::default()
            },
        );
        assert_eq!(found.files.len(), 1);
        assert!(found.files[0].path.ends_with("db.py"));
    }

    #[test]
    fn installed_packages_and_virtualenvs_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let pkgs = root.join("vendor/pkgs");
        std::fs::create_dir_all(pkgs.join("sqlalchemy")).unwrap();
        std::fs::create_dir_all(pkgs.join("SQLAlchemy-2.0.36.dist-info")).unwrap();
        std::fs::write(
            pkgs.join("sqlalchemy/engine.py"),
            "def create_engine(url): pass\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("env/lib")).unwrap();
        std::fs::write(root.join("env/pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        std::fs::write(
            root.join("env/lib/x.py"),
            "create_engine('postgresql://x')\n",
        )
        .unwrap();
        std::fs::write(
            root.join("db.py"),
            "engine = create_engine('postgresql://db/app')\n",
        )
        .unwrap();
        let found = discover(&[root.to_path_buf()], &DiscoverOptions::default());
        assert_eq!(found_names(&found, root), ["db.py"]);
        assert_eq!(found.installed_dirs.len(), 2);
        assert!(!found.python_paths.iter().any(|p| p.ends_with("engine.py")));
        // Their files are not even read: only `db.py` was visited.
        assert_eq!(found.visited, 1);
    }

    /// A copy of a library poolcheck reads by its API (a vendored Django)
    /// is not walked; the project's own package or configuration directory
    /// of the same name is.
    #[test]
    fn copies_of_modelled_libraries_are_not_walked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("vendor/django/__init__.py", "");
        write("vendor/django/db/utils.py", "DATABASES = {}\n");
        write("shop/__init__.py", "");
        write("shop/celery/__init__.py", "");
        write("shop/celery/app.py", "app.conf.worker_concurrency = 4\n");
        write("deploy/gunicorn/gunicorn.conf.py", "workers = 4\n");
        let found = discover(&[root.to_path_buf()], &DiscoverOptions::default());
        assert_eq!(
            found_names(&found, root),
            ["deploy/gunicorn/gunicorn.conf.py", "shop/celery/app.py"]
        );
        assert_eq!(found.library_copies, [root.join("vendor/django")]);
        assert!(
            !found
                .python_paths
                .iter()
                .any(|p| p.starts_with(root.join("vendor")))
        );
    }

    /// A site-packages checked as the project root: the packages its
    /// `*.dist-info` records own are not read, the other files are.
    #[test]
    fn a_root_that_is_a_site_packages_skips_the_packages_it_records() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sqlalchemy/engine")).unwrap();
        std::fs::write(
            root.join("sqlalchemy/engine/create.py"),
            "def create_engine(url, pool_size=5): pass\n",
        )
        .unwrap();
        std::fs::write(root.join("six.py"), "create_engine = None\n").unwrap();
        let record = root.join("SQLAlchemy-2.0.36.dist-info");
        std::fs::create_dir_all(&record).unwrap();
        std::fs::write(
            record.join("RECORD"),
            "sqlalchemy/engine/create.py,sha256=x,40\nSQLAlchemy-2.0.36.dist-info/RECORD,,\n",
        )
        .unwrap();
        let six = root.join("six-1.17.0.dist-info");
        std::fs::create_dir_all(&six).unwrap();
        std::fs::write(six.join("RECORD"), "six.py,sha256=y,20\n").unwrap();
        std::fs::write(six.join("top_level.txt"), "six\n").unwrap();
        // The deployment's own files beside them are read.
        std::fs::write(
            root.join("db.py"),
            "engine = create_engine('postgresql://db/app')\n",
        )
        .unwrap();
        std::fs::write(root.join("postgresql.conf"), "max_connections = 50\n").unwrap();
        let found = discover(&[root.to_path_buf()], &DiscoverOptions::default());
        let names: Vec<_> = found
            .files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["db.py", "postgresql.conf"]);
        // Not even visited: the walk does not descend into them.
        assert_eq!(found.visited, 2);
        assert!(!found.python_paths.iter().any(|p| p.ends_with("create.py")));
    }

    /// `pip install -e .` leaves a `*.egg-info` naming the project's own
    /// package beside it: that package is the project, not an installed one.
    #[test]
    fn a_development_egg_info_does_not_hide_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("shop.egg-info")).unwrap();
        std::fs::write(root.join("shop.egg-info/top_level.txt"), "shop\n").unwrap();
        std::fs::write(root.join("shop.egg-info/SOURCES.txt"), "shop/db.py\n").unwrap();
        std::fs::create_dir_all(root.join("shop")).unwrap();
        std::fs::write(
            root.join("shop/db.py"),
            "engine = create_engine('postgresql://db/app')\n",
        )
        .unwrap();
        let found = discover(&[root.to_path_buf()], &DiscoverOptions::default());
        assert_eq!(found.files.len(), 1);
        assert!(found.files[0].path.ends_with("shop/db.py"));
    }

    #[test]
    fn a_charts_files_are_classified_by_their_place_and_always_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let chart = root.join("deploy/chart");
        std::fs::create_dir_all(chart.join("templates/workers")).unwrap();
        std::fs::write(chart.join("Chart.yaml"), "name: web\n").unwrap();
        std::fs::write(chart.join("values.yaml"), "replicaCount: 2\n").unwrap();
        std::fs::write(chart.join("values-prod.yaml"), "replicaCount: 4\n").unwrap();
        std::fs::write(
            chart.join("templates/_helpers.tpl"),
            "{{ define \"x\" }}{{ end }}\n",
        )
        .unwrap();
        std::fs::write(
            chart.join("templates/workers/docker-compose.yaml"),
            "replicas: {{ .Values.replicaCount }}\n",
        )
        .unwrap();
        // A `templates` directory outside a chart is nobody's template.
        std::fs::create_dir_all(root.join("app/templates")).unwrap();
        std::fs::write(root.join("app/templates/values.yaml"), "a: 1\n").unwrap();
        let found = discover(&[root.to_path_buf()], &DiscoverOptions::default());
        let kinds: Vec<(String, FileKind)> = found
            .files
            .iter()
            .map(|f| {
                let rel = f.path.strip_prefix(root).unwrap();
                (rel.to_string_lossy().replace('\\', "/"), f.kind)
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("deploy/chart/Chart.yaml".to_owned(), FileKind::HelmChart),
                (
                    "deploy/chart/templates/_helpers.tpl".to_owned(),
                    FileKind::HelmTemplate
                ),
                (
                    "deploy/chart/templates/workers/docker-compose.yaml".to_owned(),
                    FileKind::HelmTemplate
                ),
                (
                    "deploy/chart/values-prod.yaml".to_owned(),
                    FileKind::HelmValues
                ),
                ("deploy/chart/values.yaml".to_owned(), FileKind::HelmValues),
            ]
        );
    }

    #[test]
    fn a_named_file_is_examined_even_if_gitignored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "pgbouncer.ini\n").unwrap();
        std::fs::write(root.join("pgbouncer.ini"), "[pgbouncer]\n").unwrap();
        let found = discover(&[root.join("pgbouncer.ini")], &DiscoverOptions::default());
        assert_eq!(found.files.len(), 1);
    }
}
