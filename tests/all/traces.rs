//! A caller's W3C trace context reaches the host's tracing spans: an HTTP
//! call's `traceparent` header, a QUIC call's `meta.traceparent`, the
//! nodes a call invokes, and a submitted job's call.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use crate::harness::server::Setup;
use crate::support::{eventually, example, mp};

/// The fields of one `call` span.
#[derive(Debug, Clone, Default)]
struct CallSpan {
    node: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

impl Visit for CallSpan {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let value = value.to_owned();
        match field.name() {
            "node" => self.node = value,
            "trace_id" => self.trace_id = value,
            "span_id" => self.span_id = value,
            "parent_span_id" => self.parent_span_id = value,
            _ => {}
        }
    }
}

/// Keeps the `call` spans that joined a trace.
#[derive(Default)]
struct Spans {
    open: Mutex<HashMap<Id, CallSpan>>,
    traced: Mutex<Vec<CallSpan>>,
}

impl<S: tracing::Subscriber> Layer<S> for &'static Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attrs.metadata().name() == "call" {
            let mut span = CallSpan::default();
            attrs.record(&mut span);
            self.open.lock().unwrap().insert(id.clone(), span);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(span) = self.open.lock().unwrap().get_mut(id) {
            values.record(span);
            if !span.trace_id.is_empty()
                && !span.span_id.is_empty()
                && !span.parent_span_id.is_empty()
            {
                self.traced.lock().unwrap().push(span.clone());
            }
        }
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        self.open.lock().unwrap().remove(&id);
    }
}

/// The spans recorded in this test binary (installed once).
fn spans() -> &'static Spans {
    static SPANS: OnceLock<&'static Spans> = OnceLock::new();
    SPANS.get_or_init(|| {
        let spans: &'static Spans = Box::leak(Box::default());
        let subscriber = tracing_subscriber::registry().with(spans);
        // Another test may have installed one first; then nothing is seen
        // and the assertions below say so.
        let _ = tracing::subscriber::set_global_default(subscriber);
        spans
    })
}

fn in_trace(trace_id: &str) -> Vec<CallSpan> {
    spans()
        .traced
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.trace_id == trace_id)
        .cloned()
        .collect()
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_trace_reaches_calls_invoked_nodes_and_jobs() {
    spans();
    let server = Setup::new()
        .plugin("math", &example("math"), "")
        .plugin("text", &example("text"), "")
        .plugin(
            "pipeline",
            &example("pipeline"),
            &std::fs::read_to_string(
                crate::support::root().join("examples/plugins/pipeline/pipeline.toml"),
            )
            .unwrap(),
        )
        .http()
        .start()
        .await;
    let base = server.http.clone().unwrap();
    let http = reqwest::Client::new();

    // Over HTTP, through a node that invokes others.
    let parent = "00f067aa0ba902b7";
    let answer = http
        .post(format!("{base}/v1/call/pipeline/headline"))
        .header("traceparent", format!("00-{TRACE}-{parent}-01"))
        .body(r#"["nodes calling nodes"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let spans = in_trace(TRACE);
    let headline = spans
        .iter()
        .find(|s| s.node == "pipeline/headline")
        .unwrap_or_else(|| panic!("no span of the call in the trace: {spans:?}"));
    assert_eq!(headline.parent_span_id, parent);
    let mut invoked: Vec<&str> = spans
        .iter()
        .filter(|s| s.parent_span_id == headline.span_id)
        .map(|s| s.node.as_str())
        .collect();
    invoked.sort();
    assert_eq!(
        invoked,
        ["text/stats", "text/strings/upper"],
        "the nodes it invokes are below the call: {spans:?}"
    );
    assert!(
        spans
            .iter()
            .all(|s| s.span_id.len() == 16 && s.span_id != parent)
    );

    // A job joins the trace of the request that submitted it.
    let job_trace = "0af7651916cd43dd8448eb211c80319c";
    let submitted = http
        .post(format!("{base}/v1/jobs/math/add"))
        .header("traceparent", format!("00-{job_trace}-b7ad6b7169203331-01"))
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status().as_u16(), 202);
    assert!(
        eventually(30, || in_trace(job_trace).iter().any(|s| s.node
            == "math/add"
            && s.parent_span_id == "b7ad6b7169203331"))
        .await
    );

    // Over QUIC, in the request's `meta`.
    let quic_trace = "11111111111111111111111111111111";
    let client = server.client().await;
    let meta = mp(&format!(
        r#"{{"traceparent": "00-{quic_trace}-2222222222222222-01"}}"#
    ));
    let opts = warden_host::rpc::CallOpts {
        meta: Some(meta),
        ..Default::default()
    };
    let value = client
        .call_with("math/add", mp("[2, 3]"), opts)
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert_eq!(value, rmpv::Value::from(5));
    assert!(
        in_trace(quic_trace)
            .iter()
            .any(|s| s.node == "math/add" && s.parent_span_id == "2222222222222222")
    );
    // An invalid traceparent starts no trace.
    let _ = http
        .post(format!("{base}/v1/call/math/add"))
        .header("traceparent", "00-zz-00f067aa0ba902b7-01")
        .body("[1, 1]")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(in_trace("zz").is_empty());
    client.close().await;
    server.stop().await;
}
