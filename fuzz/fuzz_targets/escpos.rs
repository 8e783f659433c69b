//! The ESC/POS decoder (the printer simulator's side) sees bytes from outside: any stream, cut
//! anywhere, must not panic; a stream cut into pieces decodes as the whole stream does; and a
//! receipt built from the input's text decodes back to its layout.
#![no_main]

use kiosk_hal::printer::escpos::{encode, layout};
use kiosk_hal::printer::sim::decoder::{decode_all, Decoder, Event};
use kiosk_hal::printer::Receipt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else { return };
    let chunk = usize::from(split).max(1);
    let mut decoder = Decoder::new();
    let mut pieces = Vec::new();
    for piece in stream.chunks(chunk) {
        decoder.push(piece);
        while let Some(event) = decoder.next_event() {
            pieces.push(event);
        }
    }
    let (whole, errors) = decode_all(stream);
    let ok: Vec<Event> = pieces.iter().filter_map(|e| e.as_ref().ok().cloned()).collect();
    assert_eq!(ok, whole);
    assert_eq!(pieces.len() - ok.len(), errors.len());

    let text = String::from_utf8_lossy(stream);
    let receipt = Receipt::new().title(text.clone()).key_value(text.clone(), "1").text(text).separator();
    let items = layout(&receipt, 16 + u16::from(split % 49)).expect("columns in range");
    let (back, errors) = decode_all(&encode(&items));
    assert!(errors.is_empty());
    let printed: Vec<_> = back
        .into_iter()
        .filter_map(|e| match e {
            Event::Printed(p) => Some(p),
            Event::StatusRequest(_) => None,
        })
        .collect();
    assert_eq!(printed, items);
});
