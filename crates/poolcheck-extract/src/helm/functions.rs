//! The Go template built-ins and sprig functions charts use around values.
//! Each keeps the provenance of the value it passes through; a function
//! outside this list makes its result unknown, naming the function.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::capabilities;
use super::text::{Mark, Text};
use super::values::{self, Kind, Val};

/// Functions whose output depends on the cluster, time, randomness or files
/// poolcheck does not read: their result is unknown by design.
const UNRENDERED: &[&str] = &[
    "lookup",
    "now",
    "date",
    "dateInZone",
    "randAlphaNum",
    "randAlpha",
    "randNumeric",
    "randAscii",
    "uuidv4",
    "genCA",
    "genSelfSignedCert",
    "genSignedCert",
    "genPrivateKey",
    "derivePassword",
    "htpasswd",
    "b64enc",
    "b64dec",
    "b32enc",
    "b32dec",
    "sha1sum",
    "sha256sum",
    "adler32sum",
    "encryptAES",
    "decryptAES",
    "fromYaml",
    "fromJson",
    "fromYamlArray",
    "fromJsonArray",
    "regexMatch",
    "regexFind",
    "regexFindAll",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "regexSplit",
    "mustRegexMatch",
    "env",
    "expandenv",
    "getHostByName",
    "fail",
];

fn arg_unknown(args: &[Val]) -> Option<Val> {
    args.iter()
        .find_map(|a| a.unknown_reason().map(|r| Val::unknown(r.to_owned())))
}

fn text_of(v: &Val) -> Text {
    v.to_text()
}

fn string_of(v: &Val) -> String {
    v.go_string()
}

/// sprig's `empty`: false, 0, "", nil and empty collections.
fn is_empty(v: &Val) -> Option<bool> {
    v.truth().map(|t| !t)
}

fn to_int(v: &Val) -> Option<i64> {
    match &v.kind {
        Kind::Int(i) => Some(*i),
        Kind::Float(f) if f.is_finite() => Some(f.trunc() as i64),
        Kind::Bool(b) => Some(i64::from(*b)),
        Kind::Nil => Some(0),
        Kind::Str(t) => {
            let s = t.text.trim();
            // cast.ToInt: an unparsable string is 0.
            Some(
                s.parse::<i64>()
                    .ok()
                    .or_else(|| {
                        s.parse::<f64>()
                            .ok()
                            .filter(|f| f.is_finite())
                            .map(|f| f.trunc() as i64)
                    })
                    .unwrap_or(0),
            )
        }
        _ => None,
    }
}

fn to_float(v: &Val) -> Option<f64> {
    match &v.kind {
        Kind::Int(i) => Some(*i as f64),
        Kind::Float(f) => Some(*f),
        Kind::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Kind::Nil => Some(0.0),
        Kind::Str(t) => Some(t.text.trim().parse().unwrap_or(0.0)),
        _ => None,
    }
}

fn int(n: i64) -> Val {
    Val::new(Kind::Int(n))
}

fn boolean(b: bool) -> Val {
    Val::new(Kind::Bool(b))
}

/// Go's `eq`: numbers compare by value, strings by text, nil with nil.
fn equal(a: &Val, b: &Val) -> Option<bool> {
    Some(match (&a.kind, &b.kind) {
        (Kind::Unknown(_), _) | (_, Kind::Unknown(_)) => return None,
        (Kind::Int(x), Kind::Int(y)) => x == y,
        (Kind::Int(_) | Kind::Float(_), Kind::Int(_) | Kind::Float(_)) => {
            to_float(a) == to_float(b)
        }
        (Kind::Str(x), Kind::Str(y)) => x.text == y.text,
        (Kind::Bool(x), Kind::Bool(y)) => x == y,
        (Kind::Nil, Kind::Nil) => true,
        (Kind::Nil, _) | (_, Kind::Nil) => false,
        _ => {
            string_of(a) == string_of(b)
                && std::mem::discriminant(&a.kind) == std::mem::discriminant(&b.kind)
        }
    })
}

fn order(a: &Val, b: &Val) -> Option<std::cmp::Ordering> {
    match (&a.kind, &b.kind) {
        (Kind::Int(x), Kind::Int(y)) => Some(x.cmp(y)),
        (Kind::Int(_) | Kind::Float(_), Kind::Int(_) | Kind::Float(_)) => {
            to_float(a)?.partial_cmp(&to_float(b)?)
        }
        (Kind::Str(x), Kind::Str(y)) => Some(x.text.cmp(&y.text)),
        _ => None,
    }
}

