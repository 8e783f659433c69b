//! A bank-core simulator on loopback for tests and benchmarks: HTTPS with a required client
//! certificate, the protocol of `docs/openapi/core-sync.yaml`, deduplication by idempotency
//! key, and a record of what it received. It can misbehave on demand: answer with an error
//! status, stall, drop the connection before or after processing, or answer twice.
//!
//! HTTP/1.1 is parsed by hand here (small, bounded) so that faults a real server library would
//! never produce, such as two answers to one request, can be produced.

use super::protocol::{
    self, AuditHead, Redemption, AUDIT_HEADS_PATH, HEADER_IDEMPOTENCY_KEY, HEADER_KIOSK_ID, HEADER_SIGNATURE,
    MAX_REDEMPTIONS, MESSAGES_PATH,
};
use super::tls::{server_config, TlsError};
use ed25519_dalek::VerifyingKey;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1024 * 1024;

/// One misbehaviour, applied to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status without processing.
    Status(u16),
    /// Wait, then process and answer (the client may have given up: a lost acknowledgement).
    Stall(Duration),
    /// Close the connection without processing.
    DropBeforeProcessing,
    /// Process, then close without answering (a lost acknowledgement).
    DropAfterProcessing,
    /// Process and write the answer twice on the connection.
    AnswerTwice,
}

/// Faults drawn at random for each request.
#[derive(Debug, Clone, Copy)]
pub struct RandomFaults {
    pub probability: f64,
    pub stall: Duration,
}

#[derive(Debug, Clone)]
pub struct SimSettings {
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// CA that issued the kiosks' client certificates.
    pub client_ca: PathBuf,
    /// The kiosk's registered Ed25519 key.
    pub kiosk_key: VerifyingKey,
    /// Base path the core is served under, e.g. `/core` (empty for the root).
    pub base_path: String,
}

/// One distinct message the core took.
#[derive(Debug, Clone)]
pub struct Received {
    pub body_sha256: [u8; 32],
    pub kind: String,
    pub account_id: Option<String>,
    /// Times it arrived with a valid signature (1 + retransmissions).
    pub deliveries: u32,
}

/// What the core has seen.
#[derive(Debug, Clone, Default)]
pub struct SimRecord {
    pub requests: u64,
    pub faults_injected: u64,
    pub bad_signatures: u64,
    /// By idempotency key.
    pub messages: HashMap<String, Received>,
    /// Distinct `account_opened` messages per account id: exactly once means 1 for each.
    pub accounts: HashMap<String, u32>,
    /// Distinct `social_payments_choice` messages per account id (the core takes one).
    pub social_payments_choices: HashMap<String, u32>,
    /// Heartbeats taken (like the core, a heartbeat is stored, never deduplicated by account).
    pub heartbeats: u64,
    /// Every request's idempotency key and answered status, in order (0: none).
    pub log: Vec<(String, u16)>,
    /// Audit heads stored, in arrival order, each with its verified `head_signature`.
    pub anchors: Vec<AuditHead>,
    /// Audit heads refused (rewound or rewritten), with the error sent.
    pub anchors_refused: Vec<(AuditHead, String)>,
    /// Audit heads whose `head_signature` did not verify.
    pub bad_head_signatures: u64,
}

#[derive(Default)]
struct State {
    scripted: VecDeque<Fault>,
    random: Option<RandomFaults>,
    record: SimRecord,
    /// Answer every request with this status (e.g. 401 for a kiosk the bank does not know).
    reject_all: Option<u16>,
    /// Activation tokens redeemed at this core (by the mobile bank), oldest first.
    redemptions: Vec<Redemption>,
    /// Body hash of each audit head key taken, for deduplication.
    head_keys: HashMap<String, [u8; 32]>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("core simulator cannot listen on 127.0.0.1: {0}")]
    Bind(std::io::Error),
}

pub struct CoreSimulator {
    addr: SocketAddr,
    base_path: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panicked handler leaves consistent data behind (plain counters); carry on.
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl CoreSimulator {
    /// Listens on 127.0.0.1 (a free port) on the current tokio runtime.
    pub async fn start(settings: SimSettings) -> Result<CoreSimulator, SimError> {
        let acceptor = TlsAcceptor::from(server_config(&settings.client_ca, &settings.server_cert, &settings.server_key)?);
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(SimError::Bind)?;
        let addr = listener.local_addr().map_err(SimError::Bind)?;
        let state = Arc::new(Mutex::new(State::default()));
        let base_path = settings.base_path.trim_end_matches('/').to_owned();
        let shared = Arc::new(Handler {
            state: Arc::clone(&state),
            path: format!("{base_path}{MESSAGES_PATH}"),
            heads_path: format!("{base_path}{AUDIT_HEADS_PATH}"),
            key: settings.kiosk_key,
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let acceptor = acceptor.clone();
                let handler = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    // A client without an acceptable certificate fails here.
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        handler.serve(tls).await;
                    }
                });
            }
        });
        Ok(CoreSimulator { addr, base_path, state, task })
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}{}", self.addr.port(), self.base_path)
    }

    /// Faults for the next requests, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.state).scripted.extend(faults);
    }

    pub fn set_random_faults(&self, random: Option<RandomFaults>) {
        lock(&self.state).random = random;
    }

    pub fn reject_all(&self, status: Option<u16>) {
        lock(&self.state).reject_all = status;
    }

    /// The mobile bank redeemed this activation token now: listed in the next audit head answers.
    pub fn redeem(&self, activation_token_id: &str, redeemed_at_ms: i64) {
        lock(&self.state)
            .redemptions
            .push(Redemption { activation_token_id: activation_token_id.to_owned(), redeemed_at_ms });
    }

    pub fn record(&self) -> SimRecord {
        lock(&self.state).record.clone()
    }
}

