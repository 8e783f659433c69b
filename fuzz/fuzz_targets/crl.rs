//! A CRL comes from outside (`kiosk trust import`, the trust folder): parsing it as DER or PEM
//! must never panic, only give the list or an error.
#![no_main]

use kiosk::identity::trust_files;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = trust_files::parse_crl(data) {
        let tbs = &list.tbs_cert_list;
        let _ = trust_files::country_of(&tbs.issuer);
        let _ = tbs.next_update.map(|t| t.to_system_time());
        let _ = tbs.revoked_certificates.as_ref().map(Vec::len);
    }
});
