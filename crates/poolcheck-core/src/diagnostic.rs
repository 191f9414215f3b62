//! Findings as every output format and the language server consume them.

use std::fmt;

use crate::code::Code;
use crate::source::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A location that contributes to a finding, with what it contributes
/// ("8 workers", "max_connections = 200").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Related {
    pub location: Location,
    pub message: String,
}

/// One text replacement. Edits of one fix never overlap.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edit {
    pub location: Location,
    pub new_text: String,
}

/// Whether a fix keeps what the program does, as ruff's fixes say it.
///
/// `check --fix` applies safe fixes only; unsafe ones need `--unsafe-fixes`.
/// The language server offers both as quick fixes (the user sees each one)
/// but its "fix all" takes the safe ones only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Applicability {
    /// Turns off a behaviour the deployment cannot support, or repairs a file
    /// its reader refuses: nothing that works today works differently.
    Safe,
    /// Changes how the application behaves where it works today (connection
    /// lifetime, memory use of large querysets, a package to install): a
    /// person should look at it first.
    Unsafe,
}

impl Applicability {
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Safe => "safe",
            Applicability::Unsafe => "unsafe",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<Edit>,
    pub applicability: Applicability,
}

impl Fix {
    pub fn safe(title: impl Into<String>, edits: Vec<Edit>) -> Self {
        Self {
            title: title.into(),
            edits,
            applicability: Applicability::Safe,
        }
    }

    pub fn unsafe_fix(title: impl Into<String>, edits: Vec<Edit>) -> Self {
        Self {
            title: title.into(),
            edits,
            applicability: Applicability::Unsafe,
        }
    }

    pub fn is_safe(&self) -> bool {
        self.applicability == Applicability::Safe
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// Stable rule code, e.g. `PC101`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub primary: Location,
    /// A short label for the primary span in snippet output.
    pub label: Option<String>,
    pub related: Vec<Related>,
    pub help: Option<String>,
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// A finding of rule `code`: only codes of the one list in
    /// [`Code`] exist, so a misspelt code does not compile.
    pub fn new(
        code: Code,
        severity: Severity,
        primary: Location,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code: code.as_str(),
            severity,
            message: message.into(),
            primary,
            label: None,
            related: Vec::new(),
            help: None,
            fix: None,
        }
    }

    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn with_related(mut self, location: Location, message: impl Into<String>) -> Self {
        self.related.push(Related {
            location,
            message: message.into(),
        });
        self
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    /// Order used by every output: file, position, code, then message.
    pub fn sort_key(&self) -> (&crate::FilePath, u32, u32, &'static str, &str) {
        (
            &self.primary.file,
            self.primary.span.start,
            self.primary.span.end,
            self.code,
            &self.message,
        )
    }
}
