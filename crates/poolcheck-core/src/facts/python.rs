//! The Python front-end's per-module representation: bindings, imports and
//! calls as unevaluated expressions, evaluated later with each service's
//! environment. Filled in by the Python front-end.
//!
//! Statements are kept in source order with the `if`/`try` arms that guard
//! them, so the evaluator can pick the binding that is in effect at a use
//! (last binding before it) and decide branches whose conditions it can
//! evaluate.

use std::sync::{Arc, OnceLock};

use crate::source::{SourceFile, Span};

/// One Python module as extracted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PythonModule {
    /// Module-level statements (also those nested in `if`/`try`/`with`/`for`
    /// at module level), in source order.
    pub body: Vec<Stmt>,
    /// Every class definition, module-level or nested; `ClassDef::parent` links nesting.
    pub classes: Vec<ClassDef>,
    /// Every function definition that is not nested in another function.
    pub functions: Vec<FunctionDef>,
    /// Every `if`/`elif`/`else` chain and `try` statement a statement is guarded by.
    pub branches: Vec<BranchPoint>,
    /// Calls of interest anywhere in the module (engine and pool constructors,
    /// `uvicorn.run`), by the last name of the callee.
    pub calls: Vec<CallSite>,
    /// `@event.listens_for(target, "connect")` handlers.
    pub event_handlers: Vec<EventHandlerDef>,
    /// Connection activity that runs when the module is imported.
    pub import_time: Vec<ImportTimeActivity>,
    /// Spans of the parts tree-sitter could not parse.
    pub syntax_errors: Vec<Span>,
}

impl PythonModule {
    /// Drops the spare capacity its lists grew while the module was built
    /// one statement at a time (a large tree keeps thousands of modules).
    pub fn shrink_to_fit(&mut self) {
        self.body.shrink_to_fit();
        self.classes.shrink_to_fit();
        self.functions.shrink_to_fit();
        self.branches.shrink_to_fit();
        self.calls.shrink_to_fit();
        self.event_handlers.shrink_to_fit();
        self.import_time.shrink_to_fit();
        self.syntax_errors.shrink_to_fit();
    }

    /// Modules imported anywhere at module level (absolute, dotted, without aliases).
    pub fn imported_modules(&self) -> impl Iterator<Item = &str> {
        self.body.iter().filter_map(|stmt| match &stmt.kind {
            StmtKind::Import(import) => Some(import.module.as_str()),
            _ => None,
        })
    }
}

/// A Python module read for its imports alone: it holds none of the words
/// that make a module start a pool or a server, so it matters for which
/// modules a service runs, and for a name another module imports from it.
/// It is parsed the first time evaluation asks for its statements.
#[derive(Debug)]
pub struct UnparsedModule {
    pub source: Arc<SourceFile>,
    /// Imports that run when the module is imported.
    pub imports: Vec<Import>,
    /// Imports inside `def` and `class` bodies.
    pub nested_imports: Vec<Import>,
    parsed: OnceLock<PythonModule>,
    /// Names asked about with [`UnparsedModule::spells`], with the answer:
    /// every analysis asks the same few names of every module, and the
    /// text never changes (an edited file is a new module).
    spelled: std::sync::Mutex<Vec<(String, bool)>>,
}

impl UnparsedModule {
    pub fn new(source: Arc<SourceFile>, imports: Vec<Import>, nested_imports: Vec<Import>) -> Self {
        Self {
            source,
            imports,
            nested_imports,
            parsed: OnceLock::new(),
            spelled: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Whether the text contains `name` anywhere.
    pub fn spells(&self, name: &str) -> bool {
        let mut spelled = self
            .spelled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, found)) = spelled.iter().find(|(n, _)| n == name) {
            return *found;
        }
        let found = self.source.text().contains(name);
        spelled.push((name.to_owned(), found));
        found
    }

    /// The module, parsed by `parse` the first time it is asked for.
    pub fn parsed_with(&self, parse: impl FnOnce(&str) -> PythonModule) -> &PythonModule {
        self.parsed.get_or_init(|| parse(self.source.text()))
    }

    /// Whether evaluation has parsed it.
    pub fn is_parsed(&self) -> bool {
        self.parsed.get().is_some()
    }
}

impl PartialEq for UnparsedModule {
    fn eq(&self, other: &Self) -> bool {
        self.source.path() == other.source.path() && self.source.text() == other.source.text()
    }
}

