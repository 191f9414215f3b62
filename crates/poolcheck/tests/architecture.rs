//! The crate layout's two invariants, checked on the sources themselves:
//! only the workspace crate reads the disk (the binary writes `--fix` edits
//! and `--output-file`, nothing else; the parsers, the model, the rules and
//! the language server get text), and the rules depend on core and the model
//! only, never on a parser.

use std::path::{Path, PathBuf};

/// The crate that discovers and reads files.
const IO_CRATES: &[&str] = &["poolcheck-workspace"];

/// Disk access the binary keeps, by file: the atomic `--fix` writer whole,
/// and the `--output-file` write.
const BINARY_WRITES: &[(&str, &str)] = &[
    ("poolcheck/src/fix.rs", ""),
    ("poolcheck/src/commands/mod.rs", "std::fs::create_dir_all("),
    ("poolcheck/src/commands/mod.rs", "std::fs::write("),
];

/// Spellings of a filesystem access in Rust source.
const DISK_ACCESS: &[&str] = &[
    "fs::",
    ".is_file()",
    ".is_dir()",
    ".exists()",
    "canonicalize(",
    "read_dir(",
];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Files of test modules declared out of line (`#[cfg(test)] mod tests;` in
/// `helm/mod.rs` is `helm/tests.rs`): test code, which may read fixtures.
fn test_module_files(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        // `foo/mod.rs` and `lib.rs` own modules in `foo/`; `foo.rs` in `foo/` too.
        let dir = match file.file_stem().and_then(std::ffi::OsStr::to_str) {
            Some("mod" | "lib" | "main") => file.parent().map(Path::to_path_buf),
            Some(stem) => file.parent().map(|p| p.join(stem)),
            None => None,
        };
        let Some(dir) = dir else { continue };
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        while let Some(line) = lines.next() {
            if !line.starts_with("#[cfg(test)]") {
                continue;
            }
            let Some(name) = lines
                .next()
                .and_then(|next| next.strip_prefix("mod "))
                .and_then(|rest| rest.strip_suffix(';'))
            else {
                continue;
            };
            found.push(dir.join(format!("{name}.rs")));
            found.push(dir.join(name).join("mod.rs"));
        }
    }
    found
}

/// Lines (1-based, with their text) that access the disk outside
/// `#[cfg(test)]` items and comments.
fn disk_accesses(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut lines = source.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let code = line.split("//").next().unwrap_or("").trim();
        if code.starts_with("#[cfg(test)]") {
            skip_item(&mut lines);
            continue;
        }
        if DISK_ACCESS.iter().any(|needle| code.contains(needle)) {
            found.push((index + 1, code.to_owned()));
        }
    }
    found
}

/// Skips the item after an attribute: up to its `;`, or to the brace that
/// closes the one it opens.
fn skip_item<'a>(lines: &mut impl Iterator<Item = (usize, &'a str)>) {
    let mut depth = 0i64;
    let mut opened = false;
    for (_, line) in lines {
        let code = line.split("//").next().unwrap_or("");
        for c in code.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        if (opened && depth <= 0) || (!opened && code.trim_end().ends_with(';')) {
            return;
        }
    }
}

#[test]
fn only_the_io_crates_touch_the_disk() {
    let crates = crates_dir();
    let mut offences = Vec::new();
    let mut scanned = 0;
    for entry in std::fs::read_dir(&crates)
        .expect("crates/ is listable")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if IO_CRATES.contains(&name.as_str()) {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&entry.path().join("src"), &mut files);
        let tests = test_module_files(&files);
        for file in files.iter().filter(|f| !tests.contains(f)) {
            let relative = file
                .strip_prefix(&crates)
                .expect("under crates/")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(file).expect("source is readable");
            scanned += 1;
            for (line, code) in disk_accesses(&text) {
                let allowed = BINARY_WRITES
                    .iter()
                    .any(|(path, needle)| relative == *path && code.contains(needle));
                if !allowed {
                    offences.push(format!("crates/{relative}:{line}: {code}"));
                }
            }
        }
    }
    assert!(scanned > 50, "only {scanned} source files found");
    assert!(
        offences.is_empty(),
        "disk access outside {IO_CRATES:?} (load the file into the Workspace instead):\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_rules_depend_on_core_and_the_model_only() {
    let manifest = std::fs::read_to_string(crates_dir().join("poolcheck-rules/Cargo.toml"))
        .expect("manifest is readable");
    let document: toml_edit::DocumentMut = manifest.parse().expect("manifest is TOML");
    let dependencies = document["dependencies"]
        .as_table()
        .expect("[dependencies] table");
    let project_crates: Vec<&str> = dependencies
        .iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("poolcheck"))
        .collect();
    assert_eq!(project_crates, ["poolcheck-core", "poolcheck-model"]);

    let mut files = Vec::new();
    rust_files(&crates_dir().join("poolcheck-rules"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source is readable");
        assert!(
            !text.contains("poolcheck_extract"),
            "{} names the parser crate",
            file.display()
        );
    }
}

#[test]
fn the_scanner_sees_disk_access_outside_tests_only() {
    let source = "\
use std::path::Path;
fn load(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default() // reads
}
// fs::write in a comment is no access
fn probe(p: &Path) -> bool { p.is_file() }
#[cfg(test)]
mod tests {
    fn fixture() { std::fs::write(\"x\", \"y\").unwrap(); }
}
#[cfg(test)]
use std::fs::File;
fn after() { let _ = std::fs::metadata(\"x\"); }
";
    let lines: Vec<usize> = disk_accesses(source).into_iter().map(|(l, _)| l).collect();
    assert_eq!(lines, [3, 6, 13]);
}

#[test]
fn out_of_line_test_modules_are_test_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let helm = dir.path().join("helm");
    std::fs::create_dir_all(&helm).expect("mkdir");
    std::fs::write(
        helm.join("mod.rs"),
        "pub fn render() {}\n#[cfg(test)]\nmod tests;\nmod values;\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("django.rs"), "#[cfg(test)]\nmod tests;\n").expect("write");
    let files = vec![helm.join("mod.rs"), dir.path().join("django.rs")];
    let tests = test_module_files(&files);
    assert!(tests.contains(&helm.join("tests.rs")));
    assert!(tests.contains(&dir.path().join("django/tests.rs")));
    assert!(!tests.contains(&helm.join("values.rs")));
}

/// What assembly may name from the parser crate: the Python evaluator
/// (which code a service runs, and the pools it opens) and the typed view
/// of a resolved PgBouncer's settings. Every deployment platform reaches
/// assembly through `Declarations` instead.
const ASSEMBLY_MAY_NAME: &[&str] = &[
    "poolcheck_extract::python",
    "poolcheck_extract::pgbouncer::view",
];

#[test]
fn assembly_reads_declarations_not_file_kinds_or_front_ends() {
    let topology = crates_dir().join("poolcheck-model/src/topology");
    let mut files = Vec::new();
    rust_files(&topology, &mut files);
    assert!(
        files.len() > 5,
        "only {} files under {topology:?}",
        files.len()
    );
    let mut offences = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source is readable");
        for (index, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let names_front_end = code.contains("poolcheck_extract::")
                && !ASSEMBLY_MAY_NAME
                    .iter()
                    .any(|allowed| code.contains(allowed));
            if code.contains("FileKind") || names_front_end {
                offences.push(format!("{}:{}: {}", file.display(), index + 1, line.trim()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "assembly dispatches on file kinds or calls a front-end (lower it in poolcheck-model/src/lower/ instead):\n{}",
        offences.join("\n")
    );
}
