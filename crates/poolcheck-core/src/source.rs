//! Source files, byte spans and the conversions between byte offsets, 1-based
//! line/column pairs (what users read) and LSP positions (what editors send).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A half-open byte range `[start, end)` into a [`SourceFile`]'s text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        debug_assert!(start <= end, "span start {start} after end {end}");
        Self {
            start: start as u32,
            end: end as u32,
        }
    }

    pub fn empty(at: usize) -> Self {
        Self::new(at, at)
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The smallest span that covers both.
    #[must_use]
    pub fn cover(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn contains(self, offset: usize) -> bool {
        (self.start as usize) <= offset && offset <= (self.end as usize)
    }
}

/// How an editor counts the characters of a line (LSP `positionEncoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PositionEncoding {
    Utf8,
    #[default]
    Utf16,
}

/// A 1-based line and a 1-based column counted in Unicode scalar values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
}

/// A 0-based LSP position; `character` counts code units of the negotiated encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LspPosition {
    pub line: u32,
    pub character: u32,
}

/// Offsets of line starts, built once per file so conversions are a binary search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    line_starts: Vec<u32>,
    /// True when every byte is ASCII: columns are then byte differences.
    ascii: bool,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = Vec::with_capacity(text.len() / 32 + 1);
        line_starts.push(0);
        // `\n`, `\r\n` and a lone `\r` end a line, as the LSP specification
        // and Python's universal newlines count them.
        let bytes = text.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                line_starts.push((i + 1) as u32);
            }
        }
        Self {
            line_starts,
            ascii: text.is_ascii(),
        }
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// 0-based line holding `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&(offset as u32)) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// Byte offset where 0-based `line` starts, or `None` past the end.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts.get(line).map(|&s| s as usize)
    }

    /// Byte range of 0-based `line` without its line terminator.
    pub fn line_range(&self, line: usize, text: &str) -> Option<std::ops::Range<usize>> {
        let start = self.line_start(line)?;
        let mut end = self.line_start(line + 1).unwrap_or(text.len());
        let bytes = text.as_bytes();
        if end > start && bytes.get(end - 1) == Some(&b'\n') {
            end -= 1;
        }
        if end > start && bytes.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        Some(start..end)
    }

    /// 1-based line and 1-based character column of `offset`.
    pub fn line_col(&self, offset: usize, text: &str) -> LineCol {
        let offset = clamp_to_char_boundary(text, offset);
        let line = self.line_of(offset);
        let start = self.line_starts[line] as usize;
        let column = if self.ascii {
            offset - start
        } else {
            text[start..offset].chars().count()
        };
        LineCol {
            line: line as u32 + 1,
            column: column as u32 + 1,
        }
    }

    /// LSP position of `offset` in the given encoding.
    pub fn lsp_position(
        &self,
        offset: usize,
        text: &str,
        encoding: PositionEncoding,
    ) -> LspPosition {
        let offset = clamp_to_char_boundary(text, offset);
        let line = self.line_of(offset);
        let start = self.line_starts[line] as usize;
        let character = match encoding {
            PositionEncoding::Utf8 => offset - start,
            PositionEncoding::Utf16 if self.ascii => offset - start,
            PositionEncoding::Utf16 => text[start..offset].chars().map(char::len_utf16).sum(),
        };
        LspPosition {
            line: line as u32,
            character: character as u32,
        }
    }

    /// Byte offset of an LSP position. Positions past the end of a line clamp to
    /// the line's end and lines past the end of the file clamp to the file's end,
    /// as the LSP specification asks.
    pub fn offset_of(
        &self,
        position: LspPosition,
        text: &str,
        encoding: PositionEncoding,
    ) -> usize {
        let Some(range) = self.line_range(position.line as usize, text) else {
            return text.len();
        };
        let wanted = position.character as usize;
        let line_text = &text[range.clone()];
        match encoding {
            PositionEncoding::Utf8 => {
                range.start + clamp_to_char_boundary(line_text, wanted.min(line_text.len()))
            }
            PositionEncoding::Utf16 => {
                let mut units = 0;
                for (i, c) in line_text.char_indices() {
                    if units >= wanted {
                        return range.start + i;
                    }
                    units += c.len_utf16();
                }
                range.end
            }
        }
    }
}

