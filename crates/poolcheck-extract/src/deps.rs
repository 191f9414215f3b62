//! Dependency pins of the libraries whose behaviour the rules depend on, from
//! `requirements*.txt`, `pyproject.toml` (`[project]` and Poetry), `poetry.lock`,
//! `uv.lock` and `Pipfile.lock`. Other packages are skipped; files that do not
//! parse yield nothing (they are not poolcheck's to judge).

use std::ops::Range;

use poolcheck_core::facts::DependencyPin;
use poolcheck_core::{FileFacts, FileKind, SourceFile, Span, Version};
use toml_edit::{Item, TableLike, Value};

/// The packages whose versions some rule reads (normalised names).
pub const RELEVANT_PACKAGES: &[&str] = &[
    "sqlalchemy",
    "asyncpg",
    "psycopg",
    "psycopg-binary",
    "psycopg-c",
    "psycopg-pool",
    "psycopg2",
    "psycopg2-binary",
    "django",
    "gunicorn",
    "uvicorn",
    "uvicorn-worker",
    "flask-sqlalchemy",
    "dj-database-url",
    "celery",
];

/// PEP 503 normalisation: lower case, runs of `-`, `_` and `.` become one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            in_separator = true;
        } else {
            if in_separator && !out.is_empty() {
                out.push('-');
            }
            in_separator = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

pub fn is_relevant(normalized: &str) -> bool {
    RELEVANT_PACKAGES.contains(&normalized)
}

pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let pins = match facts.kind {
        FileKind::Requirements => requirements_txt(file),
        FileKind::PyProject => pyproject(file),
        FileKind::PoetryLock | FileKind::UvLock => toml_lock(file),
        FileKind::PipfileLock => pipfile_lock(file),
        _ => return,
    };
    facts.dependencies.extend(pins);
}

/// One PEP 508 requirement with offsets relative to the text it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    name: String,
    extras: Vec<String>,
    spec: String,
    /// From the name to the end of the version specifier (or extras).
    range: Range<usize>,
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// Reads `name[extras] spec ; markers` (or `name @ url`). `None` for what is
/// not a named requirement (paths, URLs, options).
fn parse_requirement(text: &str) -> Option<Requirement> {
    let bytes = text.as_bytes();
    let mut i = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let name_start = i;
    if !bytes.get(i).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    while i < bytes.len() && is_name_char(bytes[i]) {
        i += 1;
    }
    let name = &text[name_start..i];
    let mut end = i;
    i = skip_ws(bytes, i);
    let mut extras = Vec::new();
    if bytes.get(i) == Some(&b'[') {
        let close = i + text[i..].find(']')?;
        extras = text[i + 1..close]
            .split(',')
            .map(normalize_name)
            .filter(|e| !e.is_empty())
            .collect();
        i = close + 1;
        end = i;
        i = skip_ws(bytes, i);
    }
    let spec_end = text[i..].find(';').map_or(text.len(), |p| i + p);
    let rest = text[i..spec_end].trim_end();
    let spec = match rest.as_bytes().first() {
        None => String::new(),
        Some(b'(') => {
            end = i + rest.len();
            rest.trim_start_matches('(')
                .trim_end_matches(')')
                .trim()
                .to_owned()
        }
        Some(b'@' | b'<' | b'>' | b'=' | b'!' | b'~') => {
            end = i + rest.len();
            rest.to_owned()
        }
        Some(_) => return None,
    };
    Some(Requirement {
        name: normalize_name(name),
        extras,
        spec,
        range: name_start..end,
    })
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The version of a specifier that allows exactly one release: `==1.2.3`,
/// `===1.2.3`; not `==1.2.*`, not ranges.
fn exact_version(spec: &str) -> Option<Version> {
    let spec = spec.trim();
    let version = spec
        .strip_prefix("===")
        .or_else(|| spec.strip_prefix("=="))?
        .trim();
    if version.is_empty() || version.contains([',', '*', ' ', '<', '>', '=', '!', '~']) {
        return None;
    }
    Version::parse_lenient(version)
}

fn pin(
    file: &SourceFile,
    requirement: Requirement,
    offset: usize,
    version: Option<Version>,
) -> DependencyPin {
    let span = Span::new(
        offset + requirement.range.start,
        offset + requirement.range.end,
    );
    DependencyPin {
        package: requirement.name,
        version,
        spec: requirement.spec,
        extras: requirement.extras,
        location: file.location(span),
    }
}

fn requirements_txt(file: &SourceFile) -> Vec<DependencyPin> {
    let text = file.text();
    let mut pins = Vec::new();
    let mut continues_previous = false;
    let mut line_start = 0;
    while line_start < text.len() {
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |p| line_start + p);
        let line = text[line_start..line_end].trim_end_matches('\r');
        let is_continued = line.trim_end().ends_with('\\');
        // Continuation lines carry `--hash` options of the requirement above.
        if !continues_previous {
            let content = requirement_part(line);
            if let Some(requirement) = parse_requirement(content)
                && is_relevant(&requirement.name)
            {
                let version = exact_version(&requirement.spec);
                pins.push(pin(file, requirement, line_start, version));
            }
        }
        continues_previous = is_continued;
        line_start = line_end + 1;
    }
    pins
}

