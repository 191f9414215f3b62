//! The editor setups in `editors/` that can be checked without an editor.

use std::path::Path;

use toml_edit::DocumentMut;

fn helix_config() -> DocumentMut {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../editors/helix/languages.toml");
    std::fs::read_to_string(path)
        .expect("editors/helix/languages.toml")
        .parse()
        .expect("valid TOML")
}

fn languages(doc: &DocumentMut) -> Vec<(String, &toml_edit::Table)> {
    doc["language"]
        .as_array_of_tables()
        .expect("[[language]] tables")
        .iter()
        .map(|t| (t["name"].as_str().expect("a name").to_owned(), t))
        .collect()
}

fn servers(table: &toml_edit::Table) -> Vec<&str> {
    table["language-servers"]
        .as_array()
        .expect("language-servers")
        .iter()
        .map(|v| v.as_str().expect("a server name"))
        .collect()
}

/// Helix 25.07.1's own `language-servers` for the languages poolcheck joins
/// (its languages.toml). A user's list replaces this one, so poolcheck's
/// must start with all of it.
const HELIX_DEFAULTS: &[(&str, &[&str])] = &[
    ("python", &["ty", "ruff", "jedi", "pylsp"]),
    ("toml", &["taplo", "tombi"]),
    ("yaml", &["yaml-language-server", "ansible-language-server"]),
    (
        "docker-compose",
        &["docker-compose-langserver", "yaml-language-server"],
    ),
    ("dockerfile", &["docker-langserver"]),
    ("bash", &["bash-language-server"]),
    ("ini", &[]),
    ("env", &[]),
];

#[test]
fn helix_keeps_each_languages_default_servers_and_appends_poolcheck() {
    let doc = helix_config();
    assert_eq!(
        doc["language-server"]["poolcheck"]["command"].as_str(),
        Some("poolcheck")
    );
    let languages = languages(&doc);
    for (name, defaults) in HELIX_DEFAULTS {
        let (_, table) = languages
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("poolcheck joins {name}"));
        let mut expected = defaults.to_vec();
        expected.push("poolcheck");
        assert_eq!(servers(table), expected, "{name}");
    }
    for (name, table) in &languages {
        if !HELIX_DEFAULTS.iter().any(|(n, _)| n == name) {
            // A language of its own: only for files no built-in language claims.
            assert_eq!(servers(table), ["poolcheck"], "{name}");
        }
    }
}

#[test]
fn helix_leaves_ini_files_to_the_ini_language() {
    let doc = helix_config();
    for (name, table) in languages(&doc) {
        let Some(types) = table.get("file-types").and_then(|t| t.as_array()) else {
            continue;
        };
        for file_type in types {
            let glob = file_type
                .as_inline_table()
                .and_then(|t| t.get("glob"))
                .and_then(|g| g.as_str())
                .or_else(|| file_type.as_str())
                .unwrap_or_default();
            assert!(
                !glob.to_ascii_lowercase().ends_with(".ini") && !glob.contains("pgbouncer"),
                "{name} claims {glob}, which Helix reads as ini"
            );
        }
    }
}
