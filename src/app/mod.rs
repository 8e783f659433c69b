//! The imperative shell: runs the pure `flow` on the devices, models and store that `wiring`
//! builds from the configuration, and implements each subcommand.
//!
//! **Architecture invariant:** the shell performs, the flow decides; devices and settings come
//! from `wiring` only, so `run`, `demo`, `card read` and `face …` see one kiosk.

#[cfg(feature = "demo")]
pub mod demo;
pub mod diag_cli;
pub mod kek;
pub mod provision;
pub mod release;
pub mod run;
mod card_cli;
mod errors;
mod face_cli;
mod session;
pub mod sync_cli;
pub mod trust_cli;
pub mod upkeep;

pub use errors::{AppError, ErrorKind};
pub use session::{follow_challenge, ChallengeOutcome, SessionReport, StepRecord};

use std::path::{Path, PathBuf};

use clap::ValueEnum;

use crate::{account, store};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Structured logs on stderr; `RUST_LOG` filters (default: warnings, kiosk info).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,kiosk=info,kiosk_hal=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub use card_cli::{CardReadOptions, SimulatedCard};

/// `kiosk card read`: true when a bank card was read or a passport passed passive authentication.
pub fn card_read(config_file: Option<&Path>, options: &CardReadOptions) -> Result<bool, AppError> {
    card_cli::run(config_file, options)
}

/// `kiosk face verify`.
pub fn face_verify(
    config_file: Option<&Path>,
    reference: &Path,
    probe: &Path,
    json: bool,
) -> Result<bool, AppError> {
    let config = kiosk_config::load(config_file)?;
    let mut pipeline = crate::wiring::face_pipeline(&config)?;
    face_cli::verify(&mut pipeline, reference, probe, config.face.match_threshold, json)
}

/// `kiosk face scores`.
pub fn face_scores(config_file: Option<&Path>, images: &[PathBuf], json: bool) -> Result<(), AppError> {
    let config = kiosk_config::load(config_file)?;
    let mut pipeline = crate::wiring::face_pipeline(&config)?;
    face_cli::scores(&mut pipeline, images, json)
}

/// `kiosk face liveness`.
pub fn face_liveness(config_file: Option<&Path>, image: &Path, json: bool) -> Result<bool, AppError> {
    let config = kiosk_config::load(config_file)?;
    let mut pipeline = crate::wiring::face_pipeline(&config)?;
    face_cli::liveness(&mut pipeline, image, json)
}

/// `kiosk config check FILE`: valid, and on a street kiosk nothing simulated and no test key.
pub fn config_check(file: &Path) -> Result<(), AppError> {
    let config = kiosk_config::load(Some(file))?;
    let found = crate::wiring::not_for_production(&config);
    let kind = if config.kiosk.demo { "demo kiosk" } else { "kiosk" };
    println!(
        "{}: valid ({kind} {}, display {}×{}, card reader {:?})",
        file.display(),
        config.kiosk.id,
        config.display.width,
        config.display.height,
        config.card_reader.driver
    );
    for part in &found {
        let verdict = if config.kiosk.demo { "allowed on a demo kiosk" } else { "FAIL" };
        println!("  {verdict}: {part}");
    }
    crate::wiring::check_production(&config)?;
    Ok(())
}

/// `kiosk token verify`.
pub fn token_verify(token: &str, public_key_hex: &str) -> Result<(), AppError> {
    let bytes: [u8; 32] =
        hex::decode(public_key_hex.trim()).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| {
            AppError::Usage("--public-key must be 64 hex digits (an Ed25519 public key)".into())
        })?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| AppError::Usage("--public-key is not a valid Ed25519 public key".into()))?;
    let claims = account::verify_token(&key, token.trim(), time::OffsetDateTime::now_utc())?;
    println!("{}", serde_json::to_string_pretty(&claims).map_err(|e| AppError::internal("token claims", e))?);
    Ok(())
}

/// `kiosk sync`: true when everything reached the core and nothing is quarantined.
pub fn sync(config_file: Option<&Path>, data_dir: Option<&Path>) -> Result<bool, AppError> {
    let config = kiosk_config::load(config_file)?;
    let data_dir = data_dir.unwrap_or(&config.kiosk.data_dir).to_path_buf();
    sync_cli::run(&config, &data_dir)
}

/// `kiosk audit verify [--db PATH] [--kek FILE]`: the configured database and key-encryption key
/// unless named (a demo's: `--db out/demo/kiosk.db --kek out/demo/keys/kek.key`).
pub fn audit_verify_configured(config_file: Option<&Path>, db: Option<&Path>, kek: Option<&Path>) -> Result<(), AppError> {
    let config = kiosk_config::load(config_file)?;
    let db = db.map_or_else(|| sync_cli::DataPaths::under(&config.kiosk.data_dir).db, Path::to_path_buf);
    let keys = match kek {
        Some(file) => store::KeyStore::open(file)?,
        None => kek::open(&config, db.parent().unwrap_or(&config.kiosk.data_dir))?,
    };
    audit_verify(&db, &keys.audit_key())
}

/// Verifies the keyed chain and the last head anchored at the core; prints both.
pub fn audit_verify(db: &Path, key: &store::AuditKey) -> Result<(), AppError> {
    if !db.is_file() {
        return Err(AppError::NoDatabase { path: db.to_path_buf(), hint: "no such database file" });
    }
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| AppError::file(db, std::io::Error::other(e)))?;
    let report = store::verify_chain(&conn, key)?;
    println!("{}: audit chain intact, {} rows, head {}", db.display(), report.rows, report.head_hash);
    if report.unkeyed_rows > 0 {
        println!("  the first {} rows were written before the chain was keyed (SHA-256 only)", report.unkeyed_rows);
    }
    match &report.last_anchor {
        Some(a) => println!(
            "  last head anchored at the bank core: seq {} ({}), acknowledged {}; the local chain matches it",
            a.seq,
            a.head,
            time::OffsetDateTime::from_unix_timestamp(a.acknowledged_at_ms / 1000)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                .unwrap_or_else(|| a.acknowledged_at_ms.to_string())
        ),
        None => println!("  no head anchored at the bank core yet (it is sent with each sync batch)"),
    }
    Ok(())
}