/// `nindent`, `indent`, `trim` and friends keep the marks of the text they
/// transform where the characters are kept.
fn transform_text(args: &[Val], f: impl FnOnce(&Text) -> Text) -> Val {
    match args.last() {
        // An unknown value is transformed as its placeholder, so that
        // `nindent` still indents it and the document stays YAML.
        Some(v) => Val::text(f(&text_of(v))),
        None => Val::unknown("a string function without its argument"),
    }
}

fn trimmed(t: &Text, start: usize, end: usize) -> Text {
    t.slice(start..end.max(start))
}

pub fn call(name: &str, args: Vec<Val>) -> Val {
    if UNRENDERED.contains(&name) {
        return Val::unknown(format!("`{{{{ {name} … }}}}` is not rendered by poolcheck"));
    }
    match name {
        "default" => {
            let [fallback, rest @ ..] = args.as_slice() else {
                return Val::unknown("`default` without arguments");
            };
            let Some(given) = rest.last() else {
                return fallback.clone();
            };
            match is_empty(given) {
                Some(true) => fallback.clone(),
                // An unknown value stays unknown: no fallback is guessed.
                Some(false) | None => given.clone(),
            }
        }
        "required" => match args.as_slice() {
            [message, value] => match is_empty(value) {
                Some(true) => {
                    Val::unknown(format!("`required`: {} (no value set)", string_of(message)))
                }
                _ => value.clone(),
            },
            _ => Val::unknown("`required` without a message and a value"),
        },
        "coalesce" => args
            .iter()
            .find(|a| is_empty(a) != Some(true))
            .cloned()
            .unwrap_or_else(Val::nil),
        "ternary" => match args.as_slice() {
            [yes, no, cond] => match cond.truth() {
                Some(true) => yes.clone(),
                Some(false) => no.clone(),
                None => cond.clone(),
            },
            _ => Val::unknown("`ternary` without three arguments"),
        },
        "empty" => match args.last().map(is_empty) {
            Some(Some(b)) => boolean(b),
            Some(None) => args[args.len() - 1].clone(),
            None => boolean(true),
        },
        "not" => match args.last().map(Val::truth) {
            Some(Some(b)) => boolean(!b),
            Some(None) => args[args.len() - 1].clone(),
            None => Val::unknown("`not` without an argument"),
        },
        "and" => {
            // Go returns the first false argument, or the last one.
            for a in &args {
                match a.truth() {
                    Some(false) | None => return a.clone(),
                    Some(true) => {}
                }
            }
            args.last().cloned().unwrap_or_else(Val::nil)
        }
        "or" => {
            for a in &args {
                match a.truth() {
                    Some(true) | None => return a.clone(),
                    Some(false) => {}
                }
            }
            args.last().cloned().unwrap_or_else(Val::nil)
        }
        "eq" => match args.split_first() {
            Some((first, rest)) if !rest.is_empty() => {
                let mut any = false;
                for other in rest {
                    match equal(first, other) {
                        Some(b) => any |= b,
                        None => return Val::unknown(unknown_of(&args, "eq")),
                    }
                }
                boolean(any)
            }
            _ => Val::unknown("`eq` without two arguments"),
        },
        "ne" => match args.as_slice() {
            [a, b] => {
                equal(a, b).map_or_else(|| Val::unknown(unknown_of(&args, "ne")), |e| boolean(!e))
            }
            _ => Val::unknown("`ne` without two arguments"),
        },
        "lt" | "le" | "gt" | "ge" => match args.as_slice() {
            [a, b] => match order(a, b) {
                Some(o) => boolean(match name {
                    "lt" => o.is_lt(),
                    "le" => o.is_le(),
                    "gt" => o.is_gt(),
                    _ => o.is_ge(),
                }),
                None => Val::unknown(unknown_of(&args, name)),
            },
            _ => Val::unknown(format!("`{name}` without two arguments")),
        },
        "quote" | "squote" => {
            if let Some(u) = arg_unknown(&args) {
                return u;
            }
            let q = if name == "quote" { "\"" } else { "'" };
            let mut out = Text::default();
            let mut first = true;
            for a in args.iter().filter(|a| !matches!(a.kind, Kind::Nil)) {
                if !first {
                    out.push_str(" ");
                }
                first = false;
                let inner = text_of(a);
                out.push_str(q);
                if name == "quote" && inner.text.contains(['"', '\\', '\n', '\t']) {
                    let escaped = format!("{:?}", inner.text);
                    let escaped = &escaped[1..escaped.len() - 1];
                    match a.at.clone() {
                        Some(at) => out.push_marked(escaped, Mark::Origin(at)),
                        None => out.push_str(escaped),
                    }
                } else {
                    out.append(&inner);
                }
                out.push_str(q);
            }
            Val::text(out)
        }
        "int" | "int64" | "int32" | "atoi" => match args.last() {
            Some(v) => {
                if let Some(u) = arg_unknown(&args) {
                    return u;
                }
                match to_int(v) {
                    Some(n) => int(n).with_at(v.at.clone()),
                    None => Val::unknown(format!("`{name}` of a value that is not a number")),
                }
            }
            None => Val::unknown(format!("`{name}` without an argument")),
        },
        "float64" => match args.last() {
            Some(v) => {
                if let Some(u) = arg_unknown(&args) {
                    return u;
                }
                match to_float(v) {
                    Some(f) => Val::new(Kind::Float(f)).with_at(v.at.clone()),
                    None => Val::unknown("`float64` of a value that is not a number"),
                }
            }
            None => Val::unknown("`float64` without an argument"),
        },
        "toString" => match args.last() {
            Some(v) if v.unknown_reason().is_none() => Val::text(text_of(v)),
            Some(v) => v.clone(),
            None => Val::unknown("`toString` without an argument"),
        },
        "toYaml" | "toYamlPretty" | "mustToYaml" => match args.last() {
            Some(v) => {
                let out = values::to_yaml(v);
                // An empty map prints `{}` and nil `null`, as sigs.k8s.io/yaml does.
                Val::text(out)
            }
            None => Val::unknown("`toYaml` without an argument"),
        },
        "toJson" | "mustToJson" | "toRawJson" | "toPrettyJson" => match args.last() {
            Some(v) => match v.deep_unknown() {
                Some(reason) => Val::unknown(reason),
                None => Val::str(to_json(v)),
            },
            None => Val::unknown("`toJson` without an argument"),
        },
        "indent" | "nindent" => {
            let width = args.first().and_then(to_int).unwrap_or(0).clamp(0, 1000) as usize;
            let newline = name == "nindent";
            transform_text(&args, |t| {
                let mut out = Text::default();
                if newline {
                    out.push_str("\n");
                }
                out.append(&t.indent(width));
                out
            })
        }
        "trim" | "trimSuffix" | "trimPrefix" | "trimAll" => {
            let cut = if name == "trim" {
                String::new()
            } else {
                args.first().map(string_of).unwrap_or_default()
            };
            transform_text(&args, |t| {
                let s = t.text.as_str();
                let (start, end) = match name {
                    "trim" => {
                        let start = s.len() - s.trim_start().len();
                        (start, s.trim_end().len())
                    }
                    "trimSuffix" => (0, s.strip_suffix(cut.as_str()).map_or(s.len(), str::len)),
                    "trimPrefix" => (
                        s.strip_prefix(cut.as_str())
                            .map_or(0, |r| s.len() - r.len()),
                        s.len(),
                    ),
                    _ => {
                        let chars: Vec<char> = cut.chars().collect();
                        let start = s.len() - s.trim_start_matches(chars.as_slice()).len();
                        (start, s.trim_end_matches(chars.as_slice()).len())
                    }
                };
                trimmed(t, start, end)
            })
        }
        "trunc" => {
            let n = args.first().and_then(to_int).unwrap_or(0);
            transform_text(&args, |t| {
                let s = t.text.as_str();
                let len = s.len() as i64;
                let (start, end) = if n >= 0 {
                    (0, n.min(len))
                } else {
                    ((len + n).max(0), len)
                };
                let mut start = start as usize;
                let mut end = end as usize;
                while !s.is_char_boundary(start) {
                    start += 1;
                }
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                trimmed(t, start, end.max(start))
            })
        }
        "lower" | "upper" | "title" | "kebabcase" | "snakecase" => transform_text(&args, |t| {
            let s = match name {
                "lower" => t.text.to_lowercase(),
                "upper" => t.text.to_uppercase(),
                "kebabcase" | "snakecase" => {
                    let sep = if name == "kebabcase" { '-' } else { '_' };
                    let mut out = String::new();
                    for (i, c) in t.text.chars().enumerate() {
                        if c.is_uppercase() && i > 0 {
                            out.push(sep);
                        }
                        out.extend(c.to_lowercase());
                    }
                    out.replace(['-', '_'], &sep.to_string())
                }
                _ => t
                    .text
                    .split(' ')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            // Same length: the case change keeps each character's place.
            if s.len() == t.text.len() {
                Text {
                    text: s,
                    marks: t.marks.clone(),
                }
            } else {
                Text::plain(s)
            }
        }),
        "replace" => match args.as_slice() {
            [old, new, s] => {
                if let Some(u) = arg_unknown(&args) {
                    return u;
                }
                Val::str(string_of(s).replace(&string_of(old), &string_of(new)))
            }
            _ => Val::unknown("`replace` without three arguments"),
        },
        "contains" | "hasPrefix" | "hasSuffix" => match args.as_slice() {
            [needle, s] => {
                if let Some(u) = arg_unknown(&args) {
                    return u;
                }
                let (needle, s) = (string_of(needle), string_of(s));
                boolean(match name {
                    "contains" => s.contains(&needle),
                    "hasPrefix" => s.starts_with(&needle),
                    _ => s.ends_with(&needle),
                })
            }
            _ => Val::unknown(format!("`{name}` without two arguments")),
        },
        "printf" => printf(&args),
        "print" | "println" => {
            if let Some(u) = arg_unknown(&args) {
                return u;
            }
            let mut out = Text::default();
            for (i, a) in args.iter().enumerate() {
                // Sprint puts a space between operands when neither is a string.
                let spaced = i > 0
                    && (name == "println"
                        || !matches!(a.kind, Kind::Str(_))
                            && !matches!(args[i - 1].kind, Kind::Str(_)));
                if spaced {
                    out.push_str(" ");
                }
                out.append(&text_of(a));
            }
            if name == "println" {
                out.push_str("\n");
            }
            Val::text(out)
        }
        "cat" => {
            if let Some(u) = arg_unknown(&args) {
                return u;
            }
            let parts: Vec<String> = args
                .iter()
                .filter(|a| !matches!(a.kind, Kind::Nil))
                .map(string_of)
                .collect();
            Val::str(parts.join(" "))
        }
        "join" => match args.as_slice() {
            [sep, list] => match &list.kind {
                Kind::List(items) => {
                    if let Some(u) = arg_unknown(items) {
                        return u;
                    }
                    let parts: Vec<String> = items.iter().map(string_of).collect();
                    Val::str(parts.join(&string_of(sep)))
                }
                Kind::Unknown(_) => list.clone(),
                _ => Val::str(string_of(list)),
            },
            _ => Val::unknown("`join` without two arguments"),
        },
        "splitList" => match args.as_slice() {
            [sep, s] => {
                if let Some(u) = arg_unknown(&args) {
                    return u;
                }
                let sep = string_of(sep);
                let s = string_of(s);
                if sep.is_empty() {
                    return Val::unknown("`splitList` with an empty separator");
                }
                Val::list(s.split(sep.as_str()).map(Val::str).collect())
            }
            _ => Val::unknown("`splitList` without two arguments"),
        },
        "dict" => {
            let mut map = BTreeMap::new();
            for pair in args.chunks(2) {
                let key = string_of(&pair[0]);
                map.insert(key, pair.get(1).cloned().unwrap_or_else(Val::nil));
            }
            Val::map(map)
        }
        "list" | "tuple" => Val::list(args),
        "get" => match args.as_slice() {
            [m, k] => match &m.kind {
                Kind::Map(map) => map
                    .get(&string_of(k))
                    .cloned()
                    .unwrap_or_else(|| Val::str("")),
                Kind::Unknown(_) => m.clone(),
                _ => Val::unknown("`get` on a value that is not a map"),
            },
            _ => Val::unknown("`get` without two arguments"),
        },
        "hasKey" => match args.as_slice() {
            [m, k] => match &m.kind {
                Kind::Map(map) => boolean(map.contains_key(&string_of(k))),
                Kind::Unknown(_) => m.clone(),
                Kind::Nil => boolean(false),
                _ => Val::unknown("`hasKey` on a value that is not a map"),
            },
            _ => Val::unknown("`hasKey` without two arguments"),
        },
        "keys" => {
            let mut keys = Vec::new();
            for a in &args {
                match &a.kind {
                    Kind::Map(map) => keys.extend(map.keys().cloned()),
                    Kind::Unknown(_) => return a.clone(),
                    _ => {}
                }
            }
            Val::list(keys.into_iter().map(Val::str).collect())
        }
        "values" => match args.first().map(|a| &a.kind) {
            Some(Kind::Map(map)) => Val::list(map.values().cloned().collect()),
            _ => Val::unknown("`values` of a value that is not a map"),
        },
        "pick" | "omit" => match args.split_first() {
            Some((m, names)) => match &m.kind {
                Kind::Map(map) => {
                    let names: Vec<String> = names.iter().map(string_of).collect();
                    let keep = name == "pick";
                    Val::map(
                        map.iter()
                            .filter(|(k, _)| names.contains(k) == keep)
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    )
                    .with_at(m.at.clone())
                }
                Kind::Unknown(_) => m.clone(),
                _ => Val::unknown(format!("`{name}` on a value that is not a map")),
            },
            None => Val::unknown(format!("`{name}` without arguments")),
        },
        "deepCopy" | "mustDeepCopy" => args.last().cloned().unwrap_or_else(Val::nil),
        "len" => match args.last().map(|a| &a.kind) {
            Some(Kind::Str(t)) => int(t.text.len() as i64),
            Some(Kind::List(l)) => int(l.len() as i64),
            Some(Kind::Map(m)) => int(m.len() as i64),
            Some(Kind::Nil) => int(0),
            Some(Kind::Unknown(r)) => Val::unknown(r.clone()),
            _ => Val::unknown("`len` of a value without a length"),
        },
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                return Val::unknown("`index` without arguments");
            };
            let mut current = first.clone();
            for key in keys {
                current = match (&current.kind, &key.kind) {
                    (Kind::Map(m), _) => m.get(&string_of(key)).cloned().unwrap_or_else(Val::nil),
                    (Kind::List(l), _) => match to_int(key).and_then(|i| usize::try_from(i).ok()) {
                        Some(i) if i < l.len() => l[i].clone(),
                        _ => return Val::unknown("`index` out of range"),
                    },
                    (Kind::Nil, _) => Val::nil(),
                    (Kind::Unknown(_), _) => return current,
                    _ => return Val::unknown("`index` of a value that is not a map or list"),
                };
            }
            current
        }
        "first" | "last" => match args.last().map(|a| &a.kind) {
            Some(Kind::List(l)) => {
                let item = if name == "first" { l.first() } else { l.last() };
                item.cloned().unwrap_or_else(Val::nil)
            }
            Some(Kind::Unknown(r)) => Val::unknown(r.clone()),
            _ => Val::nil(),
        },
        "until" => match args.first().and_then(to_int) {
            Some(n) => Val::list((0..n.clamp(0, 100_000)).map(int).collect()),
            None => Val::unknown("`until` of a value that is not a number"),
        },
        "append" | "mustAppend" | "prepend" | "mustPrepend" => match args.as_slice() {
            [list, item] => match &list.kind {
                Kind::List(l) => {
                    let mut l = l.as_ref().clone();
                    if matches!(name, "append" | "mustAppend") {
                        l.push(item.clone());
                    } else {
                        l.insert(0, item.clone());
                    }
                    Val::list(l)
                }
                Kind::Nil => Val::list(vec![item.clone()]),
                Kind::Unknown(_) => list.clone(),
                _ => Val::unknown(format!("`{name}` to a value that is not a list")),
            },
            _ => Val::unknown(format!("`{name}` without two arguments")),
        },
        "concat" => {
            let mut out = Vec::new();
            for a in &args {
                match &a.kind {
                    Kind::List(l) => out.extend(l.iter().cloned()),
                    Kind::Unknown(_) => return a.clone(),
                    _ => {}
                }
            }
            Val::list(out)
        }
        "has" => match args.as_slice() {
            [needle, list] => match &list.kind {
                Kind::List(l) => boolean(l.iter().any(|i| equal(i, needle) == Some(true))),
                Kind::Unknown(_) => list.clone(),
                _ => boolean(false),
            },
            _ => Val::unknown("`has` without two arguments"),
        },
        "uniq" | "compact" | "sortAlpha" | "reverse" => match args.last().map(|a| &a.kind) {
            Some(Kind::List(l)) => {
                let mut l = l.as_ref().clone();
                match name {
                    "uniq" => {
                        let mut seen: Vec<Val> = Vec::new();
                        l.retain(|v| {
                            let fresh = !seen.iter().any(|s| equal(s, v) == Some(true));
                            if fresh {
                                seen.push(v.clone());
                            }
                            fresh
                        });
                    }
                    "compact" => l.retain(|v| is_empty(v) != Some(true)),
                    "sortAlpha" => l.sort_by_key(string_of),
                    _ => l.reverse(),
                }
                Val::list(l)
            }
            Some(Kind::Unknown(r)) => Val::unknown(r.clone()),
            _ => Val::unknown(format!("`{name}` of a value that is not a list")),
        },
        "add" | "add1" | "sub" | "mul" | "div" | "mod" | "max" | "min" => arithmetic(name, &args),
        "kindIs" | "typeIs" => match args.as_slice() {
            [kind, v] => {
                if let Some(u) = arg_unknown(&args[1..]) {
                    return u;
                }
                let actual = if name == "kindIs" {
                    kind_of(v)
                } else {
                    type_of(v)
                };
                boolean(string_of(kind) == actual)
            }
            _ => Val::unknown(format!("`{name}` without two arguments")),
        },
        "kindOf" => args.last().map_or_else(
            || Val::unknown("`kindOf` without an argument"),
            |v| Val::str(kind_of(v)),
        ),
        "typeOf" => args.last().map_or_else(
            || Val::unknown("`typeOf` without an argument"),
            |v| Val::str(type_of(v)),
        ),
        "semverCompare" => match args.as_slice() {
            [constraint, version] => {
                if let Some(u) = arg_unknown(&args) {
                    return u;
                }
                match capabilities::semver_compare(&string_of(constraint), &string_of(version)) {
                    Some(b) => boolean(b),
                    None => Val::unknown(format!(
                        "`semverCompare {:?}`: a constraint poolcheck does not read",
                        string_of(constraint)
                    )),
                }
            }
            _ => Val::unknown("`semverCompare` without two arguments"),
        },
        "html" | "js" | "urlquery" | "shellQuote" | "urlJoin" => {
            Val::unknown(format!("`{{{{ {name} … }}}}` is not rendered by poolcheck"))
        }
        _ => Val::unknown(format!("`{{{{ {name} … }}}}` is not rendered by poolcheck")),
    }
}

