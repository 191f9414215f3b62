//! `check --fix` and `check --diff`: apply the fixes findings carry.
//!
//! Each round analyses the project, lets [`fix_plan::plan`] (the choice the
//! language server's "fix all" makes too) take every allowed fix whose edits
//! overlap no edit already taken, and applies them file by file. Fixes that
//! collided wait for the next round, when the analysis has seen the first
//! ones. Rounds repeat until nothing is left to apply, at most
//! [`MAX_ROUNDS`] times, so a fix that does not silence its own finding
//! cannot loop forever.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use poolcheck_core::{Diagnostic, FilePath};
use poolcheck_rules::analysis::{self, Analysis, Options};
use poolcheck_rules::fix_plan::{self, FileChange, FixMode};
use poolcheck_rules::workspace::Workspace;

/// Enough for fixes that unblock each other; a fix that keeps re-firing stops here.
pub const MAX_ROUNDS: usize = 5;

/// What `--fix` did over all rounds.
#[derive(Debug, Default)]
pub struct Outcome {
    pub fixed: usize,
    pub files: BTreeSet<FilePath>,
    /// True when fixes were still being found after the last round.
    pub gave_up: bool,
}

impl Outcome {
    /// `Fixed 3 problems (2 files).`
    pub fn summary(&self) -> String {
        format!("Fixed {}.", problems_in_files(self.fixed, self.files.len()))
    }
}

/// `3 problems (2 files)`.
pub fn problems_in_files(problems: usize, files: usize) -> String {
    format!(
        "{problems} {} ({files} {})",
        if problems == 1 { "problem" } else { "problems" },
        if files == 1 { "file" } else { "files" }
    )
}

/// Why a file was left as it was.
#[derive(Debug)]
pub enum WriteError {
    /// Something else changed the file after poolcheck read it.
    ChangedOnDisk,
    /// The file has no write permission: someone meant it to stay as it is.
    ReadOnly,
    /// The file is Latin-1, and the fix adds a character Latin-1 cannot hold.
    Unencodable,
    Io(std::io::Error),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::ChangedOnDisk => f.write_str("the file changed while poolcheck ran"),
            WriteError::ReadOnly => {
                f.write_str("the file is read-only; make it writable to let `--fix` change it")
            }
            WriteError::Unencodable => f.write_str(
                "the file is Latin-1, not UTF-8, and the fix adds characters Latin-1 cannot hold; apply it by hand",
            ),
            WriteError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<std::io::Error> for WriteError {
    fn from(e: std::io::Error) -> Self {
        WriteError::Io(e)
    }
}

/// Replaces `path`'s content with `after` when it still holds `before`.
///
/// A symbolic link is followed, not replaced, and a read-only file is
/// refused (even where the user, e.g. root, could write it). Otherwise the
/// file keeps its identity — mode, owner, and the inode its hard links share:
///
/// - a file with one link gets the new text through a temporary file next to
///   it that takes the file's mode and owner and then replaces it in one
///   rename, so a reader never sees half a file;
/// - a file with several hard links, or one whose owner the temporary file
///   cannot take (poolcheck runs as another user), is rewritten in place: a
///   rename would leave the other links with the old text, or change the
///   owner. In-place writing is not atomic; the check that the file still
///   holds `before` right before writing keeps the window small, and the
///   text is written in one call and synced.
pub fn write_if_unchanged(path: &Path, before: &str, after: &str) -> Result<(), WriteError> {
    let target = std::fs::canonicalize(path)?;
    let metadata = std::fs::metadata(&target)?;
    if metadata.permissions().readonly() {
        return Err(WriteError::ReadOnly);
    }
    let after = encode_like(&std::fs::read(&target)?, before, after)?;
    let after = after.as_slice();
    if identity::must_write_in_place(&metadata) {
        return write_in_place(&target, after);
    }
    let dir = target.parent().unwrap_or_else(|| Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".poolcheck-fix-")
        .tempfile_in(dir)?;
    temp.write_all(after)?;
    temp.as_file().set_permissions(metadata.permissions())?;
    if !identity::take_owner(temp.as_file(), &metadata) {
        drop(temp);
        return write_in_place(&target, after);
    }
    temp.as_file().sync_all()?;
    temp.persist(&target).map_err(|e| WriteError::Io(e.error))?;
    Ok(())
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The bytes to write for `after`, in the encoding the file has on disk,
/// when the file still holds `before`: poolcheck reads a UTF-8 byte-order
/// mark as no text and a stray non-UTF-8 byte in a `.conf`/`.ini`/`.env`
/// file (or a Python file with a Latin-1 coding cookie) as Latin-1, so the
/// comparison and the write go through the same decoding.
fn encode_like(on_disk: &[u8], before: &str, after: &str) -> Result<Vec<u8>, WriteError> {
    if on_disk == before.as_bytes() {
        return Ok(after.as_bytes().to_vec());
    }
    if let Some(rest) = on_disk.strip_prefix(UTF8_BOM)
        && rest == before.as_bytes()
    {
        return Ok([UTF8_BOM, after.as_bytes()].concat());
    }
    let latin1_before = std::str::from_utf8(on_disk).is_err()
        && on_disk.len() == before.chars().count()
        && on_disk
            .iter()
            .zip(before.chars())
            .all(|(&b, c)| char::from(b) == c);
    if !latin1_before {
        return Err(WriteError::ChangedOnDisk);
    }
    after
        .chars()
        .map(|c| u8::try_from(u32::from(c)).map_err(|_| WriteError::Unencodable))
        .collect()
}

fn write_in_place(target: &Path, after: &[u8]) -> Result<(), WriteError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(target)?;
    file.write_all(after)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(unix)]
mod identity {
    use std::fs::{File, Metadata};
    use std::os::unix::fs::MetadataExt;

