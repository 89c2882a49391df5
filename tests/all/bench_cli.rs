//! `warden bench` against a served node, over QUIC and HTTP: the counts it
//! reports add up, failures are counted by kind, and a sweep (of calls in
//! flight or of payload sizes) draws a chart.

use crate::harness::server::{Setup, TestServer};
use crate::support::{example, test_plugin, warden};

async fn serve() -> TestServer {
    Setup::new()
        .plugin("math", &example("math"), "")
        .plugin("types", &test_plugin("types"), "")
        .http()
        .start()
        .await
}

/// `warden bench ARGS` against `server` (off the async runtime's threads).
async fn bench(server: &TestServer, args: &[&str]) -> std::process::Output {
    let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    all.extend(["--addr".into(), server.addr.clone()]);
    all.extend(["--fingerprint".into(), server.fingerprint.clone()]);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut with_bench = vec!["bench"];
        with_bench.extend(args);
        warden(&with_bench)
    })
    .await
    .unwrap()
}

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_counts_calls_latencies_and_errors_over_quic_and_http() {
    let server = serve().await;
    let out = bench(
        &server,
        &["math/add", "1", "2", "-c", "4", "-n", "300", "--json"],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let [run] = json_lines(&out).try_into().unwrap();
    assert_eq!(run["calls"], 300);
    assert_eq!(run["ok"], 300);
    assert_eq!(run["errors"], serde_json::json!({}));
    assert_eq!(run["concurrency"], 4);
    let l = &run["latency_us"];
    assert!(l["min"].as_u64().unwrap() > 0);
    assert!(l["p50"].as_u64() <= l["p99"].as_u64());
    assert!(l["p99"].as_u64() <= l["max"].as_u64());
    assert!(run["calls_per_sec"].as_f64().unwrap() > 0.0);

    let http = server.http.clone().unwrap();
    let out = bench(
        &server,
        &[
            "math/add", "1", "2", "-c", "2", "-n", "100", "--json", "--http", &http,
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let [run] = json_lines(&out).try_into().unwrap();
    assert_eq!(run["transport"], "http");
    assert_eq!(run["ok"], 100);

    // Every call failing: counted by kind, and the command fails.
    let out = bench(&server, &["math/divide", "1", "0", "-n", "20", "--json"]).await;
    assert!(!out.status.success());
    let [run] = json_lines(&out).try_into().unwrap();
    assert_eq!(run["errors"]["node-error"], 20);
    assert_eq!(run["ok"], 0);
    let out = bench(
        &server,
        &[
            "math/divide",
            "1",
            "0",
            "-n",
            "5",
            "--http",
            &http,
            "--json",
        ],
    )
    .await;
    let [run] = json_lines(&out).try_into().unwrap();
    assert_eq!(
        run["errors"]["node-error"], 5,
        "HTTP errors keep their kinds"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_text_report_and_a_sweep_with_a_chart() {
    let server = serve().await;
    let out = bench(&server, &["math/add", "1", "2", "-n", "200"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("200 calls"), "{text}");
    for label in ["p50", "p90", "p99", "max", "histogram:"] {
        assert!(text.contains(label), "{label}: {text}");
    }

    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("sweep.svg");
    let out = bench(
        &server,
        &[
            "math/add",
            "1",
            "2",
            "--sweep",
            "1,2,4",
            "-n",
            "60",
            "--chart",
            chart.to_str().unwrap(),
        ],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[2].trim_start().starts_with('4'), "{text}");
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
    assert_eq!(svg.matches("<polyline").count(), 2);
    assert_eq!(
        svg.matches("<circle").count(),
        6,
        "one point per step and line"
    );

    let out = bench(&server, &["math/add", "--sweep", "0"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("between 1 and"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_sweep_bytes_runs_one_step_per_payload_size_with_a_chart() {
    let server = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("payload.svg");
    let sweep = [
        "types/echo/echo-bytes",
        "--sweep-bytes",
        "16,4KiB,64KiB",
        "-n",
        "20",
    ];
    let mut args = sweep.to_vec();
    args.extend(["--chart", chart.to_str().unwrap()]);
    let out = bench(&server, &args).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    for column in ["payload", "calls/s", "MB/s", "p50", "p99", "max", "errors"] {
        assert!(header.contains(column), "{column}: {text}");
    }
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "one line per size: {text}");
    for (row, size) in rows.iter().zip(["16 bytes", "4 KiB", "64 KiB"]) {
        assert!(row.trim_start().starts_with(size), "{size}: {text}");
        assert!(row.ends_with("  0"), "no errors: {text}");
    }
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
    for label in [">payload<", ">16 bytes<", ">4 KiB<", ">64 KiB<"] {
        assert!(svg.contains(label), "{label}: {svg}");
    }
    assert!(!svg.contains("calls in flight"), "{svg}");
    assert_eq!(
        svg.matches("<circle").count(),
        6,
        "one point per step and line"
    );

    let mut args = sweep.to_vec();
    args.push("--json");
    let out = bench(&server, &args).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = json_lines(&out);
    assert_eq!(runs.len(), 3);
    for (run, size) in runs.iter().zip([16, 4096, 65536]) {
        assert_eq!(run["payload_bytes"], size, "{run}");
        assert_eq!(run["calls"], 20, "{run}");
        assert_eq!(run["ok"], 20, "{run}");
        assert_eq!(run["concurrency"], 1, "{run}");
        assert_eq!(run["errors"], serde_json::json!({}), "{run}");
    }

    // Over HTTP the bytes go as a JSON array of numbers.
    let http = server.http.clone().unwrap();
    let out = bench(
        &server,
        &[
            "types/echo/echo-bytes",
            "--sweep-bytes",
            "0,1KiB",
            "-n",
            "10",
            "-c",
            "2",
            "--json",
            "--http",
            &http,
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = json_lines(&out);
    assert_eq!(runs.len(), 2);
    for (run, size) in runs.iter().zip([0, 1024]) {
        assert_eq!(run["payload_bytes"], size, "{run}");
        assert_eq!(run["transport"], "http", "{run}");
        assert_eq!(run["ok"], 10, "{run}");
        assert_eq!(run["concurrency"], 2, "{run}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_sweep_bytes_refuses_bad_sizes_and_nodes_that_take_other_arguments() {
    let server = serve().await;
    for (list, item) in [("1,abc", "`abc`"), ("100MiB", "`100MiB`")] {
        let out = bench(&server, &["types/echo/echo-bytes", "--sweep-bytes", list]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{list}");
        assert!(stderr.contains("error[usage]"), "{list}: {stderr}");
        assert!(stderr.contains(item), "{list}: {stderr}");
        assert!(out.stdout.is_empty(), "nothing ran: {list}");
    }
    for conflicting in [
        &["types/echo/echo-bytes", "--sweep-bytes", "16", "--sweep"][..],
        &["math/add", "1", "2", "--sweep-bytes", "16"][..],
    ] {
        let out = bench(&server, conflicting).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{conflicting:?}");
        assert!(stderr.contains("cannot be used with"), "{stderr}");
    }

    // `math/add` takes two numbers, not one `list<u8>`.
    let out = bench(&server, &["math/add", "--sweep-bytes", "16", "-n", "5"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("error[bad-args]"), "{stderr}");
    assert!(stderr.contains("5 bad-args"), "{stderr}");
    assert!(stderr.contains("`list<u8>`"), "{stderr}");
    assert!(
        stdout.lines().nth(1).unwrap().ends_with("  5 (bad-args)"),
        "{stdout}"
    );
    server.stop().await;
}
