//! Executes parsed templates over the chart's values, writing [`Text`] whose
//! ranges remember their origin. Functions outside the supported subset give
//! an unknown value naming the function, never a guessed one.

use poolcheck_core::Code;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use poolcheck_core::{Diagnostic, Location, Severity, SourceFile, Span};

use super::functions;
use super::template::{self, Command, Node, Operand, Pipe};
use super::text::{Mark, Text};
use super::values::{Kind, Val};

/// Nested `include`/`template`/`tpl` calls deeper than this are refused (a
/// define that includes itself would otherwise never end).
pub const MAX_INCLUDE_DEPTH: usize = 64;
/// Output larger than this per template stops its rendering.
const MAX_OUTPUT: usize = 8 * 1024 * 1024;
/// Node executions per template: a bound on `range` over `until 1000000`.
const MAX_STEPS: u64 = 500_000;

/// A define: its body and the file it is written in.
#[derive(Clone)]
struct Define {
    body: Rc<Vec<Node>>,
    file: Rc<SourceFile>,
}

pub struct Engine {
    defines: HashMap<String, Define>,
    pub diagnostics: Vec<Diagnostic>,
    steps: u64,
    depth: usize,
    stopped: Option<String>,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Frame<'f> {
    file: &'f Rc<SourceFile>,
    vars: Vec<(String, Val)>,
}

impl Engine {
    pub fn new() -> Self {
        Self {
            defines: HashMap::new(),
            diagnostics: Vec::new(),
            steps: 0,
            depth: 0,
            stopped: None,
        }
    }

    /// Registers the defines of a parsed file; a later definition of the
    /// same name wins, as in Helm (files are given in name order).
    pub fn add_defines(&mut self, file: &Rc<SourceFile>, defines: Vec<(String, Vec<Node>)>) {
        for (name, body) in defines {
            self.defines.insert(
                name,
                Define {
                    body: Rc::new(body),
                    file: Rc::clone(file),
                },
            );
        }
    }

    /// Renders one template file with `root` as `.` and `$`.
    pub fn render(&mut self, file: &Rc<SourceFile>, nodes: &[Node], root: &Val) -> Text {
        self.steps = 0;
        self.depth = 0;
        self.stopped = None;
        let mut out = Text::default();
        let mut frame = Frame {
            file,
            vars: vec![("$".to_owned(), root.clone())],
        };
        self.exec(nodes, root, &mut frame, &mut out);
        if let Some(reason) = self.stopped.take() {
            self.diagnostics.push(Diagnostic::new(
                Code::PC004,
                Severity::Info,
                file.location(Span::empty(0)),
                format!("poolcheck stopped rendering this template: {reason}"),
            ));
            out.push_str("\n");
            out.append(&Text::unknown(reason));
        }
        out
    }

    fn budget_exceeded(&mut self, out: &Text) -> bool {
        if self.stopped.is_some() {
            return true;
        }
        self.steps += 1;
        if self.steps > MAX_STEPS {
            self.stopped = Some("the template runs more than 500,000 steps".to_owned());
        } else if out.len() > MAX_OUTPUT {
            self.stopped = Some("the rendered text exceeds 8 MiB".to_owned());
        }
        self.stopped.is_some()
    }

