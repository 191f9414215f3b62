//! Managed PostgreSQL providers: the server limits they document for each
//! size, the connections they keep for themselves, the poolers they run, and
//! the host names that reveal them.
//!
//! Every figure is the provider's documented default (2026) and is presented
//! as such, with the way to override it (`[database] max_connections`).
//! Sources:
//!
//! - RDS / Aurora: <https://docs.aws.amazon.com/prescriptive-guidance/latest/tuning-postgresql-parameters/max-connections.html>,
//!   <https://repost.aws/knowledge-center/rds-postgresql-error-connection-slots>,
//!   RDS Proxy: <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-pinning.html>
//! - Azure Flexible Server: <https://learn.microsoft.com/en-us/azure/postgresql/flexible-server/concepts-limits>,
//!   built-in PgBouncer: <https://learn.microsoft.com/en-us/azure/postgresql/flexible-server/concepts-pgbouncer>
//! - Cloud SQL: <https://cloud.google.com/sql/docs/postgres/quotas>
//! - Heroku: <https://devcenter.heroku.com/articles/postgres-connection-pooling>
//! - Supabase: <https://supabase.com/docs/guides/platform/compute-and-disk>,
//!   <https://supabase.com/docs/guides/database/connecting-to-postgres>
//! - Neon: <https://neon.com/docs/connect/connection-pooling>
//! - DigitalOcean: <https://docs.digitalocean.com/products/databases/postgresql/details/limits/>,
//!   <https://docs.digitalocean.com/products/databases/postgresql/how-to/manage-connection-pools/>
//! - Fly.io Managed Postgres: <https://fly.io/docs/mpg/>
//! - Crunchy Bridge: <https://docs.crunchybridge.com/how-to/connection-pooling>
//! - Timescale: <https://docs.timescale.com/use-timescale/latest/services/connection-pooling/>

use std::fmt;

/// A managed PostgreSQL offering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provider {
    Rds,
    Aurora,
    Azure,
    CloudSql,
    Heroku,
    Supabase,
    Neon,
    DigitalOcean,
    Fly,
    CrunchyBridge,
    Timescale,
}

impl Provider {
    pub const ALL: [Provider; 11] = [
        Provider::Rds,
        Provider::Aurora,
        Provider::Azure,
        Provider::CloudSql,
        Provider::Heroku,
        Provider::Supabase,
        Provider::Neon,
        Provider::DigitalOcean,
        Provider::Fly,
        Provider::CrunchyBridge,
        Provider::Timescale,
    ];

