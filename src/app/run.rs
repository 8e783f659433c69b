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
use crate::flow::{Outcome, Screen, UiOptions};
use crate::store::Store;
use crate::wiring::{self, Devices, OpenError, Simulation};

/// First wait before reopening the devices after a fault; doubled at each failure up to the max.
const REOPEN_FIRST: Duration = Duration::from_secs(2);
const REOPEN_MAX: Duration = Duration::from_secs(60);
/// How often the sync gauges are refreshed from the database.
const GAUGES_EVERY: Duration = Duration::from_secs(15);

/// Blocking entry point for the CLI.
pub fn run(config_file: Option<&Path>, data_dir: Option<&Path>) -> Result<(), AppError> {
    let mut config = kiosk_config::load(config_file)?;
    // No simulator and no test key serve people unless the site declares a demo kiosk.
    crate::wiring::check_production(&config)?;
    let data_dir = data_dir.map_or_else(|| config.kiosk.data_dir.clone(), Path::to_path_buf);
    // The session records what it sees (countries of documents) under the folder in use.
    config.kiosk.data_dir = data_dir.clone();
    runtime()?.block_on(service(config, data_dir))
}

/// The runtime the kiosk's sessions run on (`kiosk run` and `kiosk demo`): two workers, one a
/// core of the kiosk's two, with timers and I/O.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, AppError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| AppError::task("tokio runtime", e))
}

struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn new() -> Result<Self, AppError> {
        let install = |kind| signal(kind).map_err(|e| AppError::task("signal handler", e));
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
    // The fleet heartbeat to the bank core, every minute (src/sync/heartbeat.rs).
    let heartbeat = KioskIdentity::load(&DataPaths::under(&data_dir).identity)
        .ok()
        .and_then(|identity| client_of(&config, Arc::new(identity)).ok())
        .map(|client| tokio::spawn(crate::sync::heartbeat::run(client, DataPaths::under(&data_dir).db, Arc::clone(&metrics), stop_rx.clone())));

    let (request_stop, stop_requested) = watch::channel(false);
    let shell = Shell { health: Arc::clone(&health), notifier: Arc::clone(&notifier), stop: stop_requested };
    let services = tokio::select! {
        services = open_services(&config, &data_dir, stop_rx.clone(), Arc::clone(&metrics)) => Some(services),
        _ = signals.stop_requested() => None,
    };
    let result = match services {
        None => Ok(()),
        Some(Err(error)) => Err(error),
        Some(Ok(services)) => {
            let opener = |config: &Config| wiring::open_devices(config, &Simulation::default());
            let serve = serve_people(services, &shell, opener);
            tokio::pin!(serve);
            // SIGTERM/SIGINT become the shell's stop request: a session in progress may finish.
            tokio::select! {
                served = &mut serve => served,
                () = signals.stop_requested() => {
                    let _ = request_stop.send(true);
                    serve.await
                }
            }
        }
    };
    metrics.set_ready(false);
    notify::notify(notifier.as_ref().as_ref(), "STOPPING=1");
    let _ = stop_tx.send(true);
    let _ = server.await;
    let _ = housekeeping.await;
    if let Some(heartbeat) = heartbeat {
        let _ = heartbeat.await;
    }
    tracing::info!("kiosk service stopped");
    result
}

/// Store, keys, models; and the background outbox drain when the core's TLS files exist.
async fn open_services(
    config: &Config,
    data_dir: &Path,
    stop: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) -> Result<Services, AppError> {
    let paths = DataPaths::under(data_dir);
    let keys = super::kek::open(config, data_dir)?;
    let identity = Arc::new(KioskIdentity::load(&paths.identity)?);
    let store = Store::open(&paths.db, &keys)?;
    // Rotation and retention at start, then daily (issue 12): on a thread of their own.
    super::upkeep::spawn(config, paths.db.clone(), keys.clone(), metrics, stop.clone())?;
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
        .map_err(|e| AppError::task("model loading task", e))??;
    Services::new(config.clone(), store, identity, pipeline)
}

/// What the session loop reports to and listens to: liveness and readiness (`/healthz`,
/// `/readyz`, `/metrics`), systemd, and the request to stop.
pub(crate) struct Shell {
    pub health: Arc<HealthState>,
    pub notifier: Arc<Option<Notifier>>,
    /// Becomes true when the service is asked to stop (SIGTERM).
    pub stop: watch::Receiver<bool>,
}

impl Shell {
    fn metrics(&self) -> &Metrics {
        &self.health.metrics
    }

    async fn stop_requested(&self) {
        let mut stop = self.stop.clone();
        let _ = stop.wait_for(|stop| *stop).await;
    }

