//! Streaming and channel nodes over real QUIC: order, completeness,
//! back-pressure, cancellation and errors mid-stream.

use std::time::Duration;

use futures::StreamExt;
use rmpv::Value;
use warden_host::ErrorKind;
use warden_host::rpc::{CallOpts, ClientError, Event};

use crate::access::plugins;
use crate::support::{eventually, mp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_100_000_items_arrives_complete_and_in_order() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    let info = client.describe("streamy/items/numbers").await.unwrap();
    assert_eq!(
        (info.kind.as_str(), info.item.as_deref()),
        ("stream", Some("u32"))
    );
    let items: Vec<Result<Value, ClientError>> = client
        .stream("streamy/items/numbers", mp("[100000]"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 100_000);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item.as_ref().unwrap(), &Value::from(i as u64), "item {i}");
    }
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_holds_the_producer_back_and_cancelling_stops_it() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    // 10,000 blocks of 64 KiB: 640 MiB if the host buffered them all.
    let mut stream = client
        .call_with(
            "streamy/items/blocks",
            mp("[10000, 65536]"),
            CallOpts::default(),
        )
        .await
        .unwrap();
    let mut read = 0;
    while read < 5 {
        match stream.next().await {
            Some(Event::Item(Value::String(s))) => {
                assert_eq!(s.as_str().map(str::len), Some(65536));
                read += 1;
            }
            Some(_) => {}
            None => panic!("the stream ended early"),
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = served.stats.items_sent();
    // What QUIC's 4 MiB stream window holds (64 blocks), the host's buffer
    // of 16 and a little slack: nowhere near 10,000.
    assert!(sent < 200, "{sent} items sent to a reader that took 5");
    assert_eq!(served.stats.running_calls(), 1);

    drop(stream);
    assert!(
        eventually(30, || served.stats.running_calls() == 0).await,
        "the call did not stop"
    );
    let after = served.stats.items_sent();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(served.stats.items_sent(), after, "the guest kept producing");
    client.close().await;
    served.stop().await;
}

/// A client that stops reading does not keep a stream node running past
/// its deadline, nor hold its call slots: the call ends, and the stream is
/// reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_reading_does_not_hold_the_call_past_its_deadline() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    let opts = CallOpts {
        deadline: Some(Duration::from_millis(800)),
        meta: None,
    };
    // 10,000 blocks of 64 KiB, and the client never reads one.
    let stream = client
        .call_with("streamy/items/blocks", mp("[10000, 65536]"), opts)
        .await
        .unwrap();
    assert!(eventually(10, || served.stats.running_calls() == 1).await);
    assert!(
        eventually(20, || served.stats.running_calls() == 0).await,
        "the call outlived its deadline because its client did not read"
    );
    let sent = served.stats.items_sent();
    assert!(
        sent < 200,
        "{sent} items were written to a reader that took none"
    );
    drop(stream);
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_ends_a_stream_after_the_items_already_sent() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    let items: Vec<Result<Value, ClientError>> = client
        .stream("streamy/items/failing", mp("[5]"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 6);
    for (i, item) in items[..5].iter().enumerate() {
        assert_eq!(item.as_ref().unwrap(), &Value::from(i as u64));
    }
    match &items[5] {
        Err(ClientError::Call(e)) => {
            assert_eq!(e.kind, ErrorKind::NodeError);
            assert_eq!(e.message, "failed after 5 items");
        }
        other => panic!("expected a node error, got {other:?}"),
    }
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplex_echo_of_10_000_messages_comes_back_in_order() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    let info = client.describe("streams/chat/echo").await.unwrap();
    assert_eq!(info.kind, warden_host::NodeKind::Channel);
    assert_eq!(
        (info.input.as_deref(), info.item.as_deref()),
        (Some("string"), Some("string"))
    );
    let (mut sender, mut answers) = client
        .channel("streams/chat/echo", mp(r#"["> "]"#), CallOpts::default())
        .await
        .unwrap();
    let feeding = tokio::spawn(async move {
        for i in 0..10_000 {
            sender.send(Value::from(format!("m{i}"))).await.unwrap();
        }
        sender.finish();
    });
    let mut got = Vec::new();
    while let Some(event) = answers.next().await {
        if let Event::Item(v) = event {
            got.push(v.as_str().unwrap().to_owned());
        }
    }
    assert_eq!(answers.result().await.unwrap(), Value::Nil);
    feeding.await.unwrap();
    assert_eq!(got.len(), 10_001);
    for (i, line) in got[..10_000].iter().enumerate() {
        assert_eq!(line, &format!("> m{i}"));
    }
    assert_eq!(got[10_000], "bye after 10000 message(s)");
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_disappears_cancels_a_channel_and_bad_input_is_refused() {
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    let (mut sender, mut answers) = client
        .channel("streams/chat/echo", mp(r#"[""]"#), CallOpts::default())
        .await
        .unwrap();
    sender.send(Value::from("hello")).await.unwrap();
    assert_eq!(
        answers.next().await,
        Some(Event::Item(Value::from("hello")))
    );
    assert_eq!(served.stats.running_calls(), 1);
    drop(sender);
    drop(answers);
    assert!(
        eventually(30, || served.stats.running_calls() == 0).await,
        "the channel call did not stop"
    );

    let (mut sender, answers) = client
        .channel("streams/chat/echo", mp(r#"[""]"#), CallOpts::default())
        .await
        .unwrap();
    sender.send(Value::from(42)).await.unwrap();
    sender.finish();
    let e = answers.result().await.unwrap_err();
    assert_eq!(e.kind(), "bad-args", "{e}");
    assert!(e.message().contains("expected string"), "{}", e.message());
    client.close().await;
    served.stop().await;
}
