//! `warden bench NODE [ARGS..]`: a load generator for users, like `oha` or
//! `ghz`. It calls a served node with N calls in flight for a duration (or
//! a number of calls) over QUIC or the HTTP gateway and prints calls/s,
//! latency percentiles from an HDR histogram, a text histogram and errors
//! by kind (or JSON). Two sweeps print one line per run instead and can
//! draw calls/s and p99 against their steps (`--chart FILE.svg|.html`):
//! `--sweep` runs a series of concurrencies, `--sweep-bytes` a series of
//! payload sizes (each call sends one `list<u8>` of the step's size), to
//! show how cost grows with load or with payload.
//!
//! - `load`: the callers and the measurement;
//! - `report`: the summary as text or JSON, and a sweep's table;
//! - `chart`: a sweep's SVG/HTML chart.

mod chart;
mod load;
mod report;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use load::{Outcome, Request, Stop, Target};

use super::Failure;
use super::client::{ConnectArgs, parse_args};
use crate::text::bytes_text;

/// The concurrencies of `--sweep` without a list.
const DEFAULT_SWEEP: &str = "1,2,4,8,16,32,64,128,256,512";
/// The most calls in flight one run may have.
const MAX_CONCURRENCY: usize = 4096;
/// The most runs one sweep may have.
const MAX_STEPS: usize = 32;
/// The largest payload a `--sweep-bytes` step may send.
const MAX_PAYLOAD: usize = 64 << 20;

/// Arguments of `warden bench`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("sweeps").args(["sweep", "sweep_bytes"])))]
pub(crate) struct BenchArgs {
    /// The node's full name, e.g. `math/add`.
    node: String,
    /// The arguments, as for `warden call` (not with --sweep-bytes, which
    /// sends its own).
    args: Vec<String>,
    /// Calls in flight at once (on one QUIC connection, or the HTTP client's
    /// connection pool).
    #[arg(long, short = 'c', default_value_t = 1)]
    concurrency: usize,
    /// How long to run, in seconds (default 10; with --sweep or
    /// --sweep-bytes, per step, default 3).
    #[arg(long, short = 'd', value_name = "SECONDS", conflicts_with = "calls")]
    duration: Option<f64>,
    /// Stop after this many calls (per step, in a sweep) instead of after a
    /// duration.
    #[arg(long, short = 'n')]
    calls: Option<u64>,
    /// Each call's deadline, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    timeout: f64,
    /// Call through the HTTP gateway at this base URL (e.g.
    /// `http://127.0.0.1:8080`) instead of QUIC.
    #[arg(long, value_name = "URL")]
    http: Option<String>,
    /// Print the figures as JSON (one object per run) instead of text.
    #[arg(long)]
    json: bool,
    /// Run once per number of calls in flight in LIST (comma-separated;
    /// default 1,2,4,…,512) and print one line per run.
    #[arg(long, value_name = "LIST", num_args = 0..=1, default_missing_value = DEFAULT_SWEEP)]
    sweep: Option<String>,
    /// Run once per payload size in LIST (comma-separated, e.g.
    /// `0,1KiB,64KiB,1MiB`: units B, KiB, MiB, or a number of bytes; at most
    /// 32 sizes of at most 64 MiB) at --concurrency calls in flight, and
    /// print one line per run. Each call sends the node one argument, a
    /// `list<u8>` of that many bytes (over --http a JSON array of numbers,
    /// so the gateway's body limits are reached sooner); sizes the server's
    /// limits refuse count as errors by kind. MB/s counts the request
    /// payload only: its bytes times the successful calls per second.
    #[arg(long, value_name = "LIST", conflicts_with_all = ["sweep", "args"])]
    sweep_bytes: Option<String>,
    /// With --sweep or --sweep-bytes: write calls/s and p99 latency against
    /// the calls in flight or the payload sizes to FILE, an SVG (or an HTML
    /// page with a table, for `.html`).
    #[arg(long, value_name = "FILE", requires = "sweeps")]
    chart: Option<PathBuf>,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// What a sweep varies from run to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweep {
    /// The calls in flight (`--sweep`).
    Concurrency,
    /// The size of the one `list<u8>` argument (`--sweep-bytes`).
    Payload,
}

impl Sweep {
    /// What its chart's x axis (and its HTML table's first column) is called.
    fn title(self) -> &'static str {
        match self {
            Sweep::Concurrency => "calls in flight",
            Sweep::Payload => "payload",
        }
    }

    /// Its table's first column, as short as the numbers below it.
    fn heading(self) -> &'static str {
        match self {
            Sweep::Concurrency => "in flight",
            Sweep::Payload => "payload",
        }
    }

    /// The step of `run`: `64` in flight, or a `64 KiB` payload.
    fn label(self, run: &Outcome) -> String {
        match (self, run.payload_bytes) {
            (Sweep::Payload, Some(n)) => bytes_text(n),
            _ => run.concurrency.to_string(),
        }
    }
}

