//! PostgreSQL's typed parameter values: integers with units, booleans, and the
//! table of parameters whose type poolcheck knows. Parsing follows the server's
//! own rules (`parse_int`, `parse_bool` in guc.c) so that what poolcheck accepts
//! is what PostgreSQL accepts.

use std::fmt;

/// A time unit PostgreSQL accepts after a number (`5min`, `30 s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeUnit {
    Microseconds,
    Milliseconds,
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl TimeUnit {
    pub const ALL: [TimeUnit; 6] = [
        TimeUnit::Microseconds,
        TimeUnit::Milliseconds,
        TimeUnit::Seconds,
        TimeUnit::Minutes,
        TimeUnit::Hours,
        TimeUnit::Days,
    ];

    pub fn symbol(self) -> &'static str {
        match self {
            TimeUnit::Microseconds => "us",
            TimeUnit::Milliseconds => "ms",
            TimeUnit::Seconds => "s",
            TimeUnit::Minutes => "min",
            TimeUnit::Hours => "h",
            TimeUnit::Days => "d",
        }
    }

    pub fn microseconds(self) -> f64 {
        match self {
            TimeUnit::Microseconds => 1.0,
            TimeUnit::Milliseconds => 1e3,
            TimeUnit::Seconds => 1e6,
            TimeUnit::Minutes => 60e6,
            TimeUnit::Hours => 3_600e6,
            TimeUnit::Days => 86_400e6,
        }
    }

    fn from_symbol(symbol: &str) -> Option<TimeUnit> {
        TimeUnit::ALL.into_iter().find(|u| u.symbol() == symbol)
    }
}

/// A memory unit: the ones PostgreSQL accepts after a number (`128MB`), plus
/// the 8 kB block that `shared_buffers` and friends count in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemoryUnit {
    Bytes,
    Kilobytes,
    /// `BLCKSZ` (8 kB in every standard build): the base unit of `shared_buffers`.
    Blocks,
    Megabytes,
    Gigabytes,
    Terabytes,
}

impl MemoryUnit {
    /// Units a user may write; `Blocks` is only ever a base unit.
    pub const WRITABLE: [MemoryUnit; 5] = [
        MemoryUnit::Bytes,
        MemoryUnit::Kilobytes,
        MemoryUnit::Megabytes,
        MemoryUnit::Gigabytes,
        MemoryUnit::Terabytes,
    ];

    pub fn symbol(self) -> &'static str {
        match self {
            MemoryUnit::Bytes => "B",
            MemoryUnit::Kilobytes => "kB",
            MemoryUnit::Blocks => "8kB",
            MemoryUnit::Megabytes => "MB",
            MemoryUnit::Gigabytes => "GB",
            MemoryUnit::Terabytes => "TB",
        }
    }

    pub fn bytes(self) -> f64 {
        match self {
            MemoryUnit::Bytes => 1.0,
            MemoryUnit::Kilobytes => 1024.0,
            MemoryUnit::Blocks => 8192.0,
            MemoryUnit::Megabytes => 1024.0 * 1024.0,
            MemoryUnit::Gigabytes => 1024.0 * 1024.0 * 1024.0,
            MemoryUnit::Terabytes => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        }
    }

    fn from_symbol(symbol: &str) -> Option<MemoryUnit> {
        MemoryUnit::WRITABLE
            .into_iter()
            .find(|u| u.symbol() == symbol)
    }
}

/// The unit of an integer parameter: what a plain number means, and which
/// unit suffixes are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GucUnit {
    /// A plain count (`max_connections`): no suffix allowed.
    None,
    Time(TimeUnit),
    Memory(MemoryUnit),
}

impl GucUnit {
    /// PostgreSQL's hint listing the valid units, or `None` for a unitless parameter.
    pub fn valid_units_hint(self) -> Option<&'static str> {
        match self {
            GucUnit::None => None,
            GucUnit::Time(_) => Some(
                "valid units for this parameter are `us`, `ms`, `s`, `min`, `h` and `d` (case-sensitive)",
            ),
            GucUnit::Memory(_) => Some(
                "valid units for this parameter are `B`, `kB`, `MB`, `GB` and `TB` (case-sensitive)",
            ),
        }
    }
}

/// The type of a parameter poolcheck knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GucType {
    Integer { unit: GucUnit, min: i64, max: i64 },
    Bool,
}

/// A parameter poolcheck knows, with its type and the release that added it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GucSpec {
    pub name: &'static str,
    pub ty: GucType,
    /// First major release that has the parameter, when newer than what poolcheck supports anyway.
    pub since_major: Option<u32>,
}