    /// The name written in `[database] provider` and in JSON.
    pub fn key(self) -> &'static str {
        match self {
            Provider::Rds => "rds",
            Provider::Aurora => "aurora",
            Provider::Azure => "azure",
            Provider::CloudSql => "cloudsql",
            Provider::Heroku => "heroku",
            Provider::Supabase => "supabase",
            Provider::Neon => "neon",
            Provider::DigitalOcean => "digitalocean",
            Provider::Fly => "fly",
            Provider::CrunchyBridge => "crunchybridge",
            Provider::Timescale => "timescale",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Provider::Rds => "Amazon RDS",
            Provider::Aurora => "Amazon Aurora",
            Provider::Azure => "Azure Database for PostgreSQL",
            Provider::CloudSql => "Cloud SQL",
            Provider::Heroku => "Heroku Postgres",
            Provider::Supabase => "Supabase",
            Provider::Neon => "Neon",
            Provider::DigitalOcean => "DigitalOcean",
            Provider::Fly => "Fly.io Managed Postgres",
            Provider::CrunchyBridge => "Crunchy Bridge",
            Provider::Timescale => "Timescale",
        }
    }

    pub fn from_key(key: &str) -> Option<Provider> {
        let key = key.trim().to_ascii_lowercase();
        let alias = match key.as_str() {
            "aws" | "amazon-rds" => "rds",
            "gcp" | "cloud-sql" | "cloud_sql" | "google" => "cloudsql",
            "azurerm" => "azure",
            "do" => "digitalocean",
            "flyio" | "fly.io" => "fly",
            "crunchy" | "crunchy-bridge" => "crunchybridge",
            "tigerdata" | "tiger" => "timescale",
            other => other,
        };
        Provider::ALL.into_iter().find(|p| p.key() == alias)
    }

    /// The keys `[database] provider` accepts, for error messages.
    pub fn known_keys() -> String {
        Provider::ALL.map(Provider::key).join(", ")
    }

    /// Sizes this provider's table knows, for error messages.
    pub fn known_sizes(self) -> &'static str {
        match self {
            Provider::Rds | Provider::Aurora => {
                "RDS instance classes such as db.t3.micro, db.t4g.medium, db.m6g.large, db.r6g.xlarge (families t, m, r, x; sizes micro to 24xlarge)"
            }
            Provider::Azure => {
                "Azure SKUs such as B_Standard_B1ms, B2s, B2ms, B4ms, B8ms, B12ms, B16ms, B20ms, GP_Standard_D2s_v3, D4ds_v5, MO_Standard_E2ds_v4"
            }
            Provider::CloudSql => {
                "Cloud SQL tiers db-f1-micro, db-g1-small, db-custom-<vCPUs>-<MiB>, db-n1-standard-<n>, db-n1-highmem-<n>"
            }
            Provider::Heroku => {
                "Heroku plans essential-0, essential-1, essential-2, standard-0, standard-2, premium-0, premium-2"
            }
            Provider::Supabase => {
                "Supabase compute sizes nano, micro, small, medium, large, xl, 2xl, 4xl, 8xl, 12xl, 16xl"
            }
            Provider::Neon => "Neon compute units 0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8 and 9 to 56",
            Provider::DigitalOcean => {
                "DigitalOcean size slugs such as db-s-1vcpu-1gb, db-s-2vcpu-4gb, gd-4vcpu-16gb"
            }
            Provider::Fly | Provider::CrunchyBridge | Provider::Timescale => {
                "no sizes (declare `max_connections`)"
            }
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// What a provider documents for one server size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    pub provider: Provider,
    /// The size as the provider spells it.
    pub size: Option<String>,
    /// `None` when the provider's table has no figure for this size (or no
    /// size is known): PostgreSQL's default stays, and the reason says why.
    pub max_connections: Option<i64>,
    /// How the figure was decided: the table row or the formula.
    pub formula: String,
    /// PostgreSQL's `superuser_reserved_connections` as the provider sets it.
    pub superuser_reserved: i64,
    /// The provider's own reserve beyond `superuser_reserved_connections`.
    pub provider_reserve: i64,
    /// Why the provider keeps `provider_reserve` connections.
    pub reserve_reason: String,
    /// Set when sources disagree or the figure is arithmetic rather than
    /// measured: what was used.
    pub caveat: Option<String>,
}

impl ServerLimits {
    /// The provenance of `max_connections`, for messages and the budget.
    pub fn provenance(&self) -> String {
        let size = self.size.as_deref().unwrap_or("unknown size");
        let mut text = format!(
            "{} default for {size}: {}; override with [database] max_connections",
            self.provider.display_name(),
            self.formula
        );
        if let Some(caveat) = &self.caveat {
            text.push_str(" (");
            text.push_str(caveat);
            text.push(')');
        }
        text
    }
}

/// Bytes per connection in RDS's default formula.
const RDS_BYTES_PER_CONNECTION: i64 = 9_531_392;
const GIB: i64 = 1 << 30;

