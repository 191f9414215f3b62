//! Which fixes to apply together: the one decision `check --fix`, `check
//! --diff` and the language server's "fix all" share, so that an editor and
//! the command line never fix the same findings differently.
//!
//! A plan takes the findings in their sorted order (file, position, code) and
//! takes each fix whose edits overlap no edit already taken. A fix is taken
//! whole or not at all; a fix that collides waits for a later run, when the
//! analysis has seen the first ones.

use std::collections::{BTreeMap, BTreeSet};

use poolcheck_core::{Diagnostic, Edit, FilePath, Location, Span};

/// Which fixes a plan may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FixMode {
    /// Safe fixes only: what `check --fix` and "fix all" apply.
    #[default]
    SafeOnly,
    /// Safe and unsafe fixes: `check --fix --unsafe-fixes`.
    IncludeUnsafe,
}

impl FixMode {
    pub fn allows(self, d: &Diagnostic) -> bool {
        d.fix
            .as_ref()
            .is_some_and(|f| self == FixMode::IncludeUnsafe || f.is_safe())
    }
}

/// One file's text before and after a plan's edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub before: String,
    pub after: String,
}

/// A finding whose fix a plan applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Position of the finding among the planned diagnostics.
    pub index: usize,
    /// The files its edits change.
    pub files: BTreeSet<FilePath>,
}

/// The fixes one plan applies.
#[derive(Debug, Default)]
pub struct Plan {
    /// One entry per fixed finding (two findings offering the same edit are
    /// both fixed by it).
    pub fixes: Vec<Applied>,
    /// The edits taken, per file, in text order and without overlaps.
    pub edits: BTreeMap<FilePath, Vec<Edit>>,
    pub changes: BTreeMap<FilePath, FileChange>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn fixed(&self) -> usize {
        self.fixes.len()
    }
}

/// A replacement of `span` with `new_text`, checked against the file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Replacement {
    span: Span,
    new_text: String,
}

impl Replacement {
    /// Two insertions at one offset have no natural order, so they collide;
    /// an insertion at either end of a replaced range does not.
    fn collides_with(&self, other: &Replacement) -> bool {
        let (a, b) = (self.span, other.span);
        (a.start < b.end && b.start < a.end) || (a.is_empty() && b.is_empty() && a.start == b.start)
    }
}

/// Chooses the fixes to apply now among those `mode` allows. `text_of` gives
/// a file's current text (`None` when it cannot be read: fixes touching it
/// are skipped). The result depends on the findings and texts only, not on
/// the order the findings come in.
pub fn plan<'a>(
    diagnostics: impl IntoIterator<Item = &'a Diagnostic>,
    mode: FixMode,
    mut text_of: impl FnMut(&FilePath) -> Option<String>,
) -> Plan {
    let mut candidates: Vec<(usize, &Diagnostic)> = diagnostics
        .into_iter()
        .enumerate()
        .filter(|(_, d)| mode.allows(d))
        .collect();
    candidates.sort_by(|(_, a), (_, b)| a.sort_key().cmp(&b.sort_key()).then_with(|| a.cmp(b)));

    let mut texts: BTreeMap<FilePath, Option<String>> = BTreeMap::new();
    let mut taken: BTreeMap<FilePath, Vec<Replacement>> = BTreeMap::new();
    let mut fixes = Vec::new();
    for (index, diagnostic) in candidates {
        let Some(fix) = &diagnostic.fix else {
            continue;
        };
        if fix.edits.is_empty() {
            continue;
        }
        let mut wanted: Vec<(FilePath, Replacement)> = Vec::new();
        let mut usable = true;
        for edit in &fix.edits {
            let text = texts
                .entry(edit.location.file.clone())
                .or_insert_with(|| text_of(&edit.location.file));
            match checked(edit, text.as_deref()) {
                Some(r) if !wanted.contains(&(edit.location.file.clone(), r.clone())) => {
                    wanted.push((edit.location.file.clone(), r));
                }
                Some(_) => {}
                None => usable = false,
            }
        }
        let self_overlapping = wanted.iter().enumerate().any(|(i, (file, r))| {
            wanted[i + 1..]
                .iter()
                .any(|(other_file, other)| other_file == file && r.collides_with(other))
        });
        if !usable || self_overlapping {
            continue;
        }
        let files: BTreeSet<FilePath> = wanted.iter().map(|(file, _)| file.clone()).collect();
        // An edit another fix already makes is shared, not a collision.
        let fresh: Vec<(FilePath, Replacement)> = wanted
            .into_iter()
            .filter(|(file, r)| !taken.get(file).is_some_and(|t| t.contains(r)))
            .collect();
        let collides = fresh.iter().any(|(file, r)| {
            taken
                .get(file)
                .is_some_and(|t| t.iter().any(|other| r.collides_with(other)))
        });
        if collides {
            continue;
        }
        for (file, r) in fresh {
            taken.entry(file).or_default().push(r);
        }
        fixes.push(Applied { index, files });
    }

    let mut changes = BTreeMap::new();
    let mut edits = BTreeMap::new();
    for (file, mut replacements) in taken {
        let Some(Some(before)) = texts.remove(&file) else {
            continue;
        };
        replacements.sort_by_key(|r| (r.span.start, r.span.end));
        let after = apply(&before, &replacements);
        if after != before {
            changes.insert(file.clone(), FileChange { before, after });
            edits.insert(
                file.clone(),
                replacements
                    .into_iter()
                    .map(|r| Edit {
                        location: Location::new(file.clone(), r.span),
                        new_text: r.new_text,
                    })
                    .collect(),
            );
        }
    }
    // A fix whose edits leave the text as it was fixes nothing.
    fixes.retain(|fix: &Applied| fix.files.iter().any(|f| changes.contains_key(f)));
    fixes.sort_by_key(|f| f.index);
    Plan {
        fixes,
        edits,
        changes,
    }
}

