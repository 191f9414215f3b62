//! A POSIX-shell word parser with spans, and the expansion of its words with
//! an [`Environment`].
//!
//! Parsing keeps words unexpanded ([`ShellWord`]): quoting is resolved, but
//! `$VAR`, `${VAR:-default}` and friends stay parts, because the same command
//! runs with a different environment in each service. Expansion then turns a
//! word into fields ([`Arg`]) made of [`Piece`]s that remember where each
//! character came from, so a flag's value can say "default of
//! `$SERVER_WORKER_AMOUNT`, written at entrypoint.sh:12:23".
//!
//! Only what decides a command's words is modelled: control flow (`if`,
//! `case`, functions, loops) is flattened into the simple commands it holds,
//! and `$(…)`, backticks and positional parameters are unknown.

use poolcheck_core::facts::deploy::{
    CommandOrigin, CommandSite, DeployFacts, ShellAssignment, ShellWord, VarOp, VarOpKind, WordPart,
};
use poolcheck_core::{
    Environment, FileFacts, FilePath, Location, Origin, SourceFile, Sourced, Span,
};

use crate::commands;

/// How byte offsets of the text being parsed map to offsets in the file: the
/// text may be a slice of the file (a shifted view) or a decoded YAML scalar
/// whose characters sit at arbitrary file offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffsetMap {
    /// Text byte `i` is file byte `base + i`.
    Shifted(usize),
    /// Text byte `i` is file byte `table[i]`; `table[len]` is the end.
    Table(Vec<u32>),
}

impl OffsetMap {
    fn at(&self, i: usize) -> usize {
        match self {
            OffsetMap::Shifted(base) => base + i,
            OffsetMap::Table(table) => table
                .get(i)
                .or_else(|| table.last())
                .map_or(0, |&o| o as usize),
        }
    }

    /// File span of text bytes `start..end`, and whether the file holds
    /// exactly those bytes there.
    fn span(&self, start: usize, end: usize) -> (Span, bool) {
        let file_start = self.at(start);
        let file_end = if end > start {
            match self {
                OffsetMap::Shifted(base) => base + end,
                // The end of the last character: its start plus its length.
                OffsetMap::Table(_) => self.at(end - 1) + 1,
            }
        } else {
            file_start
        };
        let file_end = file_end.max(file_start);
        let exact = match self {
            OffsetMap::Shifted(_) => true,
            OffsetMap::Table(_) => self.at(end).saturating_sub(file_start) == end - start,
        };
        (Span::new(file_start, file_end), exact)
    }
}

/// A simple command found in a script: its `NAME=value` prefixes and words.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCommand {
    pub assignments: Vec<RawAssignment>,
    pub words: Vec<ShellWord>,
    pub span: Span,
    /// The function the command sits in (`server() { … }`).
    pub function: Option<String>,
    /// True for a line of assignments alone (or `export A=1`): they stay
    /// visible to later commands of the script.
    pub persistent: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawAssignment {
    pub name: String,
    pub value: ShellWord,
    pub span: Span,
}

