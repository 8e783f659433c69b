//! DG15 (the Active Authentication key) comes from the chip: parsing must never panic, and a
//! parsed key must never verify a signature made of the input bytes over a fixed challenge.
#![no_main]

use kiosk::identity::{active_auth, keys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = keys::parse_dg15(data) {
        let _ = active_auth::verify(&key, Some("1.2.840.10045.4.3.2"), &[0x5A; 8], data);
    }
});