const INT_MAX: i64 = i32::MAX as i64;
/// `MAX_BACKENDS` in PostgreSQL: the ceiling of every connection-count parameter.
const MAX_BACKENDS: i64 = 0x3FFFF;

const fn int(name: &'static str, unit: GucUnit, min: i64, max: i64) -> GucSpec {
    GucSpec {
        name,
        ty: GucType::Integer { unit, min, max },
        since_major: None,
    }
}

const fn since(spec: GucSpec, major: u32) -> GucSpec {
    GucSpec {
        since_major: Some(major),
        ..spec
    }
}

const MS: GucUnit = GucUnit::Time(TimeUnit::Milliseconds);
const S: GucUnit = GucUnit::Time(TimeUnit::Seconds);
const KB: GucUnit = GucUnit::Memory(MemoryUnit::Kilobytes);
const BLOCKS: GucUnit = GucUnit::Memory(MemoryUnit::Blocks);
const MB: GucUnit = GucUnit::Memory(MemoryUnit::Megabytes);

/// Parameters whose values poolcheck checks. Names are lower case; ranges are
/// the server's own (`guc_tables.c`). Everything else is kept as text and never
/// flagged: PostgreSQL has hundreds of parameters plus extension ones.
pub const KNOWN_GUCS: &[GucSpec] = &[
    int("max_connections", GucUnit::None, 1, MAX_BACKENDS),
    int(
        "superuser_reserved_connections",
        GucUnit::None,
        0,
        MAX_BACKENDS,
    ),
    since(
        int("reserved_connections", GucUnit::None, 0, MAX_BACKENDS),
        16,
    ),
    since(int("idle_session_timeout", MS, 0, INT_MAX), 14),
    int("idle_in_transaction_session_timeout", MS, 0, INT_MAX),
    int("statement_timeout", MS, 0, INT_MAX),
    int("lock_timeout", MS, 0, INT_MAX),
    since(int("transaction_timeout", MS, 0, INT_MAX), 17),
    int("tcp_keepalives_idle", S, 0, INT_MAX),
    int("tcp_keepalives_interval", S, 0, INT_MAX),
    int("tcp_keepalives_count", GucUnit::None, 0, INT_MAX),
    int("tcp_user_timeout", MS, 0, INT_MAX),
    int("authentication_timeout", S, 1, 600),
    int("max_prepared_transactions", GucUnit::None, 0, MAX_BACKENDS),
    int("max_worker_processes", GucUnit::None, 0, MAX_BACKENDS),
    int("max_wal_senders", GucUnit::None, 0, MAX_BACKENDS),
    int("shared_buffers", BLOCKS, 16, INT_MAX / 2),
    int("work_mem", KB, 64, INT_MAX),
    int("maintenance_work_mem", KB, 1024, INT_MAX),
    int("effective_cache_size", BLOCKS, 1, INT_MAX),
    int("max_wal_size", MB, 2, INT_MAX),
    int("min_wal_size", MB, 2, INT_MAX),
    GucSpec {
        name: "jit",
        ty: GucType::Bool,
        since_major: Some(11),
    },
];

/// The spec of a parameter poolcheck knows; `name` is matched case-insensitively
/// as PostgreSQL does.
pub fn known_guc(name: &str) -> Option<&'static GucSpec> {
    KNOWN_GUCS
        .iter()
        .find(|spec| spec.name.eq_ignore_ascii_case(name))
}

/// Why a parameter value is invalid.
#[derive(Debug, Clone, PartialEq)]
pub enum GucValueError {
    /// No number where one is required.
    NotANumber,
    /// A unit after the number of a parameter that has none (`max_connections = 100MB`).
    UnitNotAllowed {
        unit: String,
    },
    /// A suffix that is not one of the parameter's units (`5 parsecs`, `128KB`).
    UnknownUnit {
        unit: String,
        unit_kind: GucUnit,
    },
    /// The number does not fit a 32-bit integer after unit conversion.
    IntegerOverflow,
    OutOfRange {
        value: i64,
        min: i64,
        max: i64,
    },
    NotABoolean,
}