/// The provider's documented limits for `size`; `Err` names the sizes it
/// knows when the size is not in its table.
pub fn server_limits(provider: Provider, size: Option<&str>) -> Result<ServerLimits, String> {
    let base = |max: Option<i64>, formula: String| ServerLimits {
        provider,
        size: size.map(str::to_owned),
        max_connections: max,
        formula,
        superuser_reserved: 3,
        provider_reserve: 0,
        reserve_reason: String::new(),
        caveat: None,
    };
    let unknown_size = |size: &str| {
        format!(
            "{} has no documented size `{size}`; known: {}",
            provider.display_name(),
            provider.known_sizes()
        )
    };
    let mut limits = match (provider, size) {
        (_, None) => base(
            None,
            "no size declared, so PostgreSQL's default 100 is assumed".to_owned(),
        ),
        (Provider::Rds | Provider::Aurora, Some(size)) => {
            let gib = rds_memory_gib(size).ok_or_else(|| unknown_size(size))?;
            let nominal = gib * GIB / RDS_BYTES_PER_CONNECTION;
            let max = nominal.min(5000);
            let mut limits = base(
                Some(max),
                format!("LEAST(DBInstanceClassMemory/9531392, 5000) ≈ {max} with {gib} GiB"),
            );
            limits.caveat = Some(
                "arithmetic on the nominal memory; RDS counts a little less memory, so SHOW max_connections reads up to about 10% lower".to_owned(),
            );
            limits
        }
        (Provider::Azure, Some(size)) => {
            let max = azure_max_connections(size).ok_or_else(|| unknown_size(size))?;
            base(
                Some(max),
                format!("{max} in Azure's table of limits per SKU"),
            )
        }
        (Provider::CloudSql, Some(size)) => {
            let (max, memory) =
                cloud_sql_max_connections(size).ok_or_else(|| unknown_size(size))?;
            let mut limits = base(
                Some(max),
                format!("{max} for a tier with {memory} in Cloud SQL's table by memory"),
            );
            if max > 25 {
                limits.caveat = Some(
                    "Cloud SQL's table by memory band; a `max_connections` database flag replaces it"
                        .to_owned(),
                );
            }
            limits
        }
        (Provider::Heroku, Some(size)) => {
            let (max, caveat) = heroku_max_connections(size).ok_or_else(|| unknown_size(size))?;
            let mut limits = base(Some(max), format!("{max} connections for plan {size}"));
            limits.caveat = caveat.map(str::to_owned);
            limits
        }
        (Provider::Supabase, Some(size)) => {
            let (max, _) = supabase_size(size).ok_or_else(|| unknown_size(size))?;
            base(Some(max), format!("{max} for compute size {size}"))
        }
        (Provider::Neon, Some(size)) => {
            let max = neon_max_connections(size).ok_or_else(|| unknown_size(size))?;
            base(Some(max), format!("{max} for a {size} CU compute"))
        }
        (Provider::DigitalOcean, Some(size)) => {
            let gib = digitalocean_memory_gib(size).ok_or_else(|| unknown_size(size))?;
            let max = 25 * gib;
            base(Some(max), format!("25 per GiB × {gib} GiB = {max}"))
        }
        (Provider::Fly | Provider::CrunchyBridge | Provider::Timescale, Some(size)) => {
            return Err(unknown_size(size));
        }
    };
    match provider {
        Provider::Rds | Provider::Aurora => {
            limits.provider_reserve = 2;
            limits.reserve_reason = String::from(
                "rds.rds_superuser_reserved_connections (2), kept for RDS's own tooling",
            );
        }
        Provider::Azure => {
            limits.provider_reserve = 12;
            limits.reserve_reason = String::from(
                "Azure keeps 15 connections for replication and monitoring, PostgreSQL's 3 superuser slots among them",
            );
        }
        Provider::Neon => {
            limits.provider_reserve = 4;
            limits.reserve_reason = String::from(
                "Neon reserves 7 connections for its superuser, PostgreSQL's 3 among them",
            );
        }
        Provider::Timescale => {
            limits.superuser_reserved = 12;
            limits.provider_reserve = 5;
            limits.reserve_reason = String::from(
                "Timescale keeps 17 connections: 12 superuser slots and 5 for its services",
            );
        }
        Provider::DigitalOcean => {
            limits.reserve_reason = String::from(
                "DigitalOcean keeps 3 connections for maintenance (PostgreSQL's superuser slots)",
            );
        }
        _ => {}
    }
    Ok(limits)
}

