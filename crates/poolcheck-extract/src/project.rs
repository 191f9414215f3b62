//! The configuration front-end: `poolcheck.toml` (keys at the top level) and
//! `[tool.poolcheck]` in `pyproject.toml`. Every key is read with the span of
//! its value; an unknown key, a wrong type or an out-of-range number is PC003
//! at that span, and the rest of the configuration is still read.

use std::fmt::Write as _;
use std::ops::Range;

use poolcheck_core::facts::config::{
    DatabaseDecl, HelmDecl, PgBouncerDecl, ProjectConfig, ServiceDecl,
};
use poolcheck_core::facts::providers::{Provider, server_limits};
use poolcheck_core::{
    Code, CodeError, Diagnostic, FileFacts, FileKind, FilePath, Selector, Severity, SourceFile,
    Sourced, Span, Version,
};
use toml_edit::{Item, TableLike, Value};

const TOP_KEYS: &[&str] = &[
    "exclude",
    "select",
    "ignore",
    "severity",
    "fail-on",
    "headroom",
    "env",
    "database",
    "databases",
    "pgbouncer",
    "services",
    "helm",
];
const DATABASE_KEYS: &[&str] = &[
    "max_connections",
    "superuser_reserved_connections",
    "reserved_connections",
    "other_clients",
    "cores",
    "spindles",
    "provider_reserve",
    "idle_timeout",
    "version",
    "hosts",
    "provider",
    "size",
];
const PGBOUNCER_KEYS: &[&str] = &["version", "instances"];
const HELM_KEYS: &[&str] = &["values", "release", "namespace"];
const SERVICE_KEYS: &[&str] = &["replicas", "paths", "cpu_count", "env"];

/// `MAX_BACKENDS`: PostgreSQL rejects larger connection counts.
const MAX_BACKENDS: i64 = 262_143;

/// Reads the configuration of a `poolcheck.toml` or a `pyproject.toml` into
/// `facts.config`. A pyproject without `[tool.poolcheck]` yields nothing.
pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let (config, diagnostics) = read_config(file, facts.kind);
    facts.config = config;
    facts.diagnostics.extend(diagnostics);
}

/// The configuration a file declares, if any, and its PC003 diagnostics.
/// A broken `poolcheck.toml` still yields a configuration (its defaults), so
/// that callers know where the configuration lives.
pub fn read_config(file: &SourceFile, kind: FileKind) -> (Option<ProjectConfig>, Vec<Diagnostic>) {
    let is_pyproject = match kind {
        FileKind::PoolcheckToml => false,
        FileKind::PyProject => true,
        _ => return (None, Vec::new()),
    };
    let empty = || ProjectConfig {
        path: Some(file.path().clone()),
        ..ProjectConfig::default()
    };
    let document = match toml_edit::Document::parse(file.text()) {
        Ok(document) => document,
        Err(error) => {
            // A broken pyproject only concerns poolcheck when it configures poolcheck.
            if is_pyproject && !file.text().contains("tool.poolcheck") {
                return (None, Vec::new());
            }
            let span = error
                .span()
                .map_or(Span::empty(0), |r| clamp(file.text(), &r));
            let diagnostic = Diagnostic::new(
                Code::PC003,
                Severity::Error,
                file.location(span),
                format!("invalid TOML: {}", error.message().trim_end()),
            );
            return (Some(empty()), vec![diagnostic]);
        }
    };
    let mut reader = Reader {
        file,
        section_prefix: if is_pyproject { "tool.poolcheck" } else { "" },
        diagnostics: Vec::new(),
    };
    let root = document.as_table();
    let table: &dyn TableLike = if is_pyproject {
        let Some(tool) = root.get("tool").and_then(Item::as_table_like) else {
            return (None, Vec::new());
        };
        let Some((key, item)) = tool.get_key_value("poolcheck") else {
            return (None, Vec::new());
        };
        let Some(table) = item.as_table_like() else {
            let span = reader.span(item.span(), reader.span(key.span(), Span::empty(0)));
            reader.error(
                span,
                format!("`tool.poolcheck` must be a table, found {}", article(item)),
                None,
            );
            return (Some(empty()), reader.diagnostics);
        };
        table
    } else {
        root
    };
    let mut config = empty();
    reader.read_top(table, &mut config);
    (Some(config), reader.diagnostics)
}

/// The configuration file `display` as `kind`, from what reading it gave
/// (its bytes, or why it could not be read, in words). A file that cannot be
/// read, or is not UTF-8 (TOML must be), is PC003 at the file and the
/// configuration is its defaults, so that the rest of the project is still
/// checked and the user learns their settings did not apply.
pub fn config_from_bytes(
    read: Result<Vec<u8>, String>,
    display: FilePath,
    kind: FileKind,
) -> (SourceFile, FileFacts) {
    let (text, problem) = match read {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => (text, None),
            Err(error) => {
                let at = error.utf8_error().valid_up_to();
                let byte = error.as_bytes()[at];
                let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
                // The lossy text keeps the valid prefix, so `at` is the
                // replacement character's offset.
                let span = Span::new(at, at + char::REPLACEMENT_CHARACTER.len_utf8());
                let message = format!(
                    "the configuration is not valid UTF-8 (byte 0x{byte:02X}): TOML files must be \
                     UTF-8, so none of its settings apply and defaults are used"
                );
                (text, Some((span, message)))
            }
        },
        Err(error) => (
            String::new(),
            Some((
                Span::empty(0),
                format!(
                    "cannot read the configuration: {error}; none of its settings apply and \
                     defaults are used"
                ),
            )),
        ),
    };
    let file = SourceFile::new(display, text);
    let mut facts = FileFacts::new(file.path().clone(), kind);
    match problem {
        None => facts = crate::extract(&file, kind),
        Some((span, message)) => {
            facts.config = Some(ProjectConfig {
                path: Some(file.path().clone()),
                ..ProjectConfig::default()
            });
            facts.diagnostics.push(
                Diagnostic::new(Code::PC003, Severity::Error, file.location(span), message)
                    .with_help(if span.is_empty() {
                        "make the file readable by the user running poolcheck"
                    } else {
                        "save the file as UTF-8"
                    }),
            );
        }
    }
    (file, facts)
}

