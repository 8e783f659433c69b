//! Bank card answers are untrusted: directory, DOL, AFL and record parsing must never panic,
//! and a PAN that comes out is always a valid, masked-printing number.
#![no_main]

use kiosk::identity::{emv, tlv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = emv::parse_directory(data);
    let _ = emv::parse_dol(data);
    let _ = emv::parse_afl(data);
    if let Ok(items) = tlv::parse_all(data) {
        if let Ok((pan, _)) = emv::pan_and_expiry(&items) {
            assert!(pan.masked().contains("**"));
        }
    }
});
