//! Values with provenance: every setting a rule reads says where it came from
//! and how it was decided, so messages can quote it and rules never guess.

use std::fmt;

use crate::source::Location;

/// How a value was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Written out in a file at `Sourced::location`.
    Literal,
    /// The tool's own default because the setting is absent, e.g. `SQLAlchemy 2.0`
    /// for `pool_size = 5`. poolcheck's own assumptions are written
    /// [`ASSUMPTION`]` + why`, and their phrase is the reason alone.
    ToolDefault { tool: String },
    /// The default of an environment lookup (`os.environ.get("X", "4")`,
    /// `${X:-4}`) because the environment model has no value for `var`.
    EnvDefault { var: String },
    /// A value the environment model gives `var`; `source` names where it was
    /// declared (`.env:3`, `docker-compose.yml service web`, `poolcheck.toml`).
    EnvValue { var: String, source: String },
    /// Folded from other values; `expr` is the expression as written.
    Computed { expr: String },
    /// Declared in the poolcheck configuration (`[database] max_connections`).
    Declared,
    /// Not knowable statically; the reason says what is missing.
    Unknown { reason: String },
}

/// Marks a [`Origin::ToolDefault`] that poolcheck assumed, so that messages
/// say the reason ("no server command found, so one implicit process")
/// instead of "<tool> default".
pub const ASSUMPTION: &str = "poolcheck: ";

/// A value and its provenance. `value` is `None` exactly when the origin is
/// [`Origin::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: Option<T>,
    pub origin: Origin,
    /// Where the value (or the expression that produced it) is written, if anywhere.
    pub location: Option<Location>,
}

impl<T> Sourced<T> {
    pub fn literal(value: T, location: Location) -> Self {
        Self {
            value: Some(value),
            origin: Origin::Literal,
            location: Some(location),
        }
    }

    pub fn tool_default(value: T, tool: impl Into<String>) -> Self {
        Self {
            value: Some(value),
            origin: Origin::ToolDefault { tool: tool.into() },
            location: None,
        }
    }

    pub fn declared(value: T, location: Location) -> Self {
        Self {
            value: Some(value),
            origin: Origin::Declared,
            location: Some(location),
        }
    }

    pub fn computed(value: T, expr: impl Into<String>, location: Option<Location>) -> Self {
        Self {
            value: Some(value),
            origin: Origin::Computed { expr: expr.into() },
            location,
        }
    }

    pub fn unknown(reason: impl Into<String>, location: Option<Location>) -> Self {
        Self {
            value: None,
            origin: Origin::Unknown {
                reason: reason.into(),
            },
            location,
        }
    }

    pub fn with_origin(value: T, origin: Origin, location: Option<Location>) -> Self {
        Self {
            value: Some(value),
            origin,
            location,
        }
    }

    pub fn is_known(&self) -> bool {
        self.value.is_some()
    }

    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    pub fn is_default(&self) -> bool {
        matches!(self.origin, Origin::ToolDefault { .. })
    }

    /// The reason the value is unknown, if it is.
    pub fn unknown_reason(&self) -> Option<&str> {
        match &self.origin {
            Origin::Unknown { reason } => Some(reason),
            _ => None,
        }
    }

    /// Same provenance, transformed value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Sourced<U> {
        Sourced {
            value: self.value.map(f),
            origin: self.origin,
            location: self.location,
        }
    }

    /// Same provenance, a fallible transformation; failure makes it unknown.
    pub fn and_then<U>(self, reason: &str, f: impl FnOnce(T) -> Option<U>) -> Sourced<U> {
        match self.value.and_then(f) {
            Some(v) => Sourced {
                value: Some(v),
                origin: self.origin,
                location: self.location,
            },
            None => Sourced {
                value: None,
                origin: match self.origin {
                    Origin::Unknown { reason } => Origin::Unknown { reason },
                    _ => Origin::Unknown {
                        reason: reason.to_owned(),
                    },
                },
                location: self.location,
            },
        }
    }

    pub fn as_ref(&self) -> Sourced<&T> {
        Sourced {
            value: self.value.as_ref(),
            origin: self.origin.clone(),
            location: self.location.clone(),
        }
    }

    /// A short provenance phrase for messages, without the location:
    /// `default`, `SQLAlchemy default`, `$WEB_CONCURRENCY default`, `from $X (.env)`.
    pub fn origin_phrase(&self) -> Option<String> {
        match &self.origin {
            Origin::Literal | Origin::Declared => None,
            Origin::ToolDefault { tool } => Some(match tool.strip_prefix(ASSUMPTION) {
                Some(reason) => reason.to_owned(),
                None => format!("{tool} default"),
            }),
            Origin::EnvDefault { var } => Some(format!("default of ${var}")),
            Origin::EnvValue { var, source } => Some(format!("${var} from {source}")),
            Origin::Computed { expr } => Some(format!("= {expr}")),
            Origin::Unknown { reason } => Some(format!("unknown: {reason}")),
        }
    }
}

