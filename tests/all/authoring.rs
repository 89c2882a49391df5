//! What authors see of their components: docs and type names in the
//! catalog (from the embedded `warden:wit` section or the component's own
//! types), no resource methods or toolchain exports among the nodes, and
//! `warden check` listing every import, marked, even when loading fails.

use warden_host::{Limits, WIT_SECTION, WitSource};

use crate::support::{example, load, python_greeter, runtime, test_plugin, warden};

/// `component` with a custom section `name` holding `payload` appended at
/// its top level, the way `warden build` adds one to a foreign toolchain's
/// output.
fn with_section(component: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = component.to_vec();
    out.extend_from_slice(&warden_host::runtime::custom_section(name, payload));
    out
}

/// `bytes` with every `warden:wit` section renamed (same length), so the
/// component reads as one from a toolchain that embeds nothing.
fn without_sections(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let name = WIT_SECTION.as_bytes();
    let mut i = 0;
    while i + name.len() <= out.len() {
        if &out[i..i + name.len()] == name {
            out[i + name.len() - 3..i + name.len()].copy_from_slice(b"xxx");
        }
        i += 1;
    }
    out
}

#[test]
fn type_names_and_schema_titles_come_from_any_component() {
    let bytes = without_sections(&std::fs::read(test_plugin("types")).unwrap());
    let types = runtime()
        .load_bytes("types", &bytes, Limits::default())
        .expect("types loads");
    let record = types.node("echo/echo-record").expect("echo-record");
    assert_eq!(record.info.params[0].ty, "point");
    assert_eq!(record.info.result.as_deref(), Some("point"));
    assert_eq!(record.info.params[0].schema["title"], "point");
    assert_eq!(record.info.result_schema["title"], "point");
    assert_eq!(
        record.info.params_schema["properties"]["v"]["title"], "point",
        "the arguments' schema is annotated too"
    );
    let deep = types.node("echo/echo-deep").expect("echo-deep");
    assert_eq!(
        deep.info.params[0].ty,
        "list<option<list<tuple<point, option<shape>>>>>"
    );
    assert_eq!(
        deep.info.params[0].schema["items"]["anyOf"][1]["items"]["prefixItems"][1]["anyOf"][1]["title"],
        "shape",
        "{}",
        deep.info.params[0].schema
    );
    assert_eq!(
        types.node("echo/echo-flags").unwrap().info.params[0].ty,
        "perms"
    );
    assert_eq!(
        types.node("echo/echo-enum").unwrap().info.params[0].ty,
        "color"
    );
    // No docs: the component carries none and has no section.
    assert_eq!(record.info.docs, None);
    let (source, wit) = types.wit().expect("decoded");
    assert_eq!(source, WitSource::Decoded);
    assert!(wit.contains("record point"), "{wit}");
}

#[test]
fn resource_methods_and_toolchain_exports_are_not_nodes() {
    let types = load("types", &test_plugin("types"), Limits::default());
    let names: Vec<&str> = types.nodes().map(|n| n.name()).collect();
    assert!(names.contains(&"handles/make-counter"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains('[')), "{names:?}");

    let greeter = load("greeter", &python_greeter(), Limits::default());
    let names: Vec<&str> = greeter.nodes().map(|n| n.name()).collect();
    assert_eq!(
        names,
        ["greet", "total"],
        "componentize-py's init is hidden"
    );
}

