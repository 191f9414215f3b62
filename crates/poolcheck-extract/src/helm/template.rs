//! Go `text/template` syntax: text and `{{ … }}` actions (with `{{-`/`-}}`
//! trimming and comments), pipelines, variables, and the control structures
//! `if`/`else if`/`with`/`range`/`define`/`block`/`template`.
//!
//! Parsing never fails as a whole: a malformed action becomes an
//! [`Node::Broken`] that renders as unknown, and the rest of the file still
//! renders.

use std::ops::Range;

/// One element of a parsed template. Ranges are byte ranges of the
/// template's text.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(Range<usize>),
    /// `{{ pipeline }}`: prints the value unless the pipeline declares a variable.
    Action {
        pipe: Pipe,
        span: Range<usize>,
    },
    If {
        cond: Pipe,
        then: Vec<Node>,
        otherwise: Vec<Node>,
        span: Range<usize>,
    },
    With {
        pipe: Pipe,
        then: Vec<Node>,
        otherwise: Vec<Node>,
        span: Range<usize>,
    },
    Range {
        pipe: Pipe,
        body: Vec<Node>,
        otherwise: Vec<Node>,
        span: Range<usize>,
    },
    Template {
        name: String,
        arg: Option<Pipe>,
        span: Range<usize>,
    },
    Break,
    Continue,
    /// An action poolcheck could not parse, with the reason.
    Broken {
        reason: String,
        span: Range<usize>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipe {
    /// `$x :=` / `$k, $v :=` / `$x =`.
    pub decl: Vec<String>,
    pub assign: bool,
    pub commands: Vec<Command>,
}

/// One stage of a pipeline: operands, the first of which may be a function.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub args: Vec<Operand>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `.` followed by fields: `.Values.a.b`; empty for `.` itself.
    Dot(Vec<String>),
    /// `$x.a.b`; `$` is the variable named `$`.
    Var(String, Vec<String>),
    /// A function name.
    Ident(String),
    /// `(pipeline).field`.
    Sub(Box<Pipe>, Vec<String>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
}

/// A parsed file: its top-level nodes and the templates it defines.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub nodes: Vec<Node>,
    pub defines: Vec<(String, Vec<Node>)>,
}

/// Deeper nesting than this (parentheses, control structures) is refused,
/// so that a hostile template cannot overflow the stack.
const MAX_NESTING: usize = 100;

enum Piece {
    Text(Range<usize>),
    Action {
        inner: Range<usize>,
        span: Range<usize>,
    },
    Comment,
    Unclosed(Range<usize>),
}

/// Splits the template into text and actions, applying trim markers.
fn split(src: &str) -> Vec<Piece> {
    let bytes = src.as_bytes();
    let mut pieces = Vec::new();
    let mut pos = 0;
    let mut trim_next = false;
    while pos < src.len() {
        let Some(open) = memchr::memmem::find(&bytes[pos..], b"{{").map(|i| pos + i) else {
            let start = if trim_next { skip_space(src, pos) } else { pos };
            pieces.push(Piece::Text(start..src.len()));
            break;
        };
        let mut inner_start = open + 2;
        let trim_before = bytes.get(open + 2) == Some(&b'-')
            && bytes.get(open + 3).is_some_and(u8::is_ascii_whitespace);
        if trim_before {
            inner_start += 2;
        }
        let text_start = if trim_next { skip_space(src, pos) } else { pos };
        let text_end = if trim_before {
            src[..open]
                .trim_end_matches(|c: char| c.is_ascii_whitespace())
                .len()
        } else {
            open
        };
        if text_start < text_end {
            pieces.push(Piece::Text(text_start..text_end));
        }
        let Some((close, trim_after)) = find_close(src, inner_start) else {
            pieces.push(Piece::Unclosed(open..src.len()));
            return pieces;
        };
        let inner_end = if trim_after { close - 2 } else { close };
        let after = close + 2;
        let inner = inner_start..inner_end.max(inner_start);
        let body = src[inner.clone()].trim();
        if body.starts_with("/*") {
            pieces.push(Piece::Comment);
        } else {
            pieces.push(Piece::Action {
                inner,
                span: open..after,
            });
        }
        trim_next = trim_after;
        pos = after;
    }
    pieces
}

