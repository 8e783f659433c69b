//! `kiosk-core serve`: the shared state of one gateway process and its listeners. Every fact
//! is in PostgreSQL, so any number of gateways can serve the same fleet behind a load balancer.

use crate::db::{self, Client};
use crate::error::CoreError;
use crate::index::{BirthIndex, FleetIndex, Match};
use crate::keys::CoreKeys;
use crate::metrics::Metrics;
use deadpool_postgres::Pool;
use ed25519_dalek::VerifyingKey;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kiosk::sync::protocol::{AUDIT_HEADS_PATH, MESSAGES_PATH};
use kiosk::vision::Embedding;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub const ACTIVATIONS_PATH: &str = "/v1/activations";
pub const AUTHORISATIONS_PATH: &str = "/v1/authorisations";
/// Shortest idempotency-key retention accepted (kiosks may be offline for weeks).
pub const MIN_KEY_RETENTION_DAYS: u32 = 30;

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub pool_size: usize,
    pub listen: SocketAddr,
    pub ops_listen: Option<SocketAddr>,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub client_ca: PathBuf,
    pub kek: PathBuf,
    pub key_retention_days: u32,
    /// Cosine score at or above which two templates are the same person (the kiosk's
    /// `face.duplicate_threshold`).
    pub duplicate_threshold: f32,
    /// Base path the API is served under (the kiosks' `sync.core_url` path), e.g. `/core`.
    pub base_path: String,
    pub messages_path: String,
    pub heads_path: String,
    pub activations_path: String,
    pub authorisations_path: String,
}

impl Settings {
    /// Checks the values and fills in the paths below `base_path`.
    pub fn finish(mut self) -> Result<Settings, CoreError> {
        if self.key_retention_days < MIN_KEY_RETENTION_DAYS {
            return Err(CoreError::Usage(format!(
                "--key-retention-days {} is below {MIN_KEY_RETENTION_DAYS}: kiosks retry for as long as they are offline, keep keys longer",
                self.key_retention_days
            )));
        }
        if !(0.2..=0.95).contains(&self.duplicate_threshold) {
            return Err(CoreError::Usage("--duplicate-threshold must be between 0.2 and 0.95 (the kiosk's face.duplicate_threshold)".into()));
        }
        let base = self.base_path.trim_end_matches('/').to_owned();
        if !base.is_empty() && !base.starts_with('/') {
            return Err(CoreError::Usage("--base-path must start with `/`".into()));
        }
        self.messages_path = format!("{base}{MESSAGES_PATH}");
        self.heads_path = format!("{base}{AUDIT_HEADS_PATH}");
        self.activations_path = format!("{base}{ACTIVATIONS_PATH}");
        self.authorisations_path = format!("{base}{AUTHORISATIONS_PATH}");
        self.base_path = base;
        Ok(self)
    }
}

pub struct Core {
    pub pool: Pool,
    pub keys: CoreKeys,
    pub index: FleetIndex,
    pub metrics: Metrics,
    pub settings: Settings,
    /// This gateway's admissions, decided and committed in batches (`admission::run`).
    pub admissions: crate::admission::Queue,
}

impl Core {
    /// Connects, checks the schema, loads the keys and builds the 1:N index from the database.
    pub async fn start(settings: Settings) -> Result<Arc<Core>, CoreError> {
        let pool = db::pool(&settings.database_url, settings.pool_size)?;
        let mut client: Client = pool.get().await?;
        crate::migrations::check(&client).await?;
        let keys = CoreKeys::load(&mut client, &settings.kek).await?;
        let index = FleetIndex::default();
        let started = Instant::now();
        let loaded = index.catch_up(&client, &keys).await?;
        tracing::info!(templates = loaded, ms = started.elapsed().as_millis() as u64, "1:N index built from PostgreSQL");
        drop(client);
        let (admissions, queue) = crate::admission::queue();
        let core = Arc::new(Core { pool, keys, index, metrics: Metrics::new(), settings, admissions });
        core.metrics.index_templates.set(loaded as i64);
        tokio::spawn(crate::admission::run(Arc::clone(&core), queue));
        Ok(core)
    }