    /// Waits `wait` out of service, ticking the liveness clock (this loop is alive); true when
    /// asked to stop meanwhile.
    async fn out_of_service_for(&self, wait: Duration) -> bool {
        let until = tokio::time::Instant::now() + wait;
        loop {
            self.health.tick();
            let now = tokio::time::Instant::now();
            if now >= until {
                return false;
            }
            tokio::select! {
                _ = tokio::time::sleep((until - now).min(Duration::from_secs(1))) => {}
                _ = self.stop_requested() => return true,
            }
        }
    }
}

/// The devices as configured, with the card reader initialised (a reader that does not
/// answer is a device fault like one that cannot be opened).
type Opener<'a, D> = dyn Fn(&Config) -> Result<Devices<D>, OpenError> + 'a;

async fn open_ready_devices<D: Display + 'static>(
    config: &Config,
    open: &Opener<'_, D>,
) -> Result<Devices<D>, (&'static str, AppError)> {
    let mut devices = open(config).map_err(|e| {
        let error = AppError::from(e);
        (error.component(), error)
    })?;
    let initialised = tokio::task::spawn_blocking(move || {
        let status = devices.reader.initialise();
        (devices, status)
    })
    .await;
    match initialised {
        Ok((devices, Ok(status))) => {
            tracing::info!(card = ?status.card_position, "card reader initialised");
            Ok(devices)
        }
        Ok((_, Err(error))) => Err(("card_reader", AppError::from(error))),
        Err(error) => Err(("card_reader", AppError::task("card reader task", error))),
    }
}

/// Runs one session after another on the devices `open` gives. A device fault (or any error
/// whose [`kind`](AppError::kind) takes the kiosk out of service) does so: the out-of-service
/// screen stays, `/readyz` answers 503, the fault is counted, and the devices are reopened with
/// back-off until they answer; then the welcome screen comes back by itself. An error the
/// person caused, or a transient one, ends only their session.
pub(crate) async fn serve_people<D: Display + 'static>(
    mut services: Services,
    shell: &Shell,
    open: impl Fn(&Config) -> Result<Devices<D>, OpenError>,
) -> Result<(), AppError> {
    let metrics = shell.metrics();
    let mut announced = false;
    let mut backoff = REOPEN_FIRST;
    loop {
        shell.health.tick();
        let devices = match open_ready_devices(&services.config, &open).await {
            Ok(devices) => devices,
            Err((device, error)) => {
                metrics.device_error(device);
                metrics.set_ready(false);
                // A setting or model at fault will not come back by itself: say so in the log; the
                // kiosk still retries, as a technician may fix it while it waits.
                let kind = error.kind();
                tracing::error!(%error, device, ?kind, retry_s = backoff.as_secs(), "device fault: out of service, reopening");
                show_out_of_service(&services);
                if shell.out_of_service_for(backoff).await {
                    return Ok(());
                }
                backoff = (backoff * 2).min(REOPEN_MAX);
                continue;
            }
        };
        backoff = REOPEN_FIRST;
        metrics.set_ready(true);
        if !announced {
            notify::notify(shell.notifier.as_ref().as_ref(), "READY=1\nSTATUS=serving");
            tracing::info!("kiosk ready");
            announced = true;
        }
        match one_session(devices, &mut services, shell).await {
            SessionEnd::Continue => {}
            SessionEnd::Stop => return Ok(()),
            SessionEnd::DeviceFault { device, shown } => {
                metrics.set_ready(false);
                tracing::error!(device, retry_s = backoff.as_secs(), "device fault in a session: out of service, reopening");
                if !shown {
                    show_out_of_service(&services);
                }
                if shell.out_of_service_for(backoff).await {
                    return Ok(());
                }
                backoff = (backoff * 2).min(REOPEN_MAX);
            }
        }
    }
}

/// Draws the out-of-service screen when the devices could not be opened or a session failed
/// (a fault the flow saw has drawn it already): on the display alone, if that opens.
fn show_out_of_service(services: &Services) {
    let shown = wiring::open_display(&services.config, &Simulation::default()).map_err(AppError::from).and_then(|mut display| {
        crate::ui::render_with(&mut display, &Screen::OutOfService, &UiOptions::default(), &services.ui)?;
        display.present("out-of-service")?;
        Ok(())
    });
    if let Err(error) = shown {
        tracing::warn!(%error, "the out-of-service screen could not be drawn");
    }
}

