//! Database roles: the migrator owns the schema; the serving role reads and appends the log and
//! writes the tables the live roles keep, and nothing more.
//!
//! A serving process that could change the log could also hide it: it could disable the
//! append-only triggers (only a table's owner can), or update and delete rows once they were
//! off. So the processes that serve requests connect as a role that owns nothing; `oxbow
//! migrate` and `oxbow projections rebuild` connect as the owner.

use sqlx::PgPool;

use crate::error::{Error, Result};

/// The statements that give `role` what serving needs. Idempotent; run again after every
/// migration, since new tables are not covered by older grants.
fn grants(role: &str) -> Vec<String> {
    vec![
        format!("grant usage on schema public to \"{role}\""),
        format!("grant select, insert, update, delete on all tables in schema public to \"{role}\""),
        format!("grant usage, select on all sequences in schema public to \"{role}\""),
        // The log: read and appended, never changed or removed.
        format!("revoke update, delete, truncate, references, trigger on events from \"{role}\""),
        format!("revoke truncate, references, trigger on all tables in schema public from \"{role}\""),
        // Nor may it add to the schema.
        format!("revoke create on schema public from \"{role}\""),
    ]
}

/// Whether `name` may be written into SQL as a role's name.
fn valid_role(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// Gives the serving role `role` its privileges over the current schema. The caller must own
/// the schema (the migrator).
pub async fn grant_serving(pool: &PgPool, role: &str) -> Result<()> {
    if !valid_role(role) {
        return Err(Error::Invalid(format!(
            "{role:?} is not a role name Oxbow uses: lowercase letters, digits and _, at most 63"
        )));
    }
    let mut transaction = pool.begin().await?;
    for statement in grants(role) {
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut *transaction).await?;
    }
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_role_names_reach_sql() {
        assert!(valid_role("oxbow_app"));
        assert!(valid_role("_serving2"));
        for bad in ["", "App", "a\"; drop table events; --", "1app", "a-b", &"a".repeat(64)] {
            assert!(!valid_role(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_log_is_never_granted_more_than_select_and_insert() {
        let grants = grants("oxbow_app").join(";\n");
        assert!(grants.contains("revoke update, delete, truncate, references, trigger on events"));
        let revoke = grants.find("on events").unwrap();
        let grant_all = grants.find("on all tables").unwrap();
        assert!(grant_all < revoke, "the revoke comes after the broad grant");
    }
}