impl GucValueError {
    /// A help line for the diagnostic.
    pub fn help(&self, name: &str) -> Option<String> {
        match self {
            GucValueError::NotANumber => Some(format!("`{name}` takes an integer")),
            GucValueError::UnitNotAllowed { .. } => {
                Some(format!("`{name}` takes a plain integer without a unit"))
            }
            GucValueError::UnknownUnit { unit, unit_kind } => {
                let hint = unit_kind.valid_units_hint().unwrap_or_default();
                match case_insensitive_unit(unit, *unit_kind) {
                    Some(fixed) => Some(format!("did you mean `{fixed}`? {hint}")),
                    None => Some(hint.to_owned()),
                }
            }
            GucValueError::IntegerOverflow => {
                Some("the value exceeds PostgreSQL's integer range".to_owned())
            }
            GucValueError::OutOfRange { min, max, .. } => Some(format!(
                "`{name}` must be between {min} and {max} (in its base unit)"
            )),
            GucValueError::NotABoolean => Some(format!(
                "`{name}` is a boolean: `on`, `off`, `true`, `false`, `yes`, `no`, `1` or `0`"
            )),
        }
    }
}

impl fmt::Display for GucValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GucValueError::NotANumber => f.write_str("not a number"),
            GucValueError::UnitNotAllowed { unit } => {
                write!(f, "unit `{unit}` on a parameter without units")
            }
            GucValueError::UnknownUnit { unit, .. } => write!(f, "unknown unit `{unit}`"),
            GucValueError::IntegerOverflow => f.write_str("value exceeds the integer range"),
            GucValueError::OutOfRange { value, min, max } => {
                write!(f, "{value} is outside the valid range {min}..{max}")
            }
            GucValueError::NotABoolean => f.write_str("not a boolean"),
        }
    }
}

fn case_insensitive_unit(unit: &str, unit_kind: GucUnit) -> Option<&'static str> {
    match unit_kind {
        GucUnit::None => None,
        GucUnit::Time(_) => TimeUnit::ALL
            .into_iter()
            .map(TimeUnit::symbol)
            .find(|s| s.eq_ignore_ascii_case(unit)),
        GucUnit::Memory(_) => MemoryUnit::WRITABLE
            .into_iter()
            .map(MemoryUnit::symbol)
            .find(|s| s.eq_ignore_ascii_case(unit)),
    }
}

/// PostgreSQL's whitespace (`isspace` in the C locale).
fn is_pg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

/// The leading number of `text` as `strtol(text, &end, 0)` reads it (decimal,
/// `0x` hex, leading-`0` octal), falling back to `strtod` when a `.` or an
/// exponent follows, as `parse_int` does. Returns the number and the rest.
fn leading_number(text: &str) -> Result<(f64, &str), GucValueError> {
    let trimmed = text.trim_start_matches(is_pg_space);
    let bytes = trimmed.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let (radix, digits_start) = if bytes.get(i) == Some(&b'0')
        && matches!(bytes.get(i + 1), Some(b'x' | b'X'))
        && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, i + 2)
    } else if bytes.get(i) == Some(&b'0') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        (8, i + 1)
    } else {
        (10, i)
    };
    let mut end = digits_start;
    while end < bytes.len() && char::from(bytes[end]).is_digit(radix) {
        end += 1;
    }
    let is_fraction = radix != 16 && matches!(bytes.get(end), Some(b'.' | b'e' | b'E'));
    if is_fraction {
        return leading_float(trimmed);
    }
    if end == digits_start {
        return Err(GucValueError::NotANumber);
    }
    let magnitude = i64::from_str_radix(&trimmed[digits_start..end], radix)
        .map_err(|_| GucValueError::IntegerOverflow)?;
    let value = if negative { -magnitude } else { magnitude };
    Ok((value as f64, &trimmed[end..]))
}

