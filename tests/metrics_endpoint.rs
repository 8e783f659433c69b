//! The health and metrics endpoint: scraped over TCP and read by a Prometheus text-format
//! parser, in process with recorded sessions and from the real `kiosk run` (with systemd's
//! notify protocol and a clean stop on SIGTERM).

mod service_support;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiosk::diag::health::{self, HealthState};
use kiosk::diag::metrics::{Metrics, SyncGauges};
use prometheus_parse::{Scrape, Value};
use service_support::{get, kiosk_run, DemoSite};

/// Every line is a comment or `name{labels} value`, names follow the conventions, every
/// family has HELP and TYPE; then the parser's view.
fn parse_strictly(body: &str) -> Scrape {
    let valid_name = |n: &str| {
        n.starts_with("kiosk_") && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(valid_name(name), "{line}");
            assert!(body.contains(&format!("# HELP {name} ")), "no HELP for {name}");
            assert_eq!(kind == "counter", name.ends_with("_total"), "counter naming: {line}");
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        assert!(valid_name(name), "{line}");
        assert!(value.parse::<f64>().is_ok(), "value of {line}");
    }
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

fn value<'a>(scrape: &'a Scrape, metric: &str, label: Option<(&str, &str)>) -> Option<&'a Value> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| &s.value)
}

#[test]
fn metrics_scraped_and_parsed_with_sessions_recorded() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let metrics = Arc::new(Metrics::default());
    for (outcome, reason, read_s) in [("account_issued", "none", 2.1), ("refused", "face_mismatch", 1.7), ("account_issued", "none", 30.5)] {
        metrics.session_started();
        metrics.observe_stage("read_document", read_s);
        metrics.observe_stage("capture_face", 0.04);
        metrics.session_finished(outcome, reason);
    }
    metrics.device_error("card_reader");
    metrics.set_sync(SyncGauges { backlog: 4, quarantined: 1, oldest_unsent_age_s: 125.5, last_success_unix_s: 1.8e9 });
    metrics.set_ready(true);
    let state = HealthState::new(Arc::clone(&metrics));
    let listener = runtime.block_on(health::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let server = runtime.spawn(health::serve(listener, state, stop_rx));
    let thread = std::thread::spawn(move || {
        let (status, body) = get(port, "/metrics");
        assert_eq!(status, 200);
        let scrape = parse_strictly(&body);
        assert_eq!(value(&scrape, "kiosk_onboardings_started_total", None), Some(&Value::Counter(3.0)));
        assert_eq!(
            value(&scrape, "kiosk_onboardings_finished_total", Some(("outcome", "account_issued"))),
            Some(&Value::Counter(2.0))
        );
        assert_eq!(
            value(&scrape, "kiosk_onboardings_finished_total", Some(("reason", "face_mismatch"))),
            Some(&Value::Counter(1.0))
        );
        let Some(Value::Histogram(buckets)) = value(&scrape, "kiosk_stage_duration_seconds", Some(("stage", "read_document"))) else {
            panic!("no read_document histogram in\n{body}");
        };
        let count_at = |le: f64| buckets.iter().find(|b| b.less_than == le).map(|b| b.count);
        assert_eq!(count_at(2.5), Some(2.0));
        assert_eq!(count_at(60.0), Some(3.0));
        assert_eq!(count_at(f64::INFINITY), Some(3.0));
        assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count), "buckets not cumulative");
        assert_eq!(value(&scrape, "kiosk_device_errors_total", Some(("device", "card_reader"))), Some(&Value::Counter(1.0)));
        assert_eq!(value(&scrape, "kiosk_sync_backlog_messages", None), Some(&Value::Gauge(4.0)));
        assert_eq!(value(&scrape, "kiosk_sync_lag_seconds", None), Some(&Value::Gauge(125.5)));
        assert!(scrape.docs.contains_key("kiosk_stage_duration_seconds"));
        assert_eq!(get(port, "/healthz").0, 200);
        assert_eq!(get(port, "/readyz").0, 200);
        assert_eq!(get(port, "/nothing").0, 404);
    });
    runtime.block_on(async {
        while !thread.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    thread.join().unwrap();
    stop.send(true).unwrap();
    runtime.block_on(server).unwrap();
}

#[test]
fn kiosk_run_notifies_systemd_serves_health_and_stops_on_sigterm() {
    let DemoSite { tmp, data, config, port } = DemoSite::provisioned("");
    let socket_path = tmp.path().join("notify.sock");
    let notify = UnixDatagram::bind(&socket_path).unwrap();
    notify.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut child = kiosk_run(&config, &data)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "2000000")
        .spawn()
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 256];
    while !received.iter().any(|m: &String| m.contains("READY=1")) || !received.iter().any(|m| m == "WATCHDOG=1") {
        let n = notify.recv(&mut buf).expect("no READY=1 / WATCHDOG=1 from kiosk run within 30 s");
        received.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(get(port, "/readyz").0, 200);
    assert_eq!(get(port, "/healthz").0, 200);
    let (status, body) = get(port, "/metrics");
    assert_eq!(status, 200);
    let scrape = parse_strictly(&body);
    assert_eq!(value(&scrape, "kiosk_ready", None), Some(&Value::Gauge(1.0)));
    assert_eq!(value(&scrape, "kiosk_sync_backlog_messages", None), Some(&Value::Gauge(0.0)));

    let stop = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(stop.elapsed() < Duration::from_secs(15), "kiosk run did not stop within 15 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit after SIGTERM: {status}");
    let mut stopping = false;
    notify.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    while let Ok(n) = notify.recv(&mut buf) {
        stopping |= &buf[..n] == b"STOPPING=1";
    }
    assert!(stopping, "no STOPPING=1 after SIGTERM");
}
