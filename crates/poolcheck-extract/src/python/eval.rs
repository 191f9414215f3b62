//! The value evaluator shared by every Python front-end: folds an IR
//! expression into a value with provenance, given the project's modules and
//! one service's environment. Lazy, memoised, and cycle-safe.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use poolcheck_core::facts::python::{
    Accessor, Arg, BinOp, BoolOp, BranchKind, ClassDef, CmpOp, DictItem, Expr, ExprKind,
    FStringPart, FunctionDef, Guard, ImportKind, Keyword, ParamKind, Stmt, StmtKind, UnaryOp,
};
use poolcheck_core::{Environment, IntExpr, Location, Origin, Sourced, Span};

use super::project::{self, PythonProject};
use super::pydantic;
use super::value::{ClassRef, FuncRef, HOLE, PyDict, PyStr, Value, provenance_note, render};

/// How deep calls into repository functions are followed.
const MAX_CALL_DEPTH: u32 = 6;
/// How deep evaluation may recurse at all (names through names through calls).
const MAX_EVAL_DEPTH: u32 = 160;
/// Modules a name is followed through (`from .a import *` in a module that
/// `b` star-imports…): each is a recursion of the evaluator, and real
/// settings chains are a few modules long.
const MAX_IMPORT_DEPTH: u32 = 64;

/// Where an expression is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    Module,
    Class(usize),
    Function(usize),
}

/// The context of one evaluation: module, scope, the position of the use
/// (only bindings before it are visible) and the branch arms around it.
#[derive(Debug, Clone)]
pub struct EvalCtx {
    pub module: usize,
    pub scope: ScopeKind,
    pub pos: u32,
    pub guards: Vec<Guard>,
    /// Parameter values when a function is evaluated for a call (or `self`).
    pub locals: Option<Rc<HashMap<String, Sourced<Value>>>>,
}

impl EvalCtx {
    /// The end of a module: every module-level binding is visible.
    pub fn module_end(module: usize) -> Self {
        Self {
            module,
            scope: ScopeKind::Module,
            pos: u32::MAX,
            guards: Vec::new(),
            locals: None,
        }
    }

    pub fn at(module: usize, scope: ScopeKind, pos: u32, guards: Vec<Guard>) -> Self {
        Self {
            module,
            scope,
            pos,
            guards,
            locals: None,
        }
    }
}

/// The result of deciding a branch arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    True,
    False,
    Unknown,
}

pub struct Evaluator<'p, 'a> {
    project: &'p PythonProject<'a>,
    /// Borrowed for one analysis; owned when the evaluator is kept across
    /// the services that share an environment (`Analyzer`).
    env: std::borrow::Cow<'p, Environment>,
    memo: RefCell<HashMap<(usize, String), Sourced<Value>>>,
    active: RefCell<HashSet<(usize, ScopeKind, String, u32)>>,
    defines_memo: RefCell<HashMap<(usize, String), bool>>,
    /// Per scope, which statements may bind or mutate each name: a lookup
    /// reads those instead of every statement before the use (10,000 engines
    /// in a file made each lookup of `create_engine` walk the file).
    scope_index: RefCell<HashMap<(usize, ScopeKind), Rc<ScopeIndex>>>,
    depth: Cell<u32>,
    call_depth: Cell<u32>,
    import_depth: Cell<u32>,
    /// Modules that run files with django-split-settings' `include()`.
    split_includers: std::cell::OnceCell<Vec<usize>>,
}

/// The statements of one scope that can bind or mutate a name, by name, in
/// source order; star imports may bind any name.
#[derive(Debug, Default)]
struct ScopeIndex {
    by_name: HashMap<String, Vec<usize>>,
    star_imports: Vec<usize>,
}

impl ScopeIndex {
    fn new(stmts: &[Stmt]) -> Self {
        let mut index = ScopeIndex::default();
        for (i, stmt) in stmts.iter().enumerate() {
            let mut add = |name: &str| {
                let list = index.by_name.entry(name.to_owned()).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            };
            match &stmt.kind {
                StmtKind::Assign { target, .. }
                | StmtKind::AugAssign { target, .. }
                | StmtKind::Update { target, .. } => add(&target.name),
                StmtKind::Class { name, .. } | StmtKind::Function { name, .. } => add(name),
                StmtKind::Import(import) => match &import.kind {
                    ImportKind::Module { alias: Some(alias) } => add(alias),
                    ImportKind::Module { alias: None } => {
                        add(import.module.split('.').next().unwrap_or_default());
                    }
                    ImportKind::Names(names) => {
                        for n in names {
                            add(n.bound_name());
                        }
                    }
                    ImportKind::Star => index.star_imports.push(i),
                },
                StmtKind::Declare { .. } | StmtKind::Return { .. } => {}
            }
        }
        index
    }

