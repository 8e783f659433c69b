//! The fleet load run shared by `tests/load.rs` (small) and `benches/fleet_load.rs` (2,000
//! kiosks): simulated kiosks, each with its own Ed25519 key and client certificate made now,
//! deliver offline backlogs through two gateway processes into one PostgreSQL, retrying as the
//! kiosk does (same key, same body, until a 2xx; on a broken link the other gateway, as behind
//! a load balancer), while one gateway is SIGKILLed (and started again) and PostgreSQL is
//! restarted.

use super::kiosk_side::Pki;
use super::pg::PgCluster;
use super::{BankFiles, Gateway};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use kiosk::sync::protocol;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub struct Plan {
    pub kiosks: usize,
    pub messages_per_kiosk: usize,
    /// Every `duplicate_every`-th person is an earlier person again (same face, new passport)
    /// at another kiosk.
    pub duplicate_every: usize,
    pub faults: bool,
}

pub struct Outcome {
    pub messages: u64,
    pub duplicates_expected: u64,
    pub elapsed: Duration,
    pub latencies_ms: Vec<f64>,
    pub retries: u64,
}

struct SimKiosk {
    id: String,
    key: ed25519_dalek::SigningKey,
    tls: tokio_rustls::TlsConnector,
    bodies: Vec<(Uuid, Vec<u8>)>,
}

fn write_key(path: &Path, pem: &str) {
    std::fs::write(path, pem).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A CA, the gateways' server certificate, and one client certificate per kiosk.
fn fleet_pki(dir: &Path, kiosks: usize) -> (Pki, Vec<(String, String)>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name.push(DnType::CommonName, "fleet test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &ca, &ca_key).unwrap();
    let pki = Pki {
        ca: dir.join("fleet-ca.pem"),
        server_cert: dir.join("fleet-server.pem"),
        server_key: dir.join("fleet-server.key"),
        client_cert: dir.join("unused.pem"),
        client_key: dir.join("unused.key"),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.server_cert, server_cert.pem()).unwrap();
    write_key(&pki.server_key, &server_key.serialize_pem());
    let clients = (0..kiosks)
        .map(|i| {
            let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
            client.distinguished_name.push(DnType::CommonName, format!("LOAD-{i:05}"));
            client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let key = KeyPair::generate().unwrap();
            let cert = client.signed_by(&key, &ca, &ca_key).unwrap();
            (cert.pem(), key.serialize_pem())
        })
        .collect();
    (pki, clients)
}

/// Face `f` (< 78,608): seven ±1 entries, one in each block of 17 dimensions, at the values of
/// a polynomial of degree 2 over GF(17), signed by a Hamming [7,4] codeword. Two faces share at
/// most two positions (distinct polynomials) or differ in at least three signs (same
/// polynomial), so distinct faces score at most 2/7 = 0.29, below the 0.55 duplicate threshold, while a
/// returning face scores 1.
pub fn face_vector(f: u64) -> Vec<f32> {
    let (a, b, c, code) = (f % 17, (f / 17) % 17, (f / 289) % 17, (f / 4913) % 16);
    let d = |i: u64| (code >> i) & 1;
    let word = [d(0) ^ d(1) ^ d(3), d(0) ^ d(2) ^ d(3), d(0), d(1) ^ d(2) ^ d(3), d(1), d(2), d(3)];
    let mut v = vec![0.0f32; 128];
    for (k, bit) in word.iter().enumerate() {
        let x = k as u64;
        let pos = (a + b * x + c * x * x) % 17;
        v[k * 17 + pos as usize] = if *bit == 1 { -1.0 } else { 1.0 };
    }
    v
}

fn account_body(kiosk: &str, message: Uuid, person: u64, face: u64) -> Vec<u8> {
    account_body_of(kiosk, message, Uuid::new_v4(), &format!("L{person:09}"), "1980-01-01", face)
}

fn account_body_of(kiosk: &str, message: Uuid, account: Uuid, document: &str, birth_date: &str, face: u64) -> Vec<u8> {
    let values = face_vector(face);
    let template: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let payload = serde_json::json!({
        "onboarding_id": Uuid::new_v4(), "account_id": account, "created_at_ms": 1_765_000_000_000i64,
        "limits": { "per_transaction_limit_kopecks": 1_500_000, "daily_limit_kopecks": 3_000_000, "monthly_limit_kopecks": 10_000_000, "balance_limit_kopecks": 6_000_000, "allowed_operations": ["top_up", "payment"] },
        "activation_token_id": format!("{:032x}", u128::from_le_bytes(*Uuid::new_v4().as_bytes())),
        "consent_version": "2026-11-v1", "consent_sha256": "ab".repeat(32),
        "personal": { "surname": "LOADTEST", "given_names": "PERSON", "document_number": document, "nationality": "UTO", "birth_date": birth_date, "expiry_date": "2030-01-01" },
        "face_template": base64::engine::general_purpose::STANDARD.encode(template),
    });
    protocol::request_body(message, "account_opened", kiosk, 1_765_000_000_000, payload.to_string().as_bytes()).to_vec()
}

async fn post(tls: &tokio_rustls::TlsConnector, addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<(u16, Option<String>), String> {
    post_reading(tls, addr, path, headers, body).await.map(|(status, key, _)| (status, key))
}

async fn post_reading(tls: &tokio_rustls::TlsConnector, addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<(u16, Option<String>, Vec<u8>), String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let stream = tls.connect(name, tcp).await.map_err(|e| e.to_string())?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = hyper::Request::post(path).header("host", addr).header("content-type", "application/json");
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let req = req.body(Full::new(Bytes::copy_from_slice(body))).map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(20), send.send_request(req)).await.map_err(|_| "timeout".to_owned())?.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let key = resp.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = resp.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    Ok((status, key, body))
}

/// Registers the kiosks in bulk (the CLI path is tested on its own).
fn register_all(pg: &PgCluster, kiosks: &[SimKiosk]) {
    for chunk in kiosks.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|k| format!("('{}', 'LOAD', '\\x{}', 'x')", k.id, hex::encode(k.key.verifying_key().as_bytes())))
            .collect();
        pg.psql("kiosk_core", &format!("INSERT INTO kiosks (kiosk_id, site, public_key, fingerprint) VALUES {}", values.join(",")));
    }
}

