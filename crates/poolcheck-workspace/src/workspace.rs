//! The set of files one analysis reads: discovered, read and extracted in
//! parallel, with the configuration that applies. The CLI loads it once; the
//! language server keeps it and replaces single files as they change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::decode::ReadProblem;
use poolcheck_core::facts::ProjectConfig;
use poolcheck_core::facts::postgres::PgIncludeKind;
use poolcheck_core::{FileFacts, FileKind, FilePath, SourceFile, normalize_lexically};

use crate::config;
use crate::discover::{self, DiscoverOptions, SkipReason};
use rayon::prelude::*;

use crate::sources::Sources;

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub respect_gitignore: bool,
    /// `--config FILE`: use this configuration instead of searching upward.
    pub config_file: Option<PathBuf>,
    /// `--set KEY=VALUE` pairs laid over the configuration for this run.
    pub overrides: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// The project root, absolute and lexically normalised: every
    /// [`FilePath`] of the workspace is relative to it (absolute only for a
    /// file outside it, such as a `--config` elsewhere), whatever directory
    /// the process runs in.
    pub root: PathBuf,
    /// Facts of every extracted file, sorted by path.
    pub facts: Vec<FileFacts>,
    pub sources: Sources,
    /// The configuration in effect (defaults when there is none).
    pub config: ProjectConfig,
    /// Every Python file under the roots, on disk (absolute), for imports of
    /// unparsed modules and for which directories are packages.
    pub python_paths: Vec<PathBuf>,
    /// Files not read for their size or content (absolute), and whether each
    /// was named.
    pub skipped: Vec<(PathBuf, SkipReason, bool)>,
    /// Templates of deployment files (cookiecutter, Jinja), not read
    /// (absolute).
    pub templates: Vec<PathBuf>,
    /// One line per file that could not be read.
    pub errors: Vec<String>,
    pub visited: usize,
    /// Directories of installed packages the walk did not descend into.
    pub installed_dirs: Vec<PathBuf>,
    /// Copies of libraries poolcheck reads by their API, not walked.
    pub library_copies: Vec<PathBuf>,
    /// Files configuration files include that were not read, and why.
    pub unread: BTreeMap<FilePath, ReadProblem>,
    /// The entries of each `include_dir` directory, listed at load.
    pub listings: BTreeMap<FilePath, Vec<PathBuf>>,
    /// Texts of files that deployment files reference but that are not
    /// analysed themselves (compose `env_file:`), read at load so that
    /// assembly never touches the disk. A file that cannot be read is absent.
    pub referenced: BTreeMap<FilePath, String>,
    /// Compose `env_file:`s missing from the repository (made at deploy
    /// time, often by copying an example), each with the file that names it
    /// and the example beside it read in its place, if there is one.
    pub missing_env_files: BTreeMap<FilePath, MissingEnvFile>,
    /// The Helm templates as written: `sources` shows their rendered text,
    /// and a re-render (a values file edited in the editor) starts again
    /// from these.
    pub helm_templates: BTreeMap<FilePath, Arc<SourceFile>>,
    /// The paths asked about when they are parts of the project: findings
    /// are reported only when they point (primary or related) under one.
    /// Empty for the whole project.
    pub scope: Vec<FilePath>,
}

/// A compose `env_file:` that is not in the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingEnvFile {
    /// The compose file (or manifest) that names it.
    pub named_by: FilePath,
    /// The example beside it (`.env.example` for `.env`), read in its place.
    pub stand_in: Option<FilePath>,
}

/// The names an example of an env file goes by, beside it.
const ENV_EXAMPLE_SUFFIXES: &[&str] = &[".example", ".sample", ".dist", ".template"];

/// Which include syntax a file is read with.
#[derive(Debug, Clone, Copy)]
enum Includes {
    Postgres,
    PgBouncer,
}