    /// Indices of the statements that may bind or mutate `name`, in order.
    fn candidates(&self, name: &str) -> Vec<usize> {
        let named = self.by_name.get(name).map_or(&[][..], Vec::as_slice);
        if self.star_imports.is_empty() {
            return named.to_vec();
        }
        let mut all: Vec<usize> = named.iter().chain(&self.star_imports).copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

fn unknown(reason: impl Into<String>, location: Option<Location>) -> Sourced<Value> {
    Sourced::unknown(reason, location)
}

/// The standard message for an environment variable without value or default.
pub fn missing_env_reason(var: &str) -> String {
    format!("${var} has no value and no default: declare it in [tool.poolcheck.env]")
}

impl<'p, 'a> Evaluator<'p, 'a> {
    pub fn new(project: &'p PythonProject<'a>, env: &'p Environment) -> Self {
        Self::with_env(project, std::borrow::Cow::Borrowed(env))
    }

    /// An evaluator that keeps its own copy of `env`, so that its memos
    /// outlive the service it was made for.
    pub fn owning(project: &'p PythonProject<'a>, env: Environment) -> Self {
        Self::with_env(project, std::borrow::Cow::Owned(env))
    }

    fn with_env(project: &'p PythonProject<'a>, env: std::borrow::Cow<'p, Environment>) -> Self {
        Self {
            project,
            env,
            memo: RefCell::new(HashMap::new()),
            active: RefCell::new(HashSet::new()),
            defines_memo: RefCell::new(HashMap::new()),
            scope_index: RefCell::new(HashMap::new()),
            depth: Cell::new(0),
            call_depth: Cell::new(0),
            import_depth: Cell::new(0),
            split_includers: std::cell::OnceCell::new(),
        }
    }

    pub fn project(&self) -> &'p PythonProject<'a> {
        self.project
    }

    pub fn env(&self) -> &Environment {
        &self.env
    }

    pub fn location(&self, module: usize, span: Span) -> Location {
        Location::new(self.project.path(module).clone(), span)
    }

    /// The value `name` has at the end of `module` (what an importer sees).
    pub fn module_value(&self, module: usize, name: &str) -> Sourced<Value> {
        let key = (module, name.to_owned());
        if let Some(v) = self.memo.borrow().get(&key) {
            return v.clone();
        }
        let depth = self.import_depth.get();
        if depth >= MAX_IMPORT_DEPTH {
            return unknown(
                format!(
                    "`{name}` is imported through more than {MAX_IMPORT_DEPTH} modules, which poolcheck does not follow"
                ),
                None,
            );
        }
        self.import_depth.set(depth + 1);
        let value = self.lookup(name, &EvalCtx::module_end(module), None);
        self.import_depth.set(depth);
        self.memo.borrow_mut().insert(key, value.clone());
        value
    }

    // ----- names -------------------------------------------------------------

    fn stmts(&self, module: usize, scope: ScopeKind) -> &'a [Stmt] {
        let m = self.project.module(module);
        match scope {
            ScopeKind::Module => &m.body,
            ScopeKind::Class(i) => m.classes.get(i).map_or(&[], |c| c.body.as_slice()),
            ScopeKind::Function(i) => m.functions.get(i).map_or(&[], |f| f.body.as_slice()),
        }
    }

    /// Looks `name` up as Python would from `ctx`: the scope's own bindings
    /// before the use, then (for classes and functions) the module, then builtins.
    pub fn lookup(&self, name: &str, ctx: &EvalCtx, span: Option<Span>) -> Sourced<Value> {
        let loc = span.map(|s| self.location(ctx.module, s));
        let key = (ctx.module, ctx.scope, name.to_owned(), ctx.pos);
        if !self.active.borrow_mut().insert(key.clone()) {
            return unknown(format!("`{name}` is defined in terms of itself"), loc);
        }
        // `X += 1` looks `X` up again without an expression in between: a
        // lookup counts as a level of evaluation, or 5,000 of them overflow
        // the stack.
        let depth = self.depth.get();
        let result = if depth > MAX_EVAL_DEPTH {
            unknown(
                format!("`{name}` is computed through too many steps to evaluate"),
                loc,
            )
        } else {
            self.depth.set(depth + 1);
            let result = self.lookup_inner(name, ctx, loc);
            self.depth.set(depth);
            result
        };
        self.active.borrow_mut().remove(&key);
        result
    }

    fn lookup_inner(&self, name: &str, ctx: &EvalCtx, loc: Option<Location>) -> Sourced<Value> {
        if let Some(found) = self.lookup_in_scope(name, ctx) {
            return found;
        }
        match ctx.scope {
            ScopeKind::Function(f) => {
                if let Some(v) = ctx.locals.as_ref().and_then(|l| l.get(name)) {
                    return self.mutations_of_parameter(ctx, name, v.clone());
                }
                let func = &self.project.module(ctx.module).functions[f];
                if let Some(param) = func.params.iter().find(|p| p.name == name) {
                    let v = self.unbound_parameter(ctx.module, func, param, loc);
                    return self.mutations_of_parameter(ctx, name, v);
                }
                self.lookup_outer(name, ctx, func.span.start, loc)
            }
            ScopeKind::Class(c) => {
                let class = &self.project.module(ctx.module).classes[c];
                self.lookup_outer(name, ctx, class.span.start, loc)
            }
            ScopeKind::Module => self
                .included_by(name, ctx.module)
                .unwrap_or_else(|| builtin(name, loc)),
        }
    }

    /// A file that django-split-settings' `include()` runs sees the names
    /// the settings module bound before including it.
    fn included_by(&self, name: &str, module: usize) -> Option<Sourced<Value>> {
        let depth = self.import_depth.get();
        if depth >= MAX_IMPORT_DEPTH {
            return None;
        }
        let includers = self.split_includers.get_or_init(|| {
            (0..self.project.len())
                .filter(|&m| {
                    self.project
                        .module_level_imports(m)
                        .any(|i| i.module.starts_with("split_settings"))
                })
                .collect()
        });
        for &includer in includers {
            if includer == module {
                continue;
            }
            let body = &self.project.module(includer).body;
            let Some(include) = body.iter().find(|s| match &s.kind {
                StmtKind::Import(i) if i.kind == ImportKind::Star => {
                    let target = self
                        .project
                        .import_target_name(includer, &i.module, i.level);
                    self.project.index_of_name(&target) == Some(module)
                }
                _ => false,
            }) else {
                continue;
            };
            self.import_depth.set(depth + 1);
            let ctx = EvalCtx::at(includer, ScopeKind::Module, include.span.start, Vec::new());
            let value = self.lookup(name, &ctx, None);
            self.import_depth.set(depth);
            return Some(value);
        }
        None
    }

    /// A parameter (`**kwargs` included) as the function body has mutated it
    /// before `ctx.pos`: `kwargs.setdefault("pool_size", 2)`, `options["k"] = v`.
    fn mutations_of_parameter(
        &self,
        ctx: &EvalCtx,
        name: &str,
        value: Sourced<Value>,
    ) -> Sourced<Value> {
        let stmts = self.stmts(ctx.module, ctx.scope);
        let visible: Vec<(usize, &Stmt)> = self
            .scope_index(ctx.module, ctx.scope)
            .candidates(name)
            .into_iter()
            .map(|i| (i, &stmts[i]))
            .filter(|(_, s)| s.span.start < ctx.pos)
            .collect();
        self.apply_mutations(ctx, &visible, None, name, value)
    }

    /// Names not bound in a class or function body come from the module (as
    /// it is when the code runs: its end for functions, the class statement's
    /// position for class bodies, which run at import).
    fn lookup_outer(
        &self,
        name: &str,
        ctx: &EvalCtx,
        def_pos: u32,
        loc: Option<Location>,
    ) -> Sourced<Value> {
        let pos = match ctx.scope {
            ScopeKind::Class(_) => def_pos,
            _ => u32::MAX,
        };
        let outer = EvalCtx {
            module: ctx.module,
            scope: ScopeKind::Module,
            pos,
            guards: Vec::new(),
            locals: None,
        };
        if pos == u32::MAX {
            let v = self.module_value(ctx.module, name);
            if v.is_known() || !is_not_defined(&v) {
                return v;
            }
            return builtin(name, loc);
        }
        self.lookup(name, &outer, loc.as_ref().map(|l| l.span))
    }

    fn unbound_parameter(
        &self,
        module: usize,
        func: &FunctionDef,
        param: &poolcheck_core::facts::python::Param,
        loc: Option<Location>,
    ) -> Sourced<Value> {
        if let Some(default) = &param.default {
            let ctx = EvalCtx::at(module, ScopeKind::Module, func.span.start, Vec::new());
            return self.eval(default, &ctx);
        }
        let receiver = func.class.is_some()
            && func
                .params
                .first()
                .is_some_and(|first| first.name == param.name)
            && !func
                .decorators
                .iter()
                .any(|d| d.last_name() == Some("staticmethod"));
        let reason = if receiver {
            format!(
                "`{}` is the object `{}()` is called on ({}), and poolcheck does not follow \
                 which instance that is or the attributes set on it",
                param.name,
                func.name,
                self.project.path(module)
            )
        } else {
            // Callers build a class by its name, not by `__init__`.
            let callee = match func.class {
                Some(class) if func.name == "__init__" => self
                    .project
                    .module(module)
                    .classes
                    .get(class)
                    .map_or_else(|| func.name.clone(), |c| c.name.clone()),
                _ => func.name.clone(),
            };
            format!(
                "`{}` is a parameter of `{callee}()` ({}) with no default, and no call of \
                 `{callee}()` that poolcheck follows passes it (`x = {callee}(…)` or \
                 `return {callee}(…)` in a module that mentions a database or server setting)",
                param.name,
                self.project.path(module),
            )
        };
        unknown(reason, loc)
    }

    /// The bindings of `name` in the scope of `ctx` before `ctx.pos`, with
    /// later mutations applied. `None` when the scope never binds it.
    fn scope_index(&self, module: usize, scope: ScopeKind) -> Rc<ScopeIndex> {
        if let Some(index) = self.scope_index.borrow().get(&(module, scope)) {
            return Rc::clone(index);
        }
        let index = Rc::new(ScopeIndex::new(self.stmts(module, scope)));
        self.scope_index
            .borrow_mut()
            .insert((module, scope), Rc::clone(&index));
        index
    }

    fn lookup_in_scope(&self, name: &str, ctx: &EvalCtx) -> Option<Sourced<Value>> {
        let stmts = self.stmts(ctx.module, ctx.scope);
        // Only statements that bind or mutate `name` matter below, both for
        // the binding and for the mutations after it.
        let visible: Vec<(usize, &Stmt)> = self
            .scope_index(ctx.module, ctx.scope)
            .candidates(name)
            .into_iter()
            .map(|i| (i, &stmts[i]))
            .filter(|(_, s)| s.span.start < ctx.pos)
            .collect();
        let mut candidates: Vec<(usize, &Stmt, Sourced<Value>)> = Vec::new();
        let mut arms_seen: HashMap<usize, HashSet<usize>> = HashMap::new();
        for &(index, stmt) in visible.iter().rev() {
            if !self.defines(ctx.module, stmt, name) {
                continue;
            }
            let own = strip_shared(&stmt.guards, &ctx.guards);
            // An earlier binding in an arm that already bound the name is shadowed.
            if let Some(last) = own.last()
                && arms_seen
                    .get(&last.branch)
                    .is_some_and(|arms| arms.contains(&last.arm))
            {
                continue;
            }
            let status = self.guard_status(ctx, own, stmt);
            if status == Tri::False {
                continue;
            }
            let value = self.binding_value(ctx, stmt, name);
            let value = self.apply_mutations(ctx, &visible, Some(index), name, value);
            candidates.push((index, stmt, value));
            if let Some(last) = own.last() {
                arms_seen.entry(last.branch).or_default().insert(last.arm);
            }
            if status == Tri::True {
                break;
            }
            // Every arm of an exhaustive branch bound it: nothing earlier shows.
            if let Some(last) = own.last() {
                let branch = &self.project.module(ctx.module).branches[last.branch];
                if own.len() == 1
                    && branch.exhaustive
                    && arms_seen[&last.branch].len() == branch.conditions.len()
                {
                    break;
                }
            }
        }
        if candidates.is_empty() {
            // Mutations of a name bound elsewhere (`DATABASES[...] = ` after a star import).
            return None;
        }
        Some(self.combine_candidates(ctx, candidates))
    }

    fn combine_candidates(
        &self,
        ctx: &EvalCtx,
        mut candidates: Vec<(usize, &Stmt, Sourced<Value>)>,
    ) -> Sourced<Value> {
        if candidates.len() == 1 {
            return candidates.remove(0).2;
        }
        let branches = &self.project.module(ctx.module).branches;
        // `try: X = risky() except: X = fallback`: the fallback applies only
        // when the try body's value is unknown.
        let try_body_known = |branch: usize| {
            candidates.iter().any(|(_, s, v)| {
                v.is_known()
                    && strip_shared(&s.guards, &ctx.guards)
                        .iter()
                        .any(|g| g.branch == branch && g.arm == 0)
            })
        };
        let mut kept = Vec::new();
        for (_, stmt, value) in &candidates {
            let own = strip_shared(&stmt.guards, &ctx.guards);
            let mut keep = true;
            for g in own {
                if branches[g.branch].kind == BranchKind::Try {
                    if g.arm > 0 && try_body_known(g.branch) {
                        keep = false;
                    }
                    if g.arm == 0 && !value.is_known() {
                        keep = false;
                    }
                }
            }
            if keep {
                kept.push(value.clone());
            }
        }
        if kept.is_empty() {
            return candidates.remove(0).2;
        }
        if kept.len() == 1 {
            return kept.remove(0);
        }
        kept.reverse();
        let location = kept.last().and_then(|v| v.location.clone());
        Sourced::with_origin(
            Value::OneOf(kept),
            Origin::Computed {
                expr: "depends on a condition".into(),
            },
            location,
        )
    }

    /// Whether `stmt` (re)binds `name` as a whole.
    fn defines(&self, module: usize, stmt: &Stmt, name: &str) -> bool {
        match &stmt.kind {
            StmtKind::Assign { target, .. } | StmtKind::AugAssign { target, .. } => {
                target.name == name && target.path.is_empty()
            }
            StmtKind::Class { name: n, .. } | StmtKind::Function { name: n, .. } => n == name,
            StmtKind::Import(import) => match &import.kind {
                ImportKind::Module { alias: Some(alias) } => alias == name,
                ImportKind::Module { alias: None } => import.module.split('.').next() == Some(name),
                ImportKind::Names(names) => names.iter().any(|n| n.bound_name() == name),
                ImportKind::Star => {
                    let target =
                        self.project
                            .import_target_name(module, &import.module, import.level);
                    self.project
                        .index_of_name(&target)
                        .is_some_and(|m| m != module && self.module_defines(m, name))
                }
            },
            StmtKind::Declare { .. } | StmtKind::Update { .. } | StmtKind::Return { .. } => false,
        }
    }

    /// Whether a module binds `name` at module level (directly or by star import).
    pub fn module_defines(&self, module: usize, name: &str) -> bool {
        // Asked of every module of a large tree (which one defines
        // `DATABASES`): most cannot bind the name, known without building
        // a memo key.
        if !self.project.may_bind(module, name) {
            return false;
        }
        let key = (module, name.to_owned());
        if let Some(v) = self.defines_memo.borrow().get(&key) {
            return *v;
        }
        let depth = self.import_depth.get();
        if depth >= MAX_IMPORT_DEPTH {
            // It may: the value lookup then stops at the same depth and
            // says why the value is unknown.
            return true;
        }
        // Provisional answer while computing, so star-import cycles end.
        self.defines_memo.borrow_mut().insert(key.clone(), false);
        self.import_depth.set(depth + 1);
        let result = self
            .project
            .module(module)
            .body
            .iter()
            .any(|stmt| self.defines(module, stmt, name));
        self.import_depth.set(depth);
        self.defines_memo.borrow_mut().insert(key, result);
        result
    }

    fn binding_value(&self, ctx: &EvalCtx, stmt: &Stmt, name: &str) -> Sourced<Value> {
        let at = EvalCtx {
            module: ctx.module,
            scope: ctx.scope,
            pos: stmt.span.start,
            guards: stmt.guards.clone(),
            locals: ctx.locals.clone(),
        };
        let loc = Some(self.location(ctx.module, stmt.span));
        match &stmt.kind {
            StmtKind::Assign { value, .. } => self.eval(value, &at),
            StmtKind::AugAssign { op, value, target } => {
                let old = self.lookup(name, &at, Some(target.name_span));
                let rhs = self.eval(value, &at);
                Self::binop(
                    &old,
                    *op,
                    &rhs,
                    &format!("{name} {}= …", op_symbol(*op)),
                    loc,
                )
            }
            StmtKind::Class { index, .. } => Sourced::literal(
                Value::Class(ClassRef {
                    module: ctx.module,
                    index: *index,
                }),
                self.location(ctx.module, stmt.span),
            ),
            StmtKind::Function { index, .. } => Sourced::literal(
                Value::Function(FuncRef {
                    module: ctx.module,
                    index: *index,
                }),
                self.location(ctx.module, stmt.span),
            ),
            StmtKind::Import(import) => {
                let target =
                    self.project
                        .import_target_name(ctx.module, &import.module, import.level);
                match &import.kind {
                    ImportKind::Module { alias: Some(_) } => self.module_ref(&target, loc),
                    ImportKind::Module { alias: None } => {
                        let first = import.module.split('.').next().unwrap_or(name);
                        let full = if import.level == 0 && target != import.module {
                            // `import pkg.mod` where pkg lives under an import root.
                            let drop = import.module.len() - first.len();
                            target[..target.len() - drop].to_owned()
                        } else {
                            first.to_owned()
                        };
                        self.module_ref(&full, loc)
                    }
                    ImportKind::Names(names) => {
                        let Some(imported) = names.iter().find(|n| n.bound_name() == name) else {
                            return unknown(format!("`{name}` is not imported here"), loc);
                        };
                        self.import_name(&target, &imported.name, loc)
                    }
                    ImportKind::Star => {
                        match self.project.index_of_name(&target).filter(|_| {
                            !(import.level == 0 && project::is_modelled_library(&target))
                        }) {
                            Some(m) => self.module_value(m, name),
                            None => unknown(format!("`{name}` comes from `{target}`"), loc),
                        }
                    }
                }
            }
            StmtKind::Declare { .. } | StmtKind::Update { .. } | StmtKind::Return { .. } => {
                unknown(format!("`{name}` has no value"), loc)
            }
        }
    }

    fn module_ref(&self, dotted: &str, loc: Option<Location>) -> Sourced<Value> {
        let value = if self.project.has_package(dotted) && !project::is_modelled_library(dotted) {
            Value::Module(dotted.to_owned())
        } else {
            Value::External(dotted.to_owned())
        };
        Sourced::with_origin(value, Origin::Literal, loc)
    }

    fn import_name(&self, module: &str, name: &str, loc: Option<Location>) -> Sourced<Value> {
        if project::is_modelled_library(module) {
            return Sourced::with_origin(
                Value::External(format!("{module}.{name}")),
                Origin::Literal,
                loc,
            );
        }
        if let Some(m) = self.project.index_of_name(module)
            && self.module_defines(m, name)
        {
            return self.module_value(m, name);
        }
        let child = format!("{module}.{name}");
        if self.project.has_package(&child) {
            return Sourced::with_origin(Value::Module(child), Origin::Literal, loc);
        }
        if self.project.has_package(module) {
            return unknown(format!("`{name}` is not defined in module `{module}`"), loc);
        }
        Sourced::with_origin(Value::External(child), Origin::Literal, loc)
    }

    /// Applies `name[...] = v`, `name.update(...)`, `name[...] += v` written
    /// after the binding at `from` and before the use.
    fn apply_mutations(
        &self,
        ctx: &EvalCtx,
        visible: &[(usize, &Stmt)],
        after: Option<usize>,
        name: &str,
        mut value: Sourced<Value>,
    ) -> Sourced<Value> {
        for &(index, stmt) in visible {
            if after.is_some_and(|from| index <= from) {
                continue;
            }
            let (target, kind) = match &stmt.kind {
                StmtKind::Assign { target, value, .. } if !target.path.is_empty() => {
                    (target, Mutation::Set(value))
                }
                StmtKind::Update {
                    target,
                    value,
                    keep_existing,
                } => (target, Mutation::Update(value, *keep_existing)),
                StmtKind::AugAssign { target, op, value } if !target.path.is_empty() => {
                    (target, Mutation::Aug(*op, value))
                }
                _ => continue,
            };
            if target.name != name {
                continue;
            }
            let own = strip_shared(&stmt.guards, &ctx.guards);
            if self.guard_status(ctx, own, stmt) == Tri::False {
                continue;
            }
            let at = EvalCtx {
                module: ctx.module,
                scope: ctx.scope,
                pos: stmt.span.start,
                guards: stmt.guards.clone(),
                locals: ctx.locals.clone(),
            };
            let new = match kind {
                Mutation::Set(e) | Mutation::Update(e, _) | Mutation::Aug(_, e) => {
                    self.eval(e, &at)
                }
            };
            let update = match kind {
                Mutation::Update(_, true) => Some(UpdateKind::KeepExisting),
                Mutation::Update(_, false) => Some(UpdateKind::Overwrite),
                _ => None,
            };
            let aug = match kind {
                Mutation::Aug(op, _) => Some(op),
                _ => None,
            };
            value = self.set_path(value, &target.path, new, update, aug, &at);
        }
        value
    }

    fn set_path(
        &self,
        container: Sourced<Value>,
        path: &[Accessor],
        new: Sourced<Value>,
        update: Option<UpdateKind>,
        aug: Option<BinOp>,
        ctx: &EvalCtx,
    ) -> Sourced<Value> {
        let Some((first, rest)) = path.split_first() else {
            if let Some(kind) = update {
                let mut merged = container;
                if let (Some(Value::Dict(d)), Some(Value::Dict(add))) =
                    (merged.value.as_mut(), new.value.as_ref())
                {
                    match kind {
                        UpdateKind::Overwrite => d.merge(add),
                        UpdateKind::KeepExisting => {
                            for (key, value) in &add.entries {
                                if d.get(key).is_none() {
                                    d.insert(key.clone(), value.clone());
                                }
                            }
                        }
                    }
                }
                return merged;
            }
            if let Some(op) = aug {
                return Self::binop(&container, op, &new, "augmented assignment", None);
            }
            return new;
        };
        let Sourced {
            value,
            origin,
            location,
        } = container;
        let mut value = value;
        match (value.as_mut(), first) {
            (Some(Value::Dict(dict)), Accessor::Key(key_expr)) => {
                let key = self.eval(key_expr, ctx);
                if let Some(key) = key.value.as_ref().and_then(dict_key) {
                    let child = dict.get(&key).cloned().unwrap_or_else(|| {
                        Sourced::with_origin(Value::Dict(PyDict::default()), Origin::Literal, None)
                    });
                    let child = self.set_path(child, rest, new, update, aug, ctx);
                    dict.insert(key, child);
                } else {
                    dict.unknown
                        .push(format!("a key of `{}` is not known", render(key_expr)));
                }
            }
            (Some(Value::Dict(dict)), Accessor::EachKey) => {
                let keys: Vec<String> = dict.entries.iter().map(|(k, _)| k.clone()).collect();
                for key in keys {
                    if let Some(child) = dict.get(&key).cloned() {
                        let child = self.set_path(child, rest, new.clone(), update, aug, ctx);
                        dict.insert(key, child);
                    }
                }
            }
            (Some(Value::OneOf(options)), _) => {
                for option in options.iter_mut() {
                    *option = self.set_path(option.clone(), path, new.clone(), update, aug, ctx);
                }
            }
            _ => {}
        }
        Sourced {
            value,
            origin,
            location,
        }
    }

    // ----- branches ----------------------------------------------------------

    /// Whether the arms in `guards` (outermost first) are taken.
    fn guard_status(&self, ctx: &EvalCtx, guards: &[Guard], _stmt: &Stmt) -> Tri {
        let mut result = Tri::True;
        for (depth, guard) in guards.iter().enumerate() {
            let module = self.project.module(ctx.module);
            let Some(branch) = module.branches.get(guard.branch) else {
                return Tri::Unknown;
            };
            let status = match branch.kind {
                BranchKind::Try => {
                    if guard.arm == 0 {
                        Tri::True
                    } else {
                        Tri::Unknown
                    }
                }
                BranchKind::If => {
                    let mut outer = ctx.guards.clone();
                    outer.extend_from_slice(&guards[..depth]);
                    let at = EvalCtx {
                        module: ctx.module,
                        scope: ctx.scope,
                        pos: branch.span.start,
                        guards: outer,
                        locals: ctx.locals.clone(),
                    };
                    self.arm_taken(&branch.conditions, guard.arm, &at)
                }
            };
            match status {
                Tri::False => return Tri::False,
                Tri::Unknown => result = Tri::Unknown,
                Tri::True => {}
            }
        }
        result
    }

    fn arm_taken(&self, conditions: &[Option<Expr>], arm: usize, ctx: &EvalCtx) -> Tri {
        let mut result = Tri::True;
        for (i, condition) in conditions.iter().enumerate().take(arm + 1) {
            let truth = match condition {
                Some(expr) => self.truth(expr, ctx),
                None => Some(true),
            };
            if i < arm {
                match truth {
                    Some(true) => return Tri::False,
                    None => result = Tri::Unknown,
                    Some(false) => {}
                }
            } else {
                match truth {
                    Some(false) => return Tri::False,
                    None => result = Tri::Unknown,
                    Some(true) => {}
                }
            }
        }
        result
    }

    /// The truth of a condition, when decidable.
    pub fn truth(&self, expr: &Expr, ctx: &EvalCtx) -> Option<bool> {
        self.eval(expr, ctx).value.as_ref()?.truthy()
    }

    /// Whether the arms around a call or return are taken.
    pub fn guards_taken(&self, ctx: &EvalCtx, guards: &[Guard]) -> Tri {
        let base = EvalCtx {
            guards: Vec::new(),
            ..ctx.clone()
        };
        let dummy = Stmt {
            kind: StmtKind::Return { value: None },
            span: Span::default(),
            guards: Vec::new(),
        };
        self.guard_status(&base, guards, &dummy)
    }

    // ----- expressions -------------------------------------------------------

    pub fn eval(&self, expr: &Expr, ctx: &EvalCtx) -> Sourced<Value> {
        let depth = self.depth.get();
        if depth > MAX_EVAL_DEPTH {
            return unknown(
                "the expression is nested too deeply to evaluate",
                Some(self.location(ctx.module, expr.span)),
            );
        }
        self.depth.set(depth + 1);
        let result = self.eval_inner(expr, ctx);
        self.depth.set(depth);
        result
    }

    fn eval_inner(&self, expr: &Expr, ctx: &EvalCtx) -> Sourced<Value> {
        let loc = self.location(ctx.module, expr.span);
        let lit = |v: Value| Sourced::literal(v, loc.clone());
        match &expr.kind {
            ExprKind::None => lit(Value::None),
            ExprKind::Bool(b) => lit(Value::Bool(*b)),
            ExprKind::Int(i) => lit(Value::int(*i)),
            ExprKind::Float(f) => lit(Value::Float(*f)),
            ExprKind::Str(s) => lit(Value::str(s.clone())),
            ExprKind::FString(parts) => self.fstring(parts, expr, ctx),
            ExprKind::Name(name) => self.lookup(name, ctx, Some(expr.span)),
            ExprKind::Attribute(base, attr) => {
                let base_value = self.eval(base, ctx);
                self.attribute(&base_value, attr, Some(loc))
            }
            ExprKind::Subscript(base, key) => {
                let base_value = self.eval(base, ctx);
                let key_value = self.eval(key, ctx);
                self.subscript(&base_value, &key_value, Some(loc))
            }
            ExprKind::Call {
                func,
                args,
                keywords,
            } => self.call(expr, func, args, keywords, ctx),
            ExprKind::BinOp(l, op, r) => {
                let left = self.eval(l, ctx);
                let right = self.eval(r, ctx);
                Self::binop(&left, *op, &right, &render(expr), Some(loc))
            }
            ExprKind::Unary(op, e) => {
                let v = self.eval(e, ctx);
                Self::unary(*op, v, expr, loc)
            }
            ExprKind::BoolOp(op, l, r) => {
                let left = self.eval(l, ctx);
                let Some(truth) = left.value.as_ref().and_then(Value::truthy) else {
                    return unknown(
                        format!("cannot tell whether `{}` is true", render(l)),
                        Some(loc),
                    );
                };
                let take_left = match op {
                    BoolOp::Or => truth,
                    BoolOp::And => !truth,
                };
                if take_left {
                    return left;
                }
                let right = self.eval(r, ctx);
                // `os.environ.get("X") or "5"`: the fallback is the variable's default.
                match (&left.origin, *op) {
                    (Origin::EnvDefault { var }, BoolOp::Or) if right.is_known() => {
                        Sourced::with_origin(
                            right.value.unwrap_or(Value::None),
                            Origin::EnvDefault { var: var.clone() },
                            right.location,
                        )
                    }
                    _ => right,
                }
            }
            ExprKind::Compare(first, rest) => self.compare(first, rest, ctx, loc),
            ExprKind::IfElse { test, body, orelse } => match self.truth(test, ctx) {
                Some(true) => self.eval(body, ctx),
                Some(false) => self.eval(orelse, ctx),
                None => {
                    let a = self.eval(body, ctx);
                    let b = self.eval(orelse, ctx);
                    Sourced::with_origin(
                        Value::OneOf(vec![a, b]),
                        Origin::Computed {
                            expr: format!("{} (condition unknown)", render(expr)),
                        },
                        Some(loc),
                    )
                }
            },
            ExprKind::Dict(items) => {
                let mut dict = PyDict {
                    literal: Some(loc.clone()),
                    ..PyDict::default()
                };
                for item in items {
                    match item {
                        DictItem::Pair(k, v) => {
                            let key = self.eval(k, ctx);
                            match key.value.as_ref().and_then(dict_key) {
                                Some(key) => dict.insert(key, self.eval(v, ctx)),
                                None => dict
                                    .unknown
                                    .push(format!("the key `{}` is not known", render(k))),
                            }
                        }
                        DictItem::Spread(e) => {
                            let spread = self.eval(e, ctx);
                            match spread.value {
                                Some(Value::Dict(d)) => dict.merge(&d),
                                _ => dict.unknown.push(spread.unknown_reason().map_or_else(
                                    || format!("`**{}` is not a known dict", render(e)),
                                    |r| format!("`**{}`: {r}", render(e)),
                                )),
                            }
                        }
                    }
                }
                lit(Value::Dict(dict))
            }
            ExprKind::List(items) | ExprKind::Tuple(items) => lit(Value::List(
                items.iter().map(|e| self.eval(e, ctx)).collect(),
            )),
            ExprKind::Lambda => lit(Value::Callable),
            ExprKind::Other(kind) => unknown(
                format!("`{}` expressions are not evaluated", kind.replace('_', " ")),
                Some(loc),
            ),
        }
    }

    fn fstring(&self, parts: &[FStringPart], expr: &Expr, ctx: &EvalCtx) -> Sourced<Value> {
        let mut out = PyStr::default();
        let mut notes = Vec::new();
        for part in parts {
            match part {
                FStringPart::Literal(s) => out.text.push_str(s),
                FStringPart::Expr(e, _spec) => {
                    let v = self.eval(e, ctx);
                    notes.extend(provenance_note(&v));
                    out.push(&self.to_pystr(&v, e));
                }
            }
        }
        self.computed(Value::Str(out), expr, &notes, ctx)
    }

    fn computed(
        &self,
        value: Value,
        expr: &Expr,
        notes: &[String],
        ctx: &EvalCtx,
    ) -> Sourced<Value> {
        Sourced::computed(
            value,
            with_notes(render(expr), notes),
            Some(self.location(ctx.module, expr.span)),
        )
    }

    /// `str(value)` as a possibly partial string.
    pub fn to_pystr(&self, value: &Sourced<Value>, expr: &Expr) -> PyStr {
        match &value.value {
            Some(Value::Str(s)) => s.clone(),
            Some(Value::Int(IntExpr::Const(i))) => PyStr::known(i.to_string()),
            Some(Value::Float(f)) => PyStr::known(format_float(*f)),
            Some(Value::Bool(b)) => PyStr::known(if *b { "True" } else { "False" }),
            Some(Value::None) => PyStr::known("None"),
            Some(Value::OneOf(options)) => {
                // Each reason once: "None or unknown or unknown is not a
                // string" says nothing a user can act on.
                let mut reasons: Vec<&str> = Vec::new();
                for reason in options.iter().filter_map(|o| o.unknown_reason()) {
                    if !reasons.contains(&reason) {
                        reasons.push(reason);
                    }
                }
                PyStr::hole(if reasons.is_empty() {
                    format!(
                        "`{}` is {} depending on a condition poolcheck cannot decide",
                        render(expr),
                        value
                            .value
                            .as_ref()
                            .map_or_else(String::new, Value::describe)
                    )
                } else {
                    reasons.join("; ")
                })
            }
            Some(other) => PyStr::hole(format!(
                "`{}` is {}, not a string",
                render(expr),
                other.describe()
            )),
            None => PyStr::hole(
                value
                    .unknown_reason()
                    .unwrap_or("the value is not known")
                    .to_owned(),
            ),
        }
    }

    fn unary(op: UnaryOp, v: Sourced<Value>, expr: &Expr, loc: Location) -> Sourced<Value> {
        let value = match (op, v.value.as_ref()) {
            (UnaryOp::Neg, Some(Value::Int(IntExpr::Const(i)))) => {
                return Sourced {
                    value: Some(Value::int(i.saturating_neg())),
                    origin: v.origin,
                    location: Some(loc),
                };
            }
            (UnaryOp::Neg, Some(Value::Float(f))) => {
                return Sourced {
                    value: Some(Value::Float(-f)),
                    origin: v.origin,
                    location: Some(loc),
                };
            }
            (UnaryOp::Pos, Some(_)) => return v,
            (UnaryOp::Not, Some(value)) => value.truthy().map(|t| Value::Bool(!t)),
            _ => None,
        };
        match value {
            Some(value) => Sourced::computed(value, render(expr), Some(loc)),
            None => unknown(
                v.unknown_reason().map_or_else(
                    || format!("cannot evaluate `{}`", render(expr)),
                    str::to_owned,
                ),
                Some(loc),
            ),
        }
    }

    fn compare(
        &self,
        first: &Expr,
        rest: &[(CmpOp, Expr)],
        ctx: &EvalCtx,
        loc: Location,
    ) -> Sourced<Value> {
        let mut left = self.eval(first, ctx);
        for (op, right_expr) in rest {
            let right = self.eval(right_expr, ctx);
            let result = self
                .environ_membership(&left, *op, &right)
                .or_else(|| compare_values(left.value.as_ref(), *op, right.value.as_ref()));
            let Some(result) = result else {
                return unknown("the comparison depends on an unknown value", Some(loc));
            };
            if !result {
                return Sourced::computed(Value::Bool(false), "comparison", Some(loc));
            }
            left = right;
        }
        Sourced::computed(Value::Bool(true), "comparison", Some(loc))
    }

    /// `"X" in os.environ`: set exactly when the environment model gives it a
    /// value, as `os.environ.get("X")` is `None` otherwise.
    fn environ_membership(
        &self,
        key: &Sourced<Value>,
        op: CmpOp,
        container: &Sourced<Value>,
    ) -> Option<bool> {
        let (Some(Value::Str(name)), Some(Value::External(path))) =
            (key.value.as_ref(), container.value.as_ref())
        else {
            return None;
        };
        if path != "os.environ" || !matches!(op, CmpOp::In | CmpOp::NotIn) {
            return None;
        }
        let set = self.env.get(name.complete()?).is_some();
        Some(set == (op == CmpOp::In))
    }

    pub fn binop(
        left: &Sourced<Value>,
        op: BinOp,
        right: &Sourced<Value>,
        text: &str,
        loc: Option<Location>,
    ) -> Sourced<Value> {
        let notes: Vec<String> = [left, right]
            .iter()
            .filter_map(|v| provenance_note(v))
            .collect();
        let (Some(lhs), Some(rhs)) = (left.value.as_ref(), right.value.as_ref()) else {
            let reason = left
                .unknown_reason()
                .or(right.unknown_reason())
                .unwrap_or("an operand is unknown");
            // A string with a hole stays partially known.
            if op == BinOp::Add
                && let (Some(Value::Str(s)), None) | (None, Some(Value::Str(s))) =
                    (left.value.as_ref(), right.value.as_ref())
            {
                let hole = PyStr::hole(reason);
                let mut out = PyStr::default();
                if left.value.is_some() {
                    out.push(s);
                    out.push(&hole);
                } else {
                    out.push(&hole);
                    out.push(s);
                }
                return Sourced::computed(Value::Str(out), with_notes(text.into(), &notes), loc);
            }
            return unknown(reason, loc);
        };
        let value = match (lhs, op, rhs) {
            (Value::Int(a), _, Value::Int(b)) => int_op(a, op, b),
            (Value::Float(f), BinOp::Mul, Value::Int(i))
            | (Value::Int(i), BinOp::Mul, Value::Float(f))
                if i.depends_on_cpus() =>
            {
                scaled_cpus(*f, i)
            }
            (Value::Int(_) | Value::Float(_), _, Value::Int(_) | Value::Float(_)) => {
                match (as_f64(lhs), as_f64(rhs)) {
                    (Some(a), Some(b)) => float_op(a, op, b),
                    _ => None,
                }
            }
            (Value::Str(a), BinOp::Add, Value::Str(b)) => {
                let mut joined = a.clone();
                joined.push(b);
                Some(Value::Str(joined))
            }
            (Value::Str(fmt), BinOp::Mod, args) => Some(Value::Str(percent_format(fmt, args))),
            (Value::List(a), BinOp::Add, Value::List(b)) => {
                Some(Value::List(a.iter().chain(b).cloned().collect()))
            }
            (Value::Dict(a), BinOp::BitOr, Value::Dict(b)) => {
                let mut merged = a.clone();
                merged.merge(b);
                Some(Value::Dict(merged))
            }
            (Value::OneOf(options), _, _) => Some(Value::OneOf(
                options
                    .iter()
                    .map(|o| Self::binop(o, op, right, text, loc.clone()))
                    .collect(),
            )),
            (_, _, Value::OneOf(options)) => Some(Value::OneOf(
                options
                    .iter()
                    .map(|o| Self::binop(left, op, o, text, loc.clone()))
                    .collect(),
            )),
            _ => None,
        };
        match value {
            Some(v) => Sourced::computed(v, with_notes(text.into(), &notes), loc),
            None => unknown(
                format!(
                    "`{text}` combines {} and {}",
                    lhs.describe(),
                    rhs.describe()
                ),
                loc,
            ),
        }
    }

    // ----- attributes and subscripts ------------------------------------------

    pub fn attribute(
        &self,
        base: &Sourced<Value>,
        attr: &str,
        loc: Option<Location>,
    ) -> Sourced<Value> {
        let Some(value) = base.value.as_ref() else {
            return unknown(
                base.unknown_reason().unwrap_or("unknown value").to_owned(),
                loc,
            );
        };
        match value {
            Value::External(path) => Sourced::with_origin(
                Value::External(format!("{path}.{attr}")),
                Origin::Literal,
                loc,
            ),
            Value::Module(dotted) => {
                if let Some(m) = self.project.index_of_name(dotted)
                    && self.module_defines(m, attr)
                {
                    return self.module_value(m, attr);
                }
                let child = format!("{dotted}.{attr}");
                if self.project.has_package(&child) {
                    return Sourced::with_origin(Value::Module(child), Origin::Literal, loc);
                }
                unknown(format!("`{attr}` is not defined in module `{dotted}`"), loc)
            }
            Value::Class(class) => self.class_attribute(*class, attr).unwrap_or_else(|| {
                unknown(
                    format!(
                        "`{attr}` is not defined on class `{}`",
                        self.class_def(*class).name
                    ),
                    loc,
                )
            }),
            Value::Instance(class) => self.instance_attribute(*class, attr, loc),
            Value::OneOf(options) => Sourced::with_origin(
                Value::OneOf(
                    options
                        .iter()
                        .map(|o| self.attribute(o, attr, loc.clone()))
                        .collect(),
                ),
                base.origin.clone(),
                loc,
            ),
            other => unknown(
                format!("`.{attr}` of {} is not evaluated", other.describe()),
                loc,
            ),
        }
    }

    pub fn subscript(
        &self,
        base: &Sourced<Value>,
        key: &Sourced<Value>,
        loc: Option<Location>,
    ) -> Sourced<Value> {
        match (base.value.as_ref(), key.value.as_ref()) {
            (Some(Value::External(path)), Some(Value::Str(name)))
                if path == "os.environ" && name.is_complete() =>
            {
                self.env_lookup(&name.text, None, true, loc)
            }
            (Some(Value::Dict(dict)), Some(k)) => match dict_key(k) {
                Some(k) => dict.get(&k).cloned().unwrap_or_else(|| {
                    let reason = if dict.unknown.is_empty() {
                        format!("the key {k:?} is not in the dict")
                    } else {
                        format!("the key {k:?} is not known: {}", dict.unknown.join("; "))
                    };
                    unknown(reason, loc)
                }),
                None => unknown("the key is not known", loc),
            },
            (Some(Value::List(items)), Some(Value::Int(i))) => {
                match i.constant().and_then(|i| {
                    let len = items.len() as i64;
                    let index = if i < 0 { len + i } else { i };
                    usize::try_from(index).ok()
                }) {
                    Some(index) if index < items.len() => items[index].clone(),
                    _ => unknown("the index is out of range", loc),
                }
            }
            (Some(Value::OneOf(options)), _) => Sourced::with_origin(
                Value::OneOf(
                    options
                        .iter()
                        .map(|o| self.subscript(o, key, loc.clone()))
                        .collect(),
                ),
                base.origin.clone(),
                loc,
            ),
            (None, _) => unknown(base.unknown_reason().unwrap_or("unknown value"), loc),
            (_, None) => unknown(key.unknown_reason().unwrap_or("unknown key"), loc),
            (Some(b), Some(_)) => unknown(
                format!("subscript of {} is not evaluated", b.describe()),
                loc,
            ),
        }
    }

    // ----- classes -------------------------------------------------------------

    pub fn class_def(&self, class: ClassRef) -> &'a ClassDef {
        &self.project.module(class.module).classes[class.index]
    }