/// Runs the plan; returns what was measured. Asserts nothing (the callers check the database).
pub async fn run(pg: &PgCluster, dir: &Path, plan: &Plan) -> Outcome {
    let (pki, clients) = fleet_pki(dir, plan.kiosks);
    let kek = dir.join("load-kek.key");
    kiosk::store::KeyStore::create(&kek).unwrap();
    let files = BankFiles { server_cert: pki.server_cert.clone(), server_key: pki.server_key.clone(), client_ca: pki.ca.clone(), kek };
    let mut people = 0u64;
    let mut duplicates = 0u64;
    let mut kiosks = Vec::with_capacity(plan.kiosks);
    for (i, (cert, key_pem)) in clients.iter().enumerate() {
        let cert_path = dir.join(format!("k{i}.pem"));
        let key_path = dir.join(format!("k{i}.key"));
        std::fs::write(&cert_path, cert).unwrap();
        write_key(&key_path, key_pem);
        let config = kiosk::sync::tls::client_config(&pki.ca, &cert_path, &key_path).unwrap();
        let id = format!("LOAD-{i:05}");
        let bodies = (0..plan.messages_per_kiosk)
            .map(|_| {
                people += 1;
                let message = Uuid::now_v7();
                // A returning person: the face of someone onboarded `duplicate_every` before.
                let earlier = plan.messages_per_kiosk as u64;
                let face = if plan.duplicate_every > 0 && people % plan.duplicate_every as u64 == 0 && people > earlier {
                    duplicates += 1;
                    // The person at the same place in the previous kiosk's backlog.
                    people - earlier
                } else {
                    people
                };
                (message, account_body(&id, message, people, face))
            })
            .collect();
        kiosks.push(SimKiosk { id, key: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng), tls: tokio_rustls::TlsConnector::from(config), bodies });
    }
    register_all(pg, &kiosks);

    let gateways = Arc::new(Mutex::new(vec![Gateway::start(&pg.url(), &files, &[]), Gateway::start(&pg.url(), &files, &[])]));
    let addrs: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(
        gateways.lock().unwrap().iter().map(|g| g.api.trim_start_matches("https://").split('/').next().unwrap().to_owned()).collect(),
    ));
    let total: u64 = kiosks.iter().map(|k| k.bodies.len() as u64).sum();
    let done = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, k) in kiosks.into_iter().enumerate() {
        let (addrs, done, retries, latencies) = (Arc::clone(&addrs), Arc::clone(&done), Arc::clone(&retries), Arc::clone(&latencies));
        tasks.push(tokio::spawn(async move {
            let path = "/core/v1/kiosk-messages";
            let mut gateway = i % 2;
            for (message, body) in &k.bodies {
                let key = message.to_string();
                let signature = protocol::sign(&k.key, "POST", path, &key, &k.id, body);
                let mut backoff = Duration::from_millis(20);
                loop {
                    let addr = addrs.lock().unwrap()[gateway].clone();
                    let t = Instant::now();
                    let headers = [("idempotency-key", key.as_str()), ("kiosk-id", k.id.as_str()), ("kiosk-signature", signature.as_str())];
                    match post(&k.tls, &addr, path, &headers, body).await {
                        Ok((200 | 201, Some(echo))) if echo == key => {
                            latencies.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0);
                            done.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Ok((status, _)) if status < 500 && status != 425 && status != 429 && status != 408 => {
                            panic!("kiosk {} message {key}: refused for good with {status}", k.id)
                        }
                        _ => {
                            retries.fetch_add(1, Ordering::Relaxed);
                            gateway = 1 - gateway;
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(1));
                        }
                    }
                }
            }
        }));
    }
    if plan.faults {
        let wait_for = |fraction: f64| {
            let done = Arc::clone(&done);
            async move {
                while (done.load(Ordering::Relaxed) as f64) < total as f64 * fraction {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        wait_for(0.3).await;
        gateways.lock().unwrap()[0].kill();
        let url = pg.url();
        let replacement = {
            let files = BankFiles { server_cert: files.server_cert.clone(), server_key: files.server_key.clone(), client_ca: files.client_ca.clone(), kek: files.kek.clone() };
            tokio::task::spawn_blocking(move || Gateway::start(&url, &files, &[])).await.unwrap()
        };
        addrs.lock().unwrap()[0] = replacement.api.trim_start_matches("https://").split('/').next().unwrap().to_owned();
        gateways.lock().unwrap()[0] = replacement;
        wait_for(0.6).await;
        pg.restart();
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let latencies_ms = std::mem::take(&mut *latencies.lock().unwrap());
    Outcome { messages: total, duplicates_expected: duplicates, elapsed, latencies_ms, retries: retries.load(Ordering::Relaxed) }
}

/// One request over a fresh connection (for the bare-HTTP reference).
pub async fn post_for_bench(tls: &tokio_rustls::TlsConnector, addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<(u16, Option<String>), String> {
    post(tls, addr, path, headers, body).await
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// One person arriving at a kiosk: the passport, the birth date and the face shown.
pub struct Arrival {
    pub document: String,
    pub birth_date: String,
    pub face: u64,
}

/// Every arrival at once, each at its own kiosk, alternately through two gateways (and each
/// sent a second time at once through the other, as a kiosk whose answer was lost), repeated
/// until answered; returns each arrival's account and the state its answers gave.
pub async fn simultaneous(pg: &PgCluster, dir: &Path, arrivals: Vec<Arrival>) -> Vec<(Uuid, String)> {
    let (pki, clients) = fleet_pki(dir, arrivals.len());
    let kek = dir.join("race-kek.key");
    kiosk::store::KeyStore::create(&kek).unwrap();
    let files = BankFiles { server_cert: pki.server_cert.clone(), server_key: pki.server_key.clone(), client_ca: pki.ca.clone(), kek };
    let mut kiosks = Vec::new();
    let mut accounts = Vec::new();
    for (i, ((cert, key_pem), arrival)) in clients.iter().zip(&arrivals).enumerate() {
        let cert_path = dir.join(format!("race{i}.pem"));
        let key_path = dir.join(format!("race{i}.key"));
        std::fs::write(&cert_path, cert).unwrap();
        write_key(&key_path, key_pem);
        let config = kiosk::sync::tls::client_config(&pki.ca, &cert_path, &key_path).unwrap();
        let id = format!("RACE-{i:03}");
        let (message, account) = (Uuid::now_v7(), Uuid::new_v4());
        let body = account_body_of(&id, message, account, &arrival.document, &arrival.birth_date, arrival.face);
        accounts.push(account);
        kiosks.push(SimKiosk { id, key: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng), tls: tokio_rustls::TlsConnector::from(config), bodies: vec![(message, body)] });
    }
    register_all(pg, &kiosks);
    let gateways = [Gateway::start(&pg.url(), &files, &[]), Gateway::start(&pg.url(), &files, &[])];
    let addrs: Vec<String> = gateways.iter().map(|g| g.api.trim_start_matches("https://").split('/').next().unwrap().to_owned()).collect();
    let start = Arc::new(tokio::sync::Barrier::new(kiosks.len() * 2));
    let mut tasks = Vec::new();
    for (i, k) in kiosks.into_iter().enumerate() {
        let k = Arc::new(k);
        for copy in 0..2 {
            let (k, addrs, start) = (Arc::clone(&k), addrs.clone(), Arc::clone(&start));
            tasks.push(tokio::spawn(async move {
                let path = "/core/v1/kiosk-messages";
                let (message, body) = &k.bodies[0];
                let key = message.to_string();
                let signature = protocol::sign(&k.key, "POST", path, &key, &k.id, body);
                let headers = [("idempotency-key", key.as_str()), ("kiosk-id", k.id.as_str()), ("kiosk-signature", signature.as_str())];
                start.wait().await;
                for attempt in 0..200 {
                    match post_reading(&k.tls, &addrs[(i + copy + attempt) % 2], path, &headers, body).await {
                        Ok((200 | 201, _, answer)) => {
                            let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
                            return answer["account_state"].as_str().unwrap().to_owned();
                        }
                        Ok((status, _, answer)) if status < 500 => panic!("{}: {status} {}", k.id, String::from_utf8_lossy(&answer)),
                        _ => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
                panic!("{}: no answer after 200 attempts", k.id)
            }));
        }
    }
    let mut states = Vec::new();
    for pair in tasks.chunks_mut(2) {
        let first = (&mut pair[0]).await.unwrap();
        let second = (&mut pair[1]).await.unwrap();
        assert_eq!(first, second, "both deliveries of one message answer the same state");
        states.push(first);
    }
    accounts.into_iter().zip(states).collect()
}
