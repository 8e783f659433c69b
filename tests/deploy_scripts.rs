//! scripts/release, install, update and rollback against a temporary root (`KIOSK_ROOT`),
//! with fake `systemctl`, `useradd`, `getent` and `chown` on the PATH. The fake systemctl
//! really starts `kiosk run` from /opt/kiosk/current, so readiness is the real /readyz, and
//! does what systemd does for the unit's `LoadCredentialEncrypted=`: the key-encryption key,
//! sealed by `kiosk provision` to a software TPM (swtpm, started by the test), is decrypted
//! with systemd-creds into the service's $CREDENTIALS_DIRECTORY.

mod tpm_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    Command::new("chmod").arg("755").arg(path).status().unwrap();
}

const FAKE_SYSTEMCTL: &str = r#"#!/bin/bash
R="$KIOSK_ROOT"
echo "systemctl $*" >> "$R/fake.log"
stop() {
    [ -f "$R/service.pid" ] || return 0
    local pid; pid="$(cat "$R/service.pid")"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$R/service.pid"
}
case "$1" in
    stop) stop ;;
    start|restart)
        stop
        cd "$R/opt/kiosk/current" || exit 1
        # LoadCredentialEncrypted=NAME:PATH of the installed unit, as systemd handles it.
        cred="$(sed -n 's/^LoadCredentialEncrypted=//p' "$R/etc/systemd/system/kiosk.service")"
        creds="$R/run/credentials/kiosk.service"
        rm -rf "$creds"; mkdir -p "$creds"; chmod 700 "$creds"
        # An orderly TPM power cycle first: swtpm has no resource manager to flush the sessions
        # systemd-creds leaves (see tests/tpm_support).
        sock="${SYSTEMD_TPM2_DEVICE#swtpm:path=}"
        python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(bytes.fromhex("80010000000c000001450000")); r=s.recv(64); sys.exit(r[6:10] not in (bytes(4), bytes.fromhex("00000100")))' "$sock" || exit 1
        swtpm_ioctl --unix "$sock.ctrl" -i || exit 1
        (umask 077; systemd-creds decrypt --name="${cred%%:*}" "$R${cred#*:}" - > "$creds/${cred%%:*}") || exit 1
        CREDENTIALS_DIRECTORY="$creds" setsid bin/kiosk --config "$R/etc/kiosk/site.toml" run >>"$R/service.log" 2>&1 </dev/null &
        echo $! > "$R/service.pid" ;;
esac
exit 0
"#;

struct Kiosk {
    tpm: tpm_support::Swtpm,
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    root: PathBuf,
    port: u16,
}

impl Kiosk {
    fn new() -> Kiosk {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let root = dir.join("root");
        let fake = dir.join("fakebin");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&fake).unwrap();
        write_exec(&fake.join("systemctl"), FAKE_SYSTEMCTL);
        write_exec(&fake.join("getent"), "#!/bin/sh\ngrep -q \"^$2:\" \"$KIOSK_ROOT/fake-passwd\" 2>/dev/null\n");
        write_exec(&fake.join("useradd"), "#!/bin/sh\necho \"useradd $*\" >> \"$KIOSK_ROOT/fake.log\"\nfor a; do u=$a; done\necho \"$u:x\" >> \"$KIOSK_ROOT/fake-passwd\"\n");
        write_exec(&fake.join("chown"), "#!/bin/sh\necho \"chown $*\" >> \"$KIOSK_ROOT/fake.log\"\n");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let site = format!(
            "[kiosk]\nid = \"KIOSK-TEST-0042\"\ndemo = true\ndata_dir = \"{}\"\n\n[health]\nlisten = \"127.0.0.1:{port}\"\nstop_grace_s = 2\n\n[store]\nkek_credential = \"{}\"\nkek_seal = \"tpm2\"\n",
            root.join("var/lib/kiosk").display(),
            root.join("etc/kiosk/credentials/kiosk-kek.cred").display()
        );
        std::fs::write(dir.join("site.toml"), site).unwrap();
        let out = Command::new(KIOSK).args(["release", "keygen", "--out"]).arg(dir.join("sign.key")).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Kiosk { tpm: tpm_support::Swtpm::start(), _tmp: tmp, dir, root, port }
    }

    fn release(&self, version: &str, binary: &Path, models: &Path) -> PathBuf {
        let out_dir = self.dir.join(format!("release-{version}"));
        // The test binary is a demo build: refused for a street kiosk unless said.
        let refused = Command::new(repo().join("scripts/release"))
            .args(["--key"])
            .arg(self.dir.join("sign.key"))
            .arg("--out")
            .arg(self.dir.join(format!("refused-{version}")))
            .arg("--binary")
            .arg(binary)
            .output()
            .unwrap();
        assert!(
            !refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("is not a production build"),
            "{}",
            String::from_utf8_lossy(&refused.stderr)
        );
        let out = Command::new(repo().join("scripts/release"))
            .args(["--demo-build", "--version", version, "--key"])
            .arg(self.dir.join("sign.key"))
            .arg("--out")
            .arg(&out_dir)
            .arg("--binary")
            .arg(binary)
            .arg("--models")
            .arg(models)
            .output()
            .unwrap();
        assert!(out.status.success(), "release: {}", String::from_utf8_lossy(&out.stderr));
        out_dir
    }

    fn script(&self, release: &Path, name: &str, args: &[&str]) -> Output {
        let path = format!("{}:{}", self.dir.join("fakebin").display(), std::env::var("PATH").unwrap_or_default());
        Command::new(release.join("scripts").join(name))
            .args(args)
            .env("KIOSK_ROOT", &self.root)
            .env("PATH", path)
            .env("KIOSK_READY_TIMEOUT", "60")
            .env("SYSTEMD_TPM2_DEVICE", &self.tpm.device)
            .env_remove("NOTIFY_SOCKET")
            .output()
            .unwrap()
    }

    fn link(&self, name: &str) -> String {
        std::fs::read_link(self.root.join("opt/kiosk").join(name)).map(|p| p.display().to_string()).unwrap_or_default()
    }

    fn readyz(&self) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        text.lines().next().map(str::to_owned)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("fake.log")).unwrap_or_default()
    }
}

