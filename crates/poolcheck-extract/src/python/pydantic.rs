//! pydantic `BaseSettings` fields: a field's value comes from the environment
//! variable named after it (with `env_prefix`, or its alias), else its default.

use poolcheck_core::facts::python::{Arg, Expr, ExprKind, StmtKind};
use poolcheck_core::{Origin, Sourced};

use super::eval::{EvalCtx, Evaluator, ScopeKind, convert, missing_env_reason};
use super::value::{ClassRef, Value, render};

/// Whether the class derives from a pydantic `BaseSettings`.
pub fn is_settings_class(eval: &Evaluator<'_, '_>, class: ClassRef) -> bool {
    let (_, externals) = eval.mro(class);
    externals.iter().any(|p| p.ends_with("BaseSettings"))
}

/// The value of field `attr` on an instance of settings class `class`, or
/// `None` when the class is not a settings class or has no such field.
pub fn settings_field(
    eval: &Evaluator<'_, '_>,
    class: ClassRef,
    attr: &str,
) -> Option<Sourced<Value>> {
    if !is_settings_class(eval, class) {
        return None;
    }
    let (order, _) = eval.mro(class);
    let (owner, value, annotation) = order.iter().find_map(|c| {
        let def = eval.class_def(*c);
        def.body.iter().rev().find_map(|stmt| match &stmt.kind {
            StmtKind::Assign {
                target,
                value,
                annotation,
            } if target.name == attr && target.path.is_empty() && stmt.guards.is_empty() => {
                Some((*c, Some(value), annotation.as_ref()))
            }
            StmtKind::Declare { name, annotation } if name == attr => {
                Some((*c, None, Some(annotation)))
            }
            _ => None,
        })
    })?;
    // Methods and nested classes are not fields.
    let ctx = EvalCtx::at(
        owner.module,
        ScopeKind::Class(owner.index),
        u32::MAX,
        Vec::new(),
    );
    let field = value
        .and_then(field_call)
        .or_else(|| annotation.and_then(annotated_field));
    let mut env_names = Vec::new();
    let mut default: Option<&Expr> = value;
    if let Some((args, keywords)) = field {
        default = keywords
            .iter()
            .find(|k| k.name.as_deref() == Some("default"))
            .map(|k| &k.value)
            .or_else(|| match args.first() {
                Some(Arg::Positional(e)) if !matches!(&e.kind, ExprKind::Other(k) if k == "ellipsis") => {
                    Some(e)
                }
                _ => None,
            });
        if default.is_none()
            && let Some(factory) = keywords
                .iter()
                .find(|k| k.name.as_deref() == Some("default_factory"))
        {
            let f = eval.eval(&factory.value, &ctx);
            if let Some(Value::Class(c)) = f.value {
                return Some(Sourced::computed(
                    Value::Instance(c),
                    render(&factory.value),
                    Some(eval.location(owner.module, factory.value.span)),
                ));
            }
        }
        for key in ["validation_alias", "alias", "env"] {
            if let Some(k) = keywords.iter().find(|k| k.name.as_deref() == Some(key)) {
                env_names.extend(alias_names(eval, &k.value, &ctx));
                if !env_names.is_empty() {
                    break;
                }
            }
        }
    }
    if env_names.is_empty() {
        let prefix = env_prefix(eval, class).unwrap_or_default();
        env_names.push(format!("{prefix}{attr}").to_ascii_uppercase());
    }
    let kind = annotation.map(|a| value_kind(&render(a)));
    for name in &env_names {
        if let Some((actual, var)) = eval.env_lookup_ci(name) {
            let raw = Sourced::with_origin(
                Value::str(var.value.clone()),
                Origin::EnvValue {
                    var: actual,
                    source: var.source.clone(),
                },
                var.location.clone(),
            );
            return Some(match kind {
                Some("bool") => match raw.value.as_ref() {
                    Some(Value::Str(s)) => {
                        let t = s.text.trim().to_ascii_lowercase();
                        Sourced {
                            value: Some(Value::Bool(matches!(
                                t.as_str(),
                                "1" | "true" | "on" | "yes" | "y" | "t"
                            ))),
                            origin: raw.origin,
                            location: raw.location,
                        }
                    }
                    _ => raw,
                },
                Some(k @ ("int" | "float")) => convert(k, &raw, None),
                _ => raw,
            });
        }
    }
    let env_name = env_names[0].clone();
    let Some(default) = default.filter(|d| !is_field_call(d)) else {
        return Some(Sourced::unknown(
            missing_env_reason(&env_name),
            Some(eval.location(owner.module, eval.class_def(owner).name_span)),
        ));
    };
    let v = eval.eval(default, &ctx);
    Some(match v.value {
        Some(value) => Sourced::with_origin(
            value,
            Origin::EnvDefault { var: env_name },
            v.location
                .or_else(|| Some(eval.location(owner.module, default.span))),
        ),
        None => v,
    })
}

