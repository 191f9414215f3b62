//! Property: whatever edits reach the server, its findings equal what
//! `poolcheck check` (the same library calls) finds on the final texts.
//!
//! Random edit sequences — incremental and full-document changes, positions
//! past the ends of lines and of the file, UTF-16 surrogate pairs, lone `\r`,
//! NUL bytes, suppression comments, a PgBouncer header deleted and retyped —
//! are applied to the open documents of a small project through the
//! server's own state, in the order a client sends them, one at a time or in
//! bursts, Python modules re-parsed from their kept syntax trees; their facts
//! must equal a fresh parse's. Each change is also
//! applied by an independent reading of the LSP position rules, and the two
//! texts must agree. At the end the texts are written to disk and analysed
//! afresh as the CLI does; the server's findings must be the same.
//!
//! A small seeded PRNG keeps the cases reproducible without a dependency; the
//! case count is kept low so `cargo test` stays fast.

use std::path::{Path, PathBuf};

use poolcheck_core::{Diagnostic, FileKind, SourceFile};
use poolcheck_lsp::convert;
use poolcheck_lsp::settings::Settings;
use poolcheck_lsp::state::{self, ClientCaps, DocumentEdit, OpenDocument, State};
use poolcheck_rules::analysis::{self, Options};
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};

const CASES: u64 = 24;
const EDITS_PER_CASE: usize = 10;

/// xorshift64*: enough randomness for edit sequences, the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FILES: &[(&str, &str)] = &[
    (
        "app/db.py",
        "import asyncpg\n\n\nasync def startup():\n    return await asyncpg.create_pool(\n        \"postgresql://app@pgbouncer:6432/app\",\n        max_size=40,\n    )\n",
    ),
    ("app/views.py", "def index():\n    return \"ok\"\n"),
    (
        "pgbouncer.ini",
        "[databases]\napp = host=postgres port=5432 dbname=app\n\n[pgbouncer]\nlisten_port = 6432\npool_mode = transaction\nmax_client_conn = 100\ndefault_pool_size = 20\n",
    ),
    ("postgresql.conf", "max_connections = 50\n"),
    (
        "Procfile",
        "web: gunicorn app.main:app -w 4 -k uvicorn.workers.UvicornWorker\n",
    ),
];

/// Pieces an edit inserts: line breaks of every kind, a surrogate pair,
/// settings, suppressions, a NUL byte, a PgBouncer header.
const SNIPPETS: &[&str] = &[
    "",
    "\n",
    "\r",
    "\r\n",
    "😀",
    "é",
    "\0",
    "[pgbouncer]\n",
    "pool_mode = session\n",
    "  # poolcheck: ignore[PC101]\n",
    "# poolcheck: ignore[PC201]",
    "max_size=500,",
    "statement_cache_size=0, ",
    "max_connections = 10\n",
    "create_pool(",
    ")",
];

fn write_project(root: &Path) {
    for (path, text) in FILES {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    std::fs::create_dir_all(root.join(".git")).expect("a project root");
}

/// The byte offset of an LSP position (UTF-16 characters) read straight
/// from the specification: `\n`, `\r\n` and `\r` end lines; a character past
/// the end of a line means the line's end; a line past the end means the end
/// of the text; a position inside a surrogate pair moves to the character's end.
fn reference_offset(text: &str, position: Position) -> usize {
    let mut line = 0;
    let mut units = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if line == position.line {
            if c == '\n' || c == '\r' || units >= position.character as usize {
                return i;
            }
            units += c.len_utf16();
            continue;
        }
        if c == '\r' && chars.peek().is_some_and(|&(_, next)| next == '\n') {
            chars.next();
            line += 1;
        } else if c == '\n' || c == '\r' {
            line += 1;
        }
    }
    text.len()
}

fn random_position(rng: &mut Rng, text: &str) -> Position {
    let lines = text.split('\n').count() as u32;
    Position::new(rng.below(lines as usize + 2) as u32, rng.below(48) as u32)
}

