//! A Python document kept across edits (the language server's open files):
//! its last syntax tree is told about every edit, so that the next parse
//! re-reads only what the edits touched instead of the whole file, and the
//! IR of its top-level statements is kept, so that only the statements whose
//! text changed are read into IR again.

use std::ops::Range;

use poolcheck_core::{FileFacts, FileKind, SourceFile};
use tree_sitter::{InputEdit, Point, Tree};

use super::parse::{self, StatementCache};

/// The syntax tree of a document's text, kept in step with its edits.
/// Every change of the text must go through [`IncrementalParse::replace`]
/// (or be followed by [`IncrementalParse::forget`]): a tree that does not
/// describe the text it is reused for would be misread.
#[derive(Debug, Clone, Default)]
pub struct IncrementalParse {
    tree: Option<Tree>,
    /// The IR of the last text's top-level statements, by their text: valid
    /// whatever the tree, so it survives [`IncrementalParse::forget`].
    statements: StatementCache,
    /// The tree the last [`IncrementalParse::extract`] replaced, kept for
    /// the caller to free when it suits it (see
    /// [`IncrementalParse::take_replaced_tree`]).
    replaced: Option<Tree>,
}

impl IncrementalParse {
    /// Replaces `range` of `text` by `replacement` and records the edit in the
    /// kept tree. The range must lie on character boundaries.
    pub fn replace(&mut self, text: &mut String, range: Range<usize>, replacement: &str) {
        let start_position = point_at(text, range.start);
        let old_end_position = advance(start_position, &text[range.clone()]);
        text.replace_range(range.clone(), replacement);
        let Some(tree) = self.tree.as_mut() else {
            return;
        };
        tree.edit(&InputEdit {
            start_byte: range.start,
            old_end_byte: range.end,
            new_end_byte: range.start + replacement.len(),
            start_position,
            old_end_position,
            new_end_position: advance(start_position, replacement),
        });
    }

    /// Drops the tree: the text was replaced as a whole. The statements'
    /// IR is kept: a statement of the new text that is written as before
    /// is still not read again.
    pub fn forget(&mut self) {
        self.tree = None;
    }

    /// The facts of `file` as [`crate::extract`] finds them for a Python
    /// file, parsed from the kept tree when there is one; keeps the new tree.
    pub fn extract(&mut self, file: &SourceFile) -> FileFacts {
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Python);
        let (module, too_deep, tree) =
            parse::reparse_module(file.text(), self.tree.as_ref(), Some(&mut self.statements));
        self.replaced = std::mem::replace(&mut self.tree, tree);
        super::extract_parsed(file, &mut facts, module, too_deep);
        facts
    }

    /// The tree the last extraction replaced: freeing a large file's tree
    /// takes a while, which a language server spends after it has answered.
    pub fn take_replaced_tree(&mut self) -> Option<Tree> {
        self.replaced.take()
    }
}

/// tree-sitter's position of a byte offset: rows end at `\n` only (a lone
/// `\r` is no row break for it, whatever the protocol's lines say), columns
/// count bytes.
fn point_at(text: &str, offset: usize) -> Point {
    advance(Point::new(0, 0), &text[..offset.min(text.len())])
}

