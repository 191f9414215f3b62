//! One module per subcommand.

pub mod budget;
pub mod check;
pub mod explain;
pub mod lsp;
pub mod rules;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::{Diagnostic, FilePath, SourceFile};
use poolcheck_rules::sources::Sources;
use poolcheck_rules::workspace::{LoadOptions, Workspace};

use crate::args::{ColorChoice, ProjectArgs};

/// The paths of one run, checked: those that exist and belong to the
/// project of the first.
pub struct Target {
    pub project: ProjectArgs,
    /// A path was reported as unusable: the run ends with status 2.
    pub failed: bool,
    /// The paths as the user wrote them, for messages.
    pub given: Vec<PathBuf>,
    /// The directory the user runs in, absolute. The analysis never depends
    /// on it (its paths are relative to the project root); output shows
    /// paths from it (see [`show_from_cwd`]).
    pub cwd: PathBuf,
    /// The project root, absolute.
    pub root: PathBuf,
}

/// Checks every path named on the command line: one that does not exist is
/// reported and the others are still checked; one in another project is
/// reported too. A run inside a project's subdirectory reads the whole
/// project all the same: the workspace starts from the project root.
pub fn resolve_target(project: &ProjectArgs) -> Result<Target, String> {
    let given = if project.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        project.paths.clone()
    };
    let mut unusable = Vec::new();
    let mut usable = Vec::new();
    for path in &given {
        match poolcheck_workspace::discover::check_named_path(path) {
            Ok(()) => usable.push(path.clone()),
            Err(reason) => unusable.push(format!("{}: {reason}", path.display())),
        }
    }
    let Some(first) = usable.first().cloned() else {
        return Err(unusable.join("\npoolcheck: error: "));
    };
    let mut failed = !unusable.is_empty();
    for message in unusable {
        eprintln!("poolcheck: error: {message}");
    }
    let root = poolcheck_workspace::discover::project_root(&first);
    usable.retain(|path| {
        let same = poolcheck_workspace::discover::project_root(path) == root;
        if !same {
            eprintln!(
                "poolcheck: error: {}: belongs to another project than {}; check it in a separate run",
                path.display(),
                first.display()
            );
            failed = true;
        }
        same
    });
    let config = project
        .config
        .as_ref()
        .map(|c| std::path::absolute(c).unwrap_or_else(|_| c.clone()));
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
    // Output shows paths as the user sees them from here: the root as a
    // prefix when it lies below (or is) this directory, absolute when it is
    // elsewhere; from inside the project they stay relative to the root and
    // `show_from_cwd` moves the findings' own locations.
    poolcheck_core::show_paths_from(if cwd.starts_with(&root) {
        PathBuf::new()
    } else {
        shown(&cwd, &root)
    });
    Ok(Target {
        project: ProjectArgs {
            paths: usable,
            config,
            no_respect_gitignore: project.no_respect_gitignore,
            verbose: project.verbose,
            set: project.set.clone(),
        },
        failed,
        given,
        cwd,
        root,
    })
}

/// Discovers and extracts the project of the target's paths, printing
/// unreadable files (and, with `--verbose`, skipped ones) on stderr.
pub fn load_workspace(target: &Target) -> Result<Workspace, String> {
    let workspace = load_workspace_quietly(&target.project)?;
    report_load(target, &workspace);
    Ok(workspace)
}

/// [`load_workspace`] without the messages, for `--fix`, which loads the
/// project once per round but reports on the last load only.
pub fn load_workspace_quietly(project: &ProjectArgs) -> Result<Workspace, String> {
    Workspace::load(
        &project.paths,
        &LoadOptions {
            respect_gitignore: !project.no_respect_gitignore,
            config_file: project.config.clone(),
            overrides: project.set.clone(),
        },
    )
}