fn skip_space(src: &str, pos: usize) -> usize {
    pos + src[pos..].len()
        - src[pos..]
            .trim_start_matches(|c: char| c.is_ascii_whitespace())
            .len()
}

/// The offset of the `}}` closing an action whose body starts at `from`
/// (skipping quoted strings and comments), and whether a ` -` precedes it.
fn find_close(src: &str, from: usize) -> Option<(usize, bool)> {
    let bytes = src.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = memchr::memmem::find(&bytes[i + 2..], b"*/")?;
                i += 2 + end + 1;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => {
                let trim = i >= 2
                    && bytes[i - 1] == b'-'
                    && bytes[i - 2].is_ascii_whitespace()
                    && i - 2 >= from;
                return Some((i, trim));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Open,
    /// `)` with the fields that follow it.
    Close(Vec<String>),
    Pipe,
    Comma,
    Declare,
    Assign,
}

fn fields(s: &str, i: &mut usize) -> Vec<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    while *i < bytes.len() && bytes[*i] == b'.' {
        let start = *i + 1;
        let mut j = start;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        if j == start {
            break;
        }
        out.push(s[start..j].to_owned());
        *i = j;
    }
    out
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let bytes = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            c if c.is_ascii_whitespace() => i += 1,
            b'|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            b',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            b'(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            b')' => {
                i += 1;
                toks.push(Tok::Close(fields(s, &mut i)));
            }
            b':' if bytes.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            b'=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            b'.' if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let fs = fields(s, &mut i);
                if fs.is_empty() {
                    i += 1;
                }
                toks.push(Tok::Dot(fs));
            }
            b'$' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                let name = format!("${}", &s[start..j]);
                i = j;
                toks.push(Tok::Var(name, fields(s, &mut i)));
            }
            b'"' => {
                let (value, end) = quoted(s, i)?;
                toks.push(Tok::Str(value));
                i = end;
            }
            b'`' => {
                let end = s[i + 1..].find('`').ok_or("an unterminated raw string")?;
                toks.push(Tok::Str(s[i + 1..i + 1 + end].to_owned()));
                i += end + 2;
            }
            b'\'' => {
                let rest = &s[i + 1..];
                let mut chars = rest.chars();
                let ch = chars.next().ok_or("an unterminated character")?;
                if chars.next() != Some('\'') {
                    return Err("a character constant poolcheck does not read".to_owned());
                }
                toks.push(Tok::Int(i64::from(u32::from(ch))));
                i += 2 + ch.len_utf8();
            }
            c if c.is_ascii_digit() || c == b'-' || c == b'+' || c == b'.' => {
                let start = i;
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.' || bytes[i] == b'_')
                {
                    i += 1;
                }
                let lit = s[start..i].replace('_', "");
                if let Ok(n) = lit.parse::<i64>() {
                    toks.push(Tok::Int(n));
                } else if let Some(hex) = lit.strip_prefix("0x")
                    && let Ok(n) = i64::from_str_radix(hex, 16)
                {
                    toks.push(Tok::Int(n));
                } else if let Ok(f) = lit.parse::<f64>() {
                    toks.push(Tok::Float(f));
                } else {
                    return Err(format!("a number poolcheck does not read: `{lit}`"));
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                toks.push(Tok::Ident(s[start..i].to_owned()));
                // A method-like field after an identifier is not Go syntax.
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(format!("an unexpected `{ch}`"));
            }
        }
    }
    Ok(toks)
}

fn quoted(s: &str, start: usize) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = s[start + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + k + 1)),
            '\\' => match chars.next().map(|(_, e)| e) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('\'') => out.push('\''),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("an unterminated string".to_owned())
}

struct PipeParser {
    toks: Vec<Tok>,
    pos: usize,
}