/// An integer that may depend on the host's CPU count (`2 * cpu_count() + 1`),
/// kept symbolic so the budget can be evaluated for every CPU count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntExpr {
    Const(i64),
    /// The CPU count the process sees.
    Cpus,
    Add(Box<IntExpr>, Box<IntExpr>),
    Sub(Box<IntExpr>, Box<IntExpr>),
    Mul(Box<IntExpr>, Box<IntExpr>),
    FloorDiv(Box<IntExpr>, Box<IntExpr>),
    Max(Box<IntExpr>, Box<IntExpr>),
    Min(Box<IntExpr>, Box<IntExpr>),
}

impl IntExpr {
    pub fn constant(&self) -> Option<i64> {
        match self {
            IntExpr::Const(v) => Some(*v),
            _ if !self.depends_on_cpus() => self.eval(1),
            _ => None,
        }
    }

    pub fn depends_on_cpus(&self) -> bool {
        match self {
            IntExpr::Const(_) => false,
            IntExpr::Cpus => true,
            IntExpr::Add(a, b)
            | IntExpr::Sub(a, b)
            | IntExpr::Mul(a, b)
            | IntExpr::FloorDiv(a, b)
            | IntExpr::Max(a, b)
            | IntExpr::Min(a, b) => a.depends_on_cpus() || b.depends_on_cpus(),
        }
    }

    /// The value on a host with `cpus` CPUs; `None` on overflow or division by zero.
    pub fn eval(&self, cpus: u32) -> Option<i64> {
        Some(match self {
            IntExpr::Const(v) => *v,
            IntExpr::Cpus => i64::from(cpus),
            IntExpr::Add(a, b) => a.eval(cpus)?.checked_add(b.eval(cpus)?)?,
            IntExpr::Sub(a, b) => a.eval(cpus)?.checked_sub(b.eval(cpus)?)?,
            IntExpr::Mul(a, b) => a.eval(cpus)?.checked_mul(b.eval(cpus)?)?,
            IntExpr::FloorDiv(a, b) => {
                let d = b.eval(cpus)?;
                if d == 0 {
                    return None;
                }
                a.eval(cpus)?.div_euclid(d)
            }
            IntExpr::Max(a, b) => a.eval(cpus)?.max(b.eval(cpus)?),
            IntExpr::Min(a, b) => a.eval(cpus)?.min(b.eval(cpus)?),
        })
    }

    /// The most the value reaches on any host, when a cap (`min(…, 9)`)
    /// bounds it: the values on a large host and a far larger one agree,
    /// and no smaller host gives more.
    pub fn cap(&self) -> Option<i64> {
        let large = self.eval(1 << 12)?;
        if self.eval(1 << 20)? != large {
            return None;
        }
        let most = (1..=256).filter_map(|n| self.eval(n)).max()?;
        Some(most.max(large))
    }

    fn precedence(&self) -> u8 {
        match self {
            IntExpr::Add(..) | IntExpr::Sub(..) => 1,
            IntExpr::Mul(..) | IntExpr::FloorDiv(..) => 2,
            _ => 3,
        }
    }

    fn fmt_operand(&self, f: &mut fmt::Formatter<'_>, parent: u8) -> fmt::Result {
        if self.precedence() < parent {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl From<i64> for IntExpr {
    fn from(v: i64) -> Self {
        IntExpr::Const(v)
    }
}

impl fmt::Display for IntExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let binary = |f: &mut fmt::Formatter<'_>, a: &IntExpr, op: &str, b: &IntExpr, p: u8| {
            a.fmt_operand(f, p)?;
            write!(f, " {op} ")?;
            b.fmt_operand(f, p + 1)
        };
        match self {
            IntExpr::Const(v) => write!(f, "{v}"),
            IntExpr::Cpus => f.write_str("cpus"),
            IntExpr::Add(a, b) => binary(f, a, "+", b, 1),
            IntExpr::Sub(a, b) => binary(f, a, "−", b, 1),
            IntExpr::Mul(a, b) => binary(f, a, "×", b, 2),
            IntExpr::FloorDiv(a, b) => binary(f, a, "//", b, 2),
            IntExpr::Max(a, b) => write!(f, "max({a}, {b})"),
            IntExpr::Min(a, b) => write!(f, "min({a}, {b})"),
        }
    }
}

