//! Load and faults, small enough for `make test` (the 2,000-kiosk run is `make bench`): many
//! kiosks with their own keys and certificates, offline backlogs, two gateways, one SIGKILLed
//! and PostgreSQL restarted mid-run; afterwards every message is in the database exactly once
//! and every returning person is blocked exactly once. And the same person arriving at several
//! kiosks at the same moment, through both gateways: one account, every other one blocked.

mod support;

use support::load::{run, simultaneous, Arrival, Plan};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_person_at_several_kiosks_at_once_through_two_gateways_gets_one_account() {
    let (pg, _) = PgCluster::migrated();
    let dir = tempfile::tempdir().unwrap();
    let arrival = |document: &str, birth_date: &str, face: u64| Arrival { document: document.into(), birth_date: birth_date.into(), face };
    let mut arrivals = Vec::new();
    // Person A: one face, four passports, one birth date.
    for n in 0..4 {
        arrivals.push(arrival(&format!("A{n}"), "1975-05-05", 1));
    }
    // Person B: one passport, three faces (another person with B's passport is still B's).
    for face in [2, 3, 4] {
        arrivals.push(arrival("B0", "1975-05-05", face));
    }
    // One face born on two days: two persons as the kiosk's policy sees them.
    arrivals.push(arrival("C0", "1970-01-01", 5));
    arrivals.push(arrival("C1", "1971-01-01", 5));
    // Twenty others, all born the same day as A.
    for n in 0..20 {
        arrivals.push(arrival(&format!("D{n}"), "1975-05-05", 10 + n));
    }
    let total = arrivals.len() as i64;
    let states = simultaneous(&pg, dir.path(), arrivals).await;
    let of = |range: std::ops::Range<usize>| {
        let mut s: Vec<&str> = states[range].iter().map(|(_, s)| s.as_str()).collect();
        s.sort();
        s
    };
    assert_eq!(of(0..4), ["blocked_duplicate", "blocked_duplicate", "blocked_duplicate", "provisional"]);
    assert_eq!(of(4..7), ["blocked_document", "blocked_document", "provisional"]);
    assert_eq!(of(7..9), ["provisional", "provisional"]);
    assert!(of(9..29).iter().all(|s| *s == "provisional"), "{:?}", of(9..29));
    // The database agrees with the answers, and each block names the person's one account.
    assert_eq!(pg.count("SELECT count(*) FROM accounts"), total);
    assert_eq!(pg.count("SELECT count(*) FROM idempotency_keys"), total);
    assert_eq!(pg.count("SELECT count(*) FROM face_templates"), total);
    for (account, state) in &states {
        let stored = pg.psql("kiosk_core", &format!("SELECT state FROM accounts WHERE account_id = '{account}'"));
        assert_eq!(stored.trim(), state);
    }
    let first = |range: std::ops::Range<usize>| states[range].iter().find(|(_, s)| s == "provisional").map(|(a, _)| *a).unwrap();
    let (a, b) = (first(0..4), first(4..7));
    assert_eq!(pg.count(&format!("SELECT count(*) FROM accounts WHERE blocked_because = '{a}' AND state = 'blocked_duplicate'")), 3);
    assert_eq!(pg.count(&format!("SELECT count(*) FROM accounts WHERE blocked_because = '{b}' AND state = 'blocked_document'")), 2);
    assert_eq!(pg.count("SELECT count(*) FROM accounts WHERE blocked_because IS NOT NULL"), 5);
}
