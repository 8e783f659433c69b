//! The HTTPS client of the bank core: one kept-alive HTTP/1.1 connection over rustls with the
//! kiosk's client certificate, re-established after any failure. Every request is signed and
//! carries the outbox row id as its idempotency key.

use super::protocol::{
    self, AuditHead, AuditHeadAck, Verdict, AUDIT_HEADS_PATH, HEADER_IDEMPOTENCY_KEY, HEADER_KIOSK_ID, HEADER_SIGNATURE,
    MESSAGES_PATH,
};
use super::SyncError;
use crate::account::KioskIdentity;
use crate::store::{CoreAccountState, OutboxItem, OUTBOX_ACCOUNT_OPENED};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

/// Largest response body read; the core's answers are small JSON objects.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Where the core is, from `sync.core_url` (`https://host[:port][/base]`).
#[derive(Debug, Clone)]
struct Endpoint {
    host: String,
    port: u16,
    authority: String,
    path: String,
    heads_path: String,
    server_name: ServerName<'static>,
}

fn parse_endpoint(url: &str) -> Result<Endpoint, SyncError> {
    let bad = |why: &str| SyncError::BadUrl { url: url.to_owned(), why: why.to_owned() };
    let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
    if uri.scheme_str() != Some("https") {
        return Err(bad("the core is reached over https only"));
    }
    let authority = uri.authority().ok_or_else(|| bad("no host"))?.clone();
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
    let server_name = ServerName::try_from(host.clone()).map_err(|_| bad("host is not a valid name"))?;
    let base = uri.path().trim_end_matches('/');
    Ok(Endpoint {
        port: authority.port_u16().unwrap_or(443),
        authority: authority.as_str().to_owned(),
        path: format!("{base}{MESSAGES_PATH}"),
        heads_path: format!("{base}{AUDIT_HEADS_PATH}"),
        host,
        server_name,
    })
}

/// Timeouts of the link to the core.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP connect plus TLS handshake.
    pub connect: Duration,
    /// One request, from sending to the whole response.
    pub request: Duration,
}

pub struct CoreClient {
    endpoint: Endpoint,
    tls: TlsConnector,
    kiosk_id: String,
    identity: Arc<KioskIdentity>,
    timeouts: Timeouts,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for CoreClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreClient").field("core", &self.endpoint.authority).finish_non_exhaustive()
    }
}

