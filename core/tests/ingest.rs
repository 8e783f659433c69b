//! The kiosk's own sync client drains to the real kiosk-core on a throwaway PostgreSQL:
//! every message in the database exactly once through lost answers, social payments choices
//! after their accounts, and every kind of bad input refused with its status, changing nothing,
//! counted in the metrics.

mod support;

use kiosk::store::Store;
use kiosk::sync::{drain, protocol, AnchorOutcome, Scope, Verdict};
use support::kiosk_side::{Kiosk, FAST_BACKOFF};
use support::{cli, cli_fails, provisioned_toml, BankFiles, Gateway, RawClient, TestCore};
use std::time::Duration;

/// The n-th distinct person: own passport number, own face.
pub fn person(n: u32) -> kiosk::store::OnboardingRecord {
    let mut record = support::kiosk_side::onboarding(n);
    if let Some(p) = record.personal.as_mut() {
        p.document_number = format!("T{n:08}");
    }
    record.face_template = Some(support::face(n));
    record
}

fn social_choice(account: uuid::Uuid) -> kiosk::benefits::SocialPaymentsChoice {
    use kiosk::benefits::{eligible, CategorySet, SocialPaymentsChoice, SocialRules};
    let rules = SocialRules::builtin("2026-11-v1").unwrap();
    let selected = CategorySet::EMPTY.with(rules.category_index("children").unwrap());
    let offered = eligible(&rules, Some(33), None, selected);
    SocialPaymentsChoice::new(account, &rules, selected, &offered, true, time::OffsetDateTime::now_utc())
}

/// A signed audit head of kiosk KIOSK-TEST, sent as the kiosk sends it.
async fn post_head(raw: &RawClient, kiosk: &Kiosk, seq: i64, head: &str) -> support::Reply {
    let key = kiosk.identity.signing_key();
    let anchor = protocol::AuditHead {
        anchor_id: uuid::Uuid::now_v7(),
        kiosk_id: "KIOSK-TEST".into(),
        seq,
        head: head.into(),
        anchored_at_ms: 1_765_000_000_000,
        head_signature: protocol::sign_head(key, "KIOSK-TEST", seq, head, 1_765_000_000_000),
        redemptions_since_ms: 0,
    };
    let body = serde_json::to_vec(&anchor).unwrap();
    let path = "/core/v1/kiosk-audit-heads";
    let id = anchor.anchor_id.to_string();
    let sig = protocol::sign(key, "POST", path, &id, "KIOSK-TEST", &body);
    raw.post(path, &[("idempotency-key", id), ("kiosk-id", "KIOSK-TEST".into()), ("kiosk-signature", sig)], body).await
}

struct Setup {
    core: TestCore,
    files: BankFiles,
}

impl std::ops::Deref for Setup {
    type Target = TestCore;
    fn deref(&self) -> &TestCore {
        &self.core
    }
}

