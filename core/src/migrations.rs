//! Versioned schema migrations, embedded in the binary and applied in order, each in its own
//! transaction under an advisory lock (two `kiosk-core migrate` at once are safe). A few lines
//! rather than a migration framework: the list is append-only and the table says what ran.

use crate::db::{locks, Client};
use crate::error::CoreError;

/// (version, description, SQL). Append only; never edit a released entry.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "kiosks, keys, idempotency keys, accounts, templates, choices, activations, authorisations", include_str!("../migrations/0001_initial.sql")),
    (2, "fleet heartbeats", include_str!("../migrations/0002_heartbeats.sql")),
    (3, "birth-date bucket of face templates", include_str!("../migrations/0003_birth_index.sql")),
    (4, "kiosks' audit chain heads", include_str!("../migrations/0004_audit_anchors.sql")),
];

/// The schema version this build needs.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Applies what is missing; returns the versions applied now.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, CoreError> {
    let mut applied_now = Vec::new();
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&locks::MIGRATE]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await?;
    let current: i32 = tx.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await?.get(0);
    if current > latest() {
        return Err(CoreError::SchemaTooNew { found: current, known: latest() });
    }
    for (version, description, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO schema_migrations (version, description) VALUES ($1, $2)", &[version, description]).await?;
        applied_now.push(*version);
    }
    tx.commit().await?;
    Ok(applied_now)
}

/// Refuses to serve on a schema other than the one this build was written for.
pub async fn check(client: &Client) -> Result<(), CoreError> {
    let exists: bool = client.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[]).await?.get(0);
    let found: i32 = if exists {
        client.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await?.get(0)
    } else {
        0
    };
    match found.cmp(&latest()) {
        std::cmp::Ordering::Less => Err(CoreError::SchemaOutdated { found, needed: latest() }),
        std::cmp::Ordering::Greater => Err(CoreError::SchemaTooNew { found, known: latest() }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}
