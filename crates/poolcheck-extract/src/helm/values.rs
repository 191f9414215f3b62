//! The values a chart renders with: YAML read into a tree whose every node
//! remembers where it is written, merged file over file as `helm -f` does,
//! and printed back the way Go templates and `toYaml` print it.

use std::collections::BTreeMap;
use std::rc::Rc;

use poolcheck_core::{Location, SourceFile, Span};
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::text::{Mark, Text};

/// A template value. Maps are ordered by key, as Go's templates and
/// `toYaml` iterate and print them.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    /// Shared: templates pass `.` and subtrees around constantly.
    List(Rc<Vec<Val>>),
    Map(Rc<BTreeMap<String, Val>>),
    /// A value poolcheck cannot compute; the reason names the construct.
    Unknown(String),
    /// `.Capabilities.APIVersions`, whose `Has` method templates call.
    ApiVersions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Val {
    pub kind: Kind,
    /// Where the value is written (a values file's scalar or key).
    pub at: Option<Location>,
}

impl Val {
    pub fn new(kind: Kind) -> Self {
        Self { kind, at: None }
    }

    pub fn nil() -> Self {
        Self::new(Kind::Nil)
    }

    pub fn str(s: impl Into<String>) -> Self {
        Self::new(Kind::Str(Text::plain(s)))
    }

    pub fn text(text: Text) -> Self {
        Self::new(Kind::Str(text))
    }

    pub fn unknown(reason: impl Into<String>) -> Self {
        Self::new(Kind::Unknown(reason.into()))
    }

    pub fn map(entries: BTreeMap<String, Val>) -> Self {
        Self::new(Kind::Map(Rc::new(entries)))
    }

    pub fn list(items: Vec<Val>) -> Self {
        Self::new(Kind::List(Rc::new(items)))
    }

    pub fn with_at(mut self, at: Option<Location>) -> Self {
        self.at = at;
        self
    }

    pub fn unknown_reason(&self) -> Option<&str> {
        match &self.kind {
            Kind::Unknown(reason) => Some(reason),
            _ => None,
        }
    }

    /// Go template truth: false, 0, nil and empty strings and collections
    /// are false. `None` for an unknown value.
    pub fn truth(&self) -> Option<bool> {
        Some(match &self.kind {
            Kind::Nil => false,
            Kind::Bool(b) => *b,
            Kind::Int(i) => *i != 0,
            Kind::Float(f) => *f != 0.0,
            Kind::Str(t) => !t.is_empty(),
            Kind::List(l) => !l.is_empty(),
            Kind::Map(m) => !m.is_empty(),
            Kind::Unknown(_) => return None,
            Kind::ApiVersions => true,
        })
    }