impl RawAssignment {
    pub fn located(&self, file: &FilePath) -> ShellAssignment {
        ShellAssignment {
            name: self.name.clone(),
            value: self.value.clone(),
            location: Location::new(file.clone(), self.span),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `;`, `;;`, `&&`, `||`, `|`, `&`, newline: end of a simple command.
    Separator,
    LParen,
    RParen,
    /// `>`, `>>`, `<`, `2>&1`…: the next word is its target.
    Redirect,
    /// `<<` / `<<-`: the next word is a here-document delimiter.
    HereDoc {
        strip_tabs: bool,
    },
}

#[derive(Debug)]
enum Token {
    Word(ShellWord),
    Op(Op, Span),
    Newline,
}

/// Whether the parser reads shell syntax or compose-style interpolation
/// (only `$VAR`, `${…}` and `$$`; quotes and backslashes are plain text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Shell,
    Interpolation,
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    map: &'a OffsetMap,
    mode: Mode,
    /// Compose interpolates `${…}` before the command is split into words,
    /// so expansions count even inside single quotes, and `$$` is a `$`.
    compose: bool,
    /// `${…}` expansions open around the current position.
    nesting: usize,
    /// Set when an expansion nested deeper than [`MAX_NESTING`]: every open
    /// expansion around it becomes one unknown part, so the word the user
    /// wrote is reported as unreadable as a whole.
    too_deep: bool,
}

/// `${A:-${B:-…}}` nested deeper than this is not read: real scripts nest a
/// few levels, and each level is a recursion of the lexer and the expander
/// (the limit keeps them within a thread's stack).
const MAX_NESTING: usize = 64;

impl<'a> Lexer<'a> {
    fn new(text: &'a str, map: &'a OffsetMap, mode: Mode) -> Self {
        Self {
            text,
            pos: 0,
            map,
            mode,
            compose: false,
            nesting: 0,
            too_deep: false,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.text[self.pos..].chars().nth(ahead)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn starts_with(&self, s: &str) -> bool {
        self.text[self.pos..].starts_with(s)
    }

    fn file_span(&self, start: usize, end: usize) -> Span {
        self.map.span(start, end).0
    }

    fn literal(&self, start: usize, end: usize, quoted: bool) -> WordPart {
        let (span, exact) = self.map.span(start, end);
        WordPart::Literal {
            text: self.text[start..end].to_owned(),
            span,
            quoted,
            exact,
        }
    }

    fn next_token(&mut self) -> Option<Token> {
        loop {
            let c = self.peek()?;
            match c {
                ' ' | '\t' | '\r' => {
                    self.bump();
                }
                '\\' if self.peek_at(1) == Some('\n') => {
                    self.pos += 2;
                }
                '\\' if self.starts_with("\\\r\n") => {
                    self.pos += 3;
                }
                '#' => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                '\n' => {
                    self.bump();
                    return Some(Token::Newline);
                }
                _ => break,
            }
        }
        let start = self.pos;
        let op = |lexer: &mut Self, len: usize, op: Op| {
            lexer.pos += len;
            Some(Token::Op(op, lexer.file_span(start, start + len)))
        };
        let rest = &self.text[self.pos..];
        if rest.starts_with("<<-") {
            return op(self, 3, Op::HereDoc { strip_tabs: true });
        }
        if rest.starts_with("<<") && !rest.starts_with("<<<") {
            return op(self, 2, Op::HereDoc { strip_tabs: false });
        }
        for (text, kind) in [
            (";;", Op::Separator),
            ("&&", Op::Separator),
            ("||", Op::Separator),
            ("&>>", Op::Redirect),
            ("&>", Op::Redirect),
            (">>", Op::Redirect),
            (">&", Op::Redirect),
            ("<&", Op::Redirect),
            ("<<<", Op::Redirect),
            (">|", Op::Redirect),
            ("<>", Op::Redirect),
            (";", Op::Separator),
            ("&", Op::Separator),
            ("|", Op::Separator),
            ("(", Op::LParen),
            (")", Op::RParen),
            (">", Op::Redirect),
            ("<", Op::Redirect),
        ] {
            if rest.starts_with(text) {
                return op(self, text.len(), kind);
            }
        }
        // `2>&1`, `1>/dev/null`: a file descriptor glued to a redirection.
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && matches!(rest.as_bytes().get(digits), Some(b'>' | b'<')) {
            let len = digits
                + if rest[digits..].starts_with(">>") || rest[digits..].starts_with(">&") {
                    2
                } else {
                    1
                };
            return op(self, len, Op::Redirect);
        }
        let parts = self.word_parts(false);
        let end = self.pos;
        Some(Token::Word(ShellWord {
            parts,
            span: self.file_span(start, end),
        }))
    }

    /// Reads one word's parts. With `in_braces`, stops at an unmatched `}`
    /// (the word of `${NAME:-word}`) and whitespace is part of the word.
    fn word_parts(&mut self, in_braces: bool) -> Vec<WordPart> {
        let mut parts = Vec::new();
        let mut literal_start = self.pos;
        let flush = |lexer: &Self, parts: &mut Vec<WordPart>, from: usize| {
            if lexer.pos > from {
                parts.push(lexer.literal(from, lexer.pos, false));
            }
        };
        while let Some(c) = self.peek() {
            let shell = self.mode == Mode::Shell;
            match c {
                '}' if in_braces => break,
                ' ' | '\t' | '\n' | '\r' | ';' | '&' | '|' | '(' | ')' | '<' | '>'
                    if !in_braces && shell =>
                {
                    break;
                }
                '\\' if shell => {
                    flush(self, &mut parts, literal_start);
                    self.bump();
                    match self.peek() {
                        Some('\n') => {
                            self.bump();
                        }
                        Some(_) => {
                            let at = self.pos;
                            self.bump();
                            parts.push(self.literal(at, self.pos, true));
                        }
                        None => {}
                    }
                    literal_start = self.pos;
                }
                '\'' if shell && self.compose => {
                    flush(self, &mut parts, literal_start);
                    self.bump();
                    self.single_quoted_interpolated(&mut parts);
                    literal_start = self.pos;
                }
                '\'' if shell => {
                    flush(self, &mut parts, literal_start);
                    self.bump();
                    let at = self.pos;
                    while let Some(c) = self.peek() {
                        if c == '\'' {
                            break;
                        }
                        self.bump();
                    }
                    parts.push(self.literal(at, self.pos, true));
                    self.bump();
                    literal_start = self.pos;
                }
                '"' if shell => {
                    flush(self, &mut parts, literal_start);
                    self.bump();
                    let before = parts.len();
                    self.double_quoted(&mut parts);
                    if parts.len() == before {
                        // `""` is still a word: keep an empty quoted part.
                        parts.push(self.literal(self.pos, self.pos, true));
                    }
                    literal_start = self.pos;
                }
                '`' if shell => {
                    flush(self, &mut parts, literal_start);
                    parts.push(self.backticks(false));
                    literal_start = self.pos;
                }
                '$' => {
                    if (self.mode == Mode::Interpolation || self.compose)
                        && self.peek_at(1) == Some('$')
                    {
                        // Compose's `$$` is a literal dollar.
                        flush(self, &mut parts, literal_start);
                        self.bump();
                        let at = self.pos;
                        self.bump();
                        parts.push(self.literal(at, self.pos, false));
                        literal_start = self.pos;
                        continue;
                    }
                    flush(self, &mut parts, literal_start);
                    if let Some(part) = self.dollar(false) {
                        parts.push(part);
                        literal_start = self.pos;
                    } else {
                        // A lone `$` is literal; keep it in the running text.
                        literal_start = self.pos;
                        self.bump();
                    }
                }
                _ => {
                    self.bump();
                }
            }
        }
        flush(self, &mut parts, literal_start);
        parts
    }

    /// After the opening `"`: reads to the closing quote.
    fn double_quoted(&mut self, parts: &mut Vec<WordPart>) {
        let mut literal_start = self.pos;
        let flush = |lexer: &Self, parts: &mut Vec<WordPart>, from: usize| {
            if lexer.pos > from {
                parts.push(lexer.literal(from, lexer.pos, true));
            }
        };
        while let Some(c) = self.peek() {
            match c {
                '"' => {
                    flush(self, parts, literal_start);
                    self.bump();
                    return;
                }
                '\\' if matches!(self.peek_at(1), Some('$' | '`' | '"' | '\\' | '\n')) => {
                    flush(self, parts, literal_start);
                    self.bump();
                    let at = self.pos;
                    if self.bump() != Some('\n') {
                        parts.push(self.literal(at, self.pos, true));
                    }
                    literal_start = self.pos;
                }
                '`' => {
                    flush(self, parts, literal_start);
                    parts.push(self.backticks(true));
                    literal_start = self.pos;
                }
                '$' if self.compose && self.peek_at(1) == Some('$') => {
                    flush(self, parts, literal_start);
                    self.bump();
                    literal_start = self.pos;
                    self.bump();
                }
                '$' => {
                    flush(self, parts, literal_start);
                    if let Some(part) = self.dollar(true) {
                        parts.push(part);
                        literal_start = self.pos;
                    } else {
                        literal_start = self.pos;
                        self.bump();
                    }
                }
                _ => {
                    self.bump();
                }
            }
        }
        // Unterminated: the rest of the text is the word.
        flush(self, parts, literal_start);
    }

    /// After an opening `'` in a compose command: literal text up to the
    /// closing quote, except compose's own `${…}` and `$$`.
    fn single_quoted_interpolated(&mut self, parts: &mut Vec<WordPart>) {
        let mut literal_start = self.pos;
        let before = parts.len();
        let flush = |lexer: &Self, parts: &mut Vec<WordPart>, from: usize| {
            if lexer.pos > from {
                parts.push(lexer.literal(from, lexer.pos, true));
            }
        };
        while let Some(c) = self.peek() {
            match c {
                '\'' => break,
                '$' if self.peek_at(1) == Some('$') => {
                    flush(self, parts, literal_start);
                    self.bump();
                    literal_start = self.pos;
                    self.bump();
                }
                '$' => {
                    flush(self, parts, literal_start);
                    if let Some(part) = self.dollar(true) {
                        parts.push(part);
                        literal_start = self.pos;
                    } else {
                        literal_start = self.pos;
                        self.bump();
                    }
                }
                _ => {
                    self.bump();
                }
            }
        }
        flush(self, parts, literal_start);
        if parts.len() == before {
            parts.push(self.literal(self.pos, self.pos, true));
        }
        self.bump();
    }

    fn backticks(&mut self, quoted: bool) -> WordPart {
        let start = self.pos;
        self.bump();
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '`' => break,
                _ => {}
            }
        }
        WordPart::Unknown {
            text: self.text[start..self.pos].to_owned(),
            span: self.file_span(start, self.pos),
            quoted,
        }
    }

    /// At a `$`: the expansion it starts, or `None` when it is a literal `$`
    /// (the position is then unchanged).
    fn dollar(&mut self, quoted: bool) -> Option<WordPart> {
        let start = self.pos;
        let next = self.peek_at(1);
        match next {
            Some('{') => Some(self.braced(quoted)),
            Some('(') if self.mode == Mode::Shell => {
                self.pos += 2;
                self.skip_balanced('(', ')');
                Some(self.unknown_from(start, quoted))
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                self.bump();
                let name_start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
                {
                    self.bump();
                }
                Some(WordPart::Var {
                    name: self.text[name_start..self.pos].to_owned(),
                    op: None,
                    span: self.file_span(start, self.pos),
                    quoted,
                })
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                self.pos += 1 + c.len_utf8();
                Some(self.unknown_from(start, quoted))
            }
            _ => None,
        }
    }

    fn unknown_from(&self, start: usize, quoted: bool) -> WordPart {
        WordPart::Unknown {
            text: self.text[start..self.pos].to_owned(),
            span: self.file_span(start, self.pos),
            quoted,
        }
    }