/// Nominal memory of an RDS instance class (`db.r6g.large` → 16).
pub fn rds_memory_gib(class: &str) -> Option<i64> {
    let class = class.trim().to_ascii_lowercase();
    let rest = class.strip_prefix("db.")?;
    let (family, size) = rest.split_once('.')?;
    let kind = family.chars().next()?;
    if kind == 't' {
        return Some(match size {
            "micro" => 1,
            "small" => 2,
            "medium" => 4,
            "large" => 8,
            "xlarge" => 16,
            "2xlarge" => 32,
            _ => return None,
        });
    }
    let per_vcpu = match kind {
        'm' => 4,
        'r' => 8,
        'x' => 16,
        _ => return None,
    };
    let vcpus = match size {
        "large" => 2,
        "xlarge" => 4,
        other => {
            let n: i64 = other.strip_suffix("xlarge")?.parse().ok()?;
            if !(2..=48).contains(&n) {
                return None;
            }
            n * 4
        }
    };
    Some(per_vcpu * vcpus)
}

/// Azure's table: the SKU's series letter and vCores (`B_Standard_B1ms`,
/// `GP_Standard_D2s_v3`, `B2s`).
fn azure_max_connections(sku: &str) -> Option<i64> {
    let sku = sku.trim();
    let core = sku.rsplit_once("Standard_").map_or(sku, |(_, c)| c);
    let core = core.split('_').next()?.to_ascii_lowercase();
    let mut chars = core.chars();
    let series = chars.next()?;
    let digits: String = chars.clone().take_while(char::is_ascii_digit).collect();
    let vcores: i64 = digits.parse().ok()?;
    let suffix: String = chars.skip(digits.len()).collect();
    match series {
        'b' => match (vcores, suffix.as_str()) {
            (1, "ms") => Some(50),
            (2, "s") => Some(429),
            (2, "ms") => Some(859),
            (4, "ms") => Some(1718),
            (8, "ms") => Some(3437),
            (12 | 16 | 20, "ms") => Some(5000),
            _ => None,
        },
        'd' => match vcores {
            2 => Some(859),
            4 => Some(1718),
            8 => Some(3437),
            16..=192 => Some(5000),
            _ => None,
        },
        'e' => match vcores {
            2 => Some(1718),
            4 => Some(3437),
            8..=192 => Some(5000),
            _ => None,
        },
        _ => None,
    }
}

/// Cloud SQL's table by memory; the tier's memory in words.
fn cloud_sql_max_connections(tier: &str) -> Option<(i64, String)> {
    let tier = tier.trim().to_ascii_lowercase();
    let mib: i64 = match tier.as_str() {
        "db-f1-micro" => 614,
        "db-g1-small" => 1741,
        _ => {
            if let Some(rest) = tier.strip_prefix("db-custom-") {
                let (_, memory) = rest.split_once('-')?;
                memory.parse().ok()?
            } else if let Some(n) = tier.strip_prefix("db-n1-standard-") {
                n.parse::<i64>().ok()? * 3840
            } else if let Some(n) = tier.strip_prefix("db-n1-highmem-") {
                n.parse::<i64>().ok()? * 6656
            } else {
                return None;
            }
        }
    };
    let gb = mib as f64 / 1024.0;
    let max = match gb {
        g if g < 1.0 => 25,
        g if g < 3.75 => 50,
        g if g < 6.0 => 100,
        g if g < 7.5 => 200,
        g if g < 15.0 => 400,
        g if g < 30.0 => 500,
        g if g < 60.0 => 600,
        g if g < 120.0 => 800,
        _ => 1000,
    };
    Some((max, format!("{gb:.1} GB")))
}

fn heroku_max_connections(plan: &str) -> Option<(i64, Option<&'static str>)> {
    let plan = plan.trim().to_ascii_lowercase();
    let plan = plan.strip_prefix("heroku-postgresql:").unwrap_or(&plan);
    Some(match plan {
        "essential-0" | "essential-1" => (20, None),
        "essential-2" => (40, None),
        "standard-0" | "premium-0" | "private-0" | "shield-0" => (
            120,
            Some(
                "120 from Heroku's plan table; the connection-pooling page shows 400 for standard-0, so declare max_connections if yours differs",
            ),
        ),
        "standard-2" | "premium-2" | "private-2" | "shield-2" => (400, None),
        _ => return None,
    })
}

