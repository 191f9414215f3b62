//! Python modules that admitted files import but discovery's prefilter
//! skipped (a settings module with `POOL_SIZE = 20` and no trigger word), and
//! the modules `DJANGO_SETTINGS_MODULE` names: read so that imports resolve,
//! and kept in the workspace so their locations print and fixes apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::{FileFacts, FileKind, FilePath, SourceFile};
use poolcheck_extract::python;
use rayon::prelude::*;

use crate::workspace::Workspace;

/// Python modules imported by the parsed ones but skipped by the prefilter
/// (a settings module with no trigger word), read now so that imports resolve.
/// `from` limits the starting points to one module that just changed (the
/// language server's edits): the others' imports are loaded already.
pub fn imported_modules(
    workspace: &Workspace,
    from: Option<&FilePath>,
) -> Vec<(Arc<SourceFile>, FileFacts)> {
    let mut by_name: BTreeMap<String, &PathBuf> = BTreeMap::new();
    for path in &workspace.python_paths {
        let display = workspace.file_id(path);
        if workspace.facts_of(&display).is_some() {
            continue;
        }
        if let Some((name, _)) = python::project::module_name(&workspace.root, display.as_path()) {
            by_name.insert(name, path);
        }
    }
    let mut loaded: Vec<(Arc<SourceFile>, FileFacts)> = Vec::new();
    let starts: Vec<&FileFacts> = match from {
        Some(path) => workspace.facts_of(path).into_iter().collect(),
        None => workspace.facts.iter().collect(),
    };
    let mut pending: Vec<String> = starts
        .iter()
        .filter_map(|f| f.python.as_ref())
        .flat_map(|m| m.imported_modules().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    // Django loads the module `DJANGO_SETTINGS_MODULE` names, which may hold no
    // trigger word (`prod.py` = `from .base import *` and `DEBUG = False`).
    let mut settings_names: Vec<String> = starts
        .iter()
        .filter_map(|f| f.python.as_ref())
        .flat_map(python::django::named_settings_modules)
        .collect();
    if from.is_none() {
        settings_names.extend(deployment_settings_names(workspace));
        // A server's app module decides which code the service runs, and
        // often holds no trigger word (`app/main.py` = `FastAPI()` and imports).
        settings_names.extend(deployment_entry_names(workspace));
    }
    let mut modules = ModuleIndex::new(by_name);
    for name in settings_names {
        // Named from the import root, which may sit below the repository root.
        let full = modules.full_name(&name);
        pending.extend(full);
    }
    // Each name is looked up once: thousands of modules import `os` or
    // `typing`, and each lookup that finds nothing costs a look at the disk
    // per module whose name ends with it.
    let mut asked: std::collections::HashSet<String> = std::collections::HashSet::new();
    // Breadth first, one wave at a time, each wave read and parsed in parallel.
    while !pending.is_empty() {
        let wave: Vec<&PathBuf> = std::mem::take(&mut pending)
            .into_iter()
            .filter(|name| asked.insert(name.clone()))
            .collect::<Vec<String>>()
            .iter()
            // `from a.b import c` may name a module `a.b.c` or a value in `a.b`.
            .filter_map(|name| modules.take(&workspace.root, name))
            .collect();
        let parsed: Vec<(Arc<SourceFile>, FileFacts)> = wave
            .into_par_iter()
            .filter_map(|path| {
                let Ok(Ok(text)) = crate::discover::read_candidate(path) else {
                    return None;
                };
                let file = SourceFile::new(workspace.file_id(path), text);
                let facts = poolcheck_extract::extract(&file, FileKind::Python);
                facts.python.is_some().then(|| (Arc::new(file), facts))
            })
            .collect();
        for (_, facts) in &parsed {
            if let Some(module) = &facts.python {
                pending.extend(module.imported_modules().map(str::to_owned));
            }
        }
        loaded.extend(parsed);
    }
    loaded.sort_by(|a, b| a.0.path().cmp(b.0.path()));
    loaded
}

/// The repository's unread modules by dotted name, with every proper suffix
/// of a name (`settings.prod` of `src.shop.settings.prod`) indexed too, so
/// that imports below an import root resolve without scanning every name.
struct ModuleIndex<'p> {
    by_name: BTreeMap<String, &'p PathBuf>,
    by_suffix: std::collections::HashMap<String, Vec<String>>,
}