    /// Skips to the `close` that balances an already consumed `open`,
    /// stepping over quoted text.
    fn skip_balanced(&mut self, open: char, close: char) {
        let mut depth = 1usize;
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '\'' if self.mode == Mode::Shell => {
                    while let Some(c) = self.bump() {
                        if c == '\'' {
                            break;
                        }
                    }
                }
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// At `${`.
    fn braced(&mut self, quoted: bool) -> WordPart {
        let start = self.pos;
        if self.nesting >= MAX_NESTING {
            self.pos += 2;
            self.skip_balanced('{', '}');
            self.too_deep = true;
            return self.unknown_from(start, quoted);
        }
        self.nesting += 1;
        let part = self.braced_expansion(quoted);
        self.nesting -= 1;
        if self.too_deep {
            self.too_deep = self.nesting > 0;
            return self.unknown_from(start, quoted);
        }
        part
    }

    /// At `${`, within the nesting limit.
    fn braced_expansion(&mut self, quoted: bool) -> WordPart {
        let start = self.pos;
        self.pos += 2;
        let name_start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
        {
            self.bump();
        }
        let name = &self.text[name_start..self.pos];
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic());
        if !valid_name {
            self.skip_balanced('{', '}');
            return self.unknown_from(start, quoted);
        }
        let name = name.to_owned();
        let colon = self.peek() == Some(':');
        let op_char = if colon { self.peek_at(1) } else { self.peek() };
        let kind = match op_char {
            Some('}') if !colon => {
                self.bump();
                return WordPart::Var {
                    name,
                    op: None,
                    span: self.file_span(start, self.pos),
                    quoted,
                };
            }
            Some('-' | '=') => VarOpKind::Default,
            Some('+') => VarOpKind::Alternative,
            Some('?') => VarOpKind::Required,
            _ => {
                // `${NAME%suffix}`, `${NAME:0:3}`, `${NAME/a/b}`: not evaluated.
                self.skip_balanced('{', '}');
                return self.unknown_from(start, quoted);
            }
        };
        self.pos += if colon { 2 } else { 1 };
        let word = if quoted {
            self.braced_word_in_quotes()
        } else {
            self.word_parts(true)
        };
        if self.peek() == Some('}') {
            self.bump();
        }
        WordPart::Var {
            name,
            op: Some(VarOp { kind, colon, word }),
            span: self.file_span(start, self.pos),
            quoted,
        }
    }

    /// The word of `${NAME:-word}` inside double quotes, where single quotes
    /// are plain characters.
    fn braced_word_in_quotes(&mut self) -> Vec<WordPart> {
        let mut parts = Vec::new();
        let mut literal_start = self.pos;
        let flush = |lexer: &Self, parts: &mut Vec<WordPart>, from: usize| {
            if lexer.pos > from {
                parts.push(lexer.literal(from, lexer.pos, true));
            }
        };
        while let Some(c) = self.peek() {
            match c {
                '}' | '"' => break,
                '\\' if matches!(self.peek_at(1), Some('$' | '`' | '"' | '\\' | '}')) => {
                    flush(self, &mut parts, literal_start);
                    self.bump();
                    let at = self.pos;
                    self.bump();
                    parts.push(self.literal(at, self.pos, true));
                    literal_start = self.pos;
                }
                '$' => {
                    flush(self, &mut parts, literal_start);
                    if let Some(part) = self.dollar(true) {
                        parts.push(part);
                        literal_start = self.pos;
                    } else {
                        literal_start = self.pos;
                        self.bump();
                    }
                }
                _ => {
                    self.bump();
                }
            }
        }
        flush(self, &mut parts, literal_start);
        parts
    }

    /// Skips a here-document body that starts at the current position (just
    /// after the newline ending the line with `<<DELIM`).
    fn skip_heredoc(&mut self, delimiter: &str, strip_tabs: bool) {
        while self.pos < self.text.len() {
            let line_end = self.text[self.pos..]
                .find('\n')
                .map_or(self.text.len(), |i| self.pos + i);
            let line = self.text[self.pos..line_end].trim_end_matches('\r');
            let line = if strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            self.pos = (line_end + 1).min(self.text.len());
            if line == delimiter {
                return;
            }
        }
    }
}

const RESERVED_PREFIXES: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "esac", "{", "}",
];

/// Parses a shell script (or one command line) into its simple commands.
pub fn parse_script(text: &str, map: &OffsetMap) -> Vec<ParsedCommand> {
    parse_commands(Lexer::new(text, map, Mode::Shell))
}

/// Parses a compose `command:`/`entrypoint:` string: split into words like a
/// shell line, after compose's own `${VAR}` interpolation (which also
/// applies inside single quotes) and with `$$` meaning `$`.
pub fn parse_compose_command(text: &str, map: &OffsetMap) -> Vec<ParsedCommand> {
    let mut lexer = Lexer::new(text, map, Mode::Shell);
    lexer.compose = true;
    parse_commands(lexer)
}

fn parse_commands(mut lexer: Lexer<'_>) -> Vec<ParsedCommand> {
    let mut builder = CommandBuilder::default();
    let mut skip_next_word = false;
    let mut pending_heredocs: Vec<(String, bool)> = Vec::new();
    let mut heredoc_next = None;
    while let Some(token) = lexer.next_token() {
        match token {
            Token::Word(word) => {
                if let Some(strip_tabs) = heredoc_next.take() {
                    let delimiter = word_plain_text(&word);
                    pending_heredocs.push((delimiter, strip_tabs));
                } else if skip_next_word {
                    skip_next_word = false;
                } else {
                    builder.push_word(word);
                }
            }
            Token::Op(op, span) => {
                skip_next_word = false;
                match op {
                    Op::Separator => builder.finish(),
                    Op::Redirect => {
                        builder.extend_span(span);
                        skip_next_word = true;
                    }
                    Op::HereDoc { strip_tabs } => {
                        builder.extend_span(span);
                        heredoc_next = Some(strip_tabs);
                    }
                    Op::LParen => builder.open_paren(),
                    Op::RParen => builder.close_paren(),
                }
            }
            Token::Newline => {
                skip_next_word = false;
                builder.finish();
                for (delimiter, strip_tabs) in pending_heredocs.drain(..) {
                    lexer.skip_heredoc(&delimiter, strip_tabs);
                }
            }
        }
    }
    builder.finish();
    builder.commands
}

/// Parses compose-style interpolation (`${VAR:-default}`, `$VAR`, `$$`) in a
/// value that is otherwise literal text (compose values, exec-form words).
pub fn parse_interpolated(text: &str, map: &OffsetMap) -> ShellWord {
    let mut lexer = Lexer::new(text, map, Mode::Interpolation);
    let parts = lexer.word_parts(false);
    ShellWord {
        parts,
        span: map.span(0, text.len()).0,
    }
}

/// Parses text that is one literal word (a Dockerfile exec-form item).
pub fn literal_word(text: &str, map: &OffsetMap) -> ShellWord {
    let (span, exact) = map.span(0, text.len());
    ShellWord {
        parts: vec![WordPart::Literal {
            text: text.to_owned(),
            span,
            quoted: true,
            exact,
        }],
        span,
    }
}

fn word_plain_text(word: &ShellWord) -> String {
    word.parts
        .iter()
        .map(|p| match p {
            WordPart::Literal { text, .. } | WordPart::Unknown { text, .. } => text.clone(),
            WordPart::Var { name, .. } => format!("${name}"),
        })
        .collect()
}

#[derive(Default)]
struct CommandBuilder {
    words: Vec<ShellWord>,
    span: Option<Span>,
    commands: Vec<ParsedCommand>,
    function: Option<String>,
    /// `{` depth inside the current function body.
    brace_depth: usize,
    /// `name (` seen: the next `)` closes a function header.
    function_header: Option<String>,
}

impl CommandBuilder {
    fn extend_span(&mut self, span: Span) {
        if !self.words.is_empty() {
            self.span = Some(self.span.map_or(span, |s| s.cover(span)));
        }
    }

    fn push_word(&mut self, word: ShellWord) {
        if self.words.is_empty()
            && let Some(text) = word.literal_text()
        {
            match text.as_str() {
                "{" => {
                    if self.function.is_some() {
                        self.brace_depth += 1;
                    }
                    return;
                }
                "}" => {
                    if self.function.is_some() {
                        self.brace_depth = self.brace_depth.saturating_sub(1);
                        if self.brace_depth == 0 {
                            self.function = None;
                        }
                    }
                    return;
                }
                t if RESERVED_PREFIXES.contains(&t) => return,
                _ => {}
            }
        }
        self.span = Some(self.span.map_or(word.span, |s| s.cover(word.span)));
        self.words.push(word);
    }

