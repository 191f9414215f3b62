//! The `key=value key='quoted value'` strings of `[databases]`, `[users]` and
//! `[peers]` entries, read the way PgBouncer's loader reads them, with spans.

use std::collections::BTreeMap;

use poolcheck_core::facts::pgbouncer::PoolDefinition;
use poolcheck_core::{ConfigEntry, Location, SourceFile, Span};

/// One `key=value` pair; spans are absolute byte offsets in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub key: String,
    pub key_span: Span,
    /// The value with quotes removed and `''` read as `'`.
    pub value: String,
    /// The value's text: inside the quotes when quoted.
    pub value_span: Span,
}

/// Why PgBouncer would refuse the connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxError {
    /// A word not followed by `=`.
    MissingEquals { word: String, span: Span },
    /// `key=` with nothing after it (PgBouncer disallows empty values).
    EmptyValue { key: String, span: Span },
    /// A `'` that is never closed.
    UnterminatedQuote { key: String, span: Span },
}

impl SyntaxError {
    pub fn span(&self) -> Span {
        match self {
            SyntaxError::MissingEquals { span, .. }
            | SyntaxError::EmptyValue { span, .. }
            | SyntaxError::UnterminatedQuote { span, .. } => *span,
        }
    }

    pub fn message(&self) -> String {
        match self {
            SyntaxError::MissingEquals { word, .. } => {
                format!("syntax error in connection string: expected `=` after `{word}`")
            }
            SyntaxError::EmptyValue { key, .. } => {
                format!("syntax error in connection string: `{key}=` has no value")
            }
            SyntaxError::UnterminatedQuote { key, .. } => {
                format!("unterminated quote in the value of `{key}`")
            }
        }
    }
}

/// The pairs of `text`, which starts at byte `base` of its file. PgBouncer
/// stops at the first syntax error; so does this, keeping the pairs before it.
pub fn parse(text: &str, base: usize) -> (Vec<Param>, Option<SyntaxError>) {
    let bytes = text.as_bytes();
    let at = |i: usize| Span::new(base + i, base + i);
    let is_space = |b: u8| b == b' ' || b == b'\t';
    let mut params = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        if i >= bytes.len() {
            return (params, None);
        }
        let key_start = i;
        while i < bytes.len() && bytes[i] != b'=' && !is_space(bytes[i]) {
            i += 1;
        }
        let key_end = i;
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' || key_end == key_start {
            let word_end = if key_end == key_start {
                // `=value` with no name: point at the `=` and what follows.
                text[i..].find(is_space_char).map_or(bytes.len(), |n| i + n)
            } else {
                key_end
            };
            let error = SyntaxError::MissingEquals {
                word: text[key_start..word_end].to_owned(),
                span: Span::new(base + key_start, base + word_end),
            };
            return (params, Some(error));
        }
        let key = &text[key_start..key_end];
        let key_span = Span::new(base + key_start, base + key_end);
        i += 1;
        let after_equals = i;
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        let next_word_end = text[i..].find(is_space_char).map_or(bytes.len(), |n| i + n);
        if i > after_equals && bytes.get(i) != Some(&b'\'') && text[i..next_word_end].contains('=')
        {
            // `min_pool_size= pool_size=5`: PgBouncer would take `pool_size=5`
            // as the value and lose the next parameter.
            let error = SyntaxError::EmptyValue {
                key: key.to_owned(),
                span: Span::new(base + key_start, base + after_equals),
            };
            return (params, Some(error));
        }
        if i < bytes.len() && bytes[i] == b'\'' {
            let open = i;
            i += 1;
            let value_start = i;
            let mut value = String::new();
            let mut closed = None;
            let mut chunk_start = i;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    value.push_str(&text[chunk_start..i]);
                    if bytes.get(i + 1) == Some(&b'\'') {
                        value.push('\'');
                        i += 2;
                        chunk_start = i;
                        continue;
                    }
                    closed = Some(i);
                    break;
                }
                i += 1;
            }
            let Some(close) = closed else {
                let error = SyntaxError::UnterminatedQuote {
                    key: key.to_owned(),
                    span: Span::new(base + open, base + bytes.len()),
                };
                return (params, Some(error));
            };
            if value.is_empty() {
                let error = SyntaxError::EmptyValue {
                    key: key.to_owned(),
                    span: Span::new(base + key_start, base + close + 1),
                };
                return (params, Some(error));
            }
            params.push(Param {
                key: key.to_owned(),
                key_span,
                value,
                value_span: Span::new(base + value_start, base + close),
            });
            i = close + 1;
        } else {
            let value_start = i;
            while i < bytes.len() && !is_space(bytes[i]) {
                i += 1;
            }
            if value_start == i {
                let error = SyntaxError::EmptyValue {
                    key: key.to_owned(),
                    span: key_span.cover(at(value_start)),
                };
                return (params, Some(error));
            }
            params.push(Param {
                key: key.to_owned(),
                key_span,
                value: text[value_start..i].to_owned(),
                value_span: Span::new(base + value_start, base + i),
            });
        }
    }
}

