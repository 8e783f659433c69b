//! The audit chain head at the end of each sync batch, signed by the kiosk key and kept by the
//! core (simulator); a truncated log refused by the core and by `kiosk audit verify`; token
//! redemptions the core reports recorded once.

use kiosk::store::{AuditError, Store};
use kiosk::sync::{drain, protocol, AnchorOutcome, Scope};
use std::time::Duration;
use kiosk_test_support::*;

fn first_token(k: &Kiosk) -> String {
    let conn = rusqlite::Connection::open(k.db()).unwrap();
    conn.query_row("SELECT activation_token_id FROM accounts ORDER BY created_at LIMIT 1", [], |r| r.get(0)).unwrap()
}

/// `kiosk audit verify` on the kiosk's database, as an operator runs it.
fn audit_verify(k: &Kiosk) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["audit", "verify", "--db"])
        .arg(k.db())
        .arg("--kek")
        .arg(k.dir.join("kek.key"))
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_batch_ends_with_the_signed_head_and_a_truncated_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kiosk::new(dir.path());
    let core = k.core().await;
    let mut store = Store::open(&k.db(), &k.kek).unwrap();
    for n in 0..3 {
        store.record_onboarding(&onboarding(n)).unwrap();
    }
    let mut client = k.client(&core.url(), Duration::from_secs(2));

    let report = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!(report.sent, 3);
    let local = store.verify_audit().unwrap();
    let AnchorOutcome::Anchored { seq } = report.anchor else { panic!("no anchor: {:?}", report.anchor) };
    assert_eq!(seq as u64, local.rows, "the head after the batch, acknowledgements included");
    let held = core.record().anchors;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].head, local.head_hash);
    assert!(protocol::verify_head(&k.identity.verifying_key(), &held[0].head_signature, "KIOSK-TEST", seq, &held[0].head, held[0].anchored_at_ms));
    assert_eq!(local.last_anchor.as_ref().map(|a| a.seq), Some(seq));

    // Nothing new: no second anchor within the hour.
    let quiet = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!(quiet.anchor, AnchorOutcome::NotSent);
    assert_eq!(core.record().anchors.len(), 1);

    // The mobile bank redeems the first token; the next batch's answer says so, once.
    let token = first_token(&k);
    core.redeem(&token, 1_700_000_000_000);
    store.record_onboarding(&onboarding(3)).unwrap();
    let report = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!((report.sent, report.redemptions_recorded), (1, 1));
    assert_eq!(store.token_redeemed_at(&token).unwrap(), Some(1_700_000_000_000));
    // Listed again by the core in the next answer: not recorded twice.
    let again = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert!(matches!(again.anchor, AnchorOutcome::Anchored { .. }), "the redemption moved the head: {:?}", again.anchor);
    assert_eq!(again.redemptions_recorded, 0);
    let consumed: i64 = rusqlite::Connection::open(k.db())
        .unwrap()
        .query_row("SELECT COUNT(*) FROM audit_log WHERE event = 'activation_token_consumed'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(consumed, 1);
    let report = store.verify_audit().unwrap();
    let anchored = report.last_anchor.unwrap().seq;

    // The CLI reports the anchored head.
    let out = audit_verify(&k);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("last head anchored at the bank core: seq {anchored}")), "{text}");

    // Someone removes the newest rows (a chain alone cannot show that): the local check names
    // the anchored row that is gone, and the core refuses the shorter head.
    drop(store);
    let conn = rusqlite::Connection::open(k.db()).unwrap();
    conn.execute_batch("DROP TRIGGER audit_log_no_delete;").unwrap();
    conn.execute("DELETE FROM audit_log WHERE seq > ?1", [anchored - 4]).unwrap();
    drop(conn);
    let mut store = Store::open(&k.db(), &k.kek).unwrap();
    assert!(matches!(store.verify_audit(), Err(AuditError::AnchorBeyondEnd { .. })), "{:?}", store.verify_audit());
    let out = audit_verify(&k);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rows were removed"), "{}", String::from_utf8_lossy(&out.stderr));
    let refused = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    let AnchorOutcome::Refused { reason } = refused.anchor else { panic!("{:?}", refused.anchor) };
    assert!(reason.contains("audit_rewound"), "{reason}");
    assert_eq!(core.record().anchors_refused.len(), 1);
    assert_eq!(store.anchor_gauges().unwrap().refused, 1);
    // Not sent again.
    let after = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!(after.anchor, AnchorOutcome::NotSent);
    assert_eq!(core.record().anchors_refused.len(), 1);
}