    /// The class's bases as values (repository classes and external names).
    pub fn class_bases(&self, class: ClassRef) -> Vec<Sourced<Value>> {
        let def = self.class_def(class);
        let scope = match (def.parent, def.function) {
            (Some(p), _) => ScopeKind::Class(p),
            (None, Some(f)) => ScopeKind::Function(f),
            _ => ScopeKind::Module,
        };
        let ctx = EvalCtx::at(class.module, scope, def.span.start, Vec::new());
        def.bases.iter().map(|b| self.eval(b, &ctx)).collect()
    }

    /// The class and its repository ancestors, depth-first left to right,
    /// plus the external base names met on the way.
    pub fn mro(&self, class: ClassRef) -> (Vec<ClassRef>, Vec<String>) {
        let mut order = Vec::new();
        let mut externals = Vec::new();
        let mut stack = vec![class];
        let mut seen = HashSet::new();
        while let Some(c) = stack.pop() {
            if !seen.insert(c) || order.len() > 64 {
                continue;
            }
            order.push(c);
            let bases = self.class_bases(c);
            for base in bases.iter().rev() {
                match &base.value {
                    Some(Value::Class(b)) => stack.push(*b),
                    Some(Value::External(path)) => externals.push(path.clone()),
                    _ => {}
                }
            }
        }
        (order, externals)
    }

