//! What an operator grants a plugin, and the check at load time that a
//! component imports only what it was granted.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::Stores;

/// Capabilities a plugin is granted (the `[grants]` table of its manifest).
/// The defaults grant nothing: a plugin without a manifest gets `log` and
/// `progress` only.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// The private key-value store (`warden:node/kv`).
    #[serde(default)]
    pub kv: bool,
    /// Content-addressed blobs (`warden:node/blobs`).
    pub blobs: Option<BlobsGrant>,
    /// Node patterns the plugin may call (`warden:node/invoke`), e.g. `"text/*"`.
    #[serde(default)]
    pub invoke: Vec<String>,
    /// Environment variables the guest sees.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Host directories the guest may open.
    #[serde(default)]
    pub dirs: Vec<DirGrant>,
    /// Where the plugin may send HTTP requests (`wasi:http`): URL patterns
    /// like `"https://api.example.com/*"`; nothing by default.
    #[serde(default)]
    pub http: Vec<String>,
}

/// How much of the blob store a plugin may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlobsGrant {
    /// `get` and `stat` only.
    Read,
    /// `put` as well.
    ReadWrite,
}

/// A host directory mapped into the guest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirGrant {
    /// The directory on the host; relative paths are relative to the manifest.
    pub host: PathBuf,
    /// Where the guest sees it, an absolute path like `/data`.
    pub guest: String,
    /// Whether the guest may write. Default: read-only.
    #[serde(default)]
    pub write: bool,
}

/// Everything a loaded plugin may use besides computing: its grants, the
/// host's stores those grants refer to, and where the grants came from.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    /// What the operator granted.
    pub grants: Grants,
    /// The host's key-value and blob stores; `None` on a host without a
    /// state directory, where `kv` and `blobs` calls fail with `failed`.
    pub stores: Option<Stores>,
    /// The manifest the grants came from, named in load errors.
    pub manifest: Option<PathBuf>,
}

impl Capabilities {
    /// Grants `grants` from the manifest `manifest`, using `stores`.
    pub fn new(grants: Grants, stores: Option<Stores>, manifest: Option<PathBuf>) -> Self {
        Capabilities {
            grants,
            stores,
            manifest,
        }
    }

    /// Whether the grants allow the `warden:node` interface `iface`.
    fn allows(&self, iface: &str) -> bool {
        match iface {
            "kv" => self.grants.kv,
            "blobs" => self.grants.blobs.is_some(),
            "invoke" => !self.grants.invoke.is_empty(),
            _ => true,
        }
    }

    /// Whether the grants let the import `path` (e.g. `warden:node/kv`,
    /// `wasi:http/outgoing-handler`, without the version) do anything.
    pub fn grants_import(&self, path: &str) -> bool {
        if path == "wasi:http/outgoing-handler" {
            return !self.grants.http.is_empty();
        }
        path.strip_prefix("warden:node/")
            .is_none_or(|iface| self.allows(iface))
    }
}

/// The `warden:node` interfaces a component may import, with the manifest
/// line that grants each (`None`: always granted).
pub const INTERFACES: [(&str, Option<&str>); 6] = [
    ("log", None),
    ("progress", None),
    ("types", None),
    ("kv", Some("kv = true")),
    ("blobs", Some("blobs = \"read\"")),
    ("invoke", Some("invoke = [\"plugin/*\"]")),
];

/// Why a component's imports do not fit its grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    /// It imports a `warden:node` interface that is not granted.
    NotGranted {
        /// The import, e.g. `warden:node/kv@0.1.0`.
        import: String,
        /// The grant's name, e.g. `kv`.
        grant: String,
        /// The manifest line that grants it, e.g. `kv = true`.
        line: String,
        /// The manifest file (or where it would be).
        manifest: String,
    },
    /// It imports a `warden:node` interface this host does not have.
    UnknownInterface {
        /// The import.
        import: String,
        /// The interface's name.
        interface: String,
    },
    /// A granted directory does not exist.
    MissingDir {
        /// The host directory.
        host: String,
        /// Where the guest would see it.
        guest: String,
    },
}

/// Refuses a component whose imports (`imports`, by name) include a
/// `warden:node` interface its grants do not allow or this host does not
/// know, and checks that granted directories exist. `plugin` names the
/// plugin in the manifest hint.
///
/// # Errors
///
/// The first [`GrantError`] found.
pub fn check<'i>(
    plugin: &str,
    imports: impl IntoIterator<Item = &'i str>,
    caps: &Capabilities,
) -> Result<(), GrantError> {
    for import in imports {
        let Some(rest) = import.strip_prefix("warden:node/") else {
            continue;
        };
        let iface = rest.split('@').next().unwrap_or(rest);
        match INTERFACES.iter().find(|(n, _)| *n == iface) {
            Some((_, None)) => {}
            Some((_, Some(line))) if !caps.allows(iface) => {
                let manifest = caps.manifest.as_deref().map_or_else(
                    || format!("{plugin}.toml beside {plugin}.wasm"),
                    |p| p.display().to_string(),
                );
                return Err(GrantError::NotGranted {
                    import: import.to_owned(),
                    grant: iface.to_owned(),
                    line: (*line).to_owned(),
                    manifest,
                });
            }
            Some(_) => {}
            None => {
                return Err(GrantError::UnknownInterface {
                    import: import.to_owned(),
                    interface: iface.to_owned(),
                });
            }
        }
    }
    for dir in &caps.grants.dirs {
        if !dir.host.is_dir() {
            return Err(GrantError::MissingDir {
                host: dir.host.display().to_string(),
                guest: dir.guest.clone(),
            });
        }
    }
    Ok(())
}
