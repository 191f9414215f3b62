//! Syntax-aware edits of Python source, shared by every rule that offers a fix.
//!
//! A fix names a node by the span the front-end recorded for it (a call's
//! argument list, a dict literal, a literal value). Each helper parses the
//! file again, checks that the span still is such a node and that it parses
//! cleanly, and builds the edit from the tree: where the last item ends,
//! whether a trailing comma or a comment follows it, and whether the items
//! sit on one line or one per line. Text surgery on the span alone cannot
//! tell a `#` that starts a comment from one inside a string, nor a comma
//! that ends an item from one inside it; the tree can.
//!
//! Every helper returns `None` rather than an edit it is not sure of.

use poolcheck_core::{Edit, SourceFile, Span};
use tree_sitter::{Node, Tree};

use super::parse::parse_tree;

/// Adds `keyword=value` as the last argument of the call whose argument list
/// `(...)` is at `arguments`, in the call's layout: `f(a, b, keyword=value)`
/// on one line, a line of its own with the other arguments' indentation when
/// they are one per line. A trailing comma and a trailing comment stay where
/// they are.
///
/// `None` when the span is not a clean argument list, when `keyword` is
/// already passed, or when a `**spread` may pass it (a duplicate keyword is a
/// `TypeError` at run time).
pub fn add_keyword_argument(
    file: &SourceFile,
    arguments: Span,
    keyword: &str,
    value: &str,
) -> Option<Edit> {
    let tree = parse_tree(file.text())?;
    let list = node_at(&tree, arguments, &["argument_list"])?;
    let src = file.text();
    for item in items(list) {
        match item.kind() {
            "dictionary_splat" => return None,
            "keyword_argument" => {
                let name = item.child_by_field_name("name")?;
                if text_of(src, name) == keyword {
                    return None;
                }
            }
            _ => {}
        }
    }
    append_items(file, list, &[format!("{keyword}={value}")])
}

/// Adds `key: value` (both Python source, e.g. `"CONN_HEALTH_CHECKS"` and
/// `True`) as the last entry of the dict literal at `dict`, with the layout
/// rules of [`add_keyword_argument`]. Placed last, it also wins over a
/// `**spread` before it. `None` when the span is not a clean dict literal or
/// the key is already written.
pub fn insert_dict_entry(file: &SourceFile, dict: Span, key: &str, value: &str) -> Option<Edit> {
    insert_dict_entries(file, dict, &[(key, value)])
}

/// [`insert_dict_entry`] for several entries in one edit (two insertions at
/// one place would have no order). `None` when any key is already written.
pub fn insert_dict_entries(
    file: &SourceFile,
    dict: Span,
    entries: &[(&str, &str)],
) -> Option<Edit> {
    let tree = parse_tree(file.text())?;
    let node = node_at(&tree, dict, &["dictionary"])?;
    let src = file.text();
    for item in items(node) {
        if item.kind() == "pair" {
            let written = text_of(src, item.child_by_field_name("key")?);
            let clash = entries.iter().any(|(key, _)| {
                written == *key
                    || string_value(key).is_some_and(|k| string_value(written) == Some(k))
            });
            if clash {
                return None;
            }
        }
    }
    let entries: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    append_items(file, node, &entries)
}

/// Replaces the literal written at `at` (a number, a string, `True`,
/// `False`, `None`, or a negated number) with `new_source`. `None` when
/// something else is written there: an expression's value is the user's
/// decision, not a fix's.
pub fn replace_literal(file: &SourceFile, at: Span, new_source: &str) -> Option<Edit> {
    let tree = parse_tree(file.text())?;
    let node = node_at(
        &tree,
        at,
        &[
            "integer",
            "float",
            "string",
            "true",
            "false",
            "none",
            "unary_operator",
        ],
    )?;
    if node.kind() == "unary_operator" {
        let operand = node.child_by_field_name("argument")?;
        if !matches!(operand.kind(), "integer" | "float") {
            return None;
        }
    }
    Some(replacement(file, span_of(node), new_source))
}

