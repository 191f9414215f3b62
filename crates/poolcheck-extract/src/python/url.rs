//! Database URLs (`postgresql+asyncpg://u:p@db:5432/app?x=y`) and libpq
//! keyword connection strings (`host=db port=5432 dbname=app`), possibly only
//! partly known: a field that touches an unknown stretch is left out.

use poolcheck_core::facts::pool::Driver;
use poolcheck_core::{IntExpr, Location, Sourced};

use super::value::{HOLE, PyStr, Value};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DbUrl {
    /// `postgresql+asyncpg`, lower-cased; `None` when unknown or keyword form.
    pub scheme: Option<String>,
    pub user: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub dbname: Option<String>,
    /// Known query parameters (URL) or keywords (conninfo), in order.
    pub params: Vec<(String, String)>,
    /// The libpq `key=value` form.
    pub keyword_form: bool,
}

impl DbUrl {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The driver SQLAlchemy uses for a URL scheme.
pub fn driver_for_scheme(scheme: &str) -> Driver {
    let scheme = scheme.to_ascii_lowercase();
    let (dialect, driver) = scheme.split_once('+').unwrap_or((scheme.as_str(), ""));
    if !matches!(
        dialect,
        "postgresql" | "postgres" | "pgsql" | "postgresql_async"
    ) {
        let name = if dialect.is_empty() {
            scheme.as_str()
        } else {
            dialect
        };
        return Driver::NotPostgres(name.to_owned());
    }
    match driver {
        "" | "psycopg2" | "psycopg2cffi" => Driver::Psycopg2,
        "psycopg" | "psycopg_async" | "psycopg3" => Driver::Psycopg3,
        "asyncpg" => Driver::Asyncpg,
        other => Driver::OtherPostgres(other.to_owned()),
    }
}

fn known(s: &str) -> Option<String> {
    (!s.contains(HOLE)).then(|| percent_decode(s))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a URL or a keyword connection string.
pub fn parse_db_url(s: &PyStr) -> DbUrl {
    let text = s.text.trim();
    if let Some((scheme, rest)) = text.split_once("://") {
        return parse_url_form(scheme, rest);
    }
    if text.contains('=') {
        return parse_keyword_form(text);
    }
    DbUrl::default()
}

fn parse_url_form(scheme: &str, rest: &str) -> DbUrl {
    let mut url = DbUrl {
        scheme: known(scheme).map(|s| s.to_ascii_lowercase()),
        ..DbUrl::default()
    };
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (netloc, path) = before_query.split_once('/').unwrap_or((before_query, ""));
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, netloc),
    };
    if let Some(userinfo) = userinfo {
        let user = userinfo.split(':').next().unwrap_or("");
        url.user = known(user).filter(|u| !u.is_empty());
    }
    // Several hosts (`h1:5432,h2:5432`): the first one is tried first.
    let hostport = hostport.split(',').next().unwrap_or("");
    let (host, port) = if let Some(stripped) = hostport.strip_prefix('[') {
        match stripped.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => (stripped, None),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    url.host = known(host).filter(|h| !h.is_empty());
    url.port = port.and_then(known).and_then(|p| p.parse().ok());
    url.dbname = known(path).filter(|d| !d.is_empty());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(k), Some(v)) = (known(k), known(v)) {
            url.params.push((k, v));
        }
    }
    // libpq lets the query string name the host too.
    if url.host.is_none() {
        url.host = url.param("host").map(str::to_owned);
    }
    if url.port.is_none() {
        url.port = url.param("port").and_then(|p| p.parse().ok());
    }
    url
}

/// `host=db port=5432 dbname=app options='-c jit=off'`.
pub fn parse_keyword_form(text: &str) -> DbUrl {
    let mut url = DbUrl {
        keyword_form: true,
        ..DbUrl::default()
    };
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_owned();
        if key.is_empty() {
            break;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '\'' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        if !key.contains(HOLE) && !value.contains(HOLE) {
            url.params.push((key, value));
        }
    }
    url.host = url
        .param("host")
        .map(|h| h.split(',').next().unwrap_or(h).to_owned());
    url.port = url
        .param("port")
        .and_then(|p| p.split(',').next().unwrap_or(p).parse().ok());
    url.dbname = url.param("dbname").map(str::to_owned);
    url.user = url.param("user").map(str::to_owned);
    url
}

