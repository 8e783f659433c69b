//! The PostgreSQL connection pool (deadpool over tokio-postgres; no TLS: the database is
//! reached over a local socket or a private network) and transaction retries.

use crate::error::CoreError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

pub type Client = deadpool_postgres::Client;

/// A pool of `size` connections to `url` (libpq key=value or postgresql:// URL).
pub fn pool(url: &str, size: usize) -> Result<Pool, CoreError> {
    let config: tokio_postgres::Config =
        url.parse().map_err(|e| CoreError::Usage(format!("--database-url is not a PostgreSQL connection string: {e}")))?;
    // Fast: a connection is checked for being closed, without a test query (a round trip each
    // checkout). One broken by a server restart is seen closed and replaced; one that breaks
    // while in use fails its query, a 503 the kiosk retries.
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager)
        .max_size(size.max(1))
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| CoreError::Pool(e.to_string()))
}

/// Whether a transaction failed only because another one raced it (serialisation failure,
/// deadlock, a unique key taken meanwhile): running it again gives the right answer.
pub fn is_race(error: &CoreError) -> bool {
    match error {
        CoreError::Database(e) => matches!(
            e.code(),
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::UNIQUE_VIOLATION
        ),
        _ => false,
    }
}

/// Advisory lock keys (`pg_advisory_xact_lock`), one per serialised job.
pub mod locks {
    /// Schema migrations.
    pub const MIGRATE: i64 = 0x6b69_6f73_6b00_0001;
    /// Admission of new accounts: each batch's 1:N check and the insert of its templates happen
    /// under it (`admission`).
    pub const ADMISSION: i64 = 0x6b69_6f73_6b00_0002;
    /// Creation of the first data key.
    pub const KEYS: i64 = 0x6b69_6f73_6b00_0003;
}
