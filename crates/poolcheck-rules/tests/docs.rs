//! `docs/rules/PCxxx.md` are generated from the rules' metadata. This test
//! fails when a page is stale; regenerate them with
//! `POOLCHECK_UPDATE_DOCS=1 cargo test -p poolcheck-rules --test docs`.

use std::path::Path;

#[test]
fn rule_docs_pages_match_the_metadata() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules");
    let update = std::env::var_os("POOLCHECK_UPDATE_DOCS").is_some();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut stale = Vec::new();
    for rule in poolcheck_rules::registry::all() {
        let path = dir.join(format!("{}.md", rule.meta.code));
        let expected = rule.meta.docs_page();
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        if actual != expected {
            if update {
                std::fs::write(&path, expected).unwrap();
            } else {
                stale.push(rule.meta.code.as_str());
            }
        }
    }
    // Pages of rules that no longer exist.
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let code = name.trim_end_matches(".md");
        if poolcheck_rules::registry::by_code(code).is_none() {
            if update {
                std::fs::remove_file(entry.path()).unwrap();
            } else {
                stale.push("(a page without a rule)");
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale rule docs: {stale:?}; run `POOLCHECK_UPDATE_DOCS=1 cargo test -p poolcheck-rules --test docs`"
    );
}

/// The docs cite public sources and the project's own pages, never the
/// engineers' internal notes (`pitfalls P3`, `DESIGN`, `RULES.md`, `§2.4`).
#[test]
fn rule_docs_cite_no_internal_reference() {
    let internal = |text: &str| {
        let words: Vec<&str> = text
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '§')
            .collect();
        text.contains("pitfalls")
            || text.contains("DESIGN")
            || text.contains("RULES.md")
            || text.contains('§')
            || words.iter().any(|w| {
                w.len() >= 2 && w.starts_with('P') && w[1..].bytes().all(|b| b.is_ascii_digit())
            })
    };
    let mut found = Vec::new();
    for rule in poolcheck_rules::registry::all() {
        let page = rule.meta.docs_page();
        for line in page.lines().filter(|l| internal(l)) {
            found.push(format!("{}: {line}", rule.meta.code));
        }
    }
    assert!(
        found.is_empty(),
        "internal references:\n{}",
        found.join("\n")
    );
}
