use super::*;
use crate::store::fixture::Fixture;
use crate::store::{KeyId, KeyStore, KeyStoreError, SCHEMA_VERSION};
use crate::testing;
use time::macros::datetime;

fn issued_record() -> OnboardingRecord {
    issued_at(datetime!(2024-05-15 12:00 UTC))
}

fn issued_at(t: OffsetDateTime) -> OnboardingRecord {
    testing::issued_onboarding(t, 0)
}

fn template() -> Vec<f32> {
    testing::face_template(0)
}

fn refused_record() -> OnboardingRecord {
    OnboardingRecord {
        outcome: Outcome::Refused("face_mismatch".into()),
        account: None,
        face_template: None,
        face_checks: None,
        enrolment_keys: None,
        personal: None,
        ..issued_record()
    }
}

#[test]
fn onboarding_roundtrip() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let record = issued_record();
    store.record_onboarding(&record).unwrap();
    let issued = record.account.as_ref().unwrap();

    assert_eq!(store.account_count().unwrap(), 1);
    assert_eq!(store.onboarding_outcomes().unwrap(), vec![(record.id, Outcome::AccountIssued)]);
    assert_eq!(store.face_templates().unwrap(), vec![(issued.account.id, template())]);

    let outbox = store.pending_outbox(10).unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].kind, "account_opened");
    let payload: serde_json::Value = serde_json::from_slice(&outbox[0].payload).unwrap();
    assert_eq!(payload["personal"]["surname"], testing::SURNAME);
    assert_eq!(payload["account_id"], issued.account.id.to_string());
    assert_eq!(payload["limits"]["per_transaction_limit_kopecks"], 1_500_000);
    store.mark_outbox_sent(outbox[0].id, datetime!(2024-05-15 12:01 UTC)).unwrap();
    assert!(store.pending_outbox(10).unwrap().is_empty());

    let now = datetime!(2024-05-15 12:05 UTC);
    assert_eq!(store.consume_activation_token(issued.token_id, now).unwrap(), issued.account.id);
    assert!(matches!(
        store.consume_activation_token(issued.token_id, now),
        Err(StoreError::TokenAlreadyUsed)
    ));
    assert!(matches!(store.consume_activation_token(TokenId::random(), now), Err(StoreError::TokenUnknown)));

    // consent, document read, face decision, finished, account, template, outbox enqueued,
    // sync acknowledged, token consumed
    assert_eq!(store.verify_audit().unwrap().rows, 9);
    let events: Vec<String> = store
        .conn
        .prepare("SELECT event FROM audit_log ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        events,
        [
            "consent_recorded",
            "document_read",
            "face_decision",
            "onboarding_finished",
            "account_issued",
            "face_template_stored",
            "outbox_enqueued",
            "sync_acknowledged",
            "activation_token_consumed"
        ]
    );
}

#[test]
fn refused_onboarding_creates_no_account() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let record = refused_record();
    store.record_onboarding(&record).unwrap();
    assert_eq!(store.account_count().unwrap(), 0);
    assert!(store.face_templates().unwrap().is_empty());
    assert!(store.pending_outbox(10).unwrap().is_empty());
    assert_eq!(
        store.onboarding_outcomes().unwrap(),
        vec![(record.id, Outcome::Refused("face_mismatch".into()))]
    );
    // consent, face decision (mismatch), finished
    assert_eq!(store.verify_audit().unwrap().rows, 3);

    let inconsistent = OnboardingRecord { outcome: Outcome::Refused("x".into()), ..issued_record() };
    assert!(matches!(store.record_onboarding(&inconsistent), Err(StoreError::InvalidRecord(_))));
    let no_account = OnboardingRecord { account: None, face_template: None, ..issued_record() };
    assert!(matches!(store.record_onboarding(&no_account), Err(StoreError::InvalidRecord(_))));
}

