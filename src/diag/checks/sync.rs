//! Sync with the bank core: backlog, age of the oldest unsent row, last success, quarantine,
//! and whether the core answers a TLS handshake with this kiosk's certificate.

use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::blocked;
use crate::diag::{timed, CheckResult, Context};

const MISSING: &str = "run `kiosk provision --site SITE` on a new kiosk, or restore the database";

pub(super) fn run(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    let conn = super::store::open_read_only(&super::store::db_path(cx));
    match &conn {
        Ok(conn) => outbox_checks(conn, cx, out),
        Err(message) => {
            out.push(CheckResult::fail("sync.backlog", message.clone(), MISSING));
            for id in ["sync.oldest_unsent", "sync.last_success", "sync.quarantined"] {
                out.push(blocked(id, "sync.backlog", MISSING));
            }
        }
    }
    out.push(timed(|| core_reachable(cx)));
}

fn ago(ms: i64, now_ms: i64) -> String {
    let s = (now_ms - ms).max(0) / 1000;
    match s {
        0..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        7200..=172_799 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

fn outbox_checks(conn: &Connection, cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    let d = &cx.config.diag;
    let started = Instant::now();
    let outbox = match crate::store::read_outbox_gauges(conn) {
        Ok(o) => o,
        Err(e) => {
            out.push(CheckResult::fail("sync.backlog", e.to_string(), "the database schema is not what this software expects: check store.integrity"));
            return;
        }
    };
    let now_ms = crate::store::unix_ms_now();
    let link = "check sync.core_reachable and the kiosk's network; `kiosk sync` drains the outbox now and prints why rows wait";
    let mut backlog = {
        let value = format!("{} messages waiting for the core", outbox.pending);
        let r = if outbox.pending as u64 > d.sync_backlog_warn {
            CheckResult::warn("sync.backlog", value, link)
        } else {
            CheckResult::ok("sync.backlog", value)
        };
        r.with("pending", outbox.pending as f64)
    };
    backlog.duration_ms = crate::diag::elapsed_ms(started);
    out.push(backlog);

    let lag_s = outbox.oldest_unsent_ms.map(|t| (now_ms - t).max(0) / 1000);
    out.push(match lag_s {
        None => CheckResult::ok("sync.oldest_unsent", "nothing unsent").with("age_s", 0.0),
        Some(age) => {
            let value = format!("oldest unsent message created {}", ago(now_ms - age * 1000, now_ms));
            let r = if age as u64 >= d.sync_lag_fail_s {
                CheckResult::fail("sync.oldest_unsent", value, "accounts have not reached the bank for too long: escalate to the bank's core operations with `kiosk sync` output")
            } else if age as u64 >= d.sync_lag_warn_s {
                CheckResult::warn("sync.oldest_unsent", value, link)
            } else {
                CheckResult::ok("sync.oldest_unsent", value)
            };
            r.with("age_s", age as f64)
        }
    });

    out.push(match outbox.last_sent_ms {
        Some(t) => {
            let value = format!("last delivery {}", ago(t, now_ms));
            let stale = (now_ms - t) / 1000 > d.sync_lag_warn_s as i64;
            let r = if stale && outbox.pending > 0 {
                CheckResult::warn("sync.last_success", value, link)
            } else {
                CheckResult::ok("sync.last_success", value)
            };
            r.with("age_s", ((now_ms - t) / 1000) as f64)
        }
        None if outbox.pending > 0 => CheckResult::warn("sync.last_success", "never delivered anything", link),
        None => CheckResult::ok("sync.last_success", "nothing delivered yet (nothing to deliver)"),
    });

    let value = format!("{} messages refused by the core for good", outbox.quarantined);
    out.push(
        if outbox.quarantined > 0 {
            CheckResult::warn("sync.quarantined", value, "`kiosk sync` lists them with the core's reason; resolve with the bank's back office")
        } else {
            CheckResult::ok("sync.quarantined", value)
        }
        .with("quarantined", outbox.quarantined as f64),
    );
}

/// `https://host[:port][/path]` → (host, port).
fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split('/').next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, port) = v6.split_once(']')?;
        let port = port.strip_prefix(':').map_or(Some(443), |p| p.parse().ok())?;
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((authority.to_owned(), 443)),
    }
}

fn core_reachable(cx: &Context<'_>) -> CheckResult {
    const ID: &str = "sync.core_reachable";
    let s = &cx.config.sync;
    let Some((host, port)) = host_port(&s.core_url).filter(|(h, _)| !h.is_empty()) else {
        return CheckResult::fail(ID, format!("sync.core_url `{}` is not https://host[:port]", s.core_url), "fix sync.core_url in the site configuration");
    };
    let tls = match crate::sync::tls::client_config(&s.ca_cert, &s.client_cert, &s.client_key) {
        Ok(tls) => tls,
        Err(e) => return CheckResult::fail(ID, e.to_string(), "install the TLS files issued by the bank (see docs/DEPLOY.md)"),
    };
    let Ok(server_name) = rustls_pki_types::ServerName::try_from(host.clone()) else {
        return CheckResult::fail(ID, format!("`{host}` is not a valid TLS server name"), "fix sync.core_url");
    };
    let timeout = Duration::from_secs(u64::from(s.connect_timeout_s));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return CheckResult::fail(ID, format!("tokio runtime: {e}"), "report this error"),
    };
    let started = Instant::now();
    let outcome = runtime.block_on(async {
        let tcp = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port)))
            .await
            .map_err(|_| format!("TCP connect to {host}:{port} timed out after {} s", timeout.as_secs()))?
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let stream = tokio::time::timeout(timeout, TlsConnector::from(tls).connect(server_name, tcp))
            .await
            .map_err(|_| format!("TLS handshake with {host}:{port} timed out"))?
            .map_err(|e| format!("TLS handshake with {host}:{port} failed: {e}"))?;
        let version = stream.get_ref().1.protocol_version().map_or("TLS".to_owned(), |v| format!("{v:?}"));
        Ok::<_, String>(version)
    });
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(version) => CheckResult::ok(ID, format!("{version} handshake with {host}:{port} in {ms:.0} ms")).with("handshake_ms", ms),
        Err(message) => CheckResult::fail(
            ID,
            message,
            "check the network link, the firewall towards the core, the kiosk certificate (keys.client_cert) and the core CA",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn core_url_authority() {
        assert_eq!(host_port("https://core.bank:8443/x"), Some(("core.bank".into(), 8443)));
        assert_eq!(host_port("https://core.bank"), Some(("core.bank".into(), 443)));
        assert_eq!(host_port("https://[::1]:9/"), Some(("::1".into(), 9)));
        assert_eq!(host_port("http://core"), None);
    }
}
