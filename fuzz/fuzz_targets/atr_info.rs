//! EF.ATR/INFO comes from the chip before any access control (unauthenticated bytes): it
//! must parse or fail, never panic.
#![no_main]

use kiosk::identity::atr_info;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = atr_info::parse(data);
});