    fn open_paren(&mut self) {
        if self.words.len() == 1 {
            self.function_header = self.words[0].literal_text();
        }
        self.words.clear();
        self.span = None;
    }

    fn close_paren(&mut self) {
        if let Some(name) = self.function_header.take() {
            self.function = Some(name);
            self.brace_depth = 0;
        }
        // `web)` in a `case`: the words so far were a pattern.
        self.words.clear();
        self.span = None;
    }

    fn finish(&mut self) {
        let words = std::mem::take(&mut self.words);
        let span = self.span.take();
        let Some(span) = span else { return };
        let first = words.first().and_then(ShellWord::literal_text);
        match first.as_deref() {
            Some("case" | "for" | "select") | None if words.is_empty() => return,
            Some("case" | "for" | "select") => return,
            Some("function") => {
                self.function = words.get(1).and_then(ShellWord::literal_text);
                self.brace_depth = 0;
                return;
            }
            _ => {}
        }
        let mut assignments = Vec::new();
        let mut rest = words.into_iter().peekable();
        while let Some(word) = rest.peek() {
            match split_assignment(word) {
                Some(assignment) => {
                    assignments.push(assignment);
                    rest.next();
                }
                None => break,
            }
        }
        let words: Vec<ShellWord> = rest.collect();
        let declaration = words.first().and_then(ShellWord::literal_text).filter(|w| {
            matches!(
                w.as_str(),
                "export" | "readonly" | "declare" | "local" | "typeset"
            )
        });
        if declaration.is_some() {
            assignments.extend(words.iter().skip(1).filter_map(split_assignment));
            self.commands.push(ParsedCommand {
                assignments,
                words: Vec::new(),
                span,
                function: self.function.clone(),
                persistent: true,
            });
            return;
        }
        let persistent = words.is_empty();
        self.commands.push(ParsedCommand {
            assignments,
            words,
            span,
            function: self.function.clone(),
            persistent,
        });
    }
}

/// `NAME=value` when the word starts with an unquoted literal `NAME=`.
fn split_assignment(word: &ShellWord) -> Option<RawAssignment> {
    let Some(WordPart::Literal {
        text,
        span,
        quoted: false,
        exact,
    }) = word.parts.first()
    else {
        return None;
    };
    let eq = text.find('=')?;
    let name = &text[..eq];
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
    if !valid {
        return None;
    }
    let mut parts = Vec::with_capacity(word.parts.len());
    let rest = &text[eq + 1..];
    let value_start = if *exact {
        span.start as usize + eq + 1
    } else {
        span.end as usize
    };
    if !rest.is_empty() {
        parts.push(WordPart::Literal {
            text: rest.to_owned(),
            span: Span::new(value_start, span.end as usize),
            quoted: false,
            exact: *exact,
        });
    }
    parts.extend(word.parts.iter().skip(1).cloned());
    let value_span = Span::new(
        value_start.min(word.span.end as usize),
        word.span.end as usize,
    );
    Some(RawAssignment {
        name: name.to_owned(),
        value: ShellWord {
            parts,
            span: value_span,
        },
        span: word.span,
    })
}

/// Reads a shell script (`entrypoint.sh`, `boot.sh`): every simple command
/// that starts a known server, with the assignments before it in scope.
pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let mut deploy = DeployFacts::default();
    let empty = Environment::new();
    let mut locals: Vec<ShellAssignment> = Vec::new();
    for command in parse_script(file.text(), &OffsetMap::Shifted(0)) {
        let located = command.assignments.iter().map(|a| a.located(file.path()));
        if command.persistent {
            locals.extend(located);
            continue;
        }
        let mut assignments = locals.clone();
        assignments.extend(located);
        let site = CommandSite {
            location: file.location(command.span),
            origin: CommandOrigin::Script {
                function: command.function,
            },
            name_hint: None,
            words: command.words,
            assignments,
        };
        if commands::interpret_site(&site, &empty).is_some() {
            commands::check_site(&site, None, &mut facts.diagnostics, &mut deploy.links);
            deploy.commands.push(site);
        }
    }
    facts.deploy = Some(deploy);
}

// ---------------------------------------------------------------------------
// Expansion

/// A run of an expanded word's characters with one provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub text: String,
    pub kind: PieceKind,
    /// Set when the text is the default of `${var:-default}` because `var`
    /// has no value.
    pub env_default: Option<String>,
    /// From an unquoted expansion: whitespace in it separates fields.
    pub splittable: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PieceKind {
    /// Written in the file at `span`; `exact` when the text is the file's text there.
    Literal {
        span: Span,
        exact: bool,
    },
    /// A value the environment gives `var`.
    Env {
        var: String,
        source: String,
        location: Option<Location>,
    },
    Unknown {
        reason: String,
        span: Span,
    },
}

impl Piece {
    fn slice(&self, range: std::ops::Range<usize>) -> Piece {
        let text = self.text.get(range.clone()).unwrap_or("").to_owned();
        let kind = match &self.kind {
            PieceKind::Literal { span, exact: true } => PieceKind::Literal {
                span: Span::new(
                    span.start as usize + range.start,
                    span.start as usize + range.end,
                ),
                exact: true,
            },
            other => other.clone(),
        };
        Piece {
            text,
            kind,
            env_default: self.env_default.clone(),
            splittable: self.splittable,
        }
    }
}

/// One field of an expanded command: the pieces it is made of and the word
/// it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub pieces: Vec<Piece>,
    /// The word in the file.
    pub span: Span,
}

impl Arg {
    pub fn text(&self) -> String {
        self.pieces.iter().map(|p| p.text.as_str()).collect()
    }

    /// True when every character is written in the file (no environment).
    pub fn is_literal(&self) -> bool {
        self.pieces
            .iter()
            .all(|p| matches!(p.kind, PieceKind::Literal { .. }) && p.env_default.is_none())
    }

    pub fn is_known(&self) -> bool {
        !self
            .pieces
            .iter()
            .any(|p| matches!(p.kind, PieceKind::Unknown { .. }))
    }

    /// The part after byte `at` of the text, keeping provenance.
    #[must_use]
    pub fn suffix(&self, at: usize) -> Arg {
        let mut pieces = Vec::new();
        let mut offset = 0;
        for piece in &self.pieces {
            let len = piece.text.len();
            if offset + len > at {
                let from = at.saturating_sub(offset);
                pieces.push(piece.slice(from..len));
            }
            offset += len;
        }
        Arg {
            pieces,
            span: self.span,
        }
    }

    /// Splits at the first `sep`: the text before and the arg after it.
    pub fn split_once(&self, sep: char) -> Option<(String, Arg)> {
        let text = self.text();
        let at = text.find(sep)?;
        Some((text[..at].to_owned(), self.suffix(at + sep.len_utf8())))
    }

    /// The part before the first `sep` (or all of it), keeping provenance.
    #[must_use]
    pub fn prefix_until(&self, sep: char) -> Arg {
        let text = self.text();
        let end = text.find(sep).unwrap_or(text.len());
        let mut pieces = Vec::new();
        let mut offset = 0;
        for piece in &self.pieces {
            let len = piece.text.len();
            if offset < end {
                pieces.push(piece.slice(0..(end - offset).min(len)));
            }
            offset += len;
        }
        Arg {
            pieces,
            span: self.span,
        }
    }