/// `strtod`'s reading of a decimal number with optional fraction and exponent.
fn leading_float(text: &str) -> Result<(f64, &str), GucValueError> {
    let bytes = text.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        end += 1;
    }
    let int_digits = bytes[end..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    end += int_digits;
    let mut frac_digits = 0;
    if bytes.get(end) == Some(&b'.') {
        frac_digits = bytes[end + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        end += 1 + frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return Err(GucValueError::NotANumber);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut exp_end = end + 1;
        if matches!(bytes.get(exp_end), Some(b'-' | b'+')) {
            exp_end += 1;
        }
        let exp_digits = bytes[exp_end..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if exp_digits > 0 {
            end = exp_end + exp_digits;
        }
    }
    let value: f64 = text[..end].parse().map_err(|_| GucValueError::NotANumber)?;
    if !value.is_finite() {
        return Err(GucValueError::IntegerOverflow);
    }
    Ok((value, &text[end..]))
}

/// An integer parameter's value in its base unit, as PostgreSQL computes it:
/// a plain number is in the base unit, a suffixed one is converted, fractions
/// round to the nearest integer. Range is not checked here.
pub fn parse_guc_integer(value: &str, unit: GucUnit) -> Result<i64, GucValueError> {
    let (number, rest) = leading_number(value)?;
    let suffix = rest.trim_matches(is_pg_space);
    let in_base = if suffix.is_empty() {
        number
    } else {
        match unit {
            GucUnit::None => {
                return Err(GucValueError::UnitNotAllowed {
                    unit: suffix.to_owned(),
                });
            }
            GucUnit::Time(base) => match TimeUnit::from_symbol(suffix) {
                Some(given) => number * given.microseconds() / base.microseconds(),
                None => {
                    return Err(GucValueError::UnknownUnit {
                        unit: suffix.to_owned(),
                        unit_kind: unit,
                    });
                }
            },
            GucUnit::Memory(base) => match MemoryUnit::from_symbol(suffix) {
                Some(given) => number * given.bytes() / base.bytes(),
                None => {
                    return Err(GucValueError::UnknownUnit {
                        unit: suffix.to_owned(),
                        unit_kind: unit,
                    });
                }
            },
        }
    };
    let rounded = in_base.round_ties_even();
    if !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&rounded) {
        return Err(GucValueError::IntegerOverflow);
    }
    Ok(rounded as i64)
}

/// A unitless integer parameter (`max_connections = 100`).
pub fn parse_int_guc(value: &str) -> Result<i64, GucValueError> {
    parse_guc_integer(value, GucUnit::None)
}

/// A time parameter in milliseconds; a plain number counts in `base_unit`
/// (milliseconds for `idle_session_timeout`, seconds for `tcp_keepalives_idle`).
pub fn parse_duration_ms(value: &str, base_unit: TimeUnit) -> Result<i64, GucValueError> {
    let in_base = parse_guc_integer(value, GucUnit::Time(base_unit))?;
    let factor = base_unit.microseconds() / 1e3;
    let ms = (in_base as f64 * factor).floor();
    Ok(ms as i64)
}

/// A memory parameter in bytes; a plain number counts in `base_unit`.
pub fn parse_memory_bytes(value: &str, base_unit: MemoryUnit) -> Result<i64, GucValueError> {
    let in_base = parse_guc_integer(value, GucUnit::Memory(base_unit))?;
    Ok(in_base.saturating_mul(base_unit.bytes() as i64))
}

/// A boolean as `parse_bool` reads it: case-insensitive `on`/`off`, any prefix
/// of `true`/`false`/`yes`/`no`, and `1`/`0`.
pub fn parse_bool_guc(value: &str) -> Result<bool, GucValueError> {
    let lower = value.to_ascii_lowercase();
    let is_prefix_of = |word: &str| !lower.is_empty() && word.starts_with(lower.as_str());
    match lower.as_str() {
        "1" => return Ok(true),
        "0" => return Ok(false),
        // A lone `o` is ambiguous between on and off.
        "o" => return Err(GucValueError::NotABoolean),
        _ => {}
    }
    if is_prefix_of("true") || is_prefix_of("yes") || is_prefix_of("on") {
        Ok(true)
    } else if is_prefix_of("false") || is_prefix_of("no") || is_prefix_of("off") {
        Ok(false)
    } else {
        Err(GucValueError::NotABoolean)
    }
}

/// A known parameter's value, range-checked; integers in the base unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypedValue {
    Integer(i64),
    Bool(bool),
}

