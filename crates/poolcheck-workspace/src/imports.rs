//! Python modules that admitted files import but discovery's prefilter
//! skipped (a settings module with `POOL_SIZE = 20` and no trigger word), and
//! the modules `DJANGO_SETTINGS_MODULE` names: read so that imports resolve,
//! and kept in the workspace so their locations print and fixes apply.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::facts::PythonModule;
use poolcheck_core::facts::python::{Import, ImportKind, StmtKind, UnparsedModule};
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
    // Every Python path of a large tree passes here: a hash lookup by the
    // root-relative path, not an identity and a sorted search per path.
    let extracted: HashMap<&Path, &FileFacts> = workspace
        .facts
        .iter()
        .map(|f| (f.path.as_path(), f))
        .collect();
    let mut by_name: BTreeMap<String, Target> = BTreeMap::new();
    for path in &workspace.python_paths {
        let relative = path.strip_prefix(&workspace.root).unwrap_or(path);
        let target = match extracted.get(relative) {
            None => Target::Unread(path),
            // A module discovery admitted only for its values starts nothing:
            // its imports matter once a module that starts something imports
            // it. (An edit in the editor keeps the modules loaded before.)
            Some(&facts) if from.is_none() && facts.python_unparsed.is_some() => {
                Target::Admitted(facts)
            }
            Some(_) => continue,
        };
        if let Some((name, _)) = python::project::module_name(Path::new(""), relative) {
            by_name.insert(name, target);
        }
    }
    let mut loaded: Vec<(Arc<SourceFile>, FileFacts)> = Vec::new();
    let starts: Vec<&FileFacts> = match from {
        Some(path) => workspace.facts_of(path).into_iter().collect(),
        None => workspace
            .facts
            .iter()
            .filter(|f| f.python_unparsed.is_none())
            .collect(),
    };
    let mut pending: Vec<String> = starts
        .iter()
        .flat_map(|f| {
            let importer = importer_name(&f.path);
            imports_of(f)
                .flat_map(|i| import_candidates(i, importer.as_ref()))
                .collect::<Vec<_>>()
        })
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
    // Modules named by the deployment or by `DJANGO_SETTINGS_MODULE` are
    // parsed: they start the process or configure it. The rest is read for
    // its imports alone, and parsed only if evaluation needs its names.
    let mut named: HashSet<String> = HashSet::new();
    for name in settings_names {
        // Named from the import root, which may sit below the repository root.
        if let Some(full) = modules.full_name(&name) {
            named.insert(full.clone());
            pending.push(full);
        }
    }
    // Each name is looked up once: thousands of modules import `os` or
    // `typing`, and each lookup that finds nothing costs a look at the disk
    // per module whose name ends with it.
    let mut asked: HashSet<String> = HashSet::new();
    // Breadth first, one wave at a time, each wave read in parallel.
    while !pending.is_empty() {
        let wave: Vec<(bool, Target)> = std::mem::take(&mut pending)
            .into_iter()
            .filter(|name| asked.insert(name.clone()))
            // A library poolcheck reads by its API is never loaded from a
            // copy in the repository (`code/vendor/sqlalchemy/`).
            .filter(|name| named.contains(name) || !python::project::is_modelled_library(name))
            .collect::<Vec<String>>()
            .iter()
            // `from a.b import c` may name a module `a.b.c` or a value in `a.b`.
            .filter_map(|name| Some((named.contains(name), modules.take(&workspace.root, name)?)))
            .collect();
        let (admitted, unread): (Vec<_>, Vec<_>) = wave
            .into_iter()
            .partition(|(_, target)| matches!(target, Target::Admitted(_)));
        for (_, target) in admitted {
            if let Target::Admitted(facts) = target {
                let importer = importer_name(&facts.path);
                pending.extend(
                    imports_of(facts).flat_map(|i| import_candidates(i, importer.as_ref())),
                );
            }
        }
        let read: Vec<(Arc<SourceFile>, FileFacts, Vec<String>)> = unread
            .into_par_iter()
            .filter_map(|(is_named, target)| {
                let Target::Unread(path) = target else {
                    return None;
                };
                let Ok(Ok(text)) = crate::discover::read_candidate(path) else {
                    return None;
                };
                let file = Arc::new(SourceFile::new(workspace.file_id(path), text));
                if !is_named && let Some((facts, imports)) = read_for_imports(&file) {
                    return Some((file, facts, imports));
                }
                let facts = poolcheck_extract::extract(&file, FileKind::Python);
                let module = facts.python.as_ref()?;
                let importer = importer_name(file.path());
                let imports = module_level_imports(module)
                    .flat_map(|i| import_candidates(i, importer.as_ref()))
                    .collect();
                Some((file, facts, imports))
            })
            .collect();
        for (file, facts, imports) in read {
            pending.extend(imports);
            loaded.push((file, facts));
        }
    }
    loaded.sort_by(|a, b| a.0.path().cmp(b.0.path()));
    loaded
}

/// A module of the repository as the import closure meets it.
#[derive(Clone, Copy)]
enum Target<'w> {
    /// Not read yet: read it for its imports.
    Unread(&'w PathBuf),
    /// Admitted by discovery for its values alone: its imports are followed
    /// once it is reached.
    Admitted(&'w FileFacts),
}

/// The module-level imports of an extracted Python file, parsed or not.
fn imports_of(facts: &FileFacts) -> Box<dyn Iterator<Item = &Import> + '_> {
    match (&facts.python, &facts.python_unparsed) {
        (Some(module), _) => Box::new(module_level_imports(module)),
        (None, Some(unparsed)) => Box::new(unparsed.imports.iter()),
        (None, None) => Box::new(std::iter::empty()),
    }
}