    /// A class attribute, searched through the class's ancestors.
    pub fn class_attribute(&self, class: ClassRef, attr: &str) -> Option<Sourced<Value>> {
        let (order, _) = self.mro(class);
        for c in order {
            let ctx = EvalCtx::at(c.module, ScopeKind::Class(c.index), u32::MAX, Vec::new());
            if let Some(v) = self.lookup_in_scope(attr, &ctx) {
                return Some(v);
            }
        }
        None
    }

    fn instance_attribute(
        &self,
        class: ClassRef,
        attr: &str,
        loc: Option<Location>,
    ) -> Sourced<Value> {
        if let Some(v) = pydantic::settings_field(self, class, attr) {
            return v;
        }
        let (order, _) = self.mro(class);
        for c in &order {
            let module = self.project.module(c.module);
            let property = module.functions.iter().enumerate().find(|(_, f)| {
                f.class == Some(c.index)
                    && f.name == attr
                    && f.decorators.iter().any(|d| {
                        matches!(
                            d.last_name(),
                            Some("property" | "computed_field" | "cached_property")
                        )
                    })
            });
            if let Some((index, func)) = property {
                let mut locals = HashMap::new();
                if let Some(first) = func.params.first() {
                    locals.insert(
                        first.name.clone(),
                        Sourced::with_origin(Value::Instance(class), Origin::Literal, None),
                    );
                }
                return self.function_result(
                    FuncRef {
                        module: c.module,
                        index,
                    },
                    locals,
                    loc,
                );
            }
        }
        self.class_attribute(class, attr).unwrap_or_else(|| {
            unknown(
                format!(
                    "`{attr}` is not an attribute of `{}`",
                    self.class_def(class).name
                ),
                loc,
            )
        })
    }

