//! The position-preserving YAML layer the YAML front-ends share (compose,
//! Kubernetes manifests, kustomizations): saphyr's `MarkedYaml`, whose
//! markers count characters, behind helpers that give byte spans, decoded
//! scalars aligned back to the file's bytes, and mappings with `<<` merge
//! keys applied.

use poolcheck_core::Span;
use saphyr::{MarkedYaml, Scalar, YamlData};

use crate::shell::OffsetMap;

/// Converts saphyr's character markers to byte offsets.
pub(crate) struct Positions<'a> {
    pub(crate) text: &'a str,
    /// Byte offset of each character, when the text is not ASCII.
    char_starts: Option<Vec<u32>>,
}

impl<'a> Positions<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let char_starts = (!text.is_ascii()).then(|| {
            text.char_indices()
                .map(|(i, _)| i as u32)
                .chain(std::iter::once(text.len() as u32))
                .collect()
        });
        Self { text, char_starts }
    }

    pub(crate) fn byte(&self, char_index: usize) -> usize {
        match &self.char_starts {
            None => char_index.min(self.text.len()),
            Some(starts) => starts
                .get(char_index)
                .or_else(|| starts.last())
                .map_or(0, |&b| b as usize),
        }
    }

    pub(crate) fn span(&self, node: &MarkedYaml<'_>) -> Span {
        let start = self.byte(node.span.start.index());
        let end = self.byte(node.span.end.index()).max(start);
        Span::new(start, end)
    }

    /// The node's span without a trailing line break (block scalars end
    /// after it).
    pub(crate) fn trimmed_span(&self, node: &MarkedYaml<'_>) -> Span {
        let span = self.span(node);
        let slice = &self.text[span.range()];
        let trimmed = slice.trim_end_matches(['\n', '\r', ' ']);
        Span::new(span.start as usize, span.start as usize + trimmed.len())
    }

    /// Where each byte of a decoded scalar `value` sits in the file: the
    /// characters are matched in order against the node's source text,
    /// skipping quotes, escapes, indentation and folded line breaks.
    pub(crate) fn value_map(&self, node: &MarkedYaml<'_>, value: &str) -> OffsetMap {
        let span = self.span(node);
        let source = &self.text[span.range()];
        if source == value {
            return OffsetMap::Shifted(span.start as usize);
        }
        let base = span.start as usize;
        let src: Vec<(usize, char)> = source.char_indices().collect();
        let mut table = Vec::with_capacity(value.len() + 1);
        let mut j = 0usize;
        for c in value.chars() {
            let window = src
                .iter()
                .skip(j)
                .take(12)
                .position(|&(_, s)| s == c || (c.is_whitespace() && s.is_whitespace()));
            let at = match window {
                Some(k) => {
                    j += k;
                    let at = src[j].0;
                    j += 1;
                    at
                }
                None => src.get(j).map_or(source.len(), |&(i, _)| i),
            };
            for k in 0..c.len_utf8() {
                table.push((base + at + k) as u32);
            }
        }
        table.push((base + src.get(j).map_or(source.len(), |&(i, _)| i)) as u32);
        OffsetMap::Table(table)
    }
}

/// The text of a scalar as compose sees it: strings decoded, numbers and
/// booleans as written.
pub(crate) fn scalar_text(node: &MarkedYaml<'_>, positions: &Positions<'_>) -> Option<String> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Value(Scalar::Null) => None,
        YamlData::Value(_) => Some(positions.text[positions.span(node).range()].to_owned()),
        YamlData::Tagged(_, inner) => scalar_text(inner, positions),
        _ => None,
    }
}

/// Entries of a mapping, with `<<` merge keys applied (own keys win).
pub(crate) fn entries<'n, 'i>(
    node: &'n MarkedYaml<'i>,
) -> Vec<(String, &'n MarkedYaml<'i>, &'n MarkedYaml<'i>)> {
    let mut out = Vec::new();
    collect_entries(node, &mut out, 0);
    out
}

fn collect_entries<'n, 'i>(
    node: &'n MarkedYaml<'i>,
    out: &mut Vec<(String, &'n MarkedYaml<'i>, &'n MarkedYaml<'i>)>,
    depth: usize,
) {
    let YamlData::Mapping(mapping) = &node.data else {
        return;
    };
    let mut merged = Vec::new();
    for (key, value) in mapping {
        let Some(name) = key_text(key) else { continue };
        if name == "<<" && depth < 8 {
            match &value.data {
                YamlData::Sequence(items) => {
                    for item in items {
                        collect_entries(item, &mut merged, depth + 1);
                    }
                }
                _ => collect_entries(value, &mut merged, depth + 1),
            }
        } else if let Some(existing) = out.iter_mut().find(|(k, _, _)| *k == name) {
            *existing = (name, key, value);
        } else {
            out.push((name, key, value));
        }
    }
    for entry in merged {
        if !out.iter().any(|(k, _, _)| *k == entry.0) {
            out.push(entry);
        }
    }
}

pub(crate) fn key_text(key: &MarkedYaml<'_>) -> Option<String> {
    match &key.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn get<'n, 'i>(node: &'n MarkedYaml<'i>, key: &str) -> Option<&'n MarkedYaml<'i>> {
    entries(node)
        .into_iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, _, v)| v)
}

