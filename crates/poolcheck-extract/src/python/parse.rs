//! tree-sitter-python syntax tree -> [`PythonModule`] IR.
//!
//! Everything is walked by hand: statements because what matters is their
//! scope and the branch arms around them, and calls of interest and event
//! listeners anywhere in the file by descending only into the nodes that hold
//! a byte search's hit. (Compiled tree-sitter queries did the latter before;
//! compiling them cost half of a small project's run.)

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use poolcheck_core::Span;
use poolcheck_core::facts::python::{
    Accessor, Arg, AssignTarget, BinOp, BoolOp, BranchKind, BranchPoint, CallSite, ClassDef, CmpOp,
    DictItem, EventHandlerDef, ExecutedSql, Expr, ExprKind, FStringPart, FunctionDef, Guard,
    Import, ImportKind, ImportTimeActivity, ImportTimeKind, ImportedName, Keyword, Param,
    ParamKind, PythonModule, Stmt, StmtKind, UnaryOp,
};
use tree_sitter::{Language, Node, Parser, Tree};

use super::nesting::{self, TooDeep};
use super::relocate;

/// Deeper expressions than this become `ExprKind::Other`: configuration never
/// nests this deep, and it keeps generated files from exhausting the stack.
const MAX_EXPR_DEPTH: u32 = 96;
/// Deeper statement nesting is skipped, with a diagnostic, for the same
/// reason. Python itself stops at 100 levels of indentation, which
/// [`nesting::check`] enforces before parsing; error recovery can still nest
/// blocks without indentation.
const MAX_BLOCK_DEPTH: u32 = 100;
/// Assignment targets (`((a, b), c) = …`) nested deeper are not bound.
const MAX_TARGET_DEPTH: u32 = MAX_EXPR_DEPTH;

fn language() -> Language {
    tree_sitter_python::LANGUAGE.into()
}

/// gunicorn server hooks: their `FunctionDef::called` lists are filled.
const GUNICORN_HOOKS: &[&str] = &[
    "post_fork",
    "post_worker_init",
    "pre_fork",
    "when_ready",
    "on_starting",
];

/// The callee names whose calls are read wherever they are, also through
/// import aliases.
const INTERESTING_CALLEES: &[&str] = &[
    "create_engine",
    "create_async_engine",
    "engine_from_config",
    "async_engine_from_config",
    "create_pool",
    "connect",
    "ConnectionPool",
    "AsyncConnectionPool",
    "NullConnectionPool",
    "AsyncNullConnectionPool",
    "SimpleConnectionPool",
    "ThreadedConnectionPool",
    "PersistentConnectionPool",
    "SQLAlchemy",
    "run",
    "autodiscover_tasks",
];

static CALLEE_FINDER: LazyLock<Option<aho_corasick::AhoCorasick>> =
    LazyLock::new(|| aho_corasick::AhoCorasick::new(INTERESTING_CALLEES).ok());

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

pub(crate) fn parse_tree(text: &str) -> Option<Tree> {
    reparse_tree(text, None)
}

/// Parses `text`, reusing the parts of `old` (the tree of the text before,
/// with every edit since recorded by `Tree::edit`) that the edits left alone.
fn reparse_tree(text: &str, old: Option<&Tree>) -> Option<Tree> {
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut parser = Parser::new();
            parser.set_language(&language()).ok()?;
            *slot = Some(parser);
        }
        slot.as_mut()?.parse(text, old)
    })
}

/// Parses `text` into the module IR. Never fails: what tree-sitter could not
/// parse is listed in `syntax_errors` and the rest is kept.
pub fn parse_module(text: &str) -> PythonModule {
    parse_module_reporting(text).0
}

/// [`parse_module`], with what was not read because it nests too deep: the
/// whole file (nothing parsed) or the blocks past [`MAX_BLOCK_DEPTH`].
pub fn parse_module_reporting(text: &str) -> (PythonModule, Vec<TooDeep>) {
    let (module, too_deep, _) = reparse_module(text, None, None);
    (module, too_deep)
}

/// [`parse_module_reporting`] from the edited tree of the previous text (see
/// [`reparse_tree`]), returning the new tree to keep for the next edit. The
/// IR of each top-level statement that `statements` holds from the previous
/// text, unchanged, is reused instead of being rebuilt; `statements` is left
/// holding this text's.
pub(crate) fn reparse_module(
    text: &str,
    old: Option<&Tree>,
    mut statements: Option<&mut StatementCache>,
) -> (PythonModule, Vec<TooDeep>, Option<Tree>) {
    let forget = |statements: Option<&mut StatementCache>| {
        if let Some(statements) = statements {
            *statements = StatementCache::default();
        }
    };
    if let Some(too_deep) = nesting::check(text) {
        forget(statements.as_deref_mut());
        return (PythonModule::default(), vec![too_deep], None);
    }
    let mut tree = reparse_tree(text, old);
    if old.is_some() && tree.as_ref().is_none_or(|t| t.root_node().has_error()) {
        // Around a syntax error, a parse that starts from the old tree can
        // recover differently from a fresh parse of the same text: the
        // text's IR must not depend on the edits that led to it.
        tree = reparse_tree(text, None);
    }
    let Some(tree) = tree else {
        forget(statements.as_deref_mut());
        return (PythonModule::default(), Vec::new(), None);
    };
    let (mut module, too_deep) = build_module(text, tree.root_node(), statements);
    module.shrink_to_fit();
    (module, too_deep, Some(tree))
}

/// The IR of one top-level node of a module (a statement, a comment, or what
/// error recovery left), built alone: its class, function and branch
/// indices count from zero and its spans are positions in the text.
#[derive(Debug, Clone)]
struct Fragment {
    module: PythonModule,
    too_deep: Vec<TooDeep>,
    /// Where the node starts in the text the spans point into.
    start: usize,
}

/// The IR of the top-level statements of a text, by what they were built
/// from, for reuse by the next build of an edited text.
#[derive(Debug, Clone, Default)]
pub(crate) struct StatementCache {
    /// What the fragments were built under.
    context: ModuleContext,
    /// By [`fragment_key`]; a statement written twice has two fragments.
    fragments: HashMap<Vec<u8>, Vec<Fragment>>,
}

/// What a statement's IR depends on outside the statement's own text.
#[derive(Debug, Clone, Default, PartialEq)]
struct ModuleContext {
    /// The text mentions django-split-settings: `include(...)` calls are read.
    split_settings: bool,
    /// Import aliases of the calls of interest (`create_engine as ce`), in
    /// the order the module binds them.
    aliases: Vec<(String, String)>,
}

/// A node's kind, and its text with the byte before and after it: the byte
/// search for callee names looks at them to find where a name ends (0xFF,
/// never in UTF-8, stands for the text's edge). The same text can be a
/// statement or, beside a syntax error, a bare expression.
fn fragment_key(src: &[u8], node: Node<'_>) -> Vec<u8> {
    let range = node.byte_range();
    let mut key = Vec::with_capacity(range.len() + 4);
    key.extend_from_slice(&node.kind_id().to_le_bytes());
    key.push(range.start.checked_sub(1).map_or(0xFF, |i| src[i]));
    key.extend_from_slice(&src[range.clone()]);
    key.push(src.get(range.end).copied().unwrap_or(0xFF));
    key
}

/// A top-level node's fragment while a module is built: taken from the
/// previous text, or being built (its statements read, its calls not yet).
enum Part<'s> {
    Reused(Box<Fragment>),
    Fresh(Box<Builder<'s>>),
}

