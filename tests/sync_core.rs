//! The sync against the loopback core simulator: delivery, deduplication, each fault the
//! core can produce, quarantine, an untrusted kiosk, and `kiosk sync` as staff run it.

use kiosk::store::Store;
use kiosk::sync::sim::Fault;
use kiosk::sync::{drain, Scope, SyncError};
use kiosk::testing;
use std::collections::HashSet;
use std::time::Duration;
use kiosk_test_support::*;

fn open(k: &Kiosk, n: u32) -> Store {
    let mut store = Store::open(&k.db(), &k.kek).unwrap();
    for i in 0..n {
        store.record_onboarding(&onboarding(i)).unwrap();
    }
    store
}

/// A kiosk in a fresh folder with `n` onboardings recorded, and a loopback core trusting it.
async fn started(n: u32) -> (tempfile::TempDir, Kiosk, kiosk::sync::sim::CoreSimulator, Store) {
    let dir = tempfile::tempdir().unwrap();
    let k = Kiosk::new(dir.path());
    let core = k.core().await;
    let store = open(&k, n);
    (dir, k, core, store)
}

/// Every account in the store reached the core exactly once.
fn assert_exactly_once(store: &Store, record: &kiosk::sync::sim::SimRecord) {
    let local: HashSet<String> = store.account_ids().unwrap().iter().map(|id| id.to_string()).collect();
    let core: HashSet<String> = record.accounts.keys().cloned().collect();
    assert_eq!(local, core, "the core must hold exactly the issued accounts");
    assert!(record.accounts.values().all(|&n| n == 1), "an account arrived as two messages: {:?}", record.accounts);
    assert_eq!(record.bad_signatures, 0);
    store.verify_audit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_each_account_once_and_survives_every_fault() {
    let (_dir, k, core, mut store) = started(8).await;
    let mut client = k.client(&core.url(), Duration::from_millis(300));

    // 503, a drop before processing, a lost answer, a stall past the client's timeout, a
    // doubled answer: each one defers (or for the doubled answer, confuses nothing).
    core.push_faults([
        Fault::Status(503),
        Fault::DropBeforeProcessing,
        Fault::DropAfterProcessing,
        Fault::Stall(Duration::from_millis(600)),
        Fault::AnswerTwice,
    ]);
    let mut deferrals = 0;
    for _ in 0..50 {
        let report = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
        deferrals += usize::from(report.deferred.is_some());
        if store.outbox_status().unwrap().pending == 0 {
            break;
        }
    }
    let status = store.outbox_status().unwrap();
    assert_eq!((status.pending, status.sent, status.quarantined), (0, 8, 0));
    assert!(deferrals >= 4, "each fault defers a pass ({deferrals})");
    let record = core.record();
    assert_exactly_once(&store, &record);
    // The lost answers made the kiosk resend: the core saw those messages twice.
    let resent: u32 = record.messages.values().map(|m| m.deliveries - 1).sum();
    assert!(resent >= 1, "a lost acknowledgement leads to a resend answered as a duplicate ({resent})");
    assert!(record.log.iter().any(|(_, status)| *status == 200), "the core answered 'already have it'");
    assert_eq!(record.faults_injected, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_refusal_is_quarantined_and_the_rest_goes_on() {
    let (_dir, k, core, mut store) = started(3).await;
    let mut client = k.client(&core.url(), Duration::from_secs(2));
    core.push_faults([Fault::Status(422)]);
    let mut quarantined = Vec::new();
    let report = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |p| {
        if let kiosk::sync::Progress::Quarantined { id, .. } = p {
            quarantined.push(id);
        }
    })
    .await
    .unwrap();
    assert_eq!((report.sent, report.quarantined), (2, 1));
    let q = store.quarantined_outbox().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].id, quarantined[0]);
    assert!(q[0].reason.contains("422"), "{}", q[0].reason);
    // A later pass leaves the quarantined row alone.
    let again = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!(again.sent + again.quarantined, 0);
    assert_eq!(core.record().accounts.len(), 2);
    store.verify_audit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_kiosk_delivers_nothing() {
    let (dir, k, core, mut store) = started(2).await;

    // The core does not know this kiosk's signing key.
    core.reject_all(Some(401));
    let mut client = k.client(&core.url(), Duration::from_secs(2));
    let err = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap_err();
    assert!(matches!(err, SyncError::Unauthorized { status: 401, .. }), "{err}");
    assert!(err.to_string().contains("registered"), "{err}");
    core.reject_all(None);

    // A client certificate from another CA: the TLS handshake fails; a transient problem.
    let other = make_pki(dir.path(), "other");
    let tls = kiosk::sync::tls::client_config(&k.pki.ca, &other.client_cert, &other.client_key).unwrap();
    let timeouts = kiosk::sync::Timeouts { connect: Duration::from_secs(2), request: Duration::from_secs(2) };
    let mut stranger =
        kiosk::sync::CoreClient::new(&core.url(), tls, "KIOSK-TEST", std::sync::Arc::clone(&k.identity), timeouts)
            .unwrap();
    let report = drain(&mut store, &mut stranger, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!(report.sent, 0);
    assert!(report.deferred.is_some());
    // And a core whose certificate the kiosk does not trust: same.
    let tls = kiosk::sync::tls::client_config(&other.ca, &k.pki.client_cert, &k.pki.client_key).unwrap();
    let mut fooled =
        kiosk::sync::CoreClient::new(&core.url(), tls, "KIOSK-TEST", std::sync::Arc::clone(&k.identity), timeouts)
            .unwrap();
    let report = drain(&mut store, &mut fooled, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert!(report.sent == 0 && report.deferred.is_some());
    assert!(core.record().accounts.is_empty());
    assert_eq!(store.outbox_status().unwrap().pending, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_sync_command_drains_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kiosk::new(dir.path());
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    std::fs::rename(dir.path().join("kek.key"), dir.path().join("keys/kek.key")).unwrap();
    std::fs::rename(dir.path().join("identity.key"), dir.path().join("keys/kiosk-ed25519.key")).unwrap();
    let core = k.core().await;
    drop(open(&k, 3));
    let config = dir.path().join("site.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nkek = \"file\"\n\n[sync]\ncore_url = \"{}\"\nca_cert = \"{}\"\nclient_cert = \"{}\"\nclient_key = \"{}\"\nrequest_timeout_s = 2\nbackoff_initial_ms = 1\n",
            core.url(),
            k.pki.ca.display(),
            k.pki.client_cert.display(),
            k.pki.client_key.display()
        ),
    )
    .unwrap();
    let run = |dir: std::path::PathBuf, config: std::path::PathBuf| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
            .args(["--config"])
            .arg(&config)
            .args(["sync", "--data-dir"])
            .arg(&dir)
            .output()
            .unwrap()
    };
    core.push_faults([Fault::Status(503)]);
    let (d, c) = (dir.path().to_path_buf(), config.clone());
    let first = tokio::task::spawn_blocking(move || run(d, c)).await.unwrap();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("deferred") && stdout.contains("503"), "{stdout}");

    let (d, c) = (dir.path().to_path_buf(), config.clone());
    let second = tokio::task::spawn_blocking(move || run(d, c)).await.unwrap();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&second.stderr));
    assert!(stdout.contains("[3/3]") && stdout.contains("acknowledged"), "{stdout}");
    assert!(stdout.contains("0 pending, 3 sent, 0 quarantined"), "{stdout}");
    assert!(
        !stdout.contains(testing::SURNAME) && !stdout.contains(testing::DOCUMENT_NUMBER),
        "no personal data in the output"
    );
    assert_eq!(core.record().accounts.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_task_picks_up_new_onboardings_and_stops_on_shutdown() {
    let (_dir, k, core, mut writer) = started(2).await;
    core.push_faults([Fault::Status(503)]);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(kiosk::sync::run(
        Store::open(&k.db(), &k.kek).unwrap(),
        k.client(&core.url(), Duration::from_secs(2)),
        FAST_BACKOFF,
        Duration::from_millis(20),
        stopped,
    ));
    // Written while the task runs, on another connection, as the onboarding does.
    for n in 2..5 {
        writer.record_onboarding(&onboarding(n)).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while writer.outbox_status().unwrap().pending > 0 {
        assert!(std::time::Instant::now() < deadline, "the background task did not drain the outbox");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("the task stops on shutdown").unwrap();
    assert_exactly_once(&writer, &core.record());
    assert_eq!(core.record().accounts.len(), 5);
}

/// A person who selected `children` and accepted the offer.
fn social_choice(account: uuid::Uuid) -> kiosk::benefits::SocialPaymentsChoice {
    use kiosk::benefits::{eligible, CategorySet, SocialPaymentsChoice, SocialRules};
    let rules = SocialRules::builtin("2026-11-v1").unwrap();
    let selected = CategorySet::EMPTY.with(rules.category_index("children").unwrap());
    let offered = eligible(&rules, Some(33), None, selected);
    SocialPaymentsChoice::new(account, &rules, selected, &offered, true, time::OffsetDateTime::now_utc())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn social_payments_choice_reaches_the_core_once_after_its_account() {
    let (_dir, k, core, mut store) = started(3).await;
    for account in store.account_ids().unwrap() {
        store.record_social_payments_choice(&social_choice(account)).unwrap();
    }
    let mut client = k.client(&core.url(), Duration::from_millis(300));
    // The three accounts go through; then the first choice's answer is lost, its resend is
    // answered twice, the next choice meets a 503.
    let through = Fault::Stall(Duration::ZERO);
    core.push_faults([through, through, through, Fault::DropAfterProcessing, Fault::AnswerTwice, Fault::Status(503)]);
    for _ in 0..50 {
        drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
        if store.outbox_status().unwrap().pending == 0 {
            break;
        }
    }
    let status = store.outbox_status().unwrap();
    assert_eq!((status.pending, status.sent, status.quarantined), (0, 6, 0));
    let record = core.record();
    assert_exactly_once(&store, &record);
    let local: HashSet<String> = store.account_ids().unwrap().iter().map(|id| id.to_string()).collect();
    let choices: HashSet<String> = record.social_payments_choices.keys().cloned().collect();
    assert_eq!(choices, local, "one choice per account at the core");
    assert!(record.social_payments_choices.values().all(|&n| n == 1));
    let delivered: Vec<_> =
        record.messages.values().filter(|m| m.kind == kiosk::store::OUTBOX_SOCIAL_PAYMENTS_CHOICE).collect();
    assert_eq!(delivered.len(), 3);
    assert!(delivered.iter().any(|m| m.deliveries >= 2), "the lost answer led to a resend taken as a duplicate");
    assert!(!record.log.iter().any(|(_, s)| *s == 425), "no choice ever reached the core before its account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_without_the_account_answers_too_early_and_the_choice_waits() {
    let (_dir, k, core, mut store) = started(1).await;
    let account = store.account_ids().unwrap()[0];
    let mut client = k.client(&core.url(), Duration::from_secs(2));
    let report = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!(report.sent, 1);
    store.record_social_payments_choice(&social_choice(account)).unwrap();

    // Another core (one that lost the account, say) has never heard of it: 425, deferred.
    let stranger = k.core().await;
    let mut to_stranger = k.client(&stranger.url(), Duration::from_secs(2));
    let report = drain(&mut store, &mut to_stranger, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!(report.sent, 0);
    assert!(report.deferred.as_deref().is_some_and(|r| r.contains("425")), "{report:?}");
    assert!(stranger.record().social_payments_choices.is_empty());
    assert_eq!(store.outbox_status().unwrap().pending, 1, "retried later, not quarantined");

    // The core that has the account takes it.
    let report = drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}).await.unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(core.record().social_payments_choices.get(&account.to_string()), Some(&1));
    store.verify_audit().unwrap();
}
