//! Moving a statement's IR within a module: its spans when text before it
//! grew or shrank, and its class, function and branch indices when it is
//! appended after other statements' IR (see `parse::build_module`).
//!
//! Every IR type is destructured without `..`, so a field added to the IR
//! is a compile error here rather than a span or index left behind.

use poolcheck_core::Span;
use poolcheck_core::facts::python::{
    Accessor, Arg, AssignTarget, BranchPoint, CallSite, ClassDef, DictItem, EventHandlerDef,
    ExecutedSql, Expr, ExprKind, FStringPart, FunctionDef, Guard, Import, ImportKind,
    ImportTimeActivity, ImportedName, Keyword, Param, PythonModule, Stmt, StmtKind,
};

use super::nesting::TooDeep;

/// Moves every span of `module` (and of what was too deep to read) by
/// `delta` bytes.
pub(crate) fn shift_spans(module: &mut PythonModule, too_deep: &mut [TooDeep], delta: i64) {
    if delta == 0 {
        return;
    }
    let shift = Shift(delta);
    let PythonModule {
        body,
        classes,
        functions,
        branches,
        calls,
        event_handlers,
        import_time,
        syntax_errors,
    } = module;
    shift.stmts(body);
    for class in classes {
        let ClassDef {
            name: _,
            name_span,
            span,
            bases,
            keywords,
            body,
            parent: _,
            function: _,
        } = class;
        shift.span(name_span);
        shift.span(span);
        for e in bases.iter_mut() {
            shift.expr(e);
        }
        for k in keywords.iter_mut() {
            shift.keyword(k);
        }
        shift.stmts(body);
    }
    for function in functions {
        let FunctionDef {
            name: _,
            name_span,
            span,
            params,
            decorators,
            body,
            class: _,
            calls_dispose: _,
            closes_django_connections: _,
            called: _,
        } = function;
        shift.span(name_span);
        shift.span(span);
        for Param {
            name: _,
            default,
            kind: _,
        } in params
        {
            if let Some(default) = default {
                shift.expr(default);
            }
        }
        for e in decorators.iter_mut() {
            shift.expr(e);
        }
        shift.stmts(body);
    }
    for BranchPoint {
        kind: _,
        span,
        conditions,
        exhaustive: _,
    } in branches
    {
        shift.span(span);
        conditions.iter_mut().flatten().for_each(|e| shift.expr(e));
    }
    for CallSite {
        call,
        callee_name: _,
        function: _,
        class: _,
        assigned_to: _,
        guards: _,
        returned: _,
    } in calls
    {
        shift.expr(call);
    }
    for EventHandlerDef {
        target,
        event: _,
        handler: _,
        span,
        statements,
    } in event_handlers
    {
        shift.expr(target);
        shift.span(span);
        for ExecutedSql { sql: _, span } in statements {
            shift.span(span);
        }
    }
    for ImportTimeActivity {
        kind: _,
        span,
        receiver,
    } in import_time
    {
        shift.span(span);
        if let Some(receiver) = receiver {
            shift.expr(receiver);
        }
    }
    for s in syntax_errors.iter_mut() {
        shift.span(s);
    }
    for TooDeep { span, message: _ } in too_deep {
        shift.span(span);
    }
}

struct Shift(i64);

impl Shift {
    fn span(&self, span: &mut Span) {
        let moved = |at: u32| (i64::from(at) + self.0).clamp(0, i64::from(u32::MAX)) as u32;
        span.start = moved(span.start);
        span.end = moved(span.end);
    }

    fn stmts(&self, stmts: &mut [Stmt]) {
        for Stmt {
            kind,
            span,
            guards: _,
        } in stmts
        {
            self.span(span);
            match kind {
                StmtKind::Assign {
                    target,
                    value,
                    annotation,
                } => {
                    self.target(target);
                    self.expr(value);
                    if let Some(annotation) = annotation {
                        self.expr(annotation);
                    }
                }
                StmtKind::Declare {
                    name: _,
                    annotation,
                } => self.expr(annotation),
                StmtKind::AugAssign {
                    target,
                    op: _,
                    value,
                }
                | StmtKind::Update {
                    target,
                    value,
                    keep_existing: _,
                } => {
                    self.target(target);
                    self.expr(value);
                }
                StmtKind::Import(Import {
                    module: _,
                    level: _,
                    kind,
                }) => match kind {
                    ImportKind::Names(names) => {
                        for ImportedName {
                            name: _,
                            alias: _,
                            span,
                        } in names
                        {
                            self.span(span);
                        }
                    }
                    ImportKind::Module { alias: _ } | ImportKind::Star => {}
                },
                StmtKind::Class { name: _, index: _ }
                | StmtKind::Function { name: _, index: _ } => {}
                StmtKind::Return { value } => {
                    if let Some(value) = value {
                        self.expr(value);
                    }
                }
            }
        }
    }