impl Drop for CoreSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Handler {
    state: Arc<Mutex<State>>,
    path: String,
    heads_path: String,
    key: VerifyingKey,
}

struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request; `None` on a closed, oversized or malformed one.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(pos) = find(buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD || stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    if len > MAX_BODY {
        return None;
    }
    let total = head_end + 4 + len;
    while buf.len() < total {
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
    let body = buf[head_end + 4..total].to_vec();
    buf.drain(..total);
    Some(Request { method, path, headers, body })
}

fn response(status: u16, key: &str, body: &serde_json::Value) -> Vec<u8> {
    let text = body.to_string();
    let reason = match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        425 => "Too Early",
        503 => "Service Unavailable",
        _ => "Status",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n{HEADER_IDEMPOTENCY_KEY}: {key}\r\ncontent-length: {}\r\n\r\n{text}",
        text.len()
    )
    .into_bytes()
}

impl Handler {
    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(&self, mut stream: S) {
        let mut buf = Vec::with_capacity(4096);
        while let Some(request) = read_request(&mut stream, &mut buf).await {
            let key = request.headers.get(HEADER_IDEMPOTENCY_KEY).cloned().unwrap_or_default();
            let fault = self.next_fault();
            let (status, answer) = match fault {
                Some(Fault::DropBeforeProcessing) => {
                    self.log(&key, 0);
                    return;
                }
                Some(Fault::Status(status)) => (status, serde_json::json!({ "error": "injected fault" })),
                Some(Fault::Stall(d)) => {
                    tokio::time::sleep(d).await;
                    self.process(&request, &key)
                }
                _ => self.process(&request, &key),
            };
            if fault == Some(Fault::DropAfterProcessing) {
                self.log(&key, 0);
                return;
            }
            self.log(&key, status);
            let bytes = response(status, &key, &answer);
            let times = if fault == Some(Fault::AnswerTwice) { 2 } else { 1 };
            for _ in 0..times {
                if stream.write_all(&bytes).await.is_err() || stream.flush().await.is_err() {
                    return;
                }
            }
        }
    }

    fn next_fault(&self) -> Option<Fault> {
        let mut state = lock(&self.state);
        state.record.requests += 1;
        let fault = match state.scripted.pop_front() {
            Some(f) => Some(f),
            None => state.random.and_then(|r| {
                let mut rng = rand::thread_rng();
                (rng.gen::<f64>() < r.probability).then(|| match rng.gen_range(0..5) {
                    0 => Fault::Status(503),
                    1 => Fault::Stall(r.stall),
                    2 => Fault::DropBeforeProcessing,
                    3 => Fault::DropAfterProcessing,
                    _ => Fault::AnswerTwice,
                })
            }),
        };
        state.record.faults_injected += u64::from(fault.is_some());
        fault
    }

    fn log(&self, key: &str, status: u16) {
        lock(&self.state).record.log.push((key.to_owned(), status));
    }