    /// The value with its provenance.
    pub fn sourced(&self, file: &FilePath) -> Sourced<String> {
        let word_location = Location::new(file.clone(), self.span);
        if let Some(reason) = self.pieces.iter().find_map(|p| match &p.kind {
            PieceKind::Unknown { reason, .. } => Some(reason.clone()),
            _ => None,
        }) {
            return Sourced::unknown(reason, Some(word_location));
        }
        let text = self.text();
        let meaningful: Vec<&Piece> = self.pieces.iter().filter(|p| !p.text.is_empty()).collect();
        let single = match meaningful.as_slice() {
            [one] => Some(*one),
            [] => self.pieces.first(),
            _ => None,
        };
        if let Some(piece) = single {
            return piece_sourced(piece, text, file, word_location);
        }
        let all_literal = meaningful
            .iter()
            .all(|p| matches!(p.kind, PieceKind::Literal { .. }) && p.env_default.is_none());
        if all_literal {
            let span = meaningful
                .iter()
                .filter_map(|p| match p.kind {
                    PieceKind::Literal { span, .. } => Some(span),
                    _ => None,
                })
                .reduce(Span::cover)
                .unwrap_or(self.span);
            return Sourced::literal(text, Location::new(file.clone(), span));
        }
        let expr = describe_pieces(&self.pieces);
        Sourced::computed(text, expr, Some(word_location))
    }
}

fn piece_sourced(
    piece: &Piece,
    text: String,
    file: &FilePath,
    word_location: Location,
) -> Sourced<String> {
    match (&piece.kind, &piece.env_default) {
        (PieceKind::Literal { span, .. }, Some(var)) => Sourced::with_origin(
            text,
            Origin::EnvDefault { var: var.clone() },
            Some(Location::new(file.clone(), *span)),
        ),
        (PieceKind::Literal { span, .. }, None) => {
            Sourced::literal(text, Location::new(file.clone(), *span))
        }
        (
            PieceKind::Env {
                var,
                source,
                location,
            },
            _,
        ) => Sourced::with_origin(
            text,
            Origin::EnvValue {
                var: var.clone(),
                source: source.clone(),
            },
            location.clone().or(Some(word_location)),
        ),
        (PieceKind::Unknown { reason, .. }, _) => {
            Sourced::unknown(reason.clone(), Some(word_location))
        }
    }
}

/// `0.0.0.0:$PORT (8000, default)`-style description of a mixed value.
fn describe_pieces(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for piece in pieces {
        match (&piece.kind, &piece.env_default) {
            (PieceKind::Env { var, .. }, _) => {
                out.push('$');
                out.push_str(var);
            }
            (_, Some(var)) => {
                out.push_str("${");
                out.push_str(var);
                out.push_str(":-");
                out.push_str(&piece.text);
                out.push('}');
            }
            _ => out.push_str(&piece.text),
        }
    }
    out
}

/// What a `$NAME` means while expanding one command: the script's own
/// assignments first, then the environment.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub env: &'a Environment,
    /// Assignments visible to the command, in order; later ones win.
    pub locals: &'a [ShellAssignment],
}

impl<'a> Scope<'a> {
    pub fn new(env: &'a Environment, locals: &'a [ShellAssignment]) -> Self {
        Self { env, locals }
    }
}

const MAX_DEPTH: usize = 16;
const MAX_EXPANSION_DEPTH: usize = 2 * MAX_NESTING;

/// Expands one word into fields (an unquoted `$ARGS` holding `-w 4` gives
/// two), with provenance.
pub fn expand_word(word: &ShellWord, scope: Scope<'_>) -> Vec<Arg> {
    let pieces = expand_parts(&word.parts, scope, scope.locals.len(), 0);
    split_fields(pieces, word.span)
}

/// Expands a word without field splitting (assignment values, compose values).
pub fn expand_joined(word: &ShellWord, scope: Scope<'_>) -> Arg {
    let mut pieces = expand_parts(&word.parts, scope, scope.locals.len(), 0);
    for piece in &mut pieces {
        piece.splittable = false;
    }
    Arg {
        pieces,
        span: word.span,
    }
}

/// Expands every word of a command.
pub fn expand_words(words: &[ShellWord], scope: Scope<'_>) -> Vec<Arg> {
    words.iter().flat_map(|w| expand_word(w, scope)).collect()
}

fn expand_parts(parts: &[WordPart], scope: Scope<'_>, limit: usize, depth: usize) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for part in parts {
        match part {
            WordPart::Literal {
                text, span, exact, ..
            } => pieces.push(Piece {
                text: text.clone(),
                kind: PieceKind::Literal {
                    span: *span,
                    exact: *exact,
                },
                env_default: None,
                splittable: false,
            }),
            WordPart::Unknown { text, span, .. } => pieces.push(Piece {
                text: text.clone(),
                kind: PieceKind::Unknown {
                    reason: unknown_reason(text),
                    span: *span,
                },
                env_default: None,
                splittable: false,
            }),
            WordPart::Var {
                name,
                op,
                span,
                quoted,
            } => {
                let mut expanded = expand_var(name, op.as_ref(), *span, scope, limit, depth);
                if !quoted {
                    for piece in &mut expanded {
                        if !matches!(piece.kind, PieceKind::Unknown { .. }) {
                            piece.splittable = true;
                        }
                    }
                }
                pieces.extend(expanded);
            }
        }
    }
    pieces
}

fn unknown_reason(text: &str) -> String {
    if text.starts_with("${") && text.matches("${").count() > MAX_NESTING {
        let head: String = text.chars().take(16).collect();
        format!(
            "`{head}…` nests `${{…}}` more than {MAX_NESTING} levels deep, which poolcheck does not read"
        )
    } else if text.starts_with("$(") || text.starts_with('`') {
        format!("`{text}` is a command substitution, which poolcheck does not run")
    } else if text.len() == 2 && text.starts_with('$') {
        format!("`{text}` is a script argument, unknown without running it")
    } else {
        format!("`{text}` is a shell expansion poolcheck does not evaluate")
    }
}

enum Resolved {
    Unset,
    Value(Vec<Piece>),
}

fn lookup(name: &str, scope: Scope<'_>, limit: usize, depth: usize) -> Resolved {
    let visible = &scope.locals[..limit.min(scope.locals.len())];
    if let Some(index) = visible.iter().rposition(|a| a.name == name) {
        if depth >= MAX_DEPTH {
            return Resolved::Value(vec![unknown_piece(
                format!("${name} refers to itself too deeply"),
                visible[index].location.span,
            )]);
        }
        let value = &visible[index].value;
        return Resolved::Value(expand_parts(&value.parts, scope, index, depth + 1));
    }
    match scope.env.get(name) {
        Some(var) => Resolved::Value(vec![Piece {
            text: var.value.clone(),
            kind: PieceKind::Env {
                var: name.to_owned(),
                source: var.source.clone(),
                location: var.location.clone(),
            },
            env_default: None,
            splittable: false,
        }]),
        None => Resolved::Unset,
    }
}

fn unknown_piece(reason: String, span: Span) -> Piece {
    Piece {
        text: String::new(),
        kind: PieceKind::Unknown { reason, span },
        env_default: None,
        splittable: false,
    }
}

fn is_empty_value(pieces: &[Piece]) -> bool {
    pieces
        .iter()
        .all(|p| p.text.is_empty() && !matches!(p.kind, PieceKind::Unknown { .. }))
}