/// Supabase's compute sizes: (max_connections, pooler max clients).
pub fn supabase_size(size: &str) -> Option<(i64, i64)> {
    let size = size.trim().to_ascii_lowercase();
    Some(match size.as_str() {
        "nano" | "micro" => (60, 200),
        "small" => (90, 400),
        "medium" => (120, 600),
        "large" => (160, 800),
        "xl" => (240, 1000),
        "2xl" => (380, 1500),
        "4xl" => (480, 3000),
        "8xl" => (490, 6000),
        "12xl" => (500, 9000),
        "16xl" => (500, 12000),
        _ => return None,
    })
}

fn neon_max_connections(cu: &str) -> Option<i64> {
    let cu = cu
        .trim()
        .trim_end_matches("cu")
        .trim_end_matches("CU")
        .trim();
    Some(match cu {
        "0.25" => 104,
        "0.5" => 209,
        "1" => 419,
        "2" => 839,
        "3" => 1258,
        "4" => 1678,
        "5" => 2098,
        "6" => 2517,
        "7" => 2937,
        "8" => 3357,
        other => {
            let n: i64 = other.parse().ok()?;
            if (9..=56).contains(&n) {
                4000
            } else {
                return None;
            }
        }
    })
}

/// GiB in a DigitalOcean size slug (`db-s-2vcpu-4gb` → 4).
fn digitalocean_memory_gib(slug: &str) -> Option<i64> {
    let slug = slug.trim().to_ascii_lowercase();
    let last = slug.rsplit('-').next()?;
    let gib: i64 = last.strip_suffix("gb")?.parse().ok()?;
    (gib > 0).then_some(gib)
}

/// A pooler a provider runs in front of its servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolerKind {
    SupavisorTransaction,
    SupavisorSession,
    NeonPooler,
    AzurePgBouncer,
    HerokuPooling,
    DigitalOceanPool,
    RdsProxy,
    FlyPgBouncer,
    CrunchyPgBouncer,
}

/// One setting of a provider pooler: its PgBouncer name, the documented
/// value (`None` when the provider documents no figure), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentedSetting {
    pub key: &'static str,
    pub value: Option<String>,
    pub note: String,
}

/// What a provider documents about one of its poolers, in PgBouncer's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolerSpec {
    pub kind: PoolerKind,
    pub provider: Provider,
    /// `Supabase transaction pooler (Supavisor, port 6543)`.
    pub label: String,
    pub port: Option<u16>,
    pub settings: Vec<DocumentedSetting>,
    /// What a user can do when the pooler's behaviour is in the way.
    pub remedy: String,
}

fn set(key: &'static str, value: impl Into<String>, note: impl Into<String>) -> DocumentedSetting {
    DocumentedSetting {
        key,
        value: Some(value.into()),
        note: note.into(),
    }
}

fn undocumented(key: &'static str, note: impl Into<String>) -> DocumentedSetting {
    DocumentedSetting {
        key,
        value: None,
        note: note.into(),
    }
}