/// Whether a pyproject's text has a `[tool.poolcheck]` table; a broken one
/// counts when it mentions the table, so that its syntax error is reported.
pub fn configures_poolcheck(text: &str) -> bool {
    if !text.contains("poolcheck") {
        return false;
    }
    match toml_edit::Document::parse(text) {
        Ok(document) => document
            .as_table()
            .get("tool")
            .and_then(|tool| tool.get("poolcheck"))
            .is_some(),
        Err(_) => text.contains("tool.poolcheck"),
    }
}

fn clamp(text: &str, range: &Range<usize>) -> Span {
    let mut start = range.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = range.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    Span::new(start, end)
}

/// "a string", "an integer", "a table" for messages.
fn article(item: &Item) -> String {
    let name = item.type_name();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

/// The closest of `candidates` to a mistyped key.
fn suggestion<'c>(unknown: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(unknown, c), *c))
        .filter(|(score, c)| {
            *score >= 0.85 || strsim::normalized_damerau_levenshtein(unknown, c) >= 0.7
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

struct Reader<'f> {
    file: &'f SourceFile,
    /// `tool.poolcheck` in a pyproject, empty in poolcheck.toml.
    section_prefix: &'static str,
    diagnostics: Vec<Diagnostic>,
}

/// Where a table sits, for messages (`[database]`, `[tool.poolcheck.services.web]`).
#[derive(Clone)]
struct Section(Vec<String>);

impl Section {
    fn child(&self, name: &str) -> Section {
        let mut path = self.0.clone();
        path.push(name.to_owned());
        Section(path)
    }
}

impl Reader<'_> {
    fn span(&self, range: Option<Range<usize>>, fallback: Span) -> Span {
        range.map_or(fallback, |r| clamp(self.file.text(), &r))
    }

    fn label(&self, section: &Section) -> String {
        match (self.section_prefix.is_empty(), section.0.is_empty()) {
            (true, true) => "poolcheck.toml".to_owned(),
            (true, false) => format!("[{}]", section.0.join(".")),
            (false, true) => format!("[{}]", self.section_prefix),
            (false, false) => format!("[{}.{}]", self.section_prefix, section.0.join(".")),
        }
    }

    fn error(&mut self, span: Span, message: String, help: Option<String>) {
        let mut diagnostic = Diagnostic::new(
            Code::PC003,
            Severity::Error,
            self.file.location(span),
            message,
        );
        if let Some(help) = help {
            diagnostic = diagnostic.with_help(help);
        }
        self.diagnostics.push(diagnostic);
    }

    fn unknown_key(&mut self, key: &str, span: Span, section: &Section, known: &[&str]) {
        let help = if let Some(close) = suggestion(key, known) {
            format!("did you mean `{close}`?")
        } else {
            let mut list = String::new();
            for (i, k) in known.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                let _ = write!(list, "{sep}`{k}`");
            }
            format!("expected one of {list}")
        };
        let label = self.label(section);
        self.error(span, format!("unknown key `{key}` in {label}"), Some(help));
    }

    /// Entries of a table with the spans of their keys and values.
    fn entries<'t>(&self, table: &'t dyn TableLike, fallback: Span) -> Vec<Field<'t>> {
        table
            .iter()
            .map(|(name, item)| {
                let key_span = table
                    .get_key_value(name)
                    .and_then(|(key, _)| key.span())
                    .map_or(fallback, |r| clamp(self.file.text(), &r));
                let value_span = self.span(item.span(), key_span);
                Field {
                    name,
                    item,
                    key_span,
                    value_span,
                }
            })
            .collect()
    }

    fn wrong_type(&mut self, field: &Field<'_>, section: &Section, expected: &str) {
        let label = self.label(section);
        let help = match field.item.as_str() {
            Some(text) if expected.contains("integer") && text.trim().parse::<i64>().is_ok() => {
                Some(format!(
                    "write `{} = {}` without quotes",
                    field.name,
                    text.trim()
                ))
            }
            _ => None,
        };
        self.error(
            field.value_span,
            format!(
                "`{}` in {label} must be {expected}, found {}",
                field.name,
                article(field.item)
            ),
            help,
        );
    }

    fn table<'t>(&mut self, field: &Field<'t>, section: &Section) -> Option<&'t dyn TableLike> {
        let table = field.item.as_table_like();
        if table.is_none() {
            self.wrong_type(field, section, "a table");
        }
        table
    }

    fn integer(
        &mut self,
        field: &Field<'_>,
        section: &Section,
        min: i64,
        max: i64,
    ) -> Option<Sourced<i64>> {
        let Some(value) = field.item.as_integer() else {
            self.wrong_type(field, section, "an integer");
            return None;
        };
        if value < min || value > max {
            let label = self.label(section);
            let bound = if value < min {
                format!("at least {min}")
            } else {
                format!("at most {max}")
            };
            self.error(
                field.value_span,
                format!("`{}` in {label} must be {bound}, found {value}", field.name),
                None,
            );
            return None;
        }
        Some(Sourced::declared(
            value,
            self.file.location(field.value_span),
        ))
    }

    fn number(&mut self, field: &Field<'_>, section: &Section) -> Option<f64> {
        match field.item.as_value() {
            Some(Value::Float(f)) => Some(*f.value()),
            Some(Value::Integer(i)) => Some(*i.value() as f64),
            _ => {
                self.wrong_type(field, section, "a number");
                None
            }
        }
    }

    /// A list of strings; elements of another type are reported one by one.
    fn string_list(&mut self, field: &Field<'_>, section: &Section) -> Vec<Sourced<String>> {
        let Some(array) = field.item.as_array() else {
            self.wrong_type(field, section, "a list of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for element in array {
            let span = self.span(element.span(), field.value_span);
            if let Some(s) = element.as_str() {
                out.push(Sourced::declared(s.to_owned(), self.file.location(span)));
            } else {
                let label = self.label(section);
                self.error(
                    span,
                    format!(
                        "`{}` in {label} must be a list of strings, found {} in it",
                        field.name,
                        article(&Item::Value(element.clone()))
                    ),
                    None,
                );
            }
        }
        out
    }

    fn version(&mut self, field: &Field<'_>, section: &Section) -> Option<Sourced<Version>> {
        let location = self.file.location(field.value_span);
        let text = match field.item.as_value() {
            Some(Value::String(s)) => s.value().clone(),
            Some(Value::Integer(i)) => i.value().to_string(),
            _ => {
                self.wrong_type(field, section, "a version string like \"16\" or \"15.4\"");
                return None;
            }
        };
        let parsed = Version::parse_lenient(&text);
        if parsed.is_none() {
            let label = self.label(section);
            self.error(
                field.value_span,
                format!("`{}` in {label} is not a version: `{text}`", field.name),
                Some("write a release number such as \"16\" or \"1.22.1\"".to_owned()),
            );
        }
        parsed.map(|v| Sourced::declared(v, location))
    }

    fn severity(&mut self, field: &Field<'_>, section: &Section) -> Option<Sourced<Severity>> {
        let text = field.item.as_str();
        let Some(severity) = text.and_then(Severity::parse) else {
            let label = self.label(section);
            let found = match text {
                Some(t) => format!("`{t}`"),
                None => article(field.item),
            };
            self.error(
                field.value_span,
                format!(
                    "`{}` in {label} must be \"error\", \"warning\" or \"info\", found {found}",
                    field.name
                ),
                None,
            );
            return None;
        };
        Some(Sourced::declared(
            severity,
            self.file.location(field.value_span),
        ))
    }

    /// Checks that `code` names a rule or a prefix of one (`PC`, `PC1`,
    /// `PC101`), spelt as the documentation does.
    fn check_code(&mut self, code: &str, span: Span, key: &str, section: &Section) -> bool {
        let error = match Selector::parse_strict(code) {
            Ok(Selector::All) => {
                // `ALL` is for the command line; the configuration lists codes.
                CodeError::NotACode { uppercase: None }
            }
            Ok(_) => return true,
            Err(error) => error,
        };
        let label = self.label(section);
        let help = match &error {
            CodeError::NotACode {
                uppercase: Some(upper),
            } => format!("did you mean `{upper}`?"),
            _ => "write a rule code such as `PC101`, or a prefix such as `PC1`".to_owned(),
        };
        let message = match error {
            CodeError::UnknownCode => format!("unknown rule code `{code}` in `{key}` of {label}"),
            CodeError::NoCodeStartsWith => {
                format!("no rule code starts with `{code}` (in `{key}` of {label})")
            }
            CodeError::NotACode { .. } => {
                format!("`{code}` in `{key}` of {label} is not a rule code or prefix")
            }
        };
        self.error(span, message, Some(help));
        false
    }

    fn code_list(&mut self, field: &Field<'_>, section: &Section) -> Vec<Sourced<String>> {
        let codes = self.string_list(field, section);
        codes
            .into_iter()
            .filter(|code| {
                let span = code.location.as_ref().map_or(field.value_span, |l| l.span);
                let text = code.value.as_deref().unwrap_or_default();
                self.check_code(text, span, field.name, section)
            })
            .collect()
    }

    fn env(&mut self, field: &Field<'_>, section: &Section) -> Vec<(String, Sourced<String>)> {
        let Some(table) = self.table(field, section) else {
            return Vec::new();
        };
        let section = section.child(field.name);
        let mut out = Vec::new();
        for entry in self.entries(table, field.key_span) {
            let value = match entry.item.as_value() {
                Some(Value::String(s)) => s.value().clone(),
                Some(Value::Integer(i)) => i.value().to_string(),
                _ => {
                    let label = self.label(&section);
                    self.error(
                        entry.value_span,
                        format!(
                            "`{}` in {label} must be a string, found {}",
                            entry.name,
                            article(entry.item)
                        ),
                        Some(format!(
                            "environment values are text: write `{} = \"...\"`",
                            entry.name
                        )),
                    );
                    continue;
                }
            };
            out.push((
                entry.name.to_owned(),
                Sourced::declared(value, self.file.location(entry.value_span)),
            ));
        }
        out
    }

    fn read_top(&mut self, table: &dyn TableLike, config: &mut ProjectConfig) {
        let top = Section(Vec::new());
        let mut fail_on_key: Option<&str> = None;
        for field in self.entries(table, Span::empty(0)) {
            match field.name {
                "exclude" => config.exclude = self.string_list(&field, &top),
                "select" => {
                    // A `select` of the wrong type, or with no valid entry, is
                    // reported and treated as absent: it never turns rules off.
                    let codes = self.code_list(&field, &top);
                    config.select = (!codes.is_empty()).then_some(codes);
                }
                "ignore" => config.ignore = self.code_list(&field, &top),
                "severity" => config.severity = self.severity_overrides(&field, &top),
                // Both spellings: the other keys are snake_case, so users write either.
                "fail-on" | "fail_on" => {
                    if let Some(previous) = fail_on_key {
                        let label = self.label(&top);
                        self.error(
                            field.key_span,
                            format!("both `{previous}` and `{}` are set in {label}", field.name),
                            Some("keep one of them".to_owned()),
                        );
                        continue;
                    }
                    fail_on_key = Some(field.name);
                    config.fail_on = self.severity(&field, &top);
                }
                "headroom" => {
                    let Some(value) = self.number(&field, &top) else {
                        continue;
                    };
                    if value > 0.0 && value < 1.0 {
                        config.headroom = Some(Sourced::declared(
                            value,
                            self.file.location(field.value_span),
                        ));
                    } else {
                        let label = self.label(&top);
                        self.error(
                            field.value_span,
                            format!(
                                "`headroom` in {label} must be between 0 and 1 (exclusive), found {value}"
                            ),
                            Some("headroom is the fraction of usable slots to keep free, e.g. 0.1 for 10%".to_owned()),
                        );
                    }
                }
                "env" => config.env = self.env(&field, &top),
                "database" => {
                    let section = top.child("database");
                    if let Some(table) = self.table(&field, &top) {
                        config.database = Some(self.database(table, None, &field, &section));
                    }
                }
                "databases" => {
                    let section = top.child("databases");
                    let Some(table) = self.table(&field, &top) else {
                        continue;
                    };
                    for entry in self.entries(table, field.key_span) {
                        if let Some(table) = self.table(&entry, &section) {
                            let section = section.child(entry.name);
                            let decl =
                                self.database(table, Some(entry.name.to_owned()), &entry, &section);
                            config.databases.push(decl);
                        }
                    }
                }
                "pgbouncer" => {
                    let section = top.child("pgbouncer");
                    if let Some(table) = self.table(&field, &top) {
                        config.pgbouncer = Some(self.pgbouncer(table, &field, &section));
                    }
                }
                "helm" => {
                    let section = top.child("helm");
                    if let Some(table) = self.table(&field, &top) {
                        config.helm = Some(self.helm(table, &field, &section));
                    }
                }
                "services" => {
                    let section = top.child("services");
                    let Some(table) = self.table(&field, &top) else {
                        continue;
                    };
                    for entry in self.entries(table, field.key_span) {
                        if let Some(table) = self.table(&entry, &section) {
                            let section = section.child(entry.name);
                            let decl = self.service(table, &entry, &section);
                            config.services.push(decl);
                        }
                    }
                }
                other => self.unknown_key(other, field.key_span, &top, TOP_KEYS),
            }
        }
    }

    fn severity_overrides(
        &mut self,
        field: &Field<'_>,
        section: &Section,
    ) -> Vec<(Sourced<String>, Severity)> {
        let Some(table) = self.table(field, section) else {
            return Vec::new();
        };
        let section = section.child(field.name);
        let mut out = Vec::new();
        for entry in self.entries(table, field.key_span) {
            let code_ok = self.check_code(entry.name, entry.key_span, "severity", &section);
            let severity = self.severity(&entry, &section);
            if let (true, Some(severity)) = (code_ok, severity) {
                let code =
                    Sourced::declared(entry.name.to_owned(), self.file.location(entry.key_span));
                out.push((code, severity.value.unwrap_or(Severity::Warning)));
            }
        }
        out
    }

    fn database(
        &mut self,
        table: &dyn TableLike,
        name: Option<String>,
        header: &Field<'_>,
        section: &Section,
    ) -> DatabaseDecl {
        let mut decl = DatabaseDecl {
            name,
            location: Some(self.file.location(header.key_span)),
            ..DatabaseDecl::default()
        };
        let mut size_span = None;
        for field in self.entries(table, header.key_span) {
            match field.name {
                "max_connections" => {
                    decl.max_connections = self.integer(&field, section, 1, MAX_BACKENDS);
                }
                "superuser_reserved_connections" => {
                    decl.superuser_reserved_connections =
                        self.integer(&field, section, 0, MAX_BACKENDS);
                }
                "reserved_connections" => {
                    decl.reserved_connections = self.integer(&field, section, 0, MAX_BACKENDS);
                }
                "other_clients" => {
                    decl.other_clients = self.integer(&field, section, 0, MAX_BACKENDS);
                }
                "provider_reserve" => {
                    decl.provider_reserve = self.integer(&field, section, 0, MAX_BACKENDS);
                }
                "cores" => decl.cores = self.integer(&field, section, 1, 65_536),
                "spindles" => decl.spindles = self.integer(&field, section, 0, 65_536),
                "idle_timeout" => {
                    let Some(seconds) = self.number(&field, section) else {
                        continue;
                    };
                    if seconds.is_finite() && seconds >= 0.0 {
                        decl.idle_timeout = Some(Sourced::declared(
                            seconds,
                            self.file.location(field.value_span),
                        ));
                    } else {
                        let label = self.label(section);
                        self.error(
                            field.value_span,
                            format!(
                                "`idle_timeout` in {label} must be a number of seconds ≥ 0, found {seconds}"
                            ),
                            None,
                        );
                    }
                }
                "version" => decl.version = self.version(&field, section),
                "hosts" => decl.hosts = self.string_list(&field, section),
                "provider" => decl.provider = self.provider(&field, section),
                "size" => {
                    if let Some(text) = field.item.as_str() {
                        decl.size = Some(Sourced::declared(
                            text.to_owned(),
                            self.file.location(field.value_span),
                        ));
                        size_span = Some(field.value_span);
                    } else {
                        self.wrong_type(&field, section, "a string like \"db.r6g.large\"");
                    }
                }
                other => self.unknown_key(other, field.key_span, section, DATABASE_KEYS),
            }
        }
        self.check_provider_size(&decl, size_span, section);
        decl
    }

    fn provider(&mut self, field: &Field<'_>, section: &Section) -> Option<Sourced<Provider>> {
        let Some(text) = field.item.as_str() else {
            self.wrong_type(field, section, "a provider name like \"rds\"");
            return None;
        };
        let provider = Provider::from_key(text);
        if provider.is_none() {
            let label = self.label(section);
            self.error(
                field.value_span,
                format!("`provider` in {label} is not a known provider: `{text}`"),
                Some(format!("known providers: {}", Provider::known_keys())),
            );
        }
        provider.map(|p| Sourced::declared(p, self.file.location(field.value_span)))
    }

    /// A size the provider's table does not know is an error that lists the
    /// known ones; a size without a provider too.
    fn check_provider_size(&mut self, decl: &DatabaseDecl, span: Option<Span>, section: &Section) {
        let (Some(size), Some(span)) = (&decl.size, span) else {
            return;
        };
        let label = self.label(section);
        let Some(provider) = decl.provider.as_ref().and_then(|p| p.value) else {
            self.error(
                span,
                format!("`size` in {label} needs a `provider` to say whose size it is"),
                Some(format!(
                    "add `provider = \"…\"` (one of {})",
                    Provider::known_keys()
                )),
            );
            return;
        };
        if let Err(problem) = server_limits(provider, size.value.as_deref()) {
            self.error(span, format!("`size` in {label}: {problem}"), None);
        }
    }

    fn pgbouncer(
        &mut self,
        table: &dyn TableLike,
        header: &Field<'_>,
        section: &Section,
    ) -> PgBouncerDecl {
        let mut decl = PgBouncerDecl {
            location: Some(self.file.location(header.key_span)),
            ..PgBouncerDecl::default()
        };
        for field in self.entries(table, header.key_span) {
            match field.name {
                "version" => decl.version = self.version(&field, section),
                "instances" => decl.instances = self.integer(&field, section, 1, 10_000),
                other => self.unknown_key(other, field.key_span, section, PGBOUNCER_KEYS),
            }
        }
        decl
    }

    fn helm(&mut self, table: &dyn TableLike, header: &Field<'_>, section: &Section) -> HelmDecl {
        let mut decl = HelmDecl {
            location: Some(self.file.location(header.key_span)),
            ..HelmDecl::default()
        };
        for field in self.entries(table, header.key_span) {
            match field.name {
                "values" => decl.values = self.string_list(&field, section),
                "release" => decl.release = self.string(&field, section),
                "namespace" => decl.namespace = self.string(&field, section),
                other => self.unknown_key(other, field.key_span, section, HELM_KEYS),
            }
        }
        decl
    }

    fn string(&mut self, field: &Field<'_>, section: &Section) -> Option<Sourced<String>> {
        if let Some(s) = field.item.as_str() {
            Some(Sourced::declared(
                s.to_owned(),
                self.file.location(field.value_span),
            ))
        } else {
            self.wrong_type(field, section, "a string");
            None
        }
    }

    fn service(
        &mut self,
        table: &dyn TableLike,
        header: &Field<'_>,
        section: &Section,
    ) -> ServiceDecl {
        let mut decl = ServiceDecl {
            name: header.name.to_owned(),
            location: Some(self.file.location(header.key_span)),
            ..ServiceDecl::default()
        };
        for field in self.entries(table, header.key_span) {
            match field.name {
                "replicas" => decl.replicas = self.integer(&field, section, 0, 100_000),
                "paths" => decl.paths = self.string_list(&field, section),
                "cpu_count" => decl.cpu_count = self.integer(&field, section, 1, 4096),
                "env" => decl.env = self.env(&field, section),
                other => self.unknown_key(other, field.key_span, section, SERVICE_KEYS),
            }
        }
        decl
    }
}