    pub fn must_write_in_place(metadata: &Metadata) -> bool {
        metadata.nlink() > 1
    }

    /// Gives `file` the owner and group of the original; false when that is
    /// not permitted.
    pub fn take_owner(file: &File, original: &Metadata) -> bool {
        let Ok(current) = file.metadata() else {
            return false;
        };
        if current.uid() == original.uid() && current.gid() == original.gid() {
            return true;
        }
        std::os::unix::fs::fchown(file, Some(original.uid()), Some(original.gid())).is_ok()
    }
}

#[cfg(not(unix))]
mod identity {
    use std::fs::{File, Metadata};

    pub fn must_write_in_place(_: &Metadata) -> bool {
        false
    }

    pub fn take_owner(_: &File, _: &Metadata) -> bool {
        true
    }
}

/// The current text of a file a fix edits: the analysed text, or for a file
/// the analysis read on its own (an imported module) the file on disk.
fn text_in(workspace: &Workspace, file: &FilePath) -> Option<String> {
    match workspace.sources.get(file) {
        Some(source) => Some(source.text().to_owned()),
        None => std::fs::read_to_string(workspace.on_disk(file)).ok(),
    }
}

/// The findings whose fix an earlier round applied, identified by what
/// survives the edits (offsets move; the code, file, message and fix title
/// do not). A finding that comes back after its fix is a rule whose fix does
/// not silence it: applying it again would repeat the edit every round.
#[derive(Debug, Default)]
struct AppliedBefore(BTreeSet<(&'static str, FilePath, String, String)>);

impl AppliedBefore {
    fn key(d: &Diagnostic) -> Option<(&'static str, FilePath, String, String)> {
        let fix = d.fix.as_ref()?;
        Some((
            d.code,
            d.primary.file.clone(),
            d.message.clone(),
            fix.title.clone(),
        ))
    }

    /// The findings whose fixes may still be applied; a warning for each
    /// one that came back.
    fn fresh<'a>(
        &self,
        diagnostics: &'a [Diagnostic],
        warn: &mut impl FnMut(String),
    ) -> Vec<&'a Diagnostic> {
        diagnostics
            .iter()
            .filter(|d| {
                let again = Self::key(d).is_some_and(|k| self.0.contains(&k));
                if again {
                    warn(format!(
                        "{}: {}: the fix \"{}\" did not remove the finding; not applied again",
                        d.primary.file,
                        d.code,
                        d.fix.as_ref().map_or("", |f| f.title.as_str())
                    ));
                }
                !again
            })
            .collect()
    }

    fn record(&mut self, diagnostic: &Diagnostic) {
        self.0.extend(Self::key(diagnostic));
    }

    /// The applied fixes whose finding is still reported at the end, with or
    /// without a fix now: they fixed nothing, and `Fixed N problems` must not
    /// count them. One warning each for those `fresh` did not already name.
    fn still_reported(&self, diagnostics: &[Diagnostic], warn: &mut impl FnMut(String)) -> usize {
        self.0
            .iter()
            .filter(|(code, file, message, title)| {
                let remaining = diagnostics
                    .iter()
                    .find(|d| d.code == *code && &d.primary.file == file && &d.message == message);
                let Some(remaining) = remaining else {
                    return false;
                };
                if remaining.fix.as_ref().is_none_or(|f| &f.title != title) {
                    warn(format!(
                        "{file}: {code}: the fix \"{title}\" was applied but the finding remains"
                    ));
                }
                true
            })
            .count()
    }
}

/// `--fix`: rounds of analyse, plan, write, reload. `load` reads the project
/// afresh from disk. Returns the last workspace and analysis, which describe
/// the files as they are now.
pub fn fix(
    mut load: impl FnMut() -> Result<Workspace, String>,
    options: &Options,
    mode: FixMode,
    mut warn: impl FnMut(String),
) -> Result<(Workspace, Analysis, Outcome), String> {
    let mut outcome = Outcome::default();
    let mut applied_before = AppliedBefore::default();
    let mut round = 0;
    loop {
        let workspace = load()?;
        let analysis = analysis::analyze(&workspace, options);
        let candidates = applied_before.fresh(&analysis.diagnostics, &mut warn);
        if round == MAX_ROUNDS {
            outcome.gave_up = candidates.iter().any(|d| mode.allows(d));
            outcome.fixed = outcome
                .fixed
                .saturating_sub(applied_before.still_reported(&analysis.diagnostics, &mut warn));
            return Ok((workspace, analysis, outcome));
        }
        round += 1;
        let plan = fix_plan::plan(candidates.iter().copied(), mode, |f| text_in(&workspace, f));
        let mut written = BTreeSet::new();
        for (file, change) in &plan.changes {
            match write_if_unchanged(&workspace.on_disk(file), &change.before, &change.after) {
                Ok(()) => {
                    written.insert(file.clone());
                }
                Err(e) => warn(format!("{file}: not fixed: {e}")),
            }
        }
        if written.is_empty() {
            outcome.fixed = outcome
                .fixed
                .saturating_sub(applied_before.still_reported(&analysis.diagnostics, &mut warn));
            return Ok((workspace, analysis, outcome));
        }
        for fix in &plan.fixes {
            if fix.files.is_subset(&written) {
                outcome.fixed += 1;
                applied_before.record(candidates[fix.index]);
            }
        }
        outcome.files.extend(written);
    }
}

/// What `--diff` would change: every touched file's first and last text.
#[derive(Debug, Default)]
pub struct Preview {
    pub fixed: usize,
    pub changes: BTreeMap<FilePath, FileChange>,
}

/// `--diff`: the rounds of `--fix`, applied to the loaded workspace in memory.
/// A round that edits a file the workspace does not hold (one the analysis
/// read by itself) is the last, since the next analysis would not see it.
pub fn preview(
    mut workspace: Workspace,
    options: &Options,
    mode: FixMode,
    mut warn: impl FnMut(String),
) -> Preview {
    let mut preview = Preview::default();
    let mut applied_before = AppliedBefore::default();
    let mut current: BTreeMap<FilePath, String> = BTreeMap::new();
    for _ in 0..MAX_ROUNDS {
        let analysis = analysis::analyze(&workspace, options);
        let candidates = applied_before.fresh(&analysis.diagnostics, &mut warn);
        let plan = fix_plan::plan(candidates.iter().copied(), mode, |f| {
            current.get(f).cloned().or_else(|| text_in(&workspace, f))
        });
        if plan.is_empty() {
            break;
        }
        preview.fixed += plan.fixed();
        for fix in &plan.fixes {
            applied_before.record(candidates[fix.index]);
        }
        let mut outside = false;
        for (file, change) in plan.changes {
            match workspace.facts_of(&file).map(|f| f.kind) {
                Some(kind) => workspace.update(&file, kind, change.after.clone()),
                None => outside = true,
            }
            preview
                .changes
                .entry(file.clone())
                .and_modify(|c| c.after.clone_from(&change.after))
                .or_insert_with(|| change.clone());
            current.insert(file, change.after);
        }
        if outside {
            break;
        }
    }
    preview
}

/// A unified diff of one file, headed with its path on both sides.
pub fn unified_diff(file: &FilePath, change: &FileChange) -> String {
    let name = file.display_string();
    similar::TextDiff::from_lines(&change.before, &change.after)
        .unified_diff()
        .context_radius(3)
        .header(&name, &name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::{Edit, Fix, Location, Severity, Span};

    fn finding(file: &str, edits: &[(usize, usize, &str)]) -> Diagnostic {
        let path = FilePath::from(file);
        Diagnostic::new(
            poolcheck_core::Code::PC002,
            Severity::Error,
            Location::new(path.clone(), Span::new(0, 0)),
            "m",
        )
        .with_fix(Fix::safe(
            "t",
            edits
                .iter()
                .map(|&(start, end, text)| Edit {
                    location: Location::new(path.clone(), Span::new(start, end)),
                    new_text: text.to_owned(),
                })
                .collect(),
        ))
    }

    #[test]
    fn a_finding_that_survives_its_fix_is_not_fixed_again() {
        // The same finding in the next round, its insertion point moved by the first edit.
        let before = finding("a.ini", &[(3, 3, ", b=1")]);
        let after = finding("a.ini", &[(8, 8, ", b=1")]);
        let other = finding("b.ini", &[(0, 0, "x")]);
        let mut applied = AppliedBefore::default();
        applied.record(&before);
        let mut warnings = Vec::new();
        let round = [after, other.clone()];
        let fresh = applied.fresh(&round, &mut |w| warnings.push(w));
        assert_eq!(fresh, vec![&other]);
        assert_eq!(
            warnings,
            vec!["a.ini: PC002: the fix \"t\" did not remove the finding; not applied again"]
        );
    }

    #[test]
    fn a_fix_whose_finding_remains_without_a_fix_is_not_counted() {
        // The symptom of a keyword written into a comment: the finding comes
        // back, now without a fix (the text seems to pass the keyword).
        let applied = finding("a.py", &[(3, 3, ", b=1")]);
        let mut before = AppliedBefore::default();
        before.record(&applied);
        let mut back = applied.clone();
        back.fix = None;
        let mut warnings = Vec::new();
        assert_eq!(before.still_reported(&[back], &mut |w| warnings.push(w)), 1);
        assert_eq!(
            warnings,
            vec!["a.py: PC002: the fix \"t\" was applied but the finding remains"]
        );
        assert_eq!(before.still_reported(&[], &mut |_| {}), 0);
    }

    #[test]
    fn summary_counts_problems_and_files() {
        let mut outcome = Outcome {
            fixed: 1,
            ..Outcome::default()
        };
        outcome.files.insert(FilePath::from("a.ini"));
        assert_eq!(outcome.summary(), "Fixed 1 problem (1 file).");
        outcome.fixed = 3;
        outcome.files.insert(FilePath::from("b.py"));
        assert_eq!(outcome.summary(), "Fixed 3 problems (2 files).");
    }

    #[test]
    fn a_file_changed_since_it_was_read_is_left_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("pgbouncer.ini");
        std::fs::write(&path, "pool_mode = session\n").expect("write");
        let result = write_if_unchanged(&path, "pool_mode = transactions\n", "x");
        assert!(matches!(result, Err(WriteError::ChangedOnDisk)));
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "pool_mode = session\n"
        );
    }