impl CoreClient {
    pub fn new(
        core_url: &str,
        tls: Arc<rustls::ClientConfig>,
        kiosk_id: &str,
        identity: Arc<KioskIdentity>,
        timeouts: Timeouts,
    ) -> Result<CoreClient, SyncError> {
        Ok(CoreClient {
            endpoint: parse_endpoint(core_url)?,
            tls: TlsConnector::from(tls),
            kiosk_id: kiosk_id.to_owned(),
            identity,
            timeouts,
            connection: None,
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let e = &self.endpoint;
        let tcp = timeout(self.timeouts.connect, TcpStream::connect((e.host.as_str(), e.port)))
            .await
            .map_err(|_| "connect timed out".to_owned())?
            .map_err(|err| format!("cannot connect: {err}"))?;
        // Small requests one after another: do not wait to coalesce them.
        let _ = tcp.set_nodelay(true);
        let tls = timeout(self.timeouts.connect, self.tls.connect(e.server_name.clone(), tcp))
            .await
            .map_err(|_| "TLS handshake timed out".to_owned())?
            .map_err(|err| format!("TLS handshake failed: {err}"))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|err| format!("HTTP handshake failed: {err}"))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "core connection ended");
            }
        });
        Ok(sender)
    }

    /// Sends one outbox row and says what became of it. Never fails: every problem is a
    /// verdict, and any doubt about the connection drops it.
    pub async fn deliver(&mut self, item: &OutboxItem) -> Verdict {
        self.deliver_for_state(item).await.0
    }

    /// [`CoreClient::deliver`], with the account's state at the core when an acknowledgement
    /// of an `account_opened` says it (`account_state`).
    pub async fn deliver_for_state(&mut self, item: &OutboxItem) -> (Verdict, Option<CoreAccountState>) {
        let key = item.id.to_string();
        let body = protocol::request_body(item.id, &item.kind, &self.kiosk_id, item.created_at_ms, &item.payload);
        let signature =
            protocol::sign(self.identity.signing_key(), "POST", &self.endpoint.path, &key, &self.kiosk_id, &body);
        let request = Request::post(self.endpoint.path.as_str())
            .header(HOST, self.endpoint.authority.as_str())
            .header(CONTENT_TYPE, "application/json")
            .header(HEADER_IDEMPOTENCY_KEY, key.as_str())
            .header(HEADER_KIOSK_ID, self.kiosk_id.as_str())
            .header(HEADER_SIGNATURE, signature)
            .body(Full::new(Bytes::copy_from_slice(&body)));
        let request = match request {
            Ok(r) => r,
            // Only a kiosk id that is not a valid header value gets here.
            Err(e) => return (Verdict::Permanent { status: 0, reason: format!("cannot build the request: {e}") }, None),
        };
        let (verdict, state) = match self.exchange(request).await {
            Ok((status, echoed, retry_after, body)) => {
                let verdict = protocol::classify(status, echoed.as_deref(), &key, retry_after.as_deref(), &short(&body));
                let state = match verdict {
                    Verdict::Acknowledged { .. } if item.kind == OUTBOX_ACCOUNT_OPENED => {
                        protocol::parse_account_state(&body, item.id)
                    }
                    _ => None,
                };
                (verdict, state)
            }
            Err(reason) => (Verdict::Transient { reason, retry_after: None }, None),
        };
        if !matches!(verdict, Verdict::Acknowledged { .. }) {
            self.connection = None;
        }
        (verdict, state)
    }

    /// The kiosk's id as the core knows it.
    pub fn kiosk_id(&self) -> &str {
        &self.kiosk_id
    }

    /// Signs an audit chain head with the kiosk key (`head_signature`).
    pub fn sign_head(&self, seq: i64, head: &str, anchored_at_ms: i64) -> String {
        protocol::sign_head(self.identity.signing_key(), &self.kiosk_id, seq, head, anchored_at_ms)
    }

    /// Posts an audit head; on a 2xx echoing its key, the core's acknowledgement (with the
    /// redeemed tokens). Every other outcome is a verdict, as for messages.
    pub async fn anchor(&mut self, head: &AuditHead) -> Result<AuditHeadAck, Verdict> {
        let key = head.anchor_id.to_string();
        let body = match serde_json::to_vec(head) {
            Ok(b) => b,
            Err(e) => return Err(Verdict::Permanent { status: 0, reason: format!("cannot encode the audit head: {e}") }),
        };
        let path = self.endpoint.heads_path.clone();
        let signature = protocol::sign(self.identity.signing_key(), "POST", &path, &key, &self.kiosk_id, &body);
        let request = Request::post(path.as_str())
            .header(HOST, self.endpoint.authority.as_str())
            .header(CONTENT_TYPE, "application/json")
            .header(HEADER_IDEMPOTENCY_KEY, key.as_str())
            .header(HEADER_KIOSK_ID, self.kiosk_id.as_str())
            .header(HEADER_SIGNATURE, signature)
            .body(Full::new(Bytes::from(body)));
        let request = match request {
            Ok(r) => r,
            Err(e) => return Err(Verdict::Permanent { status: 0, reason: format!("cannot build the request: {e}") }),
        };
        let result = match self.exchange(request).await {
            Ok((status, echoed, retry_after, body)) => {
                match protocol::classify(status, echoed.as_deref(), &key, retry_after.as_deref(), &short(&body)) {
                    Verdict::Acknowledged { .. } => protocol::parse_head_ack(&body, head.anchor_id).ok_or(
                        Verdict::Transient { reason: "the core's answer to the audit head is not readable".into(), retry_after: None },
                    ),
                    other => Err(other),
                }
            }
            Err(reason) => Err(Verdict::Transient { reason, retry_after: None }),
        };
        if result.is_err() {
            self.connection = None;
        }
        result
    }

    #[allow(clippy::type_complexity)]
    async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<(u16, Option<String>, Option<String>, Bytes), String> {
        let mut sender = match self.connection.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        let outcome = timeout(self.timeouts.request, async {
            sender.ready().await.map_err(|e| format!("connection not usable: {e}"))?;
            let response = sender.send_request(request).await.map_err(|e| format!("request failed: {e}"))?;
            let status = response.status().as_u16();
            let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let echoed = header(HEADER_IDEMPOTENCY_KEY);
            let retry_after = header("retry-after");
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the response failed: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, echoed, retry_after, body))
        })
        .await
        .map_err(|_| format!("no answer within {} ms", self.timeouts.request.as_millis()))??;
        self.connection = Some(sender);
        Ok(outcome)
    }
}

/// The start of a response body, for messages.
fn short(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = parse_endpoint("https://127.0.0.1:8443/core/").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("127.0.0.1", 8443, "/core/v1/kiosk-messages"));
        assert_eq!(e.heads_path, "/core/v1/kiosk-audit-heads");
        let e = parse_endpoint("https://core.bank.example").unwrap();
        assert_eq!((e.port, e.path.as_str()), (443, "/v1/kiosk-messages"));
        assert!(parse_endpoint("http://core.bank.example").is_err());
        assert!(parse_endpoint("not a url").is_err());
    }
}
