//! DG14 comes from the chip (signed, but parsed before its hash is known to match): its
//! SecurityInfos and every Chip Authentication key in it must parse or fail, never panic.
#![no_main]

use kiosk::identity::{keys, security_info};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(infos) = security_info::parse_dg14(data) {
        for key in infos.chip_authentication_keys() {
            let _ = keys::agreement_key(&key.public_key);
        }
        let _ = infos.active_authentication_algorithm();
    }
    // The bytes as a bare SubjectPublicKeyInfo too.
    let _ = keys::agreement_key(data);
});
