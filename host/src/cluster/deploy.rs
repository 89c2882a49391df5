//! Plugin distribution: `warden deploy` publishes a plugin (its component,
//! its manifest, the labels a host needs to load it) to the object store
//! `warden_<cluster>_plugins`, one object per plugin named after it. Hosts
//! that opt in (`[cluster] deployments = true`) follow the store: each
//! deployment whose labels the host has is written into the host's plugin
//! directory (the component renamed into place, so it is never read half
//! written), where the directory watcher loads it like any other plugin;
//! a withdrawn deployment's files are removed, which unloads it.
//!
//! A host only touches the files it deployed itself: they are listed in
//! `.warden-deployed` in the plugin directory, so a withdrawal made while
//! the host was down is applied when it comes back, and a plugin the
//! operator put there by hand is never overwritten (the deployment is
//! skipped with a warning).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::object_store::{GetErrorKind, ObjectMetadata, ObjectStore};
use futures::StreamExt;
use rmpv::Value;
use tokio::io::AsyncReadExt;

use super::blobs::object_store;
use super::{ClusterConfig, ClusterError, Shared};
use crate::host::is_token;

/// The largest deployment (component and manifest).
pub const MAX_DEPLOYMENT_BYTES: usize = 256 << 20;
/// The most deployments a cluster holds.
pub const MAX_DEPLOYMENTS: usize = 10_000;
/// How often a host looks for new or withdrawn deployments.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(2);
/// The file, in the plugin directory, listing what a host deployed there.
pub const RECORD_FILE: &str = ".warden-deployed";

/// The object metadata key holding a deployment's required labels.
const REQUIRES: &str = "requires";

/// A plugin as `warden deploy` publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The plugin's name (its file name in each plugin directory).
    pub name: String,
    /// The component.
    pub wasm: Vec<u8>,
    /// Its manifest (TOML), if it has one.
    pub manifest: Option<String>,
    /// The labels a host must have to load it; none: every host that
    /// takes deployments.
    pub requires: Vec<String>,
}

/// A published deployment, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// The plugin's name.
    pub name: String,
    /// Bytes of the published object.
    pub size: u64,
    /// The labels a host needs to load it.
    pub requires: Vec<String>,
}

impl Deployment {
    /// Checks the names and that the component is one.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong.
    pub fn check(&self) -> Result<(), String> {
        if !is_token(&self.name) {
            return Err(format!(
                "`{}` cannot be a deployed plugin's name: use letters, digits, `-` and `_`",
                self.name
            ));
        }
        if let Some(label) = self.requires.iter().find(|l| !is_token(l)) {
            return Err(format!(
                "`{label}` cannot be a label: use letters, digits, `-` and `_`"
            ));
        }
        // A component: the wasm magic, then version 0x0d and layer 1.
        if self.wasm.get(..8) != Some(&[0, b'a', b's', b'm', 0x0d, 0, 1, 0][..]) {
            return Err(format!(
                "`{}` is not a WebAssembly component (a core module or another file?): build it \
                 with `warden build`",
                self.name
            ));
        }
        if let Some(manifest) = &self.manifest {
            crate::plugins::Manifest::parse(manifest, Path::new(&format!("{}.toml", self.name)))
                .map_err(|e| e.to_string())?;
        }
        let size = self.wasm.len() + self.manifest.as_ref().map_or(0, String::len);
        if size > MAX_DEPLOYMENT_BYTES {
            return Err(format!(
                "`{}` takes {size} bytes; a deployment may take {MAX_DEPLOYMENT_BYTES}",
                self.name
            ));
        }
        Ok(())
    }

    fn encode(&self) -> Vec<u8> {
        let value = Value::Map(vec![
            ("version".into(), 1.into()),
            ("name".into(), self.name.as_str().into()),
            ("wasm".into(), Value::Binary(self.wasm.clone())),
            (
                "manifest".into(),
                self.manifest.as_deref().map_or(Value::Nil, Value::from),
            ),
            (
                "requires".into(),
                Value::Array(self.requires.iter().map(|l| l.as_str().into()).collect()),
            ),
        ]);
        let mut bytes = Vec::new();
        let _ = rmpv::encode::write_value(&mut bytes, &value);
        bytes
    }

    fn decode(bytes: &[u8]) -> Result<Deployment, String> {
        let value = rmpv::decode::read_value(&mut &bytes[..]).map_err(|e| e.to_string())?;
        let Value::Map(entries) = value else {
            return Err("not a map".into());
        };
        let field = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v)
        };
        if field("version").and_then(Value::as_u64) != Some(1) {
            return Err("a deployment of an unknown version (a newer warden deployed it?)".into());
        }
        let deployment = Deployment {
            name: field("name")
                .and_then(Value::as_str)
                .ok_or("no name")?
                .to_owned(),
            wasm: match field("wasm") {
                Some(Value::Binary(wasm)) => wasm.clone(),
                _ => return Err("no component".into()),
            },
            manifest: field("manifest").and_then(Value::as_str).map(str::to_owned),
            requires: match field("requires") {
                Some(Value::Array(labels)) => labels
                    .iter()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            },
        };
        deployment.check()?;
        Ok(deployment)
    }
}

