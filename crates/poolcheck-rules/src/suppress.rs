//! Suppression comments: `poolcheck: ignore[PC101, PC2] reason` on a line of a
//! finding's primary range or the line above it, and `poolcheck:
//! ignore-file[...]` anywhere in the file, behind the file kind's comment
//! character. An ignore that suppresses nothing is PC001.

use poolcheck_core::{
    Code, CodeError, Diagnostic, Edit, FileKind, Fix, Selector, SourceFile, Span,
};

use crate::registry::{self, selector_matches};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// 1-based line of the comment.
    pub line: u32,
    pub file_wide: bool,
    /// Codes or prefixes with their spans.
    pub codes: Vec<(String, Span)>,
    /// From the comment character to the end of the line.
    pub comment: Span,
    /// The bracketed list, brackets included.
    pub list: Span,
}

const MARKER: &str = "poolcheck:";

/// Finds every suppression comment in a file.
pub fn parse(file: &SourceFile, kind: FileKind) -> Vec<Suppression> {
    let text = file.text();
    if !text.contains(MARKER) {
        return Vec::new();
    }
    let prefixes = kind.comment_prefixes();
    let mut found = Vec::new();
    let mut line_start = 0;
    for (line_no, line) in text.split_inclusive('\n').enumerate() {
        if let Some(s) = parse_line(line, line_start, prefixes) {
            found.push(Suppression {
                line: line_no as u32 + 1,
                ..s
            });
        }
        line_start += line.len();
    }
    found
}

fn parse_line(line: &str, offset: usize, prefixes: &[&str]) -> Option<Suppression> {
    let marker = line.find(MARKER)?;
    // The marker must sit inside a comment: a comment character before it.
    let comment_start = prefixes
        .iter()
        .filter_map(|p| line[..marker].rfind(p))
        .min()?;
    let between = &line[comment_start..marker];
    if !between
        .chars()
        .all(|c| c.is_whitespace() || c == '#' || c == ';')
    {
        return None;
    }
    let rest = &line[marker + MARKER.len()..];
    let trimmed = rest.trim_start();
    let after_ws = marker + MARKER.len() + (rest.len() - trimmed.len());
    let (file_wide, keyword_len) = if trimmed.starts_with("ignore-file[") {
        (true, "ignore-file".len())
    } else if trimmed.starts_with("ignore[") {
        (false, "ignore".len())
    } else {
        return None;
    };
    let open = after_ws + keyword_len;
    let close = open + line[open..].find(']')?;
    let mut codes = Vec::new();
    let mut cursor = open + 1;
    for part in line[open + 1..close].split(',') {
        let lead = part.len() - part.trim_start().len();
        let code = part.trim();
        if !code.is_empty() {
            let start = offset + cursor + lead;
            codes.push((
                code.to_ascii_uppercase(),
                Span::new(start, start + code.len()),
            ));
        }
        cursor += part.len() + 1;
    }
    let line_end = line.trim_end_matches(['\n', '\r']).len();
    Some(Suppression {
        line: 0,
        file_wide,
        codes,
        comment: Span::new(offset + comment_start, offset + line_end),
        list: Span::new(offset + open, offset + close + 1),
    })
}

/// The suppressions of one file and which of their codes were used.
pub struct FileSuppressions<'a> {
    pub file: &'a SourceFile,
    pub entries: Vec<Suppression>,
    used: Vec<Vec<bool>>,
}

impl<'a> FileSuppressions<'a> {
    pub fn new(file: &'a SourceFile, entries: Vec<Suppression>) -> Self {
        let used = entries.iter().map(|s| vec![false; s.codes.len()]).collect();
        Self {
            file,
            entries,
            used,
        }
    }

    /// True (and marks the matching codes used) when `diagnostic` is suppressed.
    pub fn suppresses(&mut self, diagnostic: &Diagnostic) -> bool {
        let (start, end) = self.file.span_line_cols(diagnostic.primary.span);
        let mut hit = false;
        for (i, s) in self.entries.iter().enumerate() {
            let applies = s.file_wide
                || (start.line..=end.line).contains(&s.line)
                || s.line + 1 == start.line;
            if !applies {
                continue;
            }
            for (j, (code, _)) in s.codes.iter().enumerate() {
                if selector_matches(code, diagnostic.code) {
                    self.used[i][j] = true;
                    hit = true;
                }
            }
        }
        hit
    }

