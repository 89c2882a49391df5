//! The gateway's OpenAPI document checked by real tools: the
//! `openapi-spec-validator` package validates it, and a client generated
//! from it by `openapi-python-client` calls nodes (both from PyPI; `.ci/run`
//! installs them).

use std::process::Command;

use serde_json::Value as Json;

use crate::harness::server::Setup;
use crate::support::example;

/// Validates `document` with the `openapi-spec-validator` Python package.
pub(crate) fn validate(document: &Json) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), document.to_string()).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(open(sys.argv[1])))",
        ])
        .arg(file.path())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the OpenAPI document is invalid (or `pip install openapi-spec-validator` is \
         missing): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_generated_from_the_document_calls_nodes() {
    let server = Setup::new()
        .plugin("math", &example("math"), "")
        .plugin("text", &example("text"), "")
        .http()
        .start()
        .await;
    let base = server.http.clone().unwrap();
    let document: Json = reqwest::get(format!("{base}/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    validate(&document);
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("openapi.json");
    std::fs::write(&spec, document.to_string()).unwrap();
    let generated = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || {
            Command::new("openapi-python-client")
                .args(["generate", "--meta", "none", "--path"])
                .arg(&spec)
                .arg("--output-path")
                .arg(dir.join("warden_client"))
                .output()
        }
    })
    .await
    .unwrap()
    .expect("openapi-python-client runs (`pip install openapi-python-client`)");
    assert!(
        generated.status.success(),
        "generating a client failed: {}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let program = format!(
        "from warden_client import Client\n\
         from warden_client.api.math import call_math_add\n\
         from warden_client.api.text import call_text_apply\n\
         from warden_client.models import CallMathAddBody, CallTextApplyBody, \
         CallTextApplyBodyStyle, CallTextApplyBodyStyleLetterCase\n\
         c = Client(base_url='{base}')\n\
         print(call_math_add.sync(client=c, body=CallMathAddBody(a=40, b=2)))\n\
         style = CallTextApplyBodyStyle(letter_case=CallTextApplyBodyStyleLetterCase.UPPER, \
         prefix='> ', repeat=2)\n\
         print(call_text_apply.sync(client=c, body=CallTextApplyBody(s='hi', style=style)))\n"
    );
    let ran = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || {
            Command::new("python3")
                .args(["-c", &program])
                .env("PYTHONPATH", dir)
                .output()
        }
    })
    .await
    .unwrap()
    .expect("python3 runs");
    assert!(
        ran.status.success(),
        "the generated client failed: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "42\n> HIHI\n");
    server.stop().await;
}