    fn exec(&mut self, nodes: &[Node], dot: &Val, frame: &mut Frame<'_>, out: &mut Text) -> Flow {
        for node in nodes {
            if self.budget_exceeded(out) {
                return Flow::Break;
            }
            match node {
                Node::Text(range) => {
                    let text = frame.file.text().get(range.clone()).unwrap_or("");
                    let at = frame.file.location(Span::new(range.start, range.end));
                    out.push_marked(text, Mark::Origin(at));
                }
                Node::Action { pipe, span } => {
                    let value = self.pipe(pipe, dot, frame);
                    if pipe.decl.is_empty() {
                        let mut text = value.to_text();
                        let at = frame.file.location(Span::new(span.start, span.end));
                        text.mark_unmarked(&Mark::Origin(at));
                        out.append(&text);
                    } else {
                        bind(frame, pipe, &value);
                    }
                }
                Node::Broken { reason, span } => {
                    let at = frame.file.location(Span::new(span.start, span.end));
                    self.diagnostics.push(Diagnostic::new(
                        Code::PC004,
                        Severity::Info,
                        at,
                        format!(
                            "poolcheck cannot read this template action ({reason}), so what it renders is unknown"
                        ),
                    ));
                    out.append(&Text::unknown(format!(
                        "a template action poolcheck cannot read: {reason}"
                    )));
                }
                Node::If { .. } | Node::With { .. } => {
                    let flow = self.branch(node, dot, frame, out);
                    if !matches!(flow, Flow::Normal) {
                        return flow;
                    }
                }
                Node::Range {
                    pipe,
                    body,
                    otherwise,
                    span,
                } => {
                    let value = self.pipe(pipe, dot, frame);
                    let items: Vec<(Val, Val)> = match &value.kind {
                        Kind::List(items) => items
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (Val::new(Kind::Int(i as i64)), v.clone()))
                            .collect(),
                        Kind::Map(map) => map
                            .iter()
                            .map(|(k, v)| (Val::str(k.clone()), v.clone()))
                            .collect(),
                        Kind::Int(n) => (0..(*n).clamp(0, 1_000_000))
                            .map(|i| (Val::new(Kind::Int(i)), Val::new(Kind::Int(i))))
                            .collect(),
                        Kind::Nil => Vec::new(),
                        Kind::Unknown(_) => {
                            self.unknown_condition(frame, span, &value, out);
                            continue;
                        }
                        _ => {
                            let reason = "`range` over a value that is not a list or map";
                            self.unknown_condition(
                                frame,
                                span,
                                &Val::unknown(reason.to_owned()),
                                out,
                            );
                            continue;
                        }
                    };
                    if items.is_empty() {
                        if let Flow::Break | Flow::Continue = self.exec(otherwise, dot, frame, out)
                        {
                            return Flow::Break;
                        }
                        continue;
                    }
                    for (key, item) in items {
                        let mark = frame.vars.len();
                        match pipe.decl.as_slice() {
                            [] => {}
                            [one] => frame.vars.push((one.clone(), item.clone())),
                            [k, v, ..] => {
                                frame.vars.push((k.clone(), key));
                                frame.vars.push((v.clone(), item.clone()));
                            }
                        }
                        let flow = self.exec(body, &item, frame, out);
                        frame.vars.truncate(mark);
                        if matches!(flow, Flow::Break) {
                            break;
                        }
                        if self.stopped.is_some() {
                            return Flow::Break;
                        }
                    }
                }
                Node::Template { name, arg, span } => {
                    let arg = match arg {
                        Some(pipe) => self.pipe(pipe, dot, frame),
                        None => Val::nil(),
                    };
                    let at = frame.file.location(Span::new(span.start, span.end));
                    let text = self.include(name, &arg, &frame.vars[0].1, &at);
                    out.append(&text);
                }
                Node::Break => return Flow::Break,
                Node::Continue => return Flow::Continue,
            }
        }
        Flow::Normal
    }

    /// `if` and `with`: the pipe decides which branch renders; `with` also
    /// makes the pipe's value the dot of its `then` branch. An undecidable
    /// condition renders neither branch.
    fn branch(&mut self, node: &Node, dot: &Val, frame: &mut Frame<'_>, out: &mut Text) -> Flow {
        let (pipe, then, otherwise, span, rebinds_dot) = match node {
            Node::If {
                cond,
                then,
                otherwise,
                span,
            } => (cond, then, otherwise, span, false),
            Node::With {
                pipe,
                then,
                otherwise,
                span,
            } => (pipe, then, otherwise, span, true),
            _ => return Flow::Normal,
        };
        let mark = frame.vars.len();
        let value = self.pipe(pipe, dot, frame);
        if !pipe.decl.is_empty() {
            bind(frame, pipe, &value);
        }
        let flow = match value.truth() {
            Some(true) => self.exec(then, if rebinds_dot { &value } else { dot }, frame, out),
            Some(false) => self.exec(otherwise, dot, frame, out),
            None => {
                self.unknown_condition(frame, span, &value, out);
                Flow::Normal
            }
        };
        frame.vars.truncate(mark);
        flow
    }

    fn unknown_condition(
        &mut self,
        frame: &Frame<'_>,
        span: &std::ops::Range<usize>,
        value: &Val,
        out: &mut Text,
    ) {
        let reason = value
            .deep_unknown()
            .unwrap_or_else(|| "a condition poolcheck cannot evaluate".to_owned());
        let at = frame.file.location(Span::new(span.start, span.end));
        self.diagnostics.push(Diagnostic::new(
            Code::PC004,
            Severity::Info,
            at,
            format!(
                "poolcheck cannot decide this template condition ({reason}), so neither branch is rendered"
            ),
        ));
        // Nothing is written, so the document stays YAML; the empty range
        // tells a reader that something may be missing here.
        let at = out.len();
        out.marks.push((
            at..at,
            Mark::Unknown(format!(
                "a template condition poolcheck cannot decide: {reason}"
            )),
        ));
    }

    /// Renders the define `name` with `arg` as `.` and `$`.
    fn include(&mut self, name: &str, arg: &Val, _root: &Val, at: &Location) -> Text {
        let Some(define) = self.defines.get(name).cloned() else {
            return Text::unknown(format!("no template named \"{name}\" in the chart"));
        };
        if self.depth >= MAX_INCLUDE_DEPTH {
            self.stopped.get_or_insert_with(|| {
                format!("templates include each other more than {MAX_INCLUDE_DEPTH} levels deep (\"{name}\")")
            });
            let _ = at;
            return Text::unknown(format!(
                "templates include each other more than {MAX_INCLUDE_DEPTH} levels deep"
            ));
        }
        self.depth += 1;
        let mut out = Text::default();
        let mut frame = Frame {
            file: &define.file,
            vars: vec![("$".to_owned(), arg.clone())],
        };
        self.exec(&define.body, arg, &mut frame, &mut out);
        self.depth -= 1;
        out
    }

    fn pipe(&mut self, pipe: &Pipe, dot: &Val, frame: &mut Frame<'_>) -> Val {
        let mut piped: Option<Val> = None;
        for command in &pipe.commands {
            piped = Some(self.command(command, dot, frame, piped));
        }
        piped.unwrap_or_else(Val::nil)
    }

    fn operand(&mut self, op: &Operand, dot: &Val, frame: &mut Frame<'_>) -> Val {
        match op {
            Operand::Dot(fields) => walk(dot, fields),
            Operand::Var(name, fields) => match lookup_var(frame, name) {
                Some(v) => walk(v, fields),
                None => Val::unknown(format!("the undefined variable `{name}`")),
            },
            Operand::Sub(pipe, fields) => {
                let v = self.pipe(pipe, dot, frame);
                walk(&v, fields)
            }
            Operand::Str(s) => Val::str(s.clone()),
            Operand::Int(n) => Val::new(Kind::Int(*n)),
            Operand::Float(f) => Val::new(Kind::Float(*f)),
            Operand::Bool(b) => Val::new(Kind::Bool(*b)),
            Operand::Nil => Val::nil(),
            // A function named without arguments (`{{ now }}`).
            Operand::Ident(name) => self.call(name, &[], Vec::new(), dot, frame),
        }
    }

    fn command(
        &mut self,
        command: &Command,
        dot: &Val,
        frame: &mut Frame<'_>,
        piped: Option<Val>,
    ) -> Val {
        let Some((first, rest)) = command.args.split_first() else {
            return Val::nil();
        };
        if let Operand::Ident(name) = first {
            let mut args: Vec<Val> = rest.iter().map(|a| self.operand(a, dot, frame)).collect();
            if let Some(p) = piped {
                args.push(p);
            }
            return self.call(name, rest, args, dot, frame);
        }
        if !rest.is_empty() || piped.is_some() {
            // A method call: only `.Capabilities.APIVersions.Has` is modelled.
            if let Some((target, method)) = method_target(first) {
                let receiver = self.operand(&target, dot, frame);
                if matches!(receiver.kind, Kind::ApiVersions) && method == "Has" {
                    let mut args: Vec<Val> =
                        rest.iter().map(|a| self.operand(a, dot, frame)).collect();
                    if let Some(p) = piped {
                        args.push(p);
                    }
                    return match args.first().map(|a| &a.kind) {
                        Some(Kind::Str(t)) => {
                            Val::new(Kind::Bool(super::capabilities::has_api(&t.text)))
                        }
                        _ => Val::unknown("`.Capabilities.APIVersions.Has` without a string"),
                    };
                }
                return Val::unknown(format!(
                    "the method call `{}` is not rendered by poolcheck",
                    describe(first)
                ));
            }
            return Val::unknown(format!(
                "`{}` given arguments, which Go templates refuse",
                describe(first)
            ));
        }
        self.operand(first, dot, frame)
    }

    fn call(
        &mut self,
        name: &str,
        operands: &[Operand],
        mut args: Vec<Val>,
        dot: &Val,
        frame: &mut Frame<'_>,
    ) -> Val {
        match name {
            "include" => {
                let (Some(n), arg) = (args.first(), args.get(1).cloned().unwrap_or_else(Val::nil))
                else {
                    return Val::unknown("`include` without a template name");
                };
                let Kind::Str(n) = &n.kind else {
                    return Val::unknown("`include` with a name that is not a string");
                };
                let n = n.text.clone();
                let at = frame.file.location(Span::empty(0));
                let root = frame.vars[0].1.clone();
                Val::text(self.include(&n, &arg, &root, &at))
            }
            "tpl" => {
                let (Some(src), Some(ctx)) = (args.first(), args.get(1)) else {
                    return Val::unknown("`tpl` without a template and a context");
                };
                let Kind::Str(src) = &src.kind else {
                    return src
                        .unknown_reason()
                        .map_or_else(|| Val::str(src.go_string()), |_| src.clone());
                };
                if let Some(reason) = src.unknown_reason() {
                    return Val::unknown(reason.to_owned());
                }
                self.tpl(&src.text, ctx)
            }
            "set" | "unset" | "merge" | "mergeOverwrite" => {
                let result = functions::mutate(name, &mut args);
                // The sprig functions change their first argument in place:
                // a variable passed there sees the change.
                if let Some(Operand::Var(var, fields)) = operands.first()
                    && fields.is_empty()
                    && let Some(slot) = frame.vars.iter_mut().rev().find(|(n, _)| n == var)
                {
                    slot.1 = result.clone();
                }
                let _ = dot;
                result
            }
            _ => functions::call(name, args),
        }
    }

    fn tpl(&mut self, src: &str, ctx: &Val) -> Val {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Val::unknown("`tpl` nested too deep");
        }
        let parsed = template::parse(src);
        let file = Rc::new(SourceFile::new("<tpl>", src));
        self.add_defines(&file, parsed.defines);
        self.depth += 1;
        let mut out = Text::default();
        let mut frame = Frame {
            file: &file,
            vars: vec![("$".to_owned(), ctx.clone())],
        };
        self.exec(&parsed.nodes, ctx, &mut frame, &mut out);
        self.depth -= 1;
        // Text from a string value has no place of its own in a file.
        out.marks.retain(
            |(_, m)| !matches!(m, Mark::Origin(l) if l.file.as_path().as_os_str() == "<tpl>"),
        );
        Val::text(out)
    }
}

