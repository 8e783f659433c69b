//! The fleet web page (server-rendered HTML, no scripts): every kiosk with its state, last
//! seen, backlog, version and alerts; one kiosk's page with its heartbeat history. Refreshes
//! itself every 30 s.

use crate::fleet::{self, KioskView};
use crate::http::Answer;
use crate::server::Core;
use std::fmt::Write as _;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn ago(seconds: Option<i64>) -> String {
    match seconds {
        None => "never".into(),
        Some(s) if s < 60 => format!("{s} s ago"),
        Some(s) if s < 3600 => format!("{} min ago", s / 60),
        Some(s) if s < 86_400 => format!("{} h ago", s / 3600),
        Some(s) => format!("{} days ago", s / 86_400),
    }
}

const STYLE: &str = "body{font-family:DejaVu Sans,sans-serif;margin:1.5em;color:#1a1a1a}\
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left;font-size:14px}\
th{background:#f2f4f7}.ok{color:#11703a;font-weight:bold}.bad{color:#b00020;font-weight:bold}\
.alert{background:#fde8ea;color:#8a0015;border-radius:3px;padding:1px 6px;margin-right:4px;display:inline-block}\
.summary span{margin-right:2em}a{color:#0b57d0}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"30\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

fn state_cell(v: &KioskView) -> String {
    if v.online() {
        "<td class=\"ok\" data-state=\"online\">online</td>".into()
    } else {
        "<td class=\"bad\" data-state=\"offline\">offline</td>".into()
    }
}

fn alerts_cell(alerts: &[String]) -> String {
    let mut out = String::from("<td class=\"alerts\">");
    for a in alerts {
        let _ = write!(out, "<span class=\"alert\">{}</span>", esc(a));
    }
    out.push_str("</td>");
    out
}

pub async fn route(core: &Core, path: &str) -> Answer {
    if path == "/" || path == "/fleet" {
        return match fleet::overview(core).await {
            Ok(views) => Answer::html(overview(&views)),
            Err(e) => Answer::unavailable(&e),
        };
    }
    if let Some(id) = path.strip_prefix("/kiosks/") {
        let id = percent_decode(id);
        return match (fleet::overview(core).await, fleet::history(core, &id, 200).await) {
            (Ok(views), Ok(history)) => match views.iter().find(|v| v.kiosk_id == id) {
                Some(view) => Answer::html(kiosk_page(view, &history)),
                None => Answer::error(404, format!("no kiosk `{id}` is registered")),
            },
            (Err(e), _) | (_, Err(e)) => Answer::unavailable(&e),
        };
    }
    Answer::error(404, format!("no page {path}"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(Ok(b)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn overview(views: &[KioskView]) -> String {
    let online = views.iter().filter(|v| v.online()).count();
    let alerting = views.iter().filter(|v| !v.alerts.is_empty()).count();
    let mut body = format!(
        "<h1>Kiosk fleet</h1><p class=\"summary\"><span>{} kiosks</span><span class=\"ok\">{online} online</span>\
         <span class=\"bad\">{} offline</span><span>{alerting} with alerts</span></p>\
         <table id=\"fleet\"><thead><tr><th>Kiosk</th><th>Site</th><th>State</th><th>Last seen</th><th>Backlog</th>\
         <th>Oldest unsent</th><th>Version</th><th>Onboardings today</th><th>Alerts</th></tr></thead><tbody>",
        views.len(),
        views.len() - online
    );
    for v in views {
        let (backlog, oldest, version, today) = match &v.report {
            Some(r) => (r.outbox_pending.to_string(), format!("{} min", r.outbox_oldest_age_s / 60), esc(&r.version), r.onboardings_today.to_string()),
            None => ("–".into(), "–".into(), "–".into(), "–".into()),
        };
        let _ = write!(
            body,
            "<tr data-kiosk=\"{id}\"><td><a href=\"/kiosks/{id}\">{id}</a></td><td>{}</td>{}<td>{}</td><td>{backlog}</td><td>{oldest}</td><td>{version}</td><td>{today}</td>{}</tr>",
            esc(&v.site),
            state_cell(v),
            ago(v.last_seen_s),
            alerts_cell(&v.alerts),
            id = esc(&v.kiosk_id),
        );
    }
    body.push_str("</tbody></table>");
    page("Kiosk fleet", &body)
}

fn kiosk_page(v: &KioskView, history: &[(i64, fleet::Heartbeat)]) -> String {
    let mut body = format!(
        "<p><a href=\"/\">← fleet</a></p><h1>Kiosk {}</h1><p>Site {} · last seen {} · {} refusals in the last 10 min</p>\
         <table id=\"now\"><tbody><tr>{}{}</tr></tbody></table><h2>Devices</h2><table id=\"devices\"><thead><tr><th>Device</th><th>State</th></tr></thead><tbody>",
        esc(&v.kiosk_id),
        esc(&v.site),
        ago(v.last_seen_s),
        v.refusals_recent,
        state_cell(v),
        alerts_cell(&v.alerts)
    );
    for d in v.report.iter().flat_map(|r| &r.devices) {
        let state = serde_json::to_value(d.state).ok().and_then(|s| s.as_str().map(str::to_owned)).unwrap_or_default();
        let class = if d.state.is_error() { "bad" } else { "ok" };
        let _ = write!(body, "<tr><td>{}</td><td class=\"{class}\">{}</td></tr>", esc(&d.name), esc(&state));
    }
    body.push_str(
        "</tbody></table><h2>History</h2><table id=\"history\"><thead><tr><th>Received</th><th>Version</th><th>Uptime</th>\
         <th>Backlog</th><th>Oldest unsent</th><th>Onboardings today</th><th>Devices not online</th></tr></thead><tbody>",
    );
    for (ago_s, h) in history {
        let faults: Vec<String> = h
            .devices
            .iter()
            .filter(|d| d.state.is_error())
            .map(|d| format!("{} {}", d.name, serde_json::to_value(d.state).ok().and_then(|s| s.as_str().map(str::to_owned)).unwrap_or_default()))
            .collect();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{} min</td><td>{}</td><td>{} min</td><td>{}</td><td>{}</td></tr>",
            ago(Some(*ago_s)),
            esc(&h.version),
            h.uptime_s / 60,
            h.outbox_pending,
            h.outbox_oldest_age_s / 60,
            h.onboardings_today,
            esc(&faults.join(", "))
        );
    }
    body.push_str("</tbody></table>");
    page(&format!("Kiosk {}", v.kiosk_id), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_decodes() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(percent_decode("K%2D1"), "K-1");
        assert_eq!(percent_decode("K%2"), "K%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