impl PoolerKind {
    /// The pooler's documented behaviour. `pool_mode` and `pool_size` apply
    /// to DigitalOcean pools, whose settings the repository may declare.
    pub fn spec(self, pool_mode: Option<&str>, pool_size: Option<i64>) -> PoolerSpec {
        let (provider, label, port, settings, remedy) = match self {
            PoolerKind::SupavisorTransaction => (
                Provider::Supabase,
                "Supabase transaction pooler (Supavisor, port 6543)".to_owned(),
                Some(6543),
                vec![
                    set("pool_mode", "transaction", "port 6543 is transaction mode"),
                    set(
                        "max_prepared_statements",
                        "0",
                        "Supavisor's transaction mode does not support prepared statements",
                    ),
                    undocumented(
                        "default_pool_size",
                        "the pool size is set in Supabase's dashboard (Database settings)",
                    ),
                    undocumented(
                        "max_client_conn",
                        "Supabase's pooler client limit depends on the compute size",
                    ),
                ],
                "connect through the session pooler (port 5432) or directly (db.<ref>.supabase.co) to keep prepared statements".to_owned(),
            ),
            PoolerKind::SupavisorSession => (
                Provider::Supabase,
                "Supabase session pooler (Supavisor, port 5432)".to_owned(),
                Some(5432),
                vec![
                    set("pool_mode", "session", "port 5432 on the pooler host is session mode"),
                    undocumented(
                        "default_pool_size",
                        "the pool size is set in Supabase's dashboard (Database settings)",
                    ),
                    undocumented(
                        "max_client_conn",
                        "Supabase's pooler client limit depends on the compute size",
                    ),
                ],
                "size the pool in Supabase's dashboard".to_owned(),
            ),
            PoolerKind::NeonPooler => (
                Provider::Neon,
                "Neon pooler (PgBouncer, `-pooler` host)".to_owned(),
                None,
                vec![
                    set("pool_mode", "transaction", "Neon's PgBouncer runs in transaction mode"),
                    set(
                        "max_prepared_statements",
                        "1000",
                        "Neon's documentation since 2025 (0 in 2024)",
                    ),
                    set("max_client_conn", "10000", "Neon's documented client limit"),
                    undocumented(
                        "default_pool_size",
                        "Neon sizes each pool at 90% of the compute's max_connections",
                    ),
                    set("query_wait_timeout", "120", "Neon's documented setting"),
                ],
                "use the direct host (without `-pooler`) for session state; Neon's pooler settings cannot be changed".to_owned(),
            ),
            PoolerKind::AzurePgBouncer => (
                Provider::Azure,
                "Azure built-in PgBouncer (port 6432)".to_owned(),
                Some(6432),
                vec![
                    set("pool_mode", "transaction", "Azure's default pgbouncer.pool_mode"),
                    set(
                        "max_prepared_statements",
                        "0",
                        "Azure's default pgbouncer.max_prepared_statements",
                    ),
                    set("default_pool_size", "50", "Azure's default pgbouncer.default_pool_size"),
                    set("max_client_conn", "5000", "Azure's default pgbouncer.max_client_conn"),
                ],
                "set the server parameter pgbouncer.max_prepared_statements (for example 200) on the Azure server, or connect on port 5432".to_owned(),
            ),
            PoolerKind::HerokuPooling => (
                Provider::Heroku,
                "Heroku connection pooling (DATABASE_CONNECTION_POOL_URL)".to_owned(),
                None,
                vec![
                    set("pool_mode", "transaction", "Heroku's server-side pooling is transaction mode"),
                    set("max_client_conn", "10000", "Heroku's documented client limit"),
                    undocumented(
                        "max_prepared_statements",
                        "Heroku does not document prepared-statement support",
                    ),
                    undocumented(
                        "default_pool_size",
                        "Heroku sizes the pool from the plan's connection limit",
                    ),
                ],
                "connect with DATABASE_URL (unpooled) where session state or prepared statements are needed".to_owned(),
            ),
            PoolerKind::DigitalOceanPool => {
                let mode = match pool_mode {
                    Some(mode) => set("pool_mode", mode, "the pool's mode in Terraform"),
                    None => set(
                        "pool_mode",
                        "transaction",
                        "not declared in the repository: DigitalOcean's default mode assumed",
                    ),
                };
                let size = match pool_size {
                    Some(size) => set("default_pool_size", size.to_string(), "the pool's size in Terraform"),
                    None => undocumented("default_pool_size", "the pool's size is not declared in the repository"),
                };
                (
                    Provider::DigitalOcean,
                    "DigitalOcean connection pool (port 25061)".to_owned(),
                    Some(25061),
                    vec![
                        mode,
                        size,
                        undocumented(
                            "max_prepared_statements",
                            "DigitalOcean does not document prepared-statement support",
                        ),
                        undocumented("max_client_conn", "DigitalOcean does not document a client limit per pool"),
                    ],
                    "change the pool's mode in DigitalOcean, or connect on port 25060".to_owned(),
                )
            }
            PoolerKind::RdsProxy => (
                Provider::Rds,
                "RDS Proxy".to_owned(),
                None,
                vec![
                    set(
                        "pool_mode",
                        "transaction",
                        "RDS Proxy multiplexes transactions and pins a session on SET, SQL PREPARE, advisory locks",
                    ),
                    set(
                        "max_prepared_statements",
                        "1000",
                        "RDS Proxy multiplexes the extended query protocol since November 2023",
                    ),
                    undocumented("max_client_conn", "RDS Proxy documents no client limit"),
                    undocumented(
                        "default_pool_size",
                        "MaxConnectionsPercent (default 100% of the target's max_connections)",
                    ),
                ],
                "avoid session state through the proxy, or connect to the instance endpoint".to_owned(),
            ),
            PoolerKind::FlyPgBouncer => (
                Provider::Fly,
                "Fly.io Managed Postgres pooler (pgbouncer.*.flympg.net)".to_owned(),
                None,
                vec![
                    set("pool_mode", "transaction", "Fly's pooled endpoint is transaction mode"),
                    set(
                        "max_prepared_statements",
                        "0",
                        "Fly asks clients to disable named prepared statements on the pooled endpoint",
                    ),
                    undocumented("max_client_conn", "Fly documents no client limit"),
                    undocumented("default_pool_size", "Fly documents no pool size"),
                ],
                "connect through direct.<cluster>.flympg.net where prepared statements or session state are needed".to_owned(),
            ),
            PoolerKind::CrunchyPgBouncer => (
                Provider::CrunchyBridge,
                "Crunchy Bridge PgBouncer (port 5431)".to_owned(),
                Some(5431),
                vec![
                    set("pool_mode", "transaction", "Crunchy Bridge's PgBouncer runs in transaction mode"),
                    undocumented("max_client_conn", "Crunchy Bridge documents no client limit"),
                    undocumented("default_pool_size", "Crunchy Bridge documents no pool size"),
                ],
                "connect on port 5432 where session state is needed".to_owned(),
            ),
        };
        PoolerSpec {
            kind: self,
            provider,
            label,
            port,
            settings,
            remedy,
        }
    }
}