fn unknown_of(args: &[Val], name: &str) -> String {
    args.iter()
        .find_map(|a| a.unknown_reason().map(str::to_owned))
        .unwrap_or_else(|| format!("`{name}` of values Go templates cannot compare"))
}

fn kind_of(v: &Val) -> &'static str {
    match v.kind {
        Kind::Nil | Kind::Unknown(_) => "invalid",
        Kind::Bool(_) => "bool",
        Kind::Int(_) => "int",
        Kind::Float(_) => "float64",
        Kind::Str(_) => "string",
        Kind::List(_) => "slice",
        Kind::Map(_) | Kind::ApiVersions => "map",
    }
}

fn type_of(v: &Val) -> &'static str {
    match v.kind {
        Kind::Nil | Kind::Unknown(_) => "<nil>",
        Kind::Bool(_) => "bool",
        Kind::Int(_) => "int",
        Kind::Float(_) => "float64",
        Kind::Str(_) => "string",
        Kind::List(_) => "[]interface {}",
        Kind::Map(_) | Kind::ApiVersions => "map[string]interface {}",
    }
}

fn arithmetic(name: &str, args: &[Val]) -> Val {
    if let Some(u) = arg_unknown(args) {
        return u;
    }
    let nums: Option<Vec<i64>> = args.iter().map(to_int).collect();
    let Some(nums) = nums else {
        return Val::unknown(format!("`{name}` of a value that is not a number"));
    };
    let result = match (name, nums.as_slice()) {
        ("add1", [a]) => a.checked_add(1),
        ("add", [first, rest @ ..]) => rest.iter().try_fold(*first, |acc, n| acc.checked_add(*n)),
        ("mul", [first, rest @ ..]) => rest.iter().try_fold(*first, |acc, n| acc.checked_mul(*n)),
        ("sub", [a, b]) => a.checked_sub(*b),
        ("div", [a, b]) => a.checked_div(*b),
        ("mod", [a, b]) => a.checked_rem(*b),
        ("max", [first, rest @ ..]) => Some(rest.iter().fold(*first, |acc, n| acc.max(*n))),
        ("min", [first, rest @ ..]) => Some(rest.iter().fold(*first, |acc, n| acc.min(*n))),
        _ => return Val::unknown(format!("`{name}` with the wrong number of arguments")),
    };
    match result {
        Some(n) => int(n),
        None => Val::unknown(format!("`{name}` overflows or divides by zero")),
    }
}