#[test]
fn failed_write_leaves_nothing_behind() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let first = issued_record();
    store.record_onboarding(&first).unwrap();
    // Same account again under a new onboarding id: the account insert fails mid-transaction.
    let second = OnboardingRecord { id: uuid_v7_at(datetime!(2024-05-15 13:00 UTC)), ..first.clone() };
    assert!(store.record_onboarding(&second).is_err());
    assert_eq!(store.onboarding_outcomes().unwrap().len(), 1);
    assert_eq!(store.pending_outbox(10).unwrap().len(), 1);
    assert_eq!(store.face_templates().unwrap().len(), 1);
    assert_eq!(store.verify_audit().unwrap().rows, 7);
}

#[test]
fn migrations_idempotent_on_reopen() {
    let fx = Fixture::new();
    let record = issued_record();
    {
        let mut store = fx.open();
        store.record_onboarding(&record).unwrap();
    }
    let store = fx.open();
    let store2 = fx.open();
    let version: i64 = store.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let keys: i64 = store.conn.query_row("SELECT COUNT(*) FROM data_keys", [], |r| r.get(0)).unwrap();
    assert_eq!(keys, 1, "reopening must not add data keys");
    assert_eq!(store2.face_templates().unwrap(), vec![(record.account.unwrap().account.id, template())]);
    let mode: String = store.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = store.conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
    assert_eq!(fk, 1);
    let sync: i64 = store.conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(fx.db()).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn wrong_kek_is_a_clear_error() {
    let fx = Fixture::new();
    fx.open().record_onboarding(&issued_record()).unwrap();
    let other = KeyStore::create(&fx.dir.path().join("other.key")).unwrap();
    let err = Store::open(&fx.db(), &other).unwrap_err();
    assert!(matches!(err, StoreError::Keys(KeyStoreError::WrongKek { .. })), "{err:?}");
    assert!(err.to_string().contains("wrong key for this database"), "{err}");
}

#[test]
fn kek_file_with_unsafe_permissions_refused() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new();
    let path = fx.dir.path().join("kek.key");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = KeyStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

fn assert_no_personal_data(files: &[std::path::PathBuf]) {
    let tpl: Vec<u8> = template().iter().flat_map(|v| v.to_le_bytes()).collect();
    let text_needles: Vec<&str> = testing::PERSONAL_TEXTS.into_iter().chain(["ANNA"]).collect();
    let mut searched = 0;
    for path in files {
        let Ok(bytes) = std::fs::read(path) else { continue };
        searched += 1;
        for needle in &text_needles {
            assert!(!testing::contains(&bytes, needle.as_bytes()), "{needle:?} found in {}", path.display());
        }
        assert!(!testing::contains(&bytes, &tpl), "template bytes found in {}", path.display());
        // Any two consecutive template values (8 bytes) would already be a leak.
        for window in tpl.chunks_exact(4).collect::<Vec<_>>().windows(2) {
            let pair = [window[0], window[1]].concat();
            assert!(!testing::contains(&bytes, &pair), "template fragment found in {}", path.display());
        }
    }
    assert!(searched >= 1, "no database file was searched");
}

#[test]
fn no_personal_data_in_database_or_wal() {
    let fx = Fixture::new();
    let db = fx.db();
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    let mut store = fx.open();
    let record = issued_record();
    store.record_onboarding(&record).unwrap();
    store.record_onboarding(&refused_record_with_personal()).unwrap();
    // While open, the new pages sit in the WAL.
    assert!(wal.exists(), "WAL file expected while the store is open");
    assert_no_personal_data(&[db.clone(), wal.clone()]);
    drop(store);
    assert_no_personal_data(&[db.clone(), wal]);
    // The data really is in there, sealed.
    assert_eq!(fx.open().face_templates().unwrap()[0].1, template());
}

fn refused_record_with_personal() -> OnboardingRecord {
    OnboardingRecord {
        id: uuid_v7_at(datetime!(2024-05-15 14:00 UTC)),
        personal: issued_record().personal,
        ..refused_record()
    }
}

#[test]
fn outbox_backoff_quarantine_and_ack() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let t0 = datetime!(2024-05-15 12:00 UTC);
    store.record_onboarding(&issued_at(t0)).unwrap();
    store.record_onboarding(&issued_at(t0 + time::Duration::seconds(1))).unwrap();
    let items = store.due_outbox(t0 + time::Duration::minutes(1), 10).unwrap();
    assert_eq!(items.len(), 2);
    let (a, b) = (items[0].id, items[1].id);

    store.schedule_outbox_retry(a, t0 + time::Duration::hours(1), "core answered 503\n").unwrap();
    let due: Vec<Uuid> = store.due_outbox(t0 + time::Duration::minutes(1), 10).unwrap().iter().map(|i| i.id).collect();
    assert_eq!(due, [b], "a row in back-off is not due");
    assert_eq!(store.pending_outbox(10).unwrap().len(), 2, "a forced drain takes every pending row");
    assert_eq!(store.pending_outbox(10).unwrap()[0].attempts, 1);

    store.quarantine_outbox(b, t0, "core answered 422: bad").unwrap();
    let q = store.quarantined_outbox().unwrap();
    assert_eq!((q.len(), q[0].id, q[0].reason.as_str()), (1, b, "core answered 422: bad"));
    assert!(store.pending_outbox(10).unwrap().iter().all(|i| i.id != b));

    store.mark_outbox_sent(a, t0).unwrap();
    store.mark_outbox_sent(a, t0).unwrap(); // idempotent
    let status = store.outbox_status().unwrap();
    assert_eq!((status.pending, status.sent, status.quarantined), (0, 1, 1));
    let payload_len: i64 = store
        .conn
        .query_row("SELECT length(payload_sealed) FROM outbox WHERE id = ?1", [a.to_string()], |r| r.get(0))
        .unwrap();
    assert_eq!(payload_len, 0, "the acknowledged payload (personal data) is dropped");
    let acks: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM audit_log WHERE event = 'sync_acknowledged'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(acks, 1);
    store.verify_audit().unwrap();
}