    pub fn get(&self, key: &str) -> Option<&Val> {
        match &self.kind {
            Kind::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// The value as Go's `fmt` prints it (`%v`), with its provenance.
    pub fn to_text(&self) -> Text {
        let mark = self.at.clone().map(Mark::Origin);
        match &self.kind {
            Kind::Str(t) => {
                let mut t = t.clone();
                if let Some(mark) = &mark {
                    t.mark_unmarked(mark);
                }
                t
            }
            Kind::Unknown(reason) => Text::unknown(reason.clone()),
            _ => Text::marked(self.go_string(), mark),
        }
    }

    /// `%v` without provenance.
    pub fn go_string(&self) -> String {
        match &self.kind {
            // Helm replaces Go's `<no value>` with nothing.
            Kind::Nil => String::new(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => go_float(*f),
            Kind::Str(t) => t.text.clone(),
            Kind::List(items) => {
                let parts: Vec<String> = items.iter().map(Val::go_nested).collect();
                format!("[{}]", parts.join(" "))
            }
            Kind::Map(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", v.go_nested()))
                    .collect();
                format!("map[{}]", parts.join(" "))
            }
            Kind::Unknown(_) => super::text::UNKNOWN_PLACEHOLDER.to_owned(),
            Kind::ApiVersions => "[]".to_owned(),
        }
    }

    fn go_nested(&self) -> String {
        match self.kind {
            Kind::Nil => "<nil>".to_owned(),
            _ => self.go_string(),
        }
    }

    /// The first unknown reason anywhere inside.
    pub fn deep_unknown(&self) -> Option<String> {
        match &self.kind {
            Kind::Unknown(reason) => Some(reason.clone()),
            Kind::Str(t) => t.unknown_reason().map(str::to_owned),
            Kind::List(items) => items.iter().find_map(Val::deep_unknown),
            Kind::Map(m) => m.values().find_map(Val::deep_unknown),
            _ => None,
        }
    }
}

/// Go prints float64 values from YAML (`1.5`, `3e+06`) with `%v`: the
/// shortest representation; integral values have no fraction.
fn go_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 {
        if f.abs() >= 1e6 {
            // %v switches to exponent form for large exponents.
            let s = format!("{f:e}");
            return s.replace('e', "e+").replace("e+-", "e-");
        }
        return format!("{f:.0}");
    }
    f.to_string()
}

/// A YAML file read into values. Parse failures are returned as a message
/// and the byte offset they occurred at.
pub fn load_yaml(file: &SourceFile) -> Result<Val, (String, usize)> {
    let text = file.text();
    if text.trim().is_empty() {
        return Ok(Val::map(BTreeMap::new()));
    }
    let docs = MarkedYaml::load_from_str(text).map_err(|error| {
        let offset = Positions::new(file).byte(error.marker().index());
        (error.info().to_owned(), offset)
    })?;
    let Some(root) = docs.first() else {
        return Ok(Val::map(BTreeMap::new()));
    };
    Ok(convert(&Positions::new(file), root, 0))
}

/// saphyr's markers count characters; this maps them to byte offsets.
struct Positions<'f> {
    file: &'f SourceFile,
    /// Byte offset of each character, when the text is not ASCII.
    char_starts: Option<Vec<u32>>,
}

impl<'f> Positions<'f> {
    fn new(file: &'f SourceFile) -> Self {
        let text = file.text();
        let char_starts = (!text.is_ascii()).then(|| {
            text.char_indices()
                .map(|(i, _)| i as u32)
                .chain(std::iter::once(text.len() as u32))
                .collect()
        });
        Self { file, char_starts }
    }

    fn byte(&self, index: usize) -> usize {
        let len = self.file.text().len();
        match &self.char_starts {
            None => index.min(len),
            Some(starts) => starts.get(index).map_or(len, |&b| b as usize),
        }
    }

