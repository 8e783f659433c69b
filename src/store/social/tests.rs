use super::*;
use crate::benefits::{self, CategorySet, SocialRules};
use crate::store::fixture::Fixture;
use crate::store::{KeyId, OnboardingRecord};
use crate::testing;
use time::Duration;

/// The sensitive words a choice holds; none may be on disk in clear.
const NEEDLES: &[&str] =
    &["disability", "caring_for_disabled", "survivor", "unified_child_benefit", "children"];

fn onboarding(t: OffsetDateTime) -> OnboardingRecord {
    testing::issued_onboarding(t, 0)
}

fn account_of(r: &OnboardingRecord) -> Uuid {
    r.account.as_ref().unwrap().account.id
}

/// Records an onboarding at `t`; the id of its account.
fn onboarded(store: &mut Store, t: OffsetDateTime) -> Uuid {
    let record = onboarding(t);
    store.record_onboarding(&record).unwrap();
    account_of(&record)
}

/// A person with a disability who cares for a disabled child, accepting the offer.
fn choice(account: Uuid, at: OffsetDateTime, credit: bool) -> SocialPaymentsChoice {
    let rules = SocialRules::builtin("2026-11-v1").unwrap();
    let selected = ["disability", "caring_for_disabled"]
        .iter()
        .fold(CategorySet::EMPTY, |s, id| s.with(rules.category_index(id).unwrap()));
    let offered = benefits::eligible(&rules, Some(40), None, selected);
    SocialPaymentsChoice::new(account, &rules, selected, &offered, credit, at)
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn events(store: &Store) -> Vec<(String, String)> {
    store
        .conn
        .prepare("SELECT event, details_json FROM audit_log ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn choice_is_recorded_with_its_audit_event_and_outbox_message() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let t = OffsetDateTime::now_utc();
    let account = onboarded(&mut store, t);
    let c = choice(account, t + Duration::seconds(20), true);
    assert_eq!(c.kinds_offered, ["disability_pension", "disability_monthly_payment", "care_allowance"]);
    let id = store.record_social_payments_choice(&c).unwrap();

    let stored = store.social_payments_choice(account).unwrap().unwrap();
    assert_eq!(stored.id, id);
    let back = stored.choice.as_ref().unwrap();
    let mut expected = c.clone();
    expected.decided_at = back.decided_at;
    assert_eq!(back, &expected);
    assert_eq!(unix_ms(back.decided_at), unix_ms(c.decided_at));

    // The message for the core, sealed in the outbox, sent once the account's own is.
    let outbox = store.pending_outbox(10).unwrap();
    assert_eq!(outbox.iter().map(|o| o.kind.as_str()).collect::<Vec<_>>(), ["account_opened"]);
    store.mark_outbox_sent(outbox[0].id, t).unwrap();
    let outbox = store.pending_outbox(10).unwrap();
    assert_eq!(outbox.iter().map(|o| o.kind.as_str()).collect::<Vec<_>>(), [OUTBOX_SOCIAL_PAYMENTS_CHOICE]);
    assert_eq!(outbox[0].id, stored.outbox_id);
    let payload: serde_json::Value = serde_json::from_slice(&outbox[0].payload).unwrap();
    assert_eq!(payload["account_id"], account.to_string());
    assert_eq!(payload["choice_id"], id.to_string());
    assert_eq!(payload["credit_to_account"], true);
    assert_eq!(payload["rules_version"], "2026-11-v1");
    assert_eq!(payload["categories"], serde_json::json!(["disability", "caring_for_disabled"]));
    assert_eq!(payload["kinds_offered"][2], "care_allowance");

    // Audit: the fact, with nothing personal in it.
    let events = events(&store);
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    let at = names.iter().position(|e| *e == "social_payments_choice_recorded").unwrap();
    assert_eq!(names[at + 1], "outbox_enqueued");
    for (_, details) in &events {
        for needle in NEEDLES {
            assert!(!details.contains(needle), "{needle} in audit details {details}");
        }
    }
    assert!(events
        .iter()
        .any(|(e, d)| e == "social_payments_choice_recorded" && d.contains(&account.to_string())));
    store.verify_audit().unwrap();
}

#[test]
fn a_declined_offer_keeps_only_the_decision() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let t = OffsetDateTime::now_utc();
    let account = onboarded(&mut store, t);
    store.record_social_payments_choice(&choice(account, t, false)).unwrap();
    let back = store.social_payments_choice(account).unwrap().unwrap().choice.unwrap();
    assert!(!back.credit_to_account);
    assert!(back.categories.is_empty() && back.kinds_offered.is_empty(), "nothing to request, nothing kept");
    let opened = store.pending_outbox(10).unwrap();
    store.mark_outbox_sent(opened[0].id, t).unwrap();
    let outbox = store.pending_outbox(10).unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&outbox[0].payload).unwrap();
    assert_eq!(payload["credit_to_account"], false);
    assert_eq!(payload["categories"], serde_json::json!([]));
}