fn random_change(rng: &mut Rng, text: &str) -> TextDocumentContentChangeEvent {
    if rng.below(8) == 0 {
        // Full sync: the text with one line dropped or a snippet appended.
        let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
        if !lines.is_empty() && rng.below(2) == 0 {
            let at = rng.below(lines.len());
            lines.remove(at);
        }
        let mut whole = lines.concat();
        whole.push_str(rng.pick(SNIPPETS));
        return TextDocumentContentChangeEvent {
            range: None,
            range_length: None,
            text: whole,
        };
    }
    let a = random_position(rng, text);
    let b = if rng.below(3) == 0 {
        a
    } else {
        random_position(rng, text)
    };
    let (start, end) = if (a.line, a.character) <= (b.line, b.character) {
        (a, b)
    } else {
        (b, a)
    };
    TextDocumentContentChangeEvent {
        range: Some(Range::new(start, end)),
        range_length: None,
        text: rng.pick(SNIPPETS).to_owned(),
    }
}

fn reference_apply(text: &mut String, change: &TextDocumentContentChangeEvent) {
    match change.range {
        None => text.clone_from(&change.text),
        Some(range) => {
            let start = reference_offset(text, range.start);
            let end = reference_offset(text, range.end).max(start);
            text.replace_range(start..end, &change.text);
        }
    }
}

fn analysed_as_the_cli_does(root: &Path) -> Vec<Diagnostic> {
    let (loaded, error) = state::load(&[root.to_path_buf()]);
    assert_eq!(error, None);
    analysis::analyze(&loaded.workspace, &Options::default()).diagnostics
}

fn server_state(root: &Path) -> State {
    let mut state = State::new(
        vec![root.to_path_buf()],
        ClientCaps::default(),
        Settings::default(),
    );
    let (generation, roots) = state.begin_load();
    let (loaded, _) = state::load(&roots);
    state.finish_load(generation, loaded);
    state
}

/// The server's findings now are those of `poolcheck check` over a copy of
/// the project holding the texts the server has: the analysis the server
/// reuses between edits (module names, kept trees and statement IR) never
/// shows a state the texts are not in.
fn assert_agrees_with_a_fresh_check(state: &State, texts: &[(PathBuf, String)], when: &str) {
    let root = state.roots.first().expect("a root");
    let copy = tempfile::tempdir().expect("temp dir");
    let copy_root = copy.path().canonicalize().expect("canonical root");
    std::fs::create_dir_all(copy_root.join(".git")).expect("a project root");
    for (path, text) in texts {
        let relative = path.strip_prefix(root).expect("inside the root");
        let target = copy_root.join(relative);
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&target, text).expect("write the copy");
    }
    let published = state
        .analysis
        .as_ref()
        .map(|a| a.diagnostics.clone())
        .unwrap_or_default();
    assert_eq!(
        published,
        analysed_as_the_cli_does(&copy_root),
        "{when}: the server's findings differ from a fresh check of its texts {texts:#?}"
    );
}

