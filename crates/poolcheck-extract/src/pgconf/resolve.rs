//! Merging a `postgresql.conf` with the files it includes, in the order the
//! server reads them: later definitions win, `include_dir` reads its `*.conf`
//! files in name order, and nothing outside the checked directory is read.

use poolcheck_core::Code;
use poolcheck_core::normalize_lexically;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::facts::postgres::{PgInclude, PgIncludeKind, PostgresConfFile, PostgresServer};
use poolcheck_core::{ConfigEntry, Diagnostic, Severity, SourceFile, Span};

use super::parse;
use poolcheck_core::decode::ReadProblem;

/// PostgreSQL's `CONF_FILE_MAX_DEPTH`.
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// Loads and parses a file, or says why it was not read.
pub type ConfLoader<'a> =
    dyn FnMut(&Path) -> Result<(Arc<SourceFile>, PostgresConfFile), ReadProblem> + 'a;
/// Lists a directory's entries (any order), empty when it does not exist.
pub type DirLister<'a> = dyn FnMut(&Path) -> Vec<PathBuf> + 'a;

/// Merges `root_file` (the parse of `root`) with its includes into a server.
///
/// Diagnostics: PC002 for a missing `include`, an include cycle, nesting deeper
/// than PostgreSQL allows, and every PC002 of the included files themselves
/// (they may duplicate diagnostics of an included file that is also checked on
/// its own); PC004 (info) for an include that points outside `checked_root`.
/// Paths are compared lexically, never on the disk: pass `checked_root` in
/// the style of the files' paths (the workspace passes `""`, the frame of
/// its root-relative paths).
pub fn resolve(
    root: &SourceFile,
    root_file: &PostgresConfFile,
    loader: &mut ConfLoader<'_>,
    list_dir: &mut DirLister<'_>,
    checked_root: &Path,
) -> (PostgresServer, Vec<Diagnostic>) {
    let mut resolver = Resolver {
        loader,
        list_dir,
        checked_root: normalize_lexically(checked_root),
        settings: BTreeMap::new(),
        diagnostics: Vec::new(),
        reading: vec![normalize_lexically(root.path().as_path())],
        read: HashMap::new(),
    };
    resolver.apply(root, root_file, 0);
    let server = PostgresServer {
        name: root.path().display_string(),
        location: root.location(Span::empty(0)),
        settings: resolver.settings,
        version: None,
        host_aliases: Vec::new(),
    };
    (server, resolver.diagnostics)
}

struct Resolver<'r, 'l, 'd> {
    loader: &'r mut ConfLoader<'l>,
    list_dir: &'r mut DirLister<'d>,
    checked_root: PathBuf,
    settings: BTreeMap<String, ConfigEntry>,
    diagnostics: Vec<Diagnostic>,
    /// The files being read, outermost first, for cycle detection.
    reading: Vec<PathBuf>,
    /// What each file read at a depth set, so that a file included along
    /// many paths is read once: the graph costs its size, not its paths.
    read: HashMap<(PathBuf, usize), BTreeMap<String, ConfigEntry>>,
}

