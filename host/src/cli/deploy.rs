//! `warden deploy`: publish a plugin to a cluster, list or withdraw
//! deployments.

use std::path::{Path, PathBuf};

use super::Failure;
use crate::cluster::{ClusterConfig, ClusterError, Deployment};

/// Arguments of `warden deploy`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Hosts load deployments when they run with `--cluster-deployments` (or \
                  `[cluster] deployments = true`) and have every label the deployment \
                  requires (`--cluster-label`).\n\nExamples:\n  warden deploy plugins/math.wasm \
                  --cluster nats://127.0.0.1:4222\n  warden deploy gpu.wasm --require gpu \
                  --cluster nats://127.0.0.1:4222\n  warden deploy --list --cluster \
                  nats://127.0.0.1:4222\n  warden deploy --remove math --cluster \
                  nats://127.0.0.1:4222"
)]
pub(crate) struct DeployArgs {
    /// The component to publish (`NAME.wasm`; `NAME.toml` beside it is its
    /// manifest unless `--manifest` says otherwise).
    #[arg(required_unless_present_any = ["list", "remove"], conflicts_with_all = ["list", "remove"])]
    file: Option<PathBuf>,
    /// The plugin's manifest.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["list", "remove"])]
    manifest: Option<PathBuf>,
    /// The plugin's name (default: the file's name without `.wasm`).
    #[arg(long, conflicts_with_all = ["list", "remove"])]
    name: Option<String>,
    /// Load it only on hosts with this label (repeat for several).
    #[arg(long = "require", value_name = "LABEL", conflicts_with_all = ["list", "remove"])]
    requires: Vec<String>,
    /// List the cluster's deployments instead.
    #[arg(long, conflicts_with = "remove")]
    list: bool,
    /// Withdraw the deployment NAME instead: hosts remove the plugin.
    #[arg(long, value_name = "NAME")]
    remove: Option<String>,
    /// The cluster's NATS server (`nats://HOST:PORT`; repeat for several).
    #[arg(long, value_name = "URL", required = true)]
    cluster: Vec<String>,
    /// The cluster's name (default `default`).
    #[arg(long, value_name = "NAME")]
    cluster_name: Option<String>,
    /// A NATS authentication token.
    #[arg(long, value_name = "TOKEN", env = "WARDEN_NATS_TOKEN")]
    cluster_token: Option<String>,
    /// A NATS credentials file.
    #[arg(long, value_name = "FILE")]
    cluster_credentials: Option<PathBuf>,
}

impl From<ClusterError> for Failure {
    fn from(e: ClusterError) -> Self {
        let kind = match &e {
            ClusterError::Config(_) | ClusterError::Deployment(_) => "usage",
            _ => "cluster",
        };
        Failure::new(kind, e.to_string())
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        Failure::new(
            "usage",
            format!("cannot read the {what} `{}`: {e}", path.display()),
        )
    })
}

/// The deployment `args` describe, read from its files.
fn deployment(args: &DeployArgs, file: &Path) -> Result<Deployment, Failure> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => file
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                Failure::new(
                    "usage",
                    format!(
                        "`{}` has no file name to name the plugin: pass --name",
                        file.display()
                    ),
                )
            })?,
    };
    let wasm = read(file, "component")?;
    let manifest = match &args.manifest {
        Some(path) => Some(read(path, "manifest")?),
        None => {
            let beside = file.with_extension("toml");
            beside
                .exists()
                .then(|| read(&beside, "manifest"))
                .transpose()?
        }
    };
    let manifest = manifest
        .map(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| Failure::new("usage", "the manifest is not UTF-8 text"))
        })
        .transpose()?;
    Ok(Deployment {
        name,
        wasm,
        manifest,
        requires: args.requires.clone(),
    })
}

pub(crate) fn run(args: DeployArgs) -> Result<(), Failure> {
    let config = ClusterConfig {
        servers: args.cluster.clone(),
        name: args.cluster_name.clone(),
        token: args.cluster_token.clone(),
        credentials: args.cluster_credentials.clone(),
        ..ClusterConfig::default()
    };
    if args.list {
        let listed = super::tokio()?.block_on(crate::cluster::deployments(&config))?;
        if listed.is_empty() {
            eprintln!(
                "warden: no plugin is deployed to cluster `{}`",
                config.name()
            );
        }
        for d in listed {
            let requires = if d.requires.is_empty() {
                "every host".to_owned()
            } else {
                format!("hosts labelled {}", d.requires.join(", "))
            };
            println!("{}\t{} bytes\t{requires}", d.name, d.size);
        }
        return Ok(());
    }
    if let Some(name) = &args.remove {
        let removed = super::tokio()?.block_on(crate::cluster::withdraw(&config, name))?;
        if !removed {
            return Err(Failure::new(
                "not-found",
                format!(
                    "no plugin `{name}` is deployed to cluster `{}` (`warden deploy --list` \
                     shows what is)",
                    config.name()
                ),
            ));
        }
        eprintln!("warden: withdrew `{name}`; the hosts remove it within a few seconds");
        return Ok(());
    }
    let Some(file) = &args.file else {
        return Err(Failure::new("usage", "name the component to deploy"));
    };
    let deployment = deployment(&args, file)?;
    super::tokio()?.block_on(crate::cluster::deploy(&config, &deployment))?;
    eprintln!(
        "warden: deployed `{}` ({} bytes{}) to cluster `{}`; hosts taking deployments load it \
         within a few seconds",
        deployment.name,
        deployment.wasm.len(),
        if deployment.manifest.is_some() {
            ", with its manifest"
        } else {
            ""
        },
        config.name()
    );
    Ok(())
}
