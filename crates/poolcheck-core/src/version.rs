//! Release numbers of the tools poolcheck knows (`1.21.0`, `v1.25.2-p0`, `15-alpine`).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// Reads the leading `MAJOR[.MINOR[.PATCH]]` of a release string, ignoring a
    /// leading `v` and anything after the numbers (`-p0`, `-alpine`, `rc1`).
    pub fn parse_lenient(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        let mut parts = [0u32; 3];
        let mut count = 0;
        for piece in s.split('.') {
            if count == 3 {
                break;
            }
            let digits: String = piece.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                break;
            }
            parts[count] = digits.parse().ok()?;
            count += 1;
            if digits.len() != piece.len() {
                break;
            }
        }
        (count > 0).then(|| Version::new(parts[0], parts[1], parts[2]))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_image_tags_and_release_strings() {
        assert_eq!(
            Version::parse_lenient("v1.25.2-p0"),
            Some(Version::new(1, 25, 2))
        );
        assert_eq!(
            Version::parse_lenient("1.22.0"),
            Some(Version::new(1, 22, 0))
        );
        assert_eq!(
            Version::parse_lenient("15-alpine"),
            Some(Version::new(15, 0, 0))
        );
        assert_eq!(
            Version::parse_lenient("14.24-bookworm"),
            Some(Version::new(14, 24, 0))
        );
        assert_eq!(Version::parse_lenient("latest"), None);
        assert!(Version::new(1, 21, 0) > Version::new(1, 9, 9));
    }
}
