//! EF.CardAccess is read unauthenticated from the chip: parsing its SecurityInfos must never
//! panic, and any PACE offer it yields must name a known mapping and cipher.
#![no_main]

use kiosk::identity::security_info;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(infos) = security_info::parse_card_access(data) {
        for pace in infos.pace() {
            assert!(security_info::pace_protocol(&pace.protocol.oid).is_some());
        }
    }
});
