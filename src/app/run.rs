//! `kiosk run`: the production service shell. Opens the store, models and devices as
//! configured, serves `/healthz`, `/readyz` and `/metrics` on loopback, tells systemd when it
//! is ready and that it is alive (watchdog), drains the outbox in the background, and runs
//! one `Session` per person until SIGTERM. On SIGTERM a session in progress gets
//! `health.stop_grace_s` to finish; past that it is abandoned: its personal data lives only in
//! memory and the store writes an onboarding in one transaction, so nothing half-written stays.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kiosk_config::Config;
use kiosk_hal::Display;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;

use super::session::{Services, Session, StepRecord};
use super::sync_cli::{backoff_of, client_of, DataPaths};
use super::AppError;
use crate::account::KioskIdentity;
use crate::diag::health::{self, HealthState};
use crate::diag::metrics::{Metrics, SyncGauges};
use crate::diag::notify::{self, Notifier};
use crate::flow::Outcome;
use crate::store::{KeyStore, Store};
use crate::wiring::{self, Devices, OpenError, Simulation};

/// Wait before reopening devices after a device fault.
const REOPEN_AFTER: Duration = Duration::from_secs(10);
/// How often the sync gauges are refreshed from the database.
const GAUGES_EVERY: Duration = Duration::from_secs(15);

/// Blocking entry point for the CLI.
pub fn run(config_file: Option<&Path>, data_dir: Option<&Path>) -> Result<(), AppError> {
    let config = kiosk_config::load(config_file)?;
    let data_dir = data_dir.map_or_else(|| config.kiosk.data_dir.clone(), Path::to_path_buf);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| AppError::io("tokio runtime", e))?;
    runtime.block_on(service(config, data_dir))
}

struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn new() -> Result<Self, AppError> {
        let install = |kind| signal(kind).map_err(|e| AppError::io("signal handler", e));
        Ok(Self { term: install(SignalKind::terminate())?, int: install(SignalKind::interrupt())? })
    }

    async fn stop_requested(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

async fn service(config: Config, data_dir: PathBuf) -> Result<(), AppError> {
    let metrics = Arc::new(Metrics::default());
    let health = HealthState::new(Arc::clone(&metrics));
    let listener = health::bind(&config.health.listen).await.map_err(|e| AppError::Usage(e.to_string()))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(health::serve(listener, Arc::clone(&health), stop_rx.clone()));
    let notifier = Arc::new(Notifier::from_env());
    let mut signals = Signals::new()?;
    let housekeeping = tokio::spawn(housekeeping(
        Arc::clone(&health),
        Arc::clone(&notifier),
        DataPaths::under(&data_dir).db,
        stop_rx.clone(),
    ));
    tracing::info!(listen = %config.health.listen, data_dir = %data_dir.display(), "kiosk service starting");

    let result = tokio::select! {
        services = open_services(&config, &data_dir, stop_rx.clone()) => match services {
            Ok(services) => serve_people(services, &metrics, &notifier, &mut signals).await,
            Err(error) => Err(error),
        },
        _ = signals.stop_requested() => Ok(()),
    };
    metrics.set_ready(false);
    notify::notify(notifier.as_ref().as_ref(), "STOPPING=1");
    let _ = stop_tx.send(true);
    let _ = server.await;
    let _ = housekeeping.await;
    tracing::info!("kiosk service stopped");
    result
}

/// Store, keys, models; and the background outbox drain when the core's TLS files exist.
async fn open_services(config: &Config, data_dir: &Path, stop: watch::Receiver<bool>) -> Result<Services, AppError> {
    let paths = DataPaths::under(data_dir);
    let keys = KeyStore::open(&paths.kek)?;
    let identity = Arc::new(KioskIdentity::load(&paths.identity)?);
    let store = Store::open(&paths.db, &keys)?;
    match client_of(config, Arc::clone(&identity)) {
        Ok(client) => {
            let sync_store = Store::open(&paths.db, &keys)?;
            let poll = Duration::from_secs(u64::from(config.sync.poll_interval_s));
            let backoff = backoff_of(config);
            // The drain's future is not `Send`: it gets a thread and a runtime of its own.
            let spawned = std::thread::Builder::new().name("outbox-sync".into()).spawn(move || {
                match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime.block_on(crate::sync::run(sync_store, client, backoff, poll, stop)),
                    Err(error) => tracing::error!(%error, "outbox sync runtime could not start"),
                }
            });
            if let Err(error) = spawned {
                tracing::error!(%error, "outbox sync thread could not start");
            }
        }
        // Onboarding goes on; the outbox keeps everything until the link is fixed (diag says how).
        Err(error) => tracing::error!(%error, "outbox sync disabled: the core client cannot be set up"),
    }
    let models = config.clone();
    let pipeline = tokio::task::spawn_blocking(move || wiring::face_pipeline(&models))
        .await
        .map_err(|e| AppError::io("model loading task", e))??;
    Services::new(config.clone(), store, identity, pipeline)
}