    // ----- calls ---------------------------------------------------------------

    fn call(
        &self,
        expr: &Expr,
        func: &Expr,
        args: &[Arg],
        keywords: &[Keyword],
        ctx: &EvalCtx,
    ) -> Sourced<Value> {
        let loc = self.location(ctx.module, expr.span);
        // Methods of values: "…".format(), d.get(), s.lower().
        if let ExprKind::Attribute(base, method) = &func.kind {
            let receiver = self.eval(base, ctx);
            if let Some(result) = self.value_method(&receiver, method, args, keywords, expr, ctx) {
                return result;
            }
            let callee = self.attribute(
                &receiver,
                method,
                Some(self.location(ctx.module, func.span)),
            );
            // `settings.get_dsn()` on an instance of a repository class: the
            // method runs with `self` bound to that instance, so its
            // `self.attr` reads resolve instead of stopping at `self`.
            if let (Some(Value::Function(f)), Some(Value::Instance(_))) =
                (&callee.value, &receiver.value)
                && self.call_depth.get() < MAX_CALL_DEPTH
            {
                let def = &self.project.module(f.module).functions[f.index];
                let plain_method = def.class.is_some()
                    && !def
                        .decorators
                        .iter()
                        .any(|d| matches!(d.last_name(), Some("staticmethod" | "classmethod")));
                if let (true, Some(first)) = (plain_method, def.params.first()) {
                    let loc = self.location(ctx.module, expr.span);
                    let mut locals = self.bind_arguments(*f, args, keywords, ctx, &loc);
                    locals.insert(first.name.clone(), receiver.clone());
                    return self.function_result(*f, locals, Some(loc));
                }
            }
            return self.call_value(&callee, expr, func, args, keywords, ctx);
        }
        let callee = self.eval(func, ctx);
        if callee.value.is_none() && is_not_defined(&callee) {
            return unknown(format!("`{}` is not defined", render(func)), Some(loc));
        }
        self.call_value(&callee, expr, func, args, keywords, ctx)
    }

    fn call_value(
        &self,
        callee: &Sourced<Value>,
        expr: &Expr,
        func: &Expr,
        args: &[Arg],
        keywords: &[Keyword],
        ctx: &EvalCtx,
    ) -> Sourced<Value> {
        let loc = self.location(ctx.module, expr.span);
        match &callee.value {
            Some(Value::External(path)) => self.call_external(path, expr, args, keywords, ctx),
            Some(Value::Class(class)) => {
                // A repository subclass of an env reader reads like the reader itself.
                let (_, externals) = self.mro(*class);
                if let Some(reader) = externals.iter().find_map(|p| env_reader(p)) {
                    return Sourced::computed(
                        Value::External(format!("{reader}()")),
                        render(expr),
                        Some(loc),
                    );
                }
                Sourced::computed(Value::Instance(*class), render(expr), Some(loc))
            }
            Some(Value::Function(f)) => self.call_function(*f, args, keywords, ctx, loc),
            Some(other) => unknown(
                format!(
                    "calling `{}` is not evaluated: it is {}",
                    render(func),
                    other.describe()
                ),
                Some(loc),
            ),
            None => unknown(
                callee.unknown_reason().map_or_else(
                    || format!("`{}()` is not evaluated", render(func)),
                    |r| format!("`{}()`: {r}", render(func)),
                ),
                Some(loc),
            ),
        }
    }

    /// Evaluates the positional and keyword arguments of a call.
    pub fn call_arguments(
        &self,
        args: &[Arg],
        keywords: &[Keyword],
        ctx: &EvalCtx,
    ) -> EvaluatedArgs {
        let mut positional = Vec::new();
        let mut named = Vec::new();
        let mut unknown_parts = Vec::new();
        for arg in args {
            match arg {
                Arg::Positional(e) => positional.push(self.eval(e, ctx)),
                Arg::Star(e) => match self.eval(e, ctx).value {
                    Some(Value::List(items)) => positional.extend(items),
                    _ => unknown_parts.push(format!("`*{}` is not a known list", render(e))),
                },
            }
        }
        for keyword in keywords {
            if let Some(name) = &keyword.name {
                named.push((name.clone(), self.eval(&keyword.value, ctx)));
            } else {
                let spread = self.eval(&keyword.value, ctx);
                match spread.value {
                    Some(Value::Dict(d)) => {
                        named.extend(d.entries.iter().cloned());
                        unknown_parts.extend(d.unknown.iter().cloned());
                    }
                    _ => unknown_parts.push(spread.unknown_reason().map_or_else(
                        || format!("`**{}` is not a known dict", render(&keyword.value)),
                        |r| format!("`**{}`: {r}", render(&keyword.value)),
                    )),
                }
            }
        }
        (positional, named, unknown_parts)
    }

    fn call_function(
        &self,
        func: FuncRef,
        args: &[Arg],
        keywords: &[Keyword],
        ctx: &EvalCtx,
        loc: Location,
    ) -> Sourced<Value> {
        let def = &self.project.module(func.module).functions[func.index];
        if self.call_depth.get() >= MAX_CALL_DEPTH {
            return unknown(
                format!("`{}()` calls too deeply to follow", def.name),
                Some(loc),
            );
        }
        let locals = self.bind_arguments(func, args, keywords, ctx, &loc);
        self.function_result(func, locals, Some(loc))
    }

    /// The parameters of `func` bound to the arguments of a call evaluated in `ctx`.
    pub fn bind_arguments(
        &self,
        func: FuncRef,
        args: &[Arg],
        keywords: &[Keyword],
        ctx: &EvalCtx,
        loc: &Location,
    ) -> HashMap<String, Sourced<Value>> {
        let def = &self.project.module(func.module).functions[func.index];
        let (positional, named, unknown_parts) = self.call_arguments(args, keywords, ctx);
        let mut locals = HashMap::new();
        let mut positional = positional.into_iter();
        let is_method = def.class.is_some();
        for (i, param) in def.params.iter().enumerate() {
            if is_method && i == 0 {
                continue;
            }
            match param.kind {
                ParamKind::Normal => {
                    let value = named
                        .iter()
                        .rev()
                        .find(|(n, _)| *n == param.name)
                        .map(|(_, v)| v.clone())
                        .or_else(|| positional.next());
                    let value = match (value, &param.default) {
                        (Some(v), _) => v,
                        (None, Some(default)) if unknown_parts.is_empty() => {
                            let def_ctx = EvalCtx::at(
                                func.module,
                                ScopeKind::Module,
                                def.span.start,
                                Vec::new(),
                            );
                            self.eval(default, &def_ctx)
                        }
                        (None, _) => unknown(
                            format!("argument `{}` of `{}()` is not known", param.name, def.name),
                            Some(loc.clone()),
                        ),
                    };
                    locals.insert(param.name.clone(), value);
                }
                ParamKind::VarArgs => {
                    locals.insert(
                        param.name.clone(),
                        Sourced::computed(
                            Value::List(positional.by_ref().collect()),
                            "*args",
                            None,
                        ),
                    );
                }
                ParamKind::VarKeywords => {
                    let dict = PyDict {
                        entries: named
                            .iter()
                            .filter(|(n, _)| !def.params.iter().any(|p| p.name == *n))
                            .cloned()
                            .collect(),
                        unknown: unknown_parts.clone(),
                        literal: None,
                    };
                    locals.insert(
                        param.name.clone(),
                        Sourced::computed(Value::Dict(dict), "**kwargs", None),
                    );
                }
            }
        }
        locals
    }

    /// The value a repository function returns, given its parameters.
    pub fn function_result(
        &self,
        func: FuncRef,
        locals: HashMap<String, Sourced<Value>>,
        loc: Option<Location>,
    ) -> Sourced<Value> {
        let def = &self.project.module(func.module).functions[func.index];
        self.call_depth.set(self.call_depth.get() + 1);
        let ctx = EvalCtx {
            module: func.module,
            scope: ScopeKind::Function(func.index),
            pos: u32::MAX,
            guards: Vec::new(),
            locals: Some(Rc::new(locals)),
        };
        let mut options = Vec::new();
        for stmt in &def.body {
            let StmtKind::Return { value } = &stmt.kind else {
                continue;
            };
            let status = self.guards_taken(&ctx, &stmt.guards);
            if status == Tri::False {
                continue;
            }
            let at = EvalCtx {
                pos: stmt.span.start,
                guards: stmt.guards.clone(),
                ..ctx.clone()
            };
            let v = match value {
                Some(e) => self.eval(e, &at),
                None => Sourced::literal(Value::None, self.location(func.module, stmt.span)),
            };
            options.push(v);
            if status == Tri::True {
                break;
            }
        }
        self.call_depth.set(self.call_depth.get() - 1);
        match options.len() {
            0 => Sourced::computed(Value::None, format!("{}() returns nothing", def.name), loc),
            1 => options.remove(0),
            _ => Sourced::with_origin(
                Value::OneOf(options),
                Origin::Computed {
                    expr: format!("{}() depends on a condition", def.name),
                },
                loc,
            ),
        }
    }