fn expand_var(
    name: &str,
    op: Option<&VarOp>,
    span: Span,
    scope: Scope<'_>,
    limit: usize,
    depth: usize,
) -> Vec<Piece> {
    // Nested defaults and variables that refer to variables both recurse;
    // the lexer bounds the first, MAX_DEPTH the second, this their product.
    if depth >= MAX_EXPANSION_DEPTH {
        return vec![unknown_piece(
            format!(
                "${name} is reached through more than {MAX_EXPANSION_DEPTH} nested expansions, which poolcheck does not follow"
            ),
            span,
        )];
    }
    let resolved = lookup(name, scope, limit, depth);
    let Some(op) = op else {
        return match resolved {
            Resolved::Value(pieces) => pieces,
            Resolved::Unset => vec![unknown_piece(missing_reason(name), span)],
        };
    };
    let present = match &resolved {
        Resolved::Value(pieces) => !(op.colon && is_empty_value(pieces)),
        Resolved::Unset => false,
    };
    match op.kind {
        VarOpKind::Default => {
            if present && let Resolved::Value(pieces) = resolved {
                return pieces;
            }
            let mut pieces = expand_parts(&op.word, scope, limit, depth + 1);
            for piece in &mut pieces {
                if piece.env_default.is_none() {
                    piece.env_default = Some(name.to_owned());
                }
            }
            if pieces.is_empty() {
                pieces.push(Piece {
                    text: String::new(),
                    kind: PieceKind::Literal { span, exact: false },
                    env_default: Some(name.to_owned()),
                    splittable: false,
                });
            }
            pieces
        }
        VarOpKind::Alternative => {
            if present {
                expand_parts(&op.word, scope, limit, depth + 1)
            } else {
                Vec::new()
            }
        }
        VarOpKind::Required => match resolved {
            Resolved::Value(pieces) if present => pieces,
            _ => vec![unknown_piece(missing_reason(name), span)],
        },
    }
}

fn missing_reason(name: &str) -> String {
    format!("${name} has no value: declare it in [tool.poolcheck.env]")
}

fn split_fields(pieces: Vec<Piece>, span: Span) -> Vec<Arg> {
    let mut args = Vec::new();
    let mut current: Vec<Piece> = Vec::new();
    // A word with a quoted or literal part is a field even when empty.
    let mut has_content = false;
    let finish = |current: &mut Vec<Piece>, has_content: &mut bool, args: &mut Vec<Arg>| {
        if *has_content || current.iter().any(|p| !p.text.is_empty()) {
            args.push(Arg {
                pieces: std::mem::take(current),
                span,
            });
        }
        current.clear();
        *has_content = false;
    };
    for piece in pieces {
        if !piece.splittable {
            // Quoted or literal text makes a field even when empty (`""`).
            has_content = true;
            current.push(piece);
            continue;
        }
        let text = piece.text.clone();
        let mut field_start = None;
        for (i, c) in text.char_indices() {
            if c.is_ascii_whitespace() {
                if let Some(start) = field_start.take() {
                    current.push(piece.slice(start..i));
                }
                finish(&mut current, &mut has_content, &mut args);
            } else if field_start.is_none() {
                field_start = Some(i);
            }
        }
        if let Some(start) = field_start {
            current.push(piece.slice(start..text.len()));
        }
    }
    finish(&mut current, &mut has_content, &mut args);
    args
}

