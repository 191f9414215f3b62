//! Output renderers: one module per format.

pub mod budget_human;
pub mod budget_json;
pub mod concise;
#[cfg(test)]
mod fixture;
pub mod github;
pub mod gitlab;
pub mod human;
pub mod json;
pub mod junit;
pub mod sarif;

use poolcheck_core::{LineCol, Location};
use poolcheck_rules::sources::Sources;

/// 1-based start and end of a location (1:1 when the file is unknown).
pub fn line_cols(location: &Location, sources: &Sources) -> (LineCol, LineCol) {
    sources.get(&location.file).map_or(
        (
            LineCol { line: 1, column: 1 },
            LineCol { line: 1, column: 1 },
        ),
        |file| file.span_line_cols(location.span),
    )
}
