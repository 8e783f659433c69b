//! EF.SOD comes from the chip: parsing it (BER-TLV, CMS, X.509, the LDS security object) and
//! verifying it against data groups must never panic, only pass or fail.
#![no_main]

use std::time::SystemTime;

use kiosk::identity::{pa, TrustStore};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pa::parse_sod(data);
    let verdict = pa::verify(data, &[(1, b"dg1"), (2, data)], &TrustStore::default(), SystemTime::now());
    // Nothing verifies without a trusted CSCA.
    assert!(!verdict.passed());
});