/// Expands a word to one string with provenance, without field splitting.
pub fn expand_to_sourced(word: &ShellWord, scope: Scope<'_>, file: &FilePath) -> Sourced<String> {
    expand_joined(word, scope).sourced(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::EnvVar;
    use poolcheck_core::facts::process::ServerKind;

    fn parse(text: &str) -> Vec<ParsedCommand> {
        parse_script(text, &OffsetMap::Shifted(0))
    }

    fn texts(text: &str, env: &Environment) -> Vec<Vec<String>> {
        parse(text)
            .iter()
            .filter(|c| !c.words.is_empty())
            .map(|c| {
                expand_words(&c.words, Scope::new(env, &[]))
                    .iter()
                    .map(Arg::text)
                    .collect()
            })
            .collect()
    }

    fn env(pairs: &[(&str, &str)]) -> Environment {
        let mut env = Environment::new();
        for (k, v) in pairs {
            env.set(
                *k,
                EnvVar {
                    value: (*v).to_owned(),
                    source: ".env".to_owned(),
                    location: None,
                },
            );
        }
        env
    }

    #[test]
    fn quotes_escapes_and_continuations() {
        let e = Environment::new();
        assert_eq!(
            texts(
                r#"gunicorn 'a b' "c d" e\ f \
  --bind="0.0.0.0:80" x"y"'z'"#,
                &e
            ),
            vec![vec![
                "gunicorn",
                "a b",
                "c d",
                "e f",
                "--bind=0.0.0.0:80",
                "xyz"
            ]]
        );
        assert_eq!(
            texts(r#"echo "a \"q\" \$HOME""#, &e),
            vec![vec!["echo", r#"a "q" $HOME"#]]
        );
        assert_eq!(texts(r#"echo "" x"#, &e), vec![vec!["echo", "", "x"]]);
    }

    #[test]
    fn chains_and_separators_give_separate_commands() {
        let e = Environment::new();
        let cmds = texts(
            "cd /app && python manage.py migrate; gunicorn app:app | tee log || exit 1 &\nuvicorn m:app",
            &e,
        );
        assert_eq!(
            cmds,
            vec![
                vec!["cd", "/app"],
                vec!["python", "manage.py", "migrate"],
                vec!["gunicorn", "app:app"],
                vec!["tee", "log"],
                vec!["exit", "1"],
                vec!["uvicorn", "m:app"],
            ]
        );
    }

    #[test]
    fn redirections_and_comments_are_dropped() {
        let e = Environment::new();
        assert_eq!(
            texts("gunicorn app:app >/var/log/x 2>&1 # run it\n", &e),
            vec![vec!["gunicorn", "app:app"]]
        );
    }

    #[test]
    fn prefix_assignments_are_split_off() {
        let cmds = parse("WEB_CONCURRENCY=4 FOO=\"a b\" exec gunicorn app");
        assert_eq!(cmds.len(), 1);
        let names: Vec<&str> = cmds[0]
            .assignments
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ["WEB_CONCURRENCY", "FOO"]);
        assert!(!cmds[0].persistent);
        assert_eq!(cmds[0].words.len(), 3);
    }

    #[test]
    fn default_with_no_value_is_an_env_default_at_the_default_text() {
        let text = "gunicorn --workers ${SERVER_WORKER_AMOUNT:-1} app:app";
        let cmd = &parse(text)[0];
        let file = FilePath::from("entrypoint.sh");
        let e = Environment::new();
        let args = expand_words(&cmd.words, Scope::new(&e, &[]));
        let workers = args[2].sourced(&file);
        assert_eq!(workers.value.as_deref(), Some("1"));
        assert_eq!(
            workers.origin,
            Origin::EnvDefault {
                var: "SERVER_WORKER_AMOUNT".into()
            }
        );
        let span = workers
            .location
            .as_ref()
            .map(|l| l.span)
            .unwrap_or_default();
        assert_eq!(&text[span.range()], "1");
    }

    #[test]
    fn default_with_a_value_is_the_env_value() {
        let cmd = &parse("gunicorn --workers ${SERVER_WORKER_AMOUNT:-1}")[0];
        let e = env(&[("SERVER_WORKER_AMOUNT", "8")]);
        let v = expand_words(&cmd.words, Scope::new(&e, &[]))[2].sourced(&FilePath::from("x"));
        assert_eq!(v.value.as_deref(), Some("8"));
        assert_eq!(
            v.origin,
            Origin::EnvValue {
                var: "SERVER_WORKER_AMOUNT".into(),
                source: ".env".into()
            }
        );
    }

    #[test]
    fn colon_and_plain_defaults_differ_on_empty_values() {
        let e = env(&[("A", "")]);
        assert_eq!(texts("x ${A:-d} ${A-d}", &e), vec![vec!["x", "d"]]);
        let e = Environment::new();
        assert_eq!(texts("x ${A:-d} ${A-d}", &e), vec![vec!["x", "d", "d"]]);
    }

    #[test]
    fn nested_defaults() {
        let e = Environment::new();
        let cmd = &parse("x ${A:-${B:-1}}")[0];
        let v = expand_words(&cmd.words, Scope::new(&e, &[]))[1].sourced(&FilePath::from("x"));
        assert_eq!(v.value.as_deref(), Some("1"));
        assert_eq!(v.origin, Origin::EnvDefault { var: "B".into() });
        let e = env(&[("B", "7")]);
        assert_eq!(texts("x ${A:-${B:-1}}", &e), vec![vec!["x", "7"]]);
        let e = env(&[("A", "3"), ("B", "7")]);
        assert_eq!(texts("x \"${A:-${B:-1}}\"", &e), vec![vec!["x", "3"]]);
    }

    #[test]
    fn missing_variable_is_unknown_naming_it() {
        let e = Environment::new();
        let cmd = &parse("gunicorn -w \"$GUNICORN_WORKERS\"")[0];
        let v = expand_words(&cmd.words, Scope::new(&e, &[]))[2].sourced(&FilePath::from("x"));
        assert_eq!(v.value, None);
        assert!(
            v.unknown_reason()
                .is_some_and(|r| r.contains("$GUNICORN_WORKERS")),
            "{v:?}"
        );
    }

    #[test]
    fn command_substitution_is_unknown() {
        let e = Environment::new();
        let cmd = &parse("gunicorn -w $(nproc) -t `echo 3` app")[0];
        let args = expand_words(&cmd.words, Scope::new(&e, &[]));
        assert_eq!(args.len(), 6);
        let v = args[2].sourced(&FilePath::from("x"));
        assert!(v.unknown_reason().is_some_and(|r| r.contains("$(nproc)")));
        assert!(!args[4].is_known());
        assert!(args[5].is_known());
    }

    #[test]
    fn unquoted_expansion_splits_fields() {
        let e = env(&[("ARGS", "-w 4  -k gevent")]);
        assert_eq!(
            texts(
                "gunicorn $ARGS app \"$ARGS\" $EMPTY",
                &env(&[("ARGS", "-w 4  -k gevent"), ("EMPTY", "")])
            ),
            vec![vec![
                "gunicorn",
                "-w",
                "4",
                "-k",
                "gevent",
                "app",
                "-w 4  -k gevent"
            ]]
        );
        let _ = e;
    }

    #[test]
    fn script_assignments_become_defaults_for_later_commands() {
        let text = "GUNICORN_WORKERS=\"${GUNICORN_WORKERS:-3}\"\nexec gunicorn --workers $GUNICORN_WORKERS x";
        let cmds = parse(text);
        assert!(cmds[0].persistent);
        let file = FilePath::from("boot.sh");
        let locals: Vec<ShellAssignment> = cmds[0]
            .assignments
            .iter()
            .map(|a| a.located(&file))
            .collect();
        let e = Environment::new();
        let args = expand_words(&cmds[1].words, Scope::new(&e, &locals));
        let v = args[3].sourced(&file);
        assert_eq!(v.value.as_deref(), Some("3"));
        assert_eq!(
            v.origin,
            Origin::EnvDefault {
                var: "GUNICORN_WORKERS".into()
            }
        );
        assert_eq!(
            &text[v
                .location
                .as_ref()
                .map(|l| l.span)
                .unwrap_or_default()
                .range()],
            "3"
        );
        let e = env(&[("GUNICORN_WORKERS", "9")]);
        let args = expand_words(&cmds[1].words, Scope::new(&e, &locals));
        assert_eq!(args[3].text(), "9");
    }

    #[test]
    fn case_branches_and_functions_yield_their_commands() {
        let text = r#"
server() {
  exec gunicorn -w 2 app
}
case "$1" in
  web)
    server
    ;;
  worker) celery -A app worker -c 4 ;;
  *) exec "$@" ;;
esac
"#;
        let cmds = parse(text);
        let with_words: Vec<(Option<String>, String)> = cmds
            .iter()
            .filter(|c| !c.words.is_empty())
            .map(|c| (c.function.clone(), word_plain_text(&c.words[0])))
            .collect();
        assert_eq!(
            with_words,
            vec![
                (Some("server".to_owned()), "exec".to_owned()),
                (None, "server".to_owned()),
                (None, "celery".to_owned()),
                (None, "exec".to_owned()),
            ]
        );
    }

    #[test]
    fn heredoc_bodies_are_not_commands() {
        let e = Environment::new();
        let text = "cat <<EOF > /etc/x.ini\ngunicorn -w 99 x\nEOF\nexec gunicorn -w 2 app\n";
        assert_eq!(
            texts(text, &e),
            vec![vec!["cat"], vec!["exec", "gunicorn", "-w", "2", "app"]]
        );
    }

    #[test]
    fn interpolation_mode_keeps_quotes_and_reads_double_dollar() {
        let word = parse_interpolated(
            "max_connections=${PG_MAX:-100} '$$x'",
            &OffsetMap::Shifted(0),
        );
        let e = Environment::new();
        let arg = expand_joined(&word, Scope::new(&e, &[]));
        assert_eq!(arg.text(), "max_connections=100 '$x'");
    }

    #[test]
    fn spans_through_an_offset_table() {
        // The text "a $X" sits at file offsets 10, 11, 20, 21 (folded YAML).
        let map = OffsetMap::Table(vec![10, 11, 20, 21, 22]);
        let cmds = parse_script("a $X", &map);
        assert_eq!(cmds[0].words[1].span, Span::new(20, 22));
    }

    #[test]
    fn unterminated_quotes_and_junk_do_not_panic() {
        for text in [
            "echo \"abc",
            "echo 'abc",
            "x ${A:-",
            "x $(",
            "x `a",
            "\\",
            "${",
            "é'\"$",
            "$((1+2)) ${#A} ${A%x}",
        ] {
            let _ = texts(text, &Environment::new());
        }
    }

    fn script_invocations(
        text: &str,
        env: &Environment,
    ) -> Vec<poolcheck_core::facts::process::ServerInvocation> {
        let file = SourceFile::new("docker/entrypoint.sh", text);
        let mut facts = FileFacts::new(file.path().clone(), poolcheck_core::FileKind::Shell);
        extract(&file, &mut facts);
        commands::invocations(&facts.deploy.unwrap_or_default(), env)
    }

    #[test]
    fn entrypoint_with_mode_switch_yields_both_servers() {
        // The dify api entrypoint shape: one script, web or worker by $MODE.
        let text = r#"#!/bin/bash
set -e
if [[ "${MODE}" == "worker" ]]; then
  if [ "${CELERY_AUTO_SCALE,,}" = "true" ]; then
    CONCURRENCY_OPTION="--autoscale=${CELERY_MAX_WORKERS:-8},${CELERY_MIN_WORKERS:-1}"
  else
    CONCURRENCY_OPTION="-c ${CELERY_WORKER_AMOUNT:-1}"
  fi
  exec celery -A app.celery worker -P ${CELERY_WORKER_CLASS:-gevent} $CONCURRENCY_OPTION \
    --max-tasks-per-child ${MAX_TASKS_PER_CHILD:-50} --loglevel ${LOG_LEVEL:-INFO}
elif [[ "${MODE}" == "beat" ]]; then
  exec celery -A app.celery beat --loglevel ${LOG_LEVEL:-INFO}
else
  exec gunicorn \
    --bind "${DIFY_BIND_ADDRESS:-0.0.0.0}:${DIFY_PORT:-5001}" \
    --workers ${SERVER_WORKER_AMOUNT:-1} \
    --worker-class ${SERVER_WORKER_CLASS:-gevent} \
    --worker-connections ${SERVER_WORKER_CONNECTIONS:-10} \
    --timeout ${GUNICORN_TIMEOUT:-200} \
    app:app
fi
"#;
        let found = script_invocations(text, &Environment::new());
        let kinds: Vec<ServerKind> = found.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            [
                ServerKind::Celery,
                ServerKind::CeleryBeat,
                ServerKind::Gunicorn
            ]
        );
        let celery = &found[0].settings;
        // The later plain assignment wins, as the last one before the command.
        assert_eq!(
            celery.concurrency.as_ref().and_then(|c| c.value.clone()),
            Some(poolcheck_core::IntExpr::Const(1))
        );
        let web = &found[2].settings;
        assert_eq!(
            web.workers.as_ref().and_then(|w| w.value.clone()),
            Some(poolcheck_core::IntExpr::Const(1))
        );
        assert_eq!(
            web.bind.as_ref().and_then(|b| b.value.clone()).as_deref(),
            Some("0.0.0.0:5001")
        );
        let command = &text[found[2].location.span.range()];
        assert!(command.starts_with("exec gunicorn \\\n"), "{command}");
        assert!(command.ends_with("app:app"), "{command}");
    }

    #[test]
    fn boot_script_defaults_resolve_through_assignments() {
        let text = "#!/bin/sh\nGUNICORN_WORKERS=\"${GUNICORN_WORKERS:-3}\"\nGUNICORN_THREADS=\"${GUNICORN_THREADS:-2}\"\nexec gunicorn --bind unix:/tmp/tandoor.sock --workers $GUNICORN_WORKERS --threads $GUNICORN_THREADS --timeout ${GUNICORN_TIMEOUT:-30} recipes.wsgi\n";
        let found = script_invocations(text, &Environment::new());
        assert_eq!(found.len(), 1);
        let s = &found[0].settings;
        let workers = s.workers.as_ref();
        assert_eq!(
            workers.and_then(|w| w.value.clone()),
            Some(poolcheck_core::IntExpr::Const(3))
        );
        assert_eq!(
            workers.map(|w| w.origin.clone()),
            Some(Origin::EnvDefault {
                var: "GUNICORN_WORKERS".into()
            })
        );
        let span = workers.and_then(|w| w.location.as_ref()).map(|l| l.span);
        assert_eq!(span.map(|s| &text[s.range()]), Some("3"));
        assert_eq!(
            s.threads.as_ref().and_then(|w| w.value.clone()),
            Some(poolcheck_core::IntExpr::Const(2))
        );
    }

    #[test]
    fn functions_in_a_case_dispatch() {
        // The redash entrypoint shape.
        let text = r#"#!/bin/bash
server() {
  MAX_REQUESTS=${MAX_REQUESTS:-1000}
  exec /usr/local/bin/gunicorn -b 0.0.0.0:5000 --name redash -w${REDASH_WEB_WORKERS:-4} redash.wsgi:app --max-requests $MAX_REQUESTS
}
worker() {
  export WORKERS_COUNT=${WORKERS_COUNT:-2}
  exec supervisord -c worker.conf
}
case "$1" in
  server)
    shift
    server
    ;;
  *)
    exec "$@"
    ;;
esac
"#;
        let found = script_invocations(text, &Environment::new());
        assert_eq!(found.len(), 1);
        let s = &found[0].settings;
        assert_eq!(
            s.workers.as_ref().and_then(|w| w.value.clone()),
            Some(poolcheck_core::IntExpr::Const(4))
        );
        assert_eq!(s.max_requests.as_ref().and_then(|m| m.value), Some(1000));
        assert_eq!(
            s.app.as_ref().and_then(|a| a.value.clone()).as_deref(),
            Some("redash.wsgi:app")
        );
    }

    #[test]
    fn compose_commands_interpolate_inside_single_quotes() {
        let text = "postgres -c 'max_connections=${PG_MAX:-100}' -c \"x=$$HOME\" '$$y'";
        let cmds = parse_compose_command(text, &OffsetMap::Shifted(0));
        let e = Environment::new();
        let args: Vec<String> = expand_words(&cmds[0].words, Scope::new(&e, &[]))
            .iter()
            .map(Arg::text)
            .collect();
        assert_eq!(
            args,
            [
                "postgres",
                "-c",
                "max_connections=100",
                "-c",
                "x=$HOME",
                "$y"
            ]
        );
    }

    #[test]
    fn quoted_empty_default_is_still_a_field() {
        let e = Environment::new();
        assert_eq!(texts("x \"${A:-}\" ${B:-} y", &e), vec![vec!["x", "", "y"]]);
    }

    /// The reason the `-w` value of `gunicorn -w WORD app:app` is unknown.
    fn workers_unknown_reason(script: &str) -> Option<String> {
        let commands = parse(script);
        let command = commands.iter().find(|c| !c.words.is_empty())?;
        let args = expand_words(&command.words, Scope::new(&Environment::new(), &[]));
        let workers = args.get(2)?;
        workers
            .sourced(&FilePath::new("entrypoint.sh"))
            .unknown_reason()
            .map(str::to_owned)
    }

    #[test]
    fn deeply_nested_defaults_are_unknown_not_a_stack_overflow() {
        let depth = 3_000;
        let script = format!(
            "gunicorn -w {}4{} app:app\n",
            "${A:-".repeat(depth),
            "}".repeat(depth)
        );
        let reason = crate::on_small_stack(move || workers_unknown_reason(&script));
        let reason = reason.expect("the nested word is unknown");
        assert!(
            reason.contains("more than 64 levels deep"),
            "unexpected reason: {reason}"
        );
        // Nesting a real script uses still resolves.
        let shallow = format!(
            "gunicorn -w {}4{} app:app",
            "${A:-".repeat(8),
            "}".repeat(8)
        );
        assert_eq!(texts(&shallow, &Environment::new())[0][2], "4");
    }

    #[test]
    fn deeply_nested_quoted_defaults_are_unknown_not_a_stack_overflow() {
        let depth = 5_000;
        let script = format!(
            "gunicorn -w \"{}4{}\" app:app\n",
            "${A:-\"".repeat(depth),
            "\"}".repeat(depth)
        );
        let reason = crate::on_small_stack(move || workers_unknown_reason(&script));
        assert!(
            reason
                .as_deref()
                .is_some_and(|r| r.contains("more than 64 levels deep")),
            "unexpected reason: {reason:?}"
        );
        // Compose interpolation reads the same words through the same lexer.
        let compose = format!(
            "gunicorn -w '{}4{}' app:app",
            "${A:-".repeat(depth),
            "}".repeat(depth)
        );
        let commands = crate::on_small_stack(move || {
            parse_compose_command(&compose, &OffsetMap::Shifted(0)).len()
        });
        assert_eq!(commands, 1);
    }

    #[test]
    fn no_front_end_panics_on_junk() {
        use poolcheck_core::FileKind;
        // A deterministic stream of awkward bytes and shell/YAML/INI metacharacters.
        let alphabet: Vec<char> = "ab=:-$'\"\\`{}()[]<>|&;#\n\t %é\u{0}".chars().collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..300 {
            let mut text = String::new();
            let len = 1 + round % 120;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let prefixes = [
                "",
                "gunicorn ",
                "services:\n  web:\n    command: ",
                "[uwsgi]\n",
                "FROM x\nCMD ",
            ];
            for prefix in prefixes {
                let source = format!("{prefix}{text}");
                let file = SourceFile::new("junk", source.as_str());
                let mut facts = FileFacts::new(file.path().clone(), FileKind::Shell);
                extract(&file, &mut facts);
                crate::procfile::extract(&file, &mut facts);
                crate::dockerfile::extract(&file, &mut facts);
                crate::compose::extract(&file, &mut facts);
                crate::dotenv::extract(&file, &mut facts);
                crate::uwsgi::extract(&file, &mut facts);
                let deploy = facts.deploy.unwrap_or_default();
                let _ = commands::invocations(&deploy, &Environment::new());
            }
        }
    }
}