fn bind(frame: &mut Frame<'_>, pipe: &Pipe, value: &Val) {
    for name in &pipe.decl {
        if pipe.assign
            && let Some(slot) = frame.vars.iter_mut().rev().find(|(n, _)| n == name)
        {
            slot.1 = value.clone();
            continue;
        }
        frame.vars.push((name.clone(), value.clone()));
    }
}

fn lookup_var<'v>(frame: &'v Frame<'_>, name: &str) -> Option<&'v Val> {
    frame
        .vars
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// `.a.b` on a value; a missing key is nil, as Helm renders it.
fn walk(value: &Val, fields: &[String]) -> Val {
    let mut current = value;
    for field in fields {
        current = match &current.kind {
            Kind::Map(m) => match m.get(field) {
                Some(v) => v,
                None => return Val::nil(),
            },
            Kind::Nil => return Val::nil(),
            Kind::Unknown(_) => return current.clone(),
            Kind::ApiVersions => {
                return Val::unknown(format!("`.Capabilities.APIVersions.{field}`"));
            }
            _ => {
                return Val::unknown(format!("the field `.{field}` of a value that is not a map"));
            }
        };
    }
    current.clone()
}

/// `.Capabilities.APIVersions.Has` → (`.Capabilities.APIVersions`, `Has`).
fn method_target(op: &Operand) -> Option<(Operand, String)> {
    match op {
        Operand::Dot(fields) if !fields.is_empty() => {
            let (last, head) = fields.split_last()?;
            Some((Operand::Dot(head.to_vec()), last.clone()))
        }
        Operand::Var(name, fields) if !fields.is_empty() => {
            let (last, head) = fields.split_last()?;
            Some((Operand::Var(name.clone(), head.to_vec()), last.clone()))
        }
        _ => None,
    }
}

fn describe(op: &Operand) -> String {
    match op {
        Operand::Dot(f) => format!(".{}", f.join(".")),
        Operand::Var(n, f) if f.is_empty() => n.clone(),
        Operand::Var(n, f) => format!("{n}.{}", f.join(".")),
        Operand::Ident(n) => n.clone(),
        _ => "a value".to_owned(),
    }
}

/// Built-in roots: `.Chart`, `.Release`, `.Capabilities`, `.Template`.
pub fn root(values: Val, chart: Val, release: Val, template_name: &str, base: &str) -> Val {
    let mut root = BTreeMap::new();
    root.insert("Values".to_owned(), values);
    root.insert("Chart".to_owned(), chart);
    root.insert("Release".to_owned(), release);
    root.insert("Capabilities".to_owned(), super::capabilities::value());
    let mut template = BTreeMap::new();
    template.insert("Name".to_owned(), Val::str(template_name));
    template.insert("BasePath".to_owned(), Val::str(base));
    root.insert("Template".to_owned(), Val::map(template));
    root.insert(
        "Files".to_owned(),
        Val::unknown("the chart's `.Files` are not read by poolcheck"),
    );
    Val::map(root)
}