/// One `key = value` of a table, with spans.
struct Field<'t> {
    name: &'t str,
    item: &'t Item,
    key_span: Span,
    value_span: Span,
}

#[cfg(test)]
mod tests {
    use poolcheck_core::value::Origin;

    use super::*;

    fn read(kind: FileKind, name: &str, text: &str) -> (SourceFile, FileFacts) {
        let file = SourceFile::new(name, text);
        let mut facts = FileFacts::new(file.path().clone(), kind);
        extract(&file, &mut facts);
        (file, facts)
    }

    fn poolcheck_toml(text: &str) -> (SourceFile, FileFacts) {
        read(FileKind::PoolcheckToml, "poolcheck.toml", text)
    }

    /// (message, sliced span, help) of every diagnostic, all PC003 errors.
    fn problems(file: &SourceFile, facts: &FileFacts) -> Vec<(String, String, Option<String>)> {
        facts
            .diagnostics
            .iter()
            .map(|d| {
                assert_eq!((d.code, d.severity), ("PC003", Severity::Error));
                (
                    d.message.clone(),
                    file.slice(d.primary.span).to_owned(),
                    d.help.clone(),
                )
            })
            .collect()
    }

    fn problem(message: &str, span: &str, help: Option<&str>) -> (String, String, Option<String>) {
        (message.to_owned(), span.to_owned(), help.map(str::to_owned))
    }

