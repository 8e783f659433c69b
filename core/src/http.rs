//! HTTP routing and answers: JSON bodies, a clear reason on every refusal, bounded bodies.
//! Two listeners: the kiosk/bank API over mutual TLS, and the ops listener (plain HTTP, meant
//! for the operators' network) with the fleet page, `/metrics` and `/healthz`.

use crate::error::{CoreError, ErrorKind};
use crate::ingest::{self, Delivery};
use crate::server::Core;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;

/// Largest body taken; a kiosk message is a few kilobytes.
pub const MAX_BODY: usize = 64 * 1024;
/// A body announced over [`MAX_BODY`] but not over this is read and dropped before the 413, so a
/// client still writing it reads the answer instead of a reset connection (and a kiosk marks the
/// message refused rather than retrying it forever); beyond this the connection is cut at once.
const DRAIN_LIMIT: u64 = 1024 * 1024;

/// An answer before it becomes a response.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    pub content_type: &'static str,
    pub retry_after: Option<u32>,
    pub echo_key: Option<String>,
}

impl Answer {
    pub fn json(status: u16, value: serde_json::Value) -> Answer {
        Answer { status, body: Bytes::from(value.to_string()), content_type: "application/json", retry_after: None, echo_key: None }
    }

    pub fn error(status: u16, reason: String) -> Answer {
        Answer::json(status, json!({ "error": reason }))
    }

    pub fn html(body: String) -> Answer {
        Answer { status: 200, body: Bytes::from(body), content_type: "text/html; charset=utf-8", retry_after: None, echo_key: None }
    }

    pub fn text(status: u16, body: String, content_type: &'static str) -> Answer {
        Answer { status, body: Bytes::from(body), content_type, retry_after: None, echo_key: None }
    }

    /// A 503 for a failure the caller may retry; details stay in the log.
    pub fn unavailable(error: &CoreError) -> Answer {
        let reason = match error.kind() {
            ErrorKind::Unavailable => "the core's database is unavailable; retry later",
            _ => "the core cannot process this now; retry later (operators alerted)",
        };
        Answer::error(503, reason.into()).retry_after(1)
    }

    pub fn retry_after(mut self, seconds: u32) -> Answer {
        self.retry_after = Some(seconds);
        self
    }

    pub fn echo(mut self, key: &str) -> Answer {
        if !key.is_empty() {
            self.echo_key = Some(key.to_owned());
        }
        self
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(seconds) = self.retry_after {
            headers.insert("retry-after", HeaderValue::from(seconds));
        }
        if let Some(key) = self.echo_key.and_then(|k| HeaderValue::from_str(&k).ok()) {
            headers.insert("idempotency-key", key);
        }
        response
    }
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Reads the body, refusing more than [`MAX_BODY`] (413) without keeping it when the length is
/// announced.
async fn body(core: &Core, endpoint: &str, req: Request<Incoming>) -> Result<(hyper::http::request::Parts, Bytes), Answer> {
    let announced = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = announced.filter(|n| *n > MAX_BODY as u64) {
        core.metrics.refusal(endpoint, "body_too_large");
        if length <= DRAIN_LIMIT {
            let mut incoming = req.into_body();
            while let Some(Ok(_)) = incoming.frame().await {}
        }
        return Err(Answer::error(413, format!("body larger than {MAX_BODY} bytes")));
    }
    let json = header(&req, "content-type").is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("application/json"));
    if !json {
        core.metrics.refusal(endpoint, "not_json");
        return Err(Answer::error(415, "send the body as Content-Type: application/json".into()));
    }
    let (parts, incoming) = req.into_parts();
    match Limited::new(incoming, MAX_BODY).collect().await {
        Ok(collected) => Ok((parts, collected.to_bytes())),
        Err(_) => {
            core.metrics.refusal(endpoint, "body_too_large");
            Err(Answer::error(413, format!("body larger than {MAX_BODY} bytes or cut short")))
        }
    }
}

/// The API listener (mutual TLS): kiosks, and the bank's app and processing back ends.
pub async fn api(core: Arc<Core>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let (endpoint, answer) = if path == core.settings.messages_path {
        ("kiosk-messages", route_post(&core, "kiosk-messages", req, Route::Messages).await)
    } else if path == core.settings.heads_path {
        ("kiosk-audit-heads", route_post(&core, "kiosk-audit-heads", req, Route::AuditHeads).await)
    } else if path == core.settings.activations_path {
        ("activations", route_post(&core, "activations", req, Route::Activations).await)
    } else if path == core.settings.authorisations_path {
        ("authorisations", route_post(&core, "authorisations", req, Route::Authorisations).await)
    } else {
        core.metrics.refusal("unknown", "unknown_path");
        ("unknown", Answer::error(404, format!("no endpoint {path}; see docs/openapi/core-sync.yaml")))
    };
    core.metrics.request(endpoint, answer.status);
    Ok(answer.into_response())
}

#[derive(Clone, Copy)]
enum Route {
    Messages,
    AuditHeads,
    Activations,
    Authorisations,
}

async fn route_post(core: &Arc<Core>, endpoint: &str, req: Request<Incoming>, route: Route) -> Answer {
    if req.method() != Method::POST {
        core.metrics.refusal(endpoint, "method");
        return Answer::error(405, "POST only".into());
    }
    let key = header(&req, "idempotency-key").unwrap_or_default().to_owned();
    let (parts, bytes) = match body(core, endpoint, req).await {
        Ok(read) => read,
        Err(answer) => return answer.echo(&key),
    };
    let get = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    // Messages and audit heads are both signed kiosk deliveries: one view of the request serves both.
    let delivery = Delivery {
        path: parts.uri.path(),
        idempotency_key: get("idempotency-key"),
        kiosk_id: get("kiosk-id"),
        signature: get("kiosk-signature"),
        body: &bytes,
    };
    match route {
        Route::Messages => ingest::deliver(core, delivery).await,
        Route::AuditHeads => crate::anchors::anchor(core, delivery).await,
        Route::Activations => crate::activation::activate(core, &bytes).await,
        Route::Authorisations => crate::authorise::authorise(core, &bytes).await,
    }
}

/// The ops listener: the fleet page, metrics, health.
pub async fn ops(core: Arc<Core>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let answer = if req.method() != Method::GET {
        Answer::error(405, "GET only".into())
    } else {
        match path.as_str() {
            "/healthz" => match core.pool.get().await {
                Ok(_) => Answer::text(200, "ok\n".into(), "text/plain; charset=utf-8"),
                Err(e) => Answer::unavailable(&CoreError::from(e)),
            },
            "/metrics" => Answer::text(200, core.render_metrics().await, "text/plain; version=0.0.4; charset=utf-8"),
            _ => crate::fleet_page::route(&core, &path).await,
        }
    };
    Ok(answer.into_response())
}
