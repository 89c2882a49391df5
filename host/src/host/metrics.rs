//! The host's metrics, in the Prometheus text format: calls by node and
//! outcome with their durations, refusals by kind, and gauges read when
//! scraped (calls in flight, connections, plugins by state, jobs, stores).
//! Every front end's calls go through admission, so they are all counted.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::Host;
use crate::proto::{CallError, PluginState};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    node: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabel {
    node: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabel {
    plugin: String,
}

type Durations = Family<NodeLabel, Histogram, fn() -> Histogram>;

fn durations() -> Histogram {
    // 100 µs to about 26 s.
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

/// The metrics registry of one host.
pub(super) struct Metrics {
    registry: Mutex<Registry>,
    calls: Family<CallLabels, Counter>,
    durations: Durations,
    refusals: Family<KindLabel, Counter>,
    in_flight: Gauge,
    made_ahead: Gauge,
    connections: Gauge,
    plugins: Family<StateLabel, Gauge>,
    jobs: Family<StateLabel, Gauge>,
    blob_bytes: Gauge,
    kv_bytes: Family<PluginLabel, Gauge>,
}

impl Metrics {
    pub(super) fn new() -> Self {
        let mut registry = Registry::with_prefix("warden");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "calls",
            "Calls that ran, by node and outcome (`ok` or the error kind)",
            calls.clone(),
        );
        let durations: Durations = Family::new_with_constructor(durations);
        registry.register(
            "call_duration_seconds",
            "How long calls ran, by node",
            durations.clone(),
        );
        let refusals = Family::<KindLabel, Counter>::default();
        registry.register(
            "refusals",
            "Calls refused before running (admission), by error kind",
            refusals.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "calls_in_flight",
            "Calls from outside running now",
            in_flight.clone(),
        );
        let made_ahead = Gauge::default();
        registry.register(
            "instances_made_ahead",
            "Instances the served plugins made ahead of their calls since they loaded",
            made_ahead.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "connections",
            "Connections open now (QUIC and HTTP)",
            connections.clone(),
        );
        let plugins = Family::<StateLabel, Gauge>::default();
        registry.register("plugins", "Plugins by state", plugins.clone());
        let jobs = Family::<StateLabel, Gauge>::default();
        registry.register(
            "jobs",
            "Stored jobs: `unfinished` (queued or running) and `finished`",
            jobs.clone(),
        );
        let blob_bytes = Gauge::default();
        registry.register(
            "blob_store_bytes",
            "Bytes of the stored blobs",
            blob_bytes.clone(),
        );
        let kv_bytes = Family::<PluginLabel, Gauge>::default();
        registry.register(
            "kv_bytes",
            "Bytes each served plugin keeps in its key-value store",
            kv_bytes.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            calls,
            durations,
            refusals,
            in_flight,
            made_ahead,
            connections,
            plugins,
            jobs,
            blob_bytes,
            kv_bytes,
        }
    }

    /// A call of `node` ran for `took` and ended with `outcome`.
    pub(super) fn ran(&self, node: &str, took: Duration, outcome: Result<(), &CallError>) {
        let outcome = match outcome {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.kind.as_str().to_owned(),
        };
        self.calls
            .get_or_create(&CallLabels {
                node: node.to_owned(),
                outcome,
            })
            .inc();
        self.durations
            .get_or_create(&NodeLabel {
                node: node.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// A call was refused before running.
    pub(super) fn refused(&self, e: &CallError) {
        self.refusals
            .get_or_create(&KindLabel {
                kind: e.kind.as_str().to_owned(),
            })
            .inc();
    }
}

fn gauge_value(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

impl Host {
    /// The host's metrics in the Prometheus text format (version 0.0.4),
    /// the gauges read now. Reads the stores, so call it off the async
    /// threads (`spawn_blocking`).
    pub fn metrics_text(&self) -> String {
        let inner = &self.inner;
        let m = &inner.metrics;
        m.in_flight.set(gauge_value(self.running_calls()));
        m.connections
            .set(gauge_value(inner.guard.open_connections()));
        let registry = inner.plugins.snapshot();
        let made: u64 = registry
            .served()
            .map(|s| s.plugin.instances_made_ahead())
            .sum();
        m.made_ahead.set(gauge_value(made));
        m.plugins.clear();
        for state in [
            PluginState::Ready,
            PluginState::Loading,
            PluginState::Failed,
        ] {
            m.plugins
                .get_or_create(&StateLabel {
                    state: state.as_str().to_owned(),
                })
                .set(0);
        }
        for plugin in registry.status() {
            m.plugins
                .get_or_create(&StateLabel {
                    state: plugin.state.as_str().to_owned(),
                })
                .inc();
        }
        if let Some(jobs) = &inner.jobs {
            let (total, unfinished) = jobs.counts();
            for (state, n) in [
                ("unfinished", unfinished),
                ("finished", total.saturating_sub(unfinished)),
            ] {
                m.jobs
                    .get_or_create(&StateLabel {
                        state: state.to_owned(),
                    })
                    .set(gauge_value(n));
            }
        }
        if let Some(blobs) = &inner.blobs {
            m.blob_bytes.set(gauge_value(blobs.stored_bytes()));
        }
        m.kv_bytes.clear();
        if let Some(kv) = &inner.kv {
            for served in registry.served() {
                let name = served.plugin.name();
                if let Ok(used) = kv.usage(name) {
                    m.kv_bytes
                        .get_or_create(&PluginLabel {
                            plugin: name.to_owned(),
                        })
                        .set(gauge_value(used));
                }
            }
        }
        let registry = m.registry.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            tracing::error!("encoding the metrics failed: {e}");
        }
        text
    }
}