/// One run: how many calls in flight and, with `--sweep-bytes`, how many
/// payload bytes.
#[derive(Debug, Clone, Copy)]
struct Step {
    concurrency: usize,
    payload_bytes: Option<usize>,
}

pub(crate) fn run(args: BenchArgs) -> Result<(), Failure> {
    let (sweep, steps) = match (&args.sweep, &args.sweep_bytes) {
        (_, Some(list)) => {
            let concurrency = check_concurrency(args.concurrency)?;
            let steps = parse_sizes(list)?
                .into_iter()
                .map(|n| Step {
                    concurrency,
                    payload_bytes: Some(n),
                })
                .collect();
            (Some(Sweep::Payload), steps)
        }
        (Some(list), None) => {
            let steps = parse_levels(list)?
                .into_iter()
                .map(|concurrency| Step {
                    concurrency,
                    payload_bytes: None,
                })
                .collect();
            (Some(Sweep::Concurrency), steps)
        }
        (None, None) => {
            let step = Step {
                concurrency: check_concurrency(args.concurrency)?,
                payload_bytes: None,
            };
            (None, vec![step])
        }
    };
    let stop = match (args.calls, args.duration) {
        (Some(0), _) => return Err(Failure::new("usage", "--calls must be at least 1")),
        (Some(n), _) => Stop::Calls(n),
        (None, Some(s)) if s.is_finite() && s > 0.0 && s <= 86_400.0 => {
            Stop::After(Duration::from_secs_f64(s))
        }
        (None, Some(_)) => {
            return Err(Failure::new(
                "usage",
                "--duration must be a positive number of seconds, at most a day",
            ));
        }
        (None, None) if sweep.is_some() => Stop::After(Duration::from_secs(3)),
        (None, None) => Stop::After(Duration::from_secs(10)),
    };
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(Failure::new(
            "usage",
            "--timeout must be a positive number of seconds",
        ));
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let call_args = parse_args(&args.args)?;
    let http = args.http.is_some();
    let transport = if http { "http" } else { "quic" };
    super::tokio()?.block_on(async {
        let target = Arc::new(target(&args).await?);
        let request = Arc::new(Request::new(&args.node, call_args, timeout, http));
        let mut runs = Vec::new();
        for step in steps {
            // Each payload is made just before its run, so at most one is held.
            let request = match step.payload_bytes {
                Some(n) => Arc::new(Request::payload(&args.node, n, timeout, http)),
                None => request.clone(),
            };
            let outcome =
                load::run(target.clone(), request, step.concurrency, stop, args.json).await;
            if args.json {
                println!("{}", outcome.to_json(&args.node, transport));
            } else if let Some(sweep) = sweep {
                if runs.is_empty() {
                    let with_mb = sweep == Sweep::Payload;
                    println!("{}", report::sweep_header(sweep.heading(), with_mb));
                }
                println!("{}", outcome.sweep_row(&sweep.label(&outcome)));
            } else {
                print!("{}", outcome.to_text(&args.node, transport));
            }
            runs.push(outcome);
        }
        if let Target::Quic(client) = target.as_ref() {
            client.close().await;
        }
        if let (Some(file), Some(sweep)) = (&args.chart, sweep) {
            let title = format!("{} over {transport}", args.node);
            let axis = chart::Axis {
                title: sweep.title().to_owned(),
                labels: runs.iter().map(|r| sweep.label(r)).collect(),
            };
            let page = if file.extension().is_some_and(|e| e == "html") {
                chart::html(&title, &axis, &runs)
            } else {
                chart::svg(&title, &axis, &runs)
            };
            std::fs::write(file, page).map_err(|e| {
                Failure::new("usage", format!("cannot write `{}`: {e}", file.display()))
            })?;
            eprintln!("warden bench: chart written to {}", file.display());
        }
        // Every call failing is a failed benchmark (wrong node, arguments, access).
        match runs.iter().all(|r| r.latencies.is_empty()) {
            true => Err(all_failed(&args.node, sweep, &runs)),
            false => Ok(()),
        }
    })
}

/// The failure of a benchmark in which no call succeeded: its most common
/// error kind, the counts of each, and for `--sweep-bytes` refused
/// arguments, what the node was sent.
fn all_failed(node: &str, sweep: Option<Sweep>, runs: &[Outcome]) -> Failure {
    let mut errors = std::collections::BTreeMap::<&str, u64>::new();
    for (kind, n) in runs.iter().flat_map(|r| &r.errors) {
        *errors.entry(kind).or_default() += n;
    }
    let Some((kind, _)) = errors.iter().max_by_key(|(_, n)| **n) else {
        return Failure::new("usage", format!("no call of `{node}` was made"));
    };
    let counts: Vec<String> = errors.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let mut message = format!("no call of `{node}` succeeded ({})", counts.join(", "));
    if sweep == Some(Sweep::Payload) && errors.contains_key("bad-args") {
        message.push_str(
            "; --sweep-bytes sends each call one argument, a `list<u8>` of the step's size, \
             so the node must take exactly one `list<u8>` parameter",
        );
    }
    Failure::new(*kind, message)
}

