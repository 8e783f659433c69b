//! `kiosk sync`: drain the outbox to the bank core now, printing progress, then apply key
//! rotation and retention.

use super::AppError;
use crate::account::KioskIdentity;
use crate::store::Store;
use crate::sync::{self, Backoff, CoreClient, Progress, Scope, Timeouts};
use kiosk_config::Config;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where the kiosk keeps its files under `data_dir`.
pub struct DataPaths {
    pub db: PathBuf,
    /// The KEK when `store.kek = "file"` (demo, tests); a kiosk's is a credential (`app::kek`).
    pub kek: PathBuf,
    pub identity: PathBuf,
}

impl DataPaths {
    pub fn under(data_dir: &Path) -> DataPaths {
        DataPaths {
            db: data_dir.join("kiosk.db"),
            kek: data_dir.join("keys/kek.key"),
            identity: data_dir.join("keys/kiosk-ed25519.key"),
        }
    }
}

pub fn backoff_of(config: &Config) -> Backoff {
    Backoff {
        initial: Duration::from_millis(u64::from(config.sync.backoff_initial_ms)),
        max: Duration::from_secs(u64::from(config.sync.backoff_max_s)),
    }
}

/// The core client as configured.
pub fn client_of(config: &Config, identity: Arc<KioskIdentity>) -> Result<CoreClient, AppError> {
    let s = &config.sync;
    let tls = sync::tls::client_config(&s.ca_cert, &s.client_cert, &s.client_key).map_err(sync::SyncError::from)?;
    let timeouts = Timeouts {
        connect: Duration::from_secs(u64::from(s.connect_timeout_s)),
        request: Duration::from_secs(u64::from(s.request_timeout_s)),
    };
    Ok(CoreClient::new(&s.core_url, tls, &config.kiosk.id, identity, timeouts)?)
}

/// Returns whether the outbox is empty and nothing is quarantined.
pub fn run(config: &Config, data_dir: &Path) -> Result<bool, AppError> {
    let paths = DataPaths::under(data_dir);
    if !paths.db.is_file() {
        return Err(AppError::NoDatabase { path: paths.db.clone(), hint: "no such database; check --data-dir or kiosk.data_dir" });
    }
    let keys = super::kek::open(config, data_dir)?;
    let identity = Arc::new(KioskIdentity::load(&paths.identity)?);
    let mut store = Store::open(&paths.db, &keys)?;
    let mut client = client_of(config, identity)?;
    let backoff = backoff_of(config);
    let status = store.outbox_status()?;
    println!("kiosk sync: {} pending, {} quarantined; core {}", status.pending, status.quarantined, config.sync.core_url);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::task("tokio runtime", e))?;
    let mut print = |p: Progress<'_>| match p {
        Progress::Sent { id, duplicate, done, total } => {
            let note = if duplicate { " (the core already had it)" } else { "" };
            println!("  [{done}/{total}] {id} acknowledged{note}");
        }
        Progress::Quarantined { id, reason } => println!("  {id} QUARANTINED: {reason}"),
        Progress::Deferred { id, reason, retry_in } => {
            println!("  {id} deferred: {reason}; next attempt in {} s", retry_in.as_secs().max(1))
        }
    };
    let report = runtime.block_on(sync::drain(&mut store, &mut client, &backoff, Scope::All, &mut print))?;

    let upkeep = super::upkeep::run_once(&mut store, &keys, config, time::OffsetDateTime::now_utc())?;
    if upkeep.rotated {
        println!("  data key rotated");
    }
    let purge = &upkeep.purge;
    if !purge.is_empty() {
        println!(
            "  retention: {} face templates, {} documents and {} social payments choices purged, {} retired keys destroyed",
            purge.face_templates,
            purge.documents,
            purge.social_payments_choices,
            purge.keys_destroyed.len()
        );
    }
    match &report.anchor {
        crate::sync::AnchorOutcome::Anchored { seq } => println!("  audit head anchored at the core: seq {seq}"),
        crate::sync::AnchorOutcome::Refused { reason } => {
            println!("  AUDIT HEAD REFUSED by the core: {reason} (the local log does not match what the core holds; call security)")
        }
        crate::sync::AnchorOutcome::Deferred { reason } => println!("  audit head not anchored yet: {reason}"),
        crate::sync::AnchorOutcome::NotSent => {}
    }
    if report.blocked_at_core > 0 {
        println!("  accounts blocked at the core (the person already has a demo account at a kiosk): {}", report.blocked_at_core);
    }
    if report.redemptions_recorded > 0 {
        println!("  activation tokens redeemed at the core, recorded now: {}", report.redemptions_recorded);
    }

    let status = store.outbox_status()?;
    println!(
        "sent {} ({} already at the core), quarantined {} now; outbox: {} pending, {} sent, {} quarantined",
        report.sent, report.duplicates, report.quarantined, status.pending, status.sent, status.quarantined
    );
    for q in store.quarantined_outbox()? {
        println!("  quarantined {} ({}): {}", q.id, q.kind, q.reason);
    }
    if let Some(reason) = &report.deferred {
        println!("stopped early: {reason}; the rest is retried with back-off");
    }
    Ok(status.pending == 0 && status.quarantined == 0)
}
