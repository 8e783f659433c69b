//! End to end: every demo person through the real serial line on a pseudo-terminal, the real
//! models through onnxruntime, the screens, the speaker and printer simulators and the SQLite
//! store.

use std::path::Path;

use kiosk::{app::demo, flow::Outcome, ui::Refusal};

fn run_demo(out: &Path) -> (Vec<kiosk::app::SessionReport>, String) {
    let config = kiosk_config::load(None).expect("default configuration");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut printed = String::new();
    let reports = runtime
        .block_on(demo::run(config, out, &mut |line| {
            printed.push_str(line);
            printed.push('\n');
        }))
        .unwrap_or_else(|e| panic!("demo failed: {e}\n{printed}"));
    (reports, printed)
}

#[test]
fn holder_gets_an_account_and_impostor_is_refused_with_nothing_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let (reports, printed) = run_demo(&out);

    let outcomes: Vec<_> = reports.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::AccountIssued,
            Outcome::Refused(Refusal::FaceMismatch),
            Outcome::Refused(Refusal::AlreadyEnrolled),
            Outcome::Refused(Refusal::LivenessFailed),
            Outcome::Refused(Refusal::LivenessFailed),
            Outcome::Refused(Refusal::DocumentNotTrusted),
            Outcome::WalkedAway,
            Outcome::Refused(Refusal::ConsentDeclined),
        ]
        .map(Some),
        "{printed}"
    );
    assert!(reports[0].account_id.is_some());
    for refused in &reports[1..] {
        assert!(refused.account_id.is_none() && refused.activation_token.is_none());
    }

    // Every step is printed with its duration.
    for step in ["consent", "document", "face capture", "liveness", "challenge", "1:1 match", "1:N search", "account", "record"] {
        assert!(printed.contains(step), "step {step} missing from:\n{printed}");
    }
    assert!(printed.contains("ms]"));

    // One account, a template only for the holder; the declined consent left no row at all;
    // the walk-away is recorded without personal data; the holder's social-payments request
    // waits in the outbox after the account.
    let db = rusqlite::Connection::open(out.join("kiosk.db")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |row| row.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM accounts"), 1);
    assert_eq!(count("SELECT count(*) FROM onboardings"), 7);
    assert_eq!(count("SELECT count(*) FROM onboardings WHERE refusal_reason = 'walked_away'"), 1);
    assert_eq!(count("SELECT count(*) FROM face_templates"), 1);
    assert_eq!(count("SELECT count(*) FROM outbox"), 2);
    assert_eq!(count("SELECT count(*) FROM outbox WHERE kind = 'social_payments_choice'"), 1);
    // The face checks are recorded with each session that reached the camera, or that the exact
    // check refused before it.
    let checks: Vec<Option<String>> = {
        let mut stmt = db.prepare("SELECT face_checks_json FROM onboardings ORDER BY started_at").unwrap();
        stmt.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let parsed = |i: usize| -> serde_json::Value { serde_json::from_str(checks[i].as_deref().unwrap()).unwrap() };
    assert_eq!(parsed(0)["challenge_result"], "passed");
    let match_threshold = kiosk_config::load(None).unwrap().face.match_threshold;
    assert!(parsed(0)["match_score"].as_f64().unwrap() >= f64::from(match_threshold));
    assert_eq!(parsed(0)["duplicate_kind"], serde_json::Value::Null, "a new person");
    // The chip's Active Authentication answer to a challenge bound to this session and the
    // audit chain's head, kept with the face decision (and its audit event).
    let proof = &parsed(0)["chip_proof"];
    assert_eq!(proof["verdict"], "passed");
    let binding = proof["binding"].as_str().unwrap();
    assert!(binding.starts_with("kiosk-session:") && binding.contains(":audit:"), "{binding}");
    let nonce: [u8; 16] = hex::decode(proof["nonce"].as_str().unwrap()).unwrap().try_into().unwrap();
    let challenge = kiosk::identity::active_auth::challenge(binding.as_bytes(), &nonce);
    assert_eq!(proof["challenge"], hex::encode(challenge));
    assert_eq!(hex::decode(proof["signature"].as_str().unwrap()).unwrap().len(), 64, "P-256 r ‖ s");
    let audited: String = db
        .query_row("SELECT details_json FROM audit_log WHERE event = 'face_decision' ORDER BY seq LIMIT 1", [], |r| r.get(0))
        .unwrap();
    assert!(audited.contains(proof["signature"].as_str().unwrap()), "{audited}");
    // The holder's second passport (another number, the same name and birth date) is caught by
    // the exact check, before any face search; the kind is recorded.
    assert_eq!(parsed(2)["duplicate_kind"], "exact_holder");
    assert_eq!(parsed(2)["attempts"], 0, "refused before the camera");
    assert_eq!(count("SELECT count(*) FROM enrolment_keys"), 2, "document and holder of the one account");
    assert_eq!(parsed(3)["passive_live"], false, "the printed photo");
    assert_eq!(parsed(3)["attempts"], 3);
    assert_eq!(parsed(4)["passive_live"], true, "the replayed video passes passive liveness");
    assert_eq!(parsed(4)["challenge_result"], "wrong_direction", "but not the head-turn challenge");
    assert_eq!(parsed(4)["attempts"], 3);
    assert_eq!(parsed(6)["attempts"].as_u64().map(|a| a >= 1), Some(true), "the walk-away was at the camera");

    // Refused people leave no sealed document data behind.
    assert_eq!(count("SELECT count(*) FROM onboardings WHERE document_sealed IS NOT NULL"), 1);
    drop(db);

    // Every screen was written as PNG, in order, for both people.
    let screens = |person: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(out.join("screens").join(person))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let holder = screens("person-1");
    assert!(holder.iter().any(|n| n.ends_with("account-issued.png")), "{holder:?}");
    assert!(holder.iter().any(|n| n.contains("face-capture-turn-")), "the challenge was shown: {holder:?}");
    for screen in ["social-payments.png", "goodbye.png"] {
        assert!(holder.iter().any(|n| n.ends_with(screen)), "{screen} missing: {holder:?}");
    }
    for person in [2, 3, 4, 5, 6, 8] {
        let seen = screens(&format!("person-{person}"));
        assert!(seen.iter().any(|n| n.ends_with("refused.png")), "{seen:?}");
        assert!(!seen.iter().any(|n| n.ends_with("account-issued.png")));
    }
    // Walking away wipes the screen back to the attract screen.
    let left = screens("person-7");
    assert!(left.last().is_some_and(|n| n.ends_with("welcome.png")), "{left:?}");
    assert!(!left.iter().any(|n| n.ends_with("refused.png")), "{left:?}");
    // Declining consent reads no document: the person never saw the place-document screen.
    assert!(!screens("person-8").iter().any(|n| n.ends_with("place-document.png")));

    // The holder asked for spoken prompts (every screen was spoken) and a receipt.
    let person1 = out.join("screens/person-1");
    let spoken = std::fs::read_to_string(person1.join("spoken-prompts.txt")).unwrap();
    assert!(spoken.lines().count() >= 8 && spoken.lines().all(|l| l.starts_with("[ru")), "{spoken}");
    let keypad = std::fs::read_to_string(out.join("screens/person-3/spoken-prompts.txt")).unwrap();
    assert!(keypad.lines().count() >= 8 && keypad.lines().all(|l| l.starts_with("[en")), "{keypad}");
    let receipt = std::fs::read_to_string(person1.join("receipt.txt")).unwrap();
    let token = reports[0].activation_token.as_deref().unwrap();
    assert!(!receipt.contains(token) && receipt.contains("Лимиты"), "{receipt}");
    assert!(printed.contains("WALKED AWAY"), "{printed}");

    // The activation token shown verifies offline with the kiosk's public key.
    let identity = kiosk::account::KioskIdentity::load(&out.join("keys/kiosk-ed25519.key")).unwrap();
    let token = reports[0].activation_token.as_deref().unwrap();
    let claims =
        kiosk::account::verify_token(&identity.verifying_key(), token, time::OffsetDateTime::now_utc())
            .unwrap();
    assert_eq!(Some(claims.account_id), reports[0].account_id);

    // No personal data in clear on disk: names and document numbers of both people.
    let mut raw = std::fs::read(out.join("kiosk.db")).unwrap();
    if let Ok(wal) = std::fs::read(out.join("kiosk.db-wal")) {
        raw.extend(wal);
    }
    for secret in ["PETROV", "SIDOROV", "KOZLOV", "IVAN", "7100012345", "7100054321", "7200098765", "P<RUS"] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} found in clear in the database"
        );
    }
}
