//! A CSCA master list comes from outside (a country's or the BSI's download, `kiosk trust
//! import`): parsing the CMS SignedData, the CscaMasterList and every certificate in it must
//! never panic, only give the list or an error.
#![no_main]

use kiosk::identity::trust::TrustFileKind;
use kiosk::identity::trust_files;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = trust_files::parse_master_list(data) {
        for cert in &list.certificates {
            let _ = trust_files::country_of(&cert.tbs_certificate.subject);
        }
        let _ = list.signer_certificate.as_ref().map(|c| trust_files::signer_matches(&list.signer, c));
    }
    let _ = TrustFileKind::detect(data);
});