/// Replaces what the string literal at `at` holds with `content`, keeping
/// its prefix and quotes. `None` for anything but a plain string (an
/// f-string's value is not written in one place).
pub fn replace_string_content(file: &SourceFile, at: Span, content: &str) -> Option<Edit> {
    let tree = parse_tree(file.text())?;
    let node = node_at(&tree, at, &["string"])?;
    let mut cursor = node.walk();
    let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
    let (first, last) = (children.first()?, children.last()?);
    if first.kind() != "string_start"
        || last.kind() != "string_end"
        || children.iter().any(|c| c.kind() == "interpolation")
    {
        return None;
    }
    Some(replacement(
        file,
        Span::new(first.end_byte(), last.start_byte()),
        content,
    ))
}

fn replacement(file: &SourceFile, span: Span, new_text: &str) -> Edit {
    Edit {
        location: file.location(span),
        new_text: new_text.to_owned(),
    }
}

fn span_of(node: Node<'_>) -> Span {
    Span::new(node.start_byte(), node.end_byte())
}

fn text_of<'a>(src: &'a str, node: Node<'_>) -> &'a str {
    src.get(node.byte_range()).unwrap_or("")
}

/// The node of one of `kinds` that covers exactly `span`, when it parses
/// without error (an edit inside broken syntax could land anywhere).
fn node_at<'t>(tree: &'t Tree, span: Span, kinds: &[&str]) -> Option<Node<'t>> {
    let (start, end) = (span.start as usize, span.end as usize);
    let mut node = tree.root_node().descendant_for_byte_range(start, end)?;
    loop {
        if node.start_byte() == start && node.end_byte() == end && kinds.contains(&node.kind()) {
            return (!node.has_error()).then_some(node);
        }
        if node.start_byte() < start || node.end_byte() > end {
            return None;
        }
        node = node.parent()?;
    }
}

/// The items of a bracketed list: its named children that are not comments.
fn items(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|c| c.kind() != "comment")
        .collect()
}

/// What a Python string literal key holds, for comparing `"A"` with `'A'`.
fn string_value(source: &str) -> Option<&str> {
    let source = source.trim();
    ['"', '\'']
        .iter()
        .find_map(|q| source.strip_prefix(*q)?.strip_suffix(*q))
}

/// The edit that appends `new_items` to the bracketed list `node` (`(…)` or
/// `{…}`); see [`add_keyword_argument`] for the layout.
fn append_items(file: &SourceFile, node: Node<'_>, new_items: &[String]) -> Option<Edit> {
    let src = file.text();
    let newline = if src.contains("\r\n") { "\r\n" } else { "\n" };
    let mut cursor = node.walk();
    let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
    let open = *children.first()?;
    let close = *children.last()?;
    if !matches!(open.kind(), "(" | "{") || !matches!(close.kind(), ")" | "}") {
        return None;
    }
    let Some(last) = items(node).last().copied() else {
        // Nothing inside yet: right after the bracket, before any comment.
        return Some(replacement(
            file,
            Span::empty(open.end_byte()),
            &new_items.join(", "),
        ));
    };
    let trailing_comma = children
        .iter()
        .skip_while(|c| c.id() != last.id())
        .skip(1)
        .find(|c| c.kind() != "comment")
        .filter(|c| c.kind() == ",")
        .copied();

    if last.start_position().row == open.start_position().row {
        let item = new_items.join(", ");
        // One line (a comment or the closing bracket may follow on later lines).
        return Some(match trailing_comma {
            Some(comma) => replacement(file, Span::empty(comma.end_byte()), &format!(" {item},")),
            None => replacement(file, Span::empty(last.end_byte()), &format!(", {item}")),
        });
    }

    // One per line: a line of its own, indented like the last item.
    let indent = indentation_of(src, last.start_byte());
    let item = new_items.join(&format!(",{newline}{indent}"));
    let anchor_end = trailing_comma.map_or(last.end_byte(), |c| c.end_byte());
    let line_end = line_end(src, anchor_end);
    let rest = &src[anchor_end..line_end];
    let rest_is_comment = rest.trim().is_empty() || rest.trim_start().starts_with('#');
    Some(match (trailing_comma, rest_is_comment) {
        (Some(_), true) => replacement(
            file,
            Span::empty(line_end),
            &format!("{newline}{indent}{item},"),
        ),
        (None, true) => {
            // The comma goes right after the item, before its comment.
            replacement(
                file,
                Span::new(last.end_byte(), line_end),
                &format!(",{rest}{newline}{indent}{item}"),
            )
        }
        // The closing bracket (or more) follows on the item's line.
        (Some(comma), false) => replacement(
            file,
            Span::empty(comma.end_byte()),
            &format!("{newline}{indent}{item},"),
        ),
        (None, false) => replacement(
            file,
            Span::empty(last.end_byte()),
            &format!(",{newline}{indent}{item}"),
        ),
    })
}