fn is_field_call(e: &Expr) -> bool {
    field_call(e).is_some()
}

fn field_call(e: &Expr) -> Option<(&[Arg], &[poolcheck_core::facts::python::Keyword])> {
    match &e.kind {
        ExprKind::Call {
            func,
            args,
            keywords,
        } if func.last_name() == Some("Field") => Some((args, keywords)),
        _ => None,
    }
}

/// `Annotated[int, Field(...)]`
fn annotated_field(a: &Expr) -> Option<(&[Arg], &[poolcheck_core::facts::python::Keyword])> {
    match &a.kind {
        ExprKind::Subscript(base, inner) if base.last_name() == Some("Annotated") => {
            match &inner.kind {
                ExprKind::Tuple(items) => items.iter().find_map(field_call),
                _ => None,
            }
        }
        _ => None,
    }
}

fn alias_names(eval: &Evaluator<'_, '_>, e: &Expr, ctx: &EvalCtx) -> Vec<String> {
    match &e.kind {
        ExprKind::Call { func, args, .. } if func.last_name() == Some("AliasChoices") => args
            .iter()
            .filter_map(|a| match a {
                Arg::Positional(e) => string_of(eval, e, ctx),
                Arg::Star(_) => None,
            })
            .collect(),
        ExprKind::List(items) | ExprKind::Tuple(items) => items
            .iter()
            .filter_map(|e| string_of(eval, e, ctx))
            .collect(),
        _ => string_of(eval, e, ctx).into_iter().collect(),
    }
}

fn string_of(eval: &Evaluator<'_, '_>, e: &Expr, ctx: &EvalCtx) -> Option<String> {
    match eval.eval(e, ctx).value? {
        Value::Str(s) => s.complete().map(str::to_owned),
        _ => None,
    }
}

/// `env_prefix` from `model_config = SettingsConfigDict(env_prefix=...)`, an
/// inner `class Config`, or a class keyword, searched through the ancestors.
pub fn env_prefix(eval: &Evaluator<'_, '_>, class: ClassRef) -> Option<String> {
    let (order, _) = eval.mro(class);
    for c in order {
        let def = eval.class_def(c);
        let ctx = EvalCtx::at(c.module, ScopeKind::Class(c.index), u32::MAX, Vec::new());
        if let Some(k) = def
            .keywords
            .iter()
            .find(|k| k.name.as_deref() == Some("env_prefix"))
        {
            return string_of(eval, &k.value, &ctx);
        }
        if let Some(config) = eval.class_attribute(c, "model_config")
            && let Some(Value::Dict(d)) = &config.value
            && let Some(Value::Str(s)) = d.get("env_prefix").and_then(|v| v.value.as_ref())
        {
            return s.complete().map(str::to_owned);
        }
        let module = eval.project().module(c.module);
        let inner = module
            .classes
            .iter()
            .enumerate()
            .find(|(_, k)| k.parent == Some(c.index) && k.name == "Config");
        if let Some((index, _)) = inner {
            let inner = ClassRef {
                module: c.module,
                index,
            };
            if let Some(Value::Str(s)) = eval
                .class_attribute(inner, "env_prefix")
                .and_then(|v| v.value)
            {
                return s.complete().map(str::to_owned);
            }
        }
    }
    None
}

fn value_kind(annotation: &str) -> &'static str {
    let lower = annotation.to_ascii_lowercase();
    if lower.contains("bool") {
        "bool"
    } else if lower.contains("int") {
        "int"
    } else if lower.contains("float") {
        "float"
    } else {
        "str"
    }
}