impl Resolver<'_, '_, '_> {
    fn apply(&mut self, file: &SourceFile, conf: &PostgresConfFile, depth: usize) {
        let base_dir = file
            .path()
            .as_path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut includes = conf.includes.iter().peekable();
        for (index, entry) in conf.entries.iter().enumerate() {
            while let Some(include) = includes.next_if(|inc| inc.position <= index) {
                self.include(&base_dir, include, depth);
            }
            self.settings.insert(entry.key.clone(), entry.clone());
        }
        for include in includes {
            self.include(&base_dir, include, depth);
        }
    }

    fn include(&mut self, base_dir: &Path, include: &PgInclude, depth: usize) {
        let written = Path::new(&include.path);
        let target = normalize_lexically(&base_dir.join(written));
        if !self.is_inside_checked_root(&target) {
            self.outside(include);
            return;
        }
        if depth + 1 > MAX_INCLUDE_DEPTH {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::PC002,
                    Severity::Error,
                    include.location.clone(),
                    format!(
                        "could not include `{}`: includes are nested deeper than {MAX_INCLUDE_DEPTH} levels",
                        include.path
                    ),
                )
                .with_help("PostgreSQL refuses to start when includes nest this deep"),
            );
            return;
        }
        match include.kind {
            PgIncludeKind::Include | PgIncludeKind::IncludeIfExists => {
                self.include_file(&target, include, depth);
            }
            PgIncludeKind::IncludeDir => {
                let mut files: Vec<PathBuf> = (self.list_dir)(&target)
                    .into_iter()
                    .filter(|path| is_conf_file_name(path))
                    .collect();
                // PostgreSQL sorts by file name with strcmp: byte order.
                files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
                files.dedup();
                for path in files {
                    let path = match path.file_name() {
                        Some(name) if path.parent() != Some(target.as_path()) => target.join(name),
                        _ => path,
                    };
                    self.include_file(&normalize_lexically(&path), include, depth);
                }
            }
        }
    }

    fn include_file(&mut self, target: &Path, include: &PgInclude, depth: usize) {
        if let Some(start) = self.reading.iter().position(|p| p == target) {
            let chain: Vec<String> = self.reading[start..]
                .iter()
                .chain(std::iter::once(&target.to_path_buf()))
                .map(|p| p.display().to_string().replace('\\', "/"))
                .collect();
            self.diagnostics.push(
                Diagnostic::new(
                    Code::PC002,
                    Severity::Error,
                    include.location.clone(),
                    format!("include cycle: {}", chain.join(" → ")),
                )
                .with_help("PostgreSQL refuses to start when a file includes itself"),
            );
            return;
        }
        let key = (target.to_path_buf(), depth);
        if let Some(settings) = self.read.get(&key) {
            for (name, entry) in settings {
                self.settings.insert(name.clone(), entry.clone());
            }
            return;
        }
        let (source, conf) = match (self.loader)(target) {
            Ok(loaded) => loaded,
            Err(ReadProblem::Missing) => {
                if include.kind == PgIncludeKind::Include {
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::PC002,
                            Severity::Error,
                            include.location.clone(),
                            format!("included file `{}` does not exist", include.path),
                        )
                        .with_help(
                            "PostgreSQL refuses to start when an `include` is missing; use `include_if_exists` for an optional file",
                        ),
                    );
                }
                return;
            }
            Err(ReadProblem::Outside) => {
                self.outside(include);
                return;
            }
            Err(problem) => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::PC002,
                        Severity::Error,
                        include.location.clone(),
                        format!("included file `{}` was not read: {problem}", include.path),
                    )
                    .with_help("PostgreSQL refuses to start when an included file cannot be read"),
                );
                return;
            }
        };
        let (_, own_diagnostics) = parse(&source);
        self.diagnostics.extend(own_diagnostics);
        self.reading.push(target.to_path_buf());
        let outer = std::mem::take(&mut self.settings);
        self.apply(&source, &conf, depth + 1);
        let own = std::mem::replace(&mut self.settings, outer);
        self.reading.pop();
        for (name, entry) in &own {
            self.settings.insert(name.clone(), entry.clone());
        }
        self.read.insert(key, own);
    }

    fn outside(&mut self, include: &PgInclude) {
        self.diagnostics.push(
            Diagnostic::new(
                Code::PC004,
                Severity::Info,
                include.location.clone(),
                format!(
                    "settings in `{}` are not read: it lies outside the checked directory",
                    include.path
                ),
            )
            .with_help("declare the values poolcheck needs under `[database]` in poolcheck.toml"),
        );
    }

    fn is_inside_checked_root(&self, target: &Path) -> bool {
        poolcheck_core::is_lexically_within(target, &self.checked_root)
    }
}