impl<'p> ModuleIndex<'p> {
    fn new(by_name: BTreeMap<String, &'p PathBuf>) -> Self {
        let mut by_suffix: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for name in by_name.keys() {
            let mut rest = name.as_str();
            while let Some((_, tail)) = rest.split_once('.') {
                by_suffix
                    .entry(tail.to_owned())
                    .or_default()
                    .push(name.clone());
                rest = tail;
            }
        }
        Self { by_name, by_suffix }
    }

    /// The full name a settings module name refers to, if any.
    fn full_name(&self, name: &str) -> Option<String> {
        if self.by_name.contains_key(name) {
            return Some(name.to_owned());
        }
        self.by_suffix.get(name)?.first().cloned()
    }

    /// Removes and returns the module an absolute import `name` names: the
    /// one with that full name, else the shortest whose name ends with it
    /// below an import root (a directory that is no package, such as `src/`),
    /// as Python finds `paperless.settings.parsers` in
    /// `src/paperless/settings/parsers.py`.
    fn take(&mut self, root: &Path, name: &str) -> Option<&'p PathBuf> {
        if let Some(path) = self.by_name.remove(name) {
            return Some(path);
        }
        let key = self
            .by_suffix
            .get(name)?
            .iter()
            .filter(|key| self.by_name.contains_key(key.as_str()))
            .filter(|key| {
                let prefix = &key[..key.len() - name.len() - 1];
                let mut dir = root.to_path_buf();
                dir.extend(prefix.split('.'));
                !dir.join("__init__.py").is_file()
            })
            .min_by_key(|key| key.len())
            .cloned()?;
        self.by_name.remove(&key)
    }
}

/// The modules deployment commands name as their app (`app.main` of
/// `uvicorn app.main:app`, `proj` and `proj.celery` of `celery -A proj`).
fn deployment_entry_names(workspace: &Workspace) -> Vec<String> {
    let env = poolcheck_core::Environment::new();
    let mut names = Vec::new();
    for deploy in workspace.facts.iter().filter_map(|f| f.deploy.as_ref()) {
        let invocations = poolcheck_extract::commands::invocations(deploy, &env)
            .into_iter()
            .chain(poolcheck_extract::uwsgi::uwsgi_invocation(deploy, &env));
        for invocation in invocations {
            let Some(app) = invocation.settings.app.and_then(|a| a.value) else {
                continue;
            };
            let module = app.split(':').next().unwrap_or(&app).trim();
            if let Some(path) = module.strip_suffix(".py") {
                // A path, possibly inside a container: every tail of it.
                let parts: Vec<&str> = path
                    .split('/')
                    .filter(|c| !c.is_empty() && *c != ".")
                    .collect();
                names.extend((0..parts.len()).map(|skip| parts[skip..].join(".")));
                continue;
            }
            if module.is_empty() || module.contains('/') {
                continue;
            }
            names.push(format!("{module}.celery"));
            names.push(module.to_owned());
        }
    }
    names
}

/// The settings modules the deployment names in `DJANGO_SETTINGS_MODULE`
/// (the poolcheck config, Dockerfile/.env layers, compose environments).
fn deployment_settings_names(workspace: &Workspace) -> Vec<String> {
    let mut settings_names: Vec<String> = workspace
        .config
        .env
        .iter()
        .chain(workspace.config.services.iter().flat_map(|s| s.env.iter()))
        .filter(|(name, _)| name == python::django::SETTINGS_VAR)
        .filter_map(|(_, value)| value.value.clone())
        .collect();
    for deploy in workspace.facts.iter().filter_map(|f| f.deploy.as_ref()) {
        for layer in &deploy.env_layers {
            settings_names.extend(
                layer
                    .entries
                    .iter()
                    .filter(|e| e.name == python::django::SETTINGS_VAR)
                    .map(|e| e.value.clone()),
            );
        }
        for service in &deploy.workloads {
            settings_names.extend(
                service
                    .environment
                    .iter()
                    .filter(|e| e.name == python::django::SETTINGS_VAR)
                    .filter_map(|e| {
                        e.value
                            .as_ref()
                            .and_then(poolcheck_core::facts::deploy::ShellWord::literal_text)
                    }),
            );
        }
    }
    settings_names
}