impl Drop for Kiosk {
    fn drop(&mut self) {
        let _ = Command::new(self.dir.join("fakebin/systemctl")).arg("stop").env("KIOSK_ROOT", &self.root).status();
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn install_update_failed_update_rollback_and_refusals() {
    let k = Kiosk::new();
    let models = repo().join("models");
    let v1 = k.release("0.1.0", Path::new(KIOSK), &models);
    let v2 = k.release("0.1.1", Path::new(KIOSK), &models);
    // Releases carry an empty trust folder, never the test CSCA.
    assert_eq!(std::fs::read_dir(v1.join("kiosk-config/csca")).unwrap().count(), 0);
    // A release whose service never becomes ready (it fails at start) but passes config check.
    let broken = k.dir.join("broken-kiosk");
    write_exec(&broken, &format!("#!/bin/sh\nfor a; do [ \"$a\" = run ] && {{ echo broken release >&2; exit 1; }}; done\nexec {KIOSK} \"$@\"\n"));
    let tiny_models = k.dir.join("tiny-models");
    std::fs::create_dir_all(&tiny_models).unwrap();
    std::fs::copy(models.join("MANIFEST.toml"), tiny_models.join("MANIFEST.toml")).unwrap();
    let v3 = k.release("0.1.2", &broken, &tiny_models);
    let site = k.dir.join("site.toml").display().to_string();
    let trust = k.dir.join("sign.key.pub").display().to_string();

    // First install without the trusted key is refused.
    let out = k.script(&v1, "install", &["--config", &site, "--site", "TEST-01"]);
    assert!(!out.status.success() && text(&out).contains("--trust-key"), "{}", text(&out));

    // First install.
    let out = k.script(&v1, "install", &["--config", &site, "--site", "TEST-01", "--trust-key", &trust]);
    assert!(out.status.success(), "install: {}", text(&out));
    assert!(text(&out).contains("fingerprint: SHA256:"), "{}", text(&out));
    assert_eq!(k.link("current"), "releases/0.1.0");
    assert_eq!(k.readyz().as_deref(), Some("HTTP/1.1 200 OK"));
    assert!(k.root.join("etc/systemd/system/kiosk.service").is_file());
    assert!(k.log().contains("systemctl enable kiosk.service"));
    let identity = std::fs::read(k.root.join("var/lib/kiosk/keys/kiosk-ed25519.key")).unwrap();
    // The key-encryption key: sealed to the TPM outside the data folder, root-only folder.
    let sealed = k.root.join("etc/kiosk/credentials/kiosk-kek.cred");
    assert!(sealed.is_file(), "{}", text(&out));
    assert!(!k.root.join("var/lib/kiosk/keys/kek.key").exists(), "no key-encryption key in the data folder");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(k.root.join("etc/kiosk/credentials")).unwrap().permissions().mode() & 0o777, 0o700);
    let unit = std::fs::read_to_string(k.root.join("etc/systemd/system/kiosk.service")).unwrap();
    assert!(unit.contains("LoadCredentialEncrypted=kiosk-kek:/etc/kiosk/credentials/kiosk-kek.cred"), "{unit}");
    // The sound card's and the printer's groups, beside the reader's, camera's and touch screen's.
    assert!(unit.lines().any(|l| l == "SupplementaryGroups=dialout video input audio lp"), "{unit}");
    let kek_blob = std::fs::read(&sealed).unwrap();

    // Idempotent: again, same result, no second user, same keys; run from the installed copy,
    // through the `current` link, as DEPLOY.md tells a technician (and as the .deb leaves it).
    let out = k.script(&k.root.join("opt/kiosk/current"), "install", &["--config", &site, "--site", "TEST-01"]);
    assert!(out.status.success(), "re-install: {}", text(&out));
    assert_eq!(k.log().matches("useradd").count(), 1);
    assert_eq!(std::fs::read(k.root.join("var/lib/kiosk/keys/kiosk-ed25519.key")).unwrap(), identity);
    assert_eq!(std::fs::read(&sealed).unwrap(), kek_blob, "the sealed key is kept");

    // Altered, unsigned and padded releases are refused before anything changes.
    let altered = k.dir.join("altered");
    assert!(Command::new("cp").arg("-r").arg(&v2).arg(&altered).status().unwrap().success());
    std::fs::write(altered.join("deploy/kiosk.service"), "[Service]\nExecStart=/bin/evil\n").unwrap();
    let out = k.script(&altered, "update", &[]);
    assert!(!out.status.success() && text(&out).contains("does not match its signed hash"), "{}", text(&out));
    std::fs::copy(v2.join("deploy/kiosk.service"), altered.join("deploy/kiosk.service")).unwrap();
    std::fs::write(altered.join("bin/helper"), "#!/bin/sh\n").unwrap();
    let out = k.script(&altered, "update", &[]);
    assert!(!out.status.success() && text(&out).contains("not signed: bin/helper"), "{}", text(&out));
    std::fs::remove_file(altered.join("bin/helper")).unwrap();
    std::fs::remove_file(altered.join("SHA256SUMS.sig")).unwrap();
    let out = k.script(&altered, "install", &["--config", &site]);
    assert!(!out.status.success() && text(&out).contains("not a signed release"), "{}", text(&out));
    assert_eq!(k.link("current"), "releases/0.1.0");

    // Update to 0.1.1.
    let out = k.script(&v2, "update", &[]);
    assert!(out.status.success(), "update: {}", text(&out));
    assert_eq!((k.link("current"), k.link("previous")), ("releases/0.1.1".into(), "releases/0.1.0".into()));
    assert_eq!(k.readyz().as_deref(), Some("HTTP/1.1 200 OK"));

    // A broken 0.1.2 never becomes ready: rolled back to 0.1.1 by itself.
    let out = Command::new(v3.join("scripts/update"))
        .env("KIOSK_ROOT", &k.root)
        .env("PATH", format!("{}:{}", k.dir.join("fakebin").display(), std::env::var("PATH").unwrap_or_default()))
        .env("KIOSK_READY_TIMEOUT", "4")
        .env("SYSTEMD_TPM2_DEVICE", &k.tpm.device)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("rolled back; 0.1.1 is running"), "{}", text(&out));
    assert_eq!((k.link("current"), k.link("previous")), ("releases/0.1.1".into(), "releases/0.1.0".into()));
    assert_eq!(k.readyz().as_deref(), Some("HTTP/1.1 200 OK"));
    let history = std::fs::read_to_string(k.root.join("opt/kiosk/deploy.log")).unwrap();
    assert!(history.contains("update 0.1.1 -> 0.1.2 FAILED, rolled back to 0.1.1"), "{history}");

