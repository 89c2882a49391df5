//! `warden check FILE.wasm`

use std::path::PathBuf;

use super::Failure;
use crate::Limits;

/// Arguments of `warden check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The component file.
    file: PathBuf,
    /// Print the node descriptions (with JSON Schemas) and imports as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: CheckArgs) -> Result<(), Failure> {
    let runtime = super::runtime()?;
    let name = super::plugin_name(&args.file);
    let plugin = runtime.load_file(&name, &args.file, Limits::default())?;
    if args.json {
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
            "nodes": nodes,
            "imports": plugin.imports(),
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
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
    println!("imports:");
    if plugin.imports().is_empty() {
        println!("  (none)");
    }
    for import in plugin.imports() {
        let missing = if import.provided {
            ""
        } else {
            "  (not provided by this host)"
        };
        println!("  {} ({}){missing}", import.name, import.kind);
    }
    Ok(())
}
