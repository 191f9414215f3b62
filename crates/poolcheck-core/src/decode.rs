//! Bytes to text as the program that reads each file would see them.
//! Python honours a PEP 263 coding cookie; PostgreSQL, PgBouncer, shells and
//! env-file readers take bytes as they come, so for those a byte that is not
//! UTF-8 is read as Latin-1 (one character per byte, nothing lost) rather than
//! hiding every setting of the file.

/// Files larger than this are not read: no configuration file is this big,
/// and generated or vendored blobs would only cost time.
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;

/// Why a file another file references (an include, an env file) was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadProblem {
    /// No such file (a broken symbolic link included).
    Missing,
    /// It resolves, after symbolic links, outside the project root.
    Outside,
    /// A directory, FIFO, socket or device: only regular files are read.
    NotRegular,
    TooLarge(u64),
    Binary,
    Undecodable(DecodeError),
    /// Permission denied, a symlink loop, an I/O error.
    Unreadable(String),
}

impl std::fmt::Display for ReadProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadProblem::Missing => f.write_str("it does not exist"),
            ReadProblem::Outside => f.write_str("it lies outside the project"),
            ReadProblem::NotRegular => f.write_str("it is not a regular file"),
            ReadProblem::TooLarge(size) => write!(
                f,
                "it is larger than {} MiB ({size} bytes)",
                MAX_FILE_SIZE / 1024 / 1024
            ),
            ReadProblem::Binary => f.write_str("it is binary (contains a NUL byte)"),
            ReadProblem::Undecodable(err) => write!(f, "it is {err}"),
            ReadProblem::Unreadable(err) => f.write_str(err),
        }
    }
}

/// Why a file's bytes could not be turned into text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not UTF-8, and the reader accepts nothing else.
    NotUtf8,
    /// A Python coding cookie names an encoding poolcheck does not decode.
    UnsupportedCoding(String),
    /// The bytes are not valid in the encoding the cookie names.
    InvalidForCoding(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::NotUtf8 => f.write_str("not valid UTF-8"),
            DecodeError::UnsupportedCoding(name) => write!(
                f,
                "declares `coding: {name}`, which poolcheck cannot decode (it reads utf-8, latin-1 and cp1252)"
            ),
            DecodeError::InvalidForCoding(name) => {
                write!(f, "not valid {name} although its coding cookie says so")
            }
        }
    }
}

/// Strict UTF-8, for formats whose readers refuse anything else (TOML, YAML, JSON).
pub fn utf8(bytes: Vec<u8>) -> Result<String, DecodeError> {
    String::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)
}

/// UTF-8 when valid, else Latin-1: every byte is one character, so offsets
/// of the ASCII text around a stray byte keep their columns.
pub fn utf8_or_latin1(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => err.into_bytes().iter().map(|&b| char::from(b)).collect(),
    }
}

/// A Python source file as the interpreter decodes it: a UTF-8 byte-order
/// mark, else the coding cookie on line 1 or 2 (PEP 263), else UTF-8.
pub fn python(bytes: Vec<u8>) -> Result<String, DecodeError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8(rest.to_vec())
            .map_err(|_| DecodeError::InvalidForCoding("utf-8".to_owned()));
    }
    let Some(cookie) = coding_cookie(&bytes) else {
        return utf8(bytes);
    };
    match normalize_coding(&cookie) {
        Some(Coding::Utf8) => {
            String::from_utf8(bytes).map_err(|_| DecodeError::InvalidForCoding(cookie))
        }
        Some(Coding::Latin1) => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        Some(Coding::Cp1252) => bytes
            .iter()
            .map(|&b| cp1252_char(b))
            .collect::<Option<String>>()
            .ok_or(DecodeError::InvalidForCoding(cookie)),
        // ASCII reads the same in every encoding a cookie can name for a
        // file Python accepts; only other bytes need the named codec.
        None if bytes.is_ascii() => utf8(bytes),
        None => Err(DecodeError::UnsupportedCoding(cookie)),
    }
}

enum Coding {
    Utf8,
    Latin1,
    Cp1252,
}