fn module_level_imports(module: &PythonModule) -> impl Iterator<Item = &Import> {
    module.body.iter().filter_map(|stmt| match &stmt.kind {
        StmtKind::Import(import) => Some(import),
        _ => None,
    })
}

/// The dotted name of the module at `path` (root-relative) and whether it
/// is a package's `__init__`, against which its relative imports resolve.
fn importer_name(path: &FilePath) -> Option<(String, bool)> {
    python::project::module_name(Path::new(""), path.as_path())
}

/// The module names an import may load: its module, and for
/// `from pkg import name` also `pkg.name`, which is a submodule when no value
/// of `pkg` has that name (`from api import routes`). A relative star import
/// is named from the importing module (`from .settings import *` in
/// `app/core/conf/__init__.py` loads `app.core.conf.settings`), so a package
/// that re-exports its submodules resolves.
fn import_candidates(import: &Import, importer: Option<&(String, bool)>) -> Vec<String> {
    let module = match importer {
        // Only relative star imports are followed: that is how packages and
        // settings modules re-export (`from .base import *`), and following
        // every relative import reads whole vendored libraries (+40 % time,
        // +55 % memory on the vendored benchmark) for nothing.
        Some((importer, is_package))
            if import.level > 0 && matches!(import.kind, ImportKind::Star) =>
        {
            let mut package: Vec<&str> = importer.split('.').filter(|p| !p.is_empty()).collect();
            if !is_package {
                package.pop();
            }
            for _ in 1..import.level {
                if package.pop().is_none() {
                    return Vec::new();
                }
            }
            package.extend(import.module.split('.').filter(|p| !p.is_empty()));
            package.join(".")
        }
        _ => import.module.clone(),
    };
    let mut names = vec![module.clone()];
    if let ImportKind::Names(imported) = &import.kind {
        for name in imported {
            names.push(if module.is_empty() {
                name.name.clone()
            } else {
                format!("{module}.{}", name.name)
            });
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

/// The facts of a module read only for its imports, and the modules its
/// module-level imports name; `None` when its text asks for a parse (a
/// module-level `.connect(` may connect at import time).
pub fn read_for_imports(file: &Arc<SourceFile>) -> Option<(FileFacts, Vec<String>)> {
    let scan = python::import_scan::scan_imports(file.text());
    if scan.needs_parse {
        return None;
    }
    let importer = importer_name(file.path());
    let imports = scan
        .module_level
        .iter()
        .flat_map(|i| import_candidates(i, importer.as_ref()))
        .collect();
    let mut facts = FileFacts::new(file.path().clone(), FileKind::Python);
    facts.python_unparsed = Some(Arc::new(UnparsedModule::new(
        Arc::clone(file),
        scan.module_level,
        scan.nested,
    )));
    Some((facts, imports))
}

/// The repository's unread (and values-only) modules by dotted name, also
/// found by the last part of their name, so that an import below an import
/// root (`settings.prod` of `src.shop.settings.prod`) resolves without
/// scanning every name.
struct ModuleIndex<'p> {
    /// Sorted by name; a target is `None` once taken.
    modules: Vec<(String, Option<Target<'p>>)>,
    by_name: HashMap<String, usize>,
    /// Positions in `modules`, in name order, by the last part of the name.
    by_last_part: HashMap<String, Vec<usize>>,
}

impl<'p> ModuleIndex<'p> {
    fn new(by_name: BTreeMap<String, Target<'p>>) -> Self {
        let modules: Vec<(String, Option<Target<'p>>)> = by_name
            .into_iter()
            .map(|(name, target)| (name, Some(target)))
            .collect();
        let mut exact = HashMap::with_capacity(modules.len());
        let mut by_last_part: HashMap<String, Vec<usize>> = HashMap::new();
        for (position, (name, _)) in modules.iter().enumerate() {
            exact.insert(name.clone(), position);
            if let Some((_, last)) = name.rsplit_once('.') {
                by_last_part
                    .entry(last.to_owned())
                    .or_default()
                    .push(position);
            }
        }
        Self {
            modules,
            by_name: exact,
            by_last_part,
        }
    }

    /// Positions of the modules whose name ends with `.{name}`, in name order.
    fn below_a_root<'a>(&'a self, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        let last = name.rsplit_once('.').map_or(name, |(_, last)| last);
        self.by_last_part
            .get(last)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |&position| {
                let full = &self.modules[position].0;
                full.len() > name.len()
                    && full.ends_with(name)
                    && full.as_bytes()[full.len() - name.len() - 1] == b'.'
            })
    }

    /// The full name a settings module name refers to, if any.
    fn full_name(&self, name: &str) -> Option<String> {
        if self.by_name.contains_key(name) {
            return Some(name.to_owned());
        }
        let position = self.below_a_root(name).next()?;
        Some(self.modules[position].0.clone())
    }

    /// Removes and returns the module an absolute import `name` names: the
    /// one with that full name, else the shortest whose name ends with it
    /// below an import root (a directory that is no package, such as `src/`),
    /// as Python finds `paperless.settings.parsers` in
    /// `src/paperless/settings/parsers.py`.
    fn take(&mut self, root: &Path, name: &str) -> Option<Target<'p>> {
        if let Some(&position) = self.by_name.get(name)
            && let Some(target) = self.modules[position].1.take()
        {
            return Some(target);
        }
        let position = self
            .below_a_root(name)
            .filter(|&position| self.modules[position].1.is_some())
            .filter(|&position| {
                let full = &self.modules[position].0;
                let prefix = &full[..full.len() - name.len() - 1];
                let mut dir = root.to_path_buf();
                dir.extend(prefix.split('.'));
                !dir.join("__init__.py").is_file()
            })
            .min_by_key(|&position| self.modules[position].0.len())?;
        self.modules[position].1.take()
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
