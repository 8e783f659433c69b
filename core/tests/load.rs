//! Load and faults, small enough for `make test` (the 2,000-kiosk run is `make bench`): many
//! kiosks with their own keys and certificates, offline backlogs, two gateways, one SIGKILLed
//! and PostgreSQL restarted mid-run; afterwards every message is in the database exactly once
//! and every returning person is blocked exactly once.

mod support;

use support::load::{run, Plan};
use support::pg::PgCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_exactly_once_through_a_killed_gateway_and_a_database_restart() {
    let (pg, _) = PgCluster::migrated();
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan { kiosks: 60, messages_per_kiosk: 10, duplicate_every: 25, faults: true };
    let outcome = run(&pg, dir.path(), &plan).await;
    let total = outcome.messages as i64;
    assert_eq!(pg.count("SELECT count(*) FROM accounts"), total);
    assert_eq!(pg.count("SELECT count(DISTINCT message_id) FROM accounts"), total);
    assert_eq!(pg.count("SELECT count(*) FROM idempotency_keys WHERE kind = 'account_opened'"), total);
    assert_eq!(pg.count("SELECT count(*) FROM face_templates"), total);
    assert_eq!(pg.count("SELECT count(*) FROM accounts WHERE state = 'blocked_duplicate'"), outcome.duplicates_expected as i64);
    // Each returning person blocked once, pointing at a provisional (first) account.
    assert_eq!(
        pg.count("SELECT count(*) FROM accounts a JOIN accounts b ON b.account_id = a.blocked_because WHERE a.state = 'blocked_duplicate' AND b.state = 'provisional'"),
        outcome.duplicates_expected as i64
    );
    assert!(outcome.retries > 0, "the faults were felt: {} retries", outcome.retries);
    eprintln!("load test: {} messages in {:?}, {} retries", outcome.messages, outcome.elapsed, outcome.retries);
}