/// A statement that binds or changes a name, with the branch arms it is in.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    /// The whole statement.
    pub span: Span,
    /// Branch arms from the outermost to the innermost.
    pub guards: Vec<Guard>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `target = value` (also `target: annotation = value`).
    Assign {
        target: AssignTarget,
        value: Expr,
        annotation: Option<Expr>,
    },
    /// `name: annotation` without a value (a pydantic field without default).
    Declare {
        name: String,
        annotation: Expr,
    },
    /// `target op= value`.
    AugAssign {
        target: AssignTarget,
        op: BinOp,
        value: Expr,
    },
    /// `target.update(mapping, **kwargs)` and `target.setdefault(k, v)` as a dict.
    Update {
        target: AssignTarget,
        value: Expr,
        /// `setdefault`: keys the dict already holds keep their value.
        keep_existing: bool,
    },
    Import(Import),
    /// `class Name(...)`: binds the name to `PythonModule::classes[index]`.
    Class {
        name: String,
        index: usize,
    },
    /// `def name(...)`: binds the name to `PythonModule::functions[index]`.
    Function {
        name: String,
        index: usize,
    },
    /// `return value` inside a function body.
    Return {
        value: Option<Expr>,
    },
}

/// What an assignment writes: a name, or a place reached from a name through
/// subscripts and attributes (`DATABASES["default"]["CONN_MAX_AGE"]`,
/// `app.config["SQLALCHEMY_DATABASE_URI"]`).
#[derive(Debug, Clone, PartialEq)]
pub struct AssignTarget {
    pub name: String,
    pub name_span: Span,
    pub path: Vec<Accessor>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Accessor {
    Key(Expr),
    Attr(String),
    /// Every key of the dict, from `for alias in DATABASES: DATABASES[alias][...] = v`.
    EachKey,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    /// The module as written, without leading dots (`sqlalchemy.ext.asyncio`, `base`).
    pub module: String,
    /// Leading dots of a relative import (`from ..x import y` is 2).
    pub level: u32,
    pub kind: ImportKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImportKind {
    /// `import a.b.c` (binds `a`) or `import a.b as x` (binds `x` to `a.b`).
    Module { alias: Option<String> },
    /// `from m import name [as alias]`.
    Names(Vec<ImportedName>),
    /// `from m import *`.
    Star,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportedName {
    pub name: String,
    pub alias: Option<String>,
    pub span: Span,
}

impl ImportedName {
    pub fn bound_name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// One arm of a branch point that a statement depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    /// Index into `PythonModule::branches`.
    pub branch: usize,
    /// Which arm: for `if`, 0 is the `if`, then each `elif`, then `else`; for
    /// `try`, 0 is the `try` body and 1.. the `except` handlers.
    pub arm: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BranchPoint {
    pub kind: BranchKind,
    pub span: Span,
    /// The condition of each arm; `None` for `else` and `except` arms.
    pub conditions: Vec<Option<Expr>>,
    /// True when an `else` arm exists (or, for `try`, always), so some arm always runs.
    pub exhaustive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchKind {
    If,
    Try,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassDef {
    pub name: String,
    pub name_span: Span,
    pub span: Span,
    pub bases: Vec<Expr>,
    /// `metaclass=`, … keywords of the class statement.
    pub keywords: Vec<Keyword>,
    /// Class-level statements in source order.
    pub body: Vec<Stmt>,
    /// Enclosing class, for nested classes (`class Config:` inside a settings class).
    pub parent: Option<usize>,
    /// Enclosing function, for classes defined inside one.
    pub function: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    pub name: String,
    pub name_span: Span,
    pub span: Span,
    pub params: Vec<Param>,
    pub decorators: Vec<Expr>,
    /// Statements of the body (also nested in `if`/`try`/`with`/`for`), in order,
    /// including `return`s. Nested function bodies are not included.
    pub body: Vec<Stmt>,
    /// The class this is a method of.
    pub class: Option<usize>,
    /// The body calls `<something>.dispose(`.
    pub calls_dispose: bool,
    /// The body calls `connections.close_all()` (Django) or `close_old_connections()`.
    pub closes_django_connections: bool,
    /// Last names of the functions the body calls (`_dispose_engines`),
    /// deduplicated; filled for gunicorn server hooks (`post_fork`, …) only.
    pub called: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub default: Option<Expr>,
    pub kind: ParamKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Normal,
    /// `*args`
    VarArgs,
    /// `**kwargs`
    VarKeywords,
}

/// A call whose callee's last name is one poolcheck cares about.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSite {
    /// The call expression (always `ExprKind::Call`).
    pub call: Expr,
    /// Last name of the callee (`create_engine`, `create_pool`, `run`).
    pub callee_name: String,
    /// The enclosing function, if any.
    pub function: Option<usize>,
    /// The enclosing class, if the call is in a class body.
    pub class: Option<usize>,
    /// The name the result is assigned to (`engine = create_engine(...)`, or the
    /// attribute in `self.engine = ...`), else the enclosing function's name.
    pub assigned_to: Option<String>,
    /// Branch arms around the call, outermost first.
    pub guards: Vec<Guard>,
    /// True when the call is the value of a `return` statement.
    pub returned: bool,
}

/// `@event.listens_for(target, "connect")` on a function.
#[derive(Debug, Clone, PartialEq)]
pub struct EventHandlerDef {
    /// The first argument of `listens_for` (`engine`, `engine.sync_engine`, `Engine`).
    pub target: Expr,
    /// The event name (`connect`, `checkout`, `begin`).
    pub event: String,
    pub handler: String,
    /// The decorator.
    pub span: Span,
    /// SQL strings passed to `.execute(` / `.exec_driver_sql(` in the handler body.
    pub statements: Vec<ExecutedSql>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecutedSql {
    /// The string as far as it is literal (f-string holes become `{…}`).
    pub sql: String,
    pub span: Span,
}

/// Connection activity at import time: a later rule (PC401) needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportTimeActivity {
    pub kind: ImportTimeKind,
    pub span: Span,
    /// The expression that receives the call (`engine` in `engine.connect()`).
    pub receiver: Option<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportTimeKind {
    /// `engine.connect()` / `engine.begin()` / `engine.raw_connection()`.
    Connect,
    /// `.execute(` on something at module level.
    Execute,
    /// `metadata.create_all(` / `metadata.reflect(`.
    Metadata,
    /// `ConnectionPool(...)` without `open=False` (psycopg_pool opens on construction).
    OpenedPool,
}

impl ImportTimeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportTimeKind::Connect => "connect",
            ImportTimeKind::Execute => "execute",
            ImportTimeKind::Metadata => "metadata",
            ImportTimeKind::OpenedPool => "opened-pool",
        }
    }
}

/// An expression as written, unevaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Self {
        Self { kind, span }
    }

    /// The dotted name of a `Name`/`Attribute` chain (`sa.pool.NullPool`).
    pub fn dotted_name(&self) -> Option<String> {
        match &self.kind {
            ExprKind::Name(name) => Some(name.clone()),
            ExprKind::Attribute(base, attr) => {
                let mut dotted = base.dotted_name()?;
                dotted.push('.');
                dotted.push_str(attr);
                Some(dotted)
            }
            _ => None,
        }
    }

    /// The last name of a `Name`/`Attribute` chain.
    pub fn last_name(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Name(name) | ExprKind::Attribute(_, name) => Some(name),
            _ => None,
        }
    }

