//! The line grammar of `postgresql.conf` (PostgreSQL's guc-file.l): one
//! `name [=] value` per line, `#` comments, single-quoted values with `''`
//! and backslash escapes, and the `include` directives.

use poolcheck_core::Code;
use poolcheck_core::facts::postgres::{PgInclude, PgIncludeKind, PostgresConfFile};
use poolcheck_core::{ConfigEntry, Diagnostic, Severity, SourceFile, Span};

use super::units::{check_value, known_guc};

/// Parses one file; never fails. Lines PostgreSQL would reject become PC002
/// diagnostics and are otherwise skipped (or kept, when the value is usable).
pub fn parse(file: &SourceFile) -> (PostgresConfFile, Vec<Diagnostic>) {
    let mut conf = PostgresConfFile::default();
    let mut diagnostics = Vec::new();
    let text = file.text();
    let mut line_start = 0;
    while line_start < text.len() {
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i);
        match parse_line(text, line_start, line_end) {
            Line::Blank => {}
            Line::Error {
                span,
                message,
                help,
            } => {
                let mut diagnostic = Diagnostic::new(
                    Code::PC002,
                    Severity::Error,
                    file.location(span),
                    format!("syntax error in PostgreSQL config: {message}"),
                );
                if let Some(help) = help {
                    diagnostic = diagnostic.with_help(help);
                }
                diagnostics.push(diagnostic);
            }
            Line::Setting(setting) => {
                record(file, &setting, &mut conf, &mut diagnostics);
            }
        }
        line_start = line_end + 1;
    }
    (conf, diagnostics)
}

fn record(
    file: &SourceFile,
    setting: &ParsedSetting,
    conf: &mut PostgresConfFile,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let key = file.slice(setting.key).to_ascii_lowercase();
    let include_kind = match key.as_str() {
        "include" => Some(PgIncludeKind::Include),
        "include_if_exists" => Some(PgIncludeKind::IncludeIfExists),
        "include_dir" => Some(PgIncludeKind::IncludeDir),
        _ => None,
    };
    if let Some(kind) = include_kind {
        if setting.value.is_empty() {
            diagnostics.push(
                Diagnostic::new(
                    Code::PC002,
                    Severity::Error,
                    file.location(setting.value_span),
                    format!("empty file name in `{key}`"),
                )
                .with_help("PostgreSQL refuses to start with an empty include path"),
            );
            return;
        }
        conf.includes.push(PgInclude {
            kind,
            path: setting.value.clone(),
            location: file.location(setting.value_span),
            position: conf.entries.len(),
        });
        return;
    }

    let entry = ConfigEntry {
        key,
        value: setting.value.clone(),
        key_location: file.location(setting.key),
        value_location: file.location(setting.value_span),
    };
    if let Some(diagnostic) = check_entry(&entry) {
        diagnostics.push(diagnostic);
    } else if let Some(message) = &setting.unquoted_words {
        diagnostics.push(words_diagnostic(file, setting, message));
    }
    conf.entries.push(entry);
}

/// PC002 for a value of a parameter poolcheck knows that PostgreSQL would
/// reject, at the value. For any source of settings: a `postgresql.conf` line
/// or `postgres -c max_connections=100MB` in a command.
pub fn check_entry(entry: &ConfigEntry) -> Option<Diagnostic> {
    let key = entry.key.to_ascii_lowercase();
    let spec = known_guc(&key)?;
    let error = check_value(spec, &entry.value).err()?;
    let mut diagnostic = Diagnostic::new(
        Code::PC002,
        Severity::Error,
        entry.value_location.clone(),
        format!("invalid value for parameter `{key}`: `{}`", entry.value),
    )
    .with_label(error.to_string());
    if let Some(help) = error.help(&key) {
        diagnostic = diagnostic.with_help(help);
    }
    Some(diagnostic)
}

fn words_diagnostic(file: &SourceFile, setting: &ParsedSetting, message: &str) -> Diagnostic {
    let raw = file.slice(setting.value_span);
    Diagnostic::new(
        Code::PC002,
        Severity::Error,
        file.location(setting.value_span),
        message.to_owned(),
    )
    .with_help(format!(
        "PostgreSQL reads one word as the value; quote it: `'{}'`",
        raw.replace('\'', "''")
    ))
}

/// How one line reads, for content recognition: `Ok(None)` for a blank or
/// comment line, `Ok(Some(name))` for a well-formed setting, `Err(())` for a
/// line PostgreSQL would reject.
pub(super) fn classify_line(text: &str, start: usize, end: usize) -> Result<Option<Span>, ()> {
    match parse_line(text, start, end) {
        Line::Blank => Ok(None),
        Line::Setting(setting) if setting.unquoted_words.is_none() => Ok(Some(setting.key)),
        Line::Setting(_) | Line::Error { .. } => Err(()),
    }
}

#[derive(Debug)]
struct ParsedSetting {
    key: Span,
    /// The value without quotes, escapes resolved.
    value: String,
    /// The value as written, without its quotes.
    value_span: Span,
    /// Set when an unquoted value has several words, which PostgreSQL rejects.
    unquoted_words: Option<String>,
}

