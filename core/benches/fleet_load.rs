//! `make bench`: kiosk-core under a fleet's load, next to a bare-HTTP reference measured in the
//! same run over the same mutual-TLS stack; and the fleet 1:N search over 1,000,000 templates.
//! Prints a table and writes bench-results/kiosk-core.json.
//!
//! KIOSK_CORE_BENCH_KIOSKS (default 2000) and KIOSK_CORE_BENCH_MESSAGES (per kiosk, default 5)
//! size the run; KIOSK_CORE_BENCH_TEMPLATES (default 1000000) the 1:N gallery.

#[path = "../tests/support/mod.rs"]
mod support;

use bytes::Bytes;
use http_body_util::Full;
use kiosk::vision::{Embedding, Gallery};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::load::{percentile, run, Plan};
use support::pg::PgCluster;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The reference: a hyper server over the same rustls mutual TLS that answers 201 at once.
async fn bare_http(dir: &std::path::Path, kiosks: usize, messages: usize) -> (f64, f64, f64) {
    let pki = support::kiosk_side::make_pki(dir, "bare");
    let config = kiosk::sync::tls::server_config(&pki.ca, &pki.server_cert, &pki.server_key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let key = req.headers().get("idempotency-key").cloned();
                    let _ = http_body_util::BodyExt::collect(req.into_body()).await;
                    let mut resp = hyper::Response::new(Full::new(Bytes::from_static(b"{\"status\":\"accepted\"}")));
                    *resp.status_mut() = hyper::StatusCode::CREATED;
                    if let Some(key) = key {
                        resp.headers_mut().insert("idempotency-key", key);
                    }
                    Ok::<_, std::convert::Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(tls), service).await;
            });
        }
    });
    let tls = tokio_rustls::TlsConnector::from(pki.client_tls());
    let body = vec![b'x'; 1500];
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let count = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..kiosks)
        .map(|_| {
            let (tls, addr, body, latencies, count) = (tls.clone(), addr.clone(), body.clone(), Arc::clone(&latencies), Arc::clone(&count));
            tokio::spawn(async move {
                for _ in 0..messages {
                    let key = uuid::Uuid::now_v7().to_string();
                    let t = Instant::now();
                    if support::load::post_for_bench(&tls, &addr, "/core/v1/kiosk-messages", &[("idempotency-key", key.as_str())], &body).await.is_ok() {
                        latencies.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut l = std::mem::take(&mut *latencies.lock().unwrap());
    l.sort_by(f64::total_cmp);
    (count.load(Ordering::Relaxed) as f64 / elapsed, percentile(&l, 0.5), percentile(&l, 0.99))
}

fn one_to_n(templates: usize) -> (f64, f64, f64, f64) {
    let mut gallery = Gallery::with_capacity(templates);
    for i in 0..templates {
        gallery.push(&Embedding::synthetic(i as u64 + 1));
    }
    let mut times = Vec::new();
    let mut agree = 0;
    let probes = 200;
    for p in 0..probes {
        // A returning face, slightly changed, as a second capture would be.
        let base = Embedding::synthetic((p * 4999 % templates) as u64 + 1);
        let noisy: Vec<f32> = base.as_slice().iter().zip(Embedding::synthetic(9_000_000 + p as u64).as_slice()).map(|(a, b)| a + 0.3 * b).collect();
        let probe = Embedding::from_values(noisy).unwrap();
        let t = Instant::now();
        let hit = gallery.search(&probe);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        // The exact answer: a full f32 scan (for the first 20 probes; it is slow by design).
        if p < 20 {
            let exact = (0..templates)
                .map(|i| (i, Embedding::synthetic(i as u64 + 1).as_slice().iter().zip(probe.as_slice()).map(|(a, b)| a * b).sum::<f32>()))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i);
            agree += usize::from(hit.map(|h| h.index) == exact);
        }
    }
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.5), percentile(&times, 0.99), agree as f64 / 20.0, times.len() as f64)
}

fn main() {
    let kiosks = env("KIOSK_CORE_BENCH_KIOSKS", 2000);
    let messages = env("KIOSK_CORE_BENCH_MESSAGES", 5);
    let templates = env("KIOSK_CORE_BENCH_TEMPLATES", 1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (bare_rate, bare_p50, bare_p99) = runtime.block_on(bare_http(dir.path(), kiosks.min(500), messages));
    let (pg, _) = PgCluster::migrated();
    let plan = Plan { kiosks, messages_per_kiosk: messages, duplicate_every: 97, faults: true };
    let outcome = runtime.block_on(run(&pg, dir.path(), &plan));
    let total = outcome.messages as i64;
    let accounts = pg.count("SELECT count(*) FROM accounts");
    let blocked = pg.count("SELECT count(*) FROM accounts WHERE state = 'blocked_duplicate'");
    assert_eq!(accounts, total, "every message exactly once");
    assert_eq!(pg.count("SELECT count(DISTINCT message_id) FROM accounts"), total);
    assert_eq!(blocked, outcome.duplicates_expected as i64, "every returning person blocked once");
    let mut l = outcome.latencies_ms.clone();
    l.sort_by(f64::total_cmp);
    let rate = total as f64 / outcome.elapsed.as_secs_f64();
    let (search_p50, search_p99, recall, _) = one_to_n(templates);
    println!("\nkiosk-core fleet load ({kiosks} kiosks x {messages} messages, 2 gateways, 1 SIGKILL, 1 PostgreSQL restart)");
    println!("| what | messages/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|");
    println!("| kiosk-core, account_opened with 1:N, faults | {rate:.0} | {:.1} | {:.1} |", percentile(&l, 0.5), percentile(&l, 0.99));
    println!("| bare HTTP reference (same mTLS, answers at once) | {bare_rate:.0} | {bare_p50:.1} | {bare_p99:.1} |");
    println!("\nexactly once: {accounts}/{total} accounts, {blocked} returning persons blocked (expected {}), {} retries", outcome.duplicates_expected, outcome.retries);
    println!("fleet 1:N over {templates} templates (int8 scan + exact re-score, 2 threads): p50 {search_p50:.2} ms, p99 {search_p99:.2} ms, recall@1 against the exact f32 scan (20 probes) {:.1}%", recall * 100.0);
    let json = serde_json::json!({
        "kiosks": kiosks, "messages_per_kiosk": messages, "messages": total, "elapsed_s": outcome.elapsed.as_secs_f64(),
        "core": { "messages_per_s": rate, "p50_ms": percentile(&l, 0.5), "p99_ms": percentile(&l, 0.99), "retries": outcome.retries },
        "bare_http": { "messages_per_s": bare_rate, "p50_ms": bare_p50, "p99_ms": bare_p99 },
        "exactly_once": { "accounts": accounts, "blocked_duplicate": blocked, "expected_blocked": outcome.duplicates_expected },
        "one_to_n": { "templates": templates, "p50_ms": search_p50, "p99_ms": search_p99, "top1_agreement": recall },
    });
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-results");
    let _ = std::fs::create_dir_all(&out);
    std::fs::write(out.join("kiosk-core.json"), serde_json::to_string_pretty(&json).unwrap()).unwrap();
    println!("wrote bench-results/kiosk-core.json");
    let _ = Duration::ZERO;
}
