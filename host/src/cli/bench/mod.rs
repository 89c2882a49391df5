//! `warden bench NODE [ARGS..]`: a load generator for users, like `oha` or
//! `ghz`. It calls a served node with N calls in flight for a duration (or
//! a number of calls) over QUIC or the HTTP gateway and prints calls/s,
//! latency percentiles from an HDR histogram, a text histogram and errors
//! by kind (or JSON); `--sweep` runs a series of concurrencies and can draw
//! calls/s and p99 against them (`--chart FILE.svg|.html`).
//!
//! - `load`: the callers and the measurement;
//! - `report`: the summary as text or JSON;
//! - `chart`: the sweep's SVG/HTML chart.

mod chart;
mod load;
mod report;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use load::{Request, Stop, Target};

use super::Failure;
use super::client::{ConnectArgs, parse_args};

/// The concurrencies of `--sweep` without a list.
const DEFAULT_SWEEP: &str = "1,2,4,8,16,32,64,128,256,512";
/// The most calls in flight one run may have.
const MAX_CONCURRENCY: usize = 4096;

/// Arguments of `warden bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// The node's full name, e.g. `math/add`.
    node: String,
    /// The arguments, as for `warden call`.
    args: Vec<String>,
    /// Calls in flight at once (on one QUIC connection, or the HTTP client's
    /// connection pool).
    #[arg(long, short = 'c', default_value_t = 1)]
    concurrency: usize,
    /// How long to run, in seconds (default 10; with --sweep, per step, default 3).
    #[arg(long, short = 'd', value_name = "SECONDS", conflicts_with = "calls")]
    duration: Option<f64>,
    /// Stop after this many calls instead of after a duration.
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
    /// With --sweep: write calls/s and p99 latency against the calls in
    /// flight to FILE, an SVG (or an HTML page with a table, for `.html`).
    #[arg(long, value_name = "FILE", requires = "sweep")]
    chart: Option<PathBuf>,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn run(args: BenchArgs) -> Result<(), Failure> {
    let levels = match &args.sweep {
        Some(list) => parse_levels(list)?,
        None => vec![check_concurrency(args.concurrency)?],
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
        (None, None) if args.sweep.is_some() => Stop::After(Duration::from_secs(3)),
        (None, None) => Stop::After(Duration::from_secs(10)),
    };
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(Failure::new(
            "usage",
            "--timeout must be a positive number of seconds",
        ));
    }
    let call_args = parse_args(&args.args)?;
    let request = Arc::new(Request {
        node: args.node.clone(),
        json: crate::json::from_msgpack(&call_args).to_string(),
        args: call_args,
        timeout: Duration::from_secs_f64(args.timeout),
    });
    let transport = if args.http.is_some() { "http" } else { "quic" };
    super::tokio()?.block_on(async {
        let target = Arc::new(target(&args).await?);
        let mut runs = Vec::new();
        for concurrency in levels {
            let outcome = load::run(
                target.clone(),
                request.clone(),
                concurrency,
                stop,
                args.json,
            )
            .await;
            if args.json {
                println!("{}", outcome.to_json(&args.node, transport));
            } else if args.sweep.is_some() {
                let l = outcome.latency();
                let errors: u64 = outcome.errors.values().sum();
                if runs.is_empty() {
                    println!(
                        "{:>9}  {:>10}  {:>10}  {:>10}  {:>10}  errors",
                        "in flight", "calls/s", "p50", "p99", "max"
                    );
                }
                println!(
                    "{:>9}  {:>10.0}  {:>10}  {:>10}  {:>10}  {errors}",
                    concurrency,
                    outcome.rate(),
                    report::duration(l.p50),
                    report::duration(l.p99),
                    report::duration(l.max),
                );
            } else {
                print!("{}", outcome.to_text(&args.node, transport));
            }
            runs.push(outcome);
        }
        if let Target::Quic(client) = target.as_ref() {
            client.close().await;
        }
        if let Some(file) = &args.chart {
            let title = format!("{} over {transport}", args.node);
            let page = if file.extension().is_some_and(|e| e == "html") {
                chart::html(&title, &runs)
            } else {
                chart::svg(&title, &runs)
            };
            std::fs::write(file, page).map_err(|e| {
                Failure::new("usage", format!("cannot write `{}`: {e}", file.display()))
            })?;
            eprintln!("warden bench: chart written to {}", file.display());
        }
        // Every call failing is a failed benchmark (wrong node, arguments, access).
        match runs.iter().all(|r| r.latencies.is_empty()) {
            true => Err(Failure::new(
                runs.iter()
                    .flat_map(|r| r.errors.keys())
                    .next()
                    .cloned()
                    .unwrap_or_else(|| "usage".into()),
                format!("no call of `{}` succeeded", args.node),
            )),
            false => Ok(()),
        }
    })
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
    if levels.len() > 32 {
        return Err(Failure::new("usage", "--sweep takes at most 32 steps"));
    }
    levels.into_iter().map(check_concurrency).collect()
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
}