impl Workspace {
    /// Discovers, reads and extracts the project that holds `paths`: the
    /// whole project, so that a file or directory inside it is checked
    /// against everything that runs with it. Every path must exist.
    pub fn load(paths: &[PathBuf], options: &LoadOptions) -> Result<Workspace, String> {
        for path in paths {
            discover::check_named_path(path)
                .map_err(|reason| format!("{}: {reason}", path.display()))?;
        }
        let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
        let root = discover::project_root(&first);
        let named: Vec<PathBuf> = paths
            .iter()
            .map(|p| normalize_lexically(&absolute(p)))
            .collect();
        // The walk covers the project; named files are walked too, so that
        // one gitignored on purpose is still read.
        let mut roots = vec![root.clone()];
        roots.extend(named.iter().filter(|p| !p.is_dir()).cloned());
        let mut workspace = Workspace {
            root: root.clone(),
            ..Workspace::default()
        };
        if !named.contains(&root) {
            workspace.scope = named.iter().map(|p| workspace.file_id(p)).collect();
        }
        let config_path = match &options.config_file {
            Some(path) if !path.is_file() => {
                return Err(format!("{}: configuration file not found", path.display()));
            }
            Some(path) => Some(absolute(path)),
            None => config::find_config(&root),
        };
        let mut config_facts = None;
        if let Some(path) = &config_path {
            // An unreadable or non-UTF-8 configuration is PC003 at the file.
            let (file, facts) =
                config::load_config(path, workspace.file_id(path), config::config_kind(path));
            if let Some(config) = &facts.config {
                workspace.config = config.clone();
            }
            config_facts = Some((Arc::new(file), facts));
        }
        if let Some((file, over)) = poolcheck_extract::overrides::read(&options.overrides)? {
            workspace.config.overlay(over);
            workspace.sources.insert(Arc::new(file));
        }

        let exclude = workspace
            .config
            .exclude
            .iter()
            .filter_map(|g| g.value.clone())
            .collect();
        let found = discover::discover(
            &roots,
            &DiscoverOptions {
                respect_gitignore: options.respect_gitignore,
                exclude,
                prefilter: true,
            },
        );
        workspace.python_paths = found.python_paths;
        workspace.skipped = found.skipped;
        workspace.templates = found.templates;
        workspace.errors = found.errors;
        workspace.visited = found.visited;
        workspace.installed_dirs = found.installed_dirs;
        workspace.library_copies = found.library_copies;

        let extracted: Vec<(Arc<SourceFile>, FileFacts)> = found
            .files
            .into_par_iter()
            .map(|f| {
                let file = Arc::new(SourceFile::new(file_id(&root, &f.path), f.text));
                if f.kind == FileKind::Python
                    && discover::holds_values_only(&f.path, file.text())
                    && let Some((facts, _)) = crate::imports::read_for_imports(&file)
                {
                    return (file, facts);
                }
                let facts = poolcheck_extract::extract(&file, f.kind);
                (file, facts)
            })
            .collect();
        workspace.insert_many(extracted.into_iter().chain(config_facts).collect());
        workspace.load_included_files();
        workspace.load_imported_modules(None);
        workspace.load_env_files();
        workspace.render_helm_charts();
        Ok(workspace)
    }