/// The position after `text` when it starts at `from`.
fn advance(from: Point, text: &str) -> Point {
    let bytes = text.as_bytes();
    match memchr::memrchr(b'\n', bytes) {
        Some(last) => Point::new(
            from.row + memchr::memchr_iter(b'\n', bytes).count(),
            bytes.len() - last - 1,
        ),
        None => Point::new(from.row, from.column + bytes.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(text: &str) -> FileFacts {
        crate::extract(
            &SourceFile::new("app/db.py", text.to_owned()),
            FileKind::Python,
        )
    }

    /// Edits applied one after another to a kept tree give the facts a fresh
    /// parse of the final text gives.
    #[test]
    fn edits_through_a_kept_tree_read_as_a_fresh_parse() {
        let mut text = "from sqlalchemy import create_engine\r\n\
                        engine = create_engine('postgresql://db/app', pool_size=5)\r\
                        x = '😀'\n\
                        def f():\n    return create_engine('postgresql://db/b', pool_size=1)\n"
            .to_owned();
        let mut parse = IncrementalParse::default();
        let path = "app/db.py";
        parse.extract(&SourceFile::new(path, text.clone()));
        let edits: &[(&str, &str)] = &[
            ("pool_size=5", "pool_size=15"),
            ("'😀'", "'😀é'\nimport asyncpg\r"),
            ("pool_size=1)", "pool_size=2, max_overflow=3)"),
            ("def f():\n", "if True:\n  def f():\n  "),
            ("engine = ", ""),
            ("from sqlalchemy", "from sqlalchemy.ext.asyncio"),
        ];
        for (old, new) in edits {
            let at = text.find(old).expect("the edited text");
            parse.replace(&mut text, at..at + old.len(), new);
            let incremental = parse.extract(&SourceFile::new(path, text.clone()));
            assert_eq!(incremental, fresh(&text), "after {old:?} -> {new:?}");
        }
        parse.forget();
        text = "engine = create_engine('postgresql://db/app', pool_size=7)\n".to_owned();
        assert_eq!(
            parse.extract(&SourceFile::new(path, text.clone())),
            fresh(&text)
        );
    }

    /// A module with every kind of IR the builder makes: imports (one an
    /// alias of a callee), guarded settings, classes with methods, functions
    /// with nested calls, event listeners, import-time connections,
    /// split-settings includes and a syntax error.
    const MODULE: &str = "\
import os
from sqlalchemy import create_engine as make_engine, event
from split_settings.tools import include, optional
include('base.py', optional('local.py'))
POOL = int(os.environ.get('POOL', '5'))  # pool size
if os.environ.get('DEBUG'):
    DATABASES = {'default': {'CONN_MAX_AGE': 60, 'OPTIONS': {'pool': True}}}
elif POOL > 3:
    DATABASES = {'default': {'CONN_MAX_AGE': None}}
else:
    DATABASES = {}
try:
    from .local import *
except ImportError:
    pass
for alias in DATABASES:
    DATABASES[alias]['CONN_MAX_AGE'] = 0
class Settings(BaseSettings):
    url: str = 'postgresql://db/app'
    class Config:
        env_prefix = 'APP_'
    def engine(self):
        return make_engine(self.url, pool_size=POOL)
engine = make_engine('postgresql://db/app', pool_size=POOL, max_overflow=f'{POOL}0')
@event.listens_for(engine, 'connect')
def on_connect(dbapi_connection, record):
    dbapi_connection.cursor().execute('SET search_path TO app')
def post_fork(server, worker):
    engine.dispose()
    helper()
with engine.connect() as conn:
    conn.execute('select 1')
x = [i for i in range(3)] + (lambda: 1,)
DATABASES['default'].update({'HOST': 'db'}, PORT=5432)
y = (1 +
";

    /// Deterministic pseudo-random numbers (xorshift), so a failure replays.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n.max(1) as u64) as usize
        }
    }

    fn boundary_at_or_before(text: &str, mut at: usize) -> usize {
        at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    /// Random edits of every size (a character, a line, a block moved or
    /// deleted, text typed into the middle of a statement) through the kept
    /// tree and the kept statements give, after each edit, the facts of a
    /// fresh extraction of the same text: reusing a statement's IR never
    /// leaves a stale span, index or call behind.
    #[test]
    fn random_edits_read_as_a_fresh_extraction() {
        const SNIPPETS: &[&str] = &[
            "\n",
            "x",
            " ",
            "(",
            ")",
            "'",
            ":\n    ",
            "POOL = 7\n",
            "import asyncpg\n",
            "from sqlalchemy import create_engine as ce\n",
            "from sqlalchemy import create_engine\n",
            "e2 = ce('postgresql://db/b', pool_size=2)\n",
            "if True:\n    e3 = create_engine('postgresql://db/c')\n",
            "def f():\n    return create_engine('postgresql://db/d', pool_size=POOL)\n",
            "class C:\n    pool_size = 4\n",
            "# create_engine in a comment\n",
            "\u{1F600}é",
            "split_settings",
            "@event.listens_for(engine, 'checkout')\ndef g(*a):\n    pass\n",
        ];
        let path = "app/db.py";
        for seed in 1..=12u64 {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
            let mut text = MODULE.to_owned();
            let mut parse = IncrementalParse::default();
            parse.extract(&SourceFile::new(path, text.clone()));
            for step in 0..40 {
                let start = boundary_at_or_before(&text, rng.below(text.len() + 1));
                let (start, end, replacement): (usize, usize, String) = match rng.below(4) {
                    // Type or delete a little.
                    0 => {
                        let end = boundary_at_or_before(&text, start + rng.below(4));
                        let snippet = SNIPPETS[rng.below(SNIPPETS.len())];
                        (start, end, snippet.to_owned())
                    }
                    // Delete a span of up to a few lines.
                    1 => {
                        let end = boundary_at_or_before(&text, start + rng.below(120));
                        (start, end, String::new())
                    }
                    // Move a piece of the text elsewhere (here).
                    2 => {
                        let from = boundary_at_or_before(&text, rng.below(text.len() + 1));
                        let to = boundary_at_or_before(&text, from + rng.below(200));
                        (start, start, text[from..to].to_owned())
                    }
                    // Change a whole line.
                    _ => {
                        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
                        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
                        let snippet = SNIPPETS[rng.below(SNIPPETS.len())];
                        (line_start, line_end, snippet.trim_end().to_owned())
                    }
                };
                parse.replace(&mut text, start..end, &replacement);
                if rng.below(8) == 0 {
                    // A full-text change: the tree goes, the statements stay.
                    parse.forget();
                }
                let incremental = parse.extract(&SourceFile::new(path, text.clone()));
                assert_eq!(
                    incremental,
                    fresh(&text),
                    "seed {seed}, step {step}: {start}..{end} -> {replacement:?}, text:\n{text}"
                );
            }
        }
    }

    #[test]
    fn positions_count_rows_at_line_feeds_only() {
        assert_eq!(point_at("ab\ncd", 4), Point::new(1, 1));
        assert_eq!(point_at("a\rb", 3), Point::new(0, 3));
        assert_eq!(point_at("é\n", 2), Point::new(0, 2));
        assert_eq!(advance(Point::new(2, 4), "x\nyz"), Point::new(3, 2));
    }
}
