//! A Rust program calling Warden nodes over QUIC.
//!
//! Start a server with the example plugins, then run this:
//!
//! ```sh
//! warden serve target/wasm-plugins/wasm32-wasip2/release
//! cargo run --example client -- 127.0.0.1:7443 FINGERPRINT
//! ```
//!
//! FINGERPRINT is printed by `warden serve`; without it the client trusts the
//! certificate a local server keeps in its state directory.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use rmpv::Value;
use warden_host::rpc::{CallOpts, Client, ClientError, Event, Trust, tls};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7443".into());
    let trust = match args.next() {
        Some(fp) => Trust::Fingerprint(tls::parse_fingerprint(&fp)?),
        None => Trust::Fingerprint(
            tls::local_fingerprint(&warden_host::rpc::default_state_dir())
                .context("no fingerprint given and no local server state")?,
        ),
    };
    let client = Client::connect(&addr, trust).await?;

    // One call: arguments as an array in order.
    let sum = client
        .call("math/add", Value::Array(vec![40.into(), 2.into()]))
        .await?;
    println!("math/add(40, 2) = {sum}");

    // Arguments as a map by parameter name.
    let args = Value::Map(vec![("s".into(), "hello from rust".into())]);
    println!(
        "text/strings/upper = {}",
        client.call("text/strings/upper", args).await?
    );

    // A node error: the node's `err` value arrives as details.
    match client
        .call("math/divide", Value::Array(vec![1.into(), 0.into()]))
        .await
    {
        Err(ClientError::Call(e)) => {
            println!("math/divide(1, 0) failed: {} ({})", e.message, e.kind)
        }
        other => println!("math/divide(1, 0) = {other:?}"),
    }

    // 200 concurrent calls over the one connection.
    let started = Instant::now();
    let calls = (0..200i64).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .call("math/add", Value::Array(vec![i.into(), 1.into()]))
                .await
        })
    });
    let mut total = 0;
    for call in futures::future::join_all(calls).await {
        total += call?
            .map_err(anyhow::Error::from)?
            .as_i64()
            .unwrap_or_default();
    }
    println!(
        "200 concurrent calls summed to {total} in {:?}",
        started.elapsed()
    );

    // A long call that reports progress while it runs.
    let mut stream = client
        .call_with(
            "math/slow-sum",
            Value::Array(vec![10.into(), 50.into()]),
            CallOpts::default(),
        )
        .await?;
    while let Some(event) = stream.next().await {
        match event {
            Event::Progress { fraction, message } => {
                println!("  {:>3.0}% {message}", fraction * 100.0)
            }
            Event::Log { level, message } => println!("  [{level}] {message}"),
            Event::Item(item) => println!("  item {item}"),
        }
    }
    println!("math/slow-sum(10) = {}", stream.result().await?);

    // A stream node: items arrive one by one as the node produces them.
    let mut numbers = client
        .stream(
            "streams/counter/count",
            Value::Array(vec![5.into(), 0.into()]),
        )
        .await?;
    let mut got = Vec::new();
    while let Some(item) = numbers.next().await {
        got.push(item?.to_string());
    }
    println!("streams/counter/count(5) streamed {}", got.join(", "));

    // A channel node: send messages while reading the answers.
    let (mut sender, mut answers) = client
        .channel(
            "streams/chat/echo",
            Value::Array(vec!["echo: ".into()]),
            CallOpts::default(),
        )
        .await?;
    for word in ["one", "two", "three"] {
        sender.send(word.into()).await?;
    }
    sender.finish();
    while let Some(event) = answers.next().await {
        if let Event::Item(answer) = event {
            println!("  chat answered {answer}");
        }
    }
    answers.result().await?;

    // A job: submitted now, fetched later (from any connection).
    let job = client
        .submit(
            "math/slow-sum",
            Value::Array(vec![5.into(), 20.into()]),
            None,
        )
        .await?;
    println!("submitted job {} ({})", job.id, job.state.as_str());
    let done = client
        .job(&job.id, Some(Duration::from_secs(30)), false)
        .await?;
    println!(
        "job {} is {}: {}",
        done.id,
        done.state.as_str(),
        done.result.unwrap_or(Value::Nil)
    );
    Ok(())
}