/// Checks a value of a known parameter as the server would at startup.
pub fn check_value(spec: &GucSpec, value: &str) -> Result<TypedValue, GucValueError> {
    match spec.ty {
        GucType::Bool => parse_bool_guc(value).map(TypedValue::Bool),
        GucType::Integer { unit, min, max } => {
            let parsed = parse_guc_integer(value, unit)?;
            if parsed < min || parsed > max {
                return Err(GucValueError::OutOfRange {
                    value: parsed,
                    min,
                    max,
                });
            }
            Ok(TypedValue::Integer(parsed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_integers_in_every_base_strtol_reads() {
        assert_eq!(parse_int_guc("100"), Ok(100));
        assert_eq!(parse_int_guc("  250  "), Ok(250));
        assert_eq!(parse_int_guc("0x10"), Ok(16));
        // strtol with base 0 reads a leading zero as octal, as the server does.
        assert_eq!(parse_int_guc("010"), Ok(8));
        assert_eq!(parse_int_guc("-1"), Ok(-1));
        assert_eq!(parse_int_guc("100.4"), Ok(100));
        assert_eq!(parse_int_guc("1e3"), Ok(1000));
    }

    #[test]
    fn unitless_parameters_reject_units_and_words() {
        assert_eq!(
            parse_int_guc("100MB"),
            Err(GucValueError::UnitNotAllowed {
                unit: "MB".to_owned()
            })
        );
        assert_eq!(parse_int_guc("lots"), Err(GucValueError::NotANumber));
        assert_eq!(parse_int_guc(""), Err(GucValueError::NotANumber));
        assert_eq!(
            parse_int_guc("99999999999"),
            Err(GucValueError::IntegerOverflow)
        );
    }

    #[test]
    fn durations_convert_every_time_unit_to_milliseconds() {
        let ms = TimeUnit::Milliseconds;
        assert_eq!(parse_duration_ms("1500", ms), Ok(1500));
        assert_eq!(parse_duration_ms("2000us", ms), Ok(2));
        assert_eq!(parse_duration_ms("250ms", ms), Ok(250));
        assert_eq!(parse_duration_ms("30s", ms), Ok(30_000));
        assert_eq!(parse_duration_ms("5min", ms), Ok(300_000));
        assert_eq!(parse_duration_ms("5 min", ms), Ok(300_000));
        assert_eq!(parse_duration_ms("1h", ms), Ok(3_600_000));
        assert_eq!(parse_duration_ms("1d", ms), Ok(86_400_000));
        assert_eq!(parse_duration_ms("1.5s", ms), Ok(1500));
        // A plain number counts in the parameter's base unit.
        assert_eq!(parse_duration_ms("90", TimeUnit::Seconds), Ok(90_000));
        assert_eq!(parse_duration_ms("2min", TimeUnit::Seconds), Ok(120_000));
    }

    #[test]
    fn unknown_and_miscased_time_units_are_errors_with_a_suggestion() {
        let err = parse_duration_ms("5 parsecs", TimeUnit::Milliseconds).unwrap_err();
        assert_eq!(
            err,
            GucValueError::UnknownUnit {
                unit: "parsecs".to_owned(),
                unit_kind: GucUnit::Time(TimeUnit::Milliseconds)
            }
        );
        let err = parse_duration_ms("5MIN", TimeUnit::Milliseconds).unwrap_err();
        assert_eq!(
            err.help("statement_timeout").unwrap(),
            "did you mean `min`? valid units for this parameter are `us`, `ms`, `s`, `min`, `h` and `d` (case-sensitive)"
        );
    }

    #[test]
    fn memory_units_convert_to_the_base_unit() {
        assert_eq!(
            parse_guc_integer("128MB", GucUnit::Memory(MemoryUnit::Blocks)),
            Ok(16384)
        );
        assert_eq!(
            parse_memory_bytes("128MB", MemoryUnit::Blocks),
            Ok(128 * 1024 * 1024)
        );
        assert_eq!(
            parse_memory_bytes("4096", MemoryUnit::Kilobytes),
            Ok(4 << 20)
        );
        assert_eq!(
            parse_memory_bytes("1GB", MemoryUnit::Megabytes),
            Ok(1 << 30)
        );
        assert_eq!(
            parse_memory_bytes("1TB", MemoryUnit::Megabytes),
            Ok(1 << 40)
        );
        assert_eq!(parse_memory_bytes("2048B", MemoryUnit::Kilobytes), Ok(2048));
        let err = parse_memory_bytes("64KB", MemoryUnit::Kilobytes).unwrap_err();
        assert_eq!(
            err.help("work_mem").unwrap(),
            "did you mean `kB`? valid units for this parameter are `B`, `kB`, `MB`, `GB` and `TB` (case-sensitive)"
        );
    }

    #[test]
    fn booleans_accept_what_parse_bool_accepts() {
        for yes in ["on", "ON", "true", "t", "tr", "yes", "y", "1", "True"] {
            assert_eq!(parse_bool_guc(yes), Ok(true), "{yes}");
        }
        for no in ["off", "of", "false", "f", "no", "n", "0", "FALSE"] {
            assert_eq!(parse_bool_guc(no), Ok(false), "{no}");
        }
        for bad in ["o", "", "maybe", "2", "enabled", "onn", "10"] {
            assert_eq!(
                parse_bool_guc(bad),
                Err(GucValueError::NotABoolean),
                "{bad}"
            );
        }
    }

    #[test]
    fn ranges_come_from_the_parameter_table() {
        let spec = known_guc("MAX_CONNECTIONS").unwrap();
        assert_eq!(check_value(spec, "200"), Ok(TypedValue::Integer(200)));
        assert_eq!(
            check_value(spec, "0"),
            Err(GucValueError::OutOfRange {
                value: 0,
                min: 1,
                max: 262_143
            })
        );
        assert!(known_guc("shared_preload_libraries").is_none());
    }
}
