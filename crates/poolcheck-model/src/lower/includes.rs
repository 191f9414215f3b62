//! Which configuration files are read on their own (a server, a PgBouncer)
//! rather than only as parts another includes, and the text of included
//! files, which the workspace read up front.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::decode::ReadProblem;
use poolcheck_core::{FileFacts, SourceFile, normalize_lexically};

use crate::workspace::{Workspace, root_relative};

/// The checked root in the frame of the files' paths: they are relative to
/// the project root, so it is the empty path (includes are compared
/// lexically, never against the disk or the working directory).
pub(super) fn checked_root() -> PathBuf {
    PathBuf::new()
}

/// Text of a file another includes: the workspace read every such file
/// up front, or kept why it could not.
pub(super) fn load(workspace: &Workspace, path: &Path) -> Result<Arc<SourceFile>, ReadProblem> {
    let display = root_relative(path);
    if let Some(file) = workspace.sources.get(&display) {
        return Ok(file.clone());
    }
    Err(workspace
        .unread
        .get(&display)
        .cloned()
        .unwrap_or(ReadProblem::Missing))
}

/// The configuration files that are read on their own (a server, a
/// PgBouncer), not only as parts of another: those no file outside
/// their include cycle includes, one per cycle. A file that includes
/// itself or an includer is still read; the cycle is PC002 at the include.
pub(super) fn top_level<'w>(
    ws: &'w Workspace,
    includes_of: impl Fn(&'w FileFacts) -> Option<Vec<&'w str>>,
    stands_alone: impl Fn(&'w FileFacts) -> bool,
) -> Vec<&'w FileFacts> {
    let files: Vec<&FileFacts> = ws
        .facts
        .iter()
        .filter(|f| includes_of(f).is_some())
        .collect();
    let index: HashMap<&Path, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_path(), i))
        .collect();
    let edges: Vec<Vec<usize>> = files
        .iter()
        .map(|f| {
            let includes = includes_of(f).unwrap_or_default();
            let base = f.path.as_path().parent().unwrap_or(Path::new(""));
            let mut targets: Vec<usize> = includes
                .iter()
                .map(|p| root_relative(&normalize_lexically(&base.join(p))))
                .filter_map(|p| index.get(p.as_path()).copied())
                .collect();
            targets.sort_unstable();
            targets.dedup();
            targets
        })
        .collect();
    let reach: Vec<Vec<bool>> = (0..files.len())
        .map(|start| {
            let mut seen = vec![false; files.len()];
            let mut stack = edges[start].clone();
            while let Some(next) = stack.pop() {
                if !std::mem::replace(&mut seen[next], true) {
                    stack.extend(&edges[next]);
                }
            }
            seen
        })
        .collect();
    let mut includers: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
    for (from, targets) in edges.iter().enumerate() {
        for &to in targets {
            includers[to].push(from);
        }
    }
    let same_cycle = |a: usize, b: usize| a == b || (reach[a][b] && reach[b][a]);
    (0..files.len())
        .filter(|&f| {
            let members: Vec<usize> = (0..files.len()).filter(|&m| same_cycle(f, m)).collect();
            let included_from_outside = members
                .iter()
                .any(|&m| includers[m].iter().any(|&i| !same_cycle(f, i)));
            // The cycle is read from the file named as the server names
            // its main config, else from the first that can stand alone.
            let first = members
                .iter()
                .copied()
                .filter(|&m| stands_alone(files[m]))
                .min_by_key(|&m| (!has_main_config_name(files[m]), m));
            !included_from_outside && first == Some(f)
        })
        .map(|f| files[f])
        .collect()
}

/// `postgresql.conf`, `pgbouncer.ini`: the file a server or PgBouncer is started with.
fn has_main_config_name(facts: &FileFacts) -> bool {
    let name = facts.path.file_name().to_ascii_lowercase();
    name.starts_with("postgresql") || name.starts_with("pgbouncer")
}
