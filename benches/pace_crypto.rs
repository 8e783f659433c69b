//! CPU time of the terminal's PACE cryptography (target < 50 ms per PACE).
//!
//! ICAO 9303-11 Appendix G.1 (ECDH generic mapping, brainpoolP256r1, AES-128) replayed through
//! `pace::run` against the example's chip answers: nonce decryption, two key pairs, the mapping,
//! the shared secret, key derivation and both tokens — all the terminal computes; no I/O. Then
//! the same run with fresh random keys on NIST P-256 … P-521 and brainpoolP512r1 is not possible
//! without a chip, so the mapping and key agreement are also timed alone per curve. Reference
//! measured in the same run: one bare OpenSSL ECDH (a key pair and one shared secret) on the
//! same curve, the floor any implementation pays. Single thread: wall time is CPU time.
//! Prints a table; writes `bench-results/pace_crypto.json`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use kiosk::identity::apdu::{CommandApdu, ResponseApdu};
use kiosk::identity::domain::{DomainError, Group, PrivateKey};
use kiosk::identity::pace::{self, KeySource, OsKeys, PaceError, PaceLink, Password};
use kiosk::identity::security_info::{pace_protocol, PaceInfo};
use zeroize::Zeroizing;

const RUNS: usize = 30;
const TARGET: Duration = Duration::from_millis(50);

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_default()
}

/// Appendix G.1's chip answers in order.
struct G1Chip(VecDeque<Vec<u8>>);

impl G1Chip {
    fn new() -> Self {
        Self(
            [
                "9000",
                "7C12801095A3A016522EE98D01E76CB6B98B42C39000",
                "7C43824104824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F5730D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C549000",
                "7C438441049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F0949000",
                "7C0A86083ABB9674BCE93C089000",
            ]
            .iter()
            .map(|s| h(s))
            .collect(),
        )
    }
}

impl PaceLink for G1Chip {
    type Error = PaceError;
    fn exchange(&mut self, _: &CommandApdu) -> Result<ResponseApdu, PaceError> {
        let bytes = self.0.pop_front().ok_or(PaceError::Malformed("script"))?;
        ResponseApdu::parse(&bytes).map_err(|_| PaceError::Malformed("script"))
    }
}

struct G1Keys(VecDeque<Vec<u8>>);

impl KeySource for G1Keys {
    fn private_key(&mut self, _: &Group) -> Result<PrivateKey, DomainError> {
        self.0.pop_front().map(|k| PrivateKey::from_bytes(&k)).ok_or(DomainError::Arithmetic)
    }
    fn nonce(&mut self, len: usize) -> Vec<u8> {
        vec![0; len]
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Generic mapping and key agreement with fresh keys on `id`: what the terminal computes in a
/// PACE on that curve, less the symmetric steps (microseconds).
fn mapping_and_agreement(id: u64) -> Result<Duration, Box<dyn std::error::Error>> {
    let group = Group::standard(id)?;
    let chip_map = group.public_key(&group.generate_private()?)?;
    let started = Instant::now();
    let map_private = OsKeys.private_key(&group)?;
    let _public = group.public_key(&map_private)?;
    let mapped = group.generic_mapping(&[0x5A; 16], &map_private, &chip_map)?;
    let private = mapped.generate_private()?;
    let _ours = mapped.public_key(&private)?;
    let chip_eph = mapped.public_key(&mapped.generate_private()?)?;
    let elapsed = started.elapsed();
    // The chip's ephemeral key is made outside the timed part, then the secret inside.
    let again = Instant::now();
    let _secret = mapped.shared_secret(&private, &chip_eph)?;
    Ok(elapsed + again.elapsed())
}

fn bare_ecdh(id: u64) -> Result<Duration, Box<dyn std::error::Error>> {
    let group = Group::standard(id)?;
    let peer = group.public_key(&group.generate_private()?)?;
    let started = Instant::now();
    let k = group.generate_private()?;
    let _p = group.public_key(&k)?;
    let _s = group.shared_secret(&k, &peer)?;
    Ok(started.elapsed())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let oid = const_oid::ObjectIdentifier::new_unwrap("0.4.0.127.0.7.2.2.4.2.2");
    let info = PaceInfo { protocol: pace_protocol(&oid).ok_or("PACE OID")?, version: 2, parameter_id: Some(13) };
    let mut g1 = Vec::new();
    for _ in 0..RUNS {
        let mut keys = G1Keys(
            [
                h("7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99"),
                h("A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595"),
            ]
            .into(),
        );
        let password = Password::Mrz(Zeroizing::new("T22000129364081251010318".to_owned()));
        let started = Instant::now();
        pace::run(&mut G1Chip::new(), &info, &password, &mut keys)?;
        g1.push(started.elapsed());
    }
    let g1 = median(g1);
    println!("\nPACE cryptography of the terminal, median of {RUNS} (target < {} ms)", TARGET.as_millis());
    println!("{:<34} {:>10} {:>14} {:>7}", "case", "PACE ms", "bare ECDH ms", "target");
    let reference = median((0..RUNS).map(|_| bare_ecdh(13)).collect::<Result<Vec<_>, _>>()?);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let verdict = |d: Duration| if d < TARGET { "met" } else { "MISSED" };
    println!("{:<34} {:>10.2} {:>14.2} {:>7}", "Appendix G.1 full run (bp256r1)", ms(g1), ms(reference), verdict(g1));
    let mut rows = vec![serde_json::json!({ "case": "appendix_g1_full_run", "parameter_id": 13, "median_ms": ms(g1), "bare_ecdh_ms": ms(reference), "met": g1 < TARGET })];
    for id in [0u64, 2, 8, 12, 13, 14, 15, 16, 17, 18] {
        let pace = median((0..RUNS).map(|_| mapping_and_agreement(id)).collect::<Result<Vec<_>, _>>()?);
        let bare = if id >= 8 { median((0..RUNS).map(|_| bare_ecdh(id)).collect::<Result<Vec<_>, _>>()?) } else { Duration::ZERO };
        let name = format!("GM + key agreement, {}", kiosk::identity::domain::parameter_name(id));
        println!("{:<34} {:>10.2} {:>14.2} {:>7}", name, ms(pace), ms(bare), verdict(pace));
        rows.push(serde_json::json!({ "case": "generic_mapping_and_agreement", "parameter_id": id, "median_ms": ms(pace), "bare_ecdh_ms": ms(bare), "met": pace < TARGET }));
    }
    std::fs::create_dir_all("bench-results")?;
    let report = serde_json::json!({ "benchmark": "pace_crypto", "runs": RUNS, "target_ms": TARGET.as_millis() as u64, "rows": rows });
    std::fs::write("bench-results/pace_crypto.json", serde_json::to_string_pretty(&report)?)?;
    println!("written bench-results/pace_crypto.json");
    Ok(())
}
