//! `warden openapi DIR`: the OpenAPI document the HTTP gateway would serve
//! for the plugins in DIR, for scripts and client generators.

use std::path::PathBuf;

use super::Failure;
use crate::host::{Host, HostConfig};

/// Arguments of `warden openapi`.
#[derive(Debug, clap::Args)]
pub(crate) struct OpenapiArgs {
    /// The plugin directory, as `warden serve` takes it.
    dir: PathBuf,
    /// The host config: the document lists what its anonymous callers may
    /// call (everything public without `[access]`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write the document here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: OpenapiArgs) -> Result<(), Failure> {
    let config = match &args.config {
        Some(file) => HostConfig::load(file).map_err(|e| Failure::new("config", e.to_string()))?,
        None => HostConfig::default(),
    };
    let document = super::tokio()?.block_on(async {
        let host = Host::builder()
            .config(config)
            .plugin_dir(&args.dir)
            .watch(false)
            .build()?;
        if let Some(dir) = host.plugin_dir().cloned() {
            tokio::task::spawn_blocking(move || dir.scan_settled())
                .await
                .map_err(|e| Failure::new("internal", e.to_string()))?
                .map_err(|e| Failure::new("usage", format!("{}: {e}", args.dir.display())))?;
        }
        for failed in host
            .plugins()
            .status()
            .plugins
            .iter()
            .filter_map(|p| p.error.as_ref())
        {
            eprintln!("warden: not in the document: {failed}");
        }
        let document = crate::http::openapi_document(&host, &host.anonymous());
        host.shutdown().await;
        Ok::<_, Failure>(document)
    })?;
    let text = serde_json::to_string_pretty(&document)
        .map_err(|e| Failure::new("internal", e.to_string()))?;
    match &args.out {
        Some(file) => std::fs::write(file, format!("{text}\n"))
            .map_err(|e| Failure::new("io", format!("cannot write {}: {e}", file.display()))),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}
