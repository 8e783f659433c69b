//! BER-TLV from a chip is untrusted: parsing and nested search must never panic,
//! and parsed elements must lie within the input.
#![no_main]

use kiosk::identity::tlv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(elements) = tlv::parse_all(data) {
        let total: usize = elements.iter().map(|e| e.value.len()).sum();
        assert!(total <= data.len());
    }
    for tag in [0x60, 0x61, 0x75, 0x5F1F, 0x5F2E, 0x7F61] {
        let _ = tlv::find(data, tag);
    }
    let _ = tlv::parse_header(data);
});