#[test]
fn key_rotation_keeps_old_records_readable() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let t0 = datetime!(2024-05-15 12:00 UTC);
    let before = issued_at(t0);
    store.record_onboarding(&before).unwrap();
    let lifetime = time::Duration::days(365);
    // The first key was created "now" (wall clock); not due a day later.
    let now = OffsetDateTime::now_utc();
    assert_eq!(store.rotate_data_key_if_due(&fx.keys, now + time::Duration::days(1), lifetime).unwrap(), None);
    let rotated = store.rotate_data_key_if_due(&fx.keys, now + time::Duration::days(366), lifetime).unwrap();
    assert_eq!(rotated, Some(KeyId(2)));
    store.record_onboarding(&issued_at(t0 + time::Duration::seconds(5))).unwrap();
    let key_ids: Vec<KeyId> = store
        .conn
        .prepare("SELECT template_sealed FROM face_templates ORDER BY created_at")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|b| crate::store::seal::sealed_key_id(&b.unwrap()).unwrap())
        .collect();
    assert_eq!(key_ids, [KeyId(1), KeyId(2)]);
    drop(store);
    // A fresh process opens both the old and the new records.
    let store = fx.open();
    assert_eq!(store.face_templates().unwrap().len(), 2);
    // The lifetime is capped at three years whatever is asked.
    let mut store = store;
    let far = now + time::Duration::days(366 + 3 * 365 + 1);
    assert_eq!(store.rotate_data_key_if_due(&fx.keys, far, time::Duration::days(10_000)).unwrap(), Some(KeyId(3)));
    store.verify_audit().unwrap();
}