impl PipeParser {
    fn pipe(&mut self, depth: usize) -> Result<Pipe, String> {
        if depth > MAX_NESTING {
            return Err("parentheses nested too deep".to_owned());
        }
        let mut decl = Vec::new();
        let mut assign = false;
        // `$x :=`, `$k, $v :=`, `$x =`
        let save = self.pos;
        while let Some(Tok::Var(name, f)) = self.toks.get(self.pos) {
            if !f.is_empty() {
                break;
            }
            let name = name.clone();
            match self.toks.get(self.pos + 1) {
                Some(Tok::Comma) => {
                    decl.push(name);
                    self.pos += 2;
                }
                Some(Tok::Declare) => {
                    decl.push(name);
                    self.pos += 2;
                    break;
                }
                Some(Tok::Assign) => {
                    decl.push(name);
                    assign = true;
                    self.pos += 2;
                    break;
                }
                _ => break,
            }
        }
        if !decl.is_empty()
            && !matches!(
                self.toks.get(self.pos.wrapping_sub(1)),
                Some(Tok::Declare | Tok::Assign)
            )
        {
            decl.clear();
            self.pos = save;
        }
        let mut commands = Vec::new();
        loop {
            let mut args = Vec::new();
            while let Some(tok) = self.toks.get(self.pos).cloned() {
                let operand = match tok {
                    Tok::Pipe | Tok::Close(_) => break,
                    Tok::Dot(f) => Operand::Dot(f),
                    Tok::Var(n, f) => Operand::Var(n, f),
                    Tok::Ident(name) => match name.as_str() {
                        "true" => Operand::Bool(true),
                        "false" => Operand::Bool(false),
                        "nil" => Operand::Nil,
                        _ => Operand::Ident(name),
                    },
                    Tok::Str(s) => Operand::Str(s),
                    Tok::Int(n) => Operand::Int(n),
                    Tok::Float(f) => Operand::Float(f),
                    Tok::Open => {
                        self.pos += 1;
                        let inner = self.pipe(depth + 1)?;
                        let Some(Tok::Close(f)) = self.toks.get(self.pos).cloned() else {
                            return Err("an unclosed parenthesis".to_owned());
                        };
                        Operand::Sub(Box::new(inner), f)
                    }
                    Tok::Comma | Tok::Declare | Tok::Assign => {
                        return Err("a misplaced `,`, `:=` or `=`".to_owned());
                    }
                };
                args.push(operand);
                self.pos += 1;
            }
            if args.is_empty() {
                return Err("an empty command in a pipeline".to_owned());
            }
            commands.push(Command { args });
            match self.toks.get(self.pos) {
                Some(Tok::Pipe) => self.pos += 1,
                _ => break,
            }
        }
        Ok(Pipe {
            decl,
            assign,
            commands,
        })
    }
}

fn parse_pipe(src: &str) -> Result<Pipe, String> {
    let toks = lex(src)?;
    let mut parser = PipeParser { toks, pos: 0 };
    let pipe = parser.pipe(0)?;
    if parser.pos < parser.toks.len() {
        return Err("an unexpected `)`".to_owned());
    }
    Ok(pipe)
}

/// Which keyword an action starts with, and the rest of its text.
fn keyword(body: &str) -> (&str, &str) {
    let end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let word = &body[..end];
    match word {
        "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block" | "break"
        | "continue" => (word, body[end..].trim()),
        _ => ("", body),
    }
}

enum Stop {
    End,
    Else(String, Range<usize>),
    Eof,
}

struct Parser<'s> {
    src: &'s str,
    pieces: Vec<Piece>,
    pos: usize,
    defines: Vec<(String, Vec<Node>)>,
}