    /// A string literal's value (not an f-string).
    pub fn as_str_literal(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The keyword argument `name` of a call.
    pub fn keyword(&self, name: &str) -> Option<&Keyword> {
        match &self.kind {
            ExprKind::Call { keywords, .. } => {
                keywords.iter().find(|k| k.name.as_deref() == Some(name))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A plain string (concatenations of plain literals are folded).
    Str(String),
    /// An f-string, or a concatenation that contains one.
    FString(Vec<FStringPart>),
    Name(String),
    Attribute(Box<Expr>, String),
    Subscript(Box<Expr>, Box<Expr>),
    Call {
        func: Box<Expr>,
        args: Vec<Arg>,
        keywords: Vec<Keyword>,
    },
    BinOp(Box<Expr>, BinOp, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    /// `a and b`, `a or b`.
    BoolOp(BoolOp, Box<Expr>, Box<Expr>),
    /// `a < b < c`: the first operand and each operator with its right operand.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    /// `body if test else orelse`.
    IfElse {
        test: Box<Expr>,
        body: Box<Expr>,
        orelse: Box<Expr>,
    },
    Dict(Vec<DictItem>),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Lambda,
    /// Anything else (comprehensions, `await`, bytes, …), by tree-sitter kind.
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum FStringPart {
    Literal(String),
    /// `{expr}` with its format spec as written (`:02d`), if any.
    Expr(Expr, Option<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Positional(Expr),
    /// `*args`
    Star(Expr),
}

/// `name=value`, or `**value` when `name` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyword {
    pub name: Option<String>,
    pub value: Expr,
    /// The whole `name=value` (or `**value`).
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DictItem {
    Pair(Expr, Expr),
    /// `**value`
    Spread(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    BitOr,
    BitAnd,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Pos,
    Not,
    Invert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtE,
    Gt,
    GtE,
    In,
    NotIn,
    Is,
    IsNot,
}