async fn serve_people(
    mut services: Services,
    metrics: &Metrics,
    notifier: &Option<Notifier>,
    signals: &mut Signals,
) -> Result<(), AppError> {
    let mut announced = false;
    loop {
        // `kiosk run` asks nothing of simulated devices: no fault, nobody touching.
        let opened = wiring::open_devices(&services.config, &Simulation::default()).map_err(AppError::from);
        let devices = match opened {
            Ok(opened) => opened,
            Err(error) => {
                metrics.device_error(device_of(&error));
                metrics.set_ready(false);
                tracing::error!(%error, "devices could not be opened; out of service, retrying");
                tokio::select! {
                    _ = tokio::time::sleep(REOPEN_AFTER) => continue,
                    _ = signals.stop_requested() => return Ok(()),
                }
            }
        };
        metrics.set_ready(true);
        if !announced {
            notify::notify(notifier.as_ref(), "READY=1\nSTATUS=serving");
            tracing::info!("kiosk ready");
            announced = true;
        }
        match one_session(devices, &mut services, metrics, signals).await {
            SessionEnd::Continue => {}
            SessionEnd::Stop => return Ok(()),
            SessionEnd::DeviceFault => {
                metrics.set_ready(false);
                tokio::select! {
                    _ = tokio::time::sleep(REOPEN_AFTER) => {}
                    _ = signals.stop_requested() => return Ok(()),
                }
            }
        }
    }
}

enum SessionEnd {
    Continue,
    Stop,
    DeviceFault,
}

async fn one_session<D: Display + 'static>(
    devices: Devices<D>,
    services: &mut Services,
    metrics: &Metrics,
    signals: &mut Signals,
) -> SessionEnd {
    let stop_grace = Duration::from_secs(u64::from(services.config.health.stop_grace_s));
    // A session counts as started when the person does something (the first step).
    let started = Cell::new(false);
    let mut on_step = |record: &StepRecord| {
        if !started.replace(true) {
            metrics.session_started();
        }
        metrics.observe_stage(record.step, record.duration.as_secs_f64());
    };
    let session = Session::new(devices, services, &mut on_step);
    let run = session.run();
    tokio::pin!(run);
    let (result, stopping) = tokio::select! {
        result = &mut run => (Some(result), false),
        _ = signals.stop_requested() => {
            metrics.set_ready(false);
            if started.get() {
                tracing::info!(grace_s = stop_grace.as_secs(), "stop requested: letting the session in progress finish");
                (tokio::time::timeout(stop_grace, &mut run).await.ok(), true)
            } else {
                (None, true)
            }
        }
    };
    let end = |fault| if stopping { SessionEnd::Stop } else if fault { SessionEnd::DeviceFault } else { SessionEnd::Continue };
    match result {
        None if started.get() => {
            tracing::warn!("session abandoned at shutdown; its data was only in memory and is gone");
            metrics.session_finished("abandoned", "shutdown");
            SessionEnd::Stop
        }
        None => SessionEnd::Stop,
        Some(Ok((report, _devices))) => {
            let (outcome, reason) = match report.outcome {
                Some(Outcome::AccountIssued) => ("account_issued", "none"),
                Some(Outcome::Refused(reason)) => ("refused", super::session::refusal_code(reason)),
                Some(Outcome::WalkedAway) => ("abandoned", "walked_away"),
                None => ("abandoned", "none"),
            };
            if started.get() {
                metrics.session_finished(outcome, reason);
            }
            // Devices are reopened for the next person: a fresh, known state each time.
            end(false)
        }
        Some(Err(error)) => {
            tracing::error!(%error, "session failed");
            metrics.device_error(device_of(&error));
            if started.get() {
                metrics.session_finished("error", device_of(&error));
            }
            end(true)
        }
    }
}

fn device_of(error: &AppError) -> &'static str {
    match error {
        AppError::CardReader(_) | AppError::Identity(_) | AppError::Open(OpenError::CardReader(_)) => "card_reader",
        AppError::Camera(_) | AppError::Open(OpenError::Camera(_)) => "camera",
        AppError::Display(_) | AppError::Ui(_) | AppError::Open(OpenError::Display(_)) => "display",
        AppError::Input(_) | AppError::Open(OpenError::Input(_)) => "input",
        AppError::Store(_) | AppError::KeyStore(_) => "store",
        AppError::Vision(_) => "models",
        _ => "other",
    }
}

/// Ticks the liveness clock, pings the systemd watchdog, refreshes the sync gauges.
async fn housekeeping(health: Arc<HealthState>, notifier: Arc<Option<Notifier>>, db: PathBuf, mut stop: watch::Receiver<bool>) {
    let watchdog = notify::watchdog_interval();
    let tick = watchdog.map_or(Duration::from_secs(1), |w| w.min(Duration::from_secs(1)));
    let mut interval = tokio::time::interval(tick);
    let mut last_gauges = tokio::time::Instant::now() - GAUGES_EVERY;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => if *stop.borrow() { return; },
        }
        health.tick();
        if watchdog.is_some() {
            notify::notify(notifier.as_ref().as_ref(), "WATCHDOG=1");
        }
        if last_gauges.elapsed() >= GAUGES_EVERY {
            last_gauges = tokio::time::Instant::now();
            let db = db.clone();
            if let Ok(Some(gauges)) = tokio::task::spawn_blocking(move || sync_gauges(&db)).await {
                health.metrics.set_sync(gauges);
            }
        }
    }
}

/// Reads the outbox state with a read-only connection of its own.
fn sync_gauges(db: &Path) -> Option<SyncGauges> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let now = crate::store::unix_ms_now();
    let g = crate::store::read_outbox_gauges(&conn).ok()?;
    Some(SyncGauges {
        backlog: u64::try_from(g.pending).unwrap_or(0),
        quarantined: u64::try_from(g.quarantined).unwrap_or(0),
        oldest_unsent_age_s: g.oldest_unsent_ms.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0),
        last_success_unix_s: g.last_sent_ms.map_or(0.0, |t| t as f64 / 1000.0),
    })
}
