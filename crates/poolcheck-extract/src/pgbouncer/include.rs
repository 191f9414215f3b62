//! `%include` resolution: the root file and the files it includes, merged in
//! the order PgBouncer reads them (a later definition replaces an earlier one,
//! and the open section carries into and out of an included file).

use poolcheck_core::normalize_lexically;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::facts::pgbouncer::{PgBouncerConfig, PgBouncerFile, PoolDefinition, Section};
use poolcheck_core::{ConfigEntry, Diagnostic, Severity, SourceFile, Span};

use super::{check_entry, check_header, connstr, error, parse};

/// PgBouncer stops loading when a file at this include depth has another
/// `%include` (its `MAX_INCLUDE`).
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// Reads an included file: its text and its parsed form, or `None` when it
/// cannot be read.
pub type Loader<'a> = dyn FnMut(&Path) -> Option<(Arc<SourceFile>, PgBouncerFile)> + 'a;

/// Merges `root_file` (the parse of `root`) with everything it includes.
/// Include paths are taken relative to the including file's directory, then
/// to `checked_root` (PgBouncer itself uses its working directory, which is
/// usually the config's). Files outside `checked_root` are not read.
/// Diagnostics: a missing file, a cycle and too deep nesting are PC002 at the
/// `%include`; a file outside the checked tree is PC004 (poolcheck cannot see
/// it, PgBouncer may well); problems inside included files that extraction did
/// not report because it did not know their section.
pub fn resolve(
    root: &SourceFile,
    root_file: &PgBouncerFile,
    loader: &mut Loader<'_>,
    checked_root: &Path,
) -> (PgBouncerConfig, Vec<Diagnostic>) {
    let location_span = root_file
        .pgbouncer_section
        .or_else(|| root_file.headers.first().map(|h| h.location.span))
        .unwrap_or_else(|| Span::empty(0));
    let mut merger = Merger {
        loader,
        checked_root_as_given: checked_root.to_path_buf(),
        section: None,
        stack: vec![normalize_lexically(&absolute(root.path().as_path()))],
        settings: BTreeMap::new(),
        databases: Vec::new(),
        users: Vec::new(),
        diagnostics: Vec::new(),
    };
    merger.walk(root, root_file, 0);
    let mut diagnostics = merger.diagnostics;
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()).then_with(|| a.cmp(b)));
    diagnostics.dedup();
    let config = PgBouncerConfig {
        name: root.path().display_string(),
        location: root.location(location_span),
        settings: merger.settings,
        databases: merger.databases,
        users: merger.users,
        version: None,
        instances: None,
        host_aliases: Vec::new(),
    };
    (config, diagnostics)
}

struct Merger<'l, 'a> {
    loader: &'l mut Loader<'a>,
    checked_root_as_given: PathBuf,
    /// The section open at this point of the reading; `None` before any header.
    section: Option<Section>,
    /// Normalised paths of the files being read, root first.
    stack: Vec<PathBuf>,
    settings: BTreeMap<String, ConfigEntry>,
    databases: Vec<PoolDefinition>,
    users: Vec<PoolDefinition>,
    diagnostics: Vec<Diagnostic>,
}

enum Event {
    Header(usize),
    Include(usize),
    Entry(usize),
}