    /// Renders every Helm chart with its values (and `[helm] values` files)
    /// and reads the rendered manifests as Kubernetes objects into each
    /// template's facts, so that a chart's Deployment, HPA or PgBouncer joins
    /// the deployment like a plain manifest, with its numbers' origins in the
    /// values file that set them.
    pub fn render_helm_charts(&mut self) {
        let helm_kinds = [
            FileKind::HelmChart,
            FileKind::HelmValues,
            FileKind::HelmTemplate,
        ];
        let files: Vec<(FileKind, Arc<SourceFile>)> = self
            .facts
            .iter()
            .filter(|f| helm_kinds.contains(&f.kind))
            .filter_map(|f| {
                let written = match f.kind {
                    FileKind::HelmTemplate => self.helm_templates.get(&f.path),
                    _ => None,
                };
                Some((f.kind, written.or(self.sources.get(&f.path))?.clone()))
            })
            .collect();
        if files.is_empty() {
            return;
        }
        for (kind, file) in &files {
            if *kind == FileKind::HelmTemplate {
                self.helm_templates
                    .entry(file.path().clone())
                    .or_insert_with(|| file.clone());
            }
        }
        let helm = self.config.helm.clone().unwrap_or_default();
        // `[helm] values` paths are relative to the configuration's directory.
        let config_dir = helm
            .location
            .as_ref()
            .and_then(|l| l.file.as_path().parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let extra: Vec<Arc<SourceFile>> = helm
            .values
            .iter()
            .filter_map(|v| v.value.as_ref())
            .filter_map(|v| {
                let path = root_relative(&config_dir.join(v));
                self.sources.get(&path).cloned()
            })
            .collect();
        let extra_refs: Vec<&SourceFile> = extra.iter().map(AsRef::as_ref).collect();
        let charts = poolcheck_extract::helm::group_charts(
            files.iter().map(|(k, f)| (*k, f.as_ref())),
            &extra_refs,
            helm.release.as_ref().and_then(|r| r.value.as_deref()),
            helm.namespace.as_ref().and_then(|n| n.value.as_deref()),
        );
        let mut rendered_texts = Vec::new();
        for chart in &charts {
            let rendered = poolcheck_extract::helm::render_chart(chart);
            let chart_path = chart.chart.as_ref().map(|c| c.path().clone());
            let chart_dir = chart_path
                .as_ref()
                .and_then(|p| p.as_path().parent().map(Path::to_path_buf))
                .unwrap_or_default();
            for manifest in &rendered.manifests {
                let Ok(at) = self
                    .facts
                    .binary_search_by(|f| f.path.cmp(&manifest.template))
                else {
                    continue;
                };
                // The reader's words keep spans into the text they were read
                // from, so every location is first one of the rendered text,
                // which stands in for the template in `sources`; the numbers
                // that set the budget's scale then point at the values file
                // line that set them.
                let template = manifest.template.clone();
                let locate = |span: poolcheck_core::Span| poolcheck_core::Location {
                    file: template.clone(),
                    span,
                };
                let facts = &mut self.facts[at];
                facts.deploy = None;
                poolcheck_extract::kubernetes::read_documents(&manifest.text, &locate, facts);
                let in_values = |location: &poolcheck_core::Location| {
                    manifest
                        .location_of(location.span.start as usize..location.span.end as usize)
                        .filter(|l| l.file != template)
                        .filter(|l| !l.file.as_path().starts_with(chart_dir.join("templates")))
                };
                if let Some(deploy) = &mut facts.deploy {
                    for workload in &mut deploy.workloads {
                        if let Some(word) = &workload.scaling.replicas {
                            let at = locate(word.span);
                            workload.scaling.replicas_origin = in_values(&at);
                        }
                    }
                    for autoscaler in &mut deploy.autoscalers {
                        if let Some(origin) = in_values(&autoscaler.max_location) {
                            autoscaler.max_location = origin;
                        }
                    }
                }
                rendered_texts.push(Arc::new(SourceFile::new(template, manifest.text.clone())));
            }
            // The renderer's own findings (an include loop, an unrendered
            // condition) belong to the chart.
            if let Some(path) = chart_path
                && let Ok(at) = self.facts.binary_search_by(|f| f.path.cmp(&path))
            {
                let facts = &mut self.facts[at];
                facts
                    .diagnostics
                    .retain(|d| !rendered.diagnostics.contains(d));
                facts
                    .diagnostics
                    .extend(rendered.diagnostics.iter().cloned());
            }
        }
        for text in rendered_texts {
            self.sources.insert(text);
        }
    }

    /// Reads every file a `postgresql.conf` or PgBouncer config includes,
    /// transitively, once per file: their texts join `sources` (so that
    /// findings inside them print at their line), and those that cannot be
    /// read are kept in `unread` with the reason. Only regular files inside
    /// the project root (after resolving links) are read.
    fn load_included_files(&mut self) {
        let project_root = self.root.clone();
        let mut pending: Vec<(FilePath, Includes)> = self
            .facts
            .iter()
            .filter_map(|f| {
                let syntax = if f.postgres.is_some() {
                    Includes::Postgres
                } else if f.pgbouncer.is_some() {
                    Includes::PgBouncer
                } else {
                    return None;
                };
                Some((f.path.clone(), syntax))
            })
            .collect();
        let mut seen: std::collections::HashSet<FilePath> =
            pending.iter().map(|(p, _)| p.clone()).collect();
        while let Some((path, syntax)) = pending.pop() {
            let Some(file) = self.sources.get(&path).cloned() else {
                continue;
            };
            let targets = match syntax {
                Includes::Postgres => self.postgres_include_targets(&file),
                Includes::PgBouncer => {
                    let (parsed, _) = poolcheck_extract::pgbouncer::parse(&file);
                    parsed
                        .includes
                        .iter()
                        .flat_map(|inc| {
                            poolcheck_extract::pgbouncer::include::include_candidates(
                                file.path().as_path(),
                                &inc.path,
                                Path::new(""),
                            )
                        })
                        .collect()
                }
            };
            for target in targets {
                let display = root_relative(&target);
                if !seen.insert(display.clone()) {
                    continue;
                }
                if self.sources.get(&display).is_some() {
                    pending.push((display, syntax));
                    continue;
                }
                let kind = match syntax {
                    Includes::Postgres => FileKind::PostgresConf,
                    Includes::PgBouncer => FileKind::Ini,
                };
                match discover::read_referenced(&project_root.join(&target), kind, &project_root) {
                    Ok(text) => {
                        self.sources
                            .insert(Arc::new(SourceFile::new(display.clone(), text)));
                        pending.push((display, syntax));
                    }
                    Err(problem) => {
                        self.unread.insert(display, problem);
                    }
                }
            }
        }
    }

    /// The files a `postgresql.conf` names in `include`, `include_if_exists`
    /// and `include_dir` (whose listing is kept for the resolver).
    fn postgres_include_targets(&mut self, file: &SourceFile) -> Vec<PathBuf> {
        let (conf, _) = poolcheck_extract::pgconf::parse(file);
        let base = file
            .path()
            .as_path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut targets = Vec::new();
        for include in &conf.includes {
            let target = normalize_lexically(&base.join(&include.path));
            if include.kind == PgIncludeKind::IncludeDir {
                let entries: Vec<PathBuf> = std::fs::read_dir(self.root.join(&target))
                    .map(|entries| {
                        entries
                            .filter_map(|e| e.ok().map(|e| e.path()))
                            .map(|p| self.file_id(&p).as_path().to_path_buf())
                            .collect()
                    })
                    .unwrap_or_default();
                targets.extend(
                    entries
                        .iter()
                        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
                        .cloned(),
                );
                self.listings.insert(root_relative(&target), entries);
            } else {
                targets.push(target);
            }
        }
        targets
    }

    /// Reads the compose `env_file:`s (relative to the compose file) that are
    /// not analysed files of their own.
    fn load_env_files(&mut self) {
        let paths: Vec<(FilePath, FilePath)> = self
            .facts
            .iter()
            .filter_map(|f| f.deploy.as_ref())
            .flat_map(|d| &d.workloads)
            .flat_map(|s| &s.env_files)
            // A Kubernetes ConfigMap import names an object, not a file.
            .filter(|file| file.config_map.is_none())
            .map(|file| {
                (
                    env_file_path(&file.location.file, &file.path),
                    file.location.file.clone(),
                )
            })
            .collect();
        for (path, named_by) in paths {
            if self.sources.get(&path).is_some()
                || self.referenced.contains_key(&path)
                || self.missing_env_files.contains_key(&path)
            {
                continue;
            }
            match discover::read_candidate(&self.on_disk(&path)) {
                Ok(Ok(text)) => {
                    self.referenced.insert(path, text);
                }
                // Docker refuses to start without it: the deployment makes
                // it, and the example the repository ships is the best
                // account of what it holds.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    let stand_in = ENV_EXAMPLE_SUFFIXES.iter().find_map(|suffix| {
                        let example =
                            FilePath::new(format!("{}{suffix}", path.as_path().display()));
                        if self.sources.get(&example).is_some()
                            || self.referenced.contains_key(&example)
                        {
                            return Some(example);
                        }
                        let Ok(Ok(text)) = discover::read_candidate(&self.on_disk(&example)) else {
                            return None;
                        };
                        self.referenced.insert(example.clone(), text);
                        Some(example)
                    });
                    self.missing_env_files
                        .insert(path, MissingEnvFile { named_by, stand_in });
                }
                // Unreadable for another reason: its variables stay unknown.
                _ => {}
            }
        }
    }

    /// The identity of a file on disk (absolute, or relative to the working
    /// directory as typed on a command line): its path relative to the
    /// project root, or its absolute path when it lies outside.
    pub fn file_id(&self, on_disk: &Path) -> FilePath {
        file_id(&self.root, on_disk)
    }

    /// Where a file of the workspace is on disk (absolute).
    pub fn on_disk(&self, file: &FilePath) -> PathBuf {
        self.root.join(file.as_path())
    }

    /// The dotted names of the repository's package directories: those with
    /// an `__init__.py` among the Python files discovery saw, parsed or not.
    pub fn python_package_dirs(&self) -> impl Iterator<Item = String> + '_ {
        self.python_paths
            .iter()
            .filter(|p| p.file_name().is_some_and(|n| n == "__init__.py"))
            .filter_map(|p| {
                let file = self.file_id(p);
                poolcheck_extract::python::project::module_name(Path::new(""), file.as_path())
            })
            .map(|(name, _)| name)
    }

    /// The text of a referenced file: an analysed one's, else the one read at load.
    pub fn referenced_text(&self, path: &FilePath) -> Option<&str> {
        match self.sources.get(path) {
            Some(file) => Some(file.text()),
            None => self.referenced.get(path).map(String::as_str),
        }
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
        let file = Arc::new(file);
        if kind == FileKind::HelmTemplate {
            self.helm_templates.insert(path.clone(), file.clone());
        }
        self.insert(file, facts);
        if kind == FileKind::Python {
            // Only the edited module's imports can be new.
            self.load_imported_modules(Some(path));
        }
        if kind == FileKind::Compose {
            self.load_env_files();
        }
        if matches!(
            kind,
            FileKind::HelmChart | FileKind::HelmValues | FileKind::HelmTemplate
        ) || kind == FileKind::PoolcheckToml
            || kind == FileKind::PyProject
        {
            self.render_helm_charts();
        }
    }

    /// Adds the modules admitted files (or just `from`) import that
    /// discovery did not admit.
    pub fn load_imported_modules(&mut self, from: Option<&FilePath>) {
        let loaded = crate::imports::imported_modules(self, from);
        self.insert_many(loaded);
    }

    /// [`Self::insert`] for many files at once: one sort, where inserting
    /// each into the sorted facts moved the ones after it (quadratic in the
    /// thousands of modules a vendored tree imports).
    pub fn insert_many(&mut self, files: Vec<(Arc<SourceFile>, FileFacts)>) {
        if files.len() < 16 {
            for (file, facts) in files {
                self.insert(file, facts);
            }
            return;
        }
        for (file, facts) in files {
            self.sources.insert(file);
            self.facts.push(facts);
        }
        // Stable: of two facts for one path, the one inserted last wins.
        self.facts.sort_by(|a, b| a.path.cmp(&b.path));
        let mut deduped: Vec<FileFacts> = Vec::with_capacity(self.facts.len());
        for facts in self.facts.drain(..) {
            match deduped.last_mut() {
                Some(last) if last.path == facts.path => *last = facts,
                _ => deduped.push(facts),
            }
        }
        self.facts = deduped;
    }

    pub fn remove(&mut self, path: &FilePath) {
        self.facts.retain(|f| &f.path != path);
        self.sources.remove(path);
    }

    /// Whether a finding in `file` is reported for the paths asked about.
    pub fn in_scope(&self, file: &FilePath) -> bool {
        self.scope.is_empty()
            || self
                .scope
                .iter()
                .any(|s| file.as_path().starts_with(s.as_path()))
    }

    pub fn facts_of(&self, path: &FilePath) -> Option<&FileFacts> {
        self.facts
            .binary_search_by(|f| f.path.cmp(path))
            .ok()
            .map(|at| &self.facts[at])
    }
}

