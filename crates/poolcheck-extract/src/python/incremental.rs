//! A Python document kept across edits (the language server's open files):
//! its last syntax tree is told about every edit, so that the next parse
//! re-reads only what the edits touched instead of the whole file.

use std::ops::Range;

use poolcheck_core::{FileFacts, FileKind, SourceFile};
use tree_sitter::{InputEdit, Point, Tree};

use super::parse;

/// The syntax tree of a document's text, kept in step with its edits.
/// Every change of the text must go through [`IncrementalParse::replace`]
/// (or be followed by [`IncrementalParse::forget`]): a tree that does not
/// describe the text it is reused for would be misread.
#[derive(Debug, Clone, Default)]
pub struct IncrementalParse {
    tree: Option<Tree>,
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

    /// Drops the tree: the text was replaced as a whole.
    pub fn forget(&mut self) {
        self.tree = None;
    }

    /// The facts of `file` as [`crate::extract`] finds them for a Python
    /// file, parsed from the kept tree when there is one; keeps the new tree.
    pub fn extract(&mut self, file: &SourceFile) -> FileFacts {
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Python);
        let (module, too_deep, tree) = parse::reparse_module(file.text(), self.tree.as_ref());
        self.tree = tree;
        super::extract_parsed(file, &mut facts, module, too_deep);
        facts
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

    #[test]
    fn positions_count_rows_at_line_feeds_only() {
        assert_eq!(point_at("ab\ncd", 4), Point::new(1, 1));
        assert_eq!(point_at("a\rb", 3), Point::new(0, 3));
        assert_eq!(point_at("é\n", 2), Point::new(0, 2));
        assert_eq!(advance(Point::new(2, 4), "x\nyz"), Point::new(3, 2));
    }
}