#[test]
fn retention_purges_confirmed_data_then_destroys_unused_keys() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let t0 = datetime!(2024-05-15 12:00 UTC);
    store.record_onboarding(&issued_at(t0)).unwrap();
    store.record_onboarding(&issued_at(t0 + time::Duration::seconds(1))).unwrap();
    let items = store.pending_outbox(10).unwrap();
    let retention = time::Duration::days(30);
    let confirmed = t0 + time::Duration::hours(1);
    store.mark_outbox_sent(items[0].id, confirmed).unwrap();

    // Not yet: within retention.
    assert!(store.purge_expired(confirmed + time::Duration::days(29), retention).unwrap().is_empty());
    // Rotate so key 1 is retired, then purge after retention: only the confirmed row goes.
    let now = OffsetDateTime::now_utc();
    store.rotate_data_key_if_due(&fx.keys, now + time::Duration::days(400), time::Duration::days(365)).unwrap();
    let report = store.purge_expired(confirmed + time::Duration::days(31), retention).unwrap();
    assert_eq!((report.face_templates, report.documents), (1, 1));
    assert!(report.keys_destroyed.is_empty(), "key 1 still seals the unconfirmed row");
    assert_eq!(store.face_templates().unwrap().len(), 1);

    // The second row is confirmed and purged too; now nothing uses key 1 and it is destroyed.
    store.mark_outbox_sent(items[1].id, confirmed).unwrap();
    let later = now + time::Duration::days(500);
    let report = store.purge_expired(later, retention).unwrap();
    assert_eq!((report.face_templates, report.documents), (1, 1));
    assert_eq!(report.keys_destroyed, [KeyId(1)]);
    let keys: i64 = store.conn.query_row("SELECT COUNT(*) FROM data_keys", [], |r| r.get(0)).unwrap();
    assert_eq!(keys, 1);
    let sealed_left: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM onboardings WHERE document_sealed IS NOT NULL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sealed_left, 0);
    assert_eq!(store.account_count().unwrap(), 2, "accounts themselves are kept");
    let events: i64 = store
        .conn
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE event IN ('personal_data_purged', 'data_key_destroyed', 'data_key_rotated')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 4);
    store.verify_audit().unwrap();
    drop(store);
    fx.open();
}

#[test]
fn version_1_database_is_migrated() {
    let fx = Fixture::new();
    {
        let mut conn = rusqlite::Connection::open(fx.db()).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(crate::store::migrations::MIGRATIONS[0]).unwrap();
        tx.pragma_update(None, "user_version", 1).unwrap();
        tx.commit().unwrap();
    }
    let mut store = fx.open();
    store.record_onboarding(&issued_record()).unwrap();
    assert_eq!(store.pending_outbox(10).unwrap().len(), 1);
    assert_eq!(store.integrity_check().unwrap(), Ok(()));
}

#[test]
fn a_connection_follows_a_rotation_made_elsewhere_and_never_seals_with_a_destroyed_key() {
    let fx = Fixture::new();
    let mut old = fx.open();
    let mut other = fx.open();
    let now = OffsetDateTime::now_utc();
    // Another process (the service's upkeep) rotates, and much later destroys the retired key,
    // which seals nothing.
    other.rotate_data_key_if_due(&fx.keys, now + time::Duration::days(400), time::Duration::days(365)).unwrap();
    let report = other.purge_expired(now + time::Duration::days(402), time::Duration::days(30)).unwrap();
    assert_eq!(report.keys_destroyed, [KeyId(1)]);
    // This connection loaded key 1 only: it picks up key 2 before writing.
    old.record_onboarding(&issued_record()).unwrap();
    assert_eq!(old.account_count().unwrap(), 1);
    let conn = rusqlite::Connection::open(fx.db()).unwrap();
    let sealed: Vec<u8> =
        conn.query_row("SELECT template_sealed FROM face_templates", [], |r| r.get(0)).unwrap();
    assert_eq!(crate::store::seal::sealed_key_id(&sealed).unwrap(), KeyId(2), "sealed with the active key");
    assert_eq!(fx.open().face_templates().unwrap().len(), 1, "another connection opens it");
}