#[derive(Debug)]
enum Line {
    Blank,
    Setting(ParsedSetting),
    Error {
        span: Span,
        message: String,
        help: Option<String>,
    },
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c')
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_name_char(b: u8) -> bool {
    is_name_start(b) || b.is_ascii_digit()
}

fn skip_spaces(bytes: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && is_space(bytes[i]) {
        i += 1;
    }
    i
}

/// The byte after the last non-space byte of `bytes[start..end]`.
fn trim_end(bytes: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && is_space(bytes[end - 1]) {
        end -= 1;
    }
    end
}

fn parse_line(text: &str, start: usize, end: usize) -> Line {
    let bytes = text.as_bytes();
    let mut i = skip_spaces(bytes, start, end);
    if i == end || bytes[i] == b'#' {
        return Line::Blank;
    }

    let name_start = i;
    if !is_name_start(bytes[i]) {
        let token_end = token_end(bytes, i, end);
        return Line::Error {
            span: Span::new(i, token_end),
            message: format!("expected a parameter name, found `{}`", &text[i..token_end]),
            help: Some("each line is `name = value`; comments start with `#`".to_owned()),
        };
    }
    // Names are identifiers, optionally qualified with dots (`pg_stat_statements.max`).
    loop {
        while i < end && is_name_char(bytes[i]) {
            i += 1;
        }
        if i + 1 < end && bytes[i] == b'.' && is_name_start(bytes[i + 1]) {
            i += 1;
        } else {
            break;
        }
    }
    let key = Span::new(name_start, i);

    i = skip_spaces(bytes, i, end);
    if i < end && bytes[i] == b'=' {
        i = skip_spaces(bytes, i + 1, end);
    }
    if i == end || bytes[i] == b'#' {
        return Line::Error {
            span: key,
            message: format!("`{}` has no value", &text[key.range()]),
            help: Some(format!(
                "write `{} = <value>`; PostgreSQL refuses to start otherwise",
                &text[key.range()]
            )),
        };
    }

    if bytes[i] == b'\'' {
        let Some((value, close)) = quoted(text, i, end) else {
            return Line::Error {
                span: Span::new(i, trim_end(bytes, i, end)),
                message: "unterminated quoted string".to_owned(),
                help: Some("close the value with `'`; write `''` for a quote inside it".to_owned()),
            };
        };
        let after = skip_spaces(bytes, close + 1, end);
        if after < end && bytes[after] != b'#' {
            let extra_end = comment_start(bytes, after, end);
            return Line::Error {
                span: Span::new(after, trim_end(bytes, after, extra_end)),
                message: format!(
                    "unexpected `{}` after the value of `{}`",
                    &text[after..trim_end(bytes, after, extra_end)],
                    &text[key.range()]
                ),
                help: Some("PostgreSQL reads one value per line".to_owned()),
            };
        }
        return Line::Setting(ParsedSetting {
            key,
            value,
            value_span: Span::new(i + 1, close),
            unquoted_words: None,
        });
    }

    let value_end = trim_end(bytes, i, comment_start(bytes, i, end));
    let value_span = Span::new(i, value_end);
    let raw = &text[value_span.range()];
    let unquoted_words = raw.bytes().any(is_space).then(|| {
        format!(
            "syntax error in PostgreSQL config: the value of `{}` has several words: `{raw}`",
            &text[key.range()]
        )
    });
    Line::Setting(ParsedSetting {
        key,
        value: raw.to_owned(),
        value_span,
        unquoted_words,
    })
}

fn token_end(bytes: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && !is_space(bytes[i]) {
        i += 1;
    }
    i
}

/// Where a `#` comment starts in an unquoted stretch, or `end`.
fn comment_start(bytes: &[u8], start: usize, end: usize) -> usize {
    bytes[start..end]
        .iter()
        .position(|&b| b == b'#')
        .map_or(end, |p| start + p)
}

/// Reads a single-quoted string starting at `open`: returns its unescaped
/// value and the offset of the closing quote, or `None` when the line ends first.
fn quoted(text: &str, open: usize, end: usize) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let mut value = String::new();
    let mut i = open + 1;
    let mut run_start = i;
    while i < end {
        match bytes[i] {
            b'\'' if bytes.get(i + 1) == Some(&b'\'') && i + 1 < end => {
                value.push_str(&text[run_start..i]);
                value.push('\'');
                i += 2;
                run_start = i;
            }
            b'\'' => {
                value.push_str(&text[run_start..i]);
                return Some((value, i));
            }
            b'\\' if i + 1 < end => {
                value.push_str(&text[run_start..i]);
                let (unescaped, consumed) = backslash_escape(&text[i + 1..end]);
                value.push_str(&unescaped);
                i += 1 + consumed;
                run_start = i;
            }
            _ => i += 1,
        }
    }
    None
}

/// One escape after a backslash as `GUC_scanstr` reads it: `\n \t \r \b \f`,
/// up to three octal digits, or the next character itself.
fn backslash_escape(rest: &str) -> (String, usize) {
    let mut chars = rest.chars();
    let Some(first) = chars.next() else {
        return (String::new(), 0);
    };
    let simple = match first {
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        _ => None,
    };
    if let Some(c) = simple {
        return (c.to_string(), 1);
    }
    if ('0'..='7').contains(&first) {
        let digits: String = rest
            .chars()
            .take(3)
            .take_while(|c| ('0'..='7').contains(c))
            .collect();
        let code = u32::from_str_radix(&digits, 8).unwrap_or(0);
        let c = char::from_u32(code).unwrap_or('\u{fffd}');
        return (c.to_string(), digits.len());
    }
    (first.to_string(), first.len_utf8())
}