/// `set`, `unset`, `merge`, `mergeOverwrite`: the changed first argument.
pub fn mutate(name: &str, args: &mut [Val]) -> Val {
    let Some((first, rest)) = args.split_first_mut() else {
        return Val::unknown(format!("`{name}` without arguments"));
    };
    if !matches!(first.kind, Kind::Map(_)) {
        return first.unknown_reason().map_or_else(
            || Val::unknown(format!("`{name}` on a value that is not a map")),
            |r| Val::unknown(r.to_owned()),
        );
    }
    match name {
        "set" => {
            if let ([key, value], Kind::Map(map)) = (&*rest, &mut first.kind) {
                Rc::make_mut(map).insert(string_of(key), value.clone());
            }
        }
        "unset" => {
            if let ([key], Kind::Map(map)) = (&*rest, &mut first.kind) {
                Rc::make_mut(map).remove(&string_of(key));
            }
        }
        "merge" => {
            for other in rest.iter() {
                values::merge_keep(first, other);
            }
        }
        _ => {
            for other in rest.iter() {
                values::merge(first, other.clone());
            }
        }
    }
    first.clone()
}

fn to_json(v: &Val) -> String {
    match &v.kind {
        Kind::Nil => "null".to_owned(),
        Kind::Str(t) => serde_json::Value::String(t.text.clone()).to_string(),
        Kind::List(items) => format!(
            "[{}]",
            items.iter().map(to_json).collect::<Vec<_>>().join(",")
        ),
        Kind::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}:{}", serde_json::Value::String(k.clone()), to_json(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => v.go_string(),
    }
}