async fn plugins_store(
    client: &async_nats::Client,
    cluster: &str,
) -> Result<ObjectStore, ClusterError> {
    let bucket = format!("warden_{cluster}_plugins");
    object_store(client, &bucket, "Warden: deployed plugins").await
}

async fn connect(config: &ClusterConfig) -> Result<ObjectStore, ClusterError> {
    config.validate().map_err(ClusterError::Config)?;
    let client = super::config::connect(config).await?;
    plugins_store(&client, config.name()).await
}

fn deploy_failed(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Store(format!("the cluster's plugin store failed: {e}"))
}

/// Publishes `deployment` to the cluster `config` names; hosts that take
/// deployments load it within a few seconds (replacing an older version).
///
/// # Errors
///
/// [`ClusterError::Deployment`] for an invalid deployment; connection and
/// store failures.
pub async fn deploy(config: &ClusterConfig, deployment: &Deployment) -> Result<(), ClusterError> {
    deployment.check().map_err(ClusterError::Deployment)?;
    let store = connect(config).await?;
    let meta = ObjectMetadata {
        name: deployment.name.clone(),
        description: Some(format!("Warden plugin `{}`", deployment.name)),
        metadata: [(REQUIRES.to_owned(), deployment.requires.join(","))].into(),
        ..ObjectMetadata::default()
    };
    let bytes = deployment.encode();
    store
        .put(meta, &mut bytes.as_slice())
        .await
        .map_err(deploy_failed)?;
    Ok(())
}

/// Withdraws the deployment `name`: hosts remove it within a few seconds.
/// Whether it was deployed.
///
/// # Errors
///
/// Connection and store failures.
pub async fn withdraw(config: &ClusterConfig, name: &str) -> Result<bool, ClusterError> {
    let store = connect(config).await?;
    match store.info(name).await {
        Ok(info) if !info.deleted => {}
        _ => return Ok(false),
    }
    store.delete(name).await.map_err(deploy_failed)?;
    Ok(true)
}

/// The deployments of the cluster `config` names, by name.
///
/// # Errors
///
/// Connection and store failures.
pub async fn deployments(config: &ClusterConfig) -> Result<Vec<Deployed>, ClusterError> {
    let store = connect(config).await?;
    // By name: the map keeps them in order.
    Ok(list_versions(&store)
        .await
        .map_err(deploy_failed)?
        .into_values()
        .map(|(deployed, _)| deployed)
        .collect())
}