/// What a host name (and port) reveals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostMatch {
    pub provider: Provider,
    pub pooler: Option<PoolerKind>,
}

/// Recognises a provider from a host name; `None` for any other host (a
/// provider is never guessed).
pub fn recognise_host(host: &str, port: Option<u16>) -> Option<HostMatch> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let found = |provider, pooler| Some(HostMatch { provider, pooler });
    let first = host.split('.').next().unwrap_or("");
    if host.ends_with(".rds.amazonaws.com") {
        let labels: Vec<&str> = host.split('.').collect();
        if labels.iter().any(|l| l.starts_with("proxy-")) {
            return found(Provider::Rds, Some(PoolerKind::RdsProxy));
        }
        if labels.iter().any(|l| l.starts_with("cluster-")) {
            return found(Provider::Aurora, None);
        }
        return found(Provider::Rds, None);
    }
    if host.ends_with(".postgres.database.azure.com") {
        let pooler = (port == Some(6432)).then_some(PoolerKind::AzurePgBouncer);
        return found(Provider::Azure, pooler);
    }
    if host.ends_with(".pooler.supabase.com") {
        let pooler = if port == Some(6543) {
            PoolerKind::SupavisorTransaction
        } else {
            PoolerKind::SupavisorSession
        };
        return found(Provider::Supabase, Some(pooler));
    }
    if host.starts_with("db.") && host.ends_with(".supabase.co") {
        let pooler = (port == Some(6543)).then_some(PoolerKind::SupavisorTransaction);
        return found(Provider::Supabase, pooler);
    }
    if host.ends_with(".neon.tech") {
        let pooler = first.ends_with("-pooler").then_some(PoolerKind::NeonPooler);
        return found(Provider::Neon, pooler);
    }
    if host.ends_with(".db.ondigitalocean.com") {
        let pooler = (port == Some(25061)).then_some(PoolerKind::DigitalOceanPool);
        return found(Provider::DigitalOcean, pooler);
    }
    if host.ends_with(".flympg.net") {
        let pooler = (first == "pgbouncer").then_some(PoolerKind::FlyPgBouncer);
        return found(Provider::Fly, pooler);
    }
    if host.ends_with(".postgresbridge.com") {
        let pooler = (port == Some(5431)).then_some(PoolerKind::CrunchyPgBouncer);
        return found(Provider::CrunchyBridge, pooler);
    }
    if host.ends_with(".tsdb.cloud.timescale.com") {
        return found(Provider::Timescale, None);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_formula_gives_the_documented_figures() {
        let limits = server_limits(Provider::Rds, Some("db.r6g.large")).expect("known");
        assert_eq!(limits.max_connections, Some(1802));
        assert_eq!(limits.provider_reserve, 2);
        assert!(
            limits
                .provenance()
                .contains("LEAST(DBInstanceClassMemory/9531392, 5000) ≈ 1802")
        );
        assert!(
            limits
                .provenance()
                .contains("override with [database] max_connections")
        );
        let micro = server_limits(Provider::Rds, Some("db.t3.micro")).expect("known");
        assert_eq!(micro.max_connections, Some(112));
        let big = server_limits(Provider::Rds, Some("db.r6g.16xlarge")).expect("known");
        assert_eq!(big.max_connections, Some(5000));
    }

    #[test]
    fn azure_burstable_keeps_fifteen() {
        let limits = server_limits(Provider::Azure, Some("B_Standard_B1ms")).expect("known");
        assert_eq!(limits.max_connections, Some(50));
        assert_eq!(limits.superuser_reserved + limits.provider_reserve, 15);
        let gp = server_limits(Provider::Azure, Some("GP_Standard_D4ds_v5")).expect("known");
        assert_eq!(gp.max_connections, Some(1718));
    }

    #[test]
    fn unknown_sizes_list_the_known_ones() {
        let error = server_limits(Provider::Rds, Some("db.q9.huge")).expect_err("unknown");
        assert!(error.contains("db.r6g.xlarge"), "{error}");
        assert!(Provider::from_key("oracle").is_none());
        assert!(Provider::known_keys().contains("supabase"));
    }

    #[test]
    fn other_tables() {
        let size = |p, s| server_limits(p, Some(s)).expect("known").max_connections;
        assert_eq!(size(Provider::Neon, "0.25"), Some(104));
        assert_eq!(size(Provider::Supabase, "nano"), Some(60));
        assert_eq!(size(Provider::DigitalOcean, "db-s-1vcpu-1gb"), Some(25));
        assert_eq!(size(Provider::CloudSql, "db-f1-micro"), Some(25));
        assert_eq!(size(Provider::CloudSql, "db-custom-2-7680"), Some(400));
        assert_eq!(size(Provider::Heroku, "standard-2"), Some(400));
    }

    #[test]
    fn hosts_reveal_providers_and_poolers() {
        let m = |h, p| recognise_host(h, p);
        assert_eq!(
            m("aws-0-eu-central-1.pooler.supabase.com", Some(6543)).and_then(|h| h.pooler),
            Some(PoolerKind::SupavisorTransaction)
        );
        assert_eq!(
            m("aws-0-eu-central-1.pooler.supabase.com", Some(5432)).and_then(|h| h.pooler),
            Some(PoolerKind::SupavisorSession)
        );
        assert_eq!(
            m(
                "ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech",
                None
            )
            .and_then(|h| h.pooler),
            Some(PoolerKind::NeonPooler)
        );
        assert_eq!(
            m("ep-cool-darkness-123456.us-east-2.aws.neon.tech", None).map(|h| h.pooler),
            Some(None)
        );
        assert_eq!(
            m("app.proxy-abc.us-east-1.rds.amazonaws.com", None).and_then(|h| h.pooler),
            Some(PoolerKind::RdsProxy)
        );
        assert_eq!(
            m("app.cluster-abc.us-east-1.rds.amazonaws.com", None).map(|h| h.provider),
            Some(Provider::Aurora)
        );
        assert_eq!(
            m("srv.postgres.database.azure.com", Some(6432)).and_then(|h| h.pooler),
            Some(PoolerKind::AzurePgBouncer)
        );
        assert_eq!(
            m("pgbouncer.abc.flympg.net", None).and_then(|h| h.pooler),
            Some(PoolerKind::FlyPgBouncer)
        );
        assert!(m("db.example.com", Some(6543)).is_none());
        assert!(m("postgres", None).is_none());
        assert!(m("rds.amazonaws.com.evil.example", None).is_none());
    }
}