    /// The registered key of `kiosk_id`, and whether Idempotency-Key `key` was taken: one round
    /// trip for what every message needs first. The key's stored answer is only read (and its
    /// delivery counted) after the signature verified.
    pub async fn kiosk_key_and_seen(&self, kiosk_id: &str, key: uuid::Uuid) -> Result<Option<(VerifyingKey, bool)>, CoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT k.public_key, i.idempotency_key IS NOT NULL FROM kiosks k
                 LEFT JOIN idempotency_keys i ON i.idempotency_key = $2 WHERE k.kiosk_id = $1",
            )
            .await?;
        let Some(row) = client.query_opt(&statement, &[&kiosk_id, &key]).await? else { return Ok(None) };
        Ok(Some((verifying_key(kiosk_id, row.get(0))?, row.get(1))))
    }

    /// The registered key of `kiosk_id`.
    pub async fn kiosk_key(&self, kiosk_id: &str) -> Result<Option<VerifyingKey>, CoreError> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT public_key FROM kiosks WHERE kiosk_id = $1", &[&kiosk_id]).await?;
        let Some(row) = row else { return Ok(None) };
        verifying_key(kiosk_id, row.get(0)).map(Some)
    }

    /// 1:N search of `bucket` (one birth date) from position `start` on a blocking thread,
    /// timed. Returns the best match and how many templates were compared.
    pub async fn search(self: &Arc<Self>, bucket: &BirthIndex, probe: &Embedding, start: usize) -> (Option<Match>, usize) {
        let core = Arc::clone(self);
        let probe = probe.clone();
        let bucket = *bucket;
        let started = Instant::now();
        let found = tokio::task::spawn_blocking(move || core.index.search_from(&bucket, start, &probe)).await.unwrap_or((None, 0));
        if start == 0 {
            self.metrics.search_seconds.observe(started.elapsed().as_secs_f64());
        }
        self.metrics.index_templates.set(self.index.len() as i64);
        found
    }

    /// This process's counters and the fleet's gauges (from PostgreSQL, the same on every gateway).
    pub async fn render_metrics(&self) -> String {
        if let Ok(views) = crate::fleet::overview(self).await {
            use crate::metrics::{Kind, State};
            let online = views.iter().filter(|v| v.online()).count() as i64;
            let never = views.iter().filter(|v| v.last_seen_s.is_none()).count() as i64;
            let set = |state: &str, n: i64| self.metrics.fleet_kiosks.get_or_create(&State { state: state.into() }).set(n);
            set("online", online);
            set("never_seen", never);
            set("offline", views.len() as i64 - online - never);
            let count = |f: &dyn Fn(&str) -> bool| views.iter().filter(|v| v.alerts.iter().any(|a| f(a))).count() as i64;
            let alert = |kind: &str, n: i64| self.metrics.fleet_alerts.get_or_create(&Kind { kind: kind.into() }).set(n);
            alert("offline", count(&|a| a.starts_with("offline")));
            alert("device_error", count(&|a| a.ends_with("Error") || a.ends_with("fraudAttempt") || a.ends_with(" offline")));
            alert("backlog", count(&|a| a.starts_with("backlog")));
            alert("refusal_spike", count(&|a| a.contains("refusals in")));
        }
        self.metrics.render()
    }
}

fn verifying_key(kiosk_id: &str, bytes: Vec<u8>) -> Result<VerifyingKey, CoreError> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| CoreError::Corrupt(format!("public key of kiosk {kiosk_id}")))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| CoreError::Corrupt(format!("public key of kiosk {kiosk_id}")))
}

/// Serves until the process is stopped. Prints the bound addresses on stdout (tests and
/// scripts read them; `--listen 127.0.0.1:0` picks a free port).
pub async fn serve(settings: Settings) -> Result<(), CoreError> {
    let tls = kiosk::sync::tls::server_config(&settings.client_ca, &settings.tls_cert, &settings.tls_key)?;
    let acceptor = TlsAcceptor::from(tls);
    let bind_err = |addr: SocketAddr| move |source| CoreError::Io { what: "cannot listen on", path: PathBuf::from(addr.to_string()), source };
    let listener = TcpListener::bind(settings.listen).await.map_err(bind_err(settings.listen))?;
    let ops = match settings.ops_listen {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(bind_err(addr))?),
        None => None,
    };
    let core = Core::start(settings).await?;
    let api_addr = listener.local_addr().map_err(bind_err(core.settings.listen))?;
    println!("kiosk-core: API (mutual TLS) on https://{api_addr}{}", core.settings.base_path);
    if let Some(ops) = &ops {
        if let Ok(addr) = ops.local_addr() {
            println!("kiosk-core: fleet page and metrics on http://{addr}/");
        }
    }
    tracing::info!(%api_addr, "kiosk-core serving");

    let purger = Arc::clone(&core);
    tokio::spawn(async move {
        loop {
            match crate::ingest::purge_keys(&purger).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "idempotency keys past retention deleted"),
                Err(error) => tracing::warn!(%error, "idempotency key purge failed; retrying in an hour"),
            }
            if let Err(error) = crate::fleet::purge(&purger).await {
                tracing::warn!(%error, "heartbeat purge failed; retrying in an hour");
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
    if let Some(ops) = ops {
        let core = Arc::clone(&core);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = ops.accept().await else { continue };
                let core = Arc::clone(&core);
                tokio::spawn(async move {
                    let service = service_fn(move |req| crate::http::ops(Arc::clone(&core), req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
                });
            }
        });
    }
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let core = Arc::clone(&core);
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            // A client without a certificate from the kiosk CA fails the handshake here.
            let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await else { return };
            let service = service_fn(move |req| crate::http::api(Arc::clone(&core), req));
            let _ = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
