//! One module per subcommand.

pub mod budget;
pub mod check;
pub mod explain;
pub mod lsp;
pub mod rules;

use std::io::IsTerminal;
use std::path::PathBuf;

use poolcheck_rules::workspace::{LoadOptions, Workspace};

use crate::args::{ColorChoice, ProjectArgs};

/// Discovers and extracts the project named on the command line, printing
/// unreadable files (and, with `--verbose`, skipped ones) on stderr.
pub fn load_workspace(project: &ProjectArgs) -> Result<Workspace, String> {
    let workspace = load_workspace_quietly(project)?;
    report_load(project, &workspace);
    Ok(workspace)
}

/// [`load_workspace`] without the messages, for `--fix`, which loads the
/// project once per round but reports on the last load only.
pub fn load_workspace_quietly(project: &ProjectArgs) -> Result<Workspace, String> {
    let paths = if project.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        project.paths.clone()
    };
    Workspace::load(
        &paths,
        &LoadOptions {
            respect_gitignore: !project.no_respect_gitignore,
            config_file: project.config.clone(),
            overrides: project.set.clone(),
        },
    )
}

/// Unreadable files, and with `--verbose` skipped ones, on stderr.
pub fn report_load(project: &ProjectArgs, workspace: &Workspace) {
    for error in &workspace.errors {
        eprintln!("poolcheck: warning: {error}");
    }
    if project.verbose {
        for (path, reason) in &workspace.skipped {
            eprintln!(
                "poolcheck: skipped {}: {reason}",
                poolcheck_rules::workspace::display_path(path)
            );
        }
        eprintln!(
            "poolcheck: visited {} files, extracted {}",
            workspace.visited,
            workspace.facts.len()
        );
    }
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