fn setup() -> Setup {
    let core = TestCore::start();
    assert!(core.migrated.contains("applied [1, 2, 3, 4]"), "{}", core.migrated);
    assert!(cli(&core.url, &["migrate"]).contains("already at version 4"));
    let out = core.register("KIOSK-TEST", &core.kiosk.identity);
    assert!(out.contains("KIOSK-TEST") && out.contains(": registered"), "{out}");
    assert!(core.register("KIOSK-TEST", &core.kiosk.identity).contains("nothing changed"));
    let files = core.files();
    Setup { core, files }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_drains_to_kiosk_core_exactly_once() {
    let s = setup();
    let gateway = Gateway::start(&s.pg.url(), &s.files, &[]);
    let mut store = Store::open(&s.kiosk.db(), &s.kiosk.kek).unwrap();
    let mut accounts = Vec::new();
    for n in 0..20 {
        let record = person(n);
        accounts.push(record.account.as_ref().unwrap().account.id);
        store.record_onboarding(&record).unwrap();
    }
    for account in accounts.iter().take(5) {
        store.record_social_payments_choice(&social_choice(*account)).unwrap();
    }
    let mut client = s.kiosk.client(&gateway.api, Duration::from_secs(10));

    // A lost acknowledgement: the core took the first row, the kiosk never heard.
    let first = store.pending_outbox(1).unwrap().remove(0);
    assert_eq!(client.deliver(&first).await, Verdict::Acknowledged { duplicate: false });

    let report = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!((report.sent, report.duplicates, report.quarantined), (25, 1, 0), "{report:?}");
    assert_eq!(store.outbox_status().unwrap().pending, 0);
    // The batch ends with the signed audit head, which the core keeps; one that goes back or
    // differs at a seq it holds is refused.
    let AnchorOutcome::Anchored { seq } = report.anchor else { panic!("audit head not anchored: {:?}", report.anchor) };
    assert_eq!(s.pg.count(&format!("SELECT count(*) FROM audit_anchors WHERE kiosk_id = 'KIOSK-TEST' AND seq = {seq}")), 1);
    let raw = RawClient::new(&s.kiosk.pki, &gateway.api);
    for (at, head, status, error) in [(seq - 1, "ab", 409, "audit_rewound"), (seq, "cd", 409, "audit_rewritten"), (seq + 1, "ef", 201, "")] {
        let reply = post_head(&raw, &s.kiosk, at, &head.repeat(32)).await;
        assert_eq!(reply.status, status, "{}", reply.body);
        assert!(reply.body.contains(error), "{}", reply.body);
    }

    let pg = &s.pg;
    assert_eq!(pg.count("SELECT count(*) FROM accounts"), 20);
    let states = pg.psql("kiosk_core", "SELECT state, match_score, blocked_because FROM accounts WHERE state <> 'provisional'");
    assert_eq!(pg.count("SELECT count(*) FROM accounts WHERE state = 'provisional'"), 20, "{states}");
    assert_eq!(pg.count("SELECT count(*) FROM face_templates"), 20);
    assert_eq!(pg.count("SELECT count(*) FROM social_payments_choices"), 5);
    assert_eq!(pg.count("SELECT count(*) FROM idempotency_keys"), 25);
    assert_eq!(pg.count(&format!("SELECT deliveries FROM idempotency_keys WHERE idempotency_key = '{}'", first.id)), 2);
    // Sealed at rest: no name or passport number in clear in any row.
    for text in [kiosk::testing::SURNAME, "T00000003"] {
        let hits = pg.count(&format!(
            "SELECT count(*) FROM accounts WHERE position(convert_to('{text}', 'UTF8') in personal_sealed) > 0 OR position(convert_to('{text}', 'UTF8') in convert_to(limits::text, 'UTF8')) > 0"
        ));
        assert_eq!(hits, 0, "{text} in clear");
    }
    let plain_template = pg.count("SELECT count(*) FROM face_templates WHERE length(template_sealed) <> 512 + 29 + 16");
    assert_eq!(plain_template, 0, "templates are sealed: header, 512 bytes, tag");

    // Everything again (a kiosk restored from backup): all duplicates, nothing new.
    drop(client);
    let gateway2 = Gateway::start(&s.pg.url(), &s.files, &[]);
    let mut again = s.kiosk.client(&gateway2.api, Duration::from_secs(10));
    assert_eq!(again.deliver(&first).await, Verdict::Acknowledged { duplicate: true });
    assert_eq!(pg.count("SELECT count(*) FROM accounts"), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_its_status_and_reason_changes_nothing_and_is_counted() {
    let s = setup();
    let gateway = Gateway::start(&s.pg.url(), &s.files, &[]);
    let raw = RawClient::new(&s.kiosk.pki, &gateway.api);
    let path = "/core/v1/kiosk-messages";
    let key = "0190e4a0-0000-7000-8000-000000000001";
    let signed = |key: &str, kiosk: &str, body: &[u8]| {
        let sig = protocol::sign(s.kiosk.identity.signing_key(), "POST", path, key, kiosk, body);
        vec![("idempotency-key", key.to_owned()), ("kiosk-id", kiosk.to_owned()), ("kiosk-signature", sig)]
    };
    let envelope = |kind: &str, payload: &str| {
        format!(r#"{{"message_id":"{key}","kind":"{kind}","kiosk_id":"KIOSK-TEST","created_at_ms":1,"payload":{payload}}}"#).into_bytes()
    };
    let choice = r#"{"choice_id":"0190e4a0-0000-7000-8000-0000000000c1","account_id":"0190e4a0-0000-7000-8000-0000000000a1","decided_at_ms":1,"rules_version":"v1","credit_to_account":false,"categories":[],"kinds_offered":[]}"#;

    type Case<'a> = (&'a str, Vec<(&'a str, String)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("no key", vec![("kiosk-id", "KIOSK-TEST".into())], envelope("account_opened", "{}"), 400, "Idempotency-Key"),
        ("key not a uuid", signed("nope", "KIOSK-TEST", b"{}"), b"{}".to_vec(), 400, "not a UUID"),
        ("unknown kiosk", signed(key, "KIOSK-OTHER", b"{}"), b"{}".to_vec(), 401, "not registered"),
        ("no signature", vec![("idempotency-key", key.into()), ("kiosk-id", "KIOSK-TEST".into())], b"{}".to_vec(), 401, "Kiosk-Signature"),
        ("bad signature", {
            let mut h = signed(key, "KIOSK-TEST", b"{}");
            h[2].1 = "A".repeat(86);
            h
        }, b"{}".to_vec(), 401, "does not verify"),
        ("signed for another body", signed(key, "KIOSK-TEST", b"{}"), envelope("account_opened", "{}"), 401, "does not verify"),
        ("not json", signed(key, "KIOSK-TEST", b"{{{"), b"{{{".to_vec(), 400, "envelope"),
        ("unknown kind", signed(key, "KIOSK-TEST", &envelope("pizza", "{}")), envelope("pizza", "{}"), 422, "unknown message kind"),
        ("account without fields", signed(key, "KIOSK-TEST", &envelope("account_opened", "{}")), envelope("account_opened", "{}"), 422, "account_opened payload"),
        ("choice for an unknown account", signed(key, "KIOSK-TEST", &envelope("social_payments_choice", choice)), envelope("social_payments_choice", choice), 425, "not known yet"),
        ("oversized", signed(key, "KIOSK-TEST", &vec![b' '; 70_000]), vec![b' '; 70_000], 413, "larger than"),
        ("not declared json", {
            let mut h = signed(key, "KIOSK-TEST", b"{}");
            h.push(("content-type", "text/plain".into()));
            h
        }, b"{}".to_vec(), 415, "application/json"),
    ];
    for (what, headers, body, status, reason) in cases {
        let reply = raw.post(path, &headers, body).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        let error = reply.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(reason), "{what}: reason `{error}` lacks `{reason}`");
    }
    for table in ["accounts", "idempotency_keys", "social_payments_choices", "face_templates"] {
        assert_eq!(s.pg.count(&format!("SELECT count(*) FROM {table}")), 0, "{table} changed by bad input");
    }

    // The same key with another body after a real delivery: 409, the first body stays.
    let mut store = Store::open(&s.kiosk.db(), &s.kiosk.kek).unwrap();
    store.record_onboarding(&person(1)).unwrap();
    let item = store.pending_outbox(1).unwrap().remove(0);
    let body = protocol::request_body(item.id, &item.kind, "KIOSK-TEST", item.created_at_ms, &item.payload);
    let id = item.id.to_string();
    let first = raw.post(path, &signed(&id, "KIOSK-TEST", &body), body.to_vec()).await;
    assert_eq!((first.status, first.key.as_deref()), (201, Some(id.as_str())), "{}", first.body);
    assert_eq!(first.json()["account_state"], "provisional");
    let other = protocol::request_body(item.id, &item.kind, "KIOSK-TEST", item.created_at_ms + 1, &item.payload).to_vec();
    let reused = raw.post(path, &signed(&id, "KIOSK-TEST", &other), other).await;
    assert_eq!(reused.status, 409, "{}", reused.body);
    assert_eq!(s.pg.count("SELECT count(*) FROM accounts"), 1);

    let metrics = reqwest_free_get(&format!("{}/metrics", gateway.ops)).await;
    for reason in ["no_idempotency_key", "unknown_kiosk", "bad_signature", "malformed_body", "unknown_kind", "invalid_account", "account_not_yet_known", "body_too_large", "not_json", "key_reused"] {
        let line = metrics.lines().find(|l| l.starts_with("kiosk_core_refusals_total") && l.contains(&format!("reason=\"{reason}\""))).unwrap_or_else(|| panic!("no refusal counter for {reason}:\n{metrics}"));
        assert!(!line.ends_with(" 0"), "{line}");
    }

    // Unknown kiosk at registration: a registration with a mistyped key is refused.
    let bad = s.dir.path().join("bad.toml");
    std::fs::write(&bad, provisioned_toml("K2", &s.kiosk.identity).replace("public_key = \"", "public_key = \"00")).unwrap();
    let (_, err) = cli_fails(&s.pg.url(), &["kiosks", "register", "--from", bad.to_str().unwrap()]);
    assert!(err.contains("64 hex"), "{err}");
}

/// A plain GET on the ops listener.
pub async fn reqwest_free_get(url: &str) -> String {
    use http_body_util::BodyExt;
    let authority = url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let path = format!("/{}", url.trim_start_matches("http://").split_once('/').map_or("", |x| x.1));
    let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path).header("host", authority).body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}