    fn location(&self, node: &MarkedYaml<'_>) -> Location {
        let text = self.file.text();
        let start = self.byte(node.span.start.index());
        let end = self.byte(node.span.end.index()).max(start);
        // Block scalars end after their line break.
        let trimmed = text[start..end].trim_end_matches(['\n', '\r', ' ']).len();
        self.file.location(Span::new(start, start + trimmed))
    }
}

const MAX_DEPTH: usize = 128;

fn convert(file: &Positions<'_>, node: &MarkedYaml<'_>, depth: usize) -> Val {
    if depth > MAX_DEPTH {
        return Val::unknown("values nested more than 128 levels deep");
    }
    let at = Some(file.location(node));
    let kind = match &node.data {
        YamlData::Value(scalar) => match scalar {
            Scalar::Null => Kind::Nil,
            Scalar::Boolean(b) => Kind::Bool(*b),
            Scalar::Integer(i) => Kind::Int(*i),
            Scalar::FloatingPoint(f) => Kind::Float(f.into_inner()),
            Scalar::String(s) => Kind::Str(Text::plain(s.to_string())),
        },
        YamlData::Representation(s, _, _) => Kind::Str(Text::plain(s.to_string())),
        YamlData::Sequence(items) => Kind::List(Rc::new(
            items
                .iter()
                .map(|item| convert(file, item, depth + 1))
                .collect(),
        )),
        YamlData::Mapping(mapping) => {
            let mut map = BTreeMap::new();
            let mut merged: BTreeMap<String, Val> = BTreeMap::new();
            for (key, value) in mapping {
                let name = match &key.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(Scalar::Integer(i)) => i.to_string(),
                    YamlData::Value(Scalar::Boolean(b)) => b.to_string(),
                    YamlData::Value(Scalar::FloatingPoint(f)) => go_float(f.into_inner()),
                    YamlData::Value(Scalar::Null) => "null".to_owned(),
                    _ => continue,
                };
                let mut value = convert(file, value, depth + 1);
                if name == "<<" {
                    // A merge key: the merged mappings' entries, under the
                    // keys written here.
                    let sources = match value.kind {
                        Kind::List(items) => Rc::unwrap_or_clone(items),
                        _ => vec![value],
                    };
                    for source in sources {
                        if let Kind::Map(entries) = source.kind {
                            for (k, v) in entries.iter() {
                                merged.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                        }
                    }
                    continue;
                }
                // A collection is changed at its key; a null value too.
                if matches!(value.kind, Kind::Map(_) | Kind::List(_) | Kind::Nil) {
                    value.at = Some(file.location(key));
                }
                map.insert(name, value);
            }
            for (k, v) in merged {
                map.entry(k).or_insert(v);
            }
            Kind::Map(Rc::new(map))
        }
        YamlData::Tagged(_, inner) => return convert(file, inner, depth + 1),
        YamlData::Alias(_) => Kind::Unknown("a YAML alias in the values".to_owned()),
        YamlData::BadValue => Kind::Unknown("a YAML value poolcheck cannot read".to_owned()),
    };
    Val { kind, at }
}

/// `over` laid on `base` as Helm coalesces values files: maps merge key by
/// key, anything else replaces, and a `null` deletes the key.
pub fn merge(base: &mut Val, over: Val) {
    match (&mut base.kind, over.kind) {
        (Kind::Map(base_map), Kind::Map(over_map)) => {
            let base_map = Rc::make_mut(base_map);
            let over_map = Rc::unwrap_or_clone(over_map);
            for (key, value) in over_map {
                if matches!(value.kind, Kind::Nil) {
                    base_map.remove(&key);
                } else if let Some(existing) = base_map.get_mut(&key) {
                    merge(existing, value);
                } else {
                    base_map.insert(key, value);
                }
            }
        }
        (_, kind) => {
            *base = Val { kind, at: over.at };
        }
    }
}

/// Deep merge where `base`'s own keys win (sprig `merge`, mergo without
/// overwrite): a key `base` lacks, or holds an empty value for (`""`, 0,
/// false, nil), is filled from `other`.
pub fn merge_keep(base: &mut Val, other: &Val) {
    if let (Kind::Map(base_map), Kind::Map(other_map)) = (&mut base.kind, &other.kind) {
        let base_map = Rc::make_mut(base_map);
        for (key, value) in other_map.iter() {
            match base_map.get_mut(key) {
                Some(existing) if matches!(existing.kind, Kind::Map(_)) => {
                    merge_keep(existing, value);
                }
                Some(existing) if existing.truth() == Some(false) => {
                    *existing = value.clone();
                }
                Some(_) => {}
                None => {
                    base_map.insert(key.clone(), value.clone());
                }
            }
        }
    }
}

/// `toYaml`: block YAML as sigs.k8s.io/yaml writes it (keys sorted, two
/// spaces, list items at their key's indentation), without the final line
/// break (sprig trims it), each scalar marked with its origin.
pub fn to_yaml(value: &Val) -> Text {
    let mut out = Text::default();
    write_yaml(value, 0, &mut out, 0);
    while out.text.ends_with('\n') {
        out.text.pop();
    }
    let len = out.text.len();
    for (range, _) in &mut out.marks {
        range.end = range.end.min(len);
        range.start = range.start.min(range.end);
    }
    out
}

fn write_yaml(value: &Val, indent: usize, out: &mut Text, depth: usize) {
    if depth > MAX_DEPTH {
        out.append(&Text::unknown("values nested too deep for toYaml"));
        out.push_str("\n");
        return;
    }
    let pad = " ".repeat(indent);
    match &value.kind {
        Kind::Map(m) if !m.is_empty() => {
            for (key, item) in m.iter() {
                out.push_str(&pad);
                out.push_str(&yaml_key(key));
                out.push_str(":");
                write_child(item, indent, out, depth, false);
            }
        }
        Kind::List(items) if !items.is_empty() => {
            for item in items.iter() {
                out.push_str(&pad);
                out.push_str("-");
                write_child(item, indent, out, depth, true);
            }
        }
        _ => {
            write_scalar(value, indent, out);
            out.push_str("\n");
        }
    }
}

fn write_child(item: &Val, indent: usize, out: &mut Text, depth: usize, in_list: bool) {
    match &item.kind {
        Kind::Map(m) if !m.is_empty() => {
            if in_list {
                // `- key: v` with the following keys aligned under the first.
                out.push_str(" ");
                let mut nested = Text::default();
                write_yaml(item, indent + 2, &mut nested, depth + 1);
                let skip = indent + 2;
                let body = nested.slice(skip.min(nested.len())..nested.len());
                out.append(&body);
            } else {
                out.push_str("\n");
                write_yaml(item, indent + 2, out, depth + 1);
            }
        }
        Kind::List(items) if !items.is_empty() => {
            if in_list {
                out.push_str(" ");
                let mut nested = Text::default();
                write_yaml(item, indent + 2, &mut nested, depth + 1);
                let skip = indent + 2;
                out.append(&nested.slice(skip.min(nested.len())..nested.len()));
            } else {
                out.push_str("\n");
                write_yaml(item, indent, out, depth + 1);
            }
        }
        _ => {
            out.push_str(" ");
            write_scalar(item, indent, out);
            out.push_str("\n");
        }
    }
}

fn write_scalar(value: &Val, indent: usize, out: &mut Text) {
    let mark = value.at.clone().map(Mark::Origin);
    let printed = match &value.kind {
        Kind::Nil => "null".to_owned(),
        Kind::Map(_) => "{}".to_owned(),
        Kind::List(_) => "[]".to_owned(),
        Kind::Str(t) => {
            if let Some(reason) = t.unknown_reason() {
                out.append(&Text::unknown(reason));
                return;
            }
            yaml_string(&t.text, indent)
        }
        Kind::Unknown(reason) => {
            out.append(&Text::unknown(reason.clone()));
            return;
        }
        _ => value.go_string(),
    };
    match mark {
        Some(mark) => out.push_marked(&printed, mark),
        None => out.push_str(&printed),
    }
}

fn yaml_key(key: &str) -> String {
    if needs_no_quotes(key) {
        key.to_owned()
    } else {
        yaml_string(key, 0)
    }
}

fn needs_no_quotes(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !s.starts_with(['-', '.'])
        && !looks_like_other_scalar(s)
}

fn looks_like_other_scalar(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | "y" | "n"
    ) || s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
}

/// A string scalar in the form that reads back as the same string.
fn yaml_string(s: &str, indent: usize) -> String {
    if needs_no_quotes(s) {
        return s.to_owned();
    }
    if s.contains('\n') {
        // A literal block keeps multi-line strings (commands, configs) readable.
        let keep = if s.ends_with('\n') { "" } else { "-" };
        let mut out = format!("|{keep}");
        for line in s.trim_end_matches('\n').split('\n') {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 2));
            out.push_str(line);
        }
        return out;
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
