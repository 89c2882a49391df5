//! The `warden` command line: a thin clap front end over the library.
//!
//! Every command prints results on stdout and failures on stderr as
//! `error[KIND]: message`, exiting non-zero, so scripts can tell kinds apart.

mod bench;
mod blob;
mod build;
mod check;
mod client;
mod deploy;
mod dev;
mod guest_py;
mod jobs;
mod new;
mod openapi;
mod run;
mod serve;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Warden: a sandboxed WebAssembly plugin host.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a plugin project (Rust, Python or JavaScript) that builds as generated.
    New(new::NewArgs),
    /// Build a plugin project into a component, check it, and optionally install it.
    Build(build::BuildArgs),
    /// Build and serve a plugin project, rebuilding it on every change.
    Dev(dev::DevArgs),
    /// Show the nodes (signatures, docs) and imports of a component.
    Check(check::CheckArgs),
    /// Call one node of a component locally and print the result as JSON.
    Run(run::RunArgs),
    /// Serve the plugins in a directory over QUIC.
    Serve(serve::ServeArgs),
    /// Call a node on a server and print the result as JSON.
    Call(client::CallArgs),
    /// List the nodes a server serves.
    Nodes(client::NodesArgs),
    /// Print a node's signature and JSON Schemas.
    Describe(client::DescribeArgs),
    /// Start a call in the background and print its job id.
    Submit(jobs::SubmitArgs),
    /// Print a job's result (or its state while it runs).
    Job(jobs::JobArgs),
    /// Cancel a job.
    Cancel(jobs::CancelArgs),
    /// Load-test a served node: calls/s, latency percentiles, errors.
    Bench(bench::BenchArgs),
    /// Upload or download a blob.
    Blob(blob::BlobArgs),
    /// Publish a plugin to a cluster (or list or withdraw deployments).
    Deploy(deploy::DeployArgs),
    /// Make a caller token and print the host config lines for it.
    Token(token::TokenArgs),
    /// Print the OpenAPI document of the HTTP gateway for a plugin directory.
    Openapi(openapi::OpenapiArgs),
}

/// A failure to report as `error[KIND]: message`.
#[derive(Debug)]
pub(crate) struct Failure {
    kind: String,
    message: String,
}

impl Failure {
    pub(crate) fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Failure {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// What went wrong, without the kind.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl From<crate::CallError> for Failure {
    fn from(e: crate::CallError) -> Self {
        let mut message = e.message;
        if let Some(details) = &e.details
            && details.as_str().is_none_or(|d| d != message)
        {
            message.push_str(&format!(
                " (details: {})",
                crate::json::from_msgpack(details)
            ));
        }
        Failure::new(e.kind.as_str(), message)
    }
}

impl From<crate::LoadError> for Failure {
    fn from(e: crate::LoadError) -> Self {
        Failure::new("load", e.to_string())
    }
}

/// Runs the command line with the process arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::New(args) => new::run(args),
        Command::Build(args) => build::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Check(args) => check::run(args),
        Command::Run(args) => run::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Call(args) => client::call(args),
        Command::Nodes(args) => client::nodes(args),
        Command::Describe(args) => client::describe(args),
        Command::Bench(args) => bench::run(args),
        Command::Blob(args) => blob::run(args),
        Command::Deploy(args) => deploy::run(args),
        Command::Submit(args) => jobs::submit(args),
        Command::Job(args) => jobs::job(args),
        Command::Cancel(args) => jobs::cancel(args),
        Command::Token(args) => token::run(args),
        Command::Openapi(args) => openapi::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error[{}]: {}", failure.kind, failure.message);
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `WARDEN_LOG` (or `RUST_LOG`) sets the filter, by default
/// warnings, the host's own events and guest log lines at info and above.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("WARDEN_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "warn,warden_host=info,warden::guest=info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// A tokio runtime for one command.
pub(crate) fn tokio() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::new("internal", format!("cannot start the async runtime: {e}")))
}

/// Makes the sandbox runtime, reporting failures the CLI way.
pub(crate) fn runtime() -> Result<crate::Runtime, Failure> {
    crate::Runtime::new()
        .map_err(|e| Failure::new("internal", format!("cannot create the wasm engine: {e:#}")))
}

/// The manifest in `toml`: `None` when there is no such file and it was
/// not asked for by name (`required`).
pub(crate) fn manifest_of(
    toml: &std::path::Path,
    required: bool,
) -> Result<Option<crate::plugins::Manifest>, Failure> {
    if !required && !toml.is_file() {
        return Ok(None);
    }
    crate::plugins::Manifest::load(toml)
        .map(Some)
        .map_err(|e| Failure::new("config", e.to_string()))
}

/// The bytes of the component file `file`.
pub(crate) fn read_component(file: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(file)
        .map_err(|e| Failure::new("load", format!("cannot read `{}`: {e}", file.display())))
}

/// The plugin name of a component file: its file stem.
pub(crate) fn plugin_name(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into())
}
