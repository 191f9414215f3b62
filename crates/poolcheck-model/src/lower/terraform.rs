//! Terraform: managed PostgreSQL servers (`aws_db_instance`,
//! `azurerm_postgresql_flexible_server`, …) with the provider's documented
//! limit for their size, or the `max_connections` a parameter group,
//! configuration or flag sets; and the connection pools a provider runs.

use poolcheck_core::facts::providers::{rds_memory_gib, server_limits};
use poolcheck_core::facts::terraform::{TfServer, TfSetting};
use poolcheck_core::{Origin, Sourced};

use super::Context;
use crate::declarations::{Declarations, ServerDeclaration, ServerSource};
use crate::topology::DatabaseServer;
use crate::topology::providers::{ProviderInfo, apply_limits};

pub(super) fn lower(cx: &Context<'_>, out: &mut Declarations) {
    for server in terraform_servers(cx.workspace) {
        out.servers.push(ServerDeclaration {
            server,
            source: ServerSource::Terraform,
        });
    }
    out.provider_poolers.extend(
        cx.workspace
            .facts
            .iter()
            .filter_map(|f| f.terraform.as_ref())
            .flat_map(|t| t.poolers.iter().cloned()),
    );
}

/// The servers Terraform declares, each with its provider's limit for its
/// size, or the `max_connections` a parameter group, configuration or flag
/// sets.
fn terraform_servers(workspace: &crate::workspace::Workspace) -> Vec<DatabaseServer> {
    let files: Vec<_> = workspace
        .facts
        .iter()
        .filter_map(|f| f.terraform.as_ref())
        .collect();
    let settings: Vec<&TfSetting> = files.iter().flat_map(|f| &f.settings).collect();
    let mut out = Vec::new();
    let with_paths: Vec<_> = workspace
        .facts
        .iter()
        .filter_map(|f| {
            let terraform = f.terraform.as_ref()?;
            Some((f.path.as_path().parent(), terraform))
        })
        .collect();
    for (directory, file) in &with_paths {
        for declared in &file.servers {
            // A module's variables live in any of its files (variables.tf).
            let mut declared = declared.clone();
            if let Some(variable) = &declared.size_variable {
                let default = with_paths
                    .iter()
                    .filter(|(d, _)| d == directory)
                    .flat_map(|(_, f)| &f.variables)
                    .find(|(name, _)| name == variable);
                if let Some((_, value)) = default {
                    declared.size = Sourced::with_origin(
                        value.value.clone().unwrap_or_default(),
                        Origin::Computed {
                            expr: format!("default of var.{variable}"),
                        },
                        value.location.clone(),
                    );
                }
            }
            out.push(terraform_server(&declared, &settings));
        }
    }
    out
}

fn terraform_server(declared: &TfServer, settings: &[&TfSetting]) -> DatabaseServer {
    {
        let mut server = crate::topology::assemble::described_server(&declared.address);
        server.location = Some(declared.location.clone());
        let size = declared.size.value.as_deref();
        match server_limits(declared.provider, size) {
            Ok(limits) => apply_limits(&mut server, &limits, Some(&declared.size)),
            Err(problem) => {
                server.provider = Some(ProviderInfo {
                    provider: declared.provider,
                    size: Some(declared.size.clone()),
                    limit_from_table: false,
                });
                server.max_connections = Sourced::unknown(problem, declared.size.location.clone());
            }
        }
        if size.is_none() {
            let reason = format!(
                "{} size of {}: {}; declare [database] max_connections",
                declared.provider.display_name(),
                declared.address,
                declared.size.unknown_reason().unwrap_or("unknown")
            );
            server.max_connections = Sourced::unknown(reason, declared.size.location.clone());
        }
        let setting = declared.max_connections.as_ref().or_else(|| {
            settings
                .iter()
                .find(|s| configures(s, declared))
                .map(|s| &s.max_connections)
        });
        if let Some(setting) = setting {
            server.max_connections = setting_value(setting, declared);
            if let Some(info) = &mut server.provider {
                info.limit_from_table = false;
            }
        }
        server
    }
}

