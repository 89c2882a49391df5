//! Callers over real QUIC: tokens, node patterns, manifests' caller lists,
//! private nodes, blob upload and download, and connection guards.

use rmpv::Value;
use warden_host::ErrorKind;
use warden_host::access::{AccessConfig, CallerConfig, ConnectionLimits, hash_token};
use warden_host::caps::BlobsGrant;
use warden_host::host::HostConfig;
use warden_host::rpc::ClientError;

use crate::harness::server::Setup;
use crate::support::{example, mp, test_plugin};

pub(crate) const ALICE: &str = "wdn_alice-token";
const BOB: &str = "wdn_bob-token";

pub(crate) fn access() -> AccessConfig {
    AccessConfig {
        anonymous: vec!["math/add".into()],
        callers: vec![
            CallerConfig {
                name: "alice".into(),
                token_sha256: hash_token(ALICE),
                nodes: vec!["*".into()],
                blobs: Some(BlobsGrant::ReadWrite),
            },
            CallerConfig {
                name: "bob".into(),
                token_sha256: hash_token(BOB),
                nodes: vec!["text/*".into()],
                blobs: None,
            },
        ],
    }
}

/// A server over a plugin directory with manifests: callers and plugins
/// share one blob store, as in `warden serve`.
pub(crate) fn plugins() -> Setup {
    let grants = "[grants]\nkv = true\nblobs = \"read\"\ninvoke = [\"math/*\"]\n";
    Setup::new()
        .plugin("math", &example("math"), "")
        .plugin("text", &example("text"), "")
        .plugin(
            "carols",
            &example("math"),
            "[access]\ncallers = [\"carol\"]\n",
        )
        .plugin(
            "vault",
            &test_plugin("caps"),
            &format!("{grants}[access]\nprivate = [\"secret\"]\n"),
        )
        .plugin("streams", &example("streams"), "")
        .plugin("recorder", &test_plugin("caps"), grants)
        .plugin("streamy", &test_plugin("streamy"), "")
}

fn call_err(result: Result<Value, ClientError>) -> warden_host::CallError {
    match result {
        Err(ClientError::Call(e)) => e,
        other => panic!("expected a call error, got {other:?}"),
    }
}

