//! A protected answer from the chip is untrusted: unwrapping (data objects, MAC, decryption,
//! padding) must never panic, and without the session keys nothing is accepted.
#![no_main]

use kiosk::identity::apdu::ResponseApdu;
use kiosk::identity::sm::SecureChannel;
use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

fuzz_target!(|data: &[u8]| {
    let mut channel = SecureChannel::new(Zeroizing::new([0x11; 16]), Zeroizing::new([0x22; 16]), [0; 8]);
    if let Ok(response) = ResponseApdu::parse(data) {
        let _ = channel.unwrap(&response);
    }
});
