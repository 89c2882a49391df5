//! `warden check` and `warden run` on the example plugins.

use std::process::{Command, Output};

use crate::support::{example, test_plugin, warden};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_lists_nodes_with_signatures_and_imports() {
    let math = example("math");
    let out = warden(&["check", math.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("math/add: func(a: s64, b: s64) -> s64"),
        "{text}"
    );
    assert!(
        text.contains("math/divide: func(a: f64, b: f64) -> result<f64, string>"),
        "{text}"
    );
    assert!(
        text.contains("math/slow-sum: func(n: u32, delay-ms: u32) -> u64"),
        "{text}"
    );
    assert!(
        text.contains("warden:node/progress@0.1.0 (interface)"),
        "{text}"
    );

    let text_plugin = example("text");
    let out = warden(&["check", "--json", text_plugin.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["plugin"], "text");
    let upper = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "strings/upper")
        .expect("strings/upper is listed");
    assert_eq!(upper["params"][0]["type"], "string");
    assert_eq!(
        upper["result_schema"],
        serde_json::json!({"type": "string"})
    );
}

#[test]
fn check_marks_resource_functions_as_not_callable() {
    let types = test_plugin("types");
    let out = warden(&["check", types.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(text.contains("types/handles/make-counter"), "{text}");
    assert!(
        text.contains("(not callable: the result cannot be returned: resource handles"),
        "{text}"
    );
}

#[test]
fn run_prints_results_as_json() {
    let math = example("math");
    let m = math.to_str().unwrap();
    let out = warden(&["run", m, "add", r#"{"a":1,"b":2}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "3");
    let out = warden(&["run", m, "add", "[40, 2]"]);
    assert_eq!(stdout(&out).trim(), "42");

    let text = example("text");
    let out = warden(&["run", text.to_str().unwrap(), "stats", r#"["a bb"]"#]);
    assert_eq!(
        stdout(&out).trim(),
        r#"{"chars":4,"words":2,"lines":1,"longest-word":"bb"}"#
    );
}

#[test]
fn run_shows_progress_on_stderr_and_keeps_stdout_clean() {
    let math = example("math");
    let out = warden(&["run", math.to_str().unwrap(), "slow-sum", "[3, 0]"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "6");
    let err = stderr(&out);
    assert!(err.contains("[100%] added 3 of 3"), "{err}");
    assert!(err.contains("summing 1..=3"), "{err}");
}

#[test]
fn run_failures_print_the_error_kind_and_exit_non_zero() {
    let math = example("math");
    let m = math.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["run", m, "divide", "[1, 0]"],
            "error[node-error]: cannot divide 1 by zero",
        ),
        (
            &["run", m, "add", r#"["x", 1]"#],
            "error[bad-args]: parameter `a`: expected s64",
        ),
        (
            &["run", m, "add", "{not json"],
            "error[bad-args]: the arguments are not valid JSON",
        ),
        (
            &["run", m, "nope"],
            "error[not-found]: plugin `math` has no node `nope`",
        ),
        (
            &["run", "/nonexistent/x.wasm", "f"],
            "error[load]: cannot read",
        ),
    ];
    for (args, expected) in cases {
        let out = warden(args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stdout(&out).is_empty(), "{args:?} printed on stdout");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let hostile = test_plugin("hostile");
    let out = warden(&["run", "--timeout", "0.3", hostile.to_str().unwrap(), "spin"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("error[timeout]:"), "{}", stderr(&out));
    let out = warden(&[
        "run",
        "--memory",
        "16",
        hostile.to_str().unwrap(),
        "hog",
        "[1]",
    ]);
    assert!(
        stderr(&out).contains("error[resource-limit]:"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn token_prints_a_token_and_the_config_lines_with_its_hash() {
    let out = warden(&["token", "alice", "--nodes", "math/*"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    assert!(token.starts_with("wdn_") && token.len() == 68, "{token}");
    let err = stderr(&out);
    let hash = warden_host::access::hash_token(&token);
    assert!(
        err.contains("[[access.callers]]")
            && err.contains("name = \"alice\"")
            && err.contains(&format!("token_sha256 = \"{hash}\""))
            && err.contains("nodes = [\"math/*\"]"),
        "{err}"
    );
    let again = warden(&["token", "alice"]);
    assert_ne!(stdout(&again).trim(), token, "tokens are random");
}

#[test]
fn serve_refuses_a_state_directory_others_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let state = tempfile::tempdir().unwrap();
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state.path())
        .arg(plugins.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It must refuse at once, not serve: bounded wait, then kill.
    let mut status = None;
    for _ in 0..600 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    let err = stderr(&out);
    assert!(
        err.contains("can be written by other users") && err.contains("chmod go-w"),
        "{err}"
    );
}

#[test]
fn openapi_prints_the_gateways_document_for_a_plugin_directory() {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(example("math"), plugins.path().join("math.wasm")).unwrap();
    let out_file = plugins.path().join("openapi.json");
    let out = warden(&[
        "openapi",
        plugins.path().to_str().unwrap(),
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    crate::openapi::validate(&document);
    let add = &document["paths"]["/v1/call/math/add"]["post"];
    assert_eq!(add["operationId"], "call_math_add");
    assert_eq!(
        add["requestBody"]["content"]["application/json"]["schema"]["required"],
        serde_json::json!(["a", "b"])
    );
}