/// Python's codec aliases for the encodings decoded here (`_` and `-` alike,
/// case-insensitive), as `codecs.lookup` accepts them.
fn normalize_coding(name: &str) -> Option<Coding> {
    let name = name.to_ascii_lowercase().replace('_', "-");
    match name.as_str() {
        "utf-8" | "utf8" | "u8" | "utf" | "cp65001" | "utf-8-sig" => Some(Coding::Utf8),
        "latin-1" | "latin1" | "latin" | "l1" | "iso-8859-1" | "iso8859-1" | "8859" | "cp819"
        | "iso-latin-1" | "iso-ir-100" | "ibm819" => Some(Coding::Latin1),
        "cp1252" | "windows-1252" => Some(Coding::Cp1252),
        _ => None,
    }
}

/// The encoding a PEP 263 cookie names: a comment on line 1, or on line 2
/// when line 1 is a comment or blank, matching `coding[:=]\s*([-\w.]+)`.
fn coding_cookie(bytes: &[u8]) -> Option<String> {
    let mut lines = bytes.split(|&b| b == b'\n').take(2);
    let first = lines.next()?;
    if let Some(name) = cookie_in_line(first) {
        return Some(name);
    }
    let first = first.trim_ascii();
    if !first.is_empty() && !first.starts_with(b"#") {
        return None;
    }
    cookie_in_line(lines.next()?)
}

fn cookie_in_line(line: &[u8]) -> Option<String> {
    let comment = line.trim_ascii_start().strip_prefix(b"#")?;
    let mut rest = comment;
    while let Some(at) = find(rest, b"coding") {
        let after = &rest[at + "coding".len()..];
        if let Some(value) = after
            .strip_prefix(b":")
            .or_else(|| after.strip_prefix(b"="))
        {
            let value = value.trim_ascii_start();
            let end = value
                .iter()
                .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
                .unwrap_or(value.len());
            if end > 0 {
                return Some(String::from_utf8_lossy(&value[..end]).into_owned());
            }
        }
        rest = after;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Windows-1252 as Python's `cp1252` codec decodes it: Latin-1 except for
/// 0x80–0x9F, five of which are undefined.
fn cp1252_char(byte: u8) -> Option<char> {
    const HIGH: [Option<char>; 32] = [
        Some('€'),
        None,
        Some('‚'),
        Some('ƒ'),
        Some('„'),
        Some('…'),
        Some('†'),
        Some('‡'),
        Some('ˆ'),
        Some('‰'),
        Some('Š'),
        Some('‹'),
        Some('Œ'),
        None,
        Some('Ž'),
        None,
        None,
        Some('‘'),
        Some('’'),
        Some('“'),
        Some('”'),
        Some('•'),
        Some('–'),
        Some('—'),
        Some('˜'),
        Some('™'),
        Some('š'),
        Some('›'),
        Some('œ'),
        None,
        Some('ž'),
        Some('Ÿ'),
    ];
    match byte {
        0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
        _ => Some(char::from(byte)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_fallback_keeps_every_byte_as_one_character() {
        let text = utf8_or_latin1(b"# caf\xe9\nmax_connections = 300\n".to_vec());
        assert_eq!(text, "# café\nmax_connections = 300\n");
        assert_eq!(utf8_or_latin1("é".as_bytes().to_vec()), "é");
    }

    #[test]
    fn python_coding_cookies() {
        assert_eq!(
            python(b"# -*- coding: latin-1 -*-\n# caf\xe9\nx = 1\n".to_vec()).unwrap(),
            "# -*- coding: latin-1 -*-\n# café\nx = 1\n"
        );
        assert_eq!(
            python(
                b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\ns = '\x80'\n".to_vec()
            )
            .unwrap(),
            "#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\ns = '€'\n"
        );
        assert_eq!(
            python(b"\xEF\xBB\xBFx = '\xc3\xa9'\n".to_vec()).unwrap(),
            "x = 'é'\n"
        );
        assert_eq!(
            python(b"# coding: cp1252\ns = '\x81'\n".to_vec()),
            Err(DecodeError::InvalidForCoding("cp1252".to_owned()))
        );
        assert_eq!(
            python(b"# coding: shift_jis\ns = '\x82\xa0'\n".to_vec()),
            Err(DecodeError::UnsupportedCoding("shift_jis".to_owned()))
        );
        assert_eq!(
            python(b"# coding: shift_jis\ns = 1\n".to_vec()).unwrap(),
            "# coding: shift_jis\ns = 1\n"
        );
        // A cookie on line 3, or after code on line 1, is no cookie.
        assert_eq!(
            python(b"x = 1\n# coding: latin-1\ns = '\xe9'\n".to_vec()),
            Err(DecodeError::NotUtf8)
        );
    }
}
