//! Rendered text that remembers, range by range, where each piece came from:
//! the template's own text, a values file's scalar, or nothing poolcheck can
//! render (an unknown marker with its reason).

use std::ops::Range;

use poolcheck_core::Location;

/// What a range of rendered text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// Copied or derived from this place (a values file's scalar, or the
    /// template's literal text).
    Origin(Location),
    /// Output poolcheck cannot render; the reason says which construct.
    Unknown(String),
}

/// The placeholder written where a value cannot be rendered: a plain word,
/// so the document stays valid YAML and no reader takes it for a number.
pub const UNKNOWN_PLACEHOLDER: &str = "poolcheck-unrendered";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text {
    pub text: String,
    /// Marked ranges, in order of writing; they never overlap.
    pub marks: Vec<(Range<usize>, Mark)>,
}

impl Text {
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            marks: Vec::new(),
        }
    }

    pub fn marked(text: impl Into<String>, mark: Option<Mark>) -> Self {
        let text = text.into();
        let marks = match mark {
            Some(mark) if !text.is_empty() => vec![(0..text.len(), mark)],
            _ => Vec::new(),
        };
        Self { text, marks }
    }

    pub fn unknown(reason: impl Into<String>) -> Self {
        Self::marked(UNKNOWN_PLACEHOLDER, Some(Mark::Unknown(reason.into())))
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The first unknown reason inside, if any.
    pub fn unknown_reason(&self) -> Option<&str> {
        self.marks.iter().find_map(|(_, m)| match m {
            Mark::Unknown(reason) => Some(reason.as_str()),
            Mark::Origin(_) => None,
        })
    }

    pub fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
    }

    pub fn push_marked(&mut self, s: &str, mark: Mark) {
        let start = self.text.len();
        self.text.push_str(s);
        if !s.is_empty() {
            self.marks.push((start..self.text.len(), mark));
        }
    }

    pub fn append(&mut self, other: &Text) {
        let shift = self.text.len();
        self.text.push_str(&other.text);
        self.marks.extend(
            other
                .marks
                .iter()
                .map(|(r, m)| (r.start + shift..r.end + shift, m.clone())),
        );
    }

    /// Marks the whole text with `mark` where nothing inside is marked yet.
    pub fn mark_unmarked(&mut self, mark: &Mark) {
        if self.marks.is_empty() && !self.text.is_empty() {
            self.marks.push((0..self.text.len(), mark.clone()));
        }
    }

    /// The sub-range `range` of the text, with the marks that overlap it
    /// clipped to it.
    pub fn slice(&self, range: Range<usize>) -> Text {
        let Some(text) = self.text.get(range.clone()) else {
            return self.clone();
        };
        let marks = self
            .marks
            .iter()
            .filter_map(|(r, m)| {
                let start = r.start.max(range.start);
                let end = r.end.min(range.end);
                (start < end).then(|| (start - range.start..end - range.start, m.clone()))
            })
            .collect();
        Text {
            text: text.to_owned(),
            marks,
        }
    }

    /// sprig's `indent`: `pad` before every line (empty ones too).
    pub fn indent(&self, width: usize) -> Text {
        let pad = " ".repeat(width);
        let mut text = String::with_capacity(self.text.len() + width * 4);
        text.push_str(&pad);
        for c in self.text.chars() {
            text.push(c);
            if c == '\n' {
                text.push_str(&pad);
            }
        }
        let newlines: Vec<usize> = memchr::memchr_iter(b'\n', self.text.as_bytes()).collect();
        let shifted = |offset: usize| {
            let before = newlines.partition_point(|&n| n < offset);
            offset + width * (before + 1)
        };
        let marks = self
            .marks
            .iter()
            .map(|(r, m)| {
                let start = shifted(r.start);
                (start..shifted(r.end).max(start), m.clone())
            })
            .collect();
        Text { text, marks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::{FilePath, Span};

    fn at(n: usize) -> Mark {
        Mark::Origin(Location::new(FilePath::new("values.yaml"), Span::empty(n)))
    }

    #[test]
    fn indent_shifts_marks_with_their_lines() {
        let mut text = Text::default();
        text.push_str("a: ");
        text.push_marked("1", at(1));
        text.push_str("\nb: ");
        text.push_marked("2", at(2));
        let indented = text.indent(2);
        assert_eq!(indented.text, "  a: 1\n  b: 2");
        let pieces: Vec<_> = indented
            .marks
            .iter()
            .map(|(r, _)| &indented.text[r.clone()])
            .collect();
        assert_eq!(pieces, ["1", "2"]);
    }

    #[test]
    fn slices_clip_marks() {
        let mut text = Text::default();
        text.push_marked("abc", at(0));
        text.push_str("  ");
        let trimmed = text.slice(1..3);
        assert_eq!(trimmed.text, "bc");
        assert_eq!(trimmed.marks[0].0, 0..2);
    }
}
