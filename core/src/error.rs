//! The crate's error type: what failed, and a `kind()` a caller (or the HTTP layer) acts on.

use std::path::PathBuf;
use thiserror::Error;

/// What a caller can do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Wrong arguments or configuration: fix them and run again.
    Usage,
    /// The database is unreachable or failed: retry later (HTTP 503).
    Unavailable,
    /// Keys or files: an operator must fix something on the machine.
    Setup,
    /// The database holds something this version cannot read.
    Corrupt,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CoreError {
    #[error("{0}")]
    Usage(String),
    #[error("PostgreSQL: {0}; check that the server runs and --database-url points at it")]
    Database(#[from] tokio_postgres::Error),
    #[error("PostgreSQL connection pool: {0}; check that the server runs and --database-url points at it")]
    Pool(String),
    #[error("the database schema is at version {found}, this kiosk-core needs {needed}: run `kiosk-core migrate` first")]
    SchemaOutdated { found: i32, needed: i32 },
    #[error("the database schema is at version {found}, newer than this kiosk-core ({known}); upgrade kiosk-core")]
    SchemaTooNew { found: i32, known: i32 },
    #[error(transparent)]
    Keys(#[from] kiosk::store::KeyStoreError),
    #[error("sealing: {0}")]
    Seal(#[from] kiosk::store::SealError),
    #[error(transparent)]
    Tls(#[from] kiosk::sync::TlsError),
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("the gateway's admission task stopped: {0}; the kiosk retries on another gateway")]
    Stopped(&'static str),
    #[error("database row is corrupt: {0}; restore from backup")]
    Corrupt(String),
}

impl CoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::Usage(_) => ErrorKind::Usage,
            CoreError::Database(_) | CoreError::Pool(_) | CoreError::Stopped(_) => ErrorKind::Unavailable,
            CoreError::SchemaOutdated { .. } | CoreError::SchemaTooNew { .. } => ErrorKind::Setup,
            CoreError::Keys(_) | CoreError::Tls(_) | CoreError::Io { .. } => ErrorKind::Setup,
            CoreError::Seal(_) | CoreError::Corrupt(_) => ErrorKind::Corrupt,
        }
    }
}

impl From<deadpool_postgres::PoolError> for CoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => CoreError::Database(e),
            other => CoreError::Pool(other.to_string()),
        }
    }
}
