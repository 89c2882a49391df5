//! Errors of loading a plugin and of calling a node.

/// Why a component could not be loaded as a plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are a core wasm module, not a component.
    #[error(
        "plugin `{plugin}` is a core WebAssembly module, not a component: build it for the \
         `wasm32-wasip2` target (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule {
        /// The plugin.
        plugin: String,
    },
    /// The bytes are not WebAssembly at all.
    #[error("plugin `{plugin}` is not a WebAssembly component: {reason}")]
    NotWasm {
        /// The plugin.
        plugin: String,
        /// What is wrong with the bytes.
        reason: String,
    },
    /// wasmtime rejected or failed to compile the component.
    #[error("plugin `{plugin}` failed to compile: {reason}")]
    Compile {
        /// The plugin.
        plugin: String,
        /// The compiler's message.
        reason: String,
    },
    /// The component imports an interface the host does not provide.
    #[error("plugin `{plugin}` imports `{import}`, which this host does not provide: {hint}")]
    UnsatisfiedImport {
        /// The plugin.
        plugin: String,
        /// The import's name, e.g. `wasi:sockets/tcp@0.2.0`.
        import: String,
        /// What to do about it.
        hint: String,
    },
    /// The component imports a `warden:node` interface its manifest does not grant.
    #[error(
        "plugin `{plugin}` imports `{import}` but is not granted `{grant}`: add `{line}` under \
         `[grants]` in {manifest} if it should have it"
    )]
    NotGranted {
        /// The plugin.
        plugin: String,
        /// The import, e.g. `warden:node/kv@0.1.0`.
        import: String,
        /// The grant's name, e.g. `kv`.
        grant: String,
        /// The manifest line that grants it, e.g. `kv = true`.
        line: String,
        /// The manifest file (or where it would be).
        manifest: String,
    },
    /// A grant cannot be honoured (e.g. a granted directory does not exist).
    #[error("plugin `{plugin}` cannot be given its grants: {reason}")]
    BadGrant {
        /// The plugin.
        plugin: String,
        /// What is wrong.
        reason: String,
    },
    /// Linking failed for another reason.
    #[error("plugin `{plugin}` cannot be linked: {reason}")]
    Link {
        /// The plugin.
        plugin: String,
        /// wasmtime's message.
        reason: String,
    },
    /// The plugin asks for a limit above the engine's maximum.
    #[error(
        "plugin `{plugin}` asks for {asked} bytes of {what}, above the host's maximum of {max}: \
         lower the plugin's limit or raise the host's"
    )]
    LimitTooHigh {
        /// The plugin.
        plugin: String,
        /// Which limit.
        what: &'static str,
        /// What the plugin asked for.
        asked: usize,
        /// The engine's maximum.
        max: usize,
    },
}