    fn target(&self, target: &mut AssignTarget) {
        let AssignTarget {
            name: _,
            name_span,
            path,
        } = target;
        self.span(name_span);
        for accessor in path {
            match accessor {
                Accessor::Key(key) => self.expr(key),
                Accessor::Attr(_) | Accessor::EachKey => {}
            }
        }
    }

    fn keyword(&self, keyword: &mut Keyword) {
        let Keyword {
            name: _,
            value,
            span,
        } = keyword;
        self.expr(value);
        self.span(span);
    }

    fn expr(&self, expr: &mut Expr) {
        let Expr { kind, span } = expr;
        self.span(span);
        match kind {
            ExprKind::None
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Name(_)
            | ExprKind::Lambda
            | ExprKind::Other(_) => {}
            ExprKind::FString(parts) => {
                for part in parts {
                    match part {
                        FStringPart::Literal(_) => {}
                        FStringPart::Expr(e, _) => self.expr(e),
                    }
                }
            }
            ExprKind::Attribute(base, _) => self.expr(base),
            ExprKind::Subscript(base, key) => {
                self.expr(base);
                self.expr(key);
            }
            ExprKind::Call {
                func,
                args,
                keywords,
            } => {
                self.expr(func);
                for arg in args {
                    match arg {
                        Arg::Positional(e) | Arg::Star(e) => self.expr(e),
                    }
                }
                for k in keywords.iter_mut() {
                    self.keyword(k);
                }
            }
            ExprKind::BinOp(left, _, right) | ExprKind::BoolOp(_, left, right) => {
                self.expr(left);
                self.expr(right);
            }
            ExprKind::Unary(_, operand) => self.expr(operand),
            ExprKind::Compare(first, rest) => {
                self.expr(first);
                for (_, e) in rest.iter_mut() {
                    self.expr(e);
                }
            }
            ExprKind::IfElse { test, body, orelse } => {
                self.expr(test);
                self.expr(body);
                self.expr(orelse);
            }
            ExprKind::Dict(items) => {
                for item in items {
                    match item {
                        DictItem::Pair(k, v) => {
                            self.expr(k);
                            self.expr(v);
                        }
                        DictItem::Spread(e) => self.expr(e),
                    }
                }
            }
            ExprKind::List(items) | ExprKind::Tuple(items) => {
                for e in items.iter_mut() {
                    self.expr(e);
                }
            }
        }
    }
}

/// How far one statement's indices move when its IR is appended to a
/// module that already holds other statements' classes, functions and
/// branches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexBase {
    pub classes: usize,
    pub functions: usize,
    pub branches: usize,
}

impl IndexBase {
    pub(crate) fn of(module: &PythonModule) -> Self {
        Self {
            classes: module.classes.len(),
            functions: module.functions.len(),
            branches: module.branches.len(),
        }
    }

    fn guards(self, guards: &mut [Guard]) {
        for Guard { branch, arm: _ } in guards {
            *branch += self.branches;
        }
    }

    fn stmts(self, stmts: &mut [Stmt]) {
        for stmt in stmts {
            self.guards(&mut stmt.guards);
            match &mut stmt.kind {
                StmtKind::Class { name: _, index } => *index += self.classes,
                StmtKind::Function { name: _, index } => *index += self.functions,
                StmtKind::Assign { .. }
                | StmtKind::Declare { .. }
                | StmtKind::AugAssign { .. }
                | StmtKind::Update { .. }
                | StmtKind::Import(_)
                | StmtKind::Return { .. } => {}
            }
        }
    }
}

/// Appends `part` (one statement's IR, indices counting from zero) to
/// `module`, renumbering its classes, functions and branches.
pub(crate) fn append(module: &mut PythonModule, part: PythonModule) {
    let base = IndexBase::of(module);
    let PythonModule {
        body,
        classes,
        functions,
        branches,
        calls,
        event_handlers,
        import_time,
        syntax_errors,
    } = part;
    let at = module.body.len();
    module.body.extend(body);
    base.stmts(&mut module.body[at..]);
    for mut class in classes {
        base.stmts(&mut class.body);
        class.parent = class.parent.map(|i| i + base.classes);
        class.function = class.function.map(|i| i + base.functions);
        module.classes.push(class);
    }
    for mut function in functions {
        base.stmts(&mut function.body);
        function.class = function.class.map(|i| i + base.classes);
        module.functions.push(function);
    }
    module.branches.extend(branches);
    for mut call in calls {
        call.function = call.function.map(|i| i + base.functions);
        call.class = call.class.map(|i| i + base.classes);
        base.guards(&mut call.guards);
        module.calls.push(call);
    }
    module.event_handlers.extend(event_handlers);
    module.import_time.extend(import_time);
    module.syntax_errors.extend(syntax_errors);
}