#[test]
fn one_choice_per_known_account_and_a_refusal_writes_nothing() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let t = OffsetDateTime::now_utc();
    let account = onboarded(&mut store, t);
    let before =
        (count(&store, "SELECT COUNT(*) FROM outbox"), count(&store, "SELECT COUNT(*) FROM audit_log"));

    let err = store.record_social_payments_choice(&choice(Uuid::now_v7(), t, true)).unwrap_err();
    assert!(matches!(err, StoreError::ChoiceAccountUnknown), "{err}");
    assert!(err.to_string().contains("record the onboarding first"), "{err}");

    let mut bad = choice(account, t, true);
    bad.categories.push("Robert'); DROP TABLE".into());
    assert!(matches!(store.record_social_payments_choice(&bad), Err(StoreError::InvalidRecord(_))));
    let mut bad = choice(account, t, true);
    bad.rules_version = String::new();
    assert!(matches!(store.record_social_payments_choice(&bad), Err(StoreError::InvalidRecord(_))));
    assert_eq!(
        (count(&store, "SELECT COUNT(*) FROM outbox"), count(&store, "SELECT COUNT(*) FROM audit_log")),
        before,
        "refused writes leave nothing"
    );

    store.record_social_payments_choice(&choice(account, t, true)).unwrap();
    let err =
        store.record_social_payments_choice(&choice(account, t + Duration::minutes(1), false)).unwrap_err();
    assert!(matches!(err, StoreError::ChoiceAlreadyRecorded), "{err}");
    let back = store.social_payments_choice(account).unwrap().unwrap().choice.unwrap();
    assert!(back.credit_to_account, "the first choice stands");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM social_payments_choices"), 1);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox"), before.0 + 1);
    assert!(store.social_payments_choice(Uuid::now_v7()).unwrap().is_none());
}

#[test]
fn the_choice_waits_for_its_account_to_reach_the_core() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let t = OffsetDateTime::now_utc();
    let account = onboarded(&mut store, t);
    // Decided "before" the account by the clock: still queued after it.
    store.record_social_payments_choice(&choice(account, t - Duration::minutes(5), true)).unwrap();
    let opened = store.pending_outbox(10).unwrap();
    assert_eq!(opened.len(), 1, "only account_opened is sendable");
    assert_eq!(opened[0].kind, "account_opened");

    // The account's message is deferred by the back-off: the choice, due, still waits.
    store.schedule_outbox_retry(opened[0].id, t + Duration::hours(1), "core answered 503").unwrap();
    assert!(store.due_outbox(t + Duration::minutes(1), 10).unwrap().is_empty());
    let status = store.outbox_status().unwrap();
    assert_eq!(status.pending, 2, "a held row is still pending");
    assert_eq!(status.next_due_ms, Some(unix_ms(t + Duration::hours(1))), "a held row is never 'due now'");

    store.mark_outbox_sent(opened[0].id, t).unwrap();
    let due = store.due_outbox(t + Duration::minutes(1), 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].kind, OUTBOX_SOCIAL_PAYMENTS_CHOICE);

    // A quarantined account holds its choice back for good (staff resolve both).
    let second = onboarding(t + Duration::seconds(1));
    store.record_onboarding(&second).unwrap();
    store.record_social_payments_choice(&choice(account_of(&second), t, true)).unwrap();
    let pending: Vec<_> = store.pending_outbox(10).unwrap();
    let opened2 = pending.iter().find(|o| o.kind == "account_opened").unwrap();
    store.quarantine_outbox(opened2.id, t, "core answered 422").unwrap();
    let kinds: Vec<String> = store.pending_outbox(10).unwrap().into_iter().map(|o| o.kind).collect();
    assert_eq!(kinds, [OUTBOX_SOCIAL_PAYMENTS_CHOICE], "only the first account's choice");
}