/// Unreadable files, files that matter and were not read, a run that read
/// nothing, and with `--verbose` every skipped file, on stderr.
pub fn report_load(target: &Target, workspace: &Workspace) {
    for error in &workspace.errors {
        eprintln!("poolcheck: warning: {error}");
    }
    for (path, reason, named) in &workspace.skipped {
        let path = shown(&target.cwd, path).display().to_string();
        if reason.matters() || *named {
            eprintln!("poolcheck: warning: {path} was not read: {reason}");
        } else if target.project.verbose {
            eprintln!("poolcheck: skipped {path}: {reason}");
        }
    }
    for (path, missing) in &workspace.missing_env_files {
        let shown_path = |p: &FilePath| {
            shown(&target.cwd, &workspace.on_disk(p))
                .display()
                .to_string()
        };
        match &missing.stand_in {
            Some(stand_in) => eprintln!(
                "poolcheck: {} (an env_file of {}) is not in the repository: read {} in its place",
                shown_path(path),
                shown_path(&missing.named_by),
                shown_path(stand_in)
            ),
            None => eprintln!(
                "poolcheck: warning: {} (an env_file of {}) is not in the repository: the variables it sets are unknown",
                shown_path(path),
                shown_path(&missing.named_by)
            ),
        }
    }
    let read_something = workspace.facts.iter().any(|f| workspace.in_scope(&f.path));
    if !read_something {
        let shown: Vec<String> = target
            .given
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        eprintln!(
            "poolcheck: warning: no configuration files found under {}",
            shown.join(", ")
        );
    }
    if target.project.verbose {
        eprintln!(
            "poolcheck: visited {} files, extracted {}",
            workspace.visited,
            workspace.facts.len()
        );
        if let Some(first) = workspace.templates.first() {
            let count = workspace.templates.len();
            eprintln!(
                "poolcheck: skipped {count} template file{} (cookiecutter or Jinja, rendered before they are deployed): {}{}",
                if count == 1 { "" } else { "s" },
                shown(&target.cwd, first).display(),
                if count > 1 { ", …" } else { "" }
            );
        }
        if let Some(first) = workspace.installed_dirs.first() {
            eprintln!(
                "poolcheck: skipped {} directories of installed packages without reading them ({}{})",
                workspace.installed_dirs.len(),
                first.display(),
                if workspace.installed_dirs.len() > 1 {
                    ", …"
                } else {
                    ""
                }
            );
        }
        if let Some(first) = workspace.library_copies.first() {
            let count = workspace.library_copies.len();
            eprintln!(
                "poolcheck: skipped {count} cop{} of libraries poolcheck reads by their API ({}{})",
                if count == 1 { "y" } else { "ies" },
                shown(&target.cwd, first).display(),
                if count > 1 { ", …" } else { "" }
            );
        }
    }
}

/// With `--verbose`, after the analysis: how many imported modules were
/// read for their imports alone, and how many of those evaluation parsed
/// because it needed one of their names.
pub fn report_unparsed_modules(workspace: &Workspace) {
    let unparsed: Vec<_> = workspace
        .facts
        .iter()
        .filter_map(|f| f.python_unparsed.as_ref())
        .collect();
    if unparsed.is_empty() {
        return;
    }
    let parsed = unparsed.iter().filter(|u| u.is_parsed()).count();
    eprintln!(
        "poolcheck: read {} imported modules only for their imports; evaluation parsed {parsed} of them for names it needed",
        unparsed.len()
    );
}

/// `--output-file` as an absolute path: a relative path means what the user
/// typed, wherever the report is written from.
pub fn output_path(path: Option<&PathBuf>) -> Option<PathBuf> {
    path.map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
}

/// Writes a report for `--output-file`, creating its directory; the error
/// names the path.
pub fn write_report(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A path on disk as users see it: relative to the directory they run in
/// when it lies below it, else absolute.
pub fn shown(cwd: &Path, on_disk: &Path) -> PathBuf {
    match on_disk.strip_prefix(cwd) {
        Ok(relative) => relative.to_path_buf(),
        Err(_) => on_disk.to_path_buf(),
    }
}

/// From a directory inside the project, the findings' locations (and the
/// sources they quote) are shown from where the user stands, the way the
/// user names those files; messages keep naming files from the project
/// root. From the root or above it, [`poolcheck_core::show_paths_from`]
/// already shows every path from the working directory.
pub fn show_from_cwd(target: &Target, diagnostics: &mut [Diagnostic], sources: &mut Sources) {
    if target.cwd == target.root || !target.cwd.starts_with(&target.root) {
        return;
    }
    let show = |file: &FilePath| -> FilePath {
        FilePath::new(shown(&target.cwd, &target.root.join(file.as_path())))
    };
    for d in diagnostics.iter_mut() {
        d.primary.file = show(&d.primary.file);
        for r in &mut d.related {
            r.location.file = show(&r.location.file);
        }
        if let Some(fix) = &mut d.fix {
            for edit in &mut fix.edits {
                edit.location.file = show(&edit.location.file);
            }
        }
    }
    let moved: Vec<Arc<SourceFile>> = sources
        .iter()
        .map(|f| Arc::new(SourceFile::new(show(f.path()), f.text())))
        .collect();
    *sources = Sources::default();
    for file in moved {
        sources.insert(file);
    }
}

pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}
