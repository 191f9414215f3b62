//! The import statements of a Python module, found without parsing it.
//!
//! Most modules an admitted file imports (a vendored `django`, the
//! application's views) hold nothing poolcheck evaluates: they matter only
//! for which modules a service runs. Their imports are read here in one pass
//! over the bytes, at the cost of a text search rather than a tree-sitter
//! parse; the module itself is parsed only if evaluation asks for one of its
//! names.
//!
//! Strings, comments, bracketed continuations, backslash continuations and
//! `;`-separated statements are honoured, so an `import` inside a docstring
//! is not one. Every import statement counts wherever it stands (module
//! level, in a function, under `if TYPE_CHECKING:`): the caller uses them for
//! reachability, where an import in a function runs when it is called.

use poolcheck_core::Span;
use poolcheck_core::facts::python::{Import, ImportKind, ImportedName};

/// What a module's text says without parsing it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportScan {
    /// Imports that run when the module is imported: at module level, also
    /// under `if`/`try`/`with` there.
    pub module_level: Vec<Import>,
    /// Imports inside `def` and `class` bodies, which run when called.
    pub nested: Vec<Import>,
    /// A module-level statement may connect at import time (`.connect(`,
    /// `.execute(`, `create_all`) or names celery's task packages
    /// (`autodiscover_tasks`): such a module must be parsed to be judged.
    pub needs_parse: bool,
}

/// Words that make a module-level statement worth a parse: the calls the
/// parser records as import-time connection activity, and celery's
/// `autodiscover_tasks`, whose packages a worker runs.
const PARSE_WORDS: &[&str] = &[
    ".connect(",
    ".begin(",
    ".raw_connection(",
    ".execute(",
    "exec_driver_sql",
    "create_all",
    ".reflect(",
    "autodiscover_tasks",
    "ConnectionPool",
];

/// Every import statement of `text`, in source order, and whether the
/// module must be parsed anyway.
pub fn scan_imports(text: &str) -> ImportScan {
    let bytes = text.as_bytes();
    let mut scan = ImportScan::default();
    // The indentation of each open block header, and whether it is a `def`
    // or a `class` (whose body runs later, when called).
    let mut blocks: Vec<(usize, bool)> = Vec::new();
    let mut at = 0;
    // Set when the statement follows a `;` on the same line.
    let mut line_indent: Option<usize> = None;
    while at < bytes.len() {
        let (start, end, code_end) = next_statement(bytes, at);
        let statement = &bytes[start..code_end];
        let leading = statement
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\x0c'))
            .count();
        let body = &statement[leading..];
        let meaningful = !body.trim_ascii().is_empty();
        // A statement after `;` shares its line's indentation.
        let indent = line_indent.unwrap_or(leading);
        if meaningful {
            while blocks.last().is_some_and(|&(open, _)| open >= indent) {
                blocks.pop();
            }
            let in_def = blocks.iter().any(|&(_, is_def)| is_def);
            if let Some(keyword) = statement_keyword(body) {
                let cleaned = clean_statement(&text[start..code_end]);
                let list = if in_def {
                    &mut scan.nested
                } else {
                    &mut scan.module_level
                };
                parse_import(keyword, &cleaned, start, list);
            } else if !in_def && !scan.needs_parse {
                scan.needs_parse = PARSE_WORDS
                    .iter()
                    .any(|w| memchr::memmem::find(body, w.as_bytes()).is_some());
            }
            if opens_block(body) {
                blocks.push((indent, is_def_or_class(body)));
            }
        }
        line_indent = (bytes.get(end) == Some(&b';')).then_some(indent);
        at = end + 1;
    }
    scan
}

/// A compound statement's header (`if x:`, `def f():`), whose block follows
/// on the next lines.
fn opens_block(statement: &[u8]) -> bool {
    let trimmed = statement.trim_ascii_end();
    trimmed.ends_with(b":")
}

fn is_def_or_class(statement: &[u8]) -> bool {
    let starts_word = |word: &[u8]| {
        statement.starts_with(word)
            && statement
                .get(word.len())
                .is_some_and(|b| matches!(b, b' ' | b'\t'))
    };
    starts_word(b"def")
        || starts_word(b"class")
        || (starts_word(b"async") && {
            let rest = statement[5..].trim_ascii_start();
            rest.starts_with(b"def") && rest.get(3).is_some_and(|b| matches!(b, b' ' | b'\t'))
        })
}

#[derive(Clone, Copy)]
enum Keyword {
    Import,
    From,
}