impl Merger<'_, '_> {
    fn walk(&mut self, file: &SourceFile, parsed: &PgBouncerFile, depth: usize) {
        // A fragment that extraction did not recognise as PgBouncer's was never
        // checked; one that was had only its leading entries left unchecked.
        let checked_by_extraction = depth == 0 || parsed.has_pgbouncer_sections();
        if !checked_by_extraction {
            let (_, syntax) = parse(file);
            self.diagnostics.extend(syntax);
            for header in &parsed.headers {
                check_header(file, header, &mut self.diagnostics);
            }
        }
        let leading = parsed.leading_entries();
        let mut events: Vec<(u32, Event)> = Vec::new();
        events.extend(
            parsed
                .headers
                .iter()
                .enumerate()
                .map(|(i, h)| (h.location.span.start, Event::Header(i))),
        );
        events.extend(
            parsed
                .includes
                .iter()
                .enumerate()
                .map(|(i, inc)| (inc.location.span.start, Event::Include(i))),
        );
        events.extend(
            parsed
                .entries
                .iter()
                .enumerate()
                .map(|(i, (_, e))| (e.key_location.span.start, Event::Entry(i))),
        );
        events.sort_by_key(|(offset, _)| *offset);
        for (_, event) in events {
            match event {
                Event::Header(i) => self.section = Some(parsed.headers[i].section),
                Event::Include(i) => self.include(file, parsed, i, depth),
                Event::Entry(i) => {
                    let entry = &parsed.entries[i].1;
                    let Some(section) = self.section else {
                        self.diagnostics.push(error(
                            file,
                            entry.key_location.span.cover(entry.value_location.span),
                            format!("`{}` is outside any section: PgBouncer refuses a setting before the first `[section]` header", entry.key),
                        ));
                        continue;
                    };
                    let written_under = parsed.entries[i].0;
                    if i >= leading && written_under != section {
                        self.diagnostics.push(error(
                            file,
                            entry.key_location.span,
                            format!(
                                "`{}` is read as part of `[{}]`, not `[{}]`: the `%include` above it ends in that section",
                                entry.key,
                                section.as_str(),
                                written_under.as_str()
                            ),
                        ).with_help(format!("repeat the `[{}]` header after the `%include`", written_under.as_str())));
                    } else if !checked_by_extraction || (depth > 0 && i < leading) {
                        check_entry(file, section, entry, &mut self.diagnostics);
                    }
                    self.apply(file, section, entry);
                }
            }
        }
    }

    fn apply(&mut self, file: &SourceFile, section: Section, entry: &ConfigEntry) {
        let definitions = match section {
            Section::PgBouncer => {
                self.settings.insert(entry.key.clone(), entry.clone());
                return;
            }
            Section::Databases => &mut self.databases,
            Section::Users => &mut self.users,
            Section::Peers | Section::Other => return,
        };
        let definition = connstr::pool_definition(file, entry);
        match definitions.iter_mut().find(|d| d.name == definition.name) {
            Some(existing) => *existing = definition,
            None => definitions.push(definition),
        }
    }

    fn include(&mut self, file: &SourceFile, parsed: &PgBouncerFile, index: usize, depth: usize) {
        let include = &parsed.includes[index];
        let span = include.location.span;
        if depth >= MAX_INCLUDE_DEPTH {
            self.diagnostics.push(error(
                file,
                span,
                format!("`%include` nested too deep: PgBouncer stops loading after {MAX_INCLUDE_DEPTH} levels of includes"),
            ));
            return;
        }
        let inside = include_candidates(
            file.path().as_path(),
            &include.path,
            &self.checked_root_as_given,
        );
        if inside.is_empty() {
            self.diagnostics.push(
                Diagnostic::new(
                    "PC004",
                    Severity::Info,
                    file.location(span),
                    format!(
                        "`%include {}` is outside the checked directory: poolcheck did not read it, so settings it makes are not known",
                        include.path
                    ),
                )
                .with_help("check the directory that holds the included file too, or copy its settings into the checked tree"),
            );
            return;
        }
        for candidate in &inside {
            let normalized = normalize_lexically(&absolute(candidate));
            if let Some(start) = self.stack.iter().position(|p| *p == normalized) {
                let chain: Vec<String> = self.stack[start..]
                    .iter()
                    .chain(std::iter::once(&normalized))
                    .map(|p| format!("`{}`", file_name(p)))
                    .collect();
                self.diagnostics.push(error(
                    file,
                    span,
                    format!("`%include` cycle: {}", chain.join(" includes ")),
                ));
                return;
            }
            let Some((included, included_parsed)) = (self.loader)(candidate) else {
                continue;
            };
            self.stack.push(normalized);
            self.walk(&included, &included_parsed, depth + 1);
            self.stack.pop();
            return;
        }
        self.diagnostics.push(error(
            file,
            span,
            format!(
                "`%include` file `{}` not found: PgBouncer refuses to start without it",
                include.path
            ),
        ));
    }
}

