//! Values the Python evaluator computes. Every value travels as a
//! `Sourced<Value>`, so its provenance follows it into messages.

use std::fmt::Write as _;

use poolcheck_core::facts::python::{Expr, ExprKind, FStringPart};
use poolcheck_core::{IntExpr, Location, Origin, Sourced};

/// Marks an unknown stretch inside a partially known string.
pub const HOLE: char = '\u{FFFD}';

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(IntExpr),
    Float(f64),
    Str(PyStr),
    /// A list, tuple or set.
    List(Vec<Sourced<Value>>),
    Dict(PyDict),
    /// Something outside the repository by dotted path (`sqlalchemy.pool.NullPool`,
    /// `os.environ`); a trailing `()` marks an instance (`environ.Env()`).
    External(String),
    /// A module or package of the repository, by dotted name.
    Module(String),
    Class(ClassRef),
    Instance(ClassRef),
    Function(FuncRef),
    /// A lambda or another callable poolcheck does not model.
    Callable,
    /// A value that depends on a condition poolcheck could not decide.
    OneOf(Vec<Sourced<Value>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClassRef {
    pub module: usize,
    pub index: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FuncRef {
    pub module: usize,
    pub index: usize,
}

/// A string that may be partly unknown: unknown stretches are [`HOLE`]s in
/// `text`, and `holes` says why, so `postgresql://app:{password}@db:5432/app`
/// keeps its scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PyStr {
    pub text: String,
    pub holes: Vec<String>,
}

impl PyStr {
    pub fn known(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            holes: Vec::new(),
        }
    }

    pub fn hole(reason: impl Into<String>) -> Self {
        Self {
            text: HOLE.to_string(),
            holes: vec![reason.into()],
        }
    }

    pub fn is_complete(&self) -> bool {
        self.holes.is_empty()
    }

    pub fn complete(&self) -> Option<&str> {
        self.is_complete().then_some(self.text.as_str())
    }

    pub fn push(&mut self, other: &PyStr) {
        self.text.push_str(&other.text);
        self.holes.extend(other.holes.iter().cloned());
    }
}

/// A dict whose string keys are known (other keys are stringified), with the
/// reasons for any part that could not be resolved (`**unknown`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PyDict {
    pub entries: Vec<(String, Sourced<Value>)>,
    /// Why some entries may be missing (an unresolved `**spread`).
    pub unknown: Vec<String>,
    /// The dict literal where a key can be inserted, when there is one.
    pub literal: Option<Location>,
}

impl PyDict {
    pub fn get(&self, key: &str) -> Option<&Sourced<Value>> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn insert(&mut self, key: String, value: Sourced<Value>) {
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.entries.push((key, value));
        }
    }

    pub fn merge(&mut self, other: &PyDict) {
        for (k, v) in &other.entries {
            self.insert(k.clone(), v.clone());
        }
        self.unknown.extend(other.unknown.iter().cloned());
    }
}

impl Value {
    pub fn str(text: impl Into<String>) -> Value {
        Value::Str(PyStr::known(text))
    }

    pub fn int(v: i64) -> Value {
        Value::Int(IntExpr::Const(v))
    }

    /// Python truthiness, when decidable.
    pub fn truthy(&self) -> Option<bool> {
        match self {
            Value::None => Some(false),
            Value::Bool(b) => Some(*b),
            Value::Int(i) => i.constant().map(|v| v != 0).or(Some(true)),
            Value::Float(f) => Some(*f != 0.0),
            Value::Str(s) => {
                if s.is_complete() {
                    Some(!s.text.is_empty())
                } else if s.text.chars().any(|c| c != HOLE) {
                    Some(true)
                } else {
                    None
                }
            }
            Value::List(items) => Some(!items.is_empty()),
            Value::Dict(d) => {
                (!d.entries.is_empty() || d.unknown.is_empty()).then_some(!d.entries.is_empty())
            }
            // An imported name from outside the repository could be anything.
            Value::External(_) => None,
            Value::Module(_)
            | Value::Class(_)
            | Value::Instance(_)
            | Value::Function(_)
            | Value::Callable => Some(true),
            Value::OneOf(options) => {
                let mut result = None;
                for option in options {
                    let t = option.value.as_ref()?.truthy()?;
                    if result.is_some_and(|r| r != t) {
                        return None;
                    }
                    result = Some(t);
                }
                result
            }
        }
    }

    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => format!("{:?}", s.text.replace(HOLE, "…")),
            Value::List(items) => format!("a list of {}", items.len()),
            Value::Dict(_) => "a dict".into(),
            Value::External(p) | Value::Module(p) => p.clone(),
            Value::Class(_) => "a class".into(),
            Value::Instance(_) => "an instance".into(),
            Value::Function(_) | Value::Callable => "a function".into(),
            Value::OneOf(options) => {
                // `None or unknown or unknown` reads as noise: name each known
                // alternative once, and the unknown ones together.
                let mut known: Vec<String> = Vec::new();
                let mut undecided = false;
                for option in options {
                    match option.value.as_ref() {
                        Some(value) => {
                            let text = value.describe();
                            if !known.contains(&text) {
                                known.push(text);
                            }
                        }
                        None => undecided = true,
                    }
                }
                match (known.is_empty(), undecided) {
                    (true, _) => "a value poolcheck cannot evaluate".into(),
                    (false, false) => known.join(" or "),
                    (false, true) => format!(
                        "{}, or a value poolcheck cannot evaluate",
                        known.join(" or ")
                    ),
                }
            }
        }
    }

    /// The last segment of an external or class name (`NullPool`).
    pub fn simple_name(&self) -> Option<&str> {
        match self {
            Value::External(path) => path.rsplit('.').next(),
            _ => None,
        }
    }
}

