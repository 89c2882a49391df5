//! The load generator: N callers in flight on one connection (QUIC) or one
//! HTTP client pool, until a duration or a number of calls is reached, each
//! call's latency recorded in an HDR histogram.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;

use crate::rpc::{CallOpts, Client};

/// Where the calls go.
pub(super) enum Target {
    /// A QUIC connection.
    Quic(Client),
    /// The HTTP gateway: `POST {base}/v1/call/{node}` with a JSON body.
    Http {
        client: reqwest::Client,
        base: String,
        token: Option<String>,
    },
}

/// One node and its arguments, ready to send: `args` is what a QUIC
/// target sends, `json` what an HTTP target sends.
pub(super) struct Request {
    pub(super) node: String,
    pub(super) args: rmpv::Value,
    /// The arguments as JSON text, for HTTP (empty for QUIC).
    pub(super) json: Bytes,
    pub(super) timeout: Duration,
    /// With `--sweep-bytes`: the length of the one `list<u8>` argument.
    pub(super) payload_bytes: Option<usize>,
}

impl Request {
    /// A call of `node` with `args`, also written as JSON when it goes
    /// over `http`.
    pub(super) fn new(node: &str, args: rmpv::Value, timeout: Duration, http: bool) -> Self {
        let json = match http {
            true => Bytes::from(crate::json::from_msgpack(&args).to_string()),
            false => Bytes::new(),
        };
        Request {
            node: node.to_owned(),
            args,
            json,
            timeout,
            payload_bytes: None,
        }
    }

    /// A call of `node` with one argument, a `list<u8>` of `len` bytes
    /// (`0, 1, … 255, 0, 1, …`): a MessagePack `bin` over QUIC, a JSON
    /// array of numbers (as the HTTP gateway reads `list<u8>`) over `http`.
    pub(super) fn payload(node: &str, len: usize, timeout: Duration, http: bool) -> Self {
        let bytes = (0..len).map(|i| i as u8);
        let (args, json) = match http {
            // Written directly: as `serde_json::Value`s the bytes would
            // take 32 times their size on the way.
            true => (rmpv::Value::Nil, Bytes::from(bytes_json(bytes, len))),
            false => (
                rmpv::Value::Array(vec![rmpv::Value::Binary(bytes.collect())]),
                Bytes::new(),
            ),
        };
        Request {
            node: node.to_owned(),
            args,
            json,
            timeout,
            payload_bytes: Some(len),
        }
    }
}

/// `[[0,1,2]]`: the arguments of one `list<u8>` parameter as JSON.
fn bytes_json(bytes: impl Iterator<Item = u8>, len: usize) -> String {
    let mut out = String::with_capacity(len.saturating_mul(4).saturating_add(4));
    out.push_str("[[");
    for (i, b) in bytes.enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{b}");
    }
    out.push_str("]]");
    out
}

/// When a run ends.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stop {
    After(Duration),
    Calls(u64),
}

/// What a run measured.
pub(super) struct Outcome {
    /// Latencies of the successful calls, in microseconds.
    pub(super) latencies: Histogram<u64>,
    /// Failed calls by error kind.
    pub(super) errors: BTreeMap<String, u64>,
    /// Wall time from the first call to the last answer.
    pub(super) elapsed: Duration,
    /// Calls in flight at once.
    pub(super) concurrency: usize,
    /// With `--sweep-bytes`: the bytes of the one `list<u8>` argument.
    pub(super) payload_bytes: Option<usize>,
}

impl Outcome {
    /// Every call made, failed or not.
    pub(super) fn calls(&self) -> u64 {
        self.latencies.len() + self.errors.values().sum::<u64>()
    }
}

/// A histogram from 1 µs to 10 minutes with 3 significant digits.
pub(super) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant bounds are valid")
}

impl Target {
    /// Makes one call; the error kind when it fails.
    async fn call(&self, request: &Request) -> Result<(), String> {
        match self {
            Target::Quic(client) => {
                let opts = CallOpts {
                    deadline: Some(request.timeout),
                    meta: None,
                };
                let call = async {
                    let stream = client
                        .call_with(&request.node, request.args.clone(), opts)
                        .await?;
                    stream.result().await
                };
                // The server enforces the deadline; this bounds a lost answer.
                match tokio::time::timeout(request.timeout + Duration::from_secs(5), call).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.kind().to_owned()),
                    Err(_) => Err("timeout".into()),
                }
            }
            Target::Http {
                client,
                base,
                token,
            } => {
                let mut post = client
                    .post(format!("{base}/v1/call/{}", request.node))
                    .header("content-type", "application/json")
                    .header("warden-timeout-ms", request.timeout.as_millis().to_string())
                    .timeout(request.timeout + Duration::from_secs(5))
                    .body(request.json.clone());
                if let Some(token) = token {
                    post = post.bearer_auth(token);
                }
                let response = post.send().await.map_err(|e| {
                    if e.is_timeout() {
                        "timeout".to_owned()
                    } else {
                        "connect".to_owned()
                    }
                })?;
                if response.status().is_success() {
                    // Read the body: the call is done when its answer is.
                    response
                        .bytes()
                        .await
                        .map(|_| ())
                        .map_err(|_| "connection-lost".to_owned())
                } else {
                    let status = response.status().as_u16();
                    let body: serde_json::Value = response.json().await.unwrap_or_default();
                    Err(body["kind"]
                        .as_str()
                        .map_or_else(|| format!("http-{status}"), str::to_owned))
                }
            }
        }
    }
}