/// A count that may be unbounded (ASGI concurrency, `max_overflow = -1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bound {
    Finite(u64),
    Unbounded,
}

impl Bound {
    pub fn finite(self) -> Option<u64> {
        match self {
            Bound::Finite(v) => Some(v),
            Bound::Unbounded => None,
        }
    }

    #[must_use]
    pub fn saturating_mul(self, other: Bound) -> Bound {
        match (self, other) {
            (Bound::Finite(0), _) | (_, Bound::Finite(0)) => Bound::Finite(0),
            (Bound::Finite(a), Bound::Finite(b)) => Bound::Finite(a.saturating_mul(b)),
            _ => Bound::Unbounded,
        }
    }

    #[must_use]
    pub fn saturating_add(self, other: Bound) -> Bound {
        match (self, other) {
            (Bound::Finite(a), Bound::Finite(b)) => Bound::Finite(a.saturating_add(b)),
            _ => Bound::Unbounded,
        }
    }

    #[must_use]
    pub fn min(self, other: Bound) -> Bound {
        match (self, other) {
            (Bound::Finite(a), Bound::Finite(b)) => Bound::Finite(a.min(b)),
            (Bound::Finite(a), Bound::Unbounded) | (Bound::Unbounded, Bound::Finite(a)) => {
                Bound::Finite(a)
            }
            (Bound::Unbounded, Bound::Unbounded) => Bound::Unbounded,
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Finite(v) => write!(f, "{v}"),
            Bound::Unbounded => f.write_str("unbounded"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assumption_is_said_by_its_reason() {
        let assumed = Sourced::tool_default(1, format!("{ASSUMPTION}no server command found"));
        assert_eq!(
            assumed.origin_phrase().as_deref(),
            Some("no server command found")
        );
        let default = Sourced::tool_default(5, "SQLAlchemy");
        assert_eq!(
            default.origin_phrase().as_deref(),
            Some("SQLAlchemy default")
        );
    }

    fn workers_formula() -> IntExpr {
        IntExpr::Add(
            Box::new(IntExpr::Mul(
                Box::new(IntExpr::Const(2)),
                Box::new(IntExpr::Cpus),
            )),
            Box::new(IntExpr::Const(1)),
        )
    }

    #[test]
    fn cpu_dependent_expressions_evaluate_per_cpu_count() {
        let e = workers_formula();
        assert!(e.depends_on_cpus());
        assert_eq!(e.eval(1), Some(3));
        assert_eq!(e.eval(8), Some(17));
        assert_eq!(e.constant(), None);
        assert_eq!(e.to_string(), "2 × cpus + 1");
    }

    #[test]
    fn display_parenthesises_lower_precedence_operands() {
        let e = IntExpr::Mul(
            Box::new(IntExpr::Add(
                Box::new(IntExpr::Cpus),
                Box::new(IntExpr::Const(1)),
            )),
            Box::new(IntExpr::Const(2)),
        );
        assert_eq!(e.to_string(), "(cpus + 1) × 2");
    }

    #[test]
    fn division_by_zero_is_none_not_a_panic() {
        let e = IntExpr::FloorDiv(Box::new(IntExpr::Const(4)), Box::new(IntExpr::Const(0)));
        assert_eq!(e.eval(1), None);
    }

    #[test]
    fn unbounded_absorbs_in_products_except_zero() {
        assert_eq!(
            Bound::Finite(3).saturating_mul(Bound::Unbounded),
            Bound::Unbounded
        );
        assert_eq!(
            Bound::Finite(0).saturating_mul(Bound::Unbounded),
            Bound::Finite(0)
        );
        assert_eq!(Bound::Finite(4).min(Bound::Unbounded), Bound::Finite(4));
    }

    #[test]
    fn and_then_keeps_the_first_unknown_reason() {
        let v: Sourced<String> = Sourced::unknown("no value for $X", None);
        let parsed = v.and_then("not a number", |s| s.parse::<i64>().ok());
        assert_eq!(parsed.unknown_reason(), Some("no value for $X"));
    }
}
