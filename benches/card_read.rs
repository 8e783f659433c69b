//! Passport chip read time against the serial line's own limit.
//!
//! A full read — MRZ scan, BAC, then EF.COM, DG1, a 20 KB DG2 and EF.SOD under secure
//! messaging, then passive authentication — from the simulator on a pseudo-terminal, which is
//! throttled to the baud rate; and the same with EF.CardAccess, PACE (GM, brainpoolP256r1,
//! AES-128), DG14, DG15, Chip Authentication (secp192r1, 3DES) and Active Authentication
//! (RSA-1024, ISO/IEC 9796-2). The line limit is the bytes that crossed the line (both ways,
//! counted by the simulator) × 10 bits (8N1) / baud. Target: read time within 1.10× of it
//! (both sides' cryptography included).
//! Prints a table; writes `bench-results/card_read.json`.

use std::time::{Duration, Instant};

use der::Decode;
use kiosk::identity::{self, TrustStore};
use kiosk_hal::card_reader::sim::{
    spawn, test_pki, AaKey, ActiveAuthConfig, ChipAuthConfig, Cipher, PaceConfig, PaceSuite, SimulatorConfig,
    VirtualPassport,
};
use kiosk_hal::card_reader::SerialCardReader;

const MRZ: [&str; 2] =
    ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
const PHOTO_LEN: usize = 20_000;
const RUNS: usize = 5;
const TARGET_RATIO: f64 = 1.10;

/// What the chip offers.
#[derive(Clone, Copy)]
enum Chip {
    Bac,
    PaceCaAa,
}

impl Chip {
    fn name(self) -> &'static str {
        match self {
            Self::Bac => "BAC",
            Self::PaceCaAa => "PACE+CA+AA",
        }
    }
}

struct Row {
    chip: Chip,
    baud: u32,
    chip_bytes: usize,
    wire_bytes: u64,
    line_limit: Duration,
    median: Duration,
    best: Duration,
}

fn measure(chip: Chip, baud: u32, trust: &TrustStore) -> Result<Row, Box<dyn std::error::Error>> {
    let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00];
    photo.extend((0..PHOTO_LEN).map(|i| (i * 31 % 251) as u8));
    let mut times = Vec::new();
    let (mut wire_bytes, mut chip_bytes) = (0, 0);
    for _ in 0..RUNS {
        let mut passport = VirtualPassport::new(MRZ.iter().map(|l| (*l).to_owned()).collect(), photo.clone());
        if let Chip::PaceCaAa = chip {
            let aa = ActiveAuthConfig::new(AaKey::Rsa { bits: 1024 }).map_err(|e| format!("AA key: {e:?}"))?;
            passport = passport
                .with_pace(PaceConfig::new(PaceSuite::ecdh_gm(Cipher::Aes128), 13))
                .with_chip_authentication(ChipAuthConfig::secp192r1_3des())
                .with_active_authentication(aa);
        }
        let sim = spawn(SimulatorConfig { baud, ..SimulatorConfig::with_document(passport) })?;
        let mut reader = SerialCardReader::open(sim.port_path(), baud)?;
        let stats = sim.stats();
        let before = stats.bytes_from_host.load(std::sync::atomic::Ordering::Relaxed)
            + stats.bytes_to_host.load(std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let read = identity::read_passport(&mut reader, trust)?;
        times.push(started.elapsed());
        if let Chip::PaceCaAa = chip {
            let checks = (read.access, read.chip_authentication.name(), read.active_authentication.name());
            if checks != (identity::ChipAccess::Pace, "passed", "passed") {
                return Err(format!("the PACE+CA+AA read did not run them all: {checks:?}").into());
            }
        }
        // Let the last ACK reach the device before counting.
        std::thread::sleep(Duration::from_millis(20));
        let after = stats.bytes_from_host.load(std::sync::atomic::Ordering::Relaxed)
            + stats.bytes_to_host.load(std::sync::atomic::Ordering::Relaxed);
        wire_bytes = after - before;
        chip_bytes = read.bytes_read;
        drop(reader);
        sim.shutdown();
    }
    times.sort();
    let line_limit = Duration::from_secs_f64(wire_bytes as f64 * 10.0 / f64::from(baud));
    Ok(Row { chip, baud, chip_bytes, wire_bytes, line_limit, median: times[times.len() / 2], best: times[0] })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut trust = TrustStore::default();
    trust.add(x509_cert::Certificate::from_der(test_pki().csca_der())?)?;
    let cases = [(Chip::Bac, 115_200), (Chip::PaceCaAa, 115_200), (Chip::Bac, 57_600), (Chip::PaceCaAa, 57_600)];
    let rows = cases.into_iter().map(|(chip, baud)| measure(chip, baud, &trust)).collect::<Result<Vec<_>, _>>()?;

    println!("\npassport chip read (access + EF.COM + DG1 + {PHOTO_LEN} B photo in DG2 [+ DG14, DG15] + EF.SOD, passive authentication [+ CA, AA]), median of {RUNS}");
    println!("{:>11} {:>7} {:>10} {:>10} {:>11} {:>9} {:>9} {:>7} {:>7}", "chip", "baud", "chip B", "wire B", "line limit", "median", "best", "ratio", "target");
    let mut json_rows = Vec::new();
    for r in &rows {
        let ratio = r.median.as_secs_f64() / r.line_limit.as_secs_f64();
        println!(
            "{:>11} {:>7} {:>10} {:>10} {:>10.2}s {:>8.2}s {:>8.2}s {:>6.2}× {:>6}",
            r.chip.name(),
            r.baud,
            r.chip_bytes,
            r.wire_bytes,
            r.line_limit.as_secs_f64(),
            r.median.as_secs_f64(),
            r.best.as_secs_f64(),
            ratio,
            if ratio <= TARGET_RATIO { "met" } else { "MISSED" }
        );
        json_rows.push(serde_json::json!({
            "chip": r.chip.name(),
            "baud": r.baud,
            "chip_bytes": r.chip_bytes,
            "wire_bytes": r.wire_bytes,
            "line_limit_s": r.line_limit.as_secs_f64(),
            "median_s": r.median.as_secs_f64(),
            "best_s": r.best.as_secs_f64(),
            "ratio": ratio,
            "target_ratio": TARGET_RATIO,
            "met": ratio <= TARGET_RATIO,
        }));
    }
    std::fs::create_dir_all("bench-results")?;
    let report = serde_json::json!({ "benchmark": "card_read", "runs": RUNS, "photo_bytes": PHOTO_LEN, "rows": json_rows });
    std::fs::write("bench-results/card_read.json", serde_json::to_string_pretty(&report)?)?;
    println!("written bench-results/card_read.json");
    Ok(())
}
