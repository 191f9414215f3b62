//! `.env` files: `KEY=value`, `export KEY=value`, quoted values and comments,
//! as docker compose and python-dotenv read them. Values stay raw: compose
//! interpolation inside them is left to whoever layers the environment.

use poolcheck_core::facts::deploy::{DeployFacts, EnvEntry, EnvLayer};
use poolcheck_core::{FileFacts, SourceFile, Span};

pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let entries = parse(file);
    facts.deploy = Some(DeployFacts {
        env_layers: vec![EnvLayer {
            source: file.path().file_name(),
            entries,
        }],
        ..DeployFacts::default()
    });
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c == '.' || c.is_ascii_alphanumeric())
}

/// The entries of a dotenv file, in order.
pub fn parse(file: &SourceFile) -> Vec<EnvEntry> {
    let text = file.text();
    let bytes = text.as_bytes();
    let mut entries = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let line = &text[pos..line_end];
        let indent = line.len() - line.trim_start().len();
        let mut body_start = pos + indent;
        let body = &text[body_start..line_end];
        if body.is_empty() || body.starts_with('#') {
            pos = line_end + 1;
            continue;
        }
        if let Some(rest) = body.strip_prefix("export ") {
            body_start += body.len() - rest.len();
            body_start += rest.len() - rest.trim_start().len();
        }
        let body = &text[body_start..line_end];
        let Some(eq) = body.find('=') else {
            pos = line_end + 1;
            continue;
        };
        let name = body[..eq].trim_end();
        if !is_name(name) {
            pos = line_end + 1;
            continue;
        }
        let name_span = Span::new(body_start, body_start + name.len());
        let mut value_start = body_start + eq + 1;
        while matches!(bytes.get(value_start), Some(b' ' | b'\t')) {
            value_start += 1;
        }
        let (value, value_span, next) =
            if let Some(&quote @ (b'"' | b'\'')) = bytes.get(value_start) {
                quoted_value(text, value_start, quote)
            } else {
                let raw = &text[value_start..line_end];
                // ` #` starts a comment after an unquoted value.
                let cut = raw
                    .match_indices('#')
                    .find(|(i, _)| *i == 0 || raw[..*i].ends_with([' ', '\t']))
                    .map_or(raw.len(), |(i, _)| i);
                let value = raw[..cut].trim_end();
                (
                    value.trim_end_matches('\r').to_owned(),
                    Span::new(
                        value_start,
                        value_start + value.trim_end_matches('\r').len(),
                    ),
                    line_end + 1,
                )
            };
        entries.push(EnvEntry {
            name: name.to_owned(),
            value,
            name_location: file.location(name_span),
            value_location: file.location(value_span),
        });
        pos = next;
    }
    entries
}

/// A quoted value starting at `start` (the quote); double quotes may span
/// lines and know `\n`, `\"`, `\\`.
fn quoted_value(text: &str, start: usize, quote: u8) -> (String, Span, usize) {
    let inner_start = start + 1;
    let mut value = String::new();
    let mut chars = text[inner_start..].char_indices();
    let mut inner_end = text.len();
    while let Some((i, c)) = chars.next() {
        if c as u32 == u32::from(quote) {
            inner_end = inner_start + i;
            break;
        }
        if c == '\\' && quote == b'"' {
            match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, other)) => value.push(other),
                None => {}
            }
            continue;
        }
        value.push(c);
    }
    let line_end = text[inner_end.min(text.len())..]
        .find('\n')
        .map_or(text.len(), |i| inner_end + i);
    (value, Span::new(inner_start, inner_end), line_end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::FileKind;

    #[test]
    fn reads_the_dotenv_shapes() {
        let text = "# settings\nDB=postgres\nexport DB_CONN_MAX_AGE=0\nDB_HOST = db  # the compose service\nSECRET='a#b c'\nMULTI=\"line1\\nline2\"\nEMPTY=\nnot a line\nGUNICORN_WORKERS=2\r\n";
        let file = SourceFile::new(".env", text);
        let mut facts = FileFacts::new(file.path().clone(), FileKind::DotEnv);
        extract(&file, &mut facts);
        let layer = &facts.deploy.unwrap_or_default().env_layers[0];
        assert_eq!(layer.source, ".env");
        let pairs: Vec<(&str, &str)> = layer
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("DB", "postgres"),
                ("DB_CONN_MAX_AGE", "0"),
                ("DB_HOST", "db"),
                ("SECRET", "a#b c"),
                ("MULTI", "line1\nline2"),
                ("EMPTY", ""),
                ("GUNICORN_WORKERS", "2"),
            ]
        );
        let slices: Vec<&str> = layer
            .entries
            .iter()
            .map(|e| &text[e.value_location.span.range()])
            .collect();
        assert_eq!(slices[1], "0");
        assert_eq!(slices[2], "db");
        assert_eq!(slices[3], "a#b c");
        assert_eq!(slices[6], "2");
        assert_eq!(
            &text[layer.entries[1].name_location.span.range()],
            "DB_CONN_MAX_AGE"
        );
    }

    #[test]
    fn unterminated_quote_does_not_panic() {
        let file = SourceFile::new(".env", "A=\"open\nB=1");
        let entries = parse(&file);
        assert_eq!(entries.len(), 1);
    }
}
