//! `kiosk run` itself rotates the data key and purges expired personal data at start (then
//! daily), and counts it in `/metrics`: an account the core confirmed 40 days ago with a
//! 30-day retention, under a data key 400 days old with a 365-day lifetime.

mod service_support;

use std::process::Command;
use std::time::{Duration, Instant};

use kiosk::store::{KeyStore, Store};
use service_support::{kiosk_run, try_get, DemoSite};
use time::OffsetDateTime;

fn line_value(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn kiosk_run_rotates_and_purges_at_start_and_counts_it() {
    let DemoSite { tmp: _tmp, data, config, port } = DemoSite::provisioned("retention_days = 30\ndata_key_lifetime_days = 365\n");

    // An onboarding the core confirmed 40 days ago, under a data key made 400 days ago.
    let db = data.join("kiosk.db");
    let keys = KeyStore::open(&data.join("keys/kek.key")).unwrap();
    let mut store = Store::open(&db, &keys).unwrap();
    let long_ago = OffsetDateTime::now_utc() - time::Duration::days(40);
    store.record_onboarding(&kiosk::testing::issued_onboarding(long_ago, 1)).unwrap();
    for item in store.pending_outbox(10).unwrap() {
        store.mark_outbox_sent(item.id, long_ago).unwrap();
    }
    drop(store);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let old = kiosk::store::unix_ms_now() - 400 * 86_400_000;
    conn.execute("UPDATE data_keys SET created_at = ?1", [old]).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM face_templates"), 1);

    let mut child = kiosk_run(&config, &data).env_remove("NOTIFY_SOCKET").spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        if let Some((_, body)) = try_get(port, "/metrics") {
            if line_value(&body, "kiosk_upkeep_runs_total{result=\"ok\"}") == Some(1.0) {
                break body;
            }
        }
        assert!(Instant::now() < deadline, "no upkeep pass counted within 60 s of start");
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();

    assert_eq!(line_value(&body, "kiosk_data_key_rotations_total"), Some(1.0), "{body}");
    assert_eq!(line_value(&body, "kiosk_retention_purged_total{kind=\"face_templates\"}"), Some(1.0), "{body}");
    assert_eq!(line_value(&body, "kiosk_retention_purged_total{kind=\"documents\"}"), Some(1.0), "{body}");
    assert_eq!(line_value(&body, "kiosk_upkeep_runs_total{result=\"error\"}"), Some(0.0), "{body}");
    assert!(line_value(&body, "kiosk_upkeep_last_success_timestamp_seconds").is_some_and(|t| t > 1.7e9), "{body}");
    assert_eq!(count("SELECT COUNT(*) FROM face_templates"), 0, "the template is purged in the database");
    assert_eq!(count("SELECT COUNT(*) FROM data_keys WHERE retired_at IS NULL"), 1);
    assert_eq!(count("SELECT COUNT(*) FROM data_keys"), 2, "a new key, the old one retired (destroyed a day later)");
    assert_eq!(count("SELECT COUNT(*) FROM audit_log WHERE event IN ('data_key_rotated', 'personal_data_purged')"), 2);
}