    /// PC001 findings for codes that suppressed nothing, and for codes that
    /// name no rule (said as such: "unknown rule code `PC999`", since such a
    /// code can never suppress anything). Known codes of rules that did not
    /// run (`is_enabled` false) are not reported: they may well match when
    /// those rules run.
    pub fn unused(&self, is_enabled: impl Fn(&str) -> bool) -> Vec<Diagnostic> {
        let rule = &crate::rules::ALL[0].meta;
        debug_assert_eq!(rule.code, Code::PC001);
        let mut out = Vec::new();
        for (s, used) in self.entries.iter().zip(&self.used) {
            let mut unknown: Vec<String> = Vec::new();
            let mut unused_known: Vec<String> = Vec::new();
            let mut bad: Vec<(&str, Span)> = Vec::new();
            for ((code, span), used) in s.codes.iter().zip(used) {
                match Selector::parse(code) {
                    Err(error) => unknown.push(describe_unknown(code, &error)),
                    Ok(_) if !*used && enabled_any(code, &is_enabled) => {
                        unused_known.push(format!("`{code}`"));
                    }
                    Ok(_) => continue,
                }
                bad.push((code.as_str(), *span));
            }
            if bad.is_empty() && !s.codes.is_empty() {
                continue;
            }
            let all_bad = bad.len() == s.codes.len();
            let names: Vec<String> = bad.iter().map(|(c, _)| format!("`{c}`")).collect();
            let (primary, message) = if s.codes.is_empty() {
                (s.comment, "suppression comment lists no codes".to_owned())
            } else {
                let mut parts = unknown;
                if !unused_known.is_empty() {
                    let what = if all_bad {
                        "unused suppression"
                    } else {
                        "unused suppression code"
                    };
                    parts.push(format!(
                        "{what}: {} suppressed nothing here",
                        unused_known.join(", ")
                    ));
                }
                let primary = if all_bad {
                    s.list
                } else {
                    bad[0].1.cover(bad[bad.len() - 1].1)
                };
                (primary, parts.join("; "))
            };
            let fix = if all_bad {
                Fix::safe(
                    "Remove the unused suppression comment",
                    vec![remove_comment(self.file, s)],
                )
            } else {
                let kept: Vec<&str> = s
                    .codes
                    .iter()
                    .filter(|(c, _)| !bad.iter().any(|(b, _)| b == c))
                    .map(|(c, _)| c.as_str())
                    .collect();
                Fix::safe(
                    format!("Remove {} from the suppression", names.join(", ")),
                    vec![Edit {
                        location: self.file.location(s.list),
                        new_text: format!("[{}]", kept.join(", ")),
                    }],
                )
            };
            out.push(
                Diagnostic::new(
                    rule.code,
                    rule.severity,
                    self.file.location(primary),
                    message,
                )
                .with_fix(fix),
            );
        }
        out
    }
}

/// What is wrong with a code in a suppression comment.
fn describe_unknown(code: &str, error: &CodeError) -> String {
    match error {
        CodeError::UnknownCode => format!("unknown rule code `{code}`"),
        CodeError::NoCodeStartsWith => format!("no rule code starts with `{code}`"),
        CodeError::NotACode { .. } => format!("`{code}` is not a rule code or prefix"),
    }
}

fn enabled_any(selector: &str, is_enabled: &impl Fn(&str) -> bool) -> bool {
    registry::all()
        .iter()
        .any(|r| selector_matches(selector, r.meta.code) && is_enabled(r.meta.code.as_str()))
}