async fn target(args: &BenchArgs) -> Result<Target, Failure> {
    match &args.http {
        Some(url) => {
            let base = url.trim_end_matches('/').to_owned();
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(Failure::new(
                    "usage",
                    format!("--http wants a base URL like http://127.0.0.1:8080, not `{url}`"),
                ));
            }
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(MAX_CONCURRENCY)
                .build()
                .map_err(|e| Failure::new("internal", format!("HTTP client: {e}")))?;
            Ok(Target::Http {
                client,
                base,
                token: args.connect.token().map(str::to_owned),
            })
        }
        None => Ok(Target::Quic(args.connect.connect().await?)),
    }
}

fn check_concurrency(n: usize) -> Result<usize, Failure> {
    if (1..=MAX_CONCURRENCY).contains(&n) {
        Ok(n)
    } else {
        Err(Failure::new(
            "usage",
            format!("calls in flight must be between 1 and {MAX_CONCURRENCY}, not {n}"),
        ))
    }
}

fn parse_levels(list: &str) -> Result<Vec<usize>, Failure> {
    let levels = list
        .split(',')
        .map(|s| {
            s.trim().parse::<usize>().map_err(|_| {
                Failure::new(
                    "usage",
                    format!("--sweep wants numbers of calls in flight like 1,8,64, not `{s}`"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if levels.len() > MAX_STEPS {
        return Err(Failure::new(
            "usage",
            format!("--sweep takes at most {MAX_STEPS} steps"),
        ));
    }
    levels.into_iter().map(check_concurrency).collect()
}

/// The payload sizes of `--sweep-bytes LIST`: `0,1KiB,64KiB,1MiB` or plain
/// byte counts, at most [`MAX_STEPS`] of them, each at most [`MAX_PAYLOAD`].
fn parse_sizes(list: &str) -> Result<Vec<usize>, Failure> {
    let items: Vec<&str> = list.split(',').map(str::trim).collect();
    if items.len() > MAX_STEPS {
        return Err(Failure::new(
            "usage",
            format!(
                "--sweep-bytes takes at most {MAX_STEPS} sizes, not {}",
                items.len()
            ),
        ));
    }
    items
        .into_iter()
        .map(|item| {
            let size = crate::units::parse_size(item).ok_or_else(|| {
                Failure::new(
                    "usage",
                    format!(
                        "--sweep-bytes wants sizes like 0,1KiB,64KiB,1MiB (units B, KiB, MiB, \
                         or a number of bytes), not `{item}`"
                    ),
                )
            })?;
            if size > MAX_PAYLOAD {
                return Err(Failure::new(
                    "usage",
                    format!(
                        "--sweep-bytes: `{item}` is more than the {} one call may send",
                        bytes_text(MAX_PAYLOAD)
                    ),
                ));
            }
            Ok(size)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_are_lists_of_bounded_concurrencies() {
        assert_eq!(parse_levels(DEFAULT_SWEEP).unwrap().len(), 10);
        assert_eq!(parse_levels("1, 8").unwrap(), [1, 8]);
        assert!(parse_levels("0").is_err());
        assert!(parse_levels("5000").is_err());
        assert!(parse_levels("a").is_err());
    }

    #[test]
    fn payload_sizes_read_like_people_write_them() {
        assert_eq!(
            parse_sizes("0,1KiB, 64 KiB,1MiB,100,7B").unwrap(),
            [0, 1024, 64 << 10, 1 << 20, 100, 7]
        );
        assert_eq!(parse_sizes("64MiB").unwrap(), [64 << 20]);
        for (list, item) in [
            ("1,abc", "`abc`"),
            ("16,,32", "``"),
            ("1KB", "`1KB`"),
            ("-1", "`-1`"),
            ("1.5KiB", "`1.5KiB`"),
            ("100MiB", "`100MiB`"),
            ("99999999999999999999999", "`99999999999999999999999`"),
        ] {
            match parse_sizes(list) {
                Err(e) => {
                    assert_eq!(e.kind, "usage");
                    assert!(e.message().contains(item), "{list}: {}", e.message());
                }
                Ok(sizes) => panic!("{list} gave {sizes:?}"),
            }
        }
        assert!(
            parse_sizes("100MiB")
                .unwrap_err()
                .message()
                .contains("more than the 64 MiB")
        );
        let many = vec!["1"; MAX_STEPS + 1].join(",");
        assert!(
            parse_sizes(&many)
                .unwrap_err()
                .message()
                .contains("at most 32")
        );
        assert_eq!(
            parse_sizes(&vec!["1"; MAX_STEPS].join(",")).unwrap().len(),
            32
        );
    }
}