impl Parser<'_> {
    fn list(&mut self, depth: usize, out: &mut Vec<Node>) -> Stop {
        while self.pos < self.pieces.len() {
            let index = self.pos;
            self.pos += 1;
            let (inner, span) = match &self.pieces[index] {
                Piece::Text(r) => {
                    out.push(Node::Text(r.clone()));
                    continue;
                }
                Piece::Comment => continue,
                Piece::Unclosed(r) => {
                    out.push(Node::Broken {
                        reason: "an action without its closing `}}`".to_owned(),
                        span: r.clone(),
                    });
                    continue;
                }
                Piece::Action { inner, span } => (inner.clone(), span.clone()),
            };
            let body = self.src[inner].trim();
            let (word, rest) = keyword(body);
            let broken = |reason: String| Node::Broken {
                reason,
                span: span.clone(),
            };
            if depth > MAX_NESTING && matches!(word, "if" | "with" | "range" | "define" | "block") {
                out.push(broken("control structures nested too deep".to_owned()));
                // Skip to the end of the file: what follows cannot be matched.
                self.pos = self.pieces.len();
                return Stop::Eof;
            }
            match word {
                "end" => return Stop::End,
                "else" => return Stop::Else(rest.to_owned(), span),
                "break" => out.push(Node::Break),
                "continue" => out.push(Node::Continue),
                "if" | "with" | "range" => {
                    out.push(self.control(word, rest, span, depth));
                }
                "define" | "block" => {
                    let mut words = rest.splitn(2, |c: char| c.is_ascii_whitespace());
                    let name = words.next().and_then(|n| parse_pipe(n).ok());
                    let Some(name) = name.as_ref().and_then(single_string) else {
                        out.push(broken(format!("`{word}` without a quoted name")));
                        continue;
                    };
                    let mut body = Vec::new();
                    let stop = self.list(depth + 1, &mut body);
                    if !matches!(stop, Stop::End) {
                        out.push(broken(format!("`{word} \"{name}\"` without its `end`")));
                    }
                    if word == "block" {
                        let arg = words.next().and_then(|p| parse_pipe(p).ok());
                        out.push(Node::Template {
                            name: name.clone(),
                            arg,
                            span: span.clone(),
                        });
                    }
                    self.defines.push((name, body));
                }
                "template" => {
                    let (name_part, arg_part) = split_first_operand(rest);
                    match parse_pipe(name_part).ok().as_ref().and_then(single_string) {
                        Some(name) => {
                            let arg = if arg_part.trim().is_empty() {
                                None
                            } else {
                                match parse_pipe(arg_part) {
                                    Ok(p) => Some(p),
                                    Err(e) => {
                                        out.push(broken(e));
                                        continue;
                                    }
                                }
                            };
                            out.push(Node::Template { name, arg, span });
                        }
                        None => out.push(broken("`template` without a quoted name".to_owned())),
                    }
                }
                _ => match parse_pipe(body) {
                    Ok(pipe) => out.push(Node::Action { pipe, span }),
                    Err(reason) => out.push(broken(reason)),
                },
            }
        }
        Stop::Eof
    }

    fn control(&mut self, word: &str, rest: &str, span: Range<usize>, depth: usize) -> Node {
        if depth > MAX_NESTING {
            self.pos = self.pieces.len();
            return Node::Broken {
                reason: "control structures nested too deep".to_owned(),
                span,
            };
        }
        let pipe = match parse_pipe(rest) {
            Ok(p) => p,
            Err(reason) => {
                // Still consume the body so that its `end` matches.
                let mut sink = Vec::new();
                self.skip_to_end(depth, &mut sink);
                return Node::Broken { reason, span };
            }
        };
        let mut then = Vec::new();
        let mut otherwise = Vec::new();
        let stop = self.list(depth + 1, &mut then);
        match stop {
            Stop::End => {}
            Stop::Eof => {
                return Node::Broken {
                    reason: format!("`{word}` without its `end`"),
                    span,
                };
            }
            Stop::Else(else_rest, else_span) => {
                let (next, next_rest) = keyword(&else_rest);
                if matches!(next, "if" | "with") {
                    // `else if` chains share the outer `end`.
                    otherwise.push(self.control(next, next_rest, else_span, depth + 1));
                } else if !matches!(self.list(depth + 1, &mut otherwise), Stop::End) {
                    return Node::Broken {
                        reason: format!("`{word}` without its `end`"),
                        span,
                    };
                }
            }
        }
        match word {
            "if" => Node::If {
                cond: pipe,
                then,
                otherwise,
                span,
            },
            "with" => Node::With {
                pipe,
                then,
                otherwise,
                span,
            },
            _ => Node::Range {
                pipe,
                body: then,
                otherwise,
                span,
            },
        }
    }

    fn skip_to_end(&mut self, depth: usize, sink: &mut Vec<Node>) {
        loop {
            match self.list(depth + 1, sink) {
                Stop::Else(..) => {}
                Stop::End | Stop::Eof => return,
            }
        }
    }
}