/// A requirements line without its comment, trailing `\` and per-requirement
/// options (`--hash=…`); lines that are options themselves become empty.
fn requirement_part(line: &str) -> &str {
    if line.trim_start().starts_with('-') {
        return "";
    }
    let mut end = line.len();
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let after_space = i == 0 || bytes[i - 1].is_ascii_whitespace();
        if (b == b'#' && after_space)
            || (b == b'-' && after_space && bytes.get(i + 1) == Some(&b'-'))
        {
            end = i;
            break;
        }
    }
    let part = line[..end].trim_end();
    part.strip_suffix('\\').unwrap_or(part).trim_end()
}

fn toml_span(file: &SourceFile, range: Option<Range<usize>>) -> Option<Span> {
    let range = range?;
    let text = file.text();
    (range.end <= text.len()
        && text.is_char_boundary(range.start)
        && text.is_char_boundary(range.end))
    .then(|| Span::new(range.start, range.end))
}

fn pyproject(file: &SourceFile) -> Vec<DependencyPin> {
    let Ok(document) = toml_edit::Document::parse(file.text()) else {
        return Vec::new();
    };
    let root = document.as_table();
    let mut pins = Vec::new();
    if let Some(project) = root.get("project").and_then(Item::as_table_like) {
        if let Some(list) = project.get("dependencies").and_then(Item::as_array) {
            pep508_array(file, list, &mut pins);
        }
        if let Some(groups) = project
            .get("optional-dependencies")
            .and_then(Item::as_table_like)
        {
            for (_, group) in groups.iter() {
                if let Some(list) = group.as_array() {
                    pep508_array(file, list, &mut pins);
                }
            }
        }
    }
    if let Some(groups) = root.get("dependency-groups").and_then(Item::as_table_like) {
        for (_, group) in groups.iter() {
            if let Some(list) = group.as_array() {
                pep508_array(file, list, &mut pins);
            }
        }
    }
    if let Some(poetry) = root
        .get("tool")
        .and_then(|tool| tool.get("poetry"))
        .and_then(Item::as_table_like)
    {
        for key in ["dependencies", "dev-dependencies"] {
            if let Some(table) = poetry.get(key).and_then(Item::as_table_like) {
                poetry_table(file, table, &mut pins);
            }
        }
        if let Some(groups) = poetry.get("group").and_then(Item::as_table_like) {
            for (_, group) in groups.iter() {
                if let Some(table) = group.get("dependencies").and_then(Item::as_table_like) {
                    poetry_table(file, table, &mut pins);
                }
            }
        }
    }
    pins
}

/// PEP 508 strings of a TOML array; offsets map into the file when the string
/// is written without escapes, else the whole string is the location.
fn pep508_array(file: &SourceFile, list: &toml_edit::Array, pins: &mut Vec<DependencyPin>) {
    for value in list {
        let Some(text) = value.as_str() else { continue };
        let Some(requirement) = parse_requirement(text) else {
            continue;
        };
        if !is_relevant(&requirement.name) {
            continue;
        }
        let version = exact_version(&requirement.spec);
        let Some(span) = toml_span(file, value.span()) else {
            continue;
        };
        let raw = file.slice(span);
        let inner_start = span.start as usize + 1;
        let verbatim = raw.len() >= 2
            && (raw.starts_with('"') || raw.starts_with('\''))
            && !raw.starts_with("\"\"\"")
            && !raw.starts_with("'''")
            && raw.get(1..raw.len() - 1) == Some(text);
        if verbatim {
            pins.push(pin(file, requirement, inner_start, version));
        } else {
            pins.push(DependencyPin {
                package: requirement.name,
                version,
                spec: requirement.spec,
                extras: requirement.extras,
                location: file.location(span),
            });
        }
    }
}