    /// Methods on evaluated values: str, dict, list and django-environ helpers.
    fn value_method(
        &self,
        receiver: &Sourced<Value>,
        method: &str,
        args: &[Arg],
        keywords: &[Keyword],
        expr: &Expr,
        ctx: &EvalCtx,
    ) -> Option<Sourced<Value>> {
        let loc = self.location(ctx.module, expr.span);
        match receiver.value.as_ref()? {
            Value::Str(s) => {
                let (positional, named, _) = self.call_arguments(args, keywords, ctx);
                let text = |i: usize| -> Option<String> {
                    match positional.get(i)?.value.as_ref()? {
                        Value::Str(s) => s.complete().map(str::to_owned),
                        _ => None,
                    }
                };
                let result = match method {
                    "format" => Value::Str(brace_format(s, &positional, &named)),
                    "lower" => Value::Str(PyStr {
                        text: s.text.to_lowercase(),
                        holes: s.holes.clone(),
                    }),
                    "upper" => Value::Str(PyStr {
                        text: s.text.to_uppercase(),
                        holes: s.holes.clone(),
                    }),
                    "strip" | "rstrip" | "lstrip" if args.is_empty() => Value::Str(PyStr {
                        text: match method {
                            "strip" => s.text.trim(),
                            "rstrip" => s.text.trim_end(),
                            _ => s.text.trim_start(),
                        }
                        .to_owned(),
                        holes: s.holes.clone(),
                    }),
                    "replace" => match (text(0), text(1)) {
                        (Some(a), Some(b)) if !a.is_empty() => Value::Str(PyStr {
                            text: s.text.replace(&a, &b),
                            holes: s.holes.clone(),
                        }),
                        _ => return None,
                    },
                    "split" => {
                        let full = s.complete()?;
                        let parts: Vec<Sourced<Value>> = match text(0) {
                            Some(sep) if !sep.is_empty() => full
                                .split(sep.as_str())
                                .map(|p| {
                                    Sourced::computed(Value::str(p), "split", Some(loc.clone()))
                                })
                                .collect(),
                            _ => full
                                .split_whitespace()
                                .map(|p| {
                                    Sourced::computed(Value::str(p), "split", Some(loc.clone()))
                                })
                                .collect(),
                        };
                        Value::List(parts)
                    }
                    "startswith" | "endswith" => {
                        let full = s.complete()?;
                        let arg = text(0)?;
                        Value::Bool(if method == "startswith" {
                            full.starts_with(&arg)
                        } else {
                            full.ends_with(&arg)
                        })
                    }
                    _ => return None,
                };
                let mut notes: Vec<String> = provenance_note(receiver).into_iter().collect();
                notes.extend(positional.iter().filter_map(provenance_note));
                // Case changes keep the provenance of an environment value.
                if matches!(method, "lower" | "upper" | "strip" | "rstrip" | "lstrip") {
                    return Some(Sourced {
                        value: Some(result),
                        origin: receiver.origin.clone(),
                        location: receiver.location.clone().or(Some(loc)),
                    });
                }
                Some(self.computed(result, expr, &notes, ctx))
            }
            Value::Dict(d) => {
                let (positional, _named, _) = self.call_arguments(args, keywords, ctx);
                match method {
                    "get" => {
                        let key = positional.first()?.value.as_ref().and_then(dict_key)?;
                        Some(d.get(&key).cloned().unwrap_or_else(|| {
                            positional.get(1).cloned().unwrap_or_else(|| {
                                Sourced::computed(Value::None, format!("no key {key:?}"), Some(loc))
                            })
                        }))
                    }
                    "copy" => Some(receiver.clone()),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn call_external(
        &self,
        path: &str,
        expr: &Expr,
        args: &[Arg],
        keywords: &[Keyword],
        ctx: &EvalCtx,
    ) -> Sourced<Value> {
        let loc = self.location(ctx.module, expr.span);
        let path = path.strip_prefix("builtins.").unwrap_or(path);
        let (positional, named, unknown_parts) = self.call_arguments(args, keywords, ctx);
        let kw = |name: &str| named.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
        let arg = |i: usize, name: &str| kw(name).or_else(|| positional.get(i));
        let var_name = |v: Option<&Sourced<Value>>| -> Option<String> {
            match v?.value.as_ref()? {
                Value::Str(s) => s.complete().map(str::to_owned),
                _ => None,
            }
        };
        let last = path.rsplit('.').next().unwrap_or(path);
        match path {
            "sys.modules.get" | "sys.modules.__getitem__" => unknown(
                "the module holding this value is looked up in `sys.modules` at run time (a \
                 configuration module the deployment provides), which poolcheck does not follow",
                Some(loc),
            ),
            "os.environ.get" | "os.getenv" | "os.environ.setdefault" => {
                let Some(var) = var_name(positional.first().or(kw("key"))) else {
                    return unknown("the environment variable's name is not known", Some(loc));
                };
                self.env_lookup(&var, arg(1, "default").cloned(), false, Some(loc))
            }
            "int" | "float" | "str" | "bool" => {
                let Some(v) = positional.first() else {
                    let value = match path {
                        "int" => Value::int(0),
                        "float" => Value::Float(0.0),
                        "str" => Value::str(""),
                        _ => Value::Bool(false),
                    };
                    return Sourced::literal(value, loc);
                };
                convert(path, v, Some(loc))
            }
            "len" => match positional.first().and_then(|v| v.value.as_ref()) {
                Some(Value::External(p)) if p == "os.sched_getaffinity()" => cpus(expr, loc),
                Some(Value::List(items)) => {
                    Sourced::computed(Value::int(items.len() as i64), render(expr), Some(loc))
                }
                Some(Value::Str(s)) if s.is_complete() => Sourced::computed(
                    Value::int(s.text.chars().count() as i64),
                    render(expr),
                    Some(loc),
                ),
                Some(Value::Dict(d)) if d.unknown.is_empty() => {
                    Sourced::computed(Value::int(d.entries.len() as i64), render(expr), Some(loc))
                }
                _ => unknown(format!("`{}` is not evaluated", render(expr)), Some(loc)),
            },
            "multiprocessing.cpu_count" | "os.cpu_count" | "psutil.cpu_count" => cpus(expr, loc),
            "os.sched_getaffinity" => Sourced::computed(
                Value::External("os.sched_getaffinity()".into()),
                render(expr),
                Some(loc),
            ),
            "max" | "min" => Self::min_max(path, &positional, expr, loc),
            // Values are never mutated in place here, so a copy is the value.
            "copy.copy" | "copy.deepcopy" => positional
                .first()
                .cloned()
                .unwrap_or_else(|| unknown("no argument", Some(loc))),
            "abs" => match positional.first().and_then(|v| v.value.as_ref()) {
                Some(Value::Int(IntExpr::Const(i))) => {
                    Sourced::computed(Value::int(i.saturating_abs()), render(expr), Some(loc))
                }
                _ => unknown(format!("`{}` is not evaluated", render(expr)), Some(loc)),
            },
            "dict" => {
                let mut dict = PyDict {
                    literal: None,
                    unknown: unknown_parts,
                    ..PyDict::default()
                };
                if let Some(Value::Dict(d)) = positional.first().and_then(|v| v.value.as_ref()) {
                    dict.merge(d);
                }
                for (k, v) in named {
                    dict.insert(k, v);
                }
                Sourced::computed(Value::Dict(dict), render(expr), Some(loc))
            }
            "list" | "tuple" | "set" => match positional.first() {
                None => Sourced::literal(Value::List(Vec::new()), loc),
                Some(v) if matches!(v.value, Some(Value::List(_))) => v.clone(),
                Some(_) => unknown(format!("`{}` is not evaluated", render(expr)), Some(loc)),
            },
            "getattr" => match (positional.first(), var_name(positional.get(1))) {
                (Some(obj), Some(attr)) => {
                    let v = self.attribute(obj, &attr, Some(loc.clone()));
                    if !v.is_known()
                        && is_not_defined(&v)
                        && let Some(default) = positional.get(2)
                    {
                        return default.clone();
                    }
                    v
                }
                _ => unknown(format!("`{}` is not evaluated", render(expr)), Some(loc)),
            },
            "importlib.import_module" => match var_name(arg(0, "name")) {
                Some(name) if !name.starts_with('.') => {
                    match self
                        .project
                        .index_of_name(&name)
                        .or_else(|| self.project.resolve_absolute(ctx.module, &name))
                    {
                        Some(m) => Sourced::computed(
                            Value::Module(self.project.entry(m).name.clone()),
                            render(expr),
                            Some(loc),
                        ),
                        None => unknown(
                            format!(
                                "`importlib.import_module(\"{name}\")` imports a module that is not in the repository"
                            ),
                            Some(loc),
                        ),
                    }
                }
                _ => unknown(
                    format!(
                        "`{}` imports a module whose name is not known",
                        render(expr)
                    ),
                    Some(loc),
                ),
            },
            _ if env_reader(path).is_some() => Sourced::computed(
                Value::External(format!("{}()", env_reader(path).unwrap_or(path))),
                render(expr),
                Some(loc),
            ),
            "decouple.config"
            | "environ.Env()"
            | "environs.Env()"
            | "starlette.config.Config()" => {
                let Some(var) = var_name(arg(0, "var").or(kw("key"))) else {
                    return unknown("the environment variable's name is not known", Some(loc));
                };
                let default = kw("default").cloned().or_else(|| {
                    // environs: env("X", "default"); django-environ's second positional is `cast`.
                    (path == "environs.Env()")
                        .then(|| positional.get(1).cloned())
                        .flatten()
                });
                let cast = kw("cast")
                    .and_then(|c| c.value.as_ref())
                    .and_then(|c| match c {
                        Value::External(p) => {
                            Some(p.strip_prefix("builtins.").unwrap_or(p).to_owned())
                        }
                        _ => None,
                    });
                let raw = self.env_lookup(
                    &var,
                    default,
                    default_required(path, &named),
                    Some(loc.clone()),
                );
                match cast.as_deref() {
                    Some(kind @ ("int" | "float" | "bool" | "str")) => {
                        env_cast(kind, raw, Some(loc))
                    }
                    _ => raw,
                }
            }
            _ if path.ends_with("Env().int")
                || path.ends_with("Env().float")
                || path.ends_with("Env().bool")
                || path.ends_with("Env().str")
                || path.ends_with("Env().get_value") =>
            {
                let Some(var) = var_name(arg(0, "var")) else {
                    return unknown("the environment variable's name is not known", Some(loc));
                };
                let default = kw("default").or(positional.get(1)).cloned();
                let raw = self.env_lookup(&var, default, true, Some(loc.clone()));
                env_cast(last, raw, Some(loc))
            }
            "dj_database_url.config" | "dj_database_url.parse" => {
                let url = if path.ends_with("parse") {
                    arg(0, "url").cloned()
                } else {
                    let var = var_name(kw("env")).unwrap_or_else(|| "DATABASE_URL".to_owned());
                    Some(self.env_lookup(&var, kw("default").cloned(), false, Some(loc.clone())))
                };
                database_dict(url.as_ref(), &named, "dj-database-url", loc)
            }
            _ if path.ends_with("Env().db") || path.ends_with("Env().db_url") => {
                let var = var_name(arg(0, "var")).unwrap_or_else(|| "DATABASE_URL".to_owned());
                let url = self.env_lookup(
                    &var,
                    kw("default").or(positional.get(1)).cloned(),
                    true,
                    Some(loc.clone()),
                );
                database_dict(Some(&url), &named, "django-environ", loc)
            }
            _ if path.ends_with("URL.create") => {
                let mut named = named;
                if let Some(driver) = positional.first() {
                    named.insert(0, ("drivername".to_owned(), driver.clone()));
                }
                super::url::url_create(&named, loc)
            }
            _ if last == "make_url" || last == "quote_plus" || last == "quote" => positional
                .first()
                .cloned()
                .unwrap_or_else(|| unknown("no argument", Some(loc))),
            _ if last == "SettingsConfigDict" || last == "ConfigDict" => {
                let mut dict = PyDict::default();
                for (k, v) in named {
                    dict.insert(k, v);
                }
                Sourced::computed(Value::Dict(dict), render(expr), Some(loc))
            }
            _ if last == "Field" => kw("default")
                .or(positional.first())
                .cloned()
                .unwrap_or_else(|| unknown("the field has no default", Some(loc))),
            _ => unknown(
                format!("`{path}()` is outside the repository and not evaluated"),
                Some(loc),
            ),
        }
    }

    fn min_max(
        which: &str,
        positional: &[Sourced<Value>],
        expr: &Expr,
        loc: Location,
    ) -> Sourced<Value> {
        let items: Vec<&Sourced<Value>> = match positional {
            [single] => match &single.value {
                Some(Value::List(items)) => items.iter().collect(),
                _ => vec![single],
            },
            many => many.iter().collect(),
        };
        let mut acc: Option<IntExpr> = None;
        let mut notes = Vec::new();
        for item in items {
            let Some(Value::Int(i)) = &item.value else {
                return unknown(
                    item.unknown_reason().map_or_else(
                        || format!("`{}` is not evaluated", render(expr)),
                        str::to_owned,
                    ),
                    Some(loc),
                );
            };
            notes.extend(provenance_note(item));
            acc = Some(match acc {
                None => i.clone(),
                Some(a) => fold_int(if which == "max" {
                    IntExpr::Max(Box::new(a), Box::new(i.clone()))
                } else {
                    IntExpr::Min(Box::new(a), Box::new(i.clone()))
                }),
            });
        }
        match acc {
            Some(v) => {
                Sourced::computed(Value::Int(v), with_notes(render(expr), &notes), Some(loc))
            }
            None => unknown(format!("`{}` has no arguments", render(expr)), Some(loc)),
        }
    }

    /// `os.environ.get(var, default)` and friends.
    pub fn env_lookup(
        &self,
        var: &str,
        default: Option<Sourced<Value>>,
        required: bool,
        loc: Option<Location>,
    ) -> Sourced<Value> {
        if let Some(found) = self.env.get(var) {
            return Sourced::with_origin(
                Value::str(found.value.clone()),
                Origin::EnvValue {
                    var: var.to_owned(),
                    source: found.source.clone(),
                },
                found.location.clone().or(loc),
            );
        }
        match default {
            Some(d) => match d.value {
                Some(v) => Sourced::with_origin(
                    v,
                    Origin::EnvDefault {
                        var: var.to_owned(),
                    },
                    d.location.or(loc),
                ),
                None => d,
            },
            None if required => unknown(missing_env_reason(var), loc),
            None => Sourced::with_origin(
                Value::None,
                Origin::EnvDefault {
                    var: var.to_owned(),
                },
                loc,
            ),
        }
    }

    /// Case-insensitive environment lookup (pydantic settings).
    pub fn env_lookup_ci(&self, var: &str) -> Option<(String, poolcheck_core::EnvVar)> {
        if let Some(v) = self.env.get(var) {
            return Some((var.to_owned(), v.clone()));
        }
        self.env
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(var))
            .map(|(k, v)| (k.clone(), v.clone()))
    }
}

/// Positional values, keyword values, and why some may be missing.
pub type EvaluatedArgs = (
    Vec<Sourced<Value>>,
    Vec<(String, Sourced<Value>)>,
    Vec<String>,
);

enum Mutation<'e> {
    Set(&'e Expr),
    Update(&'e Expr, bool),
    Aug(BinOp, &'e Expr),
}

#[derive(Clone, Copy)]
enum UpdateKind {
    Overwrite,
    KeepExisting,
}

fn default_required(path: &str, named: &[(String, Sourced<Value>)]) -> bool {
    // decouple/starlette/django-environ raise when the variable is missing and
    // no default is given.
    let _ = path;
    !named.iter().any(|(n, _)| n == "default")
}

fn strip_shared<'g>(guards: &'g [Guard], shared: &[Guard]) -> &'g [Guard] {
    let common = guards
        .iter()
        .zip(shared)
        .take_while(|(a, b)| a == b)
        .count();
    &guards[common..]
}

/// The reader an environment class stands for: django-environ's `FileAwareEnv`
/// reads like its base `Env` (plus `*_FILE` variables, which are not known here).
fn env_reader(path: &str) -> Option<&'static str> {
    match path {
        "environ.Env"
        | "environ.FileAwareEnv"
        | "environ.environ.Env"
        | "environ.environ.FileAwareEnv" => Some("environ.Env"),
        "environs.Env" => Some("environs.Env"),
        "starlette.config.Config" => Some("starlette.config.Config"),
        _ => None,
    }
}

fn is_not_defined(v: &Sourced<Value>) -> bool {
    v.unknown_reason()
        .is_some_and(|r| r.contains("is not defined"))
}

fn builtin(name: &str, loc: Option<Location>) -> Sourced<Value> {
    const BUILTINS: &[&str] = &[
        "int", "float", "str", "bool", "len", "dict", "list", "tuple", "set", "max", "min", "abs",
        "getattr", "round",
    ];
    if BUILTINS.contains(&name) {
        return Sourced::with_origin(Value::External(name.to_owned()), Origin::Literal, loc);
    }
    unknown(format!("`{name}` is not defined"), loc)
}

fn cpus(expr: &Expr, loc: Location) -> Sourced<Value> {
    Sourced::computed(Value::Int(IntExpr::Cpus), render(expr), Some(loc))
}

fn with_notes(text: String, notes: &[String]) -> String {
    let mut unique: Vec<&String> = Vec::new();
    for n in notes {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    if unique.is_empty() {
        text
    } else {
        format!(
            "{text} with {}",
            unique
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn op_symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        BinOp::Pow => "**",
        BinOp::BitOr => "|",
        BinOp::BitAnd => "&",
        BinOp::Other => "?",
    }
}

/// The key a value has in a dict literal.
pub fn dict_key(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => s.complete().map(str::to_owned),
        Value::Int(IntExpr::Const(i)) => Some(i.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => i.constant().map(|i| i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// `factor * n` for a CPU-dependent `n`, kept symbolic as `(p * n) // q` with
/// `factor = p / q`: the floor is what `int()` makes of it, and every caller
/// that sizes workers from such a product passes it through `int()` or
/// `math.ceil` first. Factors that are not a short decimal stay unknown.
fn scaled_cpus(factor: f64, n: &IntExpr) -> Option<Value> {
    if !factor.is_finite() || factor < 0.0 {
        return None;
    }
    let denominator: i64 = 1000;
    let scaled = factor * denominator as f64;
    if (scaled - scaled.round()).abs() > 1e-9 || scaled > 1e9 {
        return None;
    }
    let numerator = scaled.round() as i64;
    let divisor = gcd(numerator, denominator);
    let (p, q) = (numerator / divisor, denominator / divisor);
    let product = IntExpr::Mul(Box::new(IntExpr::Const(p)), Box::new(n.clone()));
    Some(Value::Int(if q == 1 {
        product
    } else {
        IntExpr::FloorDiv(Box::new(product), Box::new(IntExpr::Const(q)))
    }))
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs().max(1)
    } else {
        gcd(b, a % b)
    }
}

/// Folds constant sub-expressions so `2 * 4 + 1` stays a plain 9.
fn fold_int(e: IntExpr) -> IntExpr {
    if e.depends_on_cpus() {
        e
    } else {
        e.constant().map_or(e, IntExpr::Const)
    }
}

fn int_op(a: &IntExpr, op: BinOp, b: &IntExpr) -> Option<Value> {
    let (ab, bb) = (Box::new(a.clone()), Box::new(b.clone()));
    let e = match op {
        BinOp::Add => IntExpr::Add(ab, bb),
        BinOp::Sub => IntExpr::Sub(ab, bb),
        BinOp::Mul => IntExpr::Mul(ab, bb),
        BinOp::FloorDiv => IntExpr::FloorDiv(ab, bb),
        BinOp::Div => {
            let (x, y) = (a.constant()?, b.constant()?);
            return (y != 0).then(|| Value::Float(x as f64 / y as f64));
        }
        BinOp::Mod => {
            let (x, y) = (a.constant()?, b.constant()?);
            return (y != 0).then(|| Value::int(x.rem_euclid(y)));
        }
        BinOp::Pow => {
            let (x, y) = (a.constant()?, b.constant()?);
            return x.checked_pow(u32::try_from(y).ok()?).map(Value::int);
        }
        _ => return None,
    };
    let folded = fold_int(e);
    // Overflow or division by zero in constants is not a value.
    if !folded.depends_on_cpus() && folded.constant().is_none() {
        return None;
    }
    Some(Value::Int(folded))
}

fn float_op(a: f64, op: BinOp, b: f64) -> Option<Value> {
    Some(Value::Float(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div if b != 0.0 => a / b,
        BinOp::FloorDiv if b != 0.0 => (a / b).floor(),
        _ => return None,
    }))
}

fn compare_values(l: Option<&Value>, op: CmpOp, r: Option<&Value>) -> Option<bool> {
    let (l, r) = (l?, r?);
    if let (Value::OneOf(_), _) | (_, Value::OneOf(_)) = (l, r) {
        return None;
    }
    match op {
        CmpOp::Is | CmpOp::IsNot => {
            let same = match (l, r) {
                (Value::External(_), _) | (_, Value::External(_)) => return None,
                (Value::None, Value::None) => true,
                (Value::None, _) | (_, Value::None) => false,
                (Value::Bool(a), Value::Bool(b)) => a == b,
                _ => return None,
            };
            Some(same == (op == CmpOp::Is))
        }
        CmpOp::In | CmpOp::NotIn => {
            let found = match r {
                Value::List(items) => {
                    let mut any_unknown = false;
                    let mut found = false;
                    for item in items {
                        match item.value.as_ref().and_then(|v| values_equal(l, v)) {
                            Some(true) => found = true,
                            None => any_unknown = true,
                            Some(false) => {}
                        }
                    }
                    if !found && any_unknown {
                        return None;
                    }
                    found
                }
                Value::Str(s) => match l {
                    Value::Str(needle) => s.complete()?.contains(needle.complete()?),
                    _ => return None,
                },
                Value::Dict(d) => {
                    let key = dict_key(l)?;
                    if d.get(&key).is_none() && !d.unknown.is_empty() {
                        return None;
                    }
                    d.get(&key).is_some()
                }
                _ => return None,
            };
            Some(found == (op == CmpOp::In))
        }
        CmpOp::Eq => values_equal(l, r),
        CmpOp::NotEq => values_equal(l, r).map(|e| !e),
        _ => {
            let ordering = match (l, r) {
                (Value::Str(a), Value::Str(b)) => a.complete()?.cmp(b.complete()?),
                _ => as_f64(l)?.partial_cmp(&as_f64(r)?)?,
            };
            Some(match op {
                CmpOp::Lt => ordering.is_lt(),
                CmpOp::LtE => ordering.is_le(),
                CmpOp::Gt => ordering.is_gt(),
                _ => ordering.is_ge(),
            })
        }
    }
}

fn values_equal(l: &Value, r: &Value) -> Option<bool> {
    Some(match (l, r) {
        (Value::None, Value::None) => true,
        (Value::Str(a), Value::Str(b)) => a.complete()? == b.complete()?,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (
            Value::Int(_) | Value::Float(_) | Value::Bool(_),
            Value::Int(_) | Value::Float(_) | Value::Bool(_),
        ) => {
            let f = |v: &Value| match v {
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                other => as_f64(other),
            };
            f(l)?.total_cmp(&f(r)?).is_eq()
        }
        (Value::External(a), Value::External(b)) => a == b,
        (Value::OneOf(_) | Value::Dict(_) | Value::List(_), _) | (_, Value::OneOf(_)) => {
            return None;
        }
        _ => false,
    })
}

/// A Django `DATABASES` entry from a database URL, as dj-database-url and
/// django-environ build it; keys derived from the URL keep its provenance.
fn database_dict(
    url: Option<&Sourced<Value>>,
    named: &[(String, Sourced<Value>)],
    tool: &str,
    loc: Location,
) -> Sourced<Value> {
    let mut dict = PyDict::default();
    let kw = |name: &str| named.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
    match url.and_then(|u| u.value.as_ref()) {
        Some(Value::Str(s)) => {
            let parsed = super::url::parse_db_url(s);
            let url = url.map_or_else(
                || Sourced::with_origin((), Origin::Literal, Some(loc.clone())),
                |u| Sourced::with_origin((), u.origin.clone(), u.location.clone()),
            );
            let derived =
                |v: Value| Sourced::with_origin(v, url.origin.clone(), url.location.clone());
            let scheme = parsed.scheme.clone().unwrap_or_default();
            let engine = match scheme.split('+').next().unwrap_or("") {
                "postgres" | "postgresql" | "pgsql" | "psql" => {
                    Some("django.db.backends.postgresql")
                }
                "postgis" => Some("django.contrib.gis.db.backends.postgis"),
                "sqlite" => Some("django.db.backends.sqlite3"),
                "mysql" => Some("django.db.backends.mysql"),
                _ => None,
            };
            match engine {
                Some(engine) => dict.insert("ENGINE".into(), derived(Value::str(engine))),
                None => dict.insert(
                    "ENGINE".into(),
                    Sourced::unknown(
                        if s.is_complete() {
                            format!("the database URL scheme `{scheme}` is not known")
                        } else {
                            format!("the database URL is not known: {}", s.holes.join("; "))
                        },
                        url.location.clone(),
                    ),
                ),
            }
            if let Some(name) = parsed.dbname.clone() {
                dict.insert("NAME".into(), derived(Value::str(name)));
            }
            if let Some(user) = parsed.user.clone() {
                dict.insert("USER".into(), derived(Value::str(user)));
            }
            if let Some(host) = parsed.host.clone() {
                dict.insert("HOST".into(), derived(Value::str(host)));
            }
            if let Some(port) = parsed.port {
                dict.insert("PORT".into(), derived(Value::int(i64::from(port))));
            }
            let mut options = PyDict::default();
            for (k, v) in &parsed.params {
                options.insert(k.clone(), derived(Value::str(v.clone())));
            }
            if !options.entries.is_empty() {
                dict.insert("OPTIONS".into(), derived(Value::Dict(options)));
            }
        }
        Some(Value::None) => {
            // No URL: dj-database-url returns an empty configuration.
            return Sourced::computed(
                Value::Dict(dict),
                format!("{tool} without a URL"),
                Some(loc),
            );
        }
        _ => dict.unknown.push(
            url.as_ref()
                .and_then(|u| u.unknown_reason())
                .map_or_else(|| "the database URL is not known".to_owned(), str::to_owned),
        ),
    }
    match kw("conn_max_age") {
        Some(v) => dict.insert("CONN_MAX_AGE".into(), v.clone()),
        None if tool == "dj-database-url" => {
            dict.insert(
                "CONN_MAX_AGE".into(),
                Sourced::tool_default(Value::int(0), tool),
            );
        }
        None => {}
    }
    for (key, setting) in [
        ("conn_health_checks", "CONN_HEALTH_CHECKS"),
        ("disable_server_side_cursors", "DISABLE_SERVER_SIDE_CURSORS"),
        ("engine", "ENGINE"),
    ] {
        if let Some(v) = kw(key) {
            dict.insert(setting.into(), v.clone());
        }
    }
    Sourced::computed(Value::Dict(dict), format!("{tool} URL"), Some(loc))
}

/// `int(x)`, `float(x)`, `str(x)`, `bool(x)` keeping the provenance of `x`.
/// A value whose alternatives poolcheck could not all evaluate, said by
/// why each unknown one is unknown (each reason once) at where the first of
/// them is computed, which holds the cause; `None` when all are known.
pub(crate) fn unknown_alternatives(
    options: &[Sourced<Value>],
    fallback: Option<Location>,
) -> Option<Sourced<Value>> {
    let first = options.iter().find(|o| o.value.is_none())?;
    let mut reasons: Vec<&str> = Vec::new();
    for reason in options.iter().filter_map(|o| o.unknown_reason()) {
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    Some(Sourced::unknown(
        reasons.join("; "),
        first.location.clone().or(fallback),
    ))
}

pub fn convert(kind: &str, v: &Sourced<Value>, loc: Option<Location>) -> Sourced<Value> {
    let Some(value) = v.value.as_ref() else {
        return v.clone();
    };
    let loc = v.location.clone().or(loc);
    let keep = |new: Value| Sourced {
        value: Some(new),
        origin: v.origin.clone(),
        location: v.location.clone().or(loc.clone()),
    };
    let fail = |what: &str| {
        let reason = match (&v.origin, value) {
            (Origin::EnvDefault { var }, Value::None) => missing_env_reason(var),
            (Origin::EnvValue { var, source }, _) => {
                format!("${var} = {} ({source}) is not {what}", value.describe())
            }
            // "None or unknown or unknown is not a string" hides the cause:
            // the alternatives poolcheck could not evaluate say why, once each.
            (_, Value::OneOf(options)) if options.iter().any(|o| o.value.is_none()) => {
                if let Some(unknown) =
                    unknown_alternatives(options, v.location.clone().or(loc.clone()))
                {
                    return unknown;
                }
                format!("{} is not {what}", value.describe())
            }
            _ => format!("{} is not {what}", value.describe()),
        };
        Sourced::unknown(reason, v.location.clone().or(loc.clone()))
    };
    match kind {
        "int" => match value {
            Value::Int(_) => v.clone(),
            Value::Float(f) => keep(Value::int(f.trunc() as i64)),
            Value::Bool(b) => keep(Value::int(i64::from(*b))),
            Value::Str(s) => match s
                .complete()
                .and_then(|t| t.trim().replace('_', "").parse::<i64>().ok())
            {
                Some(i) => keep(Value::int(i)),
                None => fail("an integer"),
            },
            Value::OneOf(options) => keep(Value::OneOf(
                options
                    .iter()
                    .map(|o| convert(kind, o, loc.clone()))
                    .collect(),
            )),
            _ => fail("an integer"),
        },
        "float" => match value {
            Value::Float(_) => v.clone(),
            Value::Int(i) => match i.constant() {
                Some(i) => keep(Value::Float(i as f64)),
                None => fail("a number"),
            },
            Value::Str(s) => match s.complete().and_then(|t| t.trim().parse::<f64>().ok()) {
                Some(f) => keep(Value::Float(f)),
                None => fail("a number"),
            },
            _ => fail("a number"),
        },
        "str" => match value {
            Value::Str(_) => v.clone(),
            Value::Int(IntExpr::Const(i)) => keep(Value::str(i.to_string())),
            Value::Float(f) => keep(Value::str(format_float(*f))),
            Value::Bool(b) => keep(Value::str(if *b { "True" } else { "False" })),
            Value::None => keep(Value::str("None")),
            _ => fail("a string"),
        },
        _ => match value.truthy() {
            Some(t) => keep(Value::Bool(t)),
            None => fail("decidable"),
        },
    }
}

/// Casts an environment string the way env helpers do (`"true"` is true).
fn env_cast(kind: &str, raw: Sourced<Value>, loc: Option<Location>) -> Sourced<Value> {
    match (kind, raw.value.as_ref()) {
        ("bool", Some(Value::Str(s))) => {
            match s.complete().map(|t| t.trim().to_ascii_lowercase()) {
                Some(t) => Sourced {
                    value: Some(Value::Bool(matches!(
                        t.as_str(),
                        "true" | "1" | "yes" | "y" | "on" | "ok" | "t"
                    ))),
                    origin: raw.origin.clone(),
                    location: raw.location.clone(),
                },
                None => convert("bool", &raw, loc),
            }
        }
        ("int" | "float" | "str" | "bool", _) => convert(kind, &raw, loc),
        _ => raw,
    }
}

/// `"…%s…" % args` with the parts that are known.
fn percent_format(fmt: &PyStr, args: &Value) -> PyStr {
    let positional: Vec<Sourced<Value>> = match args {
        Value::List(items) => items.clone(),
        Value::Dict(_) => Vec::new(),
        other => vec![Sourced::with_origin(other.clone(), Origin::Literal, None)],
    };
    let mut next = positional.iter();
    let mut out = PyStr {
        text: String::new(),
        holes: fmt.holes.clone(),
    };
    let mut chars = fmt.text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.text.push(c);
            continue;
        }
        let mut key = None;
        if chars.peek() == Some(&'(') {
            chars.next();
            let name: String = chars.by_ref().take_while(|c| *c != ')').collect();
            key = Some(name);
        }
        // Flags, width and precision.
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | ' ' | '#' | '.'))
        {
            chars.next();
        }
        let Some(conv) = chars.next() else {
            out.text.push('%');
            break;
        };
        if conv == '%' {
            out.text.push('%');
            continue;
        }
        let value = match (&key, args) {
            (Some(k), Value::Dict(d)) => d.get(k).cloned(),
            (Some(_), _) => None,
            (None, _) => next.next().cloned(),
        };
        out.push(&value_to_pystr(value.as_ref()));
    }
    out
}

/// `"…{}…{name}…".format(...)` with the parts that are known.
fn brace_format(
    fmt: &PyStr,
    positional: &[Sourced<Value>],
    named: &[(String, Sourced<Value>)],
) -> PyStr {
    let mut out = PyStr {
        text: String::new(),
        holes: fmt.holes.clone(),
    };
    let mut auto = 0;
    let mut chars = fmt.text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.text.push('}');
            }
            '{' => {
                let field: String = chars.by_ref().take_while(|c| *c != '}').collect();
                let name = field.split([':', '!']).next().unwrap_or("");
                let value = if name.is_empty() {
                    auto += 1;
                    positional.get(auto - 1)
                } else if let Ok(i) = name.parse::<usize>() {
                    positional.get(i)
                } else {
                    named.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
                };
                out.push(&value_to_pystr(value));
            }
            other => out.text.push(other),
        }
    }
    out
}

