//! A component from another toolchain: a Python plugin built with
//! componentize-py (CPython inside, ~18 MB) runs with the default limits.

use std::path::PathBuf;
use std::process::Command;

use rmpv::Value;
use warden_host::Limits;

use crate::support::{load, mp, root, wasm_target_dir};

/// Builds `tests/plugins/python` with componentize-py, unless the output is
/// newer than its sources.
fn greeter() -> PathBuf {
    let src = root().join("tests/plugins/python");
    let out = wasm_target_dir().join("python").join("greeter.wasm");
    let newest_source = ["app.py", "wit/greeter.wit"]
        .iter()
        .filter_map(|f| {
            std::fs::metadata(src.join(f))
                .and_then(|m| m.modified())
                .ok()
        })
        .max();
    let built = std::fs::metadata(&out).and_then(|m| m.modified()).ok();
    if built.is_none() || built < newest_source {
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let status = Command::new("componentize-py")
            .current_dir(&src)
            .args(["-d", "wit", "-w", "greeter", "componentize", "app", "-o"])
            .arg(&out)
            .status()
            .expect("componentize-py is installed (`pip install componentize-py`)");
        assert!(status.success(), "componentize-py failed");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_componentize_py_plugin_runs_with_default_limits() {
    let plugin = load("greeter", &greeter(), Limits::default());
    let names: Vec<&str> = plugin.nodes().map(|n| n.name.as_str()).collect();
    assert!(
        names.contains(&"greet") && names.contains(&"total"),
        "{names:?}"
    );
    let hello = plugin
        .call("greet", mp(r#"["Ada"]"#), Default::default())
        .await
        .unwrap();
    assert_eq!(hello, Value::from("Hello, Ada, from Python!"));
    let total = plugin
        .call("total", mp("[[1, 2, 3, -10]]"), Default::default())
        .await
        .unwrap();
    assert_eq!(total, Value::from(-4));
    // Each call gets a fresh CPython; two in a row both work.
    let again = plugin
        .call("greet", mp(r#"{"name": "Grace"}"#), Default::default())
        .await
        .unwrap();
    assert_eq!(again, Value::from("Hello, Grace, from Python!"));
}
