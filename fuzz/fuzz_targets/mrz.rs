//! MRZ text comes from OCR and from the chip; LDS files from the chip: never panic on either.
#![no_main]

use kiosk::identity::{lds, Mrz};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Mrz::from_td3(&text);
    let lines: Vec<&str> = text.split('\r').collect();
    if let Ok(mrz) = Mrz::from_lines(&lines) {
        // What parsed once parses the same from its own 88 characters.
        assert_eq!(Mrz::from_td3(mrz.raw()).ok(), Some(mrz));
    }
    let _ = lds::parse_dg1(data);
    let _ = lds::parse_dg2(data);
    let _ = lds::parse_ef_com(data);
});
