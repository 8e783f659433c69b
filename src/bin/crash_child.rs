//! Test-only helper for `tests/crash_sync.rs`: a kiosk process that records synthetic
//! onboardings (every other one with a social payments choice) on one connection while it drains the outbox to the core on another, so the
//! test can SIGKILL it at any moment. Not installed on kiosks.
#![forbid(unsafe_code)]
// No unwrap/expect outside tests (DEVELOPERS.md): a device, file, network or person's data must
// never panic the kiosk. An invariant that cannot fail keeps its `expect` with an `allow` saying why.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use clap::Parser;
use kiosk::account::KioskIdentity;
use kiosk::benefits::{eligible, CategorySet, SocialPaymentsChoice, SocialRules};
use kiosk::store::{KeyStore, Store};
use kiosk::sync::{self, Backoff, CoreClient, Scope, Timeouts};
use kiosk::testing;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Parser)]
struct Args {
    /// Folder with kiosk.db, kek.key and identity.key.
    #[arg(long)]
    dir: PathBuf,
    #[arg(long)]
    core_url: String,
    #[arg(long)]
    ca: PathBuf,
    #[arg(long)]
    cert: PathBuf,
    #[arg(long)]
    key: PathBuf,
    /// Onboardings to record before draining what is left and exiting.
    #[arg(long, default_value_t = 5)]
    onboardings: u32,
}

fn choice(account: uuid::Uuid) -> Result<SocialPaymentsChoice, String> {
    let rules = SocialRules::builtin("2026-11-v1").map_err(|e| e.to_string())?;
    let selected = rules.category_index("children").map_or(CategorySet::EMPTY, |i| CategorySet::EMPTY.with(i));
    let offered = eligible(&rules, Some(36), None, selected);
    Ok(SocialPaymentsChoice::new(account, &rules, selected, &offered, true, OffsetDateTime::now_utc()))
}

fn run(args: Args) -> Result<(), String> {
    let db = args.dir.join("kiosk.db");
    let kek = KeyStore::open(&args.dir.join("kek.key")).map_err(|e| e.to_string())?;
    let identity = Arc::new(KioskIdentity::load(&args.dir.join("identity.key")).map_err(|e| e.to_string())?);
    let onboarding_done = Arc::new(AtomicBool::new(false));

    let writer = {
        let mut store = Store::open(&db, &kek).map_err(|e| e.to_string())?;
        let done = Arc::clone(&onboarding_done);
        let count = args.onboardings;
        std::thread::spawn(move || -> Result<(), String> {
            for n in 0..count {
                let onboarding = testing::issued_onboarding(OffsetDateTime::now_utc(), n);
                store.record_onboarding(&onboarding).map_err(|e| e.to_string())?;
                // Every other person answers the social payments offer (its own transaction,
                // so a kill may fall between the two).
                if let (0, Some(issued)) = (n % 2, &onboarding.account) {
                    store.record_social_payments_choice(&choice(issued.account.id)?).map_err(|e| e.to_string())?;
                }
            }
            done.store(true, Ordering::SeqCst);
            Ok(())
        })
    };

    let mut store = Store::open(&db, &kek).map_err(|e| e.to_string())?;
    let tls = sync::tls::client_config(&args.ca, &args.cert, &args.key).map_err(|e| e.to_string())?;
    let timeouts = Timeouts { connect: Duration::from_secs(2), request: Duration::from_millis(500) };
    let mut client =
        CoreClient::new(&args.core_url, tls, "KIOSK-CRASH-TEST", identity, timeouts).map_err(|e| e.to_string())?;
    let backoff = Backoff { initial: Duration::from_millis(5), max: Duration::from_millis(50) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        loop {
            sync::drain(&mut store, &mut client, &backoff, Scope::Due, &mut |_| {}).await.map_err(|e| e.to_string())?;
            let pending = store.outbox_status().map_err(|e| e.to_string())?.pending;
            if onboarding_done.load(Ordering::SeqCst) && pending == 0 {
                return Ok::<(), String>(());
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    })?;
    writer.join().map_err(|_| "onboarding thread panicked".to_owned())??;
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kiosk-crash-child: {error}");
            ExitCode::from(2)
        }
    }
}