/// The edit as a replacement when its span lies inside the text on character
/// boundaries (a stale or wrong span is dropped rather than corrupting a file).
fn checked(edit: &Edit, text: Option<&str>) -> Option<Replacement> {
    let text = text?;
    let span = edit.location.span;
    let valid = span.start <= span.end
        && text.is_char_boundary(span.start as usize)
        && text.is_char_boundary(span.end as usize);
    valid.then(|| Replacement {
        span,
        new_text: edit.new_text.clone(),
    })
}

/// `replacements` sorted and disjoint.
fn apply(text: &str, replacements: &[Replacement]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in replacements {
        out.push_str(&text[at..r.span.start as usize]);
        out.push_str(&r.new_text);
        at = r.span.end as usize;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use poolcheck_core::{Fix, Severity};

    fn finding_at(file: &str, at: usize, edits: &[(usize, usize, &str)], safe: bool) -> Diagnostic {
        let path = FilePath::from(file);
        let edits = edits
            .iter()
            .map(|&(start, end, text)| Edit {
                location: Location::new(path.clone(), Span::new(start, end)),
                new_text: text.to_owned(),
            })
            .collect();
        Diagnostic::new(
            poolcheck_core::Code::PC002,
            Severity::Error,
            Location::new(path.clone(), Span::new(at, at)),
            "m",
        )
        .with_fix(if safe {
            Fix::safe("t", edits)
        } else {
            Fix::unsafe_fix("t", edits)
        })
    }

    fn finding(file: &str, edits: &[(usize, usize, &str)]) -> Diagnostic {
        finding_at(file, edits.first().map_or(0, |e| e.0), edits, true)
    }

    fn plan_on(text: &str, diagnostics: &[Diagnostic]) -> Plan {
        plan(diagnostics, FixMode::SafeOnly, |_| Some(text.to_owned()))
    }

    fn after(plan: &Plan) -> &str {
        &plan.changes[&FilePath::from("a.ini")].after
    }

    #[test]
    fn disjoint_fixes_all_apply_in_one_round() {
        let text = "pool_sise = 5\npool_mode = transactions\n";
        let p = plan_on(
            text,
            &[
                finding("a.ini", &[(0, 9, "pool_size")]),
                finding("a.ini", &[(26, 38, "transaction")]),
            ],
        );
        assert_eq!(p.fixed(), 2);
        assert_eq!(after(&p), "pool_size = 5\npool_mode = transaction\n");
        assert_eq!(p.edits[&FilePath::from("a.ini")].len(), 2);
    }

    #[test]
    fn an_overlapping_fix_waits_for_the_next_round() {
        let p = plan_on(
            "abcdef",
            &[
                finding("a.ini", &[(0, 4, "X")]),
                finding("a.ini", &[(2, 6, "Y")]),
            ],
        );
        assert_eq!(p.fixed(), 1);
        assert_eq!(after(&p), "Xef");
    }

    #[test]
    fn the_choice_does_not_depend_on_the_order_findings_come_in() {
        let first = finding("a.ini", &[(0, 4, "X")]);
        let second = finding("a.ini", &[(2, 6, "Y")]);
        let forward = plan_on("abcdef", &[first.clone(), second.clone()]);
        let backward = plan_on("abcdef", &[second, first]);
        assert_eq!(after(&forward), "Xef");
        assert_eq!(after(&backward), "Xef");
    }

    #[test]
    fn a_fix_is_taken_whole_or_not_at_all() {
        // The second fix's first edit is free but its second collides: none of it applies.
        let p = plan_on(
            "0123456789",
            &[
                finding_at("a.ini", 0, &[(5, 7, "x")], true),
                finding_at("a.ini", 1, &[(0, 1, "y"), (6, 8, "z")], true),
            ],
        );
        assert_eq!(p.fixed(), 1);
        assert_eq!(after(&p), "01234x789");
    }

    #[test]
    fn two_insertions_at_one_offset_collide_but_the_same_insertion_is_shared() {
        let p = plan_on(
            "f(a)",
            &[
                finding_at("a.ini", 0, &[(3, 3, ", b=1")], true),
                finding_at("a.ini", 1, &[(3, 3, ", c=2")], true),
                finding_at("a.ini", 2, &[(3, 3, ", b=1")], true),
            ],
        );
        assert_eq!(p.fixed(), 2, "the duplicate is fixed by the first edit");
        assert_eq!(after(&p), "f(a, b=1)");
    }

    #[test]
    fn insertions_at_the_ends_of_a_replacement_keep_their_place() {
        let p = plan_on(
            "abc",
            &[
                finding("a.ini", &[(1, 2, "B")]),
                finding("a.ini", &[(1, 1, "<")]),
                finding("a.ini", &[(2, 2, ">")]),
            ],
        );
        assert_eq!(p.fixed(), 3);
        assert_eq!(after(&p), "a<B>c");
    }

    #[test]
    fn spans_outside_the_text_or_inside_a_character_are_skipped() {
        let p = plan_on(
            "é = 1",
            &[
                finding("a.ini", &[(1, 2, "e")]),
                finding("a.ini", &[(4, 40, "2")]),
            ],
        );
        assert_eq!(p.fixed(), 0);
        assert!(p.is_empty());
    }

    #[test]
    fn an_unreadable_file_blocks_only_its_fixes() {
        let p = plan(
            &[
                finding("gone.py", &[(0, 1, "x")]),
                finding("a.ini", &[(0, 1, "x")]),
            ],
            FixMode::SafeOnly,
            |f| (f.as_path() == Path::new("a.ini")).then(|| "abc".to_owned()),
        );
        assert_eq!(p.fixed(), 1);
        assert_eq!(p.changes.len(), 1);
        assert_eq!(after(&p), "xbc");
    }

    #[test]
    fn unsafe_fixes_wait_for_the_unsafe_mode() {
        let diagnostics = [
            finding_at("a.ini", 0, &[(0, 1, "A")], true),
            finding_at("a.ini", 1, &[(1, 2, "B")], false),
        ];
        let safe = plan(&diagnostics, FixMode::SafeOnly, |_| Some("ab".to_owned()));
        assert_eq!(after(&safe), "Ab");
        let all = plan(&diagnostics, FixMode::IncludeUnsafe, |_| {
            Some("ab".to_owned())
        });
        assert_eq!(after(&all), "AB");
        assert_eq!(all.fixed(), 2);
    }
}