#[test]
fn face_checks_are_kept_with_the_onboarding_and_its_audit_event() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let checks = crate::store::FaceChecks {
        attempts: 2,
        passive_live_probability: Some(0.93),
        passive_live: Some(true),
        challenge_direction: Some("left"),
        challenge_result: Some("passed"),
        match_score: Some(0.74),
        duplicate_best_score: Some(0.12),
        duplicate_kind: None,
        chip_proof: Some(crate::store::ChipProof {
            binding: "kiosk-session:s:audit:7:ab".into(),
            nonce: "00".repeat(16),
            challenge: "11".repeat(8),
            signature: "22".repeat(64),
            verdict: "passed",
        }),
    };
    let record = OnboardingRecord { face_checks: Some(checks), ..issued_record() };
    store.record_onboarding(&record).unwrap();
    drop(store);

    let conn = rusqlite::Connection::open(fx.db()).unwrap();
    let stored: String = conn
        .query_row("SELECT face_checks_json FROM onboardings WHERE id = ?1", [record.id.to_string()], |r| r.get(0))
        .unwrap();
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["challenge_result"], "passed");
    assert_eq!(stored["attempts"], 2);
    let audit: String = conn
        .query_row("SELECT details_json FROM audit_log WHERE event = 'face_decision'", [], |r| r.get(0))
        .unwrap();
    let audit: serde_json::Value = serde_json::from_str(&audit).unwrap();
    assert_eq!(audit["checks"]["challenge_direction"], "left");
    assert_eq!(audit["checks"]["chip_proof"]["signature"], "22".repeat(64));
    assert_eq!(audit["checks"]["chip_proof"]["binding"], "kiosk-session:s:audit:7:ab");
    assert!((audit["checks"]["match_score"].as_f64().unwrap() - 0.74).abs() < 1e-6);
}

#[test]
fn an_enrolment_is_found_again_by_its_document_or_its_holder_until_retention_purges_it() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let key = store.lookup_key().clone();
    let first = key.enrolment("UTO", "L898902C3", "ERIKSSON", "ANNA<MARIA", "740812");
    let t0 = datetime!(2024-05-15 12:00 UTC);
    assert_eq!(store.enrolled_as(&first).unwrap(), None);
    store.record_onboarding(&OnboardingRecord { enrolment_keys: Some(first), ..issued_at(t0) }).unwrap();

    assert_eq!(store.enrolled_as(&first).unwrap(), Some(crate::store::DuplicateKind::Document));
    // A new passport of the same holder: another number, the same name and birth date.
    let renewed = key.enrolment("UTO", "X12345678", "ERIKSSON", "ANNA MARIA", "740812");
    assert_eq!(store.enrolled_as(&renewed).unwrap(), Some(crate::store::DuplicateKind::Holder));
    let someone_else = key.enrolment("UTO", "Y7", "ERIKSSON", "ANNA MARIA", "750812");
    assert_eq!(store.enrolled_as(&someone_else).unwrap(), None);
    // The template is in its birth date's bucket; one from before buckets is in none.
    store.record_onboarding(&issued_at(t0 + time::Duration::seconds(1))).unwrap();
    let mut buckets: Vec<_> = store.enrolled_faces().unwrap().into_iter().map(|(bucket, _)| bucket).collect();
    buckets.sort();
    assert_eq!(buckets, vec![None, Some(first.birth)]);
    // Nothing personal in clear: the keyed hashes only, under a key the database does not hold.
    let conn = rusqlite::Connection::open(fx.db()).unwrap();
    let stored: Vec<Vec<u8>> =
        conn.prepare("SELECT digest FROM enrolment_keys ORDER BY kind").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(stored, vec![first.document.to_vec(), first.holder.to_vec()]);

    // Retention takes them with the template once the core confirmed the account long ago.
    for item in store.pending_outbox(10).unwrap() {
        store.mark_outbox_sent(item.id, t0).unwrap();
    }
    store.purge_expired(t0 + time::Duration::days(40), time::Duration::days(30)).unwrap();
    assert_eq!(store.enrolled_as(&first).unwrap(), None);
    assert_eq!(store.enrolled_as(&renewed).unwrap(), None);
    assert!(store.enrolled_faces().unwrap().is_empty());
}