/// Renders an expression back as compact Python for `Origin::Computed`.
pub fn render(expr: &Expr) -> String {
    let mut out = String::new();
    render_into(expr, &mut out, 0);
    out
}

fn render_into(expr: &Expr, out: &mut String, depth: u32) {
    if depth > 12 {
        out.push('…');
        return;
    }
    let d = depth + 1;
    match &expr.kind {
        ExprKind::None => out.push_str("None"),
        ExprKind::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        ExprKind::Int(i) => out.push_str(&i.to_string()),
        ExprKind::Float(f) => out.push_str(&f.to_string()),
        ExprKind::Str(s) => {
            let _ = write!(out, "{s:?}");
        }
        ExprKind::FString(parts) => {
            out.push_str("f\"");
            for part in parts {
                match part {
                    FStringPart::Literal(s) => out.push_str(s),
                    FStringPart::Expr(e, _) => {
                        out.push('{');
                        render_into(e, out, d);
                        out.push('}');
                    }
                }
            }
            out.push('"');
        }
        ExprKind::Name(n) => out.push_str(n),
        ExprKind::Attribute(base, attr) => {
            render_into(base, out, d);
            out.push('.');
            out.push_str(attr);
        }
        ExprKind::Subscript(base, key) => {
            render_into(base, out, d);
            out.push('[');
            render_into(key, out, d);
            out.push(']');
        }
        ExprKind::Call {
            func,
            args,
            keywords,
        } => {
            render_into(func, out, d);
            out.push('(');
            let mut first = true;
            for arg in args {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                match arg {
                    poolcheck_core::facts::python::Arg::Positional(e) => render_into(e, out, d),
                    poolcheck_core::facts::python::Arg::Star(e) => {
                        out.push('*');
                        render_into(e, out, d);
                    }
                }
            }
            for keyword in keywords {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                match &keyword.name {
                    Some(name) => {
                        out.push_str(name);
                        out.push('=');
                    }
                    None => out.push_str("**"),
                }
                render_into(&keyword.value, out, d);
            }
            out.push(')');
        }
        ExprKind::BinOp(l, op, r) => {
            render_into(l, out, d);
            out.push_str(match op {
                poolcheck_core::facts::python::BinOp::Add => " + ",
                poolcheck_core::facts::python::BinOp::Sub => " - ",
                poolcheck_core::facts::python::BinOp::Mul => " * ",
                poolcheck_core::facts::python::BinOp::Div => " / ",
                poolcheck_core::facts::python::BinOp::FloorDiv => " // ",
                poolcheck_core::facts::python::BinOp::Mod => " % ",
                poolcheck_core::facts::python::BinOp::Pow => " ** ",
                poolcheck_core::facts::python::BinOp::BitOr => " | ",
                poolcheck_core::facts::python::BinOp::BitAnd => " & ",
                poolcheck_core::facts::python::BinOp::Other => " ? ",
            });
            render_into(r, out, d);
        }
        ExprKind::Unary(op, e) => {
            out.push_str(match op {
                poolcheck_core::facts::python::UnaryOp::Neg => "-",
                poolcheck_core::facts::python::UnaryOp::Pos => "+",
                poolcheck_core::facts::python::UnaryOp::Not => "not ",
                poolcheck_core::facts::python::UnaryOp::Invert => "~",
            });
            render_into(e, out, d);
        }
        ExprKind::BoolOp(op, l, r) => {
            render_into(l, out, d);
            out.push_str(match op {
                poolcheck_core::facts::python::BoolOp::And => " and ",
                poolcheck_core::facts::python::BoolOp::Or => " or ",
            });
            render_into(r, out, d);
        }
        ExprKind::Compare(first, rest) => {
            render_into(first, out, d);
            for (_, e) in rest {
                out.push_str(" ? ");
                render_into(e, out, d);
            }
        }
        ExprKind::IfElse { test, body, orelse } => {
            render_into(body, out, d);
            out.push_str(" if ");
            render_into(test, out, d);
            out.push_str(" else ");
            render_into(orelse, out, d);
        }
        ExprKind::Dict(_) => out.push_str("{…}"),
        ExprKind::List(_) => out.push_str("[…]"),
        ExprKind::Tuple(_) => out.push_str("(…)"),
        ExprKind::Lambda => out.push_str("lambda"),
        ExprKind::Other(kind) => {
            out.push('<');
            out.push_str(kind);
            out.push('>');
        }
    }
}

/// A phrase naming an operand's provenance, for computed values.
pub fn provenance_note(value: &Sourced<Value>) -> Option<String> {
    match &value.origin {
        Origin::EnvDefault { var } => Some(format!("default of ${var}")),
        Origin::EnvValue { var, source } => Some(format!("${var} from {source}")),
        Origin::ToolDefault { tool } => Some(format!("{tool} default")),
        Origin::Computed { expr } => expr.split_once(" with ").map(|(_, notes)| notes.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use poolcheck_core::{Location, Sourced, Span};

    use super::Value;

    #[test]
    fn alternatives_name_each_known_value_once_and_the_unknown_ones_together() {
        let at = Location::new("settings.py".into(), Span::new(0, 1));
        let none = || Sourced::literal(Value::None, at.clone());
        let unknown = || Sourced::unknown("`vault.secret()` is not evaluated", None);
        let mixed = Value::OneOf(vec![none(), unknown(), unknown(), none()]);
        assert_eq!(
            mixed.describe(),
            "None, or a value poolcheck cannot evaluate"
        );
        let only_unknown = Value::OneOf(vec![unknown(), unknown()]);
        assert_eq!(only_unknown.describe(), "a value poolcheck cannot evaluate");
        let known = Value::OneOf(vec![none(), Sourced::literal(Value::Bool(true), at)]);
        assert_eq!(known.describe(), "None or True");
    }
}
