//! Store and sync benchmarks (`make bench`):
//! - time to persist one onboarding (sealed record, template, outbox row, audit events; WAL,
//!   synchronous=FULL, so every commit is fsynced), median and p95, next to a plain unsealed
//!   INSERT of the same rows with the same durability, measured in the same run;
//! - outbox drain rate of 10,000 records to the loopback core over HTTPS with client
//!   certificates, next to the bare request rate of the same client (no store work);
//! - database size per onboarding, before and after the sync and the retention purge.
//!
//! Prints a table and writes `bench-results/store.json`.

use kiosk::store::Store;
use kiosk::sync::{drain, Scope};
use kiosk::testing;
use rusqlite::{params, Connection};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use kiosk_test_support::*;

const PERSIST_RUNS: usize = 300;
const DRAIN_RECORDS: u32 = 10_000;
const BARE_REQUESTS: usize = 2_000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn stats(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (percentile(&samples, 0.5), percentile(&samples, 0.95))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The same rows a sealed onboarding writes, in clear, with the same durability settings.
fn plain_inserts(path: &Path) -> Vec<f64> {
    let mut conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE onboardings (id TEXT PRIMARY KEY, finished_at INTEGER, document TEXT);
         CREATE TABLE accounts (id TEXT PRIMARY KEY, onboarding_id TEXT, limits TEXT);
         CREATE TABLE face_templates (id TEXT PRIMARY KEY, account_id TEXT, template BLOB);
         CREATE TABLE outbox (id TEXT PRIMARY KEY, payload TEXT, created_at INTEGER);
         CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, event TEXT, details TEXT);",
    )
    .unwrap();
    let template: Vec<u8> = testing::face_template(0).iter().flat_map(|v| v.to_le_bytes()).collect();
    let document = r#"{"surname":"ERIKSSONQX","given_names":"ANNA MARIAZ","document_number":"L898902C3","nationality":"UTO","birth_date":"1974-08-12","expiry_date":"2012-04-15"}"#;
    let mut samples = Vec::with_capacity(PERSIST_RUNS);
    for i in 0..PERSIST_RUNS {
        let id = uuid::Uuid::now_v7().to_string();
        let t = Instant::now();
        let tx = conn.transaction().unwrap();
        tx.execute("INSERT INTO onboardings VALUES (?1, ?2, ?3)", params![id, i as i64, document]).unwrap();
        tx.execute("INSERT INTO accounts VALUES (?1, ?1, '{}')", params![id]).unwrap();
        tx.execute("INSERT INTO face_templates VALUES (?1, ?1, ?2)", params![id, template]).unwrap();
        tx.execute("INSERT INTO outbox VALUES (?1, ?2, ?3)", params![id, document, i as i64]).unwrap();
        for event in 0..7 {
            tx.execute("INSERT INTO audit_log (event, details) VALUES (?1, ?2)", params![event.to_string(), id]).unwrap();
        }
        tx.commit().unwrap();
        samples.push(ms(t.elapsed()));
    }
    samples
}