/// An edit that deletes the comment, and the whole line when nothing else is on it.
fn remove_comment(file: &SourceFile, s: &Suppression) -> Edit {
    let text = file.text();
    let line_span = file.line_span(s.line).unwrap_or(s.comment);
    let before = &text[line_span.start as usize..s.comment.start as usize];
    let span = if before.trim().is_empty() {
        // The whole line, with its terminator.
        let end = text[line_span.end as usize..]
            .find('\n')
            .map_or(text.len(), |i| line_span.end as usize + i + 1);
        Span::new(line_span.start as usize, end)
    } else {
        let keep = before.trim_end().len();
        Span::new(line_span.start as usize + keep, s.comment.end as usize)
    };
    Edit {
        location: file.location(span),
        new_text: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_py(text: &str) -> Vec<Suppression> {
        parse(&SourceFile::new("x.py", text), FileKind::Python)
    }

    #[test]
    fn parses_codes_reason_and_spans() {
        let text = "pool_size = 50  # poolcheck: ignore[PC101, pc2] sized for one worker\n";
        let s = parse_py(text);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].line, 1);
        assert!(!s[0].file_wide);
        let codes: Vec<_> = s[0].codes.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(codes, ["PC101", "PC2"]);
        assert_eq!(&text[s[0].codes[1].1.range()], "pc2");
        assert_eq!(&text[s[0].list.range()], "[PC101, pc2]");
    }

    #[test]
    fn ini_accepts_semicolon_comments() {
        let file = SourceFile::new("p.ini", "; poolcheck: ignore-file[PC104]\n");
        let s = parse(&file, FileKind::Ini);
        assert_eq!(s.len(), 1);
        assert!(s[0].file_wide);
        assert!(
            parse(
                &SourceFile::new("x.py", "; poolcheck: ignore[PC1]\n"),
                FileKind::Python
            )
            .is_empty()
        );
    }

    #[test]
    fn text_outside_a_comment_is_not_a_suppression() {
        assert!(parse_py("msg = 'poolcheck: ignore[PC101]'\n").is_empty());
        assert!(parse_py("# poolcheck: please ignore[PC101]\n").is_empty());
    }

    #[test]
    fn applies_to_its_line_and_the_line_below() {
        let text = "# poolcheck: ignore[PC101]\nengine = 1\nother = 2\n";
        let file = SourceFile::new("x.py", text);
        let mut fs = FileSuppressions::new(&file, parse(&file, FileKind::Python));
        let at = |needle: &str| {
            let start = text.find(needle).unwrap();
            Diagnostic::new(
                Code::PC101,
                poolcheck_core::Severity::Error,
                file.location(Span::new(start, start + 1)),
                "m",
            )
        };
        assert!(fs.suppresses(&at("engine")));
        assert!(!fs.suppresses(&at("other")));
        assert!(fs.unused(|_| true).is_empty());
    }

    #[test]
    fn unused_codes_become_pc001_with_a_fix() {
        let text = "x = 1  # poolcheck: ignore[PC101, PC102]\n";
        let file = SourceFile::new("x.py", text);
        let mut fs = FileSuppressions::new(&file, parse(&file, FileKind::Python));
        let d = Diagnostic::new(
            Code::PC102,
            poolcheck_core::Severity::Warning,
            file.location(Span::new(0, 1)),
            "m",
        );
        assert!(fs.suppresses(&d));
        let unused = fs.unused(|_| true);
        assert_eq!(unused.len(), 1);
        assert_eq!(unused[0].code, "PC001");
        assert!(
            unused[0].message.contains("`PC101`"),
            "{}",
            unused[0].message
        );
        let edit = &unused[0].fix.as_ref().unwrap().edits[0];
        assert_eq!(edit.new_text, "[PC102]");

        // Nothing used at all: the whole comment goes.
        let mut fs = FileSuppressions::new(&file, parse(&file, FileKind::Python));
        let unused = fs.unused(|_| true);
        let edit = &unused[0].fix.as_ref().unwrap().edits[0];
        assert_eq!(
            &text[edit.location.span.range()],
            "  # poolcheck: ignore[PC101, PC102]"
        );
        assert!(!fs.suppresses(&Diagnostic::new(
            Code::PC201,
            poolcheck_core::Severity::Error,
            file.location(Span::new(0, 1)),
            "m"
        )));
    }

    #[test]
    fn codes_of_rules_that_did_not_run_are_not_reported() {
        let file = SourceFile::new("x.py", "x = 1  # poolcheck: ignore[PC101]\n");
        let fs = FileSuppressions::new(&file, parse(&file, FileKind::Python));
        assert!(fs.unused(|code| code != "PC101").is_empty());
    }

    #[test]
    fn unknown_codes_are_reported_as_unknown_not_as_unused() {
        let text = "x = 1  # poolcheck: ignore[PC999]
y = 2  # poolcheck: ignore[PC101, pc9, E501]
";
        let file = SourceFile::new("x.py", text);
        let mut fs = FileSuppressions::new(&file, parse(&file, FileKind::Python));
        let d = Diagnostic::new(
            Code::PC101,
            poolcheck_core::Severity::Error,
            file.location(Span::new(
                text.find("y =").unwrap(),
                text.find("y =").unwrap() + 1,
            )),
            "m",
        );
        assert!(fs.suppresses(&d));
        // Even when no rule that could match runs, an unknown code is said.
        let found = fs.unused(|_| false);
        let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "unknown rule code `PC999`",
                "no rule code starts with `PC9`; `E501` is not a rule code or prefix",
            ]
        );
        assert!(found.iter().all(|d| d.code == "PC001"));
        assert_eq!(found[1].fix.as_ref().unwrap().edits[0].new_text, "[PC101]");
        assert_eq!(&text[found[1].primary.span.range()], "pc9, E501");
    }
}