    fn process(&self, r: &Request, key: &str) -> (u16, serde_json::Value) {
        use serde_json::json;
        let mut state = lock(&self.state);
        if let Some(status) = state.reject_all {
            return (status, json!({ "error": "kiosk not registered" }));
        }
        if r.path != self.path && r.path != self.heads_path {
            return (404, json!({ "error": "unknown path" }));
        }
        if r.method != "POST" {
            return (405, json!({ "error": "POST only" }));
        }
        if key.is_empty() {
            return (400, json!({ "error": "Idempotency-Key missing" }));
        }
        let kiosk_id = r.headers.get(HEADER_KIOSK_ID).map(String::as_str).unwrap_or_default();
        let signature = r.headers.get(HEADER_SIGNATURE).map(String::as_str).unwrap_or_default();
        if !protocol::verify(&self.key, signature, "POST", &r.path, key, kiosk_id, &r.body) {
            state.record.bad_signatures += 1;
            return (401, json!({ "error": "bad signature" }));
        }
        if r.path == self.heads_path {
            return self.process_head(&mut state, r, key, kiosk_id);
        }
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
            return (400, json!({ "error": "body is not JSON" }));
        };
        if message["message_id"].as_str() != Some(key) {
            return (400, json!({ "error": "message_id differs from Idempotency-Key" }));
        }
        let kind = message["kind"].as_str().unwrap_or_default().to_owned();
        let account_id = message["payload"]["account_id"].as_str().map(str::to_owned);
        use crate::store::{OUTBOX_ACCOUNT_OPENED, OUTBOX_SOCIAL_PAYMENTS_CHOICE};
        if kind == super::heartbeat::KIND {
            // The fleet page's input at the real core; here only counted.
            state.record.heartbeats += 1;
            return (201, json!({ "message_id": key, "status": "accepted" }));
        }
        if kind != OUTBOX_ACCOUNT_OPENED && kind != OUTBOX_SOCIAL_PAYMENTS_CHOICE {
            return (422, json!({ "error": format!("unknown message kind `{kind}`") }));
        }
        let Some(account) = account_id.clone() else {
            return (422, json!({ "error": format!("{kind} without account_id") }));
        };
        if kind == OUTBOX_SOCIAL_PAYMENTS_CHOICE && !message["payload"]["credit_to_account"].is_boolean() {
            return (422, json!({ "error": "social_payments_choice without credit_to_account" }));
        }
        let hash: [u8; 32] = Sha256::digest(&r.body).into();
        let record = &mut state.record;
        if let Some(seen) = record.messages.get_mut(key) {
            if seen.body_sha256 != hash {
                return (409, json!({ "error": "Idempotency-Key reused with another body" }));
            }
            seen.deliveries += 1;
            return (200, json!({ "message_id": key, "status": "duplicate" }));
        }
        if kind == OUTBOX_SOCIAL_PAYMENTS_CHOICE {
            // The choice refers to an account the core must already have; before it, "too
            // early" (the kiosk retries); a second choice for the account, a conflict.
            if !record.accounts.contains_key(&account) {
                return (425, json!({ "error": "account not known yet; send account_opened first" }));
            }
            if record.social_payments_choices.contains_key(&account) {
                return (409, json!({ "error": "a social payments choice is already recorded for this account" }));
            }
            record.social_payments_choices.insert(account, 1);
        } else {
            *record.accounts.entry(account).or_default() += 1;
        }
        record.messages.insert(key.to_owned(), Received { body_sha256: hash, kind, account_id, deliveries: 1 });
        (201, json!({ "message_id": key, "status": "accepted" }))
    }

    /// An audit head: verified, deduplicated by key, refused when it goes back or differs at a
    /// seq already held; the answer lists redemptions from `redemptions_since_ms`.
    fn process_head(&self, state: &mut State, r: &Request, key: &str, kiosk_id: &str) -> (u16, serde_json::Value) {
        use serde_json::json;
        let Ok(head) = serde_json::from_slice::<AuditHead>(&r.body) else {
            return (400, json!({ "error": "not an AuditHead" }));
        };
        if head.anchor_id.to_string() != key || head.kiosk_id != kiosk_id {
            return (400, json!({ "error": "anchor_id or kiosk_id differs from the headers" }));
        }
        if !protocol::verify_head(&self.key, &head.head_signature, &head.kiosk_id, head.seq, &head.head, head.anchored_at_ms) {
            state.record.bad_head_signatures += 1;
            return (422, json!({ "error": "head_signature does not verify" }));
        }
        let hash: [u8; 32] = Sha256::digest(&r.body).into();
        let status = match state.head_keys.get(key) {
            Some(seen) if *seen != hash => return (409, json!({ "error": "Idempotency-Key reused with another body" })),
            Some(_) => (200, "duplicate"),
            None => {
                let held = &state.record.anchors;
                let refusal = if held.iter().any(|a| a.seq > head.seq) {
                    Some("audit_rewound")
                } else if held.iter().any(|a| a.seq == head.seq && a.head != head.head) {
                    Some("audit_rewritten")
                } else {
                    None
                };
                if let Some(error) = refusal {
                    state.record.anchors_refused.push((head, error.to_owned()));
                    return (409, json!({ "error": error }));
                }
                state.head_keys.insert(key.to_owned(), hash);
                state.record.anchors.push(head.clone());
                (201, "accepted")
            }
        };
        let redeemed: Vec<&Redemption> = state
            .redemptions
            .iter()
            .filter(|x| x.redeemed_at_ms >= head.redemptions_since_ms)
            .take(MAX_REDEMPTIONS)
            .collect();
        (status.0, json!({ "anchor_id": key, "status": status.1, "redeemed_tokens": redeemed }))
    }
}
