//! A linear scan, before tree-sitter sees a file, for nesting that Python
//! itself refuses or that the parser cannot survive.
//!
//! CPython's tokenizer stops at 200 nested brackets ("too many nested
//! parentheses") and 100 indentation levels ("too many levels of
//! indentation"): a file past either never runs, so not reading it loses
//! nothing. tree-sitter-python 0.25's scanner aborts the process when its
//! indentation stack no longer fits the state it serializes (about 380
//! levels with many open strings), whatever the brackets and strings around
//! them; the stack holds strictly increasing widths, so counting the
//! distinct indentation widths of all lines bounds it without having to agree
//! with the parser on which lines count.

use poolcheck_core::Span;

/// CPython's `MAXLEVEL` (Parser/tokenizer.h).
pub const MAX_BRACKET_DEPTH: usize = 200;
/// CPython's `MAXINDENT` (Parser/tokenizer.h).
pub const MAX_INDENT_LEVELS: usize = 100;
/// Well below the 383 levels at which tree-sitter-python's serialized state
/// (2 bytes per level after up to 257 bytes of string delimiters) passes
/// tree-sitter's 1024-byte buffer.
pub const MAX_INDENT_WIDTHS: usize = 300;

/// Why a file is not parsed, and the line where the limit was passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep {
    pub span: Span,
    pub message: String,
}

/// `None` when the file may be parsed.
pub fn check(text: &str) -> Option<TooDeep> {
    python_limits(text).or_else(|| distinct_widths(text))
}

/// The span of the line that holds byte `at`.
fn line_at(text: &str, at: usize) -> Span {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    Span::new(start, end)
}

/// Indentation widths as tree-sitter-python measures them (a tab is 8
/// columns, `\r` and form feed restart the count, 16-bit arithmetic), over
/// every line, strings and brackets included.
fn distinct_widths(text: &str) -> Option<TooDeep> {
    let mut seen = vec![0u64; (usize::from(u16::MAX) + 1) / 64];
    let mut distinct = 0usize;
    let mut line_start = 0usize;
    let bytes = text.as_bytes();
    while line_start < bytes.len() {
        let mut width = 0u16;
        let mut i = line_start;
        while let Some(&b) = bytes.get(i) {
            match b {
                b' ' => width = width.wrapping_add(1),
                b'\t' => width = width.wrapping_add(8),
                b'\r' | b'\x0c' => width = 0,
                _ => break,
            }
            i += 1;
        }
        let blank = matches!(bytes.get(i), None | Some(b'\n'));
        if width > 0 && !blank {
            let (word, bit) = (usize::from(width) / 64, usize::from(width) % 64);
            if seen[word] & (1 << bit) == 0 {
                seen[word] |= 1 << bit;
                distinct += 1;
                if distinct > MAX_INDENT_WIDTHS {
                    return Some(TooDeep {
                        span: line_at(text, i),
                        message: format!(
                            "lines are indented at more than {MAX_INDENT_WIDTHS} different widths; poolcheck does not read a file nested this deep"
                        ),
                    });
                }
            }
        }
        line_start = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n + 1);
    }
    None
}

/// Brackets and indentation levels as CPython's tokenizer counts them:
/// outside strings and comments, indentation only at the start of a
/// logical line.
fn python_limits(text: &str) -> Option<TooDeep> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut indents: Vec<usize> = vec![0];
    let mut i = 0usize;
    let mut line_start = true;
    let mut continued = false;
    while i < bytes.len() {
        if line_start {
            line_start = false;
            let mut width = 0usize;
            let mut j = i;
            while let Some(&b) = bytes.get(j) {
                match b {
                    b' ' => width += 1,
                    b'\t' => width = (width / 8 + 1) * 8,
                    b'\x0c' => width = 0,
                    _ => break,
                }
                j += 1;
            }
            let logical = depth == 0 && !continued;
            continued = false;
            if logical && !matches!(bytes.get(j), None | Some(b'\n' | b'\r' | b'#')) {
                let top = indents.last().copied().unwrap_or(0);
                if width > top {
                    indents.push(width);
                    if indents.len() - 1 > MAX_INDENT_LEVELS {
                        return Some(TooDeep {
                            span: line_at(text, j),
                            message: format!(
                                "more than {MAX_INDENT_LEVELS} levels of indentation: Python refuses this file (too many levels of indentation), and poolcheck does not read it"
                            ),
                        });
                    }
                } else {
                    while indents.last().is_some_and(|&w| w > width) {
                        indents.pop();
                    }
                }
            }
            i = j;
            continue;
        }
        match bytes[i] {
            b'\n' => {
                line_start = true;
                i += 1;
            }
            b'#' => {
                i = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n);
            }
            b'\\' => {
                continued = matches!(bytes.get(i + 1), Some(b'\n'))
                    || bytes.get(i + 1..i + 3) == Some(b"\r\n");
                i += 2;
            }
            quote @ (b'\'' | b'"') => i = skip_string(bytes, i, quote),
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_BRACKET_DEPTH {
                    return Some(TooDeep {
                        span: line_at(text, i),
                        message: format!(
                            "brackets nested more than {MAX_BRACKET_DEPTH} deep: Python refuses this file (too many nested parentheses), and poolcheck does not read it"
                        ),
                    });
                }
                i += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The offset after the string that starts with `quote` at `at` (or at the
/// end of its line when a one-line string is not closed).
fn skip_string(bytes: &[u8], at: usize, quote: u8) -> usize {
    let triple = bytes.get(at + 1) == Some(&quote) && bytes.get(at + 2) == Some(&quote);
    let mut i = at + if triple { 3 } else { 1 };
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'\n' if !triple => return i,
            b if b == quote => {
                if !triple {
                    return i + 1;
                }
                if bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote) {
                    return i + 3;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_blocks(depth: usize) -> String {
        let mut text = String::new();
        for level in 0..depth {
            text.push_str(&" ".repeat(level));
            text.push_str("if x:\n");
        }
        text.push_str(&" ".repeat(depth));
        text.push_str("pass\n");
        text
    }

    #[test]
    fn python_limits_are_cpythons() {
        assert_eq!(check(&nested_blocks(100)), None);
        let too_deep = check(&nested_blocks(101)).expect("101 levels are refused");
        assert!(
            too_deep
                .message
                .contains("more than 100 levels of indentation")
        );
        let parens = |n: usize| format!("x = {}1{}\n", "(".repeat(n), ")".repeat(n));
        assert_eq!(check(&parens(200)), None);
        assert!(
            check(&parens(201))
                .is_some_and(|t| t.message.contains("brackets nested more than 200 deep"))
        );
    }

    #[test]
    fn strings_comments_and_brackets_do_not_count() {
        let many = "(".repeat(500);
        let text = format!(
            "a = '{many}'\nb = \"\"\"\n{many}\n\"\"\"  # {many}\nc = [\n        1,\n  2]\nd = \"\\\"{many}\"\n"
        );
        assert_eq!(check(&text), None);
        // Indentation inside brackets is not a block.
        let mut list = String::from("x = [\n");
        for level in 0..150 {
            list.push_str(&" ".repeat(level + 1));
            list.push_str("1,\n");
        }
        list.push_str("]\n");
        assert_eq!(check(&list), None);
    }

    #[test]
    fn many_indentation_widths_are_refused_wherever_they_are() {
        let mut text = String::from("s = '''\n");
        for level in 1..=400 {
            text.push_str(&" ".repeat(level));
            text.push_str("x\n");
        }
        text.push_str("'''\n");
        assert!(check(&text).is_some_and(|t| t.message.contains("300 different widths")));
    }
}