/// The keyword a statement starts with, if it is an import.
fn statement_keyword(statement: &[u8]) -> Option<Keyword> {
    let first = statement
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\x0c'))?;
    let rest = &statement[first..];
    let word_end = |len: usize| rest.get(len).is_none_or(|b| !is_name_byte(*b));
    if rest.starts_with(b"import") && word_end(6) {
        Some(Keyword::Import)
    } else if rest.starts_with(b"from") && word_end(4) {
        Some(Keyword::From)
    } else {
        None
    }
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

/// The statement starting at `from`: where it ends (the newline or `;`
/// that ends it, or the end of the text) and where its code ends (before a
/// trailing comment). Strings and comments are skipped.
fn next_statement(bytes: &[u8], from: usize) -> (usize, usize, usize) {
    let mut depth: u32 = 0;
    let mut at = from;
    let mut code_end = None;
    while at < bytes.len() {
        match bytes[at] {
            b'\n' | b';' if depth == 0 => return (from, at, code_end.unwrap_or(at)),
            b'\\' => at += 1,
            b'#' => {
                if depth == 0 {
                    code_end = Some(at);
                }
                at = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |n| at + n);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            quote @ (b'"' | b'\'') => {
                at = skip_string(bytes, at, quote);
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    (from, bytes.len(), code_end.unwrap_or(bytes.len()))
}

/// The index just past the string literal opening at `at`.
fn skip_string(bytes: &[u8], at: usize, quote: u8) -> usize {
    let triple = bytes.get(at + 1) == Some(&quote) && bytes.get(at + 2) == Some(&quote);
    let mut i = if triple { at + 3 } else { at + 1 };
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'\\' {
            i += 2;
            continue;
        }
        if byte == quote {
            if !triple {
                return i + 1;
            }
            if bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote) {
                return i + 3;
            }
        } else if byte == b'\n' && !triple {
            // An unterminated one-line string ends at its line.
            return i;
        }
        i += 1;
    }
    bytes.len()
}

/// The statement's text with comments, line breaks, backslashes and
/// parentheses turned into spaces (an import statement holds no string).
fn clean_statement(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut in_comment = false;
    for c in statement.chars() {
        match c {
            '\n' => {
                in_comment = false;
                out.push(' ');
            }
            _ if in_comment => {}
            '#' => in_comment = true,
            '\\' | '(' | ')' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn is_dotted_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(is_name_byte))
}

/// Reads one cleaned import statement; a statement that is not one (a
/// variable named `from_x` never gets here, but `from` in a syntax error
/// may) is ignored.
fn parse_import(keyword: Keyword, statement: &str, start: usize, out: &mut Vec<Import>) {
    let span = Span::new(start, start + statement.len());
    let words = statement.trim_start();
    match keyword {
        Keyword::Import => {
            let rest = words["import".len()..].trim();
            for item in rest.split(',') {
                let mut parts = item.split_whitespace();
                let Some(module) = parts.next().filter(|m| is_dotted_name(m)) else {
                    continue;
                };
                let alias = match (parts.next(), parts.next()) {
                    (Some("as"), Some(alias)) => Some(alias.to_owned()),
                    _ => None,
                };
                out.push(Import {
                    module: module.to_owned(),
                    level: 0,
                    kind: ImportKind::Module { alias },
                });
            }
        }
        Keyword::From => {
            let rest = words["from".len()..].trim_start();
            let mut tokens = rest.split_whitespace();
            // `from . import x` and `from .mod import x`: the dots and the
            // module may be one word or two.
            let mut written = String::new();
            for token in tokens.by_ref() {
                if token == "import" {
                    break;
                }
                written.push_str(token);
            }
            let names = tokens.collect::<Vec<_>>().join(" ");
            let names = names.trim();
            let level = written.bytes().take_while(|b| *b == b'.').count();
            let module = &written[level..];
            if names.is_empty() || (level == 0 && module.is_empty()) {
                return;
            }
            if !(module.is_empty() || is_dotted_name(module)) {
                return;
            }
            let kind = if names == "*" {
                ImportKind::Star
            } else {
                let names = names
                    .split(',')
                    .filter_map(|item| {
                        let mut parts = item.split_whitespace();
                        let name = parts.next().filter(|n| is_dotted_name(n))?;
                        let alias = match (parts.next(), parts.next()) {
                            (Some("as"), Some(alias)) => Some(alias.to_owned()),
                            _ => None,
                        };
                        Some(ImportedName {
                            name: name.to_owned(),
                            alias,
                            span,
                        })
                    })
                    .collect();
                ImportKind::Names(names)
            };
            out.push(Import {
                module: module.to_owned(),
                level: u32::try_from(level).unwrap_or(u32::MAX),
                kind,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<Import> {
        let scan = scan_imports(text);
        scan.module_level.into_iter().chain(scan.nested).collect()
    }

    fn modules(text: &str) -> Vec<(String, u32)> {
        all(text).into_iter().map(|i| (i.module, i.level)).collect()
    }

    fn names(text: &str) -> Vec<String> {
        all(text)
            .into_iter()
            .flat_map(|i| match i.kind {
                ImportKind::Names(names) => names.into_iter().map(|n| n.name).collect(),
                ImportKind::Star => vec!["*".to_owned()],
                ImportKind::Module { .. } => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn reads_every_form_of_import() {
        let text = "import os\nimport a.b as c, d\nfrom x.y import z as w, v\nfrom . import sib\nfrom ..up import *\n";
        assert_eq!(
            modules(text),
            [
                ("os".into(), 0),
                ("a.b".into(), 0),
                ("d".into(), 0),
                ("x.y".into(), 0),
                (String::new(), 1),
                ("up".into(), 2)
            ]
        );
        assert_eq!(names(text), ["z", "v", "sib", "*"]);
    }

    #[test]
    fn follows_brackets_backslashes_and_semicolons() {
        let text = "from pkg.mod import (\n    one,  # the first\n    two as three,\n)\nimport a, \\\n    b; import c\n";
        assert_eq!(
            modules(text),
            [
                ("pkg.mod".into(), 0),
                ("a".into(), 0),
                ("b".into(), 0),
                ("c".into(), 0)
            ]
        );
        assert_eq!(names(text), ["one", "two"]);
    }

    #[test]
    fn strings_and_comments_hold_no_import() {
        let text = "\"\"\"Usage:\nimport fake\nfrom fake import x\n\"\"\"\n# import commented\nx = 'import y'\nprint(\"\"\"\nfrom z import q\"\"\")\nimport real\n";
        assert_eq!(modules(text), [("real".into(), 0)]);
    }

    #[test]
    fn imports_in_blocks_and_functions_count() {
        let text = "if TYPE_CHECKING:\n    from app.models import User\n\ndef handler():\n    import app.tasks\n    return 1\n";
        assert_eq!(
            modules(text),
            [("app.models".into(), 0), ("app.tasks".into(), 0)]
        );
        let scan = scan_imports(text);
        assert_eq!(scan.module_level.len(), 1, "{scan:?}");
        assert_eq!(scan.nested[0].module, "app.tasks");
    }

    #[test]
    fn a_block_ends_where_its_indentation_does() {
        let text = "class Config:  # settings\n    import inner\n\n    def f(self):\n        import deeper\nimport after_class\nif x: import same_line\ntry:\n    import guarded\nexcept ImportError:\n    pass\n";
        let scan = scan_imports(text);
        let names = |list: &[Import]| list.iter().map(|i| i.module.clone()).collect::<Vec<_>>();
        assert_eq!(names(&scan.nested), ["inner", "deeper"]);
        assert_eq!(names(&scan.module_level), ["after_class", "guarded"]);
    }

    #[test]
    fn import_time_activity_at_module_level_asks_for_a_parse() {
        assert!(scan_imports("from app.db import engine\nengine.connect()\n").needs_parse);
        assert!(scan_imports("if True:\n    metadata.create_all(engine)\n").needs_parse);
        assert!(scan_imports("app.autodiscover_tasks(['shop'])\n").needs_parse);
        assert!(!scan_imports("def f(engine):\n    engine.connect()\n").needs_parse);
        assert!(
            !scan_imports("class Repo:\n    def run(self):\n        self.db.execute('x')\n")
                .needs_parse
        );
    }

    #[test]
    fn names_that_start_with_a_keyword_are_not_imports() {
        let text = "from_db = 1\nimported = 2\nfromage()\n";
        assert!(modules(text).is_empty());
    }

    #[test]
    fn unterminated_strings_and_broken_text_do_not_stop_the_scan() {
        let text = "x = 'open\nimport after_broken_string\nfrom import\nimport\n(((\n";
        assert_eq!(modules(text), [("after_broken_string".into(), 0)]);
        assert!(all("\"\"\"never closed\nimport x").is_empty());
    }

    #[test]
    fn agrees_with_the_parser_on_module_level_imports() {
        let text = "import os, sys as system\nfrom .base import *\nfrom app.db import (engine,\n    session as s)\ntry:\n    import ujson as json\nexcept ImportError:\n    import json\n";
        let parsed: Vec<Import> = super::super::parse::parse_module(text)
            .body
            .into_iter()
            .filter_map(|s| match s.kind {
                poolcheck_core::facts::python::StmtKind::Import(i) => Some(i),
                _ => None,
            })
            .collect();
        let scanned = scan_imports(text).module_level;
        let key = |i: &Import| {
            let kind = match &i.kind {
                ImportKind::Module { alias } => format!("module {alias:?}"),
                ImportKind::Star => "star".to_owned(),
                ImportKind::Names(names) => names
                    .iter()
                    .map(|n| format!("{} {:?}", n.name, n.alias))
                    .collect::<Vec<_>>()
                    .join(","),
            };
            (i.module.clone(), i.level, kind)
        };
        assert_eq!(
            scanned.iter().map(key).collect::<Vec<_>>(),
            parsed.iter().map(key).collect::<Vec<_>>()
        );
    }
}
