//! Prometheus metrics of one gateway process (`prometheus-client`), served on the ops
//! listener's `/metrics`. Fleet gauges (kiosks online, alerts) are computed from PostgreSQL
//! at scrape time, so every gateway reports the same fleet.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Endpoint {
    pub endpoint: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Refusal {
    pub endpoint: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Kind {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct State {
    pub state: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<Endpoint, Counter>,
    pub refusals: Family<Refusal, Counter>,
    pub messages_accepted: Family<Kind, Counter>,
    pub messages_duplicate: Family<Kind, Counter>,
    pub accounts_admitted: Family<State, Counter>,
    pub search_seconds: Histogram,
    pub admission_batch: Histogram,
    pub index_templates: Gauge,
    pub fleet_kiosks: Family<State, Gauge>,
    pub fleet_alerts: Family<Kind, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("kiosk_core");
        let requests = Family::<Endpoint, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by endpoint and status", requests.clone());
        let refusals = Family::<Refusal, Counter>::default();
        registry.register("refusals", "Requests refused for bad input, by endpoint and reason", refusals.clone());
        let messages_accepted = Family::<Kind, Counter>::default();
        registry.register("messages_accepted", "Kiosk messages applied (first arrival)", messages_accepted.clone());
        let messages_duplicate = Family::<Kind, Counter>::default();
        registry.register("messages_duplicate", "Kiosk messages that arrived again (answered 200, nothing done)", messages_duplicate.clone());
        let accounts_admitted = Family::<State, Counter>::default();
        registry.register("accounts_admitted", "New accounts by the state given at admission", accounts_admitted.clone());
        let search_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register("fleet_search_seconds", "Time of one 1:N search over the fleet's templates", search_seconds.clone());
        let admission_batch = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register("admission_batch_size", "New accounts decided and committed together under one admission lock", admission_batch.clone());
        let index_templates = Gauge::default();
        registry.register("index_templates", "Face templates in this gateway's 1:N index", index_templates.clone());
        let fleet_kiosks = Family::<State, Gauge>::default();
        registry.register("fleet_kiosks", "Registered kiosks by state (online, offline, never_seen)", fleet_kiosks.clone());
        let fleet_alerts = Family::<Kind, Gauge>::default();
        registry.register("fleet_alerts", "Kiosks with an open alert, by alert", fleet_alerts.clone());
        Metrics {
            registry,
            requests,
            refusals,
            messages_accepted,
            messages_duplicate,
            accounts_admitted,
            search_seconds,
            admission_batch,
            index_templates,
            fleet_kiosks,
            fleet_alerts,
        }
    }

    pub fn request(&self, endpoint: &str, status: u16) {
        self.requests.get_or_create(&Endpoint { endpoint: endpoint.to_owned(), status: status.to_string() }).inc();
    }

    pub fn refusal(&self, endpoint: &str, reason: &str) {
        self.refusals.get_or_create(&Refusal { endpoint: endpoint.to_owned(), reason: reason.to_owned() }).inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