fn with_access() -> HostConfig {
    HostConfig {
        access: Some(access()),
        ..HostConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_reach_only_what_their_token_and_the_manifest_allow() {
    let served = plugins().config(with_access()).start().await;

    let anon = served.client_with(None).await.unwrap();
    assert_eq!(
        anon.call("math/add", mp("[1, 2]")).await.unwrap(),
        Value::from(3)
    );
    let e = call_err(anon.call("text/upper", mp(r#"["x"]"#)).await);
    assert_eq!(e.kind, ErrorKind::Unauthenticated);
    assert!(
        e.message.contains("needs a caller token") && e.message.contains("--token"),
        "{}",
        e.message
    );
    let status = anon.status().await.unwrap_err();
    assert_eq!(status.kind(), "unauthenticated");
    let names: Vec<String> = anon
        .catalog()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.node)
        .collect();
    assert_eq!(
        names,
        ["math/add"],
        "anonymous callers see only what they may call"
    );

    // Whether a node exists is not an anonymous caller's to learn.
    let existing = anon.describe("text/strings/upper").await.unwrap_err();
    let missing = anon.describe("text/no-such-node").await.unwrap_err();
    assert_eq!(existing.kind(), missing.kind());
    assert_eq!(
        existing.to_string().replace("strings/upper", "X"),
        missing.to_string().replace("no-such-node", "X")
    );

    match served.client_with(Some("wdn_wrong")).await {
        Err(ClientError::Call(e)) => {
            assert_eq!(e.kind, ErrorKind::Unauthenticated);
            assert!(e.message.contains("matches no caller"), "{}", e.message);
        }
        other => panic!("a wrong token was accepted: {:?}", other.map(|_| ())),
    }

    let bob = served.client_with(Some(BOB)).await.unwrap();
    assert_eq!(
        bob.call("text/strings/upper", mp(r#"["hi"]"#))
            .await
            .unwrap(),
        Value::from("HI")
    );
    let e = call_err(bob.call("math/add", mp("[1, 2]")).await);
    assert_eq!(e.kind, ErrorKind::Denied);
    assert!(
        e.message.contains("caller `bob` may not call `math/add`")
            && e.message.contains("`text/*`"),
        "{}",
        e.message
    );
    assert!(
        bob.catalog()
            .await
            .unwrap()
            .iter()
            .all(|n| n.node.starts_with("text/"))
    );

    let alice = served.client_with(Some(ALICE)).await.unwrap();
    assert_eq!(
        alice.call("math/add", mp("[2, 2]")).await.unwrap(),
        Value::from(4)
    );
    // A manifest's caller list narrows the host's permission further.
    let e = call_err(alice.call("carols/add", mp("[1, 1]")).await);
    assert_eq!(e.kind, ErrorKind::Denied);
    assert!(
        e.message.contains("only from callers `carol`") && e.message.contains("`alice`"),
        "{}",
        e.message
    );
    // Private nodes are for `invoke` only, whoever asks, and look exactly
    // like nodes that do not exist: their names cannot be probed.
    let e = call_err(alice.call("vault/secret", mp("[]")).await);
    let missing = call_err(alice.call("vault/no-such-node", mp("[]")).await);
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(
        e.message.replace("secret", "X"),
        missing.message.replace("no-such-node", "X")
    );
    let described = alice.describe("vault/secret").await.unwrap_err();
    assert_eq!(described.kind(), "not-found");
    assert!(alice.status().await.is_ok());

    for c in [anon, bob, alice] {
        c.close().await;
    }
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_blob_goes_up_and_down_by_reference_with_its_hash_intact() {
    let served = plugins().config(with_access()).start().await;
    let data: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let expected = format!("blake3:{}", blake3::hash(&data).to_hex());

    let alice = served.client_with(Some(ALICE)).await.unwrap();
    let info = alice
        .put_blob(data.as_slice(), Some(data.len() as u64))
        .await
        .unwrap();
    assert_eq!(info.reference, expected);
    assert_eq!(info.size, 64 << 20);

    let mut back = Vec::new();
    let got = alice.get_blob(&info.reference, &mut back).await.unwrap();
    assert_eq!(got.size, 64 << 20);
    assert_eq!(back.len(), data.len());
    assert!(
        blake3::hash(&back) == blake3::hash(&data),
        "the downloaded bytes differ"
    );
    drop(back);

    // A wrong announced size is refused; so is a malformed or unknown ref.
    let short = alice.put_blob(&b"abc"[..], Some(4)).await.unwrap_err();
    assert_eq!(short.kind(), "bad-request", "{short}");
    let unknown = alice
        .get_blob(&format!("blake3:{}", "0".repeat(64)), Vec::new())
        .await
        .unwrap_err();
    assert_eq!(unknown.kind(), "not-found");

    let bob = served.client_with(Some(BOB)).await.unwrap();
    let e = bob.put_blob(&b"x"[..], Some(1)).await.unwrap_err();
    assert_eq!(e.kind(), "denied", "{e}");
    assert!(
        e.message().contains("blobs = \"read-write\""),
        "{}",
        e.message()
    );
    let anon = served.client_with(None).await.unwrap();
    assert_eq!(
        anon.get_blob(&expected, Vec::new())
            .await
            .unwrap_err()
            .kind(),
        "unauthenticated"
    );
    for c in [alice, bob, anon] {
        c.close().await;
    }
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_reads_a_blob_the_caller_uploaded_by_its_reference() {
    // No access config: an open (loopback) server lets every caller use blobs.
    let served = plugins().start().await;
    let client = served.client_with(None).await.unwrap();
    let info = client.put_blob(&b"hello, blob"[..], None).await.unwrap();
    let arg = mp(&format!(r#"["{}"]"#, info.reference));
    assert_eq!(
        client.call("vault/blob-size", arg.clone()).await.unwrap(),
        Value::from(11)
    );
    assert_eq!(
        client.call("vault/blob-get", arg).await.unwrap(),
        Value::Binary(b"hello, blob".to_vec())
    );
    client.close().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_guards_refuse_with_a_reason() {
    let limits = ConnectionLimits {
        max_per_ip: Some(2),
        ..ConnectionLimits::default()
    };
    let served = plugins()
        .config(HostConfig {
            connections: limits,
            ..HostConfig::default()
        })
        .start()
        .await;
    let a = served.client_with(None).await.unwrap();
    let b = served.client_with(None).await.unwrap();
    assert_eq!(
        a.call("math/add", mp("[1, 1]")).await.unwrap(),
        Value::from(2)
    );
    assert_eq!(
        b.call("math/add", mp("[1, 1]")).await.unwrap(),
        Value::from(2)
    );
    let third = match served.client_with(None).await {
        Ok(c) => c.call("math/add", mp("[1, 1]")).await.unwrap_err(),
        Err(e) => e,
    };
    assert!(
        third.to_string().contains("maximum of 2 connections"),
        "{third}"
    );
    a.close().await;
    b.close().await;
    served.stop().await;

    let denied = plugins()
        .config(HostConfig {
            connections: ConnectionLimits {
                deny: vec!["127.0.0.0/8".into()],
                ..ConnectionLimits::default()
            },
            ..HostConfig::default()
        })
        .start()
        .await;
    let refused = match denied.client_with(None).await {
        Ok(c) => c.call("math/add", mp("[1, 1]")).await.unwrap_err(),
        Err(e) => e,
    };
    assert!(
        refused.to_string().contains("deny 127.0.0.0/8"),
        "{refused}"
    );
    denied.stop().await;
}
