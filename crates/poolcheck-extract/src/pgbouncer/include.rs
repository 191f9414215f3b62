//! `%include` resolution: the root file and the files it includes, merged in
//! the order PgBouncer reads them (a later definition replaces an earlier one,
//! and the open section carries into and out of an included file).

use poolcheck_core::Code;
use poolcheck_core::normalize_lexically;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::facts::pgbouncer::{PgBouncerConfig, PgBouncerFile, PoolDefinition, Section};
use poolcheck_core::{ConfigEntry, Diagnostic, Severity, SourceFile, Span};

use super::{check_entry, check_header, connstr, error, parse};
use poolcheck_core::decode::ReadProblem;

/// PgBouncer stops loading when a file at this include depth has another
/// `%include` (its `MAX_INCLUDE`).
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// Reads an included file: its text and its parsed form, or why it was not read.
pub type Loader<'a> =
    dyn FnMut(&Path) -> Result<(Arc<SourceFile>, PgBouncerFile), ReadProblem> + 'a;

/// Merges `root_file` (the parse of `root`) with everything it includes.
/// Include paths are taken relative to the including file's directory, then
/// to `checked_root` (PgBouncer itself uses its working directory, which is
/// usually the config's). Files outside `checked_root` are not read. Paths
/// are compared lexically, in the style of the files' paths (the workspace
/// passes `""`, the frame of its root-relative paths); `loader` answers from
/// memory.
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
        stack: vec![normalize_lexically(root.path().as_path())],
        settings: BTreeMap::new(),
        databases: Vec::new(),
        users: Vec::new(),
        diagnostics: Vec::new(),
        read: HashMap::new(),
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
        provider: None,
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
    /// What reading each file did, by the section open when it was entered
    /// and its depth, so that a file included along many paths is read once.
    read: HashMap<(PathBuf, Option<Section>, usize), Effect>,
}

/// What reading one included file changes: the definitions it makes, in
/// order, and the section it leaves open.
#[derive(Clone)]
struct Effect {
    section: Option<Section>,
    settings: BTreeMap<String, ConfigEntry>,
    databases: Vec<PoolDefinition>,
    users: Vec<PoolDefinition>,
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

    fn merge(&mut self, effect: &Effect) {
        self.section = effect.section;
        for (key, entry) in &effect.settings {
            self.settings.insert(key.clone(), entry.clone());
        }
        for (definitions, own) in [
            (&mut self.databases, &effect.databases),
            (&mut self.users, &effect.users),
        ] {
            for definition in own {
                match definitions.iter_mut().find(|d| d.name == definition.name) {
                    Some(existing) => *existing = definition.clone(),
                    None => definitions.push(definition.clone()),
                }
            }
        }
    }

