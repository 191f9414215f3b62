//! Between poolcheck's byte spans and file paths and the protocol's positions
//! and URIs.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use poolcheck_core::{LineIndex, LspPosition, PositionEncoding, Severity, SourceFile, Span};
use tower_lsp_server::ls_types::{
    DiagnosticSeverity, Position, PositionEncodingKind, Range, TextDocumentContentChangeEvent, Uri,
};

/// The encoding to use: UTF-8 when the client offers it (no conversion at
/// all), else UTF-16, which every client must support.
pub fn negotiate_encoding(offered: Option<&[PositionEncodingKind]>) -> PositionEncoding {
    match offered {
        Some(kinds) if kinds.contains(&PositionEncodingKind::UTF8) => PositionEncoding::Utf8,
        _ => PositionEncoding::Utf16,
    }
}

pub fn encoding_kind(encoding: PositionEncoding) -> PositionEncodingKind {
    match encoding {
        PositionEncoding::Utf8 => PositionEncodingKind::UTF8,
        PositionEncoding::Utf16 => PositionEncodingKind::UTF16,
    }
}

pub fn position(file: &SourceFile, offset: usize, encoding: PositionEncoding) -> Position {
    let p = file.index().lsp_position(offset, file.text(), encoding);
    Position::new(p.line, p.character)
}

pub fn range(file: &SourceFile, span: Span, encoding: PositionEncoding) -> Range {
    Range::new(
        position(file, span.start as usize, encoding),
        position(file, span.end as usize, encoding),
    )
}

/// Byte offset of a client position; out-of-range positions clamp.
pub fn offset(
    index: &LineIndex,
    text: &str,
    position: Position,
    encoding: PositionEncoding,
) -> usize {
    index.offset_of(
        LspPosition {
            line: position.line,
            character: position.character,
        },
        text,
        encoding,
    )
}

pub fn span_of(file: &SourceFile, range: Range, encoding: PositionEncoding) -> Span {
    let start = offset(file.index(), file.text(), range.start, encoding);
    let end = offset(file.index(), file.text(), range.end, encoding);
    Span::new(start.min(end), end.max(start))
}

/// Applies one `didChange` content change: a range replacement, or the whole
/// text when the change has no range.
pub fn apply_change(
    text: &mut String,
    change: TextDocumentContentChangeEvent,
    encoding: PositionEncoding,
) {
    match change_range(text, &change, encoding) {
        Some(range) => text.replace_range(range, &change.text),
        None => *text = change.text,
    }
}

/// The bytes of `text` a `didChange` content change replaces, on character
/// boundaries; `None` when it replaces the whole text.
pub fn change_range(
    text: &str,
    change: &TextDocumentContentChangeEvent,
    encoding: PositionEncoding,
) -> Option<std::ops::Range<usize>> {
    let range = change.range?;
    let index = LineIndex::new(text);
    let start = offset(&index, text, range.start, encoding);
    let end = offset(&index, text, range.end, encoding);
    Some(start.min(end)..end.max(start))
}

pub fn severity(severity: Severity) -> DiagnosticSeverity {
    match severity {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Info => DiagnosticSeverity::INFORMATION,
    }
}

/// The absolute path of a `file:` URI; `None` for other schemes.
pub fn uri_to_path(uri: &Uri) -> Option<PathBuf> {
    if uri.scheme().as_str() != "file" {
        return None;
    }
    let path = uri.to_file_path()?.into_owned();
    path.is_absolute().then_some(path)
}

pub fn path_to_uri(path: &Path) -> Option<Uri> {
    Uri::from_file_path(path)
}

/// A URI for a web address (rule documentation).
pub fn web_uri(url: &str) -> Option<Uri> {
    Uri::from_str(url).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_changes_count_utf16_units() {
        // "é" is one UTF-16 unit and two bytes; "😀" two units and four bytes.
        let mut text = "a = 'é😀'\npool_size = 5\n".to_owned();
        let change = TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(0, 8), Position::new(0, 8))),
            range_length: None,
            text: "!".to_owned(),
        };
        apply_change(&mut text, change, PositionEncoding::Utf16);
        assert_eq!(text, "a = 'é😀!'\npool_size = 5\n");
        let change = TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(1, 12), Position::new(1, 13))),
            range_length: None,
            text: "15".to_owned(),
        };
        apply_change(&mut text, change, PositionEncoding::Utf16);
        assert_eq!(text, "a = 'é😀!'\npool_size = 15\n");
    }

    #[test]
    fn utf8_positions_count_bytes() {
        let mut text = "é = 1\n".to_owned();
        let change = TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(0, 5), Position::new(0, 6))),
            range_length: None,
            text: "2".to_owned(),
        };
        apply_change(&mut text, change, PositionEncoding::Utf8);
        assert_eq!(text, "é = 2\n");
    }

    #[test]
    fn out_of_range_changes_clamp_instead_of_panicking() {
        let mut text = "ab\n".to_owned();
        let change = TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(7, 3), Position::new(1, 0))),
            range_length: None,
            text: "x".to_owned(),
        };
        apply_change(&mut text, change, PositionEncoding::Utf16);
        assert_eq!(text, "ab\nx");
    }

    #[test]
    fn only_utf8_offers_switch_the_encoding() {
        assert_eq!(negotiate_encoding(None), PositionEncoding::Utf16);
        assert_eq!(
            negotiate_encoding(Some(&[
                PositionEncodingKind::UTF16,
                PositionEncodingKind::UTF8
            ])),
            PositionEncoding::Utf8
        );
        assert_eq!(
            negotiate_encoding(Some(&[PositionEncodingKind::UTF32])),
            PositionEncoding::Utf16
        );
    }
}