/// True when `setting` belongs to `server`: a parameter group the instance
/// names (by address or literal name), or a configuration whose server_id
/// refers to it.
fn configures(setting: &TfSetting, server: &TfServer) -> bool {
    if let Some(target) = &setting.server {
        return *target == server.address;
    }
    server
        .refers_to
        .iter()
        .any(|r| *r == setting.address || setting.name.as_deref() == Some(r.as_str()))
}

/// A `max_connections` written in Terraform: an integer, RDS's
/// `{DBInstanceClassMemory/N}` formula (computed from the instance's
/// size), or unknown with the reason.
fn setting_value(value: &Sourced<String>, server: &TfServer) -> Sourced<i64> {
    let Some(text) = value.value.as_deref() else {
        return Sourced::unknown(
            value.unknown_reason().unwrap_or("unknown").to_owned(),
            value.location.clone(),
        );
    };
    if let Ok(n) = text.trim().parse::<i64>() {
        return Sourced::with_origin(n, value.origin.clone(), value.location.clone());
    }
    match rds_formula(text, server.size.value.as_deref()) {
        Ok((n, expr)) => Sourced::computed(n, expr, value.location.clone()),
        Err(reason) => Sourced::unknown(reason, value.location.clone()),
    }
}

/// `{DBInstanceClassMemory/9531392}` or `LEAST({DBInstanceClassMemory/9531392},5000)`.
fn rds_formula(text: &str, class: Option<&str>) -> Result<(i64, String), String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (inner, cap) = match compact
        .strip_prefix("LEAST(")
        .and_then(|r| r.strip_suffix(')'))
    {
        Some(args) => {
            let (formula, cap) = args
                .rsplit_once(',')
                .ok_or_else(|| format!("`{text}` is not a formula poolcheck evaluates"))?;
            let cap: i64 = cap
                .parse()
                .map_err(|_| format!("`{text}` is not a formula poolcheck evaluates"))?;
            (formula.to_owned(), Some(cap))
        }
        None => (compact.clone(), None),
    };
    let divisor: i64 = inner
        .strip_prefix("{DBInstanceClassMemory/")
        .and_then(|r| r.strip_suffix('}'))
        .and_then(|d| d.parse().ok())
        .filter(|d| *d > 0)
        .ok_or_else(|| {
            format!(
                "`{text}` is not a formula poolcheck evaluates; declare [database] max_connections"
            )
        })?;
    let Some(class) = class else {
        return Err(format!(
            "`{text}` depends on the instance's memory, and its instance class is unknown"
        ));
    };
    let gib = rds_memory_gib(class).ok_or_else(|| {
        format!("`{text}` depends on the instance's memory, and {class} is not in poolcheck's table of RDS classes")
    })?;
    let mut n = gib.saturating_mul(1 << 30) / divisor;
    if let Some(cap) = cap {
        n = n.min(cap);
    }
    Ok((
        n,
        format!("{text} with {gib} GiB ({class}; RDS counts a little less memory)"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_formulas_are_computed_from_the_class() {
        let (n, _) = rds_formula("{DBInstanceClassMemory/9531392}", Some("db.r6g.large"))
            .expect("evaluates");
        assert_eq!(n, 1802);
        let (n, _) = rds_formula(
            "LEAST({DBInstanceClassMemory/9531392}, 1000)",
            Some("db.r6g.large"),
        )
        .expect("evaluates");
        assert_eq!(n, 1000);
        let error = rds_formula("{DBInstanceClassMemory/9531392}", None).expect_err("no class");
        assert!(error.contains("instance class is unknown"), "{error}");
        assert!(rds_formula("GREATEST(1,2)", Some("db.r6g.large")).is_err());
    }
}
