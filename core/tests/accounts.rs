//! One demo account per person across the fleet (the same face or the same passport at
//! another kiosk, through another gateway, is blocked and the kiosk is told), activation tokens
//! redeemed once, and the demo limits held under many concurrent authorisations through two
//! gateways.

#![allow(clippy::inconsistent_digit_grouping)]

mod support;

use kiosk::account::{issue_token, Claims, KioskIdentity, LimitsSummary};
use kiosk::store::{CoreAccountState, OnboardingRecord, Store};
use kiosk::sync::{drain, protocol, CoreClient, Scope, Timeouts};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::kiosk_side::FAST_BACKOFF;
use support::{Gateway, RawClient, TestCore};
use uuid::Uuid;

fn person(n: u32, face: u32) -> OnboardingRecord {
    let mut record = support::kiosk_side::onboarding(n);
    if let Some(p) = record.personal.as_mut() {
        p.document_number = format!("T{n:08}");
    }
    record.face_template = Some(support::face(face));
    record
}

/// A second kiosk sharing the first one's CA (its own key, its own database).
struct OtherKiosk {
    identity: Arc<KioskIdentity>,
    store: Store,
}

fn token_for(identity: &KioskIdentity, kiosk_id: &str, record: &OnboardingRecord, ttl: time::Duration) -> String {
    let issued = record.account.as_ref().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let claims = Claims {
        token_id: issued.token_id,
        account_id: issued.account.id,
        kiosk_id: kiosk_id.to_owned(),
        limits: LimitsSummary::from(&issued.account.limits),
        issued_at: now - time::Duration::minutes(1),
        expires_at: now + ttl,
    };
    issue_token(identity.signing_key(), &claims)
}

async fn activate(client: &RawClient, token: String) -> support::Reply {
    let body = serde_json::to_vec(&json!({ "token": token })).unwrap();
    client.post("/core/v1/activations", &[], body).await
}