    /// Reads an included file on its own, then merges what it did.
    fn read_included(
        &mut self,
        normalized: PathBuf,
        included: &SourceFile,
        parsed: &PgBouncerFile,
        depth: usize,
    ) {
        let key = (normalized.clone(), self.section, depth + 1);
        let outer = Effect {
            section: self.section,
            settings: std::mem::take(&mut self.settings),
            databases: std::mem::take(&mut self.databases),
            users: std::mem::take(&mut self.users),
        };
        self.stack.push(normalized);
        self.walk(included, parsed, depth + 1);
        self.stack.pop();
        let own = Effect {
            section: self.section,
            settings: std::mem::replace(&mut self.settings, outer.settings),
            databases: std::mem::replace(&mut self.databases, outer.databases),
            users: std::mem::replace(&mut self.users, outer.users),
        };
        self.merge(&own);
        self.read.insert(key, own);
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
            self.outside(file, span, &include.path);
            return;
        }
        for candidate in &inside {
            let normalized = normalize_lexically(candidate);
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
            if let Some(effect) = self
                .read
                .get(&(normalized.clone(), self.section, depth + 1))
            {
                let effect = effect.clone();
                self.merge(&effect);
                return;
            }
            match (self.loader)(candidate) {
                Ok((included, included_parsed)) => {
                    self.read_included(normalized, &included, &included_parsed, depth);
                    return;
                }
                Err(ReadProblem::Missing) => {}
                Err(ReadProblem::Outside) => {
                    self.outside(file, span, &include.path);
                    return;
                }
                Err(problem) => {
                    self.diagnostics.push(error(
                        file,
                        span,
                        format!(
                            "`%include` file `{}` was not read: {problem}; PgBouncer refuses to start when it cannot read it",
                            include.path
                        ),
                    ));
                    return;
                }
            }
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

    fn outside(&mut self, file: &SourceFile, span: Span, written: &str) {
        self.diagnostics.push(
            Diagnostic::new(
                Code::PC004,
                Severity::Info,
                file.location(span),
                format!(
                    "`%include {written}` is outside the checked directory: poolcheck did not read it, so settings it makes are not known"
                ),
            )
            .with_help("check the directory that holds the included file too, or copy its settings into the checked tree"),
        );
    }
}

/// The files `%include written` in the file at `including` may mean, in the
/// order [`resolve`] tries them: relative to the including file's directory,
/// then to `checked_root`; only those inside `checked_root`. Relative paths stay
/// relative (for display); `..` and `.` are removed.
pub fn include_candidates(including: &Path, written: &str, checked_root: &Path) -> Vec<PathBuf> {
    let written = Path::new(written);
    let base_dir = including.parent().unwrap_or(Path::new(""));
    let mut candidates: Vec<PathBuf> = Vec::new();
    for candidate in [base_dir.join(written), checked_root.join(written)] {
        let candidate = normalize_lexically(&candidate);
        if !candidates.contains(&candidate)
            && poolcheck_core::is_lexically_within(&candidate, checked_root)
        {
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
                let file = self
                    .files
                    .get(&normalize_lexically(path))
                    .ok_or(ReadProblem::Missing)?
                    .clone();
                if file.text() == "<unreadable>" {
                    return Err(ReadProblem::Unreadable("permission denied".to_owned()));
                }
                let (parsed, _) = parse(&file);
                Ok((file, parsed))
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
    fn a_file_that_includes_itself_keeps_its_own_settings() {
        let tree = Tree::new(&[(
            "pgbouncer.ini",
            "[pgbouncer]\nmax_client_conn = 300\n%include pgbouncer.ini\npool_mode = transaction\n",
        )]);
        let (config, diagnostics) = tree.resolve("pgbouncer.ini");
        assert_eq!(
            messages(&diagnostics),
            [(
                "/repo/pgbouncer.ini".to_owned(),
                "`%include` cycle: `pgbouncer.ini` includes `pgbouncer.ini`"
            )]
        );
        assert_eq!(config.settings["max_client_conn"].value, "300");
        assert_eq!(config.settings["pool_mode"].value, "transaction");
    }

    #[test]
    fn a_fan_out_is_read_once_per_file_not_once_per_path() {
        // Each level includes the next four times: 4^10 paths through 11 files.
        let mut files: Vec<(String, String)> = (0..10)
            .map(|i| {
                let line = format!("%include f{}.ini\n", i + 1);
                (
                    format!("f{i}.ini"),
                    format!(
                        "[databases]\ndb{i} = host=db\n[pgbouncer]\n{}",
                        line.repeat(4)
                    ),
                )
            })
            .collect();
        files.push((
            "f10.ini".to_owned(),
            "[pgbouncer]\nmax_client_conn = 250\n".to_owned(),
        ));
        let borrowed: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let tree = Tree::new(&borrowed);
        let root = tree.files[&PathBuf::from("/repo/f0.ini")].clone();
        let (root_file, _) = parse(&root);
        let mut loads = 0usize;
        let mut loader = |path: &Path| {
            loads += 1;
            let file = tree.files[&normalize_lexically(path)].clone();
            let (parsed, _) = parse(&file);
            Ok((file, parsed))
        };
        let (config, diagnostics) = resolve(&root, &root_file, &mut loader, Path::new("/repo"));
        assert_eq!(messages(&diagnostics), []);
        assert_eq!(config.settings["max_client_conn"].value, "250");
        assert_eq!(config.databases.len(), 10);
        assert_eq!(loads, 10);
    }

    #[test]
    fn an_unreadable_include_is_said_to_be_unreadable() {
        let tree = Tree::new(&[
            ("pgbouncer.ini", "[pgbouncer]\n%include secret.ini\n"),
            ("secret.ini", "<unreadable>"),
        ]);
        let (_, diagnostics) = tree.resolve("pgbouncer.ini");
        assert_eq!(
            messages(&diagnostics),
            [(
                "/repo/pgbouncer.ini".to_owned(),
                "`%include` file `secret.ini` was not read: permission denied; PgBouncer refuses to start when it cannot read it"
            )]
        );
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
