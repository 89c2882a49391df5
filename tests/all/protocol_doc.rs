//! The byte-exact examples of PROTOCOL.md, checked against the encoder
//! and, for the `describe` answer, against a running server.
//!
//! Each example in the document is a fenced block after a line
//! `<!-- bytes: NAME -->`; on every line of the block the bytes are the
//! leading two-digit hex words, and the rest is commentary. A mismatch
//! prints the annotated dump the document should show.

use rmpv::Value;
use warden_host::proto::{
    CallError, ErrorKind, JobInfo, JobState, NodeInfo, NodeKind, ParamInfo, Request, Response,
    encode_frame,
};

use crate::rpc::standard;

const PROTOCOL: &str = include_str!("../../PROTOCOL.md");

/// The bytes of example `name` in PROTOCOL.md.
fn documented(name: &str) -> Vec<u8> {
    let marker = format!("<!-- bytes: {name} -->");
    let start = PROTOCOL
        .find(&marker)
        .unwrap_or_else(|| panic!("PROTOCOL.md has no example `{name}`"));
    let rest = &PROTOCOL[start + marker.len()..];
    let open = rest.find("```").expect("a fenced block follows the marker");
    let body = &rest[open + 3..];
    let body = &body[body.find('\n').expect("a line after the fence") + 1..];
    let close = body.find("```").expect("the block is closed");
    let mut bytes = Vec::new();
    for line in body[..close].lines() {
        for word in line.split_whitespace() {
            let hex = word.len() == 2 && word.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex {
                break;
            }
            bytes.push(u8::from_str_radix(word, 16).expect("two hex digits"));
        }
    }
    bytes
}

/// `value` framed, dumped with one line per top-level entry (16 bytes a
/// line at most), for pasting into the document.
fn dump(value: &Value) -> String {
    let mut framed = Vec::new();
    encode_frame(value, &mut framed);
    let mut out = format!("{}   length {}\n", hex(&framed[..4]), framed.len() - 4);
    let Value::Map(entries) = value else {
        return out + &wrap(&framed[4..], "");
    };
    let header = match u8::try_from(entries.len()) {
        Ok(n) if n < 16 => vec![0x80 | n],
        _ => {
            let mut h = vec![0xde];
            h.extend_from_slice(&(entries.len() as u16).to_be_bytes());
            h
        }
    };
    out += &format!("{}   map, {} entries\n", hex(&header), entries.len());
    for (k, v) in entries {
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, k).expect("to a Vec");
        rmpv::encode::write_value(&mut bytes, v).expect("to a Vec");
        let json = warden_host::json::from_msgpack(v).to_string();
        let note = format!("\"{}\": {}", k.as_str().unwrap_or("?"), short(&json));
        out += &wrap(&bytes, &note);
    }
    out
}

fn short(json: &str) -> String {
    match json.char_indices().nth(48) {
        Some((i, _)) => format!("{}…", &json[..i]),
        None => json.to_owned(),
    }
}

fn wrap(bytes: &[u8], note: &str) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let line = hex(chunk);
        if i == 0 {
            out += &format!("{line:<50}{note}\n");
        } else {
            out += &format!("{line}\n");
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a framed example (length prefix and body).
fn check(name: &str, value: &Value) {
    let mut framed = Vec::new();
    encode_frame(value, &mut framed);
    let doc = documented(name);
    assert!(
        doc == framed,
        "PROTOCOL.md's `{name}` example does not match the encoder; it should read:\n{}",
        dump(value)
    );
}

/// Checks an example of a value inside a frame (no length prefix).
fn check_value(name: &str, value: &Value) {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, value).expect("to a Vec");
    let doc = documented(name);
    assert!(
        doc == bytes,
        "PROTOCOL.md's `{name}` example does not match the encoder; it should read \
         (without the length line):\n{}",
        dump(value)
    );
}

/// The catalog entry of the example plugin `text`'s `strings/upper`, as the
/// runtime reflects it.
fn upper() -> NodeInfo {
    let string = serde_json::json!({"type": "string"});
    NodeInfo {
        node: "text/strings/upper".into(),
        plugin: "text".into(),
        params: vec![ParamInfo {
            name: "s".into(),
            ty: "string".into(),
            schema: string.clone(),
        }],
        result: Some("string".into()),
        // From the WIT the plugin embeds (`#[warden_guest::plugin]`'s
        // `warden:wit` section).
        docs: Some("Upper-cases `s`.".into()),
        params_schema: serde_json::json!({
            "type": "object",
            "properties": {"s": {"type": "string"}},
            "required": ["s"],
            "additionalProperties": false,
        }),
        result_schema: string,
        kind: NodeKind::Call,
        item: None,
        item_schema: None,
        input: None,
        input_schema: None,
    }
}

#[test]
fn the_call_example_is_exact() {
    let request = Request::Call {
        node: "math/add".into(),
        args: Value::Array(vec![1.into(), 2.into()]),
        deadline_ms: None,
        meta: None,
    };
    check("call-request", &request.into_value());
    check("call-answer", &Response::Ok(Value::from(3)).into_value());
}

#[test]
fn the_catalog_entry_and_describe_examples_are_exact() {
    check_value("catalog-entry", &upper().to_value());
    check(
        "describe-answer",
        &Response::Ok(upper().to_value()).into_value(),
    );
}

#[test]
fn the_job_record_example_is_exact() {
    let job = JobInfo {
        id: "3f9c0a7d12e4b5c6".into(),
        node: "math/divide".into(),
        args: Value::Array(vec![1.into(), 0.into()]),
        caller: "alice".into(),
        state: JobState::Failed,
        result: None,
        error_kind: Some(ErrorKind::NodeError),
        error: Some("cannot divide 1 by zero".into()),
        callback: None,
        callback_error: None,
        created_ms: 1_764_547_200_000,
        finished_ms: Some(1_764_547_200_012),
        trace: None,
        callback_method: None,
        callback_key: None,
    };
    check_value("job-record", &job.to_value());
    assert_eq!(JobInfo::from_value(job.to_value()), Ok(job));
}

#[test]
fn the_error_example_is_exact() {
    let error = CallError::new(ErrorKind::NodeError, "cannot divide 1 by zero")
        .with_details(Value::from("cannot divide 1 by zero"));
    check("err-answer", &Response::Err(error).into_value());
}

/// A running server answers `describe` with exactly the documented bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_sends_the_documented_describe_answer() {
    let server = standard().start().await;
    let client = server.client().await;
    let (mut send, mut recv) = client.open_raw().await.unwrap();
    let mut request = Vec::new();
    let describe = Request::Describe {
        node: "text/strings/upper".into(),
    };
    encode_frame(&describe.into_value(), &mut request);
    send.write_all(&request).await.unwrap();
    send.finish().unwrap();
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        recv.read_to_end(1 << 20),
    )
    .await
    .expect("the server answers")
    .unwrap();
    assert_eq!(answer, documented("describe-answer"));
    client.close().await;
    server.stop().await;
}