/// Poetry's exact constraints: a bare version (`"2.0.30"`), `"==2.0.30"` or `"=2.0.30"`.
fn poetry_exact(constraint: &str) -> Option<Version> {
    let c = constraint.trim();
    let bare = c
        .strip_prefix("==")
        .or_else(|| c.strip_prefix('='))
        .unwrap_or(c)
        .trim();
    if bare.is_empty()
        || !bare.starts_with(|ch: char| ch.is_ascii_digit())
        || bare.contains([',', '*', ' ', '<', '>', '=', '!', '~', '^', '|'])
    {
        return None;
    }
    Version::parse_lenient(bare)
}

fn poetry_table(file: &SourceFile, table: &dyn TableLike, pins: &mut Vec<DependencyPin>) {
    for (name, item) in table.iter() {
        let package = normalize_name(name);
        if !is_relevant(&package) {
            continue;
        }
        let (spec, extras) = match item {
            Item::Value(Value::String(s)) => (s.value().clone(), Vec::new()),
            _ => match item.as_table_like() {
                Some(details) => (
                    details
                        .get("version")
                        .and_then(Item::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    details
                        .get("extras")
                        .and_then(Item::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(normalize_name)
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                // Several constraints (a list of tables): keep the text, no single version.
                None => (
                    item.span()
                        .and_then(|r| file.text().get(r))
                        .unwrap_or_default()
                        .to_owned(),
                    Vec::new(),
                ),
            },
        };
        let key_span = table.key(name).and_then(|k| toml_span(file, k.span()));
        let value_span = toml_span(file, item.span());
        let span = match (key_span, value_span) {
            (Some(k), Some(v)) => k.cover(v),
            (Some(s), None) | (None, Some(s)) => s,
            (None, None) => Span::empty(0),
        };
        pins.push(DependencyPin {
            package,
            version: poetry_exact(&spec),
            spec,
            extras,
            location: file.location(span),
        });
    }
}

/// `[[package]]` entries of poetry.lock and uv.lock; the location runs from
/// the `name` key to the `version` value.
fn toml_lock(file: &SourceFile) -> Vec<DependencyPin> {
    let Ok(document) = toml_edit::Document::parse(file.text()) else {
        return Vec::new();
    };
    let Some(packages) = document
        .as_table()
        .get("package")
        .and_then(Item::as_array_of_tables)
    else {
        return Vec::new();
    };
    let mut pins = Vec::new();
    for package in packages {
        let Some(name) = package.get("name").and_then(Item::as_str) else {
            continue;
        };
        let normalized = normalize_name(name);
        if !is_relevant(&normalized) {
            continue;
        }
        let version_item = package.get("version");
        let version_text = version_item.and_then(Item::as_str).unwrap_or_default();
        let name_span = package.key("name").and_then(|k| toml_span(file, k.span()));
        let version_span = version_item.and_then(|v| toml_span(file, v.span()));
        let span = match (name_span, version_span) {
            (Some(n), Some(v)) => n.cover(v),
            (Some(s), None) | (None, Some(s)) => s,
            (None, None) => toml_span(file, package.span()).unwrap_or_default(),
        };
        pins.push(DependencyPin {
            package: normalized,
            version: Version::parse_lenient(version_text),
            spec: format!("=={version_text}"),
            extras: Vec::new(),
            location: file.location(span),
        });
    }
    pins
}

fn pipfile_lock(file: &SourceFile) -> Vec<DependencyPin> {
    let text = file.text();
    let Ok(serde_json::Value::Object(root)) = serde_json::from_str::<serde_json::Value>(text)
    else {
        return Vec::new();
    };
    let mut pins: Vec<DependencyPin> = Vec::new();
    for section in ["default", "develop"] {
        let Some(serde_json::Value::Object(packages)) = root.get(section) else {
            continue;
        };
        let section_start = find_json_key(text, section, 0).map_or(0, |s| s.end as usize);
        for (name, details) in packages {
            let package = normalize_name(name);
            if !is_relevant(&package) || pins.iter().any(|p| p.package == package) {
                continue;
            }
            let spec = details
                .get("version")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let span = find_json_key(text, name, section_start).unwrap_or_default();
            pins.push(DependencyPin {
                package,
                version: exact_version(&spec),
                spec,
                extras: details
                    .get("extras")
                    .and_then(serde_json::Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(serde_json::Value::as_str)
                            .map(normalize_name)
                            .collect()
                    })
                    .unwrap_or_default(),
                location: file.location(span),
            });
        }
    }
    pins
}

/// The span of `"key"` used as an object key (followed by `:`) at or after `from`.
fn find_json_key(text: &str, key: &str, from: usize) -> Option<Span> {
    let needle = format!("\"{key}\"");
    let mut search = from.min(text.len());
    while let Some(found) = text.get(search..)?.find(&needle) {
        let start = search + found;
        let end = start + needle.len();
        if text[end..].trim_start().starts_with(':') {
            return Some(Span::new(start, end));
        }
        search = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(
        kind: FileKind,
        name: &str,
        text: &str,
    ) -> Vec<(String, Option<Version>, String, String)> {
        let file = SourceFile::new(name, text);
        let mut facts = FileFacts::new(file.path().clone(), kind);
        extract(&file, &mut facts);
        assert!(facts.diagnostics.is_empty());
        facts
            .dependencies
            .iter()
            .map(|p| {
                (
                    p.package.clone(),
                    p.version,
                    p.spec.clone(),
                    file.slice(p.location.span).to_owned(),
                )
            })
            .collect()
    }

    fn row(
        package: &str,
        version: Option<(u32, u32, u32)>,
        spec: &str,
        span: &str,
    ) -> (String, Option<Version>, String, String) {
        (
            package.to_owned(),
            version.map(|(a, b, c)| Version::new(a, b, c)),
            spec.to_owned(),
            span.to_owned(),
        )
    }

    #[test]
    fn names_normalise_as_pep_503_says() {
        assert_eq!(normalize_name("Flask_SQLAlchemy"), "flask-sqlalchemy");
        assert_eq!(normalize_name("psycopg.pool"), "psycopg-pool");
        assert_eq!(normalize_name("dj--database__url"), "dj-database-url");
        assert_eq!(normalize_name("Django"), "django");
    }

    #[test]
    fn requirements_txt_pins_ranges_extras_markers_and_hashes() {
        let text = "\
# production
-r base.txt
--index-url https://example.org/simple
Django==5.1.2  # LTS soon
SQLAlchemy>=2.0,<2.1
psycopg[binary,pool]==3.2.1 ; python_version >= \"3.9\"
gunicorn == 23.0.0 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
uvicorn[standard]
celery~=5.4.0
asyncpg===0.29.0
flask_sqlalchemy (>=3.1)
dj-database-url @ https://example.org/dj.tar.gz
psycopg2-binary==2.9.*
requests==2.32.3
-e git+https://github.com/x/psycopg2.git#egg=psycopg2
./vendor/django
";
        assert_eq!(
            pins(FileKind::Requirements, "requirements.txt", text),
            [
                row("django", Some((5, 1, 2)), "==5.1.2", "Django==5.1.2"),
                row("sqlalchemy", None, ">=2.0,<2.1", "SQLAlchemy>=2.0,<2.1"),
                row(
                    "psycopg",
                    Some((3, 2, 1)),
                    "==3.2.1",
                    "psycopg[binary,pool]==3.2.1"
                ),
                row(
                    "gunicorn",
                    Some((23, 0, 0)),
                    "== 23.0.0",
                    "gunicorn == 23.0.0"
                ),
                row("uvicorn", None, "", "uvicorn[standard]"),
                row("celery", None, "~=5.4.0", "celery~=5.4.0"),
                row("asyncpg", Some((0, 29, 0)), "===0.29.0", "asyncpg===0.29.0"),
                row(
                    "flask-sqlalchemy",
                    None,
                    ">=3.1",
                    "flask_sqlalchemy (>=3.1)"
                ),
                row(
                    "dj-database-url",
                    None,
                    "@ https://example.org/dj.tar.gz",
                    "dj-database-url @ https://example.org/dj.tar.gz"
                ),
                row("psycopg2-binary", None, "==2.9.*", "psycopg2-binary==2.9.*"),
            ]
        );
    }

    #[test]
    fn extras_are_kept_normalised() {
        let file = SourceFile::new("requirements.txt", "psycopg[Binary, pool]>=3.1\n");
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Requirements);
        extract(&file, &mut facts);
        assert_eq!(facts.dependencies[0].extras, ["binary", "pool"]);
    }

    #[test]
    fn pyproject_project_and_poetry_dependencies() {
        let text = r#"
[project]
name = "shop"
dependencies = [
    "django>=5.1,<5.2",
    "psycopg[pool]==3.2.3",
    "requests",
]

[project.optional-dependencies]
server = ["gunicorn==23.0.0"]

[dependency-groups]
dev = ["uvicorn>=0.30"]

[tool.poetry.dependencies]
python = "^3.12"
SQLAlchemy = "2.0.36"
asyncpg = { version = "^0.30", optional = true }
celery = "==5.4.0"

[tool.poetry.group.web.dependencies]
uvicorn-worker = "^0.2"
"#;
        assert_eq!(
            pins(FileKind::PyProject, "pyproject.toml", text),
            [
                row("django", None, ">=5.1,<5.2", "django>=5.1,<5.2"),
                row(
                    "psycopg",
                    Some((3, 2, 3)),
                    "==3.2.3",
                    "psycopg[pool]==3.2.3"
                ),
                row("gunicorn", Some((23, 0, 0)), "==23.0.0", "gunicorn==23.0.0"),
                row("uvicorn", None, ">=0.30", "uvicorn>=0.30"),
                row(
                    "sqlalchemy",
                    Some((2, 0, 36)),
                    "2.0.36",
                    "SQLAlchemy = \"2.0.36\""
                ),
                row(
                    "asyncpg",
                    None,
                    "^0.30",
                    "asyncpg = { version = \"^0.30\", optional = true }"
                ),
                row("celery", Some((5, 4, 0)), "==5.4.0", "celery = \"==5.4.0\""),
                row("uvicorn-worker", None, "^0.2", "uvicorn-worker = \"^0.2\""),
            ]
        );
    }

    #[test]
    fn escaped_requirement_strings_point_at_the_whole_string() {
        let text = "[project]\ndependencies = [\"django\\u003e=5\"]\n";
        assert_eq!(
            pins(FileKind::PyProject, "pyproject.toml", text),
            [row("django", None, ">=5", "\"django\\u003e=5\"")]
        );
    }

    #[test]
    fn poetry_and_uv_locks() {
        let poetry = r#"
[[package]]
name = "requests"
version = "2.32.3"

[[package]]
name = "SQLAlchemy"
version = "2.0.36"
description = "Database Abstraction Library"

[[package]]
name = "psycopg-pool"
version = "3.2.4"
"#;
        assert_eq!(
            pins(FileKind::PoetryLock, "poetry.lock", poetry),
            [
                row(
                    "sqlalchemy",
                    Some((2, 0, 36)),
                    "==2.0.36",
                    "name = \"SQLAlchemy\"\nversion = \"2.0.36\""
                ),
                row(
                    "psycopg-pool",
                    Some((3, 2, 4)),
                    "==3.2.4",
                    "name = \"psycopg-pool\"\nversion = \"3.2.4\""
                ),
            ]
        );
        let uv = "version = 1\n\n[[package]]\nname = \"gunicorn\"\nversion = \"23.0.0\"\nsource = { registry = \"https://pypi.org/simple\" }\n";
        assert_eq!(
            pins(FileKind::UvLock, "uv.lock", uv),
            [row(
                "gunicorn",
                Some((23, 0, 0)),
                "==23.0.0",
                "name = \"gunicorn\"\nversion = \"23.0.0\""
            )]
        );
    }

    #[test]
    fn pipfile_lock_default_and_develop() {
        let text = r#"{
    "_meta": {"hash": {"sha256": "abc"}, "requires": {"python_version": "3.12"}},
    "default": {
        "django": {"hashes": ["sha256:x"], "index": "pypi", "version": "==4.2.16"},
        "psycopg2-binary": {"version": "==2.9.10"},
        "requests": {"version": "==2.32.3"}
    },
    "develop": {
        "django": {"version": "==4.2.16"},
        "uvicorn": {"extras": ["standard"], "version": "==0.32.0"}
    }
}"#;
        assert_eq!(
            pins(FileKind::PipfileLock, "Pipfile.lock", text),
            [
                row("django", Some((4, 2, 16)), "==4.2.16", "\"django\""),
                row(
                    "psycopg2-binary",
                    Some((2, 9, 10)),
                    "==2.9.10",
                    "\"psycopg2-binary\""
                ),
                row("uvicorn", Some((0, 32, 0)), "==0.32.0", "\"uvicorn\""),
            ]
        );
        let file = SourceFile::new("Pipfile.lock", text);
        let mut facts = FileFacts::new(file.path().clone(), FileKind::PipfileLock);
        extract(&file, &mut facts);
        // The key found is the one in its own section.
        let uvicorn = &facts.dependencies[2];
        assert_eq!(file.line_col(uvicorn.location.span.start as usize).line, 10);
        assert_eq!(uvicorn.extras, ["standard"]);
    }

    #[test]
    fn broken_files_yield_nothing_and_do_not_panic() {
        assert!(pins(FileKind::PoetryLock, "poetry.lock", "[[package]\nname =").is_empty());
        assert!(pins(FileKind::PipfileLock, "Pipfile.lock", "{\"default\": ").is_empty());
        assert!(pins(FileKind::PyProject, "pyproject.toml", "[project\n").is_empty());
        assert!(
            pins(
                FileKind::Requirements,
                "requirements.txt",
                "\u{0}ÿ[\\\n==\n django[\n"
            )
            .is_empty()
        );
    }
}