    #[test]
    fn writing_replaces_the_content_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("pgbouncer.ini");
        std::fs::write(&path, "a\n").expect("write");
        write_if_unchanged(&path, "a\n", "b\n").expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "b\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("pgbouncer.ini")]);
    }

    #[cfg(unix)]
    #[test]
    fn writing_keeps_permissions_and_follows_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let real = dir.path().join("entrypoint.sh");
        std::fs::write(&real, "gunicorn\n").expect("write");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let link = dir.path().join("link.sh");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        write_if_unchanged(&link, "gunicorn\n", "exec gunicorn\n").expect("written");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("link")
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(&real).expect("read"),
            "exec gunicorn\n"
        );
        let mode = std::fs::metadata(&real).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }

    #[cfg(unix)]
    #[test]
    fn a_latin1_file_is_written_back_in_latin1() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pgbouncer.ini");
        // `caf\xe9` in a comment: not UTF-8, read as Latin-1.
        std::fs::write(&path, b"; caf\xe9\npool_mode = statment\n").expect("write");
        write_if_unchanged(
            &path,
            "; caf\u{e9}\npool_mode = statment\n",
            "; caf\u{e9}\npool_mode = statement\n",
        )
        .expect("written");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            b"; caf\xe9\npool_mode = statement\n"
        );
        let result = write_if_unchanged(
            &path,
            "; caf\u{e9}\npool_mode = statement\n",
            "; caf\u{e9} \u{2014}\npool_mode = statement\n",
        );
        assert!(matches!(result, Err(WriteError::Unencodable)), "{result:?}");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            b"; caf\xe9\npool_mode = statement\n"
        );
    }

    #[test]
    fn a_byte_order_mark_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.py");
        std::fs::write(&path, b"\xEF\xBB\xBFx = 1\n").expect("write");
        write_if_unchanged(&path, "x = 1\n", "x = 2\n").expect("written");
        assert_eq!(std::fs::read(&path).expect("read"), b"\xEF\xBB\xBFx = 2\n");
    }

    #[test]
    fn a_read_only_file_is_refused_and_left_as_it_was() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db.py");
        std::fs::write(&path, "a\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        let result = write_if_unchanged(&path, "a\n", "b\n");
        assert!(matches!(result, Err(WriteError::ReadOnly)), "{result:?}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "a\n");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o444);
    }

    #[cfg(unix)]
    #[test]
    fn a_hard_linked_file_is_written_through_its_inode() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("pgbouncer.ini");
        let other = dir.path().join("pgbouncer-copy.ini");
        std::fs::write(&path, "a\n").expect("write");
        std::fs::hard_link(&path, &other).expect("link");
        let inode = std::fs::metadata(&path).expect("meta").ino();
        write_if_unchanged(&path, "a\n", "b\n").expect("written");
        assert_eq!(std::fs::read_to_string(&other).expect("read"), "b\n");
        let meta = std::fs::metadata(&path).expect("meta");
        assert_eq!((meta.ino(), meta.nlink()), (inode, 2));
    }

    #[cfg(unix)]
    #[test]
    fn the_owner_and_group_are_kept() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db.py");
        std::fs::write(&path, "a\n").expect("write");
        // Another owner can only be given by root; elsewhere the file keeps
        // the current user's, which the rewrite must keep too.
        let given = std::os::unix::fs::chown(&path, Some(4242), Some(4343)).is_ok();
        let before = std::fs::metadata(&path).expect("meta");
        write_if_unchanged(&path, "a\n", "b\n").expect("written");
        let after = std::fs::metadata(&path).expect("meta");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "b\n");
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        if given {
            assert_eq!((after.uid(), after.gid()), (4242, 4343));
        }
    }

    #[test]
    fn unified_diff_shows_the_changed_lines_with_context() {
        let change = FileChange {
            before: "[pgbouncer]\npool_mode = transactions\n".to_owned(),
            after: "[pgbouncer]\npool_mode = transaction\n".to_owned(),
        };
        assert_eq!(
            unified_diff(&FilePath::from("pgbouncer.ini"), &change),
            "--- pgbouncer.ini\n+++ pgbouncer.ini\n@@ -1,2 +1,2 @@\n [pgbouncer]\n-pool_mode = transactions\n+pool_mode = transaction\n"
        );
    }
}
