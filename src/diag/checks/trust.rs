//! The CSCA trust folder: it loads (certificates, master lists, CRLs), no CRL is past its
//! nextUpdate, and there is a CSCA for every country whose documents this kiosk has read.

use std::time::SystemTime;

use crate::diag::{timed, CheckResult, Context};
use crate::identity::trust::countries_seen;
use crate::identity::TrustStore;

const IMPORT: &str = "fetch the current file from the issuing country (or the master list publisher) and install it with `kiosk trust import FILE`";

pub(super) fn run(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    let dir = &cx.config.card_reader.csca_dir;
    let mut store = None;
    out.push(timed(|| match TrustStore::load_dir(dir) {
        Ok(loaded) => {
            let countries: Vec<String> = loaded.countries().into_iter().collect();
            let value = format!(
                "{}: {} CSCAs ({}), {} master lists, {} CRLs",
                dir.display(),
                loaded.len(),
                countries.join(" "),
                loaded.master_lists().len(),
                loaded.crls().len()
            );
            store = Some(loaded);
            CheckResult::ok("trust.store", value).with("cscas", countries.len() as f64)
        }
        Err(error) => CheckResult::fail(
            "trust.store",
            error.to_string(),
            "fix or remove the named file in `card_reader.csca_dir`, then run `kiosk trust list`",
        ),
    }));
    let Some(store) = store else {
        for id in ["trust.crl_fresh", "trust.countries"] {
            out.push(super::blocked(id, "trust.store", "fix the trust folder first"));
        }
        return;
    };
    out.push(timed(|| {
        let now = SystemTime::now();
        let stale: Vec<String> =
            store.crls().iter().filter(|c| c.is_stale(now)).map(|c| c.path.display().to_string()).collect();
        if stale.is_empty() {
            CheckResult::ok("trust.crl_fresh", format!("{} CRLs, none past its next update", store.crls().len()))
        } else {
            CheckResult::warn("trust.crl_fresh", format!("past their next update: {}", stale.join(", ")), IMPORT)
                .with("stale", stale.len() as f64)
        }
    }));
    out.push(timed(|| {
        let have = store.countries();
        let missing: Vec<String> = countries_seen::load(&cx.data_dir).into_iter().filter(|c| !have.contains(c)).collect();
        if missing.is_empty() {
            CheckResult::ok("trust.countries", "a CSCA for every country of the documents read here")
        } else {
            CheckResult::warn(
                "trust.countries",
                format!("documents from {} were read, but the trust store has no CSCA for them", missing.join(", ")),
                IMPORT,
            )
            .with("missing", missing.len() as f64)
        }
    }));
}