enum SessionEnd {
    Continue,
    Stop,
    /// Out of service because of `device`; `shown`: the session drew the out-of-service screen.
    DeviceFault { device: &'static str, shown: bool },
}

async fn one_session<D: Display + 'static>(devices: Devices<D>, services: &mut Services, shell: &Shell) -> SessionEnd {
    let metrics = shell.metrics();
    let stop_grace = Duration::from_secs(u64::from(services.config.health.stop_grace_s));
    // A session counts as started when the person does something (the first step).
    let started = Cell::new(false);
    let mut on_step = |record: &StepRecord| {
        if !started.replace(true) {
            metrics.session_started();
        }
        metrics.observe_stage(record.step, record.duration.as_secs_f64());
    };
    let health = Arc::clone(&shell.health);
    let session = Session::new(devices, services, &mut on_step).with_progress(Arc::new(move || health.tick()));
    let run = session.run();
    tokio::pin!(run);
    let (result, stopping) = tokio::select! {
        result = &mut run => (Some(result), false),
        () = shell.stop_requested() => {
            metrics.set_ready(false);
            if started.get() {
                tracing::info!(grace_s = stop_grace.as_secs(), "stop requested: letting the session in progress finish");
                (tokio::time::timeout(stop_grace, &mut run).await.ok(), true)
            } else {
                (None, true)
            }
        }
    };
    let end = |fault: Option<&'static str>, shown: bool| match (stopping, fault) {
        (true, _) => SessionEnd::Stop,
        (false, Some(device)) => SessionEnd::DeviceFault { device, shown },
        (false, None) => SessionEnd::Continue,
    };
    match result {
        None if started.get() => {
            tracing::warn!("session abandoned at shutdown; its data was only in memory and is gone");
            metrics.session_finished("abandoned", "shutdown");
            SessionEnd::Stop
        }
        None => SessionEnd::Stop,
        Some(Ok((report, _devices))) => {
            let (outcome, reason) = match (report.outcome, report.device_fault) {
                (_, Some(device)) => ("error", device),
                (Some(Outcome::AccountIssued), None) => ("account_issued", "none"),
                (Some(Outcome::Refused(reason)), None) => ("refused", super::session::refusal_code(reason)),
                (Some(Outcome::WalkedAway), None) => ("abandoned", "walked_away"),
                (None, None) => ("abandoned", "none"),
            };
            if let Some(device) = report.device_fault {
                metrics.device_error(device);
            }
            if started.get() {
                metrics.session_finished(outcome, reason);
                tracing::info!(outcome, reason, "session finished");
            }
            // Devices are reopened for the next person: a fresh, known state each time.
            end(report.device_fault, true)
        }
        Some(Err(error)) => {
            let (kind, component) = (error.kind(), error.component());
            let fault = session_fault(&error);
            tracing::error!(%error, kind = kind.code(), component, out_of_service = fault.is_some(), "session failed");
            if let Some(device) = fault {
                metrics.device_error(device);
            }
            if started.get() {
                metrics.session_finished("error", fault.unwrap_or(kind.code()));
            }
            end(fault, false)
        }
    }
}

/// What a session's error takes out of service, by its kind: the part at fault for a device
/// gone, a setting wrong or the unexpected; `None` for a transient fault or one the person caused
/// (the next person is served).
fn session_fault(error: &AppError) -> Option<&'static str> {
    error.kind().takes_out_of_service().then(|| error.component())
}