/// The offset where the line holding `at` ends (before `\r\n`, `\n` or `\r`).
fn line_end(src: &str, at: usize) -> usize {
    src[at..].find(['\n', '\r']).map_or(src.len(), |i| at + i)
}

/// The whitespace an item starting at `at` is indented with: the text before
/// it on its line when that is blank (an aligned continuation line), else the
/// line's own indentation.
fn indentation_of(src: &str, at: usize) -> &str {
    let line_start = src[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let before = &src[line_start..at];
    if before.chars().all(|c| c == ' ' || c == '\t') {
        before
    } else {
        let width = before.len() - before.trim_start_matches([' ', '\t']).len();
        &before[..width]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile::new("app/db.py", text)
    }

    fn span_of_text(text: &str, needle: &str) -> Span {
        let start = text.find(needle).expect("needle in text");
        Span::new(start, start + needle.len())
    }

    /// The argument list of the first call of `callee` in `text`.
    fn arguments(text: &str, callee: &str) -> Span {
        let open = text.find(callee).expect("callee") + callee.len();
        let mut depth = 0;
        for (i, c) in text[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Span::new(open, open + i + 1);
                    }
                }
                _ => {}
            }
        }
        panic!("unbalanced call")
    }

    fn apply(text: &str, edit: &Edit) -> String {
        let mut out = text.to_owned();
        out.replace_range(edit.location.span.range(), &edit.new_text);
        out
    }

    fn with_keyword(text: &str) -> Option<String> {
        let f = file(text);
        let edit = add_keyword_argument(
            &f,
            arguments(text, "create_pool"),
            "statement_cache_size",
            "0",
        )?;
        Some(apply(text, &edit))
    }

    #[test]
    fn a_keyword_never_lands_inside_a_trailing_comment() {
        let text = "pool = create_pool(dsn, max_size=10  # sized for two workers\n)\n";
        assert_eq!(
            with_keyword(text).as_deref(),
            Some(
                "pool = create_pool(dsn, max_size=10, statement_cache_size=0  # sized for two workers\n)\n"
            )
        );
    }

    #[test]
    fn a_keyword_follows_the_one_line_layout() {
        assert_eq!(
            with_keyword("create_pool(dsn, max_size=10)").as_deref(),
            Some("create_pool(dsn, max_size=10, statement_cache_size=0)")
        );
        assert_eq!(
            with_keyword("create_pool(dsn,)").as_deref(),
            Some("create_pool(dsn, statement_cache_size=0,)")
        );
        assert_eq!(
            with_keyword("create_pool()").as_deref(),
            Some("create_pool(statement_cache_size=0)")
        );
        // A comma inside a string or a nested call is not the list's.
        assert_eq!(
            with_keyword("create_pool(f('a, b'), x=g(1, 2))").as_deref(),
            Some("create_pool(f('a, b'), x=g(1, 2), statement_cache_size=0)")
        );
    }

    #[test]
    fn a_keyword_follows_the_one_per_line_layout() {
        assert_eq!(
            with_keyword("create_pool(\n    dsn,\n    max_size=10,\n)\n").as_deref(),
            Some("create_pool(\n    dsn,\n    max_size=10,\n    statement_cache_size=0,\n)\n")
        );
        assert_eq!(
            with_keyword("create_pool(\n    dsn,\n    max_size=10  # two workers\n)\n").as_deref(),
            Some(
                "create_pool(\n    dsn,\n    max_size=10,  # two workers\n    statement_cache_size=0\n)\n"
            )
        );
        assert_eq!(
            with_keyword("create_pool(\n    dsn,\n    max_size=10,  # two workers\n)\n").as_deref(),
            Some(
                "create_pool(\n    dsn,\n    max_size=10,  # two workers\n    statement_cache_size=0,\n)\n"
            )
        );
        // Aligned continuation lines, the bracket hugging the last argument.
        assert_eq!(
            with_keyword("p = create_pool(dsn,\n                max_size=10)\n").as_deref(),
            Some(
                "p = create_pool(dsn,\n                max_size=10,\n                statement_cache_size=0)\n"
            )
        );
        assert_eq!(
            with_keyword("create_pool(\r\n    dsn,\r\n)\r\n").as_deref(),
            Some("create_pool(\r\n    dsn,\r\n    statement_cache_size=0,\r\n)\r\n")
        );
    }

    #[test]
    fn a_keyword_already_passed_or_possibly_spread_is_not_added() {
        assert_eq!(
            with_keyword("create_pool(dsn, statement_cache_size=100)"),
            None
        );
        assert_eq!(with_keyword("create_pool(dsn, **options)"), None);
        // A keyword of another name containing it is no duplicate.
        assert!(with_keyword("create_pool(dsn, my_statement_cache_size=1)").is_some());
    }

    #[test]
    fn nothing_is_edited_where_the_span_is_not_a_clean_argument_list() {
        let text = "create_pool(dsn, max_size=10)";
        let f = file(text);
        assert!(add_keyword_argument(&f, span_of_text(text, "dsn"), "a", "1").is_none());
        let broken = "create_pool(dsn, max_size=)";
        let f = file(broken);
        assert!(add_keyword_argument(&f, arguments(broken, "create_pool"), "a", "1").is_none());
    }

    fn with_entry(text: &str, dict: &str) -> Option<String> {
        let f = file(text);
        let edit = insert_dict_entry(
            &f,
            span_of_text(text, dict),
            "\"DISABLE_SERVER_SIDE_CURSORS\"",
            "True",
        )?;
        Some(apply(text, &edit))
    }

    #[test]
    fn a_dict_entry_goes_on_a_line_of_its_own_in_a_multi_line_dict() {
        let text = "DATABASES = {\n    \"default\": {\n        \"ENGINE\": \"x\",\n        \"PORT\": \"\",\n    }\n}\n";
        let dict = "{\n        \"ENGINE\": \"x\",\n        \"PORT\": \"\",\n    }";
        assert_eq!(
            with_entry(text, dict).as_deref(),
            Some(
                "DATABASES = {\n    \"default\": {\n        \"ENGINE\": \"x\",\n        \"PORT\": \"\",\n        \"DISABLE_SERVER_SIDE_CURSORS\": True,\n    }\n}\n"
            )
        );
    }

    #[test]
    fn a_dict_entry_follows_the_one_line_layout_and_skips_written_keys() {
        assert_eq!(
            with_entry("d = {\"ENGINE\": \"x\"}", "{\"ENGINE\": \"x\"}").as_deref(),
            Some("d = {\"ENGINE\": \"x\", \"DISABLE_SERVER_SIDE_CURSORS\": True}")
        );
        assert_eq!(
            with_entry("d = {}", "{}").as_deref(),
            Some("d = {\"DISABLE_SERVER_SIDE_CURSORS\": True}")
        );
        assert_eq!(
            with_entry(
                "d = {'DISABLE_SERVER_SIDE_CURSORS': False}",
                "{'DISABLE_SERVER_SIDE_CURSORS': False}"
            ),
            None
        );
        assert_eq!(with_entry("d = dict(a=1)", "dict(a=1)"), None);
    }

    #[test]
    fn literals_are_replaced_and_expressions_left_alone() {
        let text =
            "A = 600\nB = None\nC = -1\nD = env.int('X')\nE = 'uvicorn.workers.UvicornWorker'\n";
        let f = file(text);
        for literal in ["600", "None", "-1"] {
            let edit = replace_literal(&f, span_of_text(text, literal), "0").expect("a literal");
            assert_eq!(edit.location.span, span_of_text(text, literal));
        }
        assert!(replace_literal(&f, span_of_text(text, "env.int('X')"), "0").is_none());
        let edit = replace_string_content(
            &f,
            span_of_text(text, "'uvicorn.workers.UvicornWorker'"),
            "uvicorn_worker.UvicornWorker",
        )
        .expect("a string");
        assert!(apply(text, &edit).contains("E = 'uvicorn_worker.UvicornWorker'\n"));
        let fstring = "W = f'{x}.UvicornWorker'\n";
        let f = file(fstring);
        assert!(
            replace_string_content(&f, span_of_text(fstring, "f'{x}.UvicornWorker'"), "y")
                .is_none()
        );
    }
}