/// A copy of `text`, with every byte offset unchanged, that saphyr accepts
/// where it is stricter than Docker Compose's YAML reader: comment lines
/// inside a multi-line flow sequence are blanked, a closing `]`/`}` alone
/// on a line indented no deeper than its key (`test: [` … `]`) is moved onto
/// the previous line's trailing comma, and merge keys repeated in one
/// mapping are folded into one (see [`fold_repeated_merge_keys`]). `None`
/// when nothing needed relaxing.
pub(crate) fn relaxed_yaml(text: &str) -> Option<String> {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    let blank = |line: &str| -> String {
        line.chars()
            .map(|c| if c == '\n' || c == '\r' { c } else { ' ' })
            .collect()
    };
    let mut changed = false;
    for i in 0..lines.len() {
        let trimmed = lines[i].trim();
        if trimmed.starts_with('#') {
            lines[i] = blank(&lines[i]);
            changed = true;
        } else if trimmed == "]" || trimmed == "}" {
            let closer = trimmed.to_owned();
            let previous = (0..i).rev().find(|&j| !lines[j].trim().is_empty());
            if let Some(j) = previous {
                let content_end = lines[j].trim_end().len();
                if lines[j].trim_end().ends_with(',') {
                    lines[j].replace_range(content_end - 1..content_end, &closer);
                    lines[i] = blank(&lines[i]);
                    changed = true;
                }
            }
        }
    }
    changed |= fold_repeated_merge_keys(&mut lines);
    changed.then(|| lines.concat())
}

/// `<<: *a` on consecutive lines of one mapping (mediacloud's compose
/// merges a placement and an endpoint mode that way): saphyr refuses the
/// repeated key, PyYAML merges both, the later one winning a conflict. The
/// lines become one `<<: [*a, *b]`, in which [`entries`] also lets the
/// later one win, padded with spaces to the characters the lines held, so
/// that every later position is unchanged.
fn fold_repeated_merge_keys(lines: &mut [String]) -> bool {
    /// The indentation and the alias of a line that is only `<<: *alias`.
    fn merge_line(line: &str) -> Option<(usize, &str)> {
        let content = line.trim_end_matches(['\n', '\r']);
        let body = content.trim_start_matches(' ');
        let alias = body.strip_prefix("<<:")?.trim();
        let valid = alias.len() > 1
            && alias.starts_with('*')
            && !alias.contains(|c: char| c.is_whitespace() || c == '#' || c == ',');
        valid.then(|| (content.len() - body.len(), alias))
    }
    let mut changed = false;
    let mut i = 0;
    while i < lines.len() {
        let Some((indent, _)) = merge_line(&lines[i]) else {
            i += 1;
            continue;
        };
        let mut end = i + 1;
        while end < lines.len() && merge_line(&lines[end]).is_some_and(|(at, _)| at == indent) {
            end += 1;
        }
        if end - i >= 2 {
            let aliases: Vec<String> = lines[i..end]
                .iter()
                .filter_map(|line| merge_line(line).map(|(_, alias)| alias.to_owned()))
                .collect();
            let last = &lines[end - 1];
            let ending = &last[last.trim_end_matches(['\n', '\r']).len()..];
            let ending = ending.to_owned();
            let held: usize = lines[i..end]
                .iter()
                .map(|l| l.chars().count())
                .sum::<usize>()
                - ending.chars().count();
            let folded = format!("{}<<: [{}]", " ".repeat(indent), aliases.join(", "));
            let width = folded.chars().count();
            if width <= held {
                lines[i] = format!("{folded}{}{ending}", " ".repeat(held - width));
                for line in &mut lines[i + 1..end] {
                    line.clear();
                }
                changed = true;
            }
        }
        i = end;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr::LoadableYamlNode;

    #[test]
    fn repeated_merge_keys_are_folded_in_place() {
        let text = "x-a: &a\n  k: 1\nx-b: &b\n  k: 2\nsvc:\n  deploy:\n    <<: *a\n    <<: *b\n  image: app\n";
        let relaxed = relaxed_yaml(text).expect("relaxed");
        assert_eq!(relaxed.chars().count(), text.chars().count());
        assert!(relaxed.contains("    <<: [*a, *b]"), "{relaxed:?}");
        // Every position after the folded lines is where it was.
        assert_eq!(relaxed.find("image: app"), text.find("image: app"));
        let docs = MarkedYaml::load_from_str(&relaxed).expect("saphyr reads it");
        let deploy = get(get(&docs[0], "svc").unwrap(), "deploy").unwrap();
        let merged = entries(deploy);
        assert_eq!(merged.len(), 1);
        // PyYAML: of two merge keys the later wins.
        assert!(
            matches!(merged[0].2.data, YamlData::Value(Scalar::Integer(2))),
            "{:?}",
            merged[0].2.data
        );
    }

    #[test]
    fn a_single_merge_key_is_left_alone() {
        assert_eq!(relaxed_yaml("svc:\n  <<: *a\n  image: app\n"), None);
    }
}
