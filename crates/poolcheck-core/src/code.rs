//! Rule codes: the one list of every code poolcheck knows, and the selectors
//! users write in `select`, `ignore`, `severity`, `--select` and
//! `poolcheck: ignore[...]` comments (a code, a prefix such as `PC1`, or `ALL`).

use std::fmt;
use std::str::FromStr;

macro_rules! codes {
    ($($code:ident),* $(,)?) => {
        /// A rule code. Codes are stable: users write them in suppressions and
        /// CI configurations.
        #[allow(
            clippy::upper_case_acronyms,
            reason = "the variants are spelt as users write the codes"
        )]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($code,)*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$code,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }
        }
    };
}

codes![
    PC001, PC002, PC003, PC004, //
    PC101, PC102, PC103, PC104, PC105, PC106, PC107, PC108, PC109, //
    PC201, PC202, PC203, PC204, PC205, PC206, PC207, PC208, PC209, //
    PC301, PC302, PC303, PC304, //
    PC401, PC402, PC403, PC404, PC405, //
    PC501, PC502, PC503,
];

impl Code {
    /// The code spelt exactly (`PC101`; case-insensitive, as users type it
    /// in comments and on the command line).
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<Code> for &'static str {
    fn from(code: Code) -> Self {
        code.as_str()
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Code> for &str {
    fn eq(&self, other: &Code) -> bool {
        *self == other.as_str()
    }
}

/// Why a text is not a rule code or selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeError {
    /// Five characters of the form `PCddd` that name no rule (`PC999`).
    UnknownCode,
    /// A well-formed prefix that starts no code (`PC9`).
    NoCodeStartsWith,
    /// Not of the form `PC` + digits (`E501`, `pc101` where case matters).
    NotACode {
        /// The selector meant, when only the letter case was wrong.
        uppercase: Option<String>,
    },
}

impl fmt::Display for CodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeError::UnknownCode => f.write_str("unknown rule code"),
            CodeError::NoCodeStartsWith => f.write_str("no rule code starts with this prefix"),
            CodeError::NotACode { .. } => f.write_str("not a rule code or prefix"),
        }
    }
}

impl std::error::Error for CodeError {}

impl FromStr for Code {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Code, CodeError> {
        match Selector::parse_strict(text)? {
            Selector::Code(code) => Ok(code),
            _ => Err(if text.len() == 5 {
                CodeError::UnknownCode
            } else {
                CodeError::NotACode { uppercase: None }
            }),
        }
    }
}

/// What a `select`/`ignore`/`severity` entry or a suppression names: every
/// rule, one code, or the codes that start with a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Selector {
    All,
    Code(Code),
    /// A proper prefix of at least one code, upper case (`PC`, `PC1`, `PC10`).
    Prefix(&'static str),
}

impl Selector {
    /// Reads a selector as the configuration file spells it: `ALL`, or `PC`
    /// followed by up to three digits, in upper case, that starts some code.
    pub fn parse_strict(text: &str) -> Result<Selector, CodeError> {
        if text == "ALL" {
            return Ok(Selector::All);
        }
        let well_formed = text.len() <= 5
            && text.starts_with("PC")
            && text[2..].bytes().all(|b| b.is_ascii_digit());
        if !well_formed {
            let upper = text.to_ascii_uppercase();
            let uppercase =
                (upper != text && Selector::parse_strict(&upper).is_ok()).then_some(upper);
            return Err(CodeError::NotACode { uppercase });
        }
        if let Some(code) = Code::ALL.iter().find(|c| c.as_str() == text) {
            return Ok(Selector::Code(*code));
        }
        match Code::ALL.iter().find(|c| c.as_str().starts_with(text)) {
            Some(code) => Ok(Selector::Prefix(&code.as_str()[..text.len()])),
            None if text.len() == 5 => Err(CodeError::UnknownCode),
            None => Err(CodeError::NoCodeStartsWith),
        }
    }

    /// Reads a selector as the command line, editors and suppression comments
    /// accept it: surrounding space and letter case do not matter.
    pub fn parse(text: &str) -> Result<Selector, CodeError> {
        Selector::parse_strict(&text.trim().to_ascii_uppercase())
    }

    pub fn matches(self, code: Code) -> bool {
        match self {
            Selector::All => true,
            Selector::Code(c) => c == code,
            Selector::Prefix(prefix) => code.as_str().starts_with(prefix),
        }
    }

    /// The codes this selector names, in order.
    pub fn codes(self) -> impl Iterator<Item = Code> {
        Code::ALL.iter().copied().filter(move |c| self.matches(*c))
    }

    /// How specific the selector is: `ALL` least, a full code most.
    pub fn specificity(self) -> usize {
        match self {
            Selector::All => 0,
            Selector::Code(c) => c.as_str().len(),
            Selector::Prefix(p) => p.len(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Selector::All => "ALL",
            Selector::Code(c) => c.as_str(),
            Selector::Prefix(p) => p,
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Selector {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Selector, CodeError> {
        Selector::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_display_as_written_and_parse_back() {
        assert_eq!(Code::PC101.to_string(), "PC101");
        for code in Code::ALL {
            assert_eq!(code.as_str().parse::<Code>(), Ok(*code));
        }
        let mut sorted = Code::ALL.to_vec();
        sorted.sort_by_key(|c| c.as_str());
        assert_eq!(sorted, Code::ALL);
        assert_eq!(Code::parse(" pc503 "), Some(Code::PC503));
        assert_eq!("PC999".parse::<Code>(), Err(CodeError::UnknownCode));
        assert!("PC1".parse::<Code>().is_err());
    }

    #[test]
    fn selectors_name_a_code_a_prefix_or_all() {
        assert_eq!(
            Selector::parse_strict("PC101"),
            Ok(Selector::Code(Code::PC101))
        );
        assert_eq!(Selector::parse_strict("PC1"), Ok(Selector::Prefix("PC1")));
        assert_eq!(Selector::parse_strict("PC"), Ok(Selector::Prefix("PC")));
        assert_eq!(Selector::parse_strict("ALL"), Ok(Selector::All));
        assert_eq!(Selector::parse("all"), Ok(Selector::All));
        assert_eq!(Selector::parse(" pc10 "), Ok(Selector::Prefix("PC10")));
        assert_eq!(
            Selector::parse_strict("PC9"),
            Err(CodeError::NoCodeStartsWith)
        );
        assert_eq!(Selector::parse_strict("PC999"), Err(CodeError::UnknownCode));
        assert_eq!(
            Selector::parse_strict("pc101"),
            Err(CodeError::NotACode {
                uppercase: Some("PC101".to_owned())
            })
        );
        assert_eq!(
            Selector::parse_strict("E501"),
            Err(CodeError::NotACode { uppercase: None })
        );
        assert_eq!(
            Selector::parse_strict("PC1011"),
            Err(CodeError::NotACode { uppercase: None })
        );
    }

    #[test]
    fn prefixes_match_their_family_only() {
        let family: Vec<Code> = Selector::Prefix("PC10").codes().collect();
        assert_eq!(family.first(), Some(&Code::PC101));
        assert_eq!(family.last(), Some(&Code::PC109));
        assert!(!Selector::Prefix("PC2").matches(Code::PC101));
        assert!(Selector::All.matches(Code::PC002));
        assert_eq!(Selector::Code(Code::PC105).codes().count(), 1);
        assert!(Selector::Prefix("PC1").specificity() < Selector::Code(Code::PC105).specificity());
    }
}