fn clamp_to_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Where output shows root-relative paths from: the project root as the
/// user sees it from where they run (`demo` when run from its parent
/// directory, the absolute root from elsewhere). Only the rendering of a
/// [`FilePath`] to text uses it; identity (comparison, hashing, `as_path`)
/// never does, and nothing sets it outside the command line's output.
static DISPLAY_BASE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Sets, once per process, the base [`FilePath::display_string`] shows
/// root-relative paths from (see `DISPLAY_BASE`); later calls change nothing.
pub fn show_paths_from(base: PathBuf) {
    let _ = DISPLAY_BASE.set(base);
}

/// A file's identity: its path relative to the project root (absolute only
/// for a file outside it), never dependent on the process's working
/// directory. Output may show it from where the user stands
/// ([`show_paths_from`]). Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FilePath(Arc<Path>);

impl FilePath {
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self(Arc::from(path.as_ref()))
    }

    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// The path with `/` separators, as JSON, SARIF and messages print it:
    /// a root-relative path is shown from [`show_paths_from`]'s base.
    pub fn display_string(&self) -> String {
        let shown: std::borrow::Cow<'_, Path> = match DISPLAY_BASE.get() {
            Some(base) if self.0.is_relative() => base.join(&self.0).into(),
            _ => (&*self.0).into(),
        };
        let s = shown.to_string_lossy();
        let s = s.strip_prefix("./").unwrap_or(&s);
        s.replace('\\', "/")
    }

    /// A Python test module (`tests/…`, `test_*.py`, `*_test.py`,
    /// `conftest.py`): code that runs under a test runner, never in a service.
    pub fn is_python_test(&self) -> bool {
        let name = self.file_name();
        name.starts_with("test_")
            || name.ends_with("_test.py")
            || name == "conftest.py"
            || self
                .0
                .components()
                .any(|part| matches!(part.as_os_str().to_str(), Some("tests" | "test")))
    }

    /// The file name, for messages that must stay short.
    pub fn file_name(&self) -> String {
        self.0.file_name().map_or_else(
            || self.display_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

impl fmt::Display for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_string())
    }
}

impl From<&Path> for FilePath {
    fn from(p: &Path) -> Self {
        Self::new(p)
    }
}

impl From<&str> for FilePath {
    fn from(p: &str) -> Self {
        Self::new(p)
    }
}

impl From<PathBuf> for FilePath {
    fn from(p: PathBuf) -> Self {
        Self(Arc::from(p.as_path()))
    }
}

/// `a/./b/../c` → `a/c` without touching the disk (symlinks are not
/// followed): how include paths and build contexts are compared.
pub fn normalize_lexically(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Whether `path` lies at or below `root`, both compared as written after
/// lexical normalisation (no disk, no working directory): a relative path
/// and an absolute one are never inside each other, and `..` that climbs
/// above `root` leaves it.
pub fn is_lexically_within(path: &Path, root: &Path) -> bool {
    use std::path::Component;
    let path = normalize_lexically(path);
    let root = normalize_lexically(root);
    let climbs = |p: &Path| {
        p.components()
            .take_while(|c| matches!(c, Component::ParentDir))
            .count()
    };
    path.is_absolute() == root.is_absolute()
        && path.starts_with(&root)
        && climbs(&path) == climbs(&root)
}

/// One file's text with its line index.
#[derive(Debug)]
pub struct SourceFile {
    path: FilePath,
    text: String,
    /// Built the first time a location is asked for: most modules read for
    /// their imports never print one.
    index: std::sync::OnceLock<LineIndex>,
}

impl PartialEq for SourceFile {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.text == other.text
    }
}

impl Eq for SourceFile {}

impl SourceFile {
    pub fn new(path: impl Into<FilePath>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
            index: std::sync::OnceLock::new(),
        }
    }

    pub fn path(&self) -> &FilePath {
        &self.path
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn index(&self) -> &LineIndex {
        self.index.get_or_init(|| LineIndex::new(&self.text))
    }

    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }

    pub fn line_col(&self, offset: usize) -> LineCol {
        self.index().line_col(offset, &self.text)
    }

    /// 1-based start and end of a span.
    pub fn span_line_cols(&self, span: Span) -> (LineCol, LineCol) {
        (
            self.line_col(span.start as usize),
            self.line_col(span.end as usize),
        )
    }

    /// A location in this file.
    pub fn location(&self, span: Span) -> Location {
        Location::new(self.path.clone(), span)
    }

    /// The span of the whole 1-based line `line` (without terminator).
    pub fn line_span(&self, line: u32) -> Option<Span> {
        let range = self
            .index()
            .line_range(line.checked_sub(1)? as usize, &self.text)?;
        Some(Span::new(range.start, range.end))
    }
}

