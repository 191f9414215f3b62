//! One module per subcommand.

pub mod budget;
pub mod check;
pub mod explain;
pub mod lsp;
pub mod rules;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use poolcheck_core::{Diagnostic, FilePath, SourceFile};
use poolcheck_rules::sources::Sources;
use poolcheck_rules::workspace::{LoadOptions, Workspace};

use crate::args::{ColorChoice, ProjectArgs};

/// The paths of one run, checked: those that exist and belong to the
/// project of the first, as seen from the directory the run works in.
pub struct Target {
    pub project: ProjectArgs,
    /// A path was reported as unusable: the run ends with status 2.
    pub failed: bool,
    /// The paths as the user wrote them, for messages.
    pub given: Vec<PathBuf>,
    /// Where the user stood, relative to the project root, when the run
    /// moved there (a path inside the project was checked from below its
    /// root): output paths are shown from here again.
    pub from_below: Option<(PathBuf, PathBuf)>,
}

/// Checks every path named on the command line: one that does not exist is
/// reported and the others are still checked; one in another project is
/// reported too. A run inside a project's subdirectory works from the
/// project root, so that the whole project is read with stable paths.
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
    let mut from_below = None;
    let mut paths = usable;
    if let Ok(below) = cwd.strip_prefix(&root)
        && !below.as_os_str().is_empty()
    {
        let absolute: Vec<PathBuf> = paths
            .iter()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
            .collect();
        std::env::set_current_dir(&root)
            .map_err(|e| format!("cannot enter the project root {}: {e}", root.display()))?;
        paths = absolute
            .iter()
            .map(|p| {
                let p = poolcheck_core::normalize_lexically(p);
                match p.strip_prefix(&root) {
                    Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
                    Ok(rel) => rel.to_path_buf(),
                    Err(_) => p.clone(),
                }
            })
            .collect();
        from_below = Some((below.to_path_buf(), root.clone()));
    }
    Ok(Target {
        project: ProjectArgs {
            paths,
            config,
            no_respect_gitignore: project.no_respect_gitignore,
            verbose: project.verbose,
            set: project.set.clone(),
        },
        failed,
        given,
        from_below,
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
        let path = poolcheck_rules::workspace::display_path(path);
        if reason.matters() || *named {
            eprintln!("poolcheck: warning: {path} was not read: {reason}");
        } else if target.project.verbose {
            eprintln!("poolcheck: skipped {path}: {reason}");
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
    }
}

/// `--output-file` as an absolute path, taken before the run may move to
/// the project root, so that a relative path means what the user typed.
pub fn output_path(path: Option<&PathBuf>) -> Option<PathBuf> {
    path.map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
}

/// Writes a report for `--output-file`, creating its directory; the error
/// names the path.
pub fn write_report(path: &std::path::Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Paths of findings as the user sees them from where they stood when the
/// run moved to the project root.
pub fn show_from_below(target: &Target, diagnostics: &mut [Diagnostic], sources: &mut Sources) {
    let Some((below, root)) = &target.from_below else {
        return;
    };
    let shown = |file: &FilePath| -> FilePath {
        match file.as_path().strip_prefix(below) {
            Ok(rel) => FilePath::new(rel),
            Err(_) => FilePath::new(root.join(file.as_path())),
        }
    };
    for d in diagnostics.iter_mut() {
        d.primary.file = shown(&d.primary.file);
        for r in &mut d.related {
            r.location.file = shown(&r.location.file);
        }
        if let Some(fix) = &mut d.fix {
            for edit in &mut fix.edits {
                edit.location.file = shown(&edit.location.file);
            }
        }
    }
    let moved: Vec<Arc<SourceFile>> = sources
        .iter()
        .map(|f| Arc::new(SourceFile::new(shown(f.path()), f.text())))
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
