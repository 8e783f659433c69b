//! Crash safety, proven: a kiosk process that records onboardings and drains the outbox to
//! the core is SIGKILLed at random moments, hundreds of times, while the core also misbehaves
//! at random (errors, stalls, dropped connections, doubled answers). Afterwards a clean run
//! drains the rest, and the core must hold every issued account exactly once; SQLite's
//! integrity check and `kiosk audit verify` must pass.

use kiosk::store::Store;
use kiosk::sync::sim::RandomFaults;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use kiosk_test_support::*;

/// Kills; each round starts a fresh process. About 11 s in all on 2 cores.
const ROUNDS: u32 = 300;
/// Onboardings each process tries to record before it drains and exits.
const ONBOARDINGS_PER_PROCESS: u32 = 3;
/// Kills land uniformly in this window after the start: start-up, onboarding commits, TLS
/// handshakes, sends, acknowledgements.
const KILL_WINDOW_MS: u64 = 60;

fn child(k: &Kiosk, url: &str, onboardings: u32) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiosk-crash-child"));
    cmd.arg("--dir")
        .arg(&k.dir)
        .args(["--core-url", url])
        .args(k.pki.client_flags(["--ca", "--cert", "--key"]))
        .args(["--onboardings", &onboardings.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kiosk::new(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let core = runtime.block_on(k.core());
    core.set_random_faults(Some(RandomFaults { probability: 0.15, stall: Duration::from_millis(700) }));
    let url = core.url();

    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("crash test seed {seed} (set CRASH_SEED to replay the kill timings)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let (mut killed_running, mut finished_first) = (0u32, 0u32);
    for round in 0..ROUNDS {
        let mut process = child(&k, &url, ONBOARDINGS_PER_PROCESS).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..KILL_WINDOW_MS * 1000)));
        match process.try_wait().unwrap() {
            None => {
                process.kill().unwrap(); // SIGKILL
                killed_running += 1;
            }
            Some(status) => {
                finished_first += 1;
                let mut err = String::new();
                std::io::Read::read_to_string(process.stderr.as_mut().unwrap(), &mut err).unwrap();
                assert!(status.success(), "round {round}: the kiosk failed on its own: {err}");
            }
        }
        process.wait().unwrap();
    }
    let kill_phase = started.elapsed();

    // Power back, core healthy: a clean run delivers whatever is left.
    core.set_random_faults(None);
    let out = child(&k, &url, 0).output().unwrap();
    assert!(out.status.success(), "final drain failed: {}", String::from_utf8_lossy(&out.stderr));

    let store = Store::open(&k.db(), &k.kek).unwrap();
    assert_eq!(store.integrity_check().unwrap(), Ok(()), "PRAGMA integrity_check");
    let audit = Command::new(env!("CARGO_BIN_EXE_kiosk")).args(["audit", "verify", "--db"]).arg(k.db()).arg("--kek").arg(k.dir.join("kek.key")).output().unwrap();
    assert!(audit.status.success(), "kiosk audit verify: {}", String::from_utf8_lossy(&audit.stderr));

    let status = store.outbox_status().unwrap();
    assert_eq!((status.pending, status.quarantined), (0, 0));
    let issued: HashSet<String> = store.account_ids().unwrap().iter().map(|id| id.to_string()).collect();
    let record = core.record();
    let at_core: HashSet<String> = record.accounts.keys().cloned().collect();
    let chosen: HashSet<String> = store
        .account_ids()
        .unwrap()
        .into_iter()
        .filter(|id| store.social_payments_choice(*id).unwrap().is_some())
        .map(|id| id.to_string())
        .collect();
    assert_eq!((issued.len() + chosen.len()) as u64, status.sent, "one outbox row per account and per choice");
    let choices_at_core: HashSet<String> = record.social_payments_choices.keys().cloned().collect();
    assert_eq!(chosen, choices_at_core, "every recorded social payments choice at the core, and no other");
    assert!(record.social_payments_choices.values().all(|&n| n == 1));
    assert!(!record.log.iter().any(|(_, s)| *s == 425), "a choice reached the core before its account");
    assert!(!chosen.is_empty());
    let missing: Vec<_> = issued.difference(&at_core).collect();
    let unknown: Vec<_> = at_core.difference(&issued).collect();
    assert!(missing.is_empty(), "issued but never reached the core: {missing:?}");
    assert!(unknown.is_empty(), "at the core but not issued by the kiosk: {unknown:?}");
    let twice: Vec<_> = record.accounts.iter().filter(|(_, &n)| n != 1).collect();
    assert!(twice.is_empty(), "accounts the core took as more than one message: {twice:?}");
    assert_eq!(record.bad_signatures, 0);

    let resends: u32 = record.messages.values().map(|m| m.deliveries - 1).sum();
    eprintln!(
        "crash test: {ROUNDS} rounds in {:.1} s ({killed_running} killed while running, {finished_first} finished first); \
         {} accounts issued and {} social payments choices, each at the core exactly once; {} requests, {resends} resends answered as duplicates, \
         {} faults injected by the core",
        kill_phase.as_secs_f64(),
        issued.len(),
        chosen.len(),
        record.requests,
        record.faults_injected,
    );
    // How many kills land mid-run depends on the machine's speed; a quarter of 300 still proves
    // recovery from dozens of kills at random points without making the test flaky.
    assert!(killed_running >= ROUNDS / 4, "too few kills landed while the kiosk ran ({killed_running})");
    assert!(issued.len() >= ROUNDS as usize / 4, "kills must leave room for onboardings ({})", issued.len());
}