fn single_string(pipe: &Pipe) -> Option<String> {
    match pipe.commands.as_slice() {
        [Command { args }] => match args.as_slice() {
            [Operand::Str(s)] => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// `"name" .ctx` → (`"name"`, `.ctx`).
fn split_first_operand(rest: &str) -> (&str, &str) {
    let rest = rest.trim_start();
    if let Some(stripped) = rest.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in stripped.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => return (&rest[..i + 2], &rest[i + 2..]),
                _ => escaped = false,
            }
        }
    }
    match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    }
}

/// Parses a whole template file.
pub fn parse(src: &str) -> Parsed {
    let mut parser = Parser {
        src,
        pieces: split(src),
        pos: 0,
        defines: Vec::new(),
    };
    let mut nodes = Vec::new();
    loop {
        match parser.list(0, &mut nodes) {
            Stop::Eof => break,
            Stop::End => nodes.push(Node::Broken {
                reason: "an `end` without its `if`, `with`, `range` or `define`".to_owned(),
                span: 0..0,
            }),
            Stop::Else(_, span) => nodes.push(Node::Broken {
                reason: "an `else` outside `if`, `with` or `range`".to_owned(),
                span,
            }),
        }
    }
    Parsed {
        nodes,
        defines: parser.defines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<String> {
        parse(src)
            .nodes
            .iter()
            .filter_map(|n| match n {
                Node::Text(r) => Some(src[r.clone()].to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn trim_markers_remove_adjacent_whitespace() {
        assert_eq!(
            texts("a:\n  {{- .X }}\nb: {{ .Y -}}\n\n  c"),
            ["a:", "\nb: ", "c"]
        );
        // `{{-3}}` is the number -3, not a trim marker.
        let parsed = parse("x {{-3}}");
        assert!(matches!(
            &parsed.nodes[1],
            Node::Action { pipe, .. } if pipe.commands[0].args == [Operand::Int(-3)]
        ));
    }

    #[test]
    fn comments_and_defines_are_not_output() {
        let parsed = parse("{{/* note */}}{{- define \"x\" }}body{{ end -}}\nrest");
        assert_eq!(parsed.defines.len(), 1);
        assert_eq!(parsed.nodes.len(), 1);
    }

    #[test]
    fn pipelines_variables_and_parentheses() {
        let pipe = parse_pipe("$v := (.Values.a | default 3).b | quote").unwrap();
        assert_eq!(pipe.decl, ["$v"]);
        assert_eq!(pipe.commands.len(), 2);
        let pipe = parse_pipe("$k, $v := .Values.env").unwrap();
        assert_eq!(pipe.decl, ["$k", "$v"]);
        assert!(parse_pipe("(((").is_err());
    }

    #[test]
    fn else_if_chains_nest() {
        let parsed = parse("{{ if .A }}a{{ else if .B }}b{{ else }}c{{ end }}");
        let Node::If { otherwise, .. } = &parsed.nodes[0] else {
            panic!("{:?}", parsed.nodes)
        };
        assert!(matches!(&otherwise[0], Node::If { otherwise, .. } if otherwise.len() == 1));
    }

    #[test]
    fn malformed_templates_do_not_panic() {
        for src in [
            "{{",
            "{{ if .A }}",
            "{{ end }}",
            "{{ else }}",
            "{{ \"unterminated }}",
            "{{ ) }}",
            "{{ $x := }}",
            "{{ define }}",
            "{{- -}}",
            "{{ .A | }}",
            "{{ 'ab' }}",
            "}}{{",
            "{{/* open",
            "{{ template }}",
            "{{ if }}{{ else if }}{{ end }}",
        ] {
            let _ = parse(src);
        }
        let deep = "{{ if .A }}".repeat(10_000);
        let _ = parse(&deep);
        let parens = format!("{{{{ {} }}}}", "(".repeat(10_000));
        let _ = parse(&parens);
    }
}