    fn slice<T>(file: &SourceFile, value: &Sourced<T>) -> String {
        assert_eq!(value.origin, Origin::Declared);
        file.slice(value.location.as_ref().unwrap().span).to_owned()
    }

    fn strings(file: &SourceFile, values: &[Sourced<String>]) -> Vec<(String, String)> {
        values
            .iter()
            .map(|v| (v.value.clone().unwrap(), slice(file, v)))
            .collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    const FULL: &str = r#"
exclude = ["legacy/**", "tests/fixtures/*"]
select = ["PC1", "PC201"]
ignore = ["PC108"]
severity = { PC105 = "error", PC5 = "info" }
fail-on = "error"
headroom = 0.2

[env]
WEB_CONCURRENCY = "4"
CELERY_CONCURRENCY = 8

[database]
max_connections = 200
superuser_reserved_connections = 5
reserved_connections = 2
other_clients = 10
cores = 8
spindles = 2
provider_reserve = 15
idle_timeout = 300
version = "16"
hosts = ["db", "postgres.internal"]

[databases.analytics]
max_connections = 50
version = "15.4"
hosts = ["analytics-db"]
idle_timeout = 12.5

[pgbouncer]
version = "1.22.1"
instances = 2

[services.web]
replicas = 3
paths = ["app/", "shop/"]
cpu_count = 4
env = { DJANGO_SETTINGS_MODULE = "shop.settings.prod" }

[services.worker]
replicas = 0
"#;

    #[test]
    fn every_key_is_read_with_the_span_of_its_value() {
        let (file, facts) = poolcheck_toml(FULL);
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        let config = facts.config.as_ref().unwrap();
        assert_eq!(
            config.path.as_ref().unwrap().display_string(),
            "poolcheck.toml"
        );
        assert_eq!(
            strings(&file, &config.exclude),
            pairs(&[
                ("legacy/**", "\"legacy/**\""),
                ("tests/fixtures/*", "\"tests/fixtures/*\"")
            ])
        );
        assert_eq!(
            strings(&file, config.select.as_ref().unwrap()),
            pairs(&[("PC1", "\"PC1\""), ("PC201", "\"PC201\"")])
        );
        assert_eq!(
            strings(&file, &config.ignore),
            pairs(&[("PC108", "\"PC108\"")])
        );
        let severity: Vec<_> = config
            .severity
            .iter()
            .map(|(code, sev)| (code.value.clone().unwrap(), slice(&file, code), *sev))
            .collect();
        assert_eq!(
            severity,
            [
                ("PC105".to_owned(), "PC105".to_owned(), Severity::Error),
                ("PC5".to_owned(), "PC5".to_owned(), Severity::Info)
            ]
        );
        let fail_on = config.fail_on.as_ref().unwrap();
        assert_eq!(fail_on.value, Some(Severity::Error));
        assert_eq!(slice(&file, fail_on), "\"error\"");
        let headroom = config.headroom.as_ref().unwrap();
        assert_eq!(
            (headroom.value, slice(&file, headroom).as_str()),
            (Some(0.2), "0.2")
        );
        let env: Vec<_> = config
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone().unwrap(), slice(&file, v)))
            .collect();
        assert_eq!(
            env,
            [
                (
                    "WEB_CONCURRENCY".to_owned(),
                    "4".to_owned(),
                    "\"4\"".to_owned()
                ),
                (
                    "CELERY_CONCURRENCY".to_owned(),
                    "8".to_owned(),
                    "8".to_owned()
                )
            ]
        );