fn file_size(db: &Path) -> u64 {
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    std::fs::metadata(db).map(|m| m.len()).unwrap_or(0) + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kiosk::new(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let core = runtime.block_on(k.core());

    // 1. Persisting one onboarding.
    let persist_db = dir.path().join("persist.db");
    let mut store = Store::open(&persist_db, &k.kek).unwrap();
    let mut sealed = Vec::with_capacity(PERSIST_RUNS);
    for n in 0..PERSIST_RUNS {
        let record = onboarding(n as u32);
        let t = Instant::now();
        store.record_onboarding(&record).unwrap();
        sealed.push(ms(t.elapsed()));
    }
    drop(store);
    let (sealed_median, sealed_p95) = stats(sealed);
    let (plain_median, plain_p95) = stats(plain_inserts(&dir.path().join("plain.db")));

    // 2. Draining 10,000 records; 3. size per onboarding along the way.
    let mut store = Store::open(&k.db(), &k.kek).unwrap();
    let t = Instant::now();
    for n in 0..DRAIN_RECORDS {
        store.record_onboarding(&onboarding(n)).unwrap();
    }
    let fill_s = t.elapsed().as_secs_f64();
    store.checkpoint().unwrap();
    let size_before_sync = file_size(&k.db());
    let mut client = k.client(&core.url(), Duration::from_secs(5));
    let t = Instant::now();
    let report = runtime.block_on(drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {})).unwrap();
    let drain_s = t.elapsed().as_secs_f64();
    assert_eq!(report.sent, u64::from(DRAIN_RECORDS), "every record must reach the core");
    assert_eq!(core.record().accounts.len(), DRAIN_RECORDS as usize);
    store.checkpoint().unwrap();
    let size_after_sync = file_size(&k.db());
    store.purge_expired(time::OffsetDateTime::now_utc(), time::Duration::ZERO).unwrap();
    store.checkpoint().unwrap();
    let size_after_purge = file_size(&k.db());
    let drain_rate = f64::from(DRAIN_RECORDS) / drain_s;

    // Reference: the same client's request rate with no store work (already-known messages,
    // so the core answers "duplicate" without storing anything new).
    let items = store.pending_outbox(1).unwrap();
    assert!(items.is_empty());
    let mut bare_store = Store::open(&dir.path().join("bare.db"), &k.kek).unwrap();
    bare_store.record_onboarding(&onboarding(0)).unwrap();
    let item = bare_store.pending_outbox(1).unwrap().remove(0);
    let t = Instant::now();
    runtime.block_on(async {
        for _ in 0..BARE_REQUESTS {
            let verdict = client.deliver(&item).await;
            assert!(matches!(verdict, kiosk::sync::Verdict::Acknowledged { .. }), "{verdict:?}");
        }
    });
    let bare_rate = BARE_REQUESTS as f64 / t.elapsed().as_secs_f64();

    let per = |bytes: u64| bytes as f64 / f64::from(DRAIN_RECORDS);
    println!("store and sync benchmark (SQLite WAL, synchronous=FULL; loopback core over TLS 1.3 with client certificates)");
    println!("{:<52} {:>12} {:>12}", "", "median", "p95");
    println!("{:<52} {:>9.2} ms {:>9.2} ms", "persist one onboarding (sealed, audit, outbox)", sealed_median, sealed_p95);
    println!("{:<52} {:>9.2} ms {:>9.2} ms", "reference: same rows in clear, plain INSERTs", plain_median, plain_p95);
    println!("{:<52} {:>12.2}", "  ratio sealed / plain (median)", sealed_median / plain_median);
    println!("{:<52} {:>9.0} /s", format!("fill: {DRAIN_RECORDS} onboardings recorded"), f64::from(DRAIN_RECORDS) / fill_s);
    println!("{:<52} {:>9.0} /s  ({drain_s:.1} s)", format!("outbox drain: {DRAIN_RECORDS} records to the core"), drain_rate);
    println!("{:<52} {:>9.0} /s", "reference: bare signed requests, no store work", bare_rate);
    println!("{:<52} {:>9.0} B", "database size per onboarding, before sync", per(size_before_sync));
    println!("{:<52} {:>9.0} B", "  after sync (acknowledged payloads dropped)", per(size_after_sync));
    println!("{:<52} {:>9.0} B", "  after retention purge (templates, documents)", per(size_after_purge));

    let result = json!({
        "persist_onboarding_ms": { "median": sealed_median, "p95": sealed_p95, "runs": PERSIST_RUNS },
        "reference_plain_insert_ms": { "median": plain_median, "p95": plain_p95, "runs": PERSIST_RUNS },
        "ratio_sealed_to_plain_median": sealed_median / plain_median,
        "fill_onboardings_per_s": f64::from(DRAIN_RECORDS) / fill_s,
        "drain": { "records": DRAIN_RECORDS, "seconds": drain_s, "records_per_s": drain_rate },
        "reference_bare_requests_per_s": bare_rate,
        "bytes_per_onboarding": {
            "before_sync": per(size_before_sync),
            "after_sync": per(size_after_sync),
            "after_purge": per(size_after_purge),
        },
    });
    let out = Path::new("bench-results");
    if let Err(error) = std::fs::create_dir_all(out)
        .and_then(|_| std::fs::write(out.join("store.json"), serde_json::to_vec_pretty(&result).unwrap_or_default()))
    {
        eprintln!("cannot write bench-results/store.json: {error}");
    }
}
