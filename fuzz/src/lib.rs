//! What every fuzz target shares: run one file through its front-end and the
//! whole analysis, in memory, and write generated projects to disk for the
//! pipeline target.

use std::sync::Arc;

use poolcheck_core::{FileFacts, FileKind, SourceFile};
use poolcheck_rules::analysis::{self, Options};
use poolcheck_rules::workspace::Workspace;

pub mod project;

/// The input as the workspace would hand it to a front-end: text. Invalid
/// UTF-8 is replaced rather than rejected so that byte mutations keep
/// exercising the parser.
pub fn text_of(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Extracts `data` as a file named `name` with `front_end` (one front-end's
/// `extract`, or the dispatching one) and runs the whole analysis (assembly,
/// budget, every rule) over that single file.
pub fn check_file(
    name: &str,
    kind: FileKind,
    data: &[u8],
    front_end: impl FnOnce(&SourceFile, &mut FileFacts),
) {
    let file = SourceFile::new(name, text_of(data));
    let mut facts = FileFacts::new(file.path().clone(), kind);
    front_end(&file, &mut facts);
    analyze_one(file, facts);
}

/// The same through the dispatcher every discovered file goes through.
pub fn check_kind(name: &str, kind: FileKind, data: &[u8]) {
    let file = SourceFile::new(name, text_of(data));
    let facts = poolcheck_extract::extract(&file, kind);
    analyze_one(file, facts);
}

fn analyze_one(file: SourceFile, facts: FileFacts) {
    // A root that does not exist: an include or an env_file named by the
    // input must never reach the machine's own files.
    let mut workspace = Workspace {
        root: "/nonexistent/poolcheck-fuzz".into(),
        ..Workspace::default()
    };
    if let Some(config) = &facts.config {
        workspace.config = config.clone();
    }
    workspace.insert(Arc::new(file), facts);
    let result = analysis::analyze(&workspace, &Options::default());
    std::hint::black_box(result);
}