fn value_to_pystr(value: Option<&Sourced<Value>>) -> PyStr {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::Str(s)) => s.clone(),
        Some(Value::Int(IntExpr::Const(i))) => PyStr::known(i.to_string()),
        Some(Value::Float(f)) => PyStr::known(format_float(*f)),
        Some(Value::Bool(b)) => PyStr::known(if *b { "True" } else { "False" }),
        Some(Value::None) => PyStr::known("None"),
        _ => PyStr::hole(
            value
                .and_then(|v| v.unknown_reason())
                .unwrap_or("a formatted value is not known")
                .to_owned(),
        ),
    }
}

/// The integer value of a sourced value, for settings (bools count as 0/1).
pub fn as_int(v: &Sourced<Value>) -> Option<IntExpr> {
    match v.value.as_ref()? {
        Value::Int(i) => Some(i.clone()),
        Value::Bool(b) => Some(IntExpr::Const(i64::from(*b))),
        Value::Str(s) => s.complete()?.trim().parse().ok().map(IntExpr::Const),
        Value::Float(f) if f.fract() == 0.0 => Some(IntExpr::Const(*f as i64)),
        _ => None,
    }
}

pub fn is_hole_only(s: &PyStr) -> bool {
    s.text.chars().all(|c| c == HOLE)
}
