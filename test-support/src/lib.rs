//! Test-only, shared by the kiosk's sync tests and store benchmark and by kiosk-core's tests:
//! a test PKI made with rcgen (CA, core server certificate for 127.0.0.1/localhost, kiosk
//! client certificate), the kiosk's keys, and a loopback core simulator. A crate of its own
//! because two packages' tests and a bench use it (a module is reachable from one target only).
#![forbid(unsafe_code)]
// Test code only: a set-up that fails is the test's failure, so it unwraps; the crates a kiosk
// runs deny unwrap/expect outside their tests.

use kiosk::account::KioskIdentity;
use kiosk::store::{KeyStore, OnboardingRecord};
use kiosk::sync::sim::{CoreSimulator, SimSettings};
use kiosk::sync::{self, Backoff, CoreClient, Timeouts};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    /// The kiosk side's TLS client configuration (trusts the CA, presents the client certificate).
    pub fn client_tls(&self) -> Arc<rustls::ClientConfig> {
        sync::tls::client_config(&self.ca, &self.client_cert, &self.client_key).unwrap()
    }

    /// The CA, client certificate and client key as a command's flags, under the names it uses.
    pub fn client_flags(&self, [ca, cert, key]: [&str; 3]) -> [std::ffi::OsString; 6] {
        [ca.into(), self.ca.clone().into(), cert.into(), self.client_cert.clone().into(), key.into(), self.client_key.clone().into()]
    }
}

fn write_key(path: &Path, pem: &str) {
    std::fs::write(path, pem).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A CA with a server and a client certificate, as PEM files in `dir`.
pub fn make_pki(dir: &Path, name: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();

    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &ca, &ca_key).unwrap();

    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client.distinguished_name.push(DnType::CommonName, "KIOSK-TEST");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().unwrap();
    let client_cert = client.signed_by(&client_key, &ca, &ca_key).unwrap();

    let pki = Pki {
        ca: dir.join(format!("{name}-ca.pem")),
        server_cert: dir.join(format!("{name}-server.pem")),
        server_key: dir.join(format!("{name}-server.key")),
        client_cert: dir.join(format!("{name}-client.pem")),
        client_key: dir.join(format!("{name}-client.key")),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.server_cert, server_cert.pem()).unwrap();
    write_key(&pki.server_key, &server_key.serialize_pem());
    std::fs::write(&pki.client_cert, client_cert.pem()).unwrap();
    write_key(&pki.client_key, &client_key.serialize_pem());
    pki
}

/// A kiosk's files in one folder: PKI, key-encryption key, signing identity.
pub struct Kiosk {
    pub dir: PathBuf,
    pub pki: Pki,
    pub kek: KeyStore,
    pub identity: Arc<KioskIdentity>,
}

impl Kiosk {
    pub fn new(dir: &Path) -> Kiosk {
        let pki = make_pki(dir, "core");
        let kek = KeyStore::create(&dir.join("kek.key")).unwrap();
        let identity = Arc::new(KioskIdentity::generate_to(&dir.join("identity.key")).unwrap());
        Kiosk { dir: dir.to_path_buf(), pki, kek, identity }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.join("kiosk.db")
    }

    pub async fn core(&self) -> CoreSimulator {
        CoreSimulator::start(SimSettings {
            server_cert: self.pki.server_cert.clone(),
            server_key: self.pki.server_key.clone(),
            client_ca: self.pki.ca.clone(),
            kiosk_key: self.identity.verifying_key(),
            base_path: "/core".into(),
        })
        .await
        .unwrap()
    }

    pub fn client(&self, url: &str, request_timeout: Duration) -> CoreClient {
        let tls = self.pki.client_tls();
        let timeouts = Timeouts { connect: Duration::from_secs(2), request: request_timeout };
        CoreClient::new(url, tls, "KIOSK-TEST", Arc::clone(&self.identity), timeouts).unwrap()
    }
}

pub const FAST_BACKOFF: Backoff = Backoff { initial: Duration::from_millis(1), max: Duration::from_millis(5) };

/// The specimen person onboarded now, with face template `n` (see `kiosk::testing`).
pub fn onboarding(n: u32) -> OnboardingRecord {
    kiosk::testing::issued_onboarding(OffsetDateTime::now_utc(), n)
}