fn is_space_char(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The pool definition an entry of `[databases]` or `[users]` describes. The
/// entry's value must be the exact text at its `value_location`; syntax errors
/// are dropped here (extraction reports them).
pub fn pool_definition(file: &SourceFile, entry: &ConfigEntry) -> PoolDefinition {
    let (params, _) = parse(&entry.value, entry.value_location.span.start as usize);
    PoolDefinition {
        name: entry.key.clone(),
        name_location: entry.key_location.clone(),
        params: params_map(file, params),
    }
}

/// The same from a connection string that has no file (compose environment
/// variables): every parameter points at `location`.
pub fn pool_definition_at(name: &str, connstr: &str, location: &Location) -> PoolDefinition {
    let (params, _) = parse(connstr, 0);
    let params = params
        .into_iter()
        .map(|p| {
            let entry = ConfigEntry {
                key: p.key.clone(),
                value: p.value,
                key_location: location.clone(),
                value_location: location.clone(),
            };
            (p.key, entry)
        })
        .collect();
    PoolDefinition {
        name: name.to_owned(),
        name_location: location.clone(),
        params,
    }
}

pub(crate) fn params_map(file: &SourceFile, params: Vec<Param>) -> BTreeMap<String, ConfigEntry> {
    params
        .into_iter()
        .map(|p| {
            let entry = ConfigEntry {
                key: p.key.clone(),
                value: p.value,
                key_location: file.location(p.key_span),
                value_location: file.location(p.value_span),
            };
            (p.key, entry)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(text: &str, span: Span) -> &str {
        &text[span.range()]
    }

    #[test]
    fn plain_and_quoted_values_with_exact_spans() {
        let text = "host=db.internal port=5432  password='a b' dbname=app";
        let (params, error) = parse(text, 0);
        assert_eq!(error, None);
        let pairs: Vec<_> = params
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("host", "db.internal"),
                ("port", "5432"),
                ("password", "a b"),
                ("dbname", "app")
            ]
        );
        for p in &params {
            assert_eq!(slice(text, p.key_span), p.key);
            assert_eq!(slice(text, p.value_span), p.value);
        }
    }

    #[test]
    fn doubled_quotes_are_one_quote() {
        let (params, error) = parse("password='it''s'", 10);
        assert_eq!(error, None);
        assert_eq!(params[0].value, "it's");
        assert_eq!(params[0].value_span, Span::new(20, 25));
    }

    #[test]
    fn spaces_around_equals_are_allowed() {
        let (params, error) = parse("host = db pool_size =20", 0);
        assert_eq!(error, None);
        assert_eq!(params[1].key, "pool_size");
        assert_eq!(params[1].value, "20");
    }

    #[test]
    fn empty_value_is_an_error() {
        let text = "host=db min_pool_size= pool_size=5";
        let (params, error) = parse(text, 0);
        assert_eq!(params.len(), 1);
        let error = error.unwrap();
        assert_eq!(
            error.message(),
            "syntax error in connection string: `min_pool_size=` has no value"
        );
        assert_eq!(slice(text, error.span()), "min_pool_size=");
    }

    #[test]
    fn unterminated_quote_points_at_the_rest() {
        let text = "host=db password='a b";
        let error = parse(text, 0).1.unwrap();
        assert_eq!(
            error.message(),
            "unterminated quote in the value of `password`"
        );
        assert_eq!(slice(text, error.span()), "'a b");
    }

    #[test]
    fn word_without_equals() {
        let text = "host=db sslmode";
        let error = parse(text, 0).1.unwrap();
        assert_eq!(
            error.message(),
            "syntax error in connection string: expected `=` after `sslmode`"
        );
        assert_eq!(slice(text, error.span()), "sslmode");
    }
}