        let db = config.database.as_ref().unwrap();
        assert_eq!(db.name, None);
        assert_eq!(file.slice(db.location.as_ref().unwrap().span), "database");
        let int = |v: &Option<Sourced<i64>>| {
            let v = v.as_ref().unwrap();
            (v.value.unwrap(), slice(&file, v))
        };
        assert_eq!(int(&db.max_connections), (200, "200".to_owned()));
        assert_eq!(int(&db.superuser_reserved_connections), (5, "5".to_owned()));
        assert_eq!(int(&db.reserved_connections), (2, "2".to_owned()));
        assert_eq!(int(&db.other_clients), (10, "10".to_owned()));
        assert_eq!(int(&db.cores), (8, "8".to_owned()));
        assert_eq!(int(&db.spindles), (2, "2".to_owned()));
        assert_eq!(int(&db.provider_reserve), (15, "15".to_owned()));
        let idle = db.idle_timeout.as_ref().unwrap();
        assert_eq!(
            (idle.value, slice(&file, idle).as_str()),
            (Some(300.0), "300")
        );
        let version = db.version.as_ref().unwrap();
        assert_eq!(version.value, Some(Version::new(16, 0, 0)));
        assert_eq!(slice(&file, version), "\"16\"");
        assert_eq!(
            strings(&file, &db.hosts),
            pairs(&[
                ("db", "\"db\""),
                ("postgres.internal", "\"postgres.internal\"")
            ])
        );

