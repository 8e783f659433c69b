//! Keys: the key-encryption key opens (credential or file), key files owner-only and readable
//! as keys; the client certificate's expiry.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use der::DecodePem;
use x509_cert::Certificate;

use crate::account::KioskIdentity;
use crate::diag::{timed, CheckResult, Context};

const PROVISION: &str = "a new kiosk: run `kiosk provision --site SITE`; otherwise restore the key from the site's key escrow (never generate a new one over existing data)";

pub(super) fn run(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    let keys = cx.data_dir.join("keys");
    out.push(timed(|| match crate::keys::kek::load(cx.config, &cx.data_dir) {
        Ok(_) => CheckResult::ok("keys.kek", match cx.config.store.kek {
            kiosk_config::KekSource::File => describe(&crate::keys::kek::file_path(&cx.data_dir)),
            kiosk_config::KekSource::Credential => format!(
                "{} opens; not in the data folder",
                crate::keys::kek::origin(cx.config, &cx.data_dir)
            ),
        }),
        Err(e) => CheckResult::fail("keys.kek", e.to_string(), PROVISION),
    }));
    out.push(timed(|| {
        let path = keys.join("kiosk-ed25519.key");
        match KioskIdentity::load(&path) {
            Ok(identity) => CheckResult::ok(
                "keys.identity",
                format!("{}; public key {}", describe(&path), identity.public_key_hex()),
            ),
            Err(e) => CheckResult::fail("keys.identity", e.to_string(), PROVISION),
        }
    }));
    out.push(timed(|| tls_key(&cx.config.sync.client_key)));
    out.push(timed(|| client_cert(&cx.config.sync.client_cert, cx.config.diag.cert_expiry_warn_days)));
}

fn describe(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) => format!("{}: mode {:o}, owner uid {}", path.display(), m.permissions().mode() & 0o777, m.uid()),
        Err(e) => format!("{}: {e}", path.display()),
    }
}

const TLS_ACTION: &str = "install the kiosk's TLS key and certificate issued by the bank (see docs/DEPLOY.md), mode 0600, owner kiosk";

fn tls_key(path: &Path) -> CheckResult {
    const ID: &str = "keys.tls_client_key";
    match std::fs::metadata(path) {
        Err(e) => CheckResult::fail(ID, format!("{}: {e}", path.display()), TLS_ACTION),
        Ok(m) if !m.is_file() => CheckResult::fail(ID, format!("{} is not a file", path.display()), TLS_ACTION),
        Ok(m) if m.permissions().mode() & 0o077 != 0 => CheckResult::fail(
            ID,
            describe(path),
            format!("the key is readable by others: `chmod 600 {}` and ask security whether to re-issue it", path.display()),
        ),
        Ok(_) => CheckResult::ok(ID, describe(path)),
    }
}

fn client_cert(path: &Path, warn_days: u32) -> CheckResult {
    const ID: &str = "keys.client_cert";
    let pem = match std::fs::read(path) {
        Ok(pem) => pem,
        Err(e) => return CheckResult::fail(ID, format!("{}: {e}", path.display()), TLS_ACTION),
    };
    let cert = match Certificate::from_pem(&pem) {
        Ok(cert) => cert,
        Err(e) => return CheckResult::fail(ID, format!("{}: not a PEM certificate ({e})", path.display()), TLS_ACTION),
    };
    let validity = &cert.tbs_certificate.validity;
    let not_after = validity.not_after.to_unix_duration().as_secs() as i64;
    let not_before = validity.not_before.to_unix_duration().as_secs() as i64;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let days_left = (not_after - now) / 86_400;
    let value = format!("{}: valid until {} ({days_left} days left)", path.display(), validity.not_after);
    let renew = "renew the kiosk certificate with the bank's PKI and install it with scripts/install";
    let result = if now < not_before {
        CheckResult::fail(ID, format!("{}: not valid before {}", path.display(), validity.not_before), "check the system clock (see clock.sanity)")
    } else if now >= not_after {
        CheckResult::fail(ID, format!("{}: EXPIRED on {}", path.display(), validity.not_after), renew)
    } else if days_left < i64::from(warn_days) {
        CheckResult::warn(ID, value, renew)
    } else {
        CheckResult::ok(ID, value)
    };
    result.with("days_left", days_left as f64)
}
