//! The fleet: kiosks' heartbeats (sent by the kiosk's own heartbeat module) reach kiosk-core,
//! the fleet page shows a kiosk going offline and a device fault — read back in headless
//! Chromium as an operator would see it — and /metrics reports the fleet.

mod support;

use kiosk::sync::heartbeat::{self, Device, DeviceState, Heartbeat};
use kiosk::sync::Verdict;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::{Gateway, TestCore};

fn beat(camera: DeviceState, pending: u64, oldest_s: u64) -> Heartbeat {
    Heartbeat {
        version: "0.1.0".into(),
        uptime_s: 3600,
        devices: heartbeat::DEVICES
            .iter()
            .map(|d| Device { name: (*d).into(), state: if *d == "camera" { camera } else { DeviceState::Online } })
            .collect(),
        outbox_pending: pending,
        outbox_oldest_age_s: oldest_s,
        onboardings_today: 7,
    }
}

async fn get(url: &str) -> String {
    use http_body_util::BodyExt;
    let rest = url.trim_start_matches("http://");
    let (authority, path) = rest.split_once('/').map_or((rest, String::from("/")), |(a, p)| (a, format!("/{p}")));
    let tcp = tokio::net::TcpStream::connect(authority).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path).header("host", authority).body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// The page as Chromium renders it (fails with a message when the browser is not installed).
fn in_browser(url: &str, kiosk: &str, png: &std::path::Path) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/fleet.cjs");
    let modules = std::env::var("KIOSK_PLAYWRIGHT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/kiosk/playwright"))
        .join("node_modules");
    assert!(std::path::Path::new("/usr/bin/chromium").exists(), "/usr/bin/chromium missing: run scripts/setup (installs Debian's chromium)");
    assert!(modules.join("playwright-core").exists(), "playwright-core missing in {}: run scripts/setup (npm install)", modules.display());
    let out = Command::new("node")
        .arg(&script)
        .arg(url)
        .arg(kiosk)
        .arg(png)
        .env("NODE_PATH", &modules)
        .output()
        .expect("node (run scripts/setup)");
    assert!(out.status.success(), "browser run failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("browser printed {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_page_shows_a_kiosk_going_offline_and_a_device_fault() {
    let core = TestCore::start();
    for id in ["KIOSK-TEST", "KIOSK-QUIET"] {
        core.register(id, &core.kiosk.identity);
    }
    let (pg, url, dir, kiosk) = (&core.pg, &core.url, &core.dir, &core.kiosk);
    let gateway = Gateway::start(url, &core.files(), &[]);
    let mut client = kiosk.client(&gateway.api, Duration::from_secs(10));
    let now = time::OffsetDateTime::now_utc();

    let first = heartbeat::item(&beat(DeviceState::Online, 0, 0), now).unwrap();
    assert_eq!(client.deliver(&first).await, Verdict::Acknowledged { duplicate: false });
    assert_eq!(client.deliver(&first).await, Verdict::Acknowledged { duplicate: true });
    let page = get(&format!("{}/", gateway.ops)).await;
    assert!(page.contains(r#"<tr data-kiosk="KIOSK-TEST">"#) && page.contains(r#"data-state="online""#), "{page}");
    assert!(page.contains("never seen"), "the quiet kiosk is flagged: {page}");

    // The camera fails, the backlog ages past an hour, then the kiosk stops calling in.
    let second = heartbeat::item(&beat(DeviceState::HardwareError, 12, 2 * 3600), now + time::Duration::seconds(60)).unwrap();
    assert_eq!(client.deliver(&second).await, Verdict::Acknowledged { duplicate: false });
    pg.psql("kiosk_core", "UPDATE kiosk_status SET last_seen_at = now() - interval '11 minutes' WHERE kiosk_id = 'KIOSK-TEST'");
    let page = get(&format!("{}/", gateway.ops)).await;
    assert!(page.contains("offline for 11 min") && page.contains("camera hardwareError") && page.contains("backlog 12 rows"), "{page}");

    let metrics = get(&format!("{}/metrics", gateway.ops)).await;
    for line in [
        "kiosk_core_fleet_kiosks{state=\"offline\"} 1",
        "kiosk_core_fleet_kiosks{state=\"never_seen\"} 1",
        "kiosk_core_fleet_alerts{kind=\"device_error\"} 1",
        "kiosk_core_fleet_alerts{kind=\"backlog\"} 1",
    ] {
        assert!(metrics.contains(line), "missing `{line}`:\n{metrics}");
    }

    let png = std::env::var("KIOSK_CORE_SCREENSHOT").map(PathBuf::from).unwrap_or_else(|_| dir.path().join("fleet.png"));
    let seen = in_browser(&format!("{}/", gateway.ops), "KIOSK-TEST", &png);
    assert_eq!(seen["state"], "offline", "{seen}");
    let alerts: Vec<String> = serde_json::from_value(seen["alerts"].clone()).unwrap();
    assert!(alerts.iter().any(|a| a == "camera hardwareError"), "{alerts:?}");
    assert!(alerts.iter().any(|a| a.starts_with("offline for")), "{alerts:?}");
    assert_eq!(seen["history"], 2, "{seen}");
    assert!(seen["devices"].as_array().unwrap().iter().any(|d| d.as_str().unwrap().contains("camera") && d.as_str().unwrap().contains("hardwareError")), "{seen}");
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "screenshot written");
}
