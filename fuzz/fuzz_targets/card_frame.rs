//! The frame decoder sees raw serial bytes: any stream, cut anywhere, must not panic,
//! and every frame it yields must re-encode to bytes that decode to the same frame.
#![no_main]

use kiosk_hal::card_reader::frame::{Decoded, FrameDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte chooses the chunk size, so splits inside frames are explored too.
    let Some((&split, stream)) = data.split_first() else { return };
    let chunk = usize::from(split).max(1);
    let mut decoder = FrameDecoder::new();
    for piece in stream.chunks(chunk) {
        decoder.push(piece);
        while let Some(event) = decoder.next_event() {
            if let Ok(Decoded::Frame(frame)) = event {
                let bytes = frame.encode().expect("a decoded frame fits the protocol");
                let mut again = FrameDecoder::new();
                again.push(&bytes);
                assert_eq!(again.next_event(), Some(Ok(Decoded::Frame(frame))));
            }
        }
    }
});
