//! Python modules that admitted files import but discovery's prefilter
//! skipped (a settings module with `POOL_SIZE = 20` and no trigger word), and
//! the modules `DJANGO_SETTINGS_MODULE` names: read so that imports resolve,
//! and kept in the workspace so their locations print and fixes apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::{FileFacts, FileKind, SourceFile};
use poolcheck_extract::python;

use crate::workspace::{Workspace, display_path};

/// Python modules imported by the parsed ones but skipped by the prefilter
/// (a settings module with no trigger word), read now so that imports resolve.
pub fn imported_modules(workspace: &Workspace) -> Vec<(Arc<SourceFile>, FileFacts)> {
    let mut by_name: BTreeMap<String, &PathBuf> = BTreeMap::new();
    for path in &workspace.python_paths {
        let display = display_path(path);
        if workspace.facts_of(&display).is_some() {
            continue;
        }
        if let Some((name, _)) = python::project::module_name(&workspace.root, display.as_path()) {
            by_name.insert(name, path);
        }
    }
    let mut loaded: Vec<(Arc<SourceFile>, FileFacts)> = Vec::new();
    let mut pending: Vec<String> = workspace
        .facts
        .iter()
        .filter_map(|f| f.python.as_ref())
        .flat_map(|m| m.imported_modules().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    // Django loads the module `DJANGO_SETTINGS_MODULE` names, which may hold no
    // trigger word (`prod.py` = `from .base import *` and `DEBUG = False`).
    let mut settings_names: Vec<String> = workspace
        .facts
        .iter()
        .filter_map(|f| f.python.as_ref())
        .flat_map(python::django::named_settings_modules)
        .collect();
    settings_names.extend(
        workspace
            .config
            .env
            .iter()
            .chain(workspace.config.services.iter().flat_map(|s| s.env.iter()))
            .filter(|(name, _)| name == python::django::SETTINGS_VAR)
            .filter_map(|(_, value)| value.value.clone()),
    );
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
        for service in &deploy.compose_services {
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
    for name in settings_names {
        // Named from the import root, which may sit below the repository root.
        let suffix = format!(".{name}");
        let full = by_name
            .keys()
            .find(|k| **k == name || k.ends_with(&suffix))
            .cloned();
        pending.extend(full);
    }
    while let Some(name) = pending.pop() {
        // `from a.b import c` may name a module `a.b.c` or a value in `a.b`.
        let Some(path) = take_module(&mut by_name, &workspace.root, &name) else {
            continue;
        };
        let Ok(Ok(text)) = poolcheck_extract::discover::read_candidate(path) else {
            continue;
        };
        let file = SourceFile::new(display_path(path), text);
        let facts = poolcheck_extract::extract(&file, FileKind::Python);
        if let Some(module) = &facts.python {
            pending.extend(module.imported_modules().map(str::to_owned));
            loaded.push((Arc::new(file), facts));
        }
    }
    loaded
}

/// The module an absolute import `name` names: the one with that full name,
/// else the shortest whose name ends with it below an import root (a
/// directory that is no package, such as `src/`), as Python finds
/// `paperless.settings.parsers` in `src/paperless/settings/parsers.py`.
fn take_module<'p>(
    by_name: &mut BTreeMap<String, &'p PathBuf>,
    root: &Path,
    name: &str,
) -> Option<&'p PathBuf> {
    if let Some(path) = by_name.remove(name) {
        return Some(path);
    }
    let suffix = format!(".{name}");
    let key = by_name
        .keys()
        .filter(|key| {
            key.strip_suffix(&suffix).is_some_and(|prefix| {
                let mut dir = root.to_path_buf();
                dir.extend(prefix.split('.'));
                !dir.join("__init__.py").is_file()
            })
        })
        .min_by_key(|key| key.len())
        .cloned()?;
    by_name.remove(&key)
}