/// The module IR of `root`, one top-level node at a time so that each
/// node's IR can be kept for the next edit: the result is the same as
/// building the whole tree at once, and a node whose text (and context) is
/// unchanged since `statements` was filled is not read again.
fn build_module(
    text: &str,
    root: Node<'_>,
    mut statements: Option<&mut StatementCache>,
) -> (PythonModule, Vec<TooDeep>) {
    let src = text.as_bytes();
    let split_settings = memchr::memmem::find(src, b"split_settings").is_some();
    let mut previous = statements
        .as_deref_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    if previous.context.split_settings != split_settings {
        previous.fragments.clear();
    }
    let children = all_children(root);
    let mut parts: Vec<(Node<'_>, Option<Vec<u8>>, Part<'_>)> = Vec::with_capacity(children.len());
    for child in children {
        // A node with a syntax error may read differently beside other
        // text: only clean statements are reused.
        let key = (statements.is_some() && !child.has_error()).then(|| fragment_key(src, child));
        let reused = key
            .as_ref()
            .and_then(|key| previous.fragments.get_mut(key))
            .and_then(Vec::pop);
        let part = if let Some(mut fragment) = reused {
            shift_fragment(&mut fragment, child.start_byte());
            Part::Reused(Box::new(fragment))
        } else {
            let mut builder = Box::new(Builder::new(src, split_settings));
            builder.depth = 1;
            if child.is_named() && child.kind() != "comment" {
                builder.statement(child, Scope::Module);
            }
            Part::Fresh(builder)
        };
        parts.push((child, key, part));
    }
    let aliases = aliased_callees(parts.iter().map(|(_, _, part)| match part {
        Part::Reused(fragment) => &fragment.module,
        Part::Fresh(builder) => &builder.module,
    }));
    let context = ModuleContext {
        split_settings,
        aliases,
    };
    let reused_any = parts.iter().any(|(_, _, p)| matches!(p, Part::Reused(_)));
    if reused_any && context.aliases != previous.context.aliases {
        // The calls of every statement may read differently: build anew
        // (`statements` is empty now, so nothing is reused).
        return build_module(text, root, statements);
    }
    let mut module = PythonModule::default();
    let mut too_deep = Vec::new();
    let mut kept: HashMap<Vec<u8>, Vec<Fragment>> = HashMap::new();
    for (child, key, part) in parts {
        let fragment = match part {
            Part::Reused(fragment) => *fragment,
            Part::Fresh(mut builder) => {
                builder.collect_errors_in(child);
                builder.collect_calls(child, &context.aliases);
                if memchr::memmem::find(&src[child.byte_range()], b"listens_for").is_some() {
                    builder.collect_event_handlers(child);
                }
                Fragment {
                    module: builder.module,
                    too_deep: builder.too_deep,
                    start: child.start_byte(),
                }
            }
        };
        match key {
            Some(key) => {
                append_fragment(&mut module, &mut too_deep, fragment.clone());
                kept.entry(key).or_default().push(fragment);
            }
            // Nothing is kept (a whole file read once, or a statement with a
            // syntax error): the fragment moves into the module.
            None => append_fragment(&mut module, &mut too_deep, fragment),
        }
    }
    module.syntax_errors.sort();
    if let Some(statements) = statements {
        *statements = StatementCache {
            context,
            fragments: kept,
        };
    }
    (module, too_deep)
}

/// Moves a fragment built for a node at `fragment.start` to a node with the
/// same text at `start`.
fn shift_fragment(fragment: &mut Fragment, start: usize) {
    let delta = start as i64 - fragment.start as i64;
    relocate::shift_spans(&mut fragment.module, &mut fragment.too_deep, delta);
    fragment.start = start;
}

fn append_fragment(module: &mut PythonModule, too_deep: &mut Vec<TooDeep>, fragment: Fragment) {
    relocate::append(module, fragment.module);
    too_deep.extend(fragment.too_deep);
}

/// The import aliases of the callees of interest (`from sqlalchemy import
/// create_engine as ce` gives `("ce", "create_engine")`) that the module-level
/// statements of `parts`, in order, bind.
fn aliased_callees<'m>(parts: impl Iterator<Item = &'m PythonModule>) -> Vec<(String, String)> {
    parts
        .flat_map(|part| &part.body)
        .filter_map(|s| match &s.kind {
            StmtKind::Import(Import {
                kind: ImportKind::Names(names),
                ..
            }) => Some(names),
            _ => None,
        })
        .flatten()
        .filter(|n| INTERESTING_CALLEES.contains(&n.name.as_str()))
        .filter_map(|n| n.alias.clone().map(|a| (a, n.name.clone())))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Module,
    Class(usize),
    Function(usize),
}

struct Builder<'s> {
    src: &'s [u8],
    /// The text mentions django-split-settings (see `split_settings_include`).
    split_settings: bool,
    module: PythonModule,
    guards: Vec<Guard>,
    /// Byte ranges of guarded blocks with the guard stack inside them.
    guarded_ranges: Vec<(Span, Vec<Guard>)>,
    function_ranges: Vec<(Span, usize)>,
    class_ranges: Vec<(Span, usize)>,
    depth: u32,
    /// Blocks skipped for their depth (the first of each run).
    too_deep: Vec<TooDeep>,
}

fn span_of(node: Node<'_>) -> Span {
    Span::new(node.start_byte(), node.end_byte())
}

/// Visits `node` and its descendants in document order without allocating;
/// `enter` decides whether to descend into a node.
fn walk_descendants<'t>(node: Node<'t>, mut enter: impl FnMut(Node<'t>) -> bool) {
    let mut cursor = node.walk();
    loop {
        let current = cursor.node();
        if enter(current) && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node().id() == node.id() {
                return;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

/// Whether the node's text contains any of `needles`.
fn mentions(src: &[u8], node: Node<'_>, needles: &[&str]) -> bool {
    let text = &src[node.byte_range()];
    needles
        .iter()
        .any(|n| memchr::memmem::find(text, n.as_bytes()).is_some())
}

fn named_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|child| child.kind() != "comment")
        .collect()
}

fn all_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.children(&mut cursor).collect()
}

impl<'s> Builder<'s> {
    fn new(src: &'s [u8], split_settings: bool) -> Self {
        Self {
            src,
            split_settings,
            module: PythonModule::default(),
            guards: Vec::new(),
            guarded_ranges: Vec::new(),
            function_ranges: Vec::new(),
            class_ranges: Vec::new(),
            depth: 0,
            too_deep: Vec::new(),
        }
    }