    // An older release is not installed over a newer one.
    let out = k.script(&v1, "install", &["--config", &site]);
    assert!(!out.status.success() && text(&out).contains("refusing to downgrade"), "{}", text(&out));

    // Rollback goes to 0.1.0 (never to the failed 0.1.2) and is ready.
    let out = k.script(&v2, "rollback", &[]);
    assert!(out.status.success(), "rollback: {}", text(&out));
    assert_eq!((k.link("current"), k.link("previous")), ("releases/0.1.0".into(), "releases/0.1.1".into()));
    assert_eq!(k.readyz().as_deref(), Some("HTTP/1.1 200 OK"));
}

/// The package puts the service user in the groups the unit gives the service, so a technician
/// running `kiosk diag` as `kiosk` reaches the same devices; `sh -n` finds no syntax error.
#[test]
fn the_package_adds_the_units_groups() {
    let unit = std::fs::read_to_string(repo().join("deploy/kiosk.service")).unwrap();
    let groups = unit.lines().find_map(|l| l.strip_prefix("SupplementaryGroups=")).unwrap();
    let postinst_path = repo().join("deploy/debian/postinst");
    let postinst = std::fs::read_to_string(&postinst_path).unwrap();
    assert!(postinst.contains(&format!("for group in {groups}; do")), "postinst adds other groups than `{groups}`");
    for group in ["audio", "lp"] {
        assert!(groups.split(' ').any(|g| g == group), "{group} missing from {groups}");
    }
    let check = Command::new("sh").arg("-n").arg(&postinst_path).output().unwrap();
    assert!(check.status.success(), "{}", text(&check));
}