/// Pings the systemd watchdog while the session loop makes progress (its ticks), and
/// refreshes the sync gauges. A hung session loop stops the pings: systemd restarts the kiosk.
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
        if watchdog.is_some() && health.alive() {
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

#[cfg(test)]
mod tests {
    //! `serve_people` as `kiosk run` runs it, on simulated devices with a scripted person on the
    //! keypad: the reader unplugged mid-session and plugged back; a hung session loop.

    use super::*;
    use crate::store::KeyStore;
    use crate::wiring::AnyDisplay;
    use crate::app::demo::{ScreenWatch, SimulatedPerson, WatchedDisplay};
    use kiosk_hal::card_reader::sim::{self, DocumentTray, Faults, SimulatorConfig, SimulatorStats, VirtualPassport};
    use kiosk_hal::display::MemoryDisplay;
    use kiosk_hal::input::Key;
    use kiosk_hal::{Input, InputError, InputEvent};

    fn services(dir: &Path, config: Config) -> Services {
        let keys = KeyStore::open_or_create(&dir.join("kek.key")).unwrap();
        let identity = Arc::new(KioskIdentity::generate_to(&dir.join("id.key")).unwrap());
        let store = Store::open(&dir.join("kiosk.db"), &keys).unwrap();
        let pipeline = wiring::face_pipeline(&config).unwrap();
        Services::new(config, store, identity, pipeline).unwrap()
    }

    fn shell(health: &Arc<HealthState>) -> (Shell, watch::Sender<bool>) {
        let (stop_tx, stop) = watch::channel(false);
        (Shell { health: Arc::clone(health), notifier: Arc::new(None), stop }, stop_tx)
    }

    /// The service's metrics and health, and a shell reporting to them.
    fn health_and_shell() -> (Arc<Metrics>, Arc<HealthState>, Shell, watch::Sender<bool>) {
        let metrics = Arc::new(Metrics::default());
        let health = HealthState::new(Arc::clone(&metrics));
        let (shell, stop) = shell(&health);
        (metrics, health, shell, stop)
    }

    /// The devices of a test's opener: its own reader, camera, display and input, the speaker
    /// and printer as configured.
    fn devices<D>(
        config: &Config,
        reader: wiring::OpenedReader,
        camera: Box<dyn kiosk_hal::Camera>,
        display: D,
        input: Box<dyn Input>,
    ) -> Result<Devices<D>, OpenError> {
        let none = Simulation::default();
        Ok(Devices {
            reader: Box::new(reader),
            camera,
            display,
            input,
            speaker: wiring::open_speaker(config, &none)?,
            printer: wiring::open_printer(config, &none)?,
        })
    }

    /// Serves people (a loop that must not end by itself) until `done` holds, looked at every
    /// `every`, or `within` has passed; then asks it to stop and waits. Whether `done` held.
    async fn serve_until(
        serve: impl std::future::Future<Output = Result<(), AppError>>,
        stop: &watch::Sender<bool>,
        every: Duration,
        within: Duration,
        mut done: impl FnMut() -> bool,
    ) -> bool {
        tokio::pin!(serve);
        let until = tokio::time::Instant::now() + within;
        let held = loop {
            tokio::select! {
                served = &mut serve => panic!("serve_people ended by itself: {served:?}"),
                _ = tokio::time::sleep(every) => {}
            }
            let held = done();
            if held || tokio::time::Instant::now() > until {
                break held;
            }
        };
        stop.send(true).unwrap();
        serve.await.unwrap();
        held
    }

    /// A session's devices for a test: `camera` and `input`, the reader at `port`, a memory
    /// display writing its screens to `screens` and watched through `watch`.
    fn watched_devices(
        config: &Config,
        port: &str,
        camera: Box<dyn kiosk_hal::Camera>,
        input: Box<dyn Input>,
        watch: &ScreenWatch,
        screens: &Path,
    ) -> Result<Devices<WatchedDisplay<MemoryDisplay>>, OpenError> {
        let display = MemoryDisplay::new(config.display.width, config.display.height).with_output_dir(screens.to_owned());
        let reader = wiring::open_reader_at(config, port)?;
        devices(config, reader, camera, WatchedDisplay::new(display, watch.clone()), input)
    }

    /// The session whose screens go to `screens` has begun: its welcome screen is up.
    fn welcomed(screens: &Path) -> bool {
        screens_in(screens).first().is_some_and(|name| name.ends_with("-welcome.png"))
    }

    /// Screen ids presented so far, from the PNG names the memory display writes (`NNN-id.png`).
    fn screens_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_reader_unplugged_mid_session_takes_the_kiosk_out_of_service_until_it_is_back() {
        let tmp = tempfile::tempdir().unwrap();
        let config = kiosk_config::load_str(None).unwrap();
        let services = services(tmp.path(), config.clone());
        // One reader for the whole test, at a stable path: it answers its initialise and one
        // look at the window, then is unplugged for 3 s and plugged back.
        let faults = Faults { unplug_after_commands: Some((2, Duration::from_secs(3))), ..Faults::default() };
        let device = sim::spawn(SimulatorConfig { baud: config.card_reader.baud, faults, ..SimulatorConfig::default() }).unwrap();
        let port = device.port_path().to_owned();
        let opened = std::sync::atomic::AtomicU32::new(0);
        let screens = tmp.path().join("screens");
        let opener = |config: &Config| -> Result<Devices<AnyDisplay>, OpenError> {
            let n = opened.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // The person presses Enter through the welcome screen and the consent, once.
            let keys = if n == 0 { vec![InputEvent::Key(Key::Enter); 30] } else { Vec::new() };
            let display = MemoryDisplay::new(config.display.width, config.display.height)
                .with_output_dir(screens.join(format!("open-{n}")));
            devices(
                config,
                wiring::open_reader_at(config, &port)?,
                wiring::open_camera(config, &Simulation::default())?,
                AnyDisplay::Memory(display),
                wiring::scripted_input(keys),
            )
        };
        let (metrics, _health, shell, stop) = health_and_shell();
        let serve = serve_people(services, &shell, opener);
        let mut was_out_of_service = false;
        let came_back = serve_until(serve, &stop, Duration::from_millis(100), Duration::from_secs(60), || {
            let out = !metrics.ready() && opened.load(std::sync::atomic::Ordering::SeqCst) >= 1;
            was_out_of_service |= out && metrics.render().contains("kiosk_device_errors_total{device=\"card_reader\"} 1");
            // Back by itself: ready again, on the welcome screen of a fresh opening.
            was_out_of_service && metrics.ready()
        })
        .await;
        assert!(was_out_of_service, "never out of service with the fault counted:\n{}", metrics.render());
        assert!(came_back, "not ready again after the reader came back");
        let first = screens_in(&screens.join("open-0"));
        let first: Vec<&str> = first.iter().map(|n| n.split_once('-').map_or("", |(_, id)| id)).collect();
        assert_eq!(first.first(), Some(&"welcome.png"), "{first:?}");
        assert!(first.contains(&"place-document.png"), "{first:?}");
        assert_eq!(first.last(), Some(&"out-of-service.png"), "the out-of-service screen stays: {first:?}");
        assert!(!first.contains(&"refused.png"), "no refusal while waiting for the passport: {first:?}");
        let reopened = (1..opened.load(std::sync::atomic::Ordering::SeqCst))
            .flat_map(|n| screens_in(&screens.join(format!("open-{n}"))))
            .collect::<Vec<_>>();
        assert!(reopened.iter().any(|s| s.ends_with("-welcome.png")), "no welcome screen after the reader came back: {reopened:?}");
        assert!(device.stats().replugs.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    }

    /// A person at the kiosk, as the session's input sees them: they press the keypad's main key
    /// (Enter) once on each screen asking for an answer, and lay their passport on the reader
    /// only once the place-document screen has been up a while; on the account screen they take
    /// it back before going on. `None` once they are done: nobody else comes.
    struct PersonAtKiosk {
        watch: ScreenWatch,
        tray: DocumentTray,
        passport: Option<VirtualPassport>,
        /// The reader's counters, and the commands it took between the place-document screen
        /// and the passport laid on it: the kiosk looked at an empty window meanwhile.
        reader_commands: Arc<SimulatorStats>,
        polled_while_empty: Arc<std::sync::atomic::AtomicU32>,
        answered: u64,
        place_at: Option<(std::time::Instant, u32)>,
        pressed_start: bool,
        /// Typed one a screen on the keyed-in MRZ entry (a reader without an MRZ window).
        keyed: std::collections::VecDeque<Key>,
    }

    impl Input for PersonAtKiosk {
        fn next_event(&mut self, timeout: Duration) -> Result<Option<InputEvent>, InputError> {
            use std::sync::atomic::Ordering::SeqCst;
            let (shown, screen) = self.watch.last();
            let commands = self.reader_commands.commands.load(SeqCst);
            if let Some((at, commands_then)) = self.place_at {
                if std::time::Instant::now() >= at {
                    self.polled_while_empty.store(commands.saturating_sub(commands_then), SeqCst);
                    if let Some(passport) = self.passport.take() {
                        self.tray.place(passport);
                    }
                    self.place_at = None;
                }
            }
            if shown != self.answered {
                self.answered = shown;
                match screen.as_str() {
                    "place-document" => {
                        self.place_at = Some((std::time::Instant::now() + Duration::from_millis(1500), commands))
                    }
                    "mrz-entry" => {
                        if let Some(key) = self.keyed.pop_front() {
                            return Ok(Some(InputEvent::Key(key)));
                        }
                    }
                    // Someone else's kiosk session after this person's: they have gone.
                    "welcome" if self.pressed_start => {}
                    "welcome" => {
                        self.pressed_start = true;
                        return Ok(Some(InputEvent::Key(Key::Enter)));
                    }
                    "account-issued" => {
                        self.tray.take_away();
                        return Ok(Some(InputEvent::Key(Key::Enter)));
                    }
                    "consent" | "goodbye" | "refused" => {
                        if screen == "refused" {
                            self.tray.take_away();
                        }
                        return Ok(Some(InputEvent::Key(Key::Enter)));
                    }
                    _ => {}
                }
            }
            std::thread::sleep(timeout);
            Ok(None)
        }
    }

    /// A camera that counts the frames taken from it.
    struct CountingCamera(Box<dyn kiosk_hal::Camera>, Arc<std::sync::atomic::AtomicU32>);

    impl kiosk_hal::Camera for CountingCamera {
        fn capture(&mut self) -> Result<kiosk_hal::Frame, kiosk_hal::CameraError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.0.capture()
        }
        fn describe(&self) -> String {
            self.0.describe()
        }
    }

    fn ids(names: &[String]) -> Vec<&str> {
        names.iter().filter_map(|n| n.split_once('-')).map(|(_, id)| id.trim_end_matches(".png")).collect()
    }

    /// The passport photo of the test's holder and the camera frames of them at the kiosk.
    fn holder_photo_and_frames(services: &Services, config: &Config) -> (Vec<u8>, Vec<opencv::core::Mat>) {
        let faces = config.models.dir.join("faces");
        let mut pipeline = services.pipeline.lock().unwrap();
        let photo = crate::app::demo::personalise_photo(&mut pipeline, &faces.join("obama.jpg")).unwrap();
        let (w, h) = (config.camera.width, config.camera.height);
        let frames: Vec<_> = ["obama3.jpg", "obama2.jpg"]
            .iter()
            .map(|f| crate::app::demo::camera_frame(&mut pipeline, &faces.join(f), w, h).unwrap())
            .collect();
        (photo, frames)
    }

    fn holder_mrz() -> [String; 2] {
        crate::app::demo::compose_td3("PETROV", "IVAN", "7100012345", "RUS", "850314", 'M', "310101")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_person_placing_the_passport_after_the_consent_gets_an_account_and_the_next_one_is_served() {
        use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
        let tmp = tempfile::tempdir().unwrap();
        let mut config = kiosk_config::load_str(None).unwrap();
        // The account screen leads straight to goodbye (the offer has tests of its own).
        config.social_payments.enabled = false;
        let services = services(tmp.path(), config.clone());
        let (passport_photo, person_frames) = holder_photo_and_frames(&services, &config);
        let passport = || VirtualPassport::new(holder_mrz().to_vec(), passport_photo.clone());
        // One reader for the whole run, empty: the people lay their passport on it themselves.
        let device = sim::spawn(SimulatorConfig { baud: config.card_reader.baud, ..SimulatorConfig::default() }).unwrap();
        let port = device.port_path().to_owned();
        let tray = device.tray();
        let reader_stats = device.shared_stats();
        let watch = ScreenWatch::default();
        let opened = AtomicU32::new(0);
        let captures: Vec<Arc<AtomicU32>> = (0..3).map(|_| Arc::new(AtomicU32::new(0))).collect();
        let polled_while_empty: Vec<Arc<AtomicU32>> = (0..2).map(|_| Arc::new(AtomicU32::new(0))).collect();
        let screens = tmp.path().join("screens");
        let pipeline = Arc::clone(&services.pipeline);
        let person_frames = std::sync::Mutex::new(Some(person_frames));
        let opener = |config: &Config| -> Result<Devices<WatchedDisplay<MemoryDisplay>>, OpenError> {
            let n = opened.fetch_add(1, SeqCst) as usize;
            let none = Simulation::default();
            let camera: Box<dyn kiosk_hal::Camera> = match person_frames.lock().unwrap().take() {
                // The first person: the face of the passport's holder, turning the head when asked.
                Some(frames) => {
                    let mut pipeline = pipeline.lock().unwrap();
                    Box::new(SimulatedPerson::new(frames, &mut pipeline, watch.clone()).unwrap())
                }
                None => wiring::open_camera(config, &none)?,
            };
            let camera = Box::new(CountingCamera(camera, Arc::clone(&captures[n.min(2)])));
            let input: Box<dyn Input> = match n {
                0 | 1 => Box::new(PersonAtKiosk {
                    watch: watch.clone(),
                    tray: tray.clone(),
                    passport: Some(passport()),
                    reader_commands: Arc::clone(&reader_stats),
                    polled_while_empty: Arc::clone(&polled_while_empty[n]),
                    answered: watch.last().0,
                    place_at: None,
                    pressed_start: false,
                    keyed: Default::default(),
                }),
                _ => wiring::scripted_input(Vec::new()),
            };
            watched_devices(config, &port, camera, input, &watch, &screens.join(format!("open-{n}")))
        };
        let (metrics, _health, shell, stop) = health_and_shell();
        let serve = serve_people(services, &shell, opener);
        // Both people served: a third session is waiting on the welcome screen.
        let both_served = serve_until(serve, &stop, Duration::from_millis(200), Duration::from_secs(300), || {
            welcomed(&screens.join("open-2"))
        })
        .await;
        let first = screens_in(&screens.join("open-0"));
        let first = ids(&first);
        let second = screens_in(&screens.join("open-1"));
        let second = ids(&second);
        assert!(both_served, "the second person's session did not end by the deadline: {first:?} then {second:?}\n{}", metrics.render());

        // The first person: welcome → consent → place-document → the camera (with the head
        // turn) → verifying → the account's QR code → goodbye → welcome, never refused.
        let at = |screens: &[&str], id: &str| screens.iter().position(|s| s.starts_with(id));
        let order = ["welcome", "consent", "place-document", "face-capture", "face-capture-turn-", "verifying", "account-issued", "goodbye"];
        let positions: Vec<_> = order.iter().map(|id| at(&first, id)).collect();
        assert!(positions.iter().all(Option::is_some), "a screen is missing: {first:?}");
        assert!(positions.windows(2).all(|w| w[0] <= w[1]), "out of order: {first:?}");
        assert_eq!(first.last(), Some(&"welcome"), "{first:?}");
        assert!(!first.contains(&"refused"), "no refusal while the passport was being placed: {first:?}");
        assert!(polled_while_empty[0].load(SeqCst) >= 2, "the kiosk did not look at the empty window meanwhile");
        assert!(captures[0].load(SeqCst) > 0);

        // The second person, with the same passport, in the same run: refused as already
        // enrolled right after the read, before any camera frame.
        let mut steps = second.clone();
        steps.dedup();
        assert_eq!(steps, ["welcome", "consent", "place-document", "refused", "welcome"], "{second:?}");
        assert_eq!(captures[1].load(SeqCst), 0, "the camera was used for a known document");

        let db = rusqlite::Connection::open(tmp.path().join("kiosk.db")).unwrap();
        let count = |sql: &str| -> i64 { db.query_row(sql, [], |row| row.get(0)).unwrap() };
        assert_eq!(count("SELECT count(*) FROM accounts"), 1);
        assert_eq!(count("SELECT count(*) FROM onboardings"), 2);
        let (reason, checks): (String, String) = db
            .query_row("SELECT refusal_reason, face_checks_json FROM onboardings WHERE outcome = 'refused'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(reason, "already_enrolled");
        let checks: serde_json::Value = serde_json::from_str(&checks).unwrap();
        assert_eq!((checks["duplicate_kind"].as_str(), checks["attempts"].as_u64()), (Some("exact_document"), Some(0)));
        let rendered = metrics.render();
        assert!(rendered.contains(r#"kiosk_onboardings_finished_total{outcome="account_issued",reason="none"} 1"#), "{rendered}");
        assert!(rendered.contains(r#"kiosk_onboardings_finished_total{outcome="refused",reason="already_enrolled"} 1"#), "{rendered}");
        assert!(!rendered.contains("kiosk_device_errors_total{"), "no device fault: {rendered}");
    }

    #[test]
    fn a_session_error_takes_the_kiosk_out_of_service_only_when_its_kind_says_so() {
        let camera = kiosk_hal::CameraError::Capture { device: "/dev/video0".into(), reason: "no frames".into() };
        assert_eq!(session_fault(&camera.into()), Some("camera"));
        let store = crate::store::StoreError::KeyDestroyed { key_id: 7 };
        assert_eq!(session_fault(&store.into()), Some("store"), "the disk or the database: fatal");
        assert_eq!(session_fault(&AppError::Usage("bad setting".into())), Some("other"));
        // The person's document, or a reader that was just reopened: the next person is served.
        let no_chip = crate::identity::IdentityError::NoChip;
        assert_eq!(session_fault(&no_chip.into()), None);
        let photo = crate::vision::VisionError::Undecodable { what: "DG2 face photo".into() };
        assert_eq!(session_fault(&photo.into()), None);
        assert_eq!(session_fault(&kiosk_hal::CardReaderError::Reconnected.into()), None);
    }

    /// A touch screen whose driver hangs: the session loop stops turning.
    struct HungInput;

    impl Input for HungInput {
        fn next_event(&mut self, _timeout: Duration) -> Result<Option<InputEvent>, InputError> {
            std::thread::sleep(Duration::from_secs(5));
            Ok(None)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hung_session_loop_stops_the_liveness_the_watchdog_follows() {
        let tmp = tempfile::tempdir().unwrap();
        let config = kiosk_config::load_str(None).unwrap();
        let services = services(tmp.path(), config);
        let metrics = Arc::new(Metrics::default());
        let health = HealthState::with_stale_after(Arc::clone(&metrics), Duration::from_secs(2));
        let (shell, stop) = shell(&health);
        let hung = std::sync::atomic::AtomicBool::new(false);
        let opener = |config: &Config| -> Result<Devices<AnyDisplay>, OpenError> {
            let mut devices = wiring::open_devices(config, &Simulation::default())?;
            if hung.load(std::sync::atomic::Ordering::SeqCst) {
                devices.input = Box::new(HungInput);
            }
            Ok(devices)
        };
        let serve = serve_people(services, &shell, opener);
        tokio::pin!(serve);
        // A session loop that turns keeps the kiosk alive well past the stale time.
        let alive_for = async {
            let mut alive = true;
            for _ in 0..40 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                alive &= health.alive();
            }
            alive
        };
        let alive = tokio::select! { a = alive_for => a, r = &mut serve => panic!("ended: {r:?}") };
        assert!(alive, "the idle session loop let the liveness go stale");
        // The next sessions hang in the touch screen's driver: the liveness (and so the
        // watchdog pings of `housekeeping`, which send only while it holds) stops.
        hung.store(true, std::sync::atomic::Ordering::SeqCst);
        let health_for_stop = Arc::clone(&health);
        let stale = async {
            for _ in 0..150 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if !health_for_stop.alive() {
                    return true;
                }
            }
            false
        };
        // The running session ends at the welcome screen only after a timeout; end it by
        // stopping (no one started it), then serve again with the hung touch screen.
        stop.send(true).unwrap();
        serve.await.unwrap();
        let (shell, _stop) = super::tests::shell(&health);
        let again = tmp.path().join("again");
        std::fs::create_dir_all(&again).unwrap();
        let services = super::tests::services(&again, kiosk_config::load_str(None).unwrap());
        let serve = serve_people(services, &shell, opener);
        tokio::pin!(serve);
        let went_stale = tokio::select! { s = stale => s, r = &mut serve => panic!("ended: {r:?}") };
        assert!(went_stale, "a hung session loop kept the liveness (and the watchdog) going");
        assert!(!health.alive());
    }

    /// `kiosk run` at an ordinary card reader (no MRZ window): the person keys the document
    /// number, birth date and expiry date in on the keypad, lays the passport on the reader,
    /// and gets an account, the chip read with the keyed-in access key.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_person_at_a_reader_without_an_mrz_window_keys_it_in_and_gets_an_account() {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = kiosk_config::load_str(None).unwrap();
        config.social_payments.enabled = false;
        let services = services(tmp.path(), config.clone());
        let (photo, frames) = holder_photo_and_frames(&services, &config);
        let mrz = holder_mrz();
        let reader_config = SimulatorConfig { baud: config.card_reader.baud, mrz_window: false, ..SimulatorConfig::default() };
        let device = sim::spawn(reader_config).unwrap();
        let (port, tray, reader_stats) = (device.port_path().to_owned(), device.tray(), device.shared_stats());
        // The MRZ information as printed on the page's bottom line: number, birth, expiry, each
        // with its check digit (this holder's are digits only: the keypad is enough), then Enter.
        let line2 = mrz[1].as_bytes();
        let mut keyed: std::collections::VecDeque<Key> =
            [0..10, 13..20, 21..28].into_iter().flat_map(|r| line2[r].iter().map(|c| Key::Digit(c - b'0'))).collect();
        keyed.push_back(Key::Enter);
        let watch = ScreenWatch::default();
        let screens = tmp.path().join("screens");
        let pipeline = Arc::clone(&services.pipeline);
        let person = std::sync::Mutex::new(Some((frames, keyed, VirtualPassport::new(mrz.to_vec(), photo))));
        let opened = std::sync::atomic::AtomicU32::new(0);
        let opener = |config: &Config| -> Result<Devices<WatchedDisplay<MemoryDisplay>>, OpenError> {
            let n = opened.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (camera, input): (Box<dyn kiosk_hal::Camera>, Box<dyn Input>) = match person.lock().unwrap().take() {
                Some((frames, keyed, passport)) => {
                    let mut pipeline = pipeline.lock().unwrap();
                    let camera = SimulatedPerson::new(frames, &mut pipeline, watch.clone()).unwrap();
                    let input = PersonAtKiosk {
                        watch: watch.clone(),
                        tray: tray.clone(),
                        passport: Some(passport),
                        reader_commands: Arc::clone(&reader_stats),
                        polled_while_empty: Default::default(),
                        answered: watch.last().0,
                        place_at: None,
                        pressed_start: false,
                        keyed,
                    };
                    (Box::new(camera), Box::new(input))
                }
                None => (wiring::open_camera(config, &Simulation::default())?, wiring::scripted_input(Vec::new())),
            };
            watched_devices(config, &port, camera, input, &watch, &screens.join(format!("open-{n}")))
        };
        let (metrics, _health, shell, stop) = health_and_shell();
        let serve = serve_people(services, &shell, opener);
        let served = serve_until(serve, &stop, Duration::from_millis(200), Duration::from_secs(300), || {
            welcomed(&screens.join("open-1"))
        })
        .await;
        let first = screens_in(&screens.join("open-0"));
        let first = ids(&first);
        assert!(served, "the session did not end by the deadline: {first:?}\n{}", metrics.render());
        let mut steps = first.clone();
        steps.dedup();
        let entry = steps.iter().position(|s| *s == "mrz-entry").expect("the entry screen was shown");
        assert_eq!(steps[..=entry], ["welcome", "consent", "place-document", "mrz-entry"], "{first:?}");
        // One entry screen for each of the 24 keys and the first showing; then the read.
        assert_eq!(first.iter().filter(|s| **s == "mrz-entry").count(), 25, "{first:?}");
        let after: Vec<_> = steps[entry + 1..].iter().map(|s| s.trim_end_matches("-turn-left").trim_end_matches("-turn-right")).collect();
        let order = ["place-document", "face-capture", "verifying", "account-issued", "goodbye", "welcome"];
        let positions: Vec<_> = order.iter().map(|id| after.iter().position(|s| s == id)).collect();
        assert!(positions.iter().all(Option::is_some) && positions.windows(2).all(|w| w[0] < w[1]), "{first:?}");
        assert!(!first.contains(&"refused"), "{first:?}");
        let db = rusqlite::Connection::open(tmp.path().join("kiosk.db")).unwrap();
        let accounts: i64 = db.query_row("SELECT count(*) FROM accounts", [], |row| row.get(0)).unwrap();
        assert_eq!(accounts, 1);
    }
}