        assert_eq!(config.databases.len(), 1);
        let analytics = &config.databases[0];
        assert_eq!(analytics.name.as_deref(), Some("analytics"));
        assert_eq!(
            file.slice(analytics.location.as_ref().unwrap().span),
            "analytics"
        );
        assert_eq!(int(&analytics.max_connections), (50, "50".to_owned()));
        assert_eq!(
            analytics.version.as_ref().unwrap().value,
            Some(Version::new(15, 4, 0))
        );
        assert_eq!(analytics.idle_timeout.as_ref().unwrap().value, Some(12.5));
        assert_eq!(
            strings(&file, &analytics.hosts),
            pairs(&[("analytics-db", "\"analytics-db\"")])
        );

        let bouncer = config.pgbouncer.as_ref().unwrap();
        assert_eq!(
            bouncer.version.as_ref().unwrap().value,
            Some(Version::new(1, 22, 1))
        );
        assert_eq!(int(&bouncer.instances), (2, "2".to_owned()));
        assert_eq!(
            file.slice(bouncer.location.as_ref().unwrap().span),
            "pgbouncer"
        );

        let web = &config.services[0];
        assert_eq!(web.name, "web");
        assert_eq!(file.slice(web.location.as_ref().unwrap().span), "web");
        assert_eq!(int(&web.replicas), (3, "3".to_owned()));
        assert_eq!(int(&web.cpu_count), (4, "4".to_owned()));
        assert_eq!(
            strings(&file, &web.paths),
            pairs(&[("app/", "\"app/\""), ("shop/", "\"shop/\"")])
        );
        assert_eq!(web.env.len(), 1);
        assert_eq!(web.env[0].0, "DJANGO_SETTINGS_MODULE");
        assert_eq!(slice(&file, &web.env[0].1), "\"shop.settings.prod\"");
        let worker = &config.services[1];
        assert_eq!(
            (worker.name.as_str(), int(&worker.replicas).0),
            ("worker", 0)
        );
    }

    #[test]
    fn helm_values_files_and_release_are_read_and_validated() {
        let (file, facts) = poolcheck_toml(
            "[helm]\nvalues = [\"chart/values-prod.yaml\", \"deploy/more.yaml\"]\nrelease = \"web\"\n",
        );
        assert_eq!(problems(&file, &facts), []);
        let helm = facts.config.unwrap().helm.unwrap();
        assert_eq!(
            strings(&file, &helm.values),
            pairs(&[
                ("chart/values-prod.yaml", "\"chart/values-prod.yaml\""),
                ("deploy/more.yaml", "\"deploy/more.yaml\"")
            ])
        );
        assert_eq!(helm.release.unwrap().value.as_deref(), Some("web"));

        let (file, facts) = poolcheck_toml(
            "[helm]\nvalues = \"values-prod.yaml\"\nrelase = \"x\"\nnamespace = 3\n",
        );
        assert_eq!(
            problems(&file, &facts),
            [
                problem(
                    "`values` in [helm] must be a list of strings, found a string",
                    "\"values-prod.yaml\"",
                    None
                ),
                problem(
                    "unknown key `relase` in [helm]",
                    "relase",
                    Some("did you mean `release`?")
                ),
                problem(
                    "`namespace` in [helm] must be a string, found an integer",
                    "3",
                    None
                ),
            ]
        );
    }

    #[test]
    fn misspelled_key_gets_a_suggestion_at_the_key() {
        let (file, facts) = poolcheck_toml("[database]\nmax_conections = 200\nversion = \"16\"\n");
        assert_eq!(
            problems(&file, &facts),
            [problem(
                "unknown key `max_conections` in [database]",
                "max_conections",
                Some("did you mean `max_connections`?")
            )]
        );
        // The rest is still read.
        let db = facts.config.unwrap().database.unwrap();
        assert_eq!(db.version.unwrap().value, Some(Version::new(16, 0, 0)));
        assert_eq!(db.max_connections, None);
    }

    #[test]
    fn unknown_keys_without_a_close_match_list_the_known_ones() {
        let (file, facts) = poolcheck_toml("[pgbouncer]\nzzz = 1\n");
        assert_eq!(
            problems(&file, &facts),
            [problem(
                "unknown key `zzz` in [pgbouncer]",
                "zzz",
                Some("expected one of `version`, `instances`")
            )]
        );
    }

    #[test]
    fn unknown_keys_at_every_level() {
        let (file, facts) = poolcheck_toml(
            "headrom = 0.2\n[services.web]\nreplica = 2\n[databases.main]\nhost = [\"db\"]\n",
        );
        assert_eq!(
            problems(&file, &facts),
            [
                problem(
                    "unknown key `headrom` in poolcheck.toml",
                    "headrom",
                    Some("did you mean `headroom`?")
                ),
                problem(
                    "unknown key `replica` in [services.web]",
                    "replica",
                    Some("did you mean `replicas`?")
                ),
                problem(
                    "unknown key `host` in [databases.main]",
                    "host",
                    Some("did you mean `hosts`?")
                ),
            ]
        );
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let (file, facts) = poolcheck_toml(
            "exclude = \"legacy\"\nfail-on = 2\n[env]\nNESTED = { a = 1 }\nOK = \"1\"\n\
             [services.web]\nreplicas = \"3\"\npaths = [\"app\", 4]\n[database]\nmax_connections = 1.5\n\
             idle_timeout = \"300\"\nversion = 16.1\n",
        );
        assert_eq!(
            problems(&file, &facts),
            [
                problem(
                    "`exclude` in poolcheck.toml must be a list of strings, found a string",
                    "\"legacy\"",
                    None
                ),
                problem(
                    "`fail-on` in poolcheck.toml must be \"error\", \"warning\" or \"info\", found an integer",
                    "2",
                    None
                ),
                problem(
                    "`NESTED` in [env] must be a string, found an inline table",
                    "{ a = 1 }",
                    Some("environment values are text: write `NESTED = \"...\"`")
                ),
                problem(
                    "`replicas` in [services.web] must be an integer, found a string",
                    "\"3\"",
                    Some("write `replicas = 3` without quotes")
                ),
                problem(
                    "`paths` in [services.web] must be a list of strings, found an integer in it",
                    "4",
                    None
                ),
                problem(
                    "`max_connections` in [database] must be an integer, found a float",
                    "1.5",
                    None
                ),
                problem(
                    "`idle_timeout` in [database] must be a number, found a string",
                    "\"300\"",
                    None
                ),
                problem(
                    "`version` in [database] must be a version string like \"16\" or \"15.4\", found a float",
                    "16.1",
                    None
                ),
            ]
        );
        let config = facts.config.unwrap();
        assert_eq!(config.env.len(), 1);
        assert_eq!(config.services[0].paths.len(), 1);
    }

    #[test]
    fn out_of_range_numbers() {
        let (file, facts) = poolcheck_toml(
            "headroom = 2\n[database]\nmax_connections = -5\nother_clients = 300000\n\
             [services.web]\ncpu_count = 0\n[pgbouncer]\ninstances = 0\n",
        );
        assert_eq!(
            problems(&file, &facts),
            [
                problem(
                    "`headroom` in poolcheck.toml must be between 0 and 1 (exclusive), found 2",
                    "2",
                    Some("headroom is the fraction of usable slots to keep free, e.g. 0.1 for 10%")
                ),
                problem(
                    "`max_connections` in [database] must be at least 1, found -5",
                    "-5",
                    None
                ),
                problem(
                    "`other_clients` in [database] must be at most 262143, found 300000",
                    "300000",
                    None
                ),
                problem(
                    "`cpu_count` in [services.web] must be at least 1, found 0",
                    "0",
                    None
                ),
                problem(
                    "`instances` in [pgbouncer] must be at least 1, found 0",
                    "0",
                    None
                ),
            ]
        );
    }

    #[test]
    fn rule_codes_are_validated() {
        let (file, facts) = poolcheck_toml(
            "select = [\"PC\", \"PC999\", \"PC9\", \"pc101\", \"E501\"]\n\
             severity = { PC105 = \"fatal\", PC777 = \"error\" }\n",
        );
        assert_eq!(
            problems(&file, &facts),
            [
                problem(
                    "unknown rule code `PC999` in `select` of poolcheck.toml",
                    "\"PC999\"",
                    Some("write a rule code such as `PC101`, or a prefix such as `PC1`")
                ),
                problem(
                    "no rule code starts with `PC9` (in `select` of poolcheck.toml)",
                    "\"PC9\"",
                    Some("write a rule code such as `PC101`, or a prefix such as `PC1`")
                ),
                problem(
                    "`pc101` in `select` of poolcheck.toml is not a rule code or prefix",
                    "\"pc101\"",
                    Some("did you mean `PC101`?")
                ),
                problem(
                    "`E501` in `select` of poolcheck.toml is not a rule code or prefix",
                    "\"E501\"",
                    Some("write a rule code such as `PC101`, or a prefix such as `PC1`")
                ),
                problem(
                    "`PC105` in [severity] must be \"error\", \"warning\" or \"info\", found `fatal`",
                    "\"fatal\"",
                    None
                ),
                problem(
                    "unknown rule code `PC777` in `severity` of [severity]",
                    "PC777",
                    Some("write a rule code such as `PC101`, or a prefix such as `PC1`")
                ),
            ]
        );
        let config = facts.config.unwrap();
        let select: Vec<_> = config
            .select
            .unwrap()
            .into_iter()
            .map(|c| c.value.unwrap())
            .collect();
        assert_eq!(select, ["PC"]);
        assert!(config.severity.is_empty());
    }

    #[test]
    fn fail_on_accepts_the_underscore_spelling_but_not_both() {
        let (_, facts) = poolcheck_toml("fail_on = \"info\"\n");
        assert!(facts.diagnostics.is_empty());
        assert_eq!(
            facts.config.unwrap().fail_on.unwrap().value,
            Some(Severity::Info)
        );
        let (file, facts) = poolcheck_toml("fail-on = \"info\"\nfail_on = \"error\"\n");
        assert_eq!(
            problems(&file, &facts),
            [problem(
                "both `fail-on` and `fail_on` are set in poolcheck.toml",
                "fail_on",
                Some("keep one of them")
            )]
        );
        assert_eq!(
            facts.config.unwrap().fail_on.unwrap().value,
            Some(Severity::Info)
        );
    }

    #[test]
    fn a_table_where_a_value_belongs_and_a_bad_version() {
        let (file, facts) = poolcheck_toml(
            "services = 3\nseverity = [\"PC1\"]\n[env.NESTED]\nx = 1\n[databases]\nmain = 5\n\
             [pgbouncer]\nversion = \"latest\"\n",
        );
        assert_eq!(
            problems(&file, &facts),
            [
                problem(
                    "`services` in poolcheck.toml must be a table, found an integer",
                    "3",
                    None
                ),
                problem(
                    "`severity` in poolcheck.toml must be a table, found an array",
                    "[\"PC1\"]",
                    None
                ),
                problem(
                    "`NESTED` in [env] must be a string, found a table",
                    "[env.NESTED]",
                    Some("environment values are text: write `NESTED = \"...\"`")
                ),
                problem(
                    "`main` in [databases] must be a table, found an integer",
                    "5",
                    None
                ),
                problem(
                    "`version` in [pgbouncer] is not a version: `latest`",
                    "\"latest\"",
                    Some("write a release number such as \"16\" or \"1.22.1\"")
                ),
            ]
        );
    }

    #[test]
    fn syntax_errors_are_reported_with_toml_edit_message() {
        let text = "[database]\nmax_connections = = 5\n";
        let (file, facts) = poolcheck_toml(text);
        assert_eq!(facts.diagnostics.len(), 1);
        let d = &facts.diagnostics[0];
        assert_eq!(d.code, "PC003");
        assert_eq!(d.message, "invalid TOML: extra `=`, expected nothing");
        assert_eq!(file.slice(d.primary.span), "=");
        assert_eq!(file.line_col(d.primary.span.start as usize).line, 2);
        // Defaults still apply, and the file is known to be the configuration.
        assert_eq!(
            facts.config.unwrap().path.unwrap().display_string(),
            "poolcheck.toml"
        );
    }

    #[test]
    fn pyproject_tool_poolcheck_is_read_with_its_section_names() {
        let text = "[project]\nname = \"shop\"\n\n[tool.poolcheck]\nheadroom = 0.15\n\n[tool.poolcheck.database]\nmax_conections = 100\n";
        let (file, facts) = read(FileKind::PyProject, "pyproject.toml", text);
        assert_eq!(
            problems(&file, &facts),
            [problem(
                "unknown key `max_conections` in [tool.poolcheck.database]",
                "max_conections",
                Some("did you mean `max_connections`?")
            )]
        );
        assert_eq!(facts.config.unwrap().headroom.unwrap().value, Some(0.15));
        let (file, facts) = read(
            FileKind::PyProject,
            "pyproject.toml",
            "[tool.poolcheck]\nbogus = 1\n",
        );
        assert_eq!(
            problems(&file, &facts)[0].0,
            "unknown key `bogus` in [tool.poolcheck]"
        );
    }

    #[test]
    fn pyproject_without_tool_poolcheck_has_no_config() {
        for text in [
            "[project]\nname = \"shop\"\n[tool.ruff]\nline-length = 100\n",
            "[project\nbroken",
            "",
        ] {
            let (_, facts) = read(FileKind::PyProject, "pyproject.toml", text);
            assert_eq!(facts.config, None);
            assert!(facts.diagnostics.is_empty());
        }
    }

    #[test]
    fn broken_pyproject_that_configures_poolcheck_reports_the_error() {
        let (_, facts) = read(
            FileKind::PyProject,
            "pyproject.toml",
            "[tool.poolcheck]\nheadroom = \n",
        );
        assert_eq!(facts.diagnostics.len(), 1);
        assert!(facts.config.is_some());
    }

    #[test]
    fn tool_poolcheck_must_be_a_table() {
        let (file, facts) = read(
            FileKind::PyProject,
            "pyproject.toml",
            "[tool]\npoolcheck = true\n",
        );
        assert_eq!(
            problems(&file, &facts),
            [problem(
                "`tool.poolcheck` must be a table, found a boolean",
                "true",
                None
            )]
        );
    }

    #[test]
    fn dotted_keys_and_inline_tables_have_spans_too() {
        let (file, facts) = poolcheck_toml(
            "database.max_connections = 300\nservices = { web = { replicas = 2 } }\n",
        );
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        let config = facts.config.unwrap();
        let max = config.database.unwrap().max_connections.unwrap();
        assert_eq!(slice(&file, &max), "300");
        let replicas = config.services[0].replicas.clone().unwrap();
        assert_eq!(slice(&file, &replicas), "2");
    }

    #[test]
    fn a_select_of_the_wrong_type_or_without_a_valid_code_is_absent() {
        for (text, message, at) in [
            (
                "select = \"PC1\"\n",
                "`select` in poolcheck.toml must be a list of strings, found a string",
                "\"PC1\"",
            ),
            (
                "select = [\"PC9\"]\n",
                "no rule code starts with `PC9` (in `select` of poolcheck.toml)",
                "\"PC9\"",
            ),
        ] {
            let (file, facts) = poolcheck_toml(text);
            let found = problems(&file, &facts);
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!((found[0].0.as_str(), found[0].1.as_str()), (message, at));
            assert_eq!(facts.config.unwrap().select, None, "{text}");
        }
        let (_, facts) = poolcheck_toml("select = [\"PC9\", \"PC2\"]\n");
        assert_eq!(facts.config.unwrap().select.unwrap().len(), 1);
    }

    #[test]
    fn unknown_codes_in_ignore_are_reported() {
        let (file, facts) = poolcheck_toml("ignore = [\"PC1\", \"PC999\", \"ALL\"]\n");
        let messages: Vec<String> = problems(&file, &facts).into_iter().map(|p| p.0).collect();
        assert_eq!(
            messages,
            [
                "unknown rule code `PC999` in `ignore` of poolcheck.toml",
                "`ALL` in `ignore` of poolcheck.toml is not a rule code or prefix",
            ]
        );
        assert_eq!(facts.config.unwrap().ignore.len(), 1);
    }

    #[test]
    fn a_configuration_that_is_not_utf8_is_pc003_at_the_byte() {
        let (file, facts) = config_from_bytes(
            Ok(b"headroom = 0.2\n# caf\xe9\n".to_vec()),
            FilePath::new("poolcheck.toml"),
            FileKind::PoolcheckToml,
        );
        let d = &facts.diagnostics[0];
        assert_eq!(facts.diagnostics.len(), 1);
        assert_eq!(
            d.message,
            "the configuration is not valid UTF-8 (byte 0xE9): TOML files must be UTF-8, so none \
             of its settings apply and defaults are used"
        );
        assert_eq!(file.line_col(d.primary.span.start as usize).line, 2);
        assert_eq!(file.slice(d.primary.span), "\u{fffd}");
        assert_eq!(facts.config.unwrap().headroom, None);
    }
}