#[test]
fn an_embedded_section_gives_docs_and_a_broken_one_is_ignored_with_a_warning() {
    let math = std::fs::read(example("math")).expect("math.wasm");
    let wit = "package x:math;\n\n/// The world.\nworld math {\n    /// Adds; from the section.\n    \
               export add: func(a: s64, b: s64) -> s64;\n    \
               /// A function the component does not have: ignored.\n    \
               export other: func(x: s64) -> s64;\n}\n";
    let payload = serde_json::json!({"version": 1, "world": "math", "wit": wit}).to_string();
    // The top-level section wins over the one the SDK put in the core module.
    let documented = with_section(&math, WIT_SECTION, payload.as_bytes());
    let plugin = runtime()
        .load_bytes("math", &documented, Limits::default())
        .expect("a custom section keeps the component valid");
    assert_eq!(
        plugin.node("add").unwrap().info.docs.as_deref(),
        Some("Adds; from the section.")
    );
    assert!(plugin.node("other").is_none());
    assert_eq!(plugin.wit().unwrap().0, WitSource::Embedded);
    assert_eq!(plugin.wit_warning(), None);

    // A section for another signature describes nothing.
    let wrong = wit.replace("add: func(a: s64, b: s64)", "add: func(x: s64, y: s64)");
    let payload = serde_json::json!({"version": 1, "world": "math", "wit": wrong}).to_string();
    let plugin = runtime()
        .load_bytes(
            "math",
            &with_section(&math, WIT_SECTION, payload.as_bytes()),
            Limits::default(),
        )
        .unwrap();
    assert_ne!(
        plugin.node("add").unwrap().info.docs.as_deref(),
        Some("Adds; from the section.")
    );

    for (payload, why) in [
        (&b"not json"[..], "not the expected JSON"),
        (
            br#"{"version": 9, "world": "math", "wit": ""}"#,
            "version 9",
        ),
        (
            br#"{"version": 1, "world": "math", "wit": "package x:y; world math { export"}"#,
            "does not parse",
        ),
        (
            br#"{"version": 1, "world": "nope", "wit": "package x:y; world math {}"}"#,
            "`nope`",
        ),
    ] {
        let plugin = runtime()
            .load_bytes(
                "math",
                &with_section(&math, WIT_SECTION, payload),
                Limits::default(),
            )
            .expect("a broken section does not stop loading");
        let warning = plugin.wit_warning().expect("a warning");
        assert!(warning.contains(why), "{warning}");
        assert_eq!(plugin.node("add").unwrap().info.params[0].ty, "s64");
    }
}

#[test]
fn sdk_plugins_carry_their_docs_into_the_catalog() {
    let math = load("math", &example("math"), Limits::default());
    let add = math.node("add").expect("add");
    assert!(
        add.info
            .docs
            .as_deref()
            .is_some_and(|d| d.starts_with("Adds two integers")),
        "{:?}",
        add.info.docs
    );
    assert_eq!(math.wit().map(|w| w.0), Some(WitSource::Embedded));
    let out = warden(&["check", example("math").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/// Adds two integers"), "{text}");
    let out = warden(&["check", "--wit", example("math").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("world math"), "{text}");
    assert!(text.contains("/// Adds two integers"), "{text}");

    // And on to the HTTP gateway's OpenAPI document.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example("math"), dir.path().join("math.wasm")).unwrap();
    std::fs::copy(test_plugin("types"), dir.path().join("types.wasm")).unwrap();
    let out = warden(&["openapi", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let add = &doc["paths"]["/v1/call/math/add"]["post"];
    assert!(
        add["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Adds two integers")),
        "{add}"
    );
    let record = &doc["paths"]["/v1/call/types/echo/echo-record"]["post"];
    assert_eq!(
        record["requestBody"]["content"]["application/json"]["schema"]["properties"]["v"]["title"],
        "point",
        "{record}"
    );
}

#[test]
fn check_lists_every_import_of_a_component_that_does_not_load() {
    let file = test_plugin("needs_db");
    let out = warden(&["check", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("does not load"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("test:needs-db/query"))
        .unwrap_or_else(|| panic!("the missing import is listed: {text}"));
    assert!(line.contains("NOT PROVIDED"), "{line}");
    assert!(line.contains("wac plug"), "{line}");
    assert!(
        text.lines()
            .any(|l| l.contains("warden:node/log") && !l.contains("NOT PROVIDED")),
        "the provided imports are listed too: {text}"
    );
    assert!(err.contains("test:needs-db/query"), "{err}");

    let out = warden(&["check", "--json", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["loads"], false);
    let missing: Vec<&str> = json["imports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["provided"] == false)
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(missing, ["test:needs-db/query"]);
}

#[test]
fn check_names_the_grants_a_component_needs_with_or_without_a_manifest() {
    let kv = test_plugin("uses_kv");
    let out = warden(&["check", kv.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "without a manifest it is checked as granted: {text}"
    );
    assert!(text.contains("needs the grant `kv = true`"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("counter.wasm");
    std::fs::copy(&kv, &copy).unwrap();
    std::fs::write(dir.path().join("counter.toml"), "[grants]\n").unwrap();
    let out = warden(&["check", copy.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("NOT GRANTED: add `kv = true`"), "{text}");

    std::fs::write(dir.path().join("counter.toml"), "[grants]\nkv = true\n").unwrap();
    let out = warden(&["check", copy.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("(granted by the manifest: kv = true)"),
        "{text}"
    );
}
