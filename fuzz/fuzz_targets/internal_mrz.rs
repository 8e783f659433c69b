//! The internal passport's machine-readable record comes from OCR of a page anyone can print:
//! never panic, and what parses once parses the same from its own 88 characters.
#![no_main]

use kiosk::identity::internal_passport::{cross_check, InternalMrz, VisualZone};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    if let Ok(mrz) = InternalMrz::from_lines(&lines) {
        let raw = mrz.raw().to_owned();
        let (a, b) = raw.split_at(44);
        assert_eq!(InternalMrz::from_lines(&[a, b]).ok(), Some(mrz.clone()));
        // An empty visual zone never passes.
        assert!(!cross_check(&VisualZone::default(), &mrz).passed());
    }
});