    fn text(&self, node: Node<'_>) -> &'s str {
        std::str::from_utf8(&self.src[node.byte_range()]).unwrap_or("")
    }

    /// The error and missing nodes in `node`, unsorted.
    fn collect_errors_in(&mut self, node: Node<'_>) {
        if !node.has_error() {
            return;
        }
        let mut stack = vec![node];
        while let Some(node) = stack.pop() {
            if node.is_error() || node.is_missing() {
                self.module.syntax_errors.push(span_of(node));
                continue;
            }
            if node.has_error() {
                stack.extend(all_children(node));
            }
        }
    }

    fn push_stmt(&mut self, scope: Scope, kind: StmtKind, span: Span) {
        let stmt = Stmt {
            kind,
            span,
            guards: self.guards.clone(),
        };
        match scope {
            Scope::Module => self.module.body.push(stmt),
            Scope::Class(index) => self.module.classes[index].body.push(stmt),
            Scope::Function(index) => self.module.functions[index].body.push(stmt),
        }
    }

    fn block(&mut self, node: Node<'_>, scope: Scope) {
        if self.depth > MAX_BLOCK_DEPTH {
            let span = span_of(node);
            if !self.too_deep.iter().any(|t| t.span.cover(span) == t.span) {
                self.too_deep.push(TooDeep {
                    span,
                    message: format!(
                        "statements nested more than {MAX_BLOCK_DEPTH} blocks deep; poolcheck does not read them"
                    ),
                });
            }
            return;
        }
        self.depth += 1;
        for child in named_children(node) {
            self.statement(child, scope);
        }
        self.depth -= 1;
    }

    fn guarded_block(&mut self, node: Node<'_>, scope: Scope, guard: Guard) {
        self.guards.push(guard);
        self.guarded_ranges
            .push((span_of(node), self.guards.clone()));
        self.block(node, scope);
        self.guards.pop();
    }

    fn statement(&mut self, node: Node<'_>, scope: Scope) {
        match node.kind() {
            "expression_statement" => {
                for child in named_children(node) {
                    self.expression_statement(child, scope, node);
                }
            }
            "import_statement" => self.import_statement(node, scope),
            "import_from_statement" => self.import_from(node, scope),
            "if_statement" => self.if_statement(node, scope),
            "match_statement" => self.match_statement(node, scope),
            "try_statement" => self.try_statement(node, scope),
            "with_statement" => {
                if scope == Scope::Module {
                    self.scan_import_time(node);
                }
                if let Some(body) = node.child_by_field_name("body") {
                    self.block(body, scope);
                }
            }
            "for_statement" => self.for_statement(node, scope),
            "while_statement" => {
                if let Some(body) = node.child_by_field_name("body") {
                    self.block(body, scope);
                }
            }
            "function_definition" => self.function_definition(node, scope, Vec::new()),
            "class_definition" => self.class_definition(node, scope),
            "decorated_definition" => self.decorated_definition(node, scope),
            "return_statement" => {
                if let Scope::Function(_) = scope {
                    let value = named_children(node).first().map(|v| self.expr(*v));
                    self.push_stmt(scope, StmtKind::Return { value }, span_of(node));
                }
            }
            // Recover what a syntax error wraps: statements inside an ERROR
            // node are still statements.
            "ERROR" | "block" => self.block(node, scope),
            _ => {}
        }
    }

    fn expression_statement(&mut self, node: Node<'_>, scope: Scope, stmt: Node<'_>) {
        if scope == Scope::Module {
            self.scan_import_time(node);
        }
        match node.kind() {
            "assignment" => self.assignment(node, scope, span_of(stmt)),
            "augmented_assignment" => {
                let (Some(left), Some(right)) = (
                    node.child_by_field_name("left"),
                    node.child_by_field_name("right"),
                ) else {
                    return;
                };
                let Some(target) = self.assign_target(left) else {
                    return;
                };
                let op_text = node
                    .child_by_field_name("operator")
                    .map_or("", |op| self.text(op));
                let op = binop(op_text.trim_end_matches('='));
                let value = self.expr(right);
                self.push_stmt(
                    scope,
                    StmtKind::AugAssign { target, op, value },
                    span_of(stmt),
                );
            }
            "call" => self.mutating_call(node, scope, span_of(stmt)),
            _ => {}
        }
    }

    /// django-split-settings' `include("base.py", optional("local.py"))`:
    /// the files run in this module's namespace, in order, which reads like
    /// `from .base import *` for each (an absent optional file is skipped
    /// by the import resolution). Glob patterns are not followed.
    fn split_settings_include(&mut self, node: Node<'_>, scope: Scope, span: Span) -> bool {
        let call = self.expr(node);
        let ExprKind::Call { func, args, .. } = &call.kind else {
            return false;
        };
        if !matches!(&func.kind, ExprKind::Name(n) if n == "include") {
            return false;
        }
        let mut files = Vec::new();
        for arg in args {
            let Arg::Positional(e) = arg else { continue };
            let file = match &e.kind {
                ExprKind::Str(s) => Some((s.clone(), e.span)),
                ExprKind::Call { func, args, .. } if matches!(&func.kind, ExprKind::Name(n) if n == "optional") => {
                    match args.first() {
                        Some(Arg::Positional(Expr {
                            kind: ExprKind::Str(s),
                            span,
                        })) => Some((s.clone(), *span)),
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(file) = file {
                files.push(file);
            }
        }
        if files.is_empty() {
            return false;
        }
        // Each file's import sits on its name, so a later file sees the
        // names the earlier ones bound (see `Evaluator::included_by`).
        let _ = span;
        for (file, span) in files {
            let Some(stem) = file.strip_suffix(".py") else {
                continue;
            };
            if stem.contains('*') || stem.starts_with('/') || stem.contains("..") {
                continue;
            }
            let module = stem.trim_start_matches("./").replace('/', ".");
            self.push_stmt(
                scope,
                StmtKind::Import(Import {
                    module,
                    level: 1,
                    kind: ImportKind::Star,
                }),
                span,
            );
        }
        true
    }

    /// `X.update({...})`, `X.update(k=v)`, `X.setdefault("k", v)`, `X["a"].update(...)`.
    fn mutating_call(&mut self, node: Node<'_>, scope: Scope, span: Span) {
        if self.split_settings && self.split_settings_include(node, scope, span) {
            return;
        }
        let Some(func) = node.child_by_field_name("function") else {
            return;
        };
        if func.kind() != "attribute" {
            return;
        }
        let (Some(object), Some(method)) = (
            func.child_by_field_name("object"),
            func.child_by_field_name("attribute"),
        ) else {
            return;
        };
        let method = self.text(method);
        if method != "update" && method != "setdefault" {
            return;
        }
        let Some(target) = self.assign_target(object) else {
            return;
        };
        let call = self.expr(node);
        let ExprKind::Call { args, keywords, .. } = call.kind else {
            return;
        };
        if method == "setdefault" {
            // setdefault only sets a missing key: an update that keeps what
            // the dict (a caller's `**kwargs`, say) already holds.
            if let [Arg::Positional(key), Arg::Positional(value)] = args.as_slice() {
                let value = Expr::new(
                    ExprKind::Dict(vec![DictItem::Pair(key.clone(), value.clone())]),
                    call.span,
                );
                self.push_stmt(
                    scope,
                    StmtKind::Update {
                        target,
                        value,
                        keep_existing: true,
                    },
                    span,
                );
            }
            return;
        }
        let mut items = Vec::new();
        for arg in args {
            if let Arg::Positional(value) = arg {
                items.push(DictItem::Spread(value));
            }
        }
        for keyword in keywords {
            match keyword.name {
                Some(name) => {
                    let key_span = Span::new(
                        keyword.span.start as usize,
                        keyword.span.start as usize + name.len(),
                    );
                    items.push(DictItem::Pair(
                        Expr::new(ExprKind::Str(name), key_span),
                        keyword.value,
                    ));
                }
                None => items.push(DictItem::Spread(keyword.value)),
            }
        }
        let value = Expr::new(ExprKind::Dict(items), call.span);
        self.push_stmt(
            scope,
            StmtKind::Update {
                target,
                value,
                keep_existing: false,
            },
            span,
        );
    }

    fn assignment(&mut self, node: Node<'_>, scope: Scope, span: Span) {
        // `a = b = value`: every target gets the innermost value.
        let mut targets = Vec::new();
        let mut current = node;
        let mut annotation = None;
        loop {
            if let Some(left) = current.child_by_field_name("left") {
                targets.push(left);
            }
            if annotation.is_none() {
                annotation = current
                    .child_by_field_name("type")
                    .map(|ty| self.type_expr(ty));
            }
            match current.child_by_field_name("right") {
                Some(right) if right.kind() == "assignment" => current = right,
                Some(right) => {
                    let value = self.expr(right);
                    for left in targets {
                        self.bind_pattern(left, &value, annotation.clone(), scope, span, 0);
                    }
                    return;
                }
                None => {
                    // `name: annotation` without a value.
                    if let (Some(left), Some(annotation)) = (targets.first(), annotation)
                        && left.kind() == "identifier"
                    {
                        let name = self.text(*left).to_owned();
                        self.push_stmt(scope, StmtKind::Declare { name, annotation }, span);
                    }
                    return;
                }
            }
        }
    }

    fn bind_pattern(
        &mut self,
        left: Node<'_>,
        value: &Expr,
        annotation: Option<Expr>,
        scope: Scope,
        span: Span,
        depth: u32,
    ) {
        match left.kind() {
            // Deeper targets bind nothing: a later use of their names is
            // unknown, which PC004 reports where it matters.
            "pattern_list" | "tuple_pattern" | "list_pattern" if depth >= MAX_TARGET_DEPTH => {}
            "pattern_list" | "tuple_pattern" | "list_pattern" => {
                let parts = named_children(left);
                let values = match &value.kind {
                    ExprKind::Tuple(items) | ExprKind::List(items)
                        if items.len() == parts.len() =>
                    {
                        Some(items.clone())
                    }
                    _ => None,
                };
                // After a `*rest` target, positions no longer match indexes.
                let starred = parts.iter().any(|p| p.kind() == "list_splat_pattern");
                for (index, part) in parts.into_iter().enumerate() {
                    let item = match (&values, &value.kind) {
                        (Some(values), _) => values[index].clone(),
                        // `session, engine = make_engine(url)`: the call's
                        // result by position, so a factory returning a tuple
                        // is followed like one returning a value.
                        (None, ExprKind::Call { .. }) if !starred => Expr::new(
                            ExprKind::Subscript(
                                Box::new(value.clone()),
                                Box::new(Expr::new(ExprKind::Int(index as i64), value.span)),
                            ),
                            value.span,
                        ),
                        (None, _) => Expr::new(ExprKind::Other("unpacking".into()), value.span),
                    };
                    self.bind_pattern(part, &item, None, scope, span, depth + 1);
                }
            }
            _ => {
                if let Some(target) = self.assign_target(left) {
                    self.push_stmt(
                        scope,
                        StmtKind::Assign {
                            target,
                            value: value.clone(),
                            annotation,
                        },
                        span,
                    );
                }
            }
        }
    }

    /// `name`, `name[k1][k2]`, `name.attr["k"]`.
    fn assign_target(&self, node: Node<'_>) -> Option<AssignTarget> {
        let mut path = Vec::new();
        let mut current = node;
        loop {
            match current.kind() {
                "identifier" => {
                    path.reverse();
                    return Some(AssignTarget {
                        name: self.text(current).to_owned(),
                        name_span: span_of(current),
                        path,
                    });
                }
                "subscript" => {
                    let key = current.child_by_field_name("subscript")?;
                    path.push(Accessor::Key(self.expr(key)));
                    current = current.child_by_field_name("value")?;
                }
                "attribute" => {
                    let attr = current.child_by_field_name("attribute")?;
                    path.push(Accessor::Attr(self.text(attr).to_owned()));
                    current = current.child_by_field_name("object")?;
                }
                "parenthesized_expression" => current = *named_children(current).first()?,
                _ => return None,
            }
        }
    }

    fn import_statement(&mut self, node: Node<'_>, scope: Scope) {
        for child in named_children(node) {
            let (name, alias) = match child.kind() {
                "dotted_name" => (self.text(child).to_owned(), None),
                "aliased_import" => {
                    let Some(name) = child.child_by_field_name("name") else {
                        continue;
                    };
                    let alias = child
                        .child_by_field_name("alias")
                        .map(|a| self.text(a).to_owned());
                    (self.text(name).to_owned(), alias)
                }
                _ => continue,
            };
            self.push_stmt(
                scope,
                StmtKind::Import(Import {
                    module: name,
                    level: 0,
                    kind: ImportKind::Module { alias },
                }),
                span_of(child),
            );
        }
    }

    fn import_from(&mut self, node: Node<'_>, scope: Scope) {
        let Some(module_node) = node.child_by_field_name("module_name") else {
            return;
        };
        let (module, level) = if module_node.kind() == "relative_import" {
            let mut level = 0;
            let mut module = String::new();
            for child in all_children(module_node) {
                match child.kind() {
                    "import_prefix" => {
                        level = self.text(child).chars().filter(|c| *c == '.').count() as u32;
                    }
                    "dotted_name" => self.text(child).clone_into(&mut module),
                    _ => {}
                }
            }
            (module, level)
        } else {
            (self.text(module_node).to_owned(), 0)
        };
        let mut names = Vec::new();
        let mut star = false;
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if child.kind() == "wildcard_import" {
                star = true;
            }
        }
        let mut cursor = node.walk();
        for child in node.children_by_field_name("name", &mut cursor) {
            match child.kind() {
                "dotted_name" => names.push(ImportedName {
                    name: self.text(child).to_owned(),
                    alias: None,
                    span: span_of(child),
                }),
                "aliased_import" => {
                    if let Some(name) = child.child_by_field_name("name") {
                        names.push(ImportedName {
                            name: self.text(name).to_owned(),
                            alias: child
                                .child_by_field_name("alias")
                                .map(|a| self.text(a).to_owned()),
                            span: span_of(child),
                        });
                    }
                }
                _ => {}
            }
        }
        let kind = if star {
            ImportKind::Star
        } else {
            ImportKind::Names(names)
        };
        self.push_stmt(
            scope,
            StmtKind::Import(Import {
                module,
                level,
                kind,
            }),
            span_of(node),
        );
    }

    fn new_branch(&mut self, kind: BranchKind, node: Node<'_>) -> usize {
        self.module.branches.push(BranchPoint {
            kind,
            span: span_of(node),
            conditions: Vec::new(),
            exhaustive: kind == BranchKind::Try,
        });
        self.module.branches.len() - 1
    }

    fn if_statement(&mut self, node: Node<'_>, scope: Scope) {
        if let Some(condition) = node.child_by_field_name("condition") {
            self.walrus_bindings(condition, scope);
        }
        let branch = self.new_branch(BranchKind::If, node);
        let condition = node.child_by_field_name("condition").map(|c| self.expr(c));
        self.module.branches[branch].conditions.push(condition);
        if let Some(body) = node.child_by_field_name("consequence") {
            self.guarded_block(body, scope, Guard { branch, arm: 0 });
        }
        let mut cursor = node.walk();
        let alternatives: Vec<Node<'_>> = node
            .children_by_field_name("alternative", &mut cursor)
            .collect();
        for alternative in alternatives {
            let arm = self.module.branches[branch].conditions.len();
            match alternative.kind() {
                "elif_clause" => {
                    if let Some(condition) = alternative.child_by_field_name("condition") {
                        self.walrus_bindings(condition, scope);
                    }
                    let condition = alternative
                        .child_by_field_name("condition")
                        .map(|c| self.expr(c));
                    self.module.branches[branch].conditions.push(condition);
                    if let Some(body) = alternative.child_by_field_name("consequence") {
                        self.guarded_block(body, scope, Guard { branch, arm });
                    }
                }
                "else_clause" => {
                    self.module.branches[branch].conditions.push(None);
                    self.module.branches[branch].exhaustive = true;
                    if let Some(body) = alternative.child_by_field_name("body") {
                        self.guarded_block(body, scope, Guard { branch, arm });
                    }
                }
                _ => {}
            }
        }
    }

    /// `if (size := getenv("POOL")) is not None:` binds `size` whichever arm
    /// runs: an assignment just before the branch.
    fn walrus_bindings(&mut self, condition: Node<'_>, scope: Scope) {
        if condition.kind() == "named_expression" {
            if let (Some(name), Some(value)) = (
                condition.child_by_field_name("name"),
                condition.child_by_field_name("value"),
            ) && let Some(target) = self.assign_target(name)
            {
                let value = self.expr(value);
                self.push_stmt(
                    scope,
                    StmtKind::Assign {
                        target,
                        value,
                        annotation: None,
                    },
                    span_of(condition),
                );
            }
            return;
        }
        for child in named_children(condition) {
            // A comprehension's or lambda's names are its own.
            if !matches!(
                child.kind(),
                "lambda"
                    | "list_comprehension"
                    | "dictionary_comprehension"
                    | "set_comprehension"
                    | "generator_expression"
            ) {
                self.walrus_bindings(child, scope);
            }
        }
    }

    /// `match subject: case …:` is an `if`/`elif` chain on `subject == literal`
    /// (settings that pick a database engine by name); a wildcard or capture
    /// arm is the `else`, and any other pattern is a condition not evaluated.
    fn match_statement(&mut self, node: Node<'_>, scope: Scope) {
        let branch = self.new_branch(BranchKind::If, node);
        let subject = node.child_by_field_name("subject").map(|s| self.expr(s));
        let Some(body) = node.child_by_field_name("body") else {
            return;
        };
        let mut cursor = body.walk();
        let clauses: Vec<Node<'_>> = body
            .children_by_field_name("alternative", &mut cursor)
            .collect();
        for clause in clauses {
            let arm = self.module.branches[branch].conditions.len();
            let patterns: Vec<Node<'_>> = named_children(clause)
                .into_iter()
                .filter(|c| c.kind() == "case_pattern")
                .collect();
            let pattern = match (patterns.as_slice(), subject.as_ref()) {
                ([single], Some(subject)) => self.case_condition(subject, *single),
                _ => Some(Expr::new(
                    ExprKind::Other("case_pattern".into()),
                    span_of(clause),
                )),
            };
            let guard = clause
                .child_by_field_name("guard")
                .and_then(|g| named_children(g).first().map(|e| self.expr(*e)));
            let condition = match (pattern, guard) {
                (Some(pattern), Some(guard)) => {
                    let span = pattern.span;
                    Some(Expr::new(
                        ExprKind::BoolOp(BoolOp::And, Box::new(pattern), Box::new(guard)),
                        span,
                    ))
                }
                (pattern, guard) => pattern.or(guard),
            };
            if condition.is_none() {
                self.module.branches[branch].exhaustive = true;
            }
            self.module.branches[branch].conditions.push(condition);
            if let Some(consequence) = clause.child_by_field_name("consequence") {
                self.guarded_block(consequence, scope, Guard { branch, arm });
            }
        }
    }

    /// The condition under which `case pattern` matches `subject`; `None` for
    /// an irrefutable pattern (`_` or a bare capture name).
    fn case_condition(&self, subject: &Expr, pattern: Node<'_>) -> Option<Expr> {
        let span = span_of(pattern);
        let children = named_children(pattern);
        // `case _:` has no named child: irrefutable.
        let inner = children.first()?;
        let literal = |node: Node<'_>| -> Expr {
            let value = match node.kind() {
                "string"
                | "concatenated_string"
                | "integer"
                | "float"
                | "true"
                | "false"
                | "none" => self.expr(node),
                // `case Engine.POSTGRES:` compares with that value.
                "dotted_name" if named_children(node).len() > 1 => {
                    let mut parts = named_children(node).into_iter();
                    let first = parts.next().map_or_else(
                        || Expr::new(ExprKind::Other("dotted_name".into()), span_of(node)),
                        |n| self.expr(n),
                    );
                    parts.fold(first, |object, attr| {
                        let span =
                            Span::new(object.span.start as usize, span_of(attr).end as usize);
                        Expr::new(
                            ExprKind::Attribute(Box::new(object), self.text(attr).to_owned()),
                            span,
                        )
                    })
                }
                _ => return Expr::new(ExprKind::Other("case_pattern".into()), span_of(node)),
            };
            Expr::new(
                ExprKind::Compare(Box::new(subject.clone()), vec![(CmpOp::Eq, value)]),
                span_of(node),
            )
        };
        match inner.kind() {
            "dotted_name" if named_children(*inner).len() == 1 && children.len() == 1 => None,
            "union_pattern" => {
                let mut alternatives = named_children(*inner).into_iter().map(literal);
                let first = alternatives.next()?;
                Some(alternatives.fold(first, |left, right| {
                    Expr::new(
                        ExprKind::BoolOp(BoolOp::Or, Box::new(left), Box::new(right)),
                        span,
                    )
                }))
            }
            _ if children.len() == 1 => Some(literal(*inner)),
            _ => Some(Expr::new(ExprKind::Other("case_pattern".into()), span)),
        }
    }

    fn try_statement(&mut self, node: Node<'_>, scope: Scope) {
        let branch = self.new_branch(BranchKind::Try, node);
        self.module.branches[branch].conditions.push(None);
        if let Some(body) = node.child_by_field_name("body") {
            self.guarded_block(body, scope, Guard { branch, arm: 0 });
        }
        for child in named_children(node) {
            match child.kind() {
                "except_clause" | "except_group_clause" => {
                    let arm = self.module.branches[branch].conditions.len();
                    self.module.branches[branch].conditions.push(None);
                    if let Some(body) = named_children(child)
                        .into_iter()
                        .find(|c| c.kind() == "block")
                    {
                        self.guarded_block(body, scope, Guard { branch, arm });
                    }
                }
                // `else:` runs when the try body did not raise: same arm.
                "else_clause" => {
                    if let Some(body) = child.child_by_field_name("body") {
                        self.guarded_block(body, scope, Guard { branch, arm: 0 });
                    }
                }
                "finally_clause" => {
                    if let Some(body) = named_children(child)
                        .into_iter()
                        .find(|c| c.kind() == "block")
                    {
                        self.block(body, scope);
                    }
                }
                _ => {}
            }
        }
    }

    fn for_statement(&mut self, node: Node<'_>, scope: Scope) {
        let Some(body) = node.child_by_field_name("body") else {
            return;
        };
        // `for alias in DATABASES: DATABASES[alias][K] = v`,
        // `for db in DATABASES.values(): db[K] = v` and
        // `for alias, db in DATABASES.items(): db[K] = v` set K on every entry.
        let iteration = node.child_by_field_name("right").and_then(|r| {
            let e = self.expr(r);
            match e.kind {
                ExprKind::Name(n) => Some((n, "keys".to_owned())),
                ExprKind::Call { func, args, .. } if args.is_empty() => match func.kind {
                    ExprKind::Attribute(base, method)
                        if matches!(method.as_str(), "keys" | "values" | "items") =>
                    {
                        match base.kind {
                            ExprKind::Name(n) => Some((n, method)),
                            _ => None,
                        }
                    }
                    _ => None,
                },
                _ => None,
            }
        });
        let left = node.child_by_field_name("left");
        let identifier = |n: Node<'_>| (n.kind() == "identifier").then(|| self.text(n).to_owned());
        // The loop variable that holds the key, and the one that holds the value.
        let (key_var, value_var) = match (left, iteration.as_ref().map(|(_, m)| m.as_str())) {
            (Some(l), Some("keys")) => (identifier(l), None),
            (Some(l), Some("values")) => (None, identifier(l)),
            (Some(l), Some("items")) if matches!(l.kind(), "pattern_list" | "tuple_pattern") => {
                let parts = named_children(l);
                match parts.as_slice() {
                    [k, v] => (identifier(*k), identifier(*v)),
                    _ => (None, None),
                }
            }
            _ => (None, None),
        };
        let before = scope_len(&self.module, scope);
        self.block(body, scope);
        let Some((iterated, _)) = iteration else {
            return;
        };
        let stmts: &mut Vec<Stmt> = match scope {
            Scope::Module => &mut self.module.body,
            Scope::Class(i) => &mut self.module.classes[i].body,
            Scope::Function(i) => &mut self.module.functions[i].body,
        };
        for stmt in stmts.iter_mut().skip(before) {
            let is_update = matches!(stmt.kind, StmtKind::Update { .. });
            let (StmtKind::Assign { target, .. }
            | StmtKind::Update { target, .. }
            | StmtKind::AugAssign { target, .. }) = &mut stmt.kind
            else {
                continue;
            };
            // Rebinding the loop variable itself changes nothing in the dict.
            if target.path.is_empty() && !is_update {
                continue;
            }
            if value_var.as_deref() == Some(target.name.as_str()) {
                target.name.clone_from(&iterated);
                target.path.insert(0, Accessor::EachKey);
            } else if target.name == iterated
                && let Some(Accessor::Key(key)) = target.path.first()
                && matches!(&key.kind, ExprKind::Name(n) if Some(n) == key_var.as_ref())
            {
                target.path[0] = Accessor::EachKey;
            }
        }
    }

    fn decorated_definition(&mut self, node: Node<'_>, scope: Scope) {
        let decorators: Vec<Expr> = named_children(node)
            .into_iter()
            .filter(|c| c.kind() == "decorator")
            .filter_map(|d| named_children(d).first().map(|e| self.expr(*e)))
            .collect();
        let Some(definition) = node.child_by_field_name("definition") else {
            return;
        };
        match definition.kind() {
            "function_definition" => self.function_definition(definition, scope, decorators),
            "class_definition" => self.class_definition(definition, scope),
            _ => {}
        }
    }

    fn function_definition(&mut self, node: Node<'_>, scope: Scope, decorators: Vec<Expr>) {
        let Some(name_node) = node.child_by_field_name("name") else {
            return;
        };
        let name = self.text(name_node).to_owned();
        if let Scope::Function(_) = scope {
            // Nested functions are not evaluated; their calls are still found
            // by the calls query and attributed to the outer function.
            return;
        }
        let params = node
            .child_by_field_name("parameters")
            .map(|p| self.parameters(p))
            .unwrap_or_default();
        let (calls_dispose, closes_django_connections, called) = node
            .child_by_field_name("body")
            .map_or((false, false, Vec::new()), |body| {
                self.lifecycle_calls(body, GUNICORN_HOOKS.contains(&name.as_str()))
            });
        let index = self.module.functions.len();
        self.module.functions.push(FunctionDef {
            name: name.clone(),
            name_span: span_of(name_node),
            span: span_of(node),
            params,
            decorators,
            body: Vec::new(),
            class: match scope {
                Scope::Class(i) => Some(i),
                _ => None,
            },
            calls_dispose,
            closes_django_connections,
            called,
        });
        self.function_ranges.push((span_of(node), index));
        self.push_stmt(scope, StmtKind::Function { name, index }, span_of(node));
        if let Some(body) = node.child_by_field_name("body") {
            let saved = std::mem::take(&mut self.guards);
            self.block(body, Scope::Function(index));
            self.guards = saved;
        }
    }

    fn parameters(&self, node: Node<'_>) -> Vec<Param> {
        let mut params = Vec::new();
        for child in named_children(node) {
            let (name, default, kind) = match child.kind() {
                "identifier" => (self.text(child).to_owned(), None, ParamKind::Normal),
                "default_parameter" | "typed_default_parameter" => {
                    let Some(name) = child.child_by_field_name("name") else {
                        continue;
                    };
                    (
                        self.text(name).to_owned(),
                        child.child_by_field_name("value").map(|v| self.expr(v)),
                        ParamKind::Normal,
                    )
                }
                "typed_parameter" => {
                    let Some(inner) = named_children(child).into_iter().next() else {
                        continue;
                    };
                    match inner.kind() {
                        "identifier" => (self.text(inner).to_owned(), None, ParamKind::Normal),
                        "list_splat_pattern" => (
                            self.text(inner).trim_start_matches('*').to_owned(),
                            None,
                            ParamKind::VarArgs,
                        ),
                        "dictionary_splat_pattern" => (
                            self.text(inner).trim_start_matches('*').to_owned(),
                            None,
                            ParamKind::VarKeywords,
                        ),
                        _ => continue,
                    }
                }
                "list_splat_pattern" => (
                    self.text(child).trim_start_matches('*').to_owned(),
                    None,
                    ParamKind::VarArgs,
                ),
                "dictionary_splat_pattern" => (
                    self.text(child).trim_start_matches('*').to_owned(),
                    None,
                    ParamKind::VarKeywords,
                ),
                _ => continue,
            };
            params.push(Param {
                name,
                default,
                kind,
            });
        }
        params
    }

    /// Whether a function body calls `.dispose(` or closes Django's connections,
    /// and the names it calls.
    fn lifecycle_calls(&self, body: Node<'_>, want_called: bool) -> (bool, bool, Vec<String>) {
        let mut dispose = false;
        let mut close = false;
        let mut called: Vec<String> = Vec::new();
        if !want_called
            && !mentions(
                self.src,
                body,
                &["dispose", "close_all", "close_old_connections"],
            )
        {
            return (false, false, called);
        }
        walk_descendants(body, |node| {
            if node.kind() == "call"
                && let Some(func) = node.child_by_field_name("function")
            {
                let text = self.text(func);
                let last = text.rsplit('.').next().unwrap_or(text);
                if want_called && !called.iter().any(|c| c == last) {
                    called.push(last.to_owned());
                }
                if last == "dispose" {
                    dispose = true;
                }
                if text.ends_with("connections.close_all") || last == "close_old_connections" {
                    close = true;
                }
            }
            true
        });
        (dispose, close, called)
    }

    fn class_definition(&mut self, node: Node<'_>, scope: Scope) {
        let Some(name_node) = node.child_by_field_name("name") else {
            return;
        };
        let name = self.text(name_node).to_owned();
        let mut bases = Vec::new();
        let mut keywords = Vec::new();
        if let Some(superclasses) = node.child_by_field_name("superclasses") {
            let (args, kw) = self.arguments(superclasses, 0);
            bases = args
                .into_iter()
                .filter_map(|a| match a {
                    Arg::Positional(e) => Some(e),
                    Arg::Star(_) => None,
                })
                .collect();
            keywords = kw;
        }
        let index = self.module.classes.len();
        self.module.classes.push(ClassDef {
            name: name.clone(),
            name_span: span_of(name_node),
            span: span_of(node),
            bases,
            keywords,
            body: Vec::new(),
            parent: match scope {
                Scope::Class(i) => Some(i),
                _ => None,
            },
            function: match scope {
                Scope::Function(i) => Some(i),
                _ => None,
            },
        });
        self.class_ranges.push((span_of(node), index));
        self.push_stmt(scope, StmtKind::Class { name, index }, span_of(node));
        if let Some(body) = node.child_by_field_name("body") {
            let saved = std::mem::take(&mut self.guards);
            self.block(body, Scope::Class(index));
            self.guards = saved;
        }
    }

    /// Module-level connection activity (PC401 needs it).
    fn scan_import_time(&mut self, node: Node<'_>) {
        const WORDS: &[&str] = &[
            "connect",
            "begin",
            "execute",
            "exec_driver_sql",
            "create_all",
            "reflect",
            "ConnectionPool",
        ];
        if !mentions(self.src, node, WORDS) {
            return;
        }
        let mut calls = Vec::new();
        walk_descendants(node, |current| match current.kind() {
            "lambda" | "function_definition" | "class_definition" | "block" => false,
            "call" => {
                calls.push(current);
                true
            }
            _ => true,
        });
        for call in calls {
            self.classify_import_time_call(call);
        }
    }

    fn classify_import_time_call(&mut self, node: Node<'_>) {
        let Some(func) = node.child_by_field_name("function") else {
            return;
        };
        let (receiver, method) = match func.kind() {
            "attribute" => (
                func.child_by_field_name("object"),
                func.child_by_field_name("attribute")
                    .map_or("", |a| self.text(a)),
            ),
            "identifier" => (None, self.text(func)),
            _ => return,
        };
        let arguments = node.child_by_field_name("arguments");
        let arg_count = arguments.map_or(0, |a| named_children(a).len());
        let receiver_text = receiver.map_or("", |r| self.text(r));
        let driver_receiver = matches!(receiver_text, "psycopg2" | "psycopg" | "asyncpg");
        let kind = match method {
            "connect" | "begin" | "raw_connection" if arg_count == 0 || driver_receiver => {
                if receiver.is_none() && !driver_receiver {
                    return;
                }
                ImportTimeKind::Connect
            }
            "execute" | "exec_driver_sql" if receiver.is_some() => ImportTimeKind::Execute,
            "create_all" | "reflect" if receiver.is_some() => ImportTimeKind::Metadata,
            "ConnectionPool" | "AsyncConnectionPool" | "NullConnectionPool" => {
                let call = self.expr(node);
                let opened_later = call
                    .keyword("open")
                    .is_some_and(|k| matches!(k.value.kind, ExprKind::Bool(false)));
                if opened_later {
                    return;
                }
                ImportTimeKind::OpenedPool
            }
            _ => return,
        };
        self.module.import_time.push(ImportTimeActivity {
            kind,
            span: span_of(node),
            receiver: receiver.map(|r| self.expr(r)),
        });
    }

    /// The calls of interest in `node`, given the module's import aliases of
    /// the callees (see [`aliased_callees`]).
    fn collect_calls(&mut self, node: Node<'_>, aliases: &[(String, String)]) {
        // Only nodes that hold a callee name's occurrence are visited: large
        // files without engines stay cheap, and a deep tree is descended once
        // along the paths to the hits, never once per hit.
        let range = node.byte_range();
        let hits: Vec<usize> = match CALLEE_FINDER.as_ref() {
            Some(finder) => finder
                .find_iter(&self.src[range.clone()])
                .map(|hit| (range.start + hit.start(), range.start + hit.end()))
                .filter(|&(start, end)| {
                    let before = start.checked_sub(1).map(|i| self.src[i]);
                    let after = self.src.get(end).copied();
                    let is_ident =
                        |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
                    !is_ident(before) && !is_ident(after)
                })
                .map(|(start, _)| start)
                .collect(),
            None => Vec::new(),
        };
        let mut found: Vec<(Node<'_>, String)> = Vec::new();
        walk_descendants(node, |node| {
            if !holds_any(&hits, node) {
                return false;
            }
            if node.kind() == "call"
                && let Some(callee) = self.callee_name(node)
                && INTERESTING_CALLEES.contains(&callee)
            {
                found.push((node, callee.to_owned()));
            }
            true
        });
        self.collect_aliased_calls(node, aliases, &mut found);
        found.sort_by_key(|(node, _)| node.start_byte());
        let nodes: Vec<Node<'_>> = found.iter().map(|(node, _)| *node).collect();
        let mut contexts = self.call_contexts(node, &nodes);
        for (node, callee_name) in found {
            let span = span_of(node);
            let call = self.expr(node);
            let function = innermost(&self.function_ranges, span);
            let class = innermost(&self.class_ranges, span);
            let guards = self
                .guarded_ranges
                .iter()
                .filter(|(range, _)| range.start <= span.start && span.end <= range.end)
                .min_by_key(|(range, _)| range.len())
                .map(|(_, guards)| guards.clone())
                .unwrap_or_default();
            let (assigned_to, returned) = contexts.remove(&node.id()).unwrap_or((None, false));
            self.module.calls.push(CallSite {
                call,
                callee_name,
                function,
                class,
                assigned_to,
                guards,
                returned,
            });
        }
    }

    /// Calls through import aliases (`from sqlalchemy.ext.asyncio import
    /// create_async_engine as cae`), which the byte search cannot know by name.
    fn collect_aliased_calls<'t>(
        &self,
        node: Node<'t>,
        aliases: &[(String, String)],
        found: &mut Vec<(Node<'t>, String)>,
    ) {
        if aliases.is_empty() {
            return;
        }
        let mut stack = vec![node];
        while let Some(node) = stack.pop() {
            if node.kind() == "call"
                && let Some(func) = node.child_by_field_name("function")
                && func.kind() == "identifier"
            {
                let text = self.text(func);
                if let Some((_, original)) = aliases.iter().find(|(a, _)| a == text) {
                    found.push((node, original.clone()));
                }
            }
            stack.extend(named_children(node));
        }
    }

    /// For each of `calls`, the name its result is bound to and whether it is
    /// returned. One walk of the tree keeps the ancestors at hand:
    /// `Node::parent` searches down from the root, so asking each call for
    /// its parents was quadratic in the depth of the tree (a chain of
    /// conditional expressions holding thousands of calls).
    fn call_contexts(
        &self,
        root: Node<'_>,
        calls: &[Node<'_>],
    ) -> HashMap<usize, (Option<String>, bool)> {
        let wanted: HashSet<usize> = calls.iter().map(Node::id).collect();
        let mut contexts = HashMap::new();
        if wanted.is_empty() {
            return contexts;
        }
        let mut ancestors: Vec<Node<'_>> = Vec::new();
        let mut cursor = root.walk();
        loop {
            let node = cursor.node();
            if wanted.contains(&node.id()) {
                contexts.insert(node.id(), self.call_context(node, &ancestors));
            }
            if cursor.goto_first_child() {
                ancestors.push(node);
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return contexts;
                }
                ancestors.pop();
            }
        }
    }

    /// The name a call's result is bound to, and whether it is returned,
    /// given its ancestors (outermost first).
    fn call_context(&self, node: Node<'_>, ancestors: &[Node<'_>]) -> (Option<String>, bool) {
        let mut current = node;
        for &parent in ancestors.iter().rev() {
            match parent.kind() {
                "await" | "parenthesized_expression" => current = parent,
                "assignment" => {
                    let is_value = parent
                        .child_by_field_name("right")
                        .is_some_and(|r| r.id() == current.id());
                    let name = parent
                        .child_by_field_name("left")
                        .filter(|_| is_value)
                        .and_then(|left| match left.kind() {
                            "identifier" => Some(self.text(left).to_owned()),
                            "attribute" => left
                                .child_by_field_name("attribute")
                                .map(|a| self.text(a).to_owned()),
                            _ => None,
                        });
                    return (name, false);
                }
                "return_statement" => return (None, true),
                _ => return (None, false),
            }
        }
        (None, false)
    }

    /// The last name of a call's callee when it is a name or an attribute
    /// (`create_engine(…)`, `sqlalchemy.create_engine(…)`).
    fn callee_name(&self, call: Node<'_>) -> Option<&'s str> {
        let function = call.child_by_field_name("function")?;
        let name = match function.kind() {
            "identifier" => function,
            "attribute" => function
                .child_by_field_name("attribute")
                .filter(|a| a.kind() == "identifier")?,
            _ => return None,
        };
        Some(self.text(name))
    }

    /// `@event.listens_for(target, "connect")` / `@listens_for(…)` on a function.
    fn collect_event_handlers(&mut self, node: Node<'_>) {
        let range = node.byte_range();
        let hits: Vec<usize> = memchr::memmem::find_iter(&self.src[range.clone()], b"listens_for")
            .map(|hit| range.start + hit)
            .collect();
        let mut found = Vec::new();
        walk_descendants(node, |node| {
            if !holds_any(&hits, node) {
                return false;
            }
            if node.kind() != "decorated_definition" {
                return true;
            }
            let Some(definition) = node
                .child_by_field_name("definition")
                .filter(|d| d.kind() == "function_definition")
            else {
                return true;
            };
            let (Some(handler), Some(body)) = (
                definition
                    .child_by_field_name("name")
                    .filter(|n| n.kind() == "identifier"),
                definition
                    .child_by_field_name("body")
                    .filter(|b| b.kind() == "block"),
            ) else {
                return true;
            };
            for decorator in named_children(node)
                .into_iter()
                .filter(|d| d.kind() == "decorator")
            {
                let Some(call) = decorator.named_child(0).filter(|c| c.kind() == "call") else {
                    continue;
                };
                let arguments = call
                    .child_by_field_name("arguments")
                    .filter(|a| a.kind() == "argument_list");
                if let Some(arguments) = arguments
                    && self.callee_name(call) == Some("listens_for")
                {
                    found.push((arguments, decorator, handler, body));
                }
            }
            true
        });
        for (arguments, decorator, handler, body) in found {
            let (args, _) = self.arguments(arguments, 0);
            let mut positional = args.into_iter().filter_map(|a| match a {
                Arg::Positional(e) => Some(e),
                Arg::Star(_) => None,
            });
            let (Some(target), Some(event)) = (positional.next(), positional.next()) else {
                continue;
            };
            let Some(event) = event.as_str_literal().map(str::to_owned) else {
                continue;
            };
            let statements = self.executed_sql(body);
            self.module.event_handlers.push(EventHandlerDef {
                target,
                event,
                handler: self.text(handler).to_owned(),
                span: span_of(decorator),
                statements,
            });
        }
    }

    /// SQL strings passed to `.execute(`/`.exec_driver_sql(`/`.executescript(` in a body.
    fn executed_sql(&self, body: Node<'_>) -> Vec<ExecutedSql> {
        let mut out = Vec::new();
        let mut stack = vec![body];
        while let Some(node) = stack.pop() {
            if node.kind() == "call" {
                let method = node
                    .child_by_field_name("function")
                    .and_then(|f| f.child_by_field_name("attribute"))
                    .map(|a| self.text(a));
                if matches!(
                    method,
                    Some("execute" | "exec_driver_sql" | "executescript")
                ) && let Some(first) = node
                    .child_by_field_name("arguments")
                    .and_then(|a| named_children(a).into_iter().next())
                {
                    let mut arg = self.expr(first);
                    // `text("SET ...")`
                    if let ExprKind::Call { func, args, .. } = &arg.kind
                        && func.last_name() == Some("text")
                        && let Some(Arg::Positional(inner)) = args.first()
                    {
                        arg = inner.clone();
                    }
                    if let Some(sql) = literal_text(&arg) {
                        out.push(ExecutedSql {
                            sql,
                            span: arg.span,
                        });
                    }
                }
            }
            stack.extend(named_children(node));
        }
        out.sort_by_key(|s| s.span);
        out
    }

    fn arguments(&self, node: Node<'_>, depth: u32) -> (Vec<Arg>, Vec<Keyword>) {
        let mut args = Vec::new();
        let mut keywords = Vec::new();
        for child in named_children(node) {
            match child.kind() {
                "keyword_argument" => {
                    let (Some(name), Some(value)) = (
                        child.child_by_field_name("name"),
                        child.child_by_field_name("value"),
                    ) else {
                        continue;
                    };
                    keywords.push(Keyword {
                        name: Some(self.text(name).to_owned()),
                        value: self.expr_at(value, depth + 1),
                        span: span_of(child),
                    });
                }
                "dictionary_splat" => {
                    if let Some(inner) = named_children(child).first() {
                        keywords.push(Keyword {
                            name: None,
                            value: self.expr_at(*inner, depth + 1),
                            span: span_of(child),
                        });
                    }
                }
                "list_splat" => {
                    if let Some(inner) = named_children(child).first() {
                        args.push(Arg::Star(self.expr_at(*inner, depth + 1)));
                    }
                }
                _ => args.push(Arg::Positional(self.expr_at(child, depth + 1))),
            }
        }
        (args, keywords)
    }

    fn type_expr(&self, node: Node<'_>) -> Expr {
        match named_children(node).first() {
            Some(inner) if node.kind() == "type" => self.expr(*inner),
            _ => self.expr(node),
        }
    }

    fn expr(&self, node: Node<'_>) -> Expr {
        self.expr_at(node, 0)
    }

    fn expr_at(&self, node: Node<'_>, depth: u32) -> Expr {
        let span = span_of(node);
        if depth > MAX_EXPR_DEPTH {
            return Expr::new(ExprKind::Other("deeply nested expression".into()), span);
        }
        let sub = |n: Node<'_>| Box::new(self.expr_at(n, depth + 1));
        let field = |name: &str| node.child_by_field_name(name);
        let kind = match node.kind() {
            "identifier" => ExprKind::Name(self.text(node).to_owned()),
            "none" => ExprKind::None,
            "true" => ExprKind::Bool(true),
            "false" => ExprKind::Bool(false),
            "integer" => parse_int(self.text(node))
                .map_or_else(|| ExprKind::Other("integer".into()), ExprKind::Int),
            "float" => self
                .text(node)
                .replace('_', "")
                .parse::<f64>()
                .map_or_else(|_| ExprKind::Other("float".into()), ExprKind::Float),
            "string" => self.string(node, depth),
            "concatenated_string" => {
                let mut parts = Vec::new();
                for child in named_children(node) {
                    match self.string(child, depth) {
                        ExprKind::Str(s) => parts.push(FStringPart::Literal(s)),
                        ExprKind::FString(p) => parts.extend(p),
                        other => return Expr::new(other, span),
                    }
                }
                fold_fstring(parts)
            }
            "attribute" => match (field("object"), field("attribute")) {
                (Some(object), Some(attr)) => {
                    ExprKind::Attribute(sub(object), self.text(attr).to_owned())
                }
                _ => ExprKind::Other("attribute".into()),
            },
            "subscript" => {
                let mut cursor = node.walk();
                let keys: Vec<Node<'_>> = node
                    .children_by_field_name("subscript", &mut cursor)
                    .collect();
                match (field("value"), keys.as_slice()) {
                    (Some(value), [key]) => ExprKind::Subscript(sub(value), sub(*key)),
                    (Some(value), keys) if !keys.is_empty() => {
                        let items = keys.iter().map(|k| self.expr_at(*k, depth + 1)).collect();
                        ExprKind::Subscript(
                            sub(value),
                            Box::new(Expr::new(ExprKind::Tuple(items), span)),
                        )
                    }
                    _ => ExprKind::Other("subscript".into()),
                }
            }
            "call" => match (field("function"), field("arguments")) {
                (Some(func), Some(arguments)) if arguments.kind() == "argument_list" => {
                    let (args, keywords) = self.arguments(arguments, depth);
                    ExprKind::Call {
                        func: sub(func),
                        args,
                        keywords,
                    }
                }
                (Some(func), Some(_)) => ExprKind::Call {
                    func: sub(func),
                    args: vec![Arg::Positional(Expr::new(
                        ExprKind::Other("generator_expression".into()),
                        span,
                    ))],
                    keywords: Vec::new(),
                },
                _ => ExprKind::Other("call".into()),
            },
            "binary_operator" => match (field("left"), field("operator"), field("right")) {
                (Some(l), Some(op), Some(r)) => {
                    ExprKind::BinOp(sub(l), binop(self.text(op)), sub(r))
                }
                _ => ExprKind::Other("binary_operator".into()),
            },
            "unary_operator" => match (field("operator"), field("argument")) {
                (Some(op), Some(arg)) => {
                    let op = match self.text(op) {
                        "-" => UnaryOp::Neg,
                        "+" => UnaryOp::Pos,
                        _ => UnaryOp::Invert,
                    };
                    ExprKind::Unary(op, sub(arg))
                }
                _ => ExprKind::Other("unary_operator".into()),
            },
            "not_operator" => match field("argument") {
                Some(arg) => ExprKind::Unary(UnaryOp::Not, sub(arg)),
                None => ExprKind::Other("not".into()),
            },
            "boolean_operator" => match (field("left"), field("operator"), field("right")) {
                (Some(l), Some(op), Some(r)) => {
                    let op = if self.text(op) == "and" {
                        BoolOp::And
                    } else {
                        BoolOp::Or
                    };
                    ExprKind::BoolOp(op, sub(l), sub(r))
                }
                _ => ExprKind::Other("boolean_operator".into()),
            },
            "comparison_operator" => self.comparison(node, depth),
            "conditional_expression" => {
                let parts = named_children(node);
                match parts.as_slice() {
                    [body, test, orelse] => ExprKind::IfElse {
                        test: sub(*test),
                        body: sub(*body),
                        orelse: sub(*orelse),
                    },
                    _ => ExprKind::Other("conditional_expression".into()),
                }
            }
            "dictionary" => {
                let mut items = Vec::new();
                for child in named_children(node) {
                    match child.kind() {
                        "pair" => {
                            if let (Some(k), Some(v)) = (
                                child.child_by_field_name("key"),
                                child.child_by_field_name("value"),
                            ) {
                                items.push(DictItem::Pair(
                                    self.expr_at(k, depth + 1),
                                    self.expr_at(v, depth + 1),
                                ));
                            }
                        }
                        "dictionary_splat" => {
                            if let Some(inner) = named_children(child).first() {
                                items.push(DictItem::Spread(self.expr_at(*inner, depth + 1)));
                            }
                        }
                        _ => {}
                    }
                }
                ExprKind::Dict(items)
            }
            "list" | "set" => ExprKind::List(
                named_children(node)
                    .into_iter()
                    .map(|c| self.expr_at(c, depth + 1))
                    .collect(),
            ),
            "tuple" | "expression_list" | "pattern_list" => ExprKind::Tuple(
                named_children(node)
                    .into_iter()
                    .map(|c| self.expr_at(c, depth + 1))
                    .collect(),
            ),
            "parenthesized_expression" | "type" => match named_children(node).first() {
                Some(inner) => return self.expr_at(*inner, depth + 1),
                None => ExprKind::Tuple(Vec::new()),
            },
            "named_expression" => match field("value") {
                Some(value) => return self.expr_at(value, depth + 1),
                None => ExprKind::Other("named_expression".into()),
            },
            "lambda" => ExprKind::Lambda,
            other => ExprKind::Other(other.to_owned()),
        };
        Expr::new(kind, span)
    }

    fn comparison(&self, node: Node<'_>, depth: u32) -> ExprKind {
        let mut first = None;
        let mut rest = Vec::new();
        let mut pending: Option<CmpOp> = None;
        for child in all_children(node) {
            if child.kind() == "comment" {
                continue;
            }
            if child.is_named() {
                let e = self.expr_at(child, depth + 1);
                match (first.is_none(), pending.take()) {
                    (true, _) => first = Some(e),
                    (false, Some(op)) => rest.push((op, e)),
                    (false, None) => return ExprKind::Other("comparison_operator".into()),
                }
            } else {
                let op = match self
                    .text(child)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .as_str()
                {
                    "==" => CmpOp::Eq,
                    "!=" | "<>" => CmpOp::NotEq,
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::LtE,
                    ">" => CmpOp::Gt,
                    ">=" => CmpOp::GtE,
                    "in" => CmpOp::In,
                    "not in" => CmpOp::NotIn,
                    "is" => CmpOp::Is,
                    "is not" => CmpOp::IsNot,
                    "not" if pending == Some(CmpOp::Is) => CmpOp::IsNot,
                    _ => return ExprKind::Other("comparison_operator".into()),
                };
                pending = Some(op);
            }
        }
        match first {
            Some(first) if !rest.is_empty() => ExprKind::Compare(Box::new(first), rest),
            _ => ExprKind::Other("comparison_operator".into()),
        }
    }

    fn string(&self, node: Node<'_>, depth: u32) -> ExprKind {
        if node.kind() != "string" {
            return ExprKind::Other(node.kind().to_owned());
        }
        let children = all_children(node);
        let prefix = children
            .first()
            .filter(|c| c.kind() == "string_start")
            .map_or("", |c| self.text(*c))
            .trim_end_matches(['"', '\''])
            .to_ascii_lowercase();
        if prefix.contains('b') {
            return ExprKind::Other("bytes".into());
        }
        let raw = prefix.contains('r');
        let is_f = prefix.contains('f') || prefix.contains('t');
        let mut parts = Vec::new();
        for child in children {
            match child.kind() {
                "string_content" => {
                    let mut text = if raw {
                        self.text(child).to_owned()
                    } else {
                        unescape(self.text(child))
                    };
                    if is_f {
                        text = text.replace("{{", "{").replace("}}", "}");
                    }
                    parts.push(FStringPart::Literal(text));
                }
                "interpolation" => {
                    let Some(expression) = child.child_by_field_name("expression") else {
                        continue;
                    };
                    let spec = child
                        .child_by_field_name("format_specifier")
                        .map(|s| self.text(s).trim_start_matches(':').to_owned());
                    parts.push(FStringPart::Expr(self.expr_at(expression, depth + 1), spec));
                }
                _ => {}
            }
        }
        fold_fstring(parts)
    }
}

fn scope_len(module: &PythonModule, scope: Scope) -> usize {
    match scope {
        Scope::Module => module.body.len(),
        Scope::Class(i) => module.classes[i].body.len(),
        Scope::Function(i) => module.functions[i].body.len(),
    }
}

fn innermost(ranges: &[(Span, usize)], span: Span) -> Option<usize> {
    ranges
        .iter()
        .filter(|(range, _)| range.start <= span.start && span.end <= range.end)
        .min_by_key(|(range, _)| range.len())
        .map(|(_, index)| *index)
}

/// Literal parts joined; a string without holes becomes `ExprKind::Str`.
fn fold_fstring(parts: Vec<FStringPart>) -> ExprKind {
    let mut folded: Vec<FStringPart> = Vec::new();
    for part in parts {
        match (folded.last_mut(), part) {
            (Some(FStringPart::Literal(prev)), FStringPart::Literal(next)) => prev.push_str(&next),
            (_, part) => folded.push(part),
        }
    }
    match folded.as_slice() {
        [] => ExprKind::Str(String::new()),
        [FStringPart::Literal(s)] => ExprKind::Str(s.clone()),
        _ => ExprKind::FString(folded),
    }
}

/// The literal text of a string or f-string (holes shown as `{…}`).
fn literal_text(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Str(s) => Some(s.clone()),
        ExprKind::FString(parts) => Some(
            parts
                .iter()
                .map(|p| match p {
                    FStringPart::Literal(s) => s.as_str(),
                    FStringPart::Expr(..) => "{…}",
                })
                .collect(),
        ),
        _ => None,
    }
}

fn binop(text: &str) -> BinOp {
    match text {
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "//" => BinOp::FloorDiv,
        "%" => BinOp::Mod,
        "**" => BinOp::Pow,
        "|" => BinOp::BitOr,
        "&" => BinOp::BitAnd,
        _ => BinOp::Other,
    }
}

fn parse_int(text: &str) -> Option<i64> {
    let cleaned = text.replace('_', "");
    let lower = cleaned.to_ascii_lowercase();
    let lower = lower.trim_end_matches('l');
    if let Some(hex) = lower.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = lower.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if let Some(bin) = lower.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()
    } else {
        lower.parse().ok()
    }
}

/// Python escape sequences in a non-raw string literal.
fn unescape(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('\\') | None => out.push('\\'),
            Some('\'') => out.push('\''),
            Some('"') => out.push('"'),
            Some('\n') => {}
            Some(kind @ ('x' | 'u' | 'U')) => {
                let width = match kind {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let digits: String = (0..width).filter_map(|_| chars.next()).collect();
                if let Some(ch) = u32::from_str_radix(&digits, 16)
                    .ok()
                    .and_then(char::from_u32)
                {
                    out.push(ch);
                } else {
                    out.push('\\');
                    out.push(kind);
                    out.push_str(&digits);
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

/// Whether one of the sorted byte offsets `hits` lies inside `node`.
fn holds_any(hits: &[usize], node: Node<'_>) -> bool {
    let at = hits.partition_point(|&hit| hit < node.start_byte());
    hits.get(at).is_some_and(|&hit| hit < node.end_byte())
}