/// `-c jit=off -c statement_timeout=5s` or `--jit=off`: the parameters set.
pub fn parse_options(options: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut words = options.split_whitespace().peekable();
    while let Some(word) = words.next() {
        let setting = if word == "-c" {
            words.next()
        } else if let Some(rest) = word.strip_prefix("-c") {
            Some(rest)
        } else {
            word.strip_prefix("--")
        };
        if let Some(setting) = setting {
            let (name, value) = match setting.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (setting, None),
            };
            if !name.is_empty() {
                out.push((name.replace('-', "_").to_ascii_lowercase(), value));
            }
        }
    }
    out
}

/// `URL.create(drivername, username=, password=, host=, port=, database=, query=)`
/// rendered back as a URL string so the same parser reads it.
pub fn url_create(named: &[(String, Sourced<Value>)], loc: Location) -> Sourced<Value> {
    let get = |name: &str| named.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
    let text = |name: &str| -> PyStr {
        match get(name).and_then(|v| v.value.as_ref()) {
            Some(Value::Str(s)) => s.clone(),
            Some(Value::Int(IntExpr::Const(i))) => PyStr::known(i.to_string()),
            Some(Value::None) | None => PyStr::default(),
            Some(_) => PyStr::hole(format!("`{name}` of URL.create is not known")),
        }
    };
    let mut url = text("drivername");
    if url.text.is_empty() {
        return Sourced::unknown("URL.create() has no drivername", Some(loc));
    }
    url.text.push_str("://");
    let user = text("username");
    if !user.text.is_empty() {
        url.push(&user);
        if get("password").is_some() {
            url.text.push_str(":***");
        }
        url.text.push('@');
    }
    url.push(&text("host"));
    let port = text("port");
    if !port.text.is_empty() {
        url.text.push(':');
        url.push(&port);
    }
    let database = text("database");
    if !database.text.is_empty() {
        url.text.push('/');
        url.push(&database);
    }
    if let Some(Value::Dict(query)) = get("query").and_then(|v| v.value.as_ref()) {
        let mut first = true;
        for (k, v) in &query.entries {
            if let Some(Value::Str(s)) = &v.value {
                url.text.push(if first { '?' } else { '&' });
                first = false;
                url.text.push_str(k);
                url.text.push('=');
                url.push(s);
            }
        }
    }
    Sourced::computed(Value::Str(url), "URL.create(...)", Some(loc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_with_driver_host_port_and_query() {
        let url = parse_db_url(&PyStr::known(
            "postgresql+asyncpg://app:secret@pgbouncer:6432/shop?prepared_statement_cache_size=0",
        ));
        assert_eq!(url.scheme.as_deref(), Some("postgresql+asyncpg"));
        assert_eq!(url.user.as_deref(), Some("app"));
        assert_eq!(url.host.as_deref(), Some("pgbouncer"));
        assert_eq!(url.port, Some(6432));
        assert_eq!(url.dbname.as_deref(), Some("shop"));
        assert_eq!(url.param("prepared_statement_cache_size"), Some("0"));
        assert_eq!(driver_for_scheme("postgresql+asyncpg"), Driver::Asyncpg);
        assert_eq!(driver_for_scheme("postgres"), Driver::Psycopg2);
        assert_eq!(driver_for_scheme("postgresql+psycopg"), Driver::Psycopg3);
        assert_eq!(
            driver_for_scheme("sqlite+aiosqlite"),
            Driver::NotPostgres("sqlite".into())
        );
    }

    #[test]
    fn partially_known_url_keeps_the_known_fields() {
        let s = PyStr {
            text: format!("postgresql://app:{HOLE}@db:5432/{HOLE}"),
            holes: vec!["password".into(), "db".into()],
        };
        let url = parse_db_url(&s);
        assert_eq!(url.host.as_deref(), Some("db"));
        assert_eq!(url.port, Some(5432));
        assert_eq!(url.dbname, None);
        let s = PyStr {
            text: format!("postgresql://app@{HOLE}:5432/app"),
            holes: vec!["host".into()],
        };
        assert_eq!(parse_db_url(&s).host, None);
    }

    #[test]
    fn keyword_conninfo_and_options() {
        let url = parse_db_url(&PyStr::known(
            "host=db port=5433 dbname=app options='-c jit=off -c statement_timeout=5s'",
        ));
        assert!(url.keyword_form);
        assert_eq!(url.host.as_deref(), Some("db"));
        assert_eq!(url.port, Some(5433));
        let options = parse_options(url.param("options").unwrap());
        assert_eq!(
            options,
            vec![
                ("jit".to_owned(), Some("off".to_owned())),
                ("statement_timeout".to_owned(), Some("5s".to_owned()))
            ]
        );
        assert_eq!(
            parse_options("--search-path=app"),
            vec![("search_path".to_owned(), Some("app".to_owned()))]
        );
    }
}
