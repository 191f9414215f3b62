//! Vocabulary shared by every poolcheck crate: source files and positions,
//! values with provenance, the facts front-ends extract, rule codes and
//! diagnostics.
//! Nothing here parses.

pub mod code;
pub mod decode;
pub mod diagnostic;
pub mod env;
pub mod facts;
pub mod source;
pub mod value;
pub mod version;

pub use code::{Code, CodeError, Selector};
pub use diagnostic::{Applicability, Diagnostic, Edit, Fix, Related, Severity};
pub use env::{EnvVar, Environment};
pub use facts::{ConfigEntry, FileFacts, FileKind};
pub use source::{
    FilePath, LineCol, LineIndex, Location, LspPosition, PositionEncoding, SourceFile, Span,
    is_lexically_within, normalize_lexically, show_paths_from,
};
pub use value::{Bound, IntExpr, Origin, Sourced};
pub use version::Version;
