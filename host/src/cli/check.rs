//! `warden check FILE.wasm`: what a component offers (its nodes) and what it
//! needs (its imports, the grants they take), whether or not it loads.

use std::path::PathBuf;

use super::Failure;
use crate::caps::{BlobsGrant, Capabilities, Grants};
use crate::runtime::{ImportDesc, WitSource};
use crate::{Limits, Plugin};

/// Arguments of `warden check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The component file.
    file: PathBuf,
    /// The plugin's manifest (its grants and limits). Default: `FILE.toml`
    /// beside the component, when there is one.
    #[arg(long, value_name = "TOML")]
    manifest: Option<PathBuf>,
    /// Print the node descriptions (with JSON Schemas) and imports as JSON.
    #[arg(long)]
    json: bool,
    /// Print the component's world as WIT (what callers see), with the docs
    /// the SDKs embed, and exit.
    #[arg(long, conflicts_with = "json")]
    wit: bool,
}

impl CheckArgs {
    /// The plain report on `file`, checked against `manifest`.
    pub(crate) fn of(file: PathBuf, manifest: Option<PathBuf>) -> CheckArgs {
        CheckArgs {
            file,
            manifest,
            json: false,
            wit: false,
        }
    }
}

pub(crate) fn run(args: CheckArgs) -> Result<(), Failure> {
    let runtime = super::runtime()?;
    let name = super::plugin_name(&args.file);
    let toml = args
        .manifest
        .clone()
        .unwrap_or_else(|| args.file.with_extension("toml"));
    let manifest = super::manifest_of(&toml, args.manifest.is_some())?;
    let bytes = super::read_component(&args.file)?;
    let component = runtime.compile(&name, &bytes)?;
    let imports = runtime.imports(&component);
    // Without a manifest, the component is checked as if granted what it
    // asks for; the list below says which grants it will need.
    let strict = manifest.is_some();
    let (grants, limits) = match manifest {
        Some(m) => (m.grants, m.limits.apply(&Limits::default())),
        None => (everything_asked(), Limits::default()),
    };
    let granted = Capabilities::new(grants.clone(), None, None);
    let caps = Capabilities::new(grants, None, Some(toml.clone()));
    let plugin = match runtime.load_described(&name, &bytes, component, limits, caps) {
        Ok(plugin) => plugin,
        Err(e) => {
            // Say everything the component needs, not only the first miss.
            if !args.json && !args.wit {
                println!(
                    "{}: component `{name}` does not load on this host",
                    args.file.display()
                );
                println!();
                print_imports(&imports, strict.then_some(&granted));
                println!();
            } else if args.json {
                let out = serde_json::json!({"plugin": name, "loads": false,
                    "error": e.to_string(), "imports": imports});
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            }
            return Err(e.into());
        }
    };
    if let Some(warning) = plugin.wit_warning() {
        eprintln!("warning: {warning}");
    }
    if args.wit {
        return print_wit(&plugin, &args.file);
    }
    if args.json {
        print_json(&plugin, &name);
        return Ok(());
    }
    let nodes: Vec<_> = plugin.nodes().collect();
    println!(
        "{}: component `{name}` with {} node(s)",
        args.file.display(),
        nodes.len()
    );
    println!();
    println!("nodes:");
    for node in &nodes {
        let signature = node.signature();
        let prefix = match node.name().rsplit_once('/') {
            Some((iface, _)) => format!("{iface}/"),
            None => String::new(),
        };
        println!("  {name}/{prefix}{signature}");
        if let Some(docs) = &node.info.docs {
            for line in docs.lines() {
                println!("      /// {line}");
            }
        }
        if let Some(why) = &node.not_callable {
            println!("      (not callable: {why})");
        }
    }
    println!();
    print_imports(plugin.imports(), strict.then_some(plugin.capabilities()));
    Ok(())
}

/// Grants for every `warden:node` interface, for checking a component that
/// has no manifest yet.
fn everything_asked() -> Grants {
    Grants {
        kv: true,
        blobs: Some(BlobsGrant::Read),
        invoke: vec!["*".into()],
        ..Grants::default()
    }
}

fn print_wit(plugin: &Plugin, file: &std::path::Path) -> Result<(), Failure> {
    match plugin.wit() {
        Some((source, text)) => {
            if source == WitSource::Decoded {
                println!(
                    "// Decoded from the component's types: it carries no docs (plugins built \
                     with warden-guest or `warden build` do)."
                );
            }
            print!("{text}");
            Ok(())
        }
        None => Err(Failure::new(
            "load",
            format!("`{}` holds no WIT world that can be read", file.display()),
        )),
    }
}

fn print_json(plugin: &Plugin, name: &str) {
    let nodes: Vec<serde_json::Value> = plugin
        .nodes()
        .map(|n| {
            // The catalog's entry, with the name inside the plugin and
            // why a function is not a node.
            let mut node = crate::json::from_msgpack(&n.info.to_value());
            node["name"] = serde_json::json!(n.name());
            node["not_callable"] = serde_json::json!(n.not_callable);
            node
        })
        .collect();
    let out = serde_json::json!({
        "plugin": name,
        "loads": true,
        "nodes": nodes,
        "imports": plugin.imports(),
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
}

/// The imports, each marked: not provided (with the fix), or needing a grant
/// (granted or not by the `manifest`'s grants, when there is one).
fn print_imports(imports: &[ImportDesc], manifest: Option<&Capabilities>) {
    println!("imports:");
    if imports.is_empty() {
        println!("  (none)");
    }
    for import in imports {
        let mark = match (&import.fix, import.grant) {
            (Some(fix), _) => format!("  NOT PROVIDED by this host: {fix}"),
            (None, Some(line)) => {
                let iface = import.name.split('@').next().unwrap_or(&import.name);
                match manifest.map(|caps| caps.grants_import(iface)) {
                    Some(true) => format!("  (granted by the manifest: {line})"),
                    Some(false) => format!("  NOT GRANTED: add `{line}` to the manifest"),
                    None => format!("  needs the grant `{line}` in the plugin's manifest"),
                }
            }
            (None, None) => String::new(),
        };
        println!("  {} ({}){mark}", import.name, import.kind);
    }
}