async fn auth(client: &RawClient, id: Uuid, account: Uuid, operation: &str, kopecks: u64) -> support::Reply {
    let body = serde_json::to_vec(&json!({ "authorisation_id": id, "account_id": account, "operation": operation, "amount_kopecks": kopecks })).unwrap();
    client.post("/core/v1/authorisations", &[], body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_per_person_fleet_wide_tokens_once_and_limits_under_concurrency() {
    let core = TestCore::start();
    let (pg, url, dir, a) = (&core.pg, &core.url, &core.dir, &core.kiosk);
    let b_dir = dir.path().join("b");
    std::fs::create_dir(&b_dir).unwrap();
    let b_kek = kiosk::store::KeyStore::create(&b_dir.join("kek.key")).unwrap();
    let b = OtherKiosk {
        identity: Arc::new(KioskIdentity::generate_to(&b_dir.join("identity.key")).unwrap()),
        store: Store::open(&b_dir.join("kiosk.db"), &b_kek).unwrap(),
    };
    for (id, identity) in [("KIOSK-TEST", &a.identity), ("KIOSK-B", &b.identity)] {
        core.register(id, identity);
    }
    let files = core.files();
    let g1 = Gateway::start(url, &files, &[]);
    let g2 = Gateway::start(url, &files, &[]);

    // Kiosk A, through gateway 1: five people.
    let mut a_store = Store::open(&a.db(), &a.kek).unwrap();
    let a_people: Vec<OnboardingRecord> = (0..5).map(|n| person(n, n)).collect();
    for p in &a_people {
        a_store.record_onboarding(p).unwrap();
    }
    let mut a_client = a.client(&g1.api, Duration::from_secs(10));
    let report = drain(&mut a_store, &mut a_client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!(report.sent, 5);

    // Kiosk B, through gateway 2: a new person; person 2's face with another passport; person
    // 3's passport with another face; person 4's face born on another day (the face is
    // compared only among the same birth date, as on the kiosk).
    let b_people = vec![
        person(100, 50),
        person(101, 2),
        { let mut p = person(3, 77); p.personal.as_mut().unwrap().given_names = "OTHER".into(); p },
        { let mut p = person(102, 4); p.personal.as_mut().unwrap().birth_date = "1990-02-03".into(); p },
    ];
    let mut b_store = b.store;
    for p in &b_people {
        b_store.record_onboarding(p).unwrap();
    }
    let tls = a.pki.client_tls();
    let timeouts = Timeouts { connect: Duration::from_secs(2), request: Duration::from_secs(10) };
    let mut b_client = CoreClient::new(&g2.api, tls, "KIOSK-B", Arc::clone(&b.identity), timeouts).unwrap();
    // The answers, as the kiosk receives them.
    let items = b_store.pending_outbox(10).unwrap();
    let raw = RawClient::new(&a.pki, &g2.api);
    let path = "/core/v1/kiosk-messages";
    let mut states = std::collections::HashMap::new();
    for item in &items {
        let body = protocol::request_body(item.id, &item.kind, "KIOSK-B", item.created_at_ms, &item.payload);
        let id = item.id.to_string();
        let sig = protocol::sign(b.identity.signing_key(), "POST", path, &id, "KIOSK-B", &body);
        let reply = raw.post(path, &[("idempotency-key", id), ("kiosk-id", "KIOSK-B".into()), ("kiosk-signature", sig)], body.to_vec()).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let payload: serde_json::Value = serde_json::from_slice(&item.payload).unwrap();
        states.insert(payload["account_id"].as_str().unwrap().to_owned(), reply.json()["account_state"].as_str().unwrap().to_owned());
    }
    let state_of = |r: &OnboardingRecord| states[&r.account.as_ref().unwrap().account.id.to_string()].clone();
    assert_eq!(b_people.iter().map(state_of).collect::<Vec<_>>(), ["provisional", "blocked_duplicate", "blocked_document", "provisional"]);
    // The kiosk's own drain then finds them all taken (the answers were "lost"); the stored
    // answers carry each account's state, which the kiosk records.
    assert!(b_store.core_account_states().unwrap().is_empty());
    let report = drain(&mut b_store, &mut b_client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!((report.sent, report.duplicates, report.blocked_at_core), (4, 4, 2));
    let recorded: std::collections::HashMap<Uuid, CoreAccountState> = b_store.core_account_states().unwrap().into_iter().map(|(id, state, _)| (id, state)).collect();
    let id_of = |r: &OnboardingRecord| r.account.as_ref().unwrap().account.id;
    assert_eq!(
        recorded,
        [
            (id_of(&b_people[0]), CoreAccountState::Provisional),
            (id_of(&b_people[1]), CoreAccountState::BlockedDuplicate),
            (id_of(&b_people[2]), CoreAccountState::BlockedDocument),
            (id_of(&b_people[3]), CoreAccountState::Provisional),
        ]
        .into_iter()
        .collect()
    );
    // Kiosk A's own accounts: told provisional on their first delivery.
    assert_eq!(a_store.core_account_states().unwrap().iter().filter(|(_, s, _)| *s == CoreAccountState::Provisional).count(), 5);
    let blocked_because = |record: &OnboardingRecord| {
        pg.psql("kiosk_core", &format!("SELECT blocked_because FROM accounts WHERE account_id = '{}'", record.account.as_ref().unwrap().account.id))
    };
    assert_eq!(blocked_because(&b_people[1]), a_people[2].account.as_ref().unwrap().account.id.to_string());
    assert_eq!(blocked_because(&b_people[2]), a_people[3].account.as_ref().unwrap().account.id.to_string());
    assert_eq!(pg.count("SELECT count(*) FROM accounts WHERE state LIKE 'blocked%'"), 2);


    // Templates admitted before the birth-date buckets (migration 3: no `birth_index`) are put
    // in their bucket from the sealed birth date by a gateway that loads them.
    pg.psql("kiosk_core", "UPDATE face_templates SET birth_index = NULL");
    let g3 = Gateway::start(url, &files, &[]);
    let late = vec![person(103, 1), { let mut p = person(104, 4); p.personal.as_mut().unwrap().birth_date = "1990-02-03".into(); p }, { let mut p = person(105, 50); p.personal.as_mut().unwrap().birth_date = "1990-02-03".into(); p }];
    for p in &late {
        b_store.record_onboarding(p).unwrap();
    }
    let tls = a.pki.client_tls();
    let mut b_client3 = CoreClient::new(&g3.api, tls, "KIOSK-B", Arc::clone(&b.identity), timeouts).unwrap();
    let report = drain(&mut b_store, &mut b_client3, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!((report.sent, report.duplicates, report.blocked_at_core), (3, 0, 2));
    let recorded: std::collections::HashMap<Uuid, CoreAccountState> = b_store.core_account_states().unwrap().into_iter().map(|(id, state, _)| (id, state)).collect();
    assert_eq!(recorded[&id_of(&late[0])], CoreAccountState::BlockedDuplicate);
    assert_eq!(recorded[&id_of(&late[1])], CoreAccountState::BlockedDuplicate);
    assert_eq!(recorded[&id_of(&late[2])], CoreAccountState::Provisional, "face 50 is in 1974's bucket, not 1990's");
    assert_eq!(blocked_because(&late[0]), id_of(&a_people[1]).to_string());
    assert_eq!(blocked_because(&late[1]), id_of(&b_people[3]).to_string());
    assert_eq!(pg.count("SELECT count(*) FROM face_templates WHERE birth_index IS NOT NULL"), 3, "new templates carry their bucket");

    // Activation: through either gateway, once.
    let app1 = RawClient::new(&a.pki, &g1.api);
    let app2 = RawClient::new(&a.pki, &g2.api);
    let token0 = token_for(&a.identity, "KIOSK-TEST", &a_people[0], time::Duration::days(1));
    let ok = activate(&app1, token0.clone()).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["state"], "active");
    let replay = activate(&app2, token0.clone()).await;
    assert_eq!(replay.status, 409, "{}", replay.body);
    assert!(replay.body.contains("already used"));
    let blocked = activate(&app1, token_for(&b.identity, "KIOSK-B", &b_people[1], time::Duration::days(1))).await;
    assert_eq!(blocked.status, 403, "{}", blocked.body);
    assert!(blocked.body.contains("already has a demo account"));
    let forged = activate(&app1, token_for(&b.identity, "KIOSK-TEST", &a_people[1], time::Duration::days(1))).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let expired = activate(&app1, token_for(&a.identity, "KIOSK-TEST", &a_people[1], time::Duration::seconds(-10))).await;
    assert!(expired.status == 410 || expired.status == 400, "{}", expired.body);
    let pending = person(200, 90);
    let early = activate(&app1, token_for(&a.identity, "KIOSK-TEST", &pending, time::Duration::days(1))).await;
    assert_eq!(early.status, 425, "{}", early.body);
    let garbage = app1.post("/core/v1/activations", &[], br#"{"token":"KA1.x.y"}"#.to_vec()).await;
    assert_eq!(garbage.status, 400, "{}", garbage.body);
    assert_eq!(pg.count("SELECT count(*) FROM activations"), 1);
    assert_eq!(pg.count("SELECT count(*) FROM accounts WHERE state = 'active'"), 1);
    // Kiosk A hears of the redemption with its next batch's audit head and records it.
    a_store.record_onboarding(&person(300, 60)).unwrap();
    let report = drain(&mut a_store, &mut a_client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert!(matches!(report.anchor, kiosk::sync::AnchorOutcome::Anchored { .. }), "{report:?}");
    assert_eq!((report.sent, report.redemptions_recorded), (1, 1), "{report:?}");

    // Limits: 15 000 ₽ a transaction, 30 000 ₽ a day (turnover), 60 000 ₽ balance. Forty
    // concurrent top-ups of 1 000 ₽ through two gateways: exactly thirty pass.
    let account = a_people[0].account.as_ref().unwrap().account.id;
    let too_big = auth(&app1, Uuid::new_v4(), account, "top_up", 15_000_01).await;
    assert_eq!((too_big.status, too_big.json()["approved"].clone()), (200, json!(false)), "{}", too_big.body);
    assert!(too_big.body.contains("per_transaction_limit"));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let client = if i % 2 == 0 { RawClient::new(&a.pki, &g1.api) } else { RawClient::new(&a.pki, &g2.api) };
            tokio::spawn(async move {
                let body = serde_json::to_vec(&json!({ "authorisation_id": Uuid::new_v4(), "account_id": account, "operation": "top_up", "amount_kopecks": 1_000_00 })).unwrap();
                client.post("/core/v1/authorisations", &[], body).await
            })
        })
        .collect();
    let mut approved = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        if reply.json()["approved"] == json!(true) {
            approved += 1;
        } else {
            assert!(reply.body.contains("daily_limit"), "{}", reply.body);
        }
    }
    assert_eq!(approved, 30);
    assert_eq!(pg.count(&format!("SELECT balance_kopecks FROM accounts WHERE account_id = '{account}'")), 30_000_00);
    assert_eq!(pg.count(&format!("SELECT coalesce(sum(amount_kopecks), 0) FROM authorisations WHERE approved AND account_id = '{account}'")), 30_000_00);

    // A repeated request gets its first decision; a reused id with other terms is refused.
    let id = Uuid::new_v4();
    let first = auth(&app1, id, account, "payment", 500_00).await;
    assert_eq!(first.json()["approved"], json!(false), "daily turnover is used up: {}", first.body);
    let again = auth(&app2, id, account, "payment", 500_00).await;
    assert_eq!((again.json()["approved"].clone(), again.json()["repeated"].clone()), (json!(false), json!(true)));
    assert_eq!(auth(&app2, id, account, "payment", 600_00).await.status, 409);
    // Pending, blocked and unknown accounts are refused.
    let provisional = a_people[1].account.as_ref().unwrap().account.id;
    let r = auth(&app1, Uuid::new_v4(), provisional, "top_up", 100).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("pending"));
    let blocked_account = b_people[1].account.as_ref().unwrap().account.id;
    assert_eq!(auth(&app1, Uuid::new_v4(), blocked_account, "top_up", 100).await.status, 403);
    assert_eq!(auth(&app1, Uuid::new_v4(), Uuid::new_v4(), "top_up", 100).await.status, 404);
    let bad = app1.post("/core/v1/authorisations", &[], br#"{"account_id":"x"}"#.to_vec()).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}