/// The files `%include written` in the file at `including` may mean, in the
/// order [`resolve`] tries them: relative to the including file's directory,
/// then to `checked_root`; only those inside `checked_root`. Relative paths stay
/// relative (for display); `..` and `.` are removed.
pub fn include_candidates(including: &Path, written: &str, checked_root: &Path) -> Vec<PathBuf> {
    let written = Path::new(written);
    let base_dir = including.parent().unwrap_or(Path::new(""));
    let root = normalize_lexically(&absolute(checked_root));
    let mut candidates: Vec<PathBuf> = Vec::new();
    for candidate in [base_dir.join(written), checked_root.join(written)] {
        let candidate = normalize_lexically(&candidate);
        let full = normalize_lexically(&absolute(&candidate));
        let seen = candidates
            .iter()
            .any(|c| normalize_lexically(&absolute(c)) == full);
        if !seen && full.starts_with(&root) {
            candidates.push(candidate);
        }
    }
    candidates
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(path),
        Err(_) => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// An in-memory tree of files under `/repo`.
    struct Tree {
        files: HashMap<PathBuf, Arc<SourceFile>>,
    }

    impl Tree {
        fn new(files: &[(&str, &str)]) -> Self {
            let files = files
                .iter()
                .map(|(path, text)| {
                    let path = PathBuf::from(format!("/repo/{path}"));
                    (path.clone(), Arc::new(SourceFile::new(path, *text)))
                })
                .collect();
            Self { files }
        }

        fn resolve(&self, root: &str) -> (PgBouncerConfig, Vec<Diagnostic>) {
            let root = self.files[&PathBuf::from(format!("/repo/{root}"))].clone();
            let (root_file, _) = parse(&root);
            let mut loader = |path: &Path| {
                let file = self.files.get(&normalize_lexically(path))?.clone();
                let (parsed, _) = parse(&file);
                Some((file, parsed))
            };
            resolve(&root, &root_file, &mut loader, Path::new("/repo"))
        }
    }

    fn messages(diagnostics: &[Diagnostic]) -> Vec<(String, &str)> {
        diagnostics
            .iter()
            .map(|d| (d.primary.file.display_string(), d.message.as_str()))
            .collect()
    }

    #[test]
    fn later_definitions_override_included_ones() {
        let tree = Tree::new(&[
            (
                "deploy/pgbouncer.ini",
                "[databases]\napp = host=db pool_size=10\n[pgbouncer]\nmax_client_conn = 100\n%include common.ini\ndefault_pool_size = 30\n",
            ),
            (
                "deploy/common.ini",
                "[databases]\napp = host=db pool_size=40\n[pgbouncer]\nmax_client_conn = 500\ndefault_pool_size = 5\npool_mode = transaction\n",
            ),
        ]);
        let (config, diagnostics) = tree.resolve("deploy/pgbouncer.ini");
        assert_eq!(messages(&diagnostics), []);
        assert_eq!(config.name, "/repo/deploy/pgbouncer.ini");
        assert_eq!(config.settings["max_client_conn"].value, "500");
        assert_eq!(
            config.settings["max_client_conn"]
                .value_location
                .file
                .display_string(),
            "/repo/deploy/common.ini"
        );
        assert_eq!(config.settings["default_pool_size"].value, "30");
        assert_eq!(config.settings["pool_mode"].value, "transaction");
        assert_eq!(config.databases.len(), 1);
        assert_eq!(config.databases[0].params["pool_size"].value, "40");
    }

    #[test]
    fn the_open_section_carries_into_a_headerless_fragment() {
        let tree = Tree::new(&[
            (
                "pgbouncer.ini",
                "[pgbouncer]\nlisten_port = 6432\n[databases]\n%include dbs.ini\n",
            ),
            (
                "dbs.ini",
                "app = host=db pool_size=7\nreports = host=db pool_sizes=2\n",
            ),
        ]);
        let (config, diagnostics) = tree.resolve("pgbouncer.ini");
        assert_eq!(config.databases.len(), 2);
        assert_eq!(config.databases[0].params["pool_size"].value, "7");
        assert_eq!(
            messages(&diagnostics),
            [(
                "/repo/dbs.ini".to_owned(),
                "unknown parameter `pool_sizes` in the [databases] entry `reports`"
            )]
        );
    }

    #[test]
    fn an_include_that_ends_in_another_section_captures_the_next_lines() {
        let tree = Tree::new(&[
            (
                "pgbouncer.ini",
                "[pgbouncer]\n%include dbs.ini\ndefault_pool_size = 30\n",
            ),
            ("dbs.ini", "[databases]\napp = host=db\n"),
        ]);
        let (config, diagnostics) = tree.resolve("pgbouncer.ini");
        assert!(!config.settings.contains_key("default_pool_size"));
        assert_eq!(
            messages(&diagnostics),
            [(
                "/repo/pgbouncer.ini".to_owned(),
                "`default_pool_size` is read as part of `[databases]`, not `[pgbouncer]`: the `%include` above it ends in that section"
            )]
        );
    }

    #[test]
    fn cycle_is_reported_once_at_the_include() {
        let tree = Tree::new(&[
            ("a.ini", "[pgbouncer]\n%include b.ini\n"),
            (
                "b.ini",
                "[pgbouncer]\nmax_client_conn = 7\n%include a.ini\n",
            ),
        ]);
        let (config, diagnostics) = tree.resolve("a.ini");
        assert_eq!(config.settings["max_client_conn"].value, "7");
        assert_eq!(
            messages(&diagnostics),
            [(
                "/repo/b.ini".to_owned(),
                "`%include` cycle: `a.ini` includes `b.ini` includes `a.ini`"
            )]
        );
        let file = &tree.files[&PathBuf::from("/repo/b.ini")];
        assert_eq!(file.slice(diagnostics[0].primary.span), "%include a.ini");
    }

    #[test]
    fn nesting_deeper_than_pgbouncer_allows() {
        let mut files: Vec<(String, String)> = (0..=11)
            .map(|i| {
                (
                    format!("f{i}.ini"),
                    format!("[pgbouncer]\n%include f{}.ini\n", i + 1),
                )
            })
            .collect();
        files.push(("f12.ini".to_owned(), "[pgbouncer]\n".to_owned()));
        let borrowed: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let tree = Tree::new(&borrowed);
        let (_, diagnostics) = tree.resolve("f0.ini");
        assert_eq!(
            messages(&diagnostics),
            [(
                "/repo/f10.ini".to_owned(),
                "`%include` nested too deep: PgBouncer stops loading after 10 levels of includes"
            )]
        );
    }

    #[test]
    fn missing_and_outside_files() {
        let tree = Tree::new(&[(
            "pgbouncer.ini",
            "[pgbouncer]\n%include missing.ini\n%include ../../etc/passwd\n%include /etc/pgbouncer/extra.ini\n",
        )]);
        let (_, diagnostics) = tree.resolve("pgbouncer.ini");
        let got: Vec<_> = diagnostics
            .iter()
            .map(|d| (d.code, d.severity, d.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "PC002",
                    Severity::Error,
                    "`%include` file `missing.ini` not found: PgBouncer refuses to start without it"
                ),
                (
                    "PC004",
                    Severity::Info,
                    "`%include ../../etc/passwd` is outside the checked directory: poolcheck did not read it, so settings it makes are not known"
                ),
                (
                    "PC004",
                    Severity::Info,
                    "`%include /etc/pgbouncer/extra.ini` is outside the checked directory: poolcheck did not read it, so settings it makes are not known"
                ),
            ]
        );
    }

    #[test]
    fn settings_before_any_section_in_the_root() {
        let tree = Tree::new(&[(
            "pgbouncer.ini",
            "pool_mode = session\n[pgbouncer]\nlisten_port = 1\n",
        )]);
        let (config, diagnostics) = tree.resolve("pgbouncer.ini");
        assert!(!config.settings.contains_key("pool_mode"));
        assert_eq!(
            messages(&diagnostics),
            [(
                "/repo/pgbouncer.ini".to_owned(),
                "`pool_mode` is outside any section: PgBouncer refuses a setting before the first `[section]` header"
            )]
        );
        let file = &tree.files[&PathBuf::from("/repo/pgbouncer.ini")];
        assert_eq!(file.slice(config.location.span), "[pgbouncer]");
    }

    #[test]
    fn candidates_stay_relative_and_inside_the_root() {
        assert_eq!(
            include_candidates(
                Path::new("deploy/pgbouncer.ini"),
                "./conf/../local.ini",
                Path::new(".")
            ),
            [
                PathBuf::from("deploy/local.ini"),
                PathBuf::from("local.ini")
            ]
        );
        assert_eq!(
            include_candidates(Path::new("pgbouncer.ini"), "local.ini", Path::new(".")),
            [PathBuf::from("local.ini")]
        );
        assert_eq!(
            include_candidates(
                Path::new("pgbouncer.ini"),
                "/etc/pgbouncer/x.ini",
                Path::new(".")
            ),
            Vec::<PathBuf>::new()
        );
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(
            normalize_lexically(Path::new("/repo/a/./b/../c.ini")),
            PathBuf::from("/repo/a/c.ini")
        );
        assert_eq!(normalize_lexically(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(
            normalize_lexically(Path::new("../x")),
            PathBuf::from("../x")
        );
    }
}