fn run_case(seed: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().canonicalize().expect("canonical root");
    write_project(&root);
    let mut state = server_state(&root);
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);

    let mut expected: Vec<(PathBuf, String)> = Vec::new();
    for (name, text) in FILES {
        let path = root.join(name);
        let uri = convert::path_to_uri(&path).expect("a file URI");
        state
            .open
            .insert(path.clone(), OpenDocument::new(uri, (*text).to_owned(), 1));
        state.sync_file(&path, Some((*text).to_owned()));
        expected.push((path, (*text).to_owned()));
    }
    state.reanalyze();

    let mut queued: Vec<DocumentEdit> = Vec::new();
    for step in 0..EDITS_PER_CASE {
        let which = rng.below(expected.len());
        let (path, reference) = &mut expected[which];
        let change = random_change(&mut rng, reference);
        reference_apply(reference, &change);
        queued.push(DocumentEdit {
            path: path.clone(),
            changes: vec![change.clone()],
            version: step as i32 + 2,
        });
        // Sometimes several edits arrive before the server gets to them
        // (a burst): they are applied in order and analysed once.
        if rng.below(3) != 0 {
            state.apply_edits(std::mem::take(&mut queued));
            let doc = state.open.get(path).expect("open");
            assert_eq!(
                &doc.text, reference,
                "seed {seed}, step {step}: {change:?} applied differently"
            );
            assert_agrees_with_a_fresh_check(
                &state,
                &expected,
                &format!("seed {seed}, step {step}"),
            );
        }
    }
    state.apply_edits(queued);
    for (path, reference) in &expected {
        assert_eq!(&state.open[path].text, reference, "seed {seed}");
    }
    // Python modules were re-parsed from their edited trees: their facts are
    // those of a fresh parse of the final texts.
    let workspace = state.workspace.as_ref().expect("loaded");
    for (path, text) in &expected {
        let shown = state.file_path(path);
        let Some(facts) = workspace.facts_of(&shown) else {
            continue;
        };
        if facts.kind == FileKind::Python {
            let fresh = poolcheck_extract::extract(
                &SourceFile::new(shown.clone(), text.clone()),
                FileKind::Python,
            );
            assert_eq!(
                facts, &fresh,
                "seed {seed}: {shown} after incremental edits"
            );
        }
    }

    let published = state
        .analysis
        .as_ref()
        .map(|a| a.diagnostics.clone())
        .unwrap_or_default();
    for (path, text) in &expected {
        std::fs::write(path, text).expect("write the final text");
    }
    let cli = analysed_as_the_cli_does(&root);
    assert_eq!(
        published, cli,
        "seed {seed}: the server's findings differ from the CLI's on the final texts {expected:#?}"
    );
}

#[test]
fn random_edits_leave_the_server_agreeing_with_the_cli() {
    for seed in 1..=CASES {
        run_case(seed);
    }
}

#[test]
fn the_reference_reads_positions_as_the_specification_says() {
    let text = "a😀b\rc\r\nd";
    assert_eq!(reference_offset(text, Position::new(0, 1)), 1);
    // Inside the surrogate pair: the end of the character.
    assert_eq!(reference_offset(text, Position::new(0, 2)), 5);
    assert_eq!(reference_offset(text, Position::new(0, 3)), 5);
    assert_eq!(reference_offset(text, Position::new(0, 99)), 6);
    assert_eq!(reference_offset(text, Position::new(1, 0)), 7);
    assert_eq!(reference_offset(text, Position::new(2, 1)), 11);
    assert_eq!(reference_offset(text, Position::new(7, 0)), text.len());
}

/// The causes the fuzzing run found, one edit each.
#[test]
fn prefiltered_binary_and_header_less_buffers_are_read_as_the_cli_reads_them() {
    let cases: &[(&str, &str)] = &[
        // A stray suppression in a module nothing imports: the CLI does not read it.
        (
            "app/views.py",
            "def index():  # poolcheck: ignore[PC101]\n    return 1\n",
        ),
        // A NUL byte: the CLI skips the file as binary.
        ("postgresql.conf", "max_connections = 10\0\n"),
        // The [pgbouncer] header deleted: the settings are no PgBouncer's any more.
        (
            "pgbouncer.ini",
            "[databases]\napp = host=postgres port=5432 dbname=app\n\nlisten_port = 6432\npool_mode = transaction  # poolcheck: ignore[PC201]\n",
        ),
    ];
    for (name, text) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical root");
        write_project(&root);
        let mut state = server_state(&root);
        let path = root.join(name);
        state.open.insert(
            path.clone(),
            OpenDocument::new(
                convert::path_to_uri(&path).expect("a file URI"),
                (*text).to_owned(),
                2,
            ),
        );
        state.sync_file(&path, Some((*text).to_owned()));
        state.reanalyze();
        let published = state
            .analysis
            .as_ref()
            .expect("analysed")
            .diagnostics
            .clone();
        std::fs::write(&path, text).expect("write");
        assert_eq!(
            published,
            analysed_as_the_cli_does(&root),
            "{name}: {text:?}"
        );
    }
}
