//! No personal data in clear on disk: after onboardings, a sync to the core and a retention
//! purge, the database file, its WAL and SQLite's temp folder are searched for the MRZ text,
//! names, document number, birth date, face-template bytes and the categories and kinds of
//! the social payments choices (they can reveal a disability). None may be found.
//!
//! One test in its own binary, so pointing the temp folder elsewhere (before any thread
//! starts) affects nothing else.

use kiosk::store::Store;
use kiosk::sync::{drain, Scope};
use kiosk::testing::{self, contains};
use std::path::{Path, PathBuf};
use std::time::Duration;
use kiosk_test_support::*;


fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn search(files: &[PathBuf], templates: &[Vec<f32>]) -> usize {
    let needles: Vec<&str> =
        testing::PERSONAL_TEXTS.into_iter().chain(["disability", "caring_for_disabled", "care_allowance"]).collect();
    let mut searched = 0;
    for path in files {
        // Key and certificate files are not personal data and are known to be there.
        if path.extension().is_some_and(|e| e == "pem" || e == "key") {
            continue;
        }
        let Ok(bytes) = std::fs::read(path) else { continue };
        searched += 1;
        for needle in &needles {
            assert!(!contains(&bytes, needle.as_bytes()), "{needle:?} found in {}", path.display());
        }
        for t in templates {
            let raw: Vec<u8> = t.iter().flat_map(|v| v.to_le_bytes()).collect();
            // Any two consecutive values (8 bytes) would already be a leak.
            for pair in raw.chunks_exact(8) {
                assert!(!contains(&bytes, pair), "face template bytes found in {}", path.display());
            }
        }
    }
    searched
}

/// Someone with a disability caring for a disabled child, accepting the offer.
fn social_choice(account: uuid::Uuid) -> kiosk::benefits::SocialPaymentsChoice {
    use kiosk::benefits::{eligible, CategorySet, SocialPaymentsChoice, SocialRules};
    let rules = SocialRules::builtin("2026-11-v1").unwrap();
    let selected = ["disability", "caring_for_disabled"]
        .iter()
        .fold(CategorySet::EMPTY, |s, id| s.with(rules.category_index(id).unwrap()));
    let offered = eligible(&rules, Some(40), None, selected);
    assert!(offered.iter().any(|k| k.id == "care_allowance"));
    SocialPaymentsChoice::new(account, &rules, selected, &offered, true, time::OffsetDateTime::now_utc())
}

#[test]
fn database_wal_and_temp_folder_hold_no_personal_data() {
    let tmp = tempfile::tempdir().unwrap();
    // SQLite puts temporary files in SQLITE_TMPDIR, else TMPDIR; the store keeps temporaries in
    // memory, and this proves it.
    let sqlite_tmp = tmp.path().join("sqlite-tmp");
    std::fs::create_dir_all(&sqlite_tmp).unwrap();
    std::env::set_var("SQLITE_TMPDIR", &sqlite_tmp);
    std::env::set_var("TMPDIR", &sqlite_tmp);

    let kiosk_dir = tmp.path().join("kiosk");
    std::fs::create_dir_all(&kiosk_dir).unwrap();
    let k = Kiosk::new(&kiosk_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let core = runtime.block_on(k.core());
    let mut store = Store::open(&k.db(), &k.kek).unwrap();
    let templates: Vec<Vec<f32>> = (0..20).map(testing::face_template).collect();
    for n in 0..20 {
        store.record_onboarding(&onboarding(n)).unwrap();
    }
    for account in store.account_ids().unwrap() {
        store.record_social_payments_choice(&social_choice(account)).unwrap();
    }
    // Sorting work that would spill to a temp file if temporaries were on disk.
    assert_eq!(store.face_templates().unwrap().len(), 20);
    let every_file = || {
        let mut files = vec![k.db(), PathBuf::from(format!("{}-wal", k.db().display()))];
        files_under(&sqlite_tmp, &mut files);
        files
    };
    assert!(search(&every_file(), &templates) >= 2, "the database and its WAL must both be searched");

    // Deliver to the core, then purge right away (retention 0): nothing may surface either.
    let mut client = k.client(&core.url(), Duration::from_secs(2));
    let report = runtime
        .block_on(drain(&mut store, &mut client, &FAST_BACKOFF, Scope::All, &mut |_| {}))
        .unwrap();
    assert_eq!(report.sent, 40, "20 accounts and their 20 social payments choices");
    assert!(search(&every_file(), &templates) >= 2);
    let purge = store.purge_expired(time::OffsetDateTime::now_utc(), time::Duration::ZERO).unwrap();
    assert_eq!((purge.face_templates, purge.documents, purge.social_payments_choices), (20, 20, 20));
    drop(store);
    search(&every_file(), &templates);
    let mut leftovers = Vec::new();
    files_under(&sqlite_tmp, &mut leftovers);
    assert!(leftovers.is_empty(), "SQLite left temp files: {leftovers:?}");
}