/// Each deployment with its version (the object's unique id).
async fn list_versions(
    store: &ObjectStore,
) -> Result<BTreeMap<String, (Deployed, String)>, String> {
    let mut objects = store.list().await.map_err(|e| e.to_string())?;
    let mut found = BTreeMap::new();
    while let Some(info) = objects.next().await {
        let info = info.map_err(|e| e.to_string())?;
        if info.deleted || !is_token(&info.name) {
            continue;
        }
        if found.len() >= MAX_DEPLOYMENTS {
            return Err(format!("more than {MAX_DEPLOYMENTS} deployments"));
        }
        let requires = info
            .metadata
            .get(REQUIRES)
            .map(|r| {
                r.split(',')
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let deployed = Deployed {
            name: info.name.clone(),
            size: info.size as u64,
            requires,
        };
        found.insert(info.name, (deployed, info.nuid));
    }
    Ok(found)
}

/// Keeps the plugin directory `dir` in step with the cluster's deployments
/// this host's `labels` admit, until the cluster stops.
pub(super) async fn follow(shared: Arc<Shared>, dir: PathBuf, labels: Vec<String>) {
    let mut stop = shared.stop.subscribe();
    let mut follower = Follower {
        dir,
        labels: labels.into_iter().collect(),
        applied: BTreeMap::new(),
        warned: HashSet::new(),
    };
    follower.applied = follower.read_record().await;
    let mut store = None;
    loop {
        if store.is_none() {
            match plugins_store(&shared.client, &shared.name).await {
                Ok(opened) => store = Some(opened),
                Err(e) => tracing::warn!("cannot follow the cluster's deployments: {e}"),
            }
        }
        if let Some(store) = &store
            && let Err(e) = follower.sync(store).await
        {
            tracing::warn!("cannot follow the cluster's deployments: {e}");
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One host's view of the deployments it applied.
struct Follower {
    dir: PathBuf,
    labels: HashSet<String>,
    /// Deployed here: name → version.
    applied: BTreeMap<String, String>,
    /// Deployments skipped (a local plugin has the name), warned about once.
    warned: HashSet<String>,
}

impl Follower {
    fn file(&self, name: &str, extension: &str) -> PathBuf {
        self.dir.join(format!("{name}.{extension}"))
    }

    async fn read_record(&self) -> BTreeMap<String, String> {
        let Ok(text) = tokio::fs::read_to_string(self.dir.join(RECORD_FILE)).await else {
            return BTreeMap::new();
        };
        text.lines()
            .filter_map(|line| line.split_once(' '))
            .filter(|(name, _)| is_token(name))
            .map(|(name, version)| (name.to_owned(), version.to_owned()))
            .collect()
    }

    async fn save_record(&self) -> Result<(), String> {
        let text: String = self
            .applied
            .iter()
            .map(|(name, version)| format!("{name} {version}\n"))
            .collect();
        write_atomically(&self.dir, RECORD_FILE, text.as_bytes()).await
    }

    /// Applies what changed since the last look.
    async fn sync(&mut self, store: &ObjectStore) -> Result<(), String> {
        let wanted: BTreeMap<String, String> = list_versions(store)
            .await?
            .into_iter()
            .filter(|(_, (d, _))| d.requires.iter().all(|l| self.labels.contains(l)))
            .map(|(name, (_, version))| (name, version))
            .collect();
        for (name, version) in &wanted {
            if self.applied.get(name) == Some(version) {
                continue;
            }
            let local = tokio::fs::try_exists(self.file(name, "wasm"))
                .await
                .unwrap_or(false);
            if local && !self.applied.contains_key(name) {
                if self.warned.insert(name.clone()) {
                    tracing::warn!(
                        plugin = %name,
                        "not loading the deployed plugin: a plugin of that name is in the \
                         directory already (remove it to take the deployment)"
                    );
                }
                continue;
            }
            match self.fetch(store, name).await {
                Ok(Some(deployment)) => {
                    self.install(&deployment).await?;
                    self.applied.insert(name.clone(), version.clone());
                    self.save_record().await?;
                    tracing::info!(plugin = %name, "deployed plugin written to the plugin directory");
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(plugin = %name, "cannot take the deployment: {e}"),
            }
        }
        let withdrawn: Vec<String> = self
            .applied
            .keys()
            .filter(|name| !wanted.contains_key(*name))
            .cloned()
            .collect();
        for name in withdrawn {
            for extension in ["wasm", "toml"] {
                match tokio::fs::remove_file(self.file(&name, extension)).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(format!("cannot remove `{name}.{extension}`: {e}")),
                }
            }
            self.applied.remove(&name);
            self.save_record().await?;
            tracing::info!(plugin = %name, "deployment withdrawn: plugin removed");
        }
        Ok(())
    }

    async fn fetch(&self, store: &ObjectStore, name: &str) -> Result<Option<Deployment>, String> {
        let mut object = match store.get(name).await {
            Ok(object) => object,
            Err(e) if e.kind() == GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        // The encoding's few bytes beside the component and manifest.
        let limit = MAX_DEPLOYMENT_BYTES + 4096;
        if object.info().size > limit {
            return Err(format!(
                "it takes {} bytes, over {limit}",
                object.info().size
            ));
        }
        let mut bytes = Vec::with_capacity(object.info().size);
        (&mut object)
            .take(limit as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| e.to_string())?;
        let deployment = Deployment::decode(&bytes)?;
        if deployment.name != name {
            return Err(format!("it names itself `{}`", deployment.name));
        }
        Ok(Some(deployment))
    }

    /// Writes the manifest (or removes a stale one), then renames the
    /// component into place.
    async fn install(&self, deployment: &Deployment) -> Result<(), String> {
        let name = &deployment.name;
        match &deployment.manifest {
            Some(manifest) => {
                write_atomically(&self.dir, &format!("{name}.toml"), manifest.as_bytes()).await?
            }
            None => match tokio::fs::remove_file(self.file(name, "toml")).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot remove `{name}.toml`: {e}")),
            },
        }
        write_atomically(&self.dir, &format!("{name}.wasm"), &deployment.wasm).await
    }
}

/// Writes `bytes` to `dir/file` through a temporary name in the same
/// directory (not ending in `.wasm` or `.toml`), renamed into place.
async fn write_atomically(dir: &Path, file: &str, bytes: &[u8]) -> Result<(), String> {
    let temp = dir.join(format!(".{file}.deploying"));
    tokio::fs::write(&temp, bytes)
        .await
        .map_err(|e| format!("cannot write `{}`: {e}", temp.display()))?;
    tokio::fs::rename(&temp, dir.join(file))
        .await
        .map_err(|e| format!("cannot rename `{}` into place: {e}", temp.display()))
}