/// Go's `fmt.Sprintf` for the verbs charts use; the text of a `%s`/`%d`/`%v`
/// argument keeps its origin.
fn printf(args: &[Val]) -> Val {
    let Some((format, rest)) = args.split_first() else {
        return Val::unknown("`printf` without a format");
    };
    if let Some(u) = arg_unknown(args) {
        return u;
    }
    let format = string_of(format);
    let mut out = Text::default();
    let mut next = rest.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            let mut buf = [0u8; 4];
            out.push_str(c.encode_utf8(&mut buf));
            continue;
        }
        // Flags and width are read and ignored except `%%`.
        let mut spec = String::new();
        while let Some(&f) = chars.peek() {
            if f.is_ascii_digit() || matches!(f, '-' | '+' | '#' | ' ' | '.') {
                spec.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push_str("%");
            continue;
        }
        let Some(arg) = next.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        match verb {
            's' | 'v' | 'd' => {
                if verb == 'd' && !matches!(arg.kind, Kind::Int(_)) {
                    if let Some(n) = to_int(arg).filter(|_| matches!(arg.kind, Kind::Float(_))) {
                        out.push_str(&format!("%!d(float64={n})"));
                        continue;
                    }
                }
                out.append(&text_of(arg));
            }
            'q' => {
                out.push_str(&format!("{:?}", string_of(arg)));
            }
            't' => out.push_str(&string_of(arg)),
            'f' | 'g' | 'e' => match to_float(arg) {
                Some(f) => {
                    let precision = spec
                        .split_once('.')
                        .and_then(|(_, p)| p.parse::<usize>().ok());
                    let s = match (verb, precision) {
                        ('f', Some(p)) => format!("{f:.p$}"),
                        ('f', None) => format!("{f:.6}"),
                        _ => f.to_string(),
                    };
                    out.push_str(&s);
                }
                None => return Val::unknown("`printf` of a value that is not a number"),
            },
            _ => {
                return Val::unknown(format!(
                    "`printf` with the verb `%{verb}`, which poolcheck does not render"
                ));
            }
        }
    }
    Val::text(out)
}