/// Where a compose `env_file:` entry points: relative to the compose file.
pub fn env_file_path(compose_file: &FilePath, entry: &str) -> FilePath {
    let base = compose_file.as_path().parent().unwrap_or(Path::new(""));
    root_relative(&base.join(entry))
}

/// The identity of a file on disk in a workspace rooted at `root`
/// (absolute): see [`Workspace::file_id`].
pub fn file_id(root: &Path, on_disk: &Path) -> FilePath {
    let full = normalize_lexically(&absolute(on_disk));
    match full.strip_prefix(root) {
        Ok(relative) => FilePath::new(relative),
        Err(_) => FilePath::new(full),
    }
}

/// A path in the workspace's frame (relative to the project root, like
/// every [`FilePath`], typically a join of one with a path a file wrote),
/// lexically normalised (`deploy/./conf/../x.ini` is `deploy/x.ini`) so that
/// it names the file the way the workspace keys it.
pub fn root_relative(path: &Path) -> FilePath {
    FilePath::new(normalize_lexically(path))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// Named from a directory below the project root, the files keep the
    /// names they have from the root, and only that directory is in scope.
    #[test]
    fn files_are_named_from_the_project_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join(".git")).expect("mkdir .git");
        write(
            dir.path(),
            "app/db.py",
            "engine = create_engine('postgresql://db/app')\n",
        );
        write(dir.path(), "postgresql.conf", "max_connections = 20\n");
        let workspace =
            Workspace::load(&[dir.path().join("app")], &LoadOptions::default()).expect("loads");
        let paths: Vec<String> = workspace.facts.iter().map(|f| f.path.to_string()).collect();
        assert_eq!(paths, ["app/db.py", "postgresql.conf"]);
        assert_eq!(workspace.scope, [FilePath::new("app")]);
        assert_eq!(
            workspace.on_disk(&FilePath::new("app/db.py")),
            workspace.root.join("app/db.py")
        );
    }

    /// `%include`s are read at load, named from the root, so that the
    /// resolver answers from memory; what cannot be read is kept with why.
    #[test]
    fn included_files_are_read_up_front() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "deploy/pgbouncer.ini",
            "[pgbouncer]\n%include local.ini\n%include missing.ini\n",
        );
        write(dir.path(), "deploy/local.ini", "max_client_conn = 900\n");
        let workspace =
            Workspace::load(&[dir.path().to_path_buf()], &LoadOptions::default()).expect("loads");
        let root = workspace
            .sources
            .get(&FilePath::new("deploy/pgbouncer.ini"))
            .expect("the config")
            .clone();
        let (parsed, _) = poolcheck_extract::pgbouncer::parse(&root);
        let mut loader = |path: &Path| {
            let id = root_relative(path);
            let file = workspace.sources.get(&id).cloned().ok_or_else(|| {
                workspace
                    .unread
                    .get(&id)
                    .cloned()
                    .unwrap_or(ReadProblem::Missing)
            })?;
            let (parsed, _) = poolcheck_extract::pgbouncer::parse(&file);
            Ok((file, parsed))
        };
        let (config, diagnostics) =
            poolcheck_extract::pgbouncer::resolve(&root, &parsed, &mut loader, Path::new(""));
        assert_eq!(config.settings["max_client_conn"].value, "900");
        assert_eq!(
            workspace.unread.get(&FilePath::new("deploy/missing.ini")),
            Some(&ReadProblem::Missing)
        );
        let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            ["`%include` file `missing.ini` not found: PgBouncer refuses to start without it"]
        );
    }

    fn web_replicas(workspace: &Workspace) -> String {
        let facts = workspace
            .facts
            .iter()
            .find(|f| f.path.as_path().ends_with("templates/deployment.yaml"))
            .expect("the web template");
        let deploy = facts.deploy.as_ref().expect("rendered workloads");
        let word = deploy.workloads[0]
            .scaling
            .replicas
            .as_ref()
            .expect("replicas");
        let rendered = workspace.sources.get(&facts.path).expect("rendered text");
        rendered.slice(word.span).to_owned()
    }

    /// The editor changes values.yaml: the chart is rendered again from its
    /// templates as written, not from the text rendered before.
    #[test]
    fn an_edited_values_file_renders_the_chart_again() {
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/projects/helm-autoscaling");
        let options = LoadOptions {
            respect_gitignore: true,
            config_file: None,
            overrides: Vec::new(),
        };
        let mut workspace = Workspace::load(&[root], &options).expect("loads");
        assert_eq!(web_replicas(&workspace), "3");
        let values = workspace
            .sources
            .iter()
            .find(|f| f.path().as_path().ends_with("chart/values.yaml"))
            .expect("values.yaml")
            .clone();
        let edited = values
            .text()
            .replacen("replicaCount: 3", "replicaCount: 5", 1);
        workspace.update(values.path(), FileKind::HelmValues, edited);
        assert_eq!(web_replicas(&workspace), "5");
    }
}