fn file_bytes(fx: &Fixture) -> Vec<(String, Vec<u8>)> {
    ["", "-wal"]
        .iter()
        .filter_map(|s| {
            let path = format!("{}{s}", fx.db().display());
            std::fs::read(&path).ok().map(|b| (path, b))
        })
        .collect()
}

#[test]
fn categories_never_reach_the_database_in_clear_and_the_seal_is_bound_to_its_row() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let t = OffsetDateTime::now_utc();
    let (a, b) = (onboarding(t), onboarding(t + Duration::seconds(1)));
    store.record_onboarding(&a).unwrap();
    store.record_onboarding(&b).unwrap();
    store.record_social_payments_choice(&choice(account_of(&a), t, true)).unwrap();
    store.record_social_payments_choice(&choice(account_of(&b), t, false)).unwrap();
    store.checkpoint().unwrap();
    // Once more so the WAL holds a fresh copy too.
    let c = onboarding(t + Duration::seconds(2));
    store.record_onboarding(&c).unwrap();
    store.record_social_payments_choice(&choice(account_of(&c), t, true)).unwrap();
    let files = file_bytes(&fx);
    assert_eq!(files.len(), 2, "database and WAL");
    for (path, bytes) in &files {
        for needle in NEEDLES {
            assert!(!testing::contains(bytes, needle.as_bytes()), "{needle} in clear in {path}");
        }
    }

    // A sealed choice copied onto another account's row does not open there.
    store
        .conn
        .execute(
            "UPDATE social_payments_choices SET choice_sealed =
                (SELECT choice_sealed FROM social_payments_choices WHERE account_id = ?1) WHERE account_id = ?2",
            [account_of(&a).to_string(), account_of(&b).to_string()],
        )
        .unwrap();
    let err = store.social_payments_choice(account_of(&b)).unwrap_err();
    assert!(matches!(err, StoreError::Seal { .. }), "{err}");
}

#[test]
fn retention_purges_the_sealed_choice_and_only_then_destroys_its_key() {
    let fx = Fixture::new();
    let mut store = fx.open();
    let t = OffsetDateTime::now_utc();
    let account = onboarded(&mut store, t);
    store.record_social_payments_choice(&choice(account, t, true)).unwrap();
    // Everything so far under key 1; retire it.
    assert_eq!(store.rotate_data_key_if_due(&fx.keys, t, Duration::ZERO).unwrap(), Some(KeyId(2)));
    let opened = store.pending_outbox(10).unwrap();
    store.mark_outbox_sent(opened[0].id, t).unwrap();
    let chosen = store.pending_outbox(10).unwrap();
    assert_eq!(chosen[0].kind, OUTBOX_SOCIAL_PAYMENTS_CHOICE);
    store.mark_outbox_sent(chosen[0].id, t + Duration::days(20)).unwrap();

    // The account's data expires first; the choice (acknowledged later) still protects key 1.
    let first = store.purge_expired(t + Duration::days(10), Duration::days(5)).unwrap();
    assert_eq!((first.face_templates, first.documents, first.social_payments_choices), (1, 1, 0));
    assert!(first.keys_destroyed.is_empty(), "key 1 still seals the choice");
    assert!(store.social_payments_choice(account).unwrap().unwrap().choice.is_some());

    let second = store.purge_expired(t + Duration::days(30), Duration::days(5)).unwrap();
    assert_eq!(second.social_payments_choices, 1);
    assert_eq!(second.keys_destroyed, [KeyId(1)]);
    let stored = store.social_payments_choice(account).unwrap().unwrap();
    assert!(stored.choice.is_none(), "purged: only the clear facts remain");
    let purged = events(&store).into_iter().filter(|(e, _)| e == "personal_data_purged").count();
    assert_eq!(purged, 2);
    store.verify_audit().unwrap();
}