/// A span in a named file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: FilePath,
    pub span: Span,
}

impl Location {
    pub fn new(file: FilePath, span: Span) -> Self {
        Self { file, span }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let text = "a = 1\nnamé = 'ü'\nz";
        let file = SourceFile::new("x.py", text);
        assert_eq!(file.line_col(0), LineCol { line: 1, column: 1 });
        let z = text.find('z').unwrap();
        assert_eq!(file.line_col(z), LineCol { line: 3, column: 1 });
        let quote = text.find("'ü").unwrap() + 1;
        // "namé = '" is 8 characters, so ü is the 9th.
        assert_eq!(file.line_col(quote), LineCol { line: 2, column: 9 });
    }

    #[test]
    fn lsp_positions_in_utf16_and_utf8() {
        let text = "x = \"😀\" # pool_size\n";
        let index = LineIndex::new(text);
        let p = text.find("pool_size").unwrap();
        let utf16 = index.lsp_position(p, text, PositionEncoding::Utf16);
        let utf8 = index.lsp_position(p, text, PositionEncoding::Utf8);
        // The emoji is 2 UTF-16 units and 4 UTF-8 bytes.
        assert_eq!(
            utf16,
            LspPosition {
                line: 0,
                character: 11
            }
        );
        assert_eq!(
            utf8,
            LspPosition {
                line: 0,
                character: 13
            }
        );
        assert_eq!(index.offset_of(utf16, text, PositionEncoding::Utf16), p);
        assert_eq!(index.offset_of(utf8, text, PositionEncoding::Utf8), p);
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let text = "ab\ncd";
        let index = LineIndex::new(text);
        let end_of_first = index.offset_of(
            LspPosition {
                line: 0,
                character: 99,
            },
            text,
            PositionEncoding::Utf16,
        );
        assert_eq!(end_of_first, 2);
        let past_end = index.offset_of(
            LspPosition {
                line: 9,
                character: 0,
            },
            text,
            PositionEncoding::Utf16,
        );
        assert_eq!(past_end, text.len());
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line() {
        let text = "a\rbc\r\nd\ne";
        let index = LineIndex::new(text);
        assert_eq!(index.line_count(), 4);
        assert_eq!(index.line_range(0, text), Some(0..1));
        assert_eq!(index.line_range(1, text), Some(2..4));
        assert_eq!(index.line_range(2, text), Some(6..7));
        let e = LspPosition {
            line: 1,
            character: 1,
        };
        assert_eq!(index.offset_of(e, text, PositionEncoding::Utf16), 3);
        assert_eq!(index.lsp_position(3, text, PositionEncoding::Utf16), e);
        // Past the end of the line: the line's end, before its terminator.
        let past = LspPosition {
            line: 0,
            character: 9,
        };
        assert_eq!(index.offset_of(past, text, PositionEncoding::Utf8), 1);
    }

    #[test]
    fn crlf_lines_exclude_the_carriage_return() {
        let text = "a\r\nbc\r\n";
        let file = SourceFile::new("x.conf", text);
        assert_eq!(file.line_span(1), Some(Span::new(0, 1)));
        assert_eq!(file.line_span(2), Some(Span::new(3, 5)));
    }

    #[test]
    fn python_test_modules_are_recognised_by_path() {
        for test in [
            "tests/test_db.py",
            "app/tests/factories.py",
            "conftest.py",
            "db_test.py",
        ] {
            assert!(FilePath::new(test).is_python_test(), "{test}");
        }
        for app in ["app/db.py", "contest.py", "latest/db.py", "testing.py"] {
            assert!(!FilePath::new(app).is_python_test(), "{app}");
        }
    }

    #[test]
    fn lexical_normalisation_keeps_leading_parent_dirs() {
        assert_eq!(
            normalize_lexically(Path::new("/repo/a/./b/../c.ini")),
            PathBuf::from("/repo/a/c.ini")
        );
        assert_eq!(normalize_lexically(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(
            normalize_lexically(Path::new("../x/./y")),
            PathBuf::from("../x/y")
        );
        assert_eq!(
            normalize_lexically(Path::new("a/../../b")),
            PathBuf::from("../b")
        );
    }

    #[test]
    fn offsets_inside_a_character_clamp_back() {
        let text = "é";
        let index = LineIndex::new(text);
        assert_eq!(index.line_col(1, text), LineCol { line: 1, column: 1 });
    }
}