/// Runs `request` against `target` with `concurrency` calls in flight until
/// `stop`, showing a progress line on a terminal unless `quiet`.
pub(super) async fn run(
    target: Arc<Target>,
    request: Arc<Request>,
    concurrency: usize,
    stop: Stop,
    quiet: bool,
) -> Outcome {
    let started = Instant::now();
    let issued = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let progress = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let (done, failed, finished) = (done.clone(), failed.clone(), finished.clone());
        tokio::spawn(async move {
            while !finished.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                draw(
                    stop,
                    started.elapsed(),
                    done.load(Ordering::Relaxed),
                    failed.load(Ordering::Relaxed),
                );
            }
            eprint!("\r\x1b[2K");
        })
    });
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, request) = (target.clone(), request.clone());
            let (issued, done, failed) = (issued.clone(), done.clone(), failed.clone());
            tokio::spawn(async move {
                let mut latencies = histogram();
                let mut errors = BTreeMap::<String, u64>::new();
                loop {
                    let go = match stop {
                        Stop::After(d) => started.elapsed() < d,
                        Stop::Calls(n) => issued.fetch_add(1, Ordering::Relaxed) < n,
                    };
                    if !go {
                        break;
                    }
                    let t = Instant::now();
                    match target.call(&request).await {
                        Ok(()) => {
                            let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                            latencies.saturating_record(us.max(1));
                        }
                        Err(kind) => {
                            *errors.entry(kind).or_default() += 1;
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = histogram();
    let mut errors = BTreeMap::new();
    for worker in workers {
        // A worker only ends by returning; a panic would be a bug, counted.
        match worker.await {
            Ok((h, e)) => {
                let _ = latencies.add(&h);
                for (kind, n) in e {
                    *errors.entry(kind).or_default() += n;
                }
            }
            Err(_) => *errors.entry("internal".to_owned()).or_default() += 1,
        }
    }
    let elapsed = started.elapsed();
    finished.store(true, Ordering::Relaxed);
    if let Some(progress) = progress {
        let _ = progress.await;
    }
    Outcome {
        latencies,
        errors,
        elapsed,
        concurrency,
        payload_bytes: request.payload_bytes,
    }
}

/// `[#######.............] 3.2 s / 10 s  12,345 calls  3,858/s  0 errors`
fn draw(stop: Stop, elapsed: Duration, done: u64, failed: u64) {
    let fraction = match stop {
        Stop::After(d) => elapsed.as_secs_f64() / d.as_secs_f64().max(1e-9),
        Stop::Calls(n) => done as f64 / (n.max(1)) as f64,
    }
    .clamp(0.0, 1.0);
    let width = 24;
    let filled = (fraction * width as f64).round() as usize;
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    eprint!(
        "\r\x1b[2K[{}{}] {:.1} s  {done} calls  {rate:.0}/s  {failed} errors",
        "#".repeat(filled),
        ".".repeat(width - filled),
        elapsed.as_secs_f64(),
    );
    let _ = std::io::stderr().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_bin_over_quic_and_number_arrays_over_http() {
        let quic = Request::payload("types/echo/echo-bytes", 3, Duration::from_secs(1), false);
        assert_eq!(
            quic.args,
            rmpv::Value::Array(vec![rmpv::Value::Binary(vec![0, 1, 2])])
        );
        assert_eq!(quic.payload_bytes, Some(3));
        let http = Request::payload("types/echo/echo-bytes", 257, Duration::from_secs(1), true);
        let json: serde_json::Value = serde_json::from_slice(&http.json).unwrap();
        assert_eq!(json[0].as_array().unwrap().len(), 257);
        assert_eq!(json[0][255], 255);
        assert_eq!(json[0][256], 0);
        let empty = Request::payload("n", 0, Duration::from_secs(1), true);
        assert_eq!(&empty.json[..], b"[[]]");
    }
}