/// `*.conf` (case-sensitive, as PostgreSQL compares) and not hidden, as `include_dir` reads.
fn is_conf_file_name(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|name| name.starts_with('.'));
    !hidden && path.extension().is_some_and(|ext| ext == "conf")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::pgconf::parse;

    /// The text of a file the tree's loader cannot read.
    const UNREADABLE: &str = "<unreadable>";

    /// An in-memory tree of config files.
    struct Tree {
        files: BTreeMap<PathBuf, String>,
    }

    impl Tree {
        fn new(files: &[(&str, &str)]) -> Self {
            Self {
                files: files
                    .iter()
                    .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
                    .collect(),
            }
        }

        fn resolve(&self, root: &str, checked_root: &str) -> (PostgresServer, Vec<Diagnostic>) {
            let root_file = SourceFile::new(root, self.files[Path::new(root)].clone());
            let (root_conf, _) = parse(&root_file);
            let mut loader = |path: &Path| {
                let text = self.files.get(path).ok_or(ReadProblem::Missing)?;
                if text == UNREADABLE {
                    return Err(ReadProblem::Unreadable("permission denied".to_owned()));
                }
                let file = SourceFile::new(path, text.clone());
                let (conf, _) = parse(&file);
                Ok((Arc::new(file), conf))
            };
            let mut list_dir = |dir: &Path| {
                // Reverse order to prove the resolver sorts.
                let mut found: Vec<PathBuf> = self
                    .files
                    .keys()
                    .filter(|p| p.parent() == Some(dir))
                    .cloned()
                    .collect();
                found.reverse();
                found
            };
            resolve(
                &root_file,
                &root_conf,
                &mut loader,
                &mut list_dir,
                Path::new(checked_root),
            )
        }
    }

    fn setting<'a>(server: &'a PostgresServer, key: &str) -> (&'a str, String) {
        let entry = &server.settings[key];
        (
            entry.value.as_str(),
            entry.value_location.file.display_string(),
        )
    }

    fn messages(diagnostics: &[Diagnostic]) -> Vec<(&'static str, &str)> {
        diagnostics
            .iter()
            .map(|d| (d.code, d.message.as_str()))
            .collect()
    }

    #[test]
    fn includes_apply_at_their_position_and_later_lines_win() {
        let tree = Tree::new(&[
            (
                "db/postgresql.conf",
                "max_connections = 100\ninclude 'tuning.conf'\nshared_buffers = 1GB\n",
            ),
            (
                "db/tuning.conf",
                "max_connections = 300\nshared_buffers = 2GB\nwork_mem = 8MB\n",
            ),
        ]);
        let (server, diagnostics) = tree.resolve("db/postgresql.conf", "db");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(
            setting(&server, "max_connections"),
            ("300", "db/tuning.conf".to_owned())
        );
        assert_eq!(
            setting(&server, "shared_buffers"),
            ("1GB", "db/postgresql.conf".to_owned())
        );
        assert_eq!(
            setting(&server, "work_mem"),
            ("8MB", "db/tuning.conf".to_owned())
        );
        assert_eq!(server.name, "db/postgresql.conf");
    }

    #[test]
    fn include_dir_reads_conf_files_in_name_order() {
        let tree = Tree::new(&[
            ("postgresql.conf", "include_dir = 'conf.d'\n"),
            ("conf.d/10-base.conf", "max_connections = 200\n"),
            ("conf.d/20-tuning.conf", "max_connections = 400\n"),
            ("conf.d/README.md", "max_connections = 1\n"),
            ("conf.d/.hidden.conf", "max_connections = 2\n"),
        ]);
        let (server, diagnostics) = tree.resolve("postgresql.conf", "");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(
            setting(&server, "max_connections"),
            ("400", "conf.d/20-tuning.conf".to_owned())
        );
    }

    #[test]
    fn missing_include_is_an_error_and_missing_if_exists_is_silent() {
        let text = "include 'gone.conf'\ninclude_if_exists 'optional.conf'\n";
        let tree = Tree::new(&[("postgresql.conf", text)]);
        let (_, diagnostics) = tree.resolve("postgresql.conf", "");
        assert_eq!(
            messages(&diagnostics),
            [("PC002", "included file `gone.conf` does not exist")]
        );
        assert_eq!(&text[diagnostics[0].primary.span.range()], "gone.conf");
    }

    #[test]
    fn include_cycles_are_reported_once_and_stop() {
        let tree = Tree::new(&[
            ("a.conf", "include 'b.conf'\nmax_connections = 10\n"),
            ("b.conf", "include 'a.conf'\nmax_connections = 20\n"),
        ]);
        let (server, diagnostics) = tree.resolve("a.conf", "");
        assert_eq!(
            messages(&diagnostics),
            [("PC002", "include cycle: a.conf → b.conf → a.conf")]
        );
        assert_eq!(diagnostics[0].primary.file.display_string(), "b.conf");
        assert_eq!(setting(&server, "max_connections").0, "10");
    }

    #[test]
    fn a_file_that_includes_itself_keeps_its_own_settings() {
        let tree = Tree::new(&[(
            "db/postgresql.conf",
            "max_connections = 300\ninclude 'postgresql.conf'\nshared_buffers = 1GB\n",
        )]);
        let (server, diagnostics) = tree.resolve("db/postgresql.conf", "");
        assert_eq!(
            messages(&diagnostics),
            [(
                "PC002",
                "include cycle: db/postgresql.conf → db/postgresql.conf"
            )]
        );
        assert_eq!(setting(&server, "max_connections").0, "300");
        assert_eq!(setting(&server, "shared_buffers").0, "1GB");
    }

    #[test]
    fn a_fan_out_is_read_once_per_file_not_once_per_path() {
        // Each level includes the next four times: 4^10 paths through 11 files.
        let mut files: Vec<(String, String)> = (0..10)
            .map(|i| {
                let line = format!("include 'f{}.conf'\n", i + 1);
                (
                    format!("f{i}.conf"),
                    format!("work_mem = {i}MB\n{}", line.repeat(4)),
                )
            })
            .collect();
        files.push(("f10.conf".to_owned(), "max_connections = 250\n".to_owned()));
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let tree = Tree::new(&refs);
        let root_file = SourceFile::new("f0.conf", tree.files[Path::new("f0.conf")].clone());
        let (root_conf, _) = parse(&root_file);
        let mut loads = 0usize;
        let mut loader = |path: &Path| {
            loads += 1;
            let file = SourceFile::new(path, tree.files[path].clone());
            let (conf, _) = parse(&file);
            Ok((Arc::new(file), conf))
        };
        let (server, diagnostics) = resolve(
            &root_file,
            &root_conf,
            &mut loader,
            &mut |_: &Path| Vec::new(),
            Path::new(""),
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(setting(&server, "max_connections").0, "250");
        assert_eq!(setting(&server, "work_mem").0, "9MB");
        assert_eq!(loads, 10);
    }

    #[test]
    fn an_unreadable_include_is_said_to_be_unreadable() {
        let tree = Tree::new(&[
            ("postgresql.conf", "include_if_exists 'secret.conf'\n"),
            ("secret.conf", UNREADABLE),
        ]);
        let (_, diagnostics) = tree.resolve("postgresql.conf", "");
        assert_eq!(
            messages(&diagnostics),
            [(
                "PC002",
                "included file `secret.conf` was not read: permission denied"
            )]
        );
    }

    #[test]
    fn self_include_through_a_dot_path_is_a_cycle() {
        let tree = Tree::new(&[("conf/pg.conf", "include './../conf/pg.conf'\n")]);
        let (_, diagnostics) = tree.resolve("conf/pg.conf", "");
        assert_eq!(
            messages(&diagnostics),
            [("PC002", "include cycle: conf/pg.conf → conf/pg.conf")]
        );
    }

    #[test]
    fn nesting_deeper_than_postgresql_allows_is_an_error() {
        let mut files: Vec<(String, String)> = (0..12)
            .map(|i| (format!("f{i}.conf"), format!("include 'f{}.conf'\n", i + 1)))
            .collect();
        files.push(("f12.conf".to_owned(), "max_connections = 5\n".to_owned()));
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let (server, diagnostics) = Tree::new(&refs).resolve("f0.conf", "");
        assert_eq!(
            messages(&diagnostics),
            [(
                "PC002",
                "could not include `f11.conf`: includes are nested deeper than 10 levels"
            )]
        );
        assert_eq!(diagnostics[0].primary.file.display_string(), "f10.conf");
        assert!(!server.settings.contains_key("max_connections"));
    }

    #[test]
    fn includes_never_escape_the_checked_root() {
        let tree = Tree::new(&[
            (
                "repo/db/postgresql.conf",
                "include '../../secret.conf'\ninclude '/etc/postgresql/common.conf'\n",
            ),
            ("secret.conf", "max_connections = 9\n"),
        ]);
        let (server, diagnostics) = tree.resolve("repo/db/postgresql.conf", "repo");
        assert!(server.settings.is_empty());
        assert_eq!(
            messages(&diagnostics),
            [
                (
                    "PC004",
                    "settings in `../../secret.conf` are not read: it lies outside the checked directory"
                ),
                (
                    "PC004",
                    "settings in `/etc/postgresql/common.conf` are not read: it lies outside the checked directory"
                )
            ]
        );
    }

    #[test]
    fn diagnostics_of_included_files_are_reported() {
        let tree = Tree::new(&[
            ("postgresql.conf", "include 'extra.conf'\n"),
            ("extra.conf", "max_connections = lots\n"),
        ]);
        let (_, diagnostics) = tree.resolve("postgresql.conf", "");
        assert_eq!(
            messages(&diagnostics),
            [(
                "PC002",
                "invalid value for parameter `max_connections`: `lots`"
            )]
        );
        assert_eq!(diagnostics[0].primary.file.display_string(), "extra.conf");
    }

    #[test]
    fn lexical_normalization() {
        assert_eq!(
            normalize_lexically(Path::new("./a/./b/../c")),
            PathBuf::from("a/c")
        );
        assert_eq!(
            normalize_lexically(Path::new("../a")),
            PathBuf::from("../a")
        );
        assert_eq!(normalize_lexically(Path::new("/../a")), PathBuf::from("/a"));
    }
}
