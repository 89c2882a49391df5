//! The client commands: `warden call`, `warden nodes`, `warden describe`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use super::Failure;
use crate::proto::{PluginState, ServerStatus};
use crate::rpc::{CallOpts, Client, ClientError, ConnectOpts, Event, Trust, tls};

/// How to reach and trust the server.
#[derive(Debug, clap::Args)]
pub(crate) struct ConnectArgs {
    /// The server's address (`host:port`).
    #[arg(long, global = true, default_value = "127.0.0.1:7443")]
    addr: String,
    /// Trust the server whose certificate has this SHA-256 fingerprint.
    #[arg(long, global = true, value_name = "HEX", conflicts_with = "ca")]
    fingerprint: Option<String>,
    /// Trust servers whose certificate is issued by the CA in this PEM file.
    #[arg(long, global = true, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// The state directory of a local server: without `--fingerprint` or
    /// `--ca`, the client trusts the certificate that server keeps there.
    #[arg(long, global = true, value_name = "DIR", default_value_os_t = crate::rpc::default_state_dir())]
    state_dir: PathBuf,
    /// The caller token to present (servers with an access config need one
    /// for what anonymous callers may not do).
    #[arg(long, global = true, env = "WARDEN_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl ConnectArgs {
    fn trust(&self) -> Result<Trust, Failure> {
        if let Some(fp) = &self.fingerprint {
            let fp =
                tls::parse_fingerprint(fp).map_err(|e| Failure::new("usage", e.to_string()))?;
            return Ok(Trust::Fingerprint(fp));
        }
        if let Some(ca) = &self.ca {
            return Ok(Trust::CaFile(ca.clone()));
        }
        let fp = tls::local_fingerprint(&self.state_dir).map_err(|e| {
            Failure::new(
                "connect",
                format!(
                    "no server certificate to trust: {e}. Pass --fingerprint (printed by \
                     `warden serve`) or --ca, or --state-dir of a local server"
                ),
            )
        })?;
        Ok(Trust::Fingerprint(fp))
    }

    /// The caller token, if one was given.
    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub(crate) async fn connect(&self) -> Result<Client, Failure> {
        let opts = ConnectOpts {
            token: self.token.clone(),
            ..ConnectOpts::default()
        };
        Client::connect_with(&self.addr, self.trust()?, opts)
            .await
            .map_err(Failure::from)
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Call(call) => call.into(),
            other => Failure::new(other.kind(), other.message()),
        }
    }
}

/// Arguments of `warden call`.
#[derive(Debug, clap::Args)]
pub(crate) struct CallArgs {
    /// The node's full name, e.g. `math/add` or `text/strings/upper`.
    node: String,
    /// The arguments. One JSON array or object is the whole argument list
    /// (`'[1,2]'`, `'{"a":1,"b":2}'`); otherwise each ARG is one argument in
    /// order, read as JSON or else as a string (`1 2`, `hello`).
    args: Vec<String>,
    /// Seconds to wait; the server stops the node after that (`timeout`).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Do not show progress.
    #[arg(long, short)]
    quiet: bool,
    /// For a channel node: send each line of stdin (JSON, else a string) as
    /// a message; the input ends at end of file.
    #[arg(long)]
    stdin: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Turns command-line words into call arguments (see [`CallArgs::args`]).
pub(crate) fn parse_args(words: &[String]) -> Result<rmpv::Value, Failure> {
    if let [one] = words {
        let trimmed = one.trim_start();
        if trimmed.starts_with('[') || trimmed.starts_with('{') {
            let json: serde_json::Value = serde_json::from_str(one).map_err(|e| {
                Failure::new(
                    "bad-args",
                    format!("the arguments are not valid JSON ({e}); give a map like '{{\"a\":1}}' or an array like '[1,2]'"),
                )
            })?;
            return Ok(crate::json::to_msgpack(&json));
        }
    }
    Ok(rmpv::Value::Array(
        words
            .iter()
            .map(|w| match serde_json::from_str::<serde_json::Value>(w) {
                Ok(json) => crate::json::to_msgpack(&json),
                Err(_) => rmpv::Value::from(w.as_str()),
            })
            .collect(),
    ))
}

pub(crate) fn call(args: CallArgs) -> Result<(), Failure> {
    let call_args = parse_args(&args.args)?;
    let deadline = match args.timeout {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(_) => {
            return Err(Failure::new(
                "usage",
                "--timeout must be a positive number of seconds",
            ));
        }
        None => None,
    };
    super::tokio()?.block_on(async {
        let client = args.connect.connect().await?;
        let result = run_call(&client, &args, call_args, deadline).await;
        client.close().await;
        result
    })
}

async fn run_call(
    client: &Client,
    args: &CallArgs,
    call_args: rmpv::Value,
    deadline: Option<Duration>,
) -> Result<(), Failure> {
    let opts = CallOpts {
        deadline,
        meta: None,
    };
    let (mut stream, feeding) = if args.stdin {
        let (sender, stream) = client.channel(&args.node, call_args, opts).await?;
        (stream, Some(tokio::spawn(feed_stdin(sender))))
    } else {
        (client.call_with(&args.node, call_args, opts).await?, None)
    };
    let mut bar = ProgressBar::new(args.quiet);
    let mut items = 0u64;
    while let Some(event) = stream.next().await {
        match event {
            Event::Progress { fraction, message } => bar.show(fraction, &message),
            Event::Log { level, message } => bar.line(&format!("[{level}] {message}")),
            Event::Item(v) => {
                bar.clear();
                items += 1;
                println!("{}", crate::json::from_msgpack(&v));
            }
        }
    }
    bar.clear();
    if let Some(feeding) = feeding {
        feeding.abort();
    }
    let value = stream.result().await?;
    // A stream's items were its output; its final value is nil.
    if items == 0 || !value.is_nil() {
        println!("{}", crate::json::from_msgpack(&value));
    }
    Ok(())
}

/// Sends each line of stdin (JSON, else a string) to a channel node.
async fn feed_stdin(mut sender: crate::rpc::ChannelSender) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let value = match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(json) => crate::json::to_msgpack(&json),
            Err(_) => rmpv::Value::from(line.as_str()),
        };
        if sender.send(value).await.is_err() {
            return;
        }
    }
    sender.finish();
}

/// Progress on stderr: a redrawn bar on a terminal, plain lines otherwise.
struct ProgressBar {
    quiet: bool,
    tty: bool,
    drawn: bool,
}

impl ProgressBar {
    fn new(quiet: bool) -> Self {
        ProgressBar {
            quiet,
            tty: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    fn show(&mut self, fraction: f32, message: &str) {
        if self.quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        let percent = (fraction * 100.0).round();
        if self.tty {
            const WIDTH: usize = 30;
            let filled = ((fraction * WIDTH as f32).round() as usize).min(WIDTH);
            let message: String = message.chars().take(40).collect();
            let _ = write!(
                err,
                "\r\x1b[2K[{}{}] {percent:>3}% {message}",
                "#".repeat(filled),
                "-".repeat(WIDTH - filled)
            );
            self.drawn = true;
        } else {
            let _ = writeln!(err, "[{percent:>3}%] {message}");
        }
        let _ = err.flush();
    }

    fn line(&mut self, text: &str) {
        self.clear();
        eprintln!("{text}");
    }

    fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }
}

/// Arguments of `warden nodes`.
#[derive(Debug, clap::Args)]
pub(crate) struct NodesArgs {
    /// Print the catalog as JSON.
    #[arg(long)]
    json: bool,
    /// Wait up to SECONDS for plugins that are still loading (for scripts
    /// that call nodes right after starting a server).
    #[arg(long, value_name = "SECONDS")]
    wait: Option<f64>,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn nodes(args: NodesArgs) -> Result<(), Failure> {
    let wait = match args.wait {
        Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
        Some(_) => return Err(Failure::new("usage", "--wait must be a number of seconds")),
        None => None,
    };
    let (catalog, status) = super::tokio()?.block_on(async {
        let client = args.connect.connect().await?;
        let both = async {
            let until = wait.map(|w| tokio::time::Instant::now() + w);
            loop {
                let status = status_if_allowed(&client).await?;
                let loading = status
                    .plugins
                    .iter()
                    .any(|p| p.state == PluginState::Loading);
                match until {
                    Some(until) if loading && tokio::time::Instant::now() < until => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    _ => return Ok::<_, ClientError>((client.catalog().await?, status)),
                }
            }
        }
        .await;
        client.close().await;
        both.map_err(Failure::from)
    })?;
    if args.json {
        let catalog: Vec<serde_json::Value> = catalog
            .iter()
            .map(|n| crate::json::from_msgpack(&n.to_value()))
            .collect();
        let plugins: Vec<serde_json::Value> = status
            .plugins
            .iter()
            .map(|p| crate::json::from_msgpack(&p.to_value()))
            .collect();
        let out = serde_json::json!({"nodes": catalog, "plugins": plugins});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(());
    }
    print_plugins(&status);
    if catalog.is_empty() {
        println!("(no nodes)");
        return Ok(());
    }
    let width = catalog
        .iter()
        .map(|n| n.node.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{:<width$}  SIGNATURE", "NODE");
    for node in &catalog {
        let params: Vec<String> = node
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        let result = node
            .result
            .as_deref()
            .map(|r| format!(" -> {r}"))
            .unwrap_or_default();
        println!("{:<width$}  func({}){result}", node.node, params.join(", "));
    }
    Ok(())
}

/// The server's status, or an empty one for an anonymous caller of a server
/// with access control (which may not see it).
async fn status_if_allowed(client: &Client) -> Result<ServerStatus, ClientError> {
    match client.status().await {
        Err(ClientError::Call(e)) if e.kind == crate::ErrorKind::Unauthenticated => {
            Ok(ServerStatus::default())
        }
        other => other,
    }
}

fn print_plugins(status: &ServerStatus) {
    if status.plugins.is_empty() {
        return;
    }
    let width = status
        .plugins
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    // In a cluster, which hosts have each plugin.
    let cluster = status.plugins.iter().any(|p| !p.hosts.is_empty());
    let header = format!(
        "{:<width$}  {:<7}  {:<20}  {:<20}  {:<5}{}",
        "PLUGIN",
        "STATE",
        "VERSION",
        "LOADED",
        "NODES",
        if cluster { "  HOSTS" } else { "" }
    );
    println!("{}", header.trim_end());
    for p in &status.plugins {
        let hosts = if cluster {
            format!("  {}", p.hosts.join(", "))
        } else {
            String::new()
        };
        let line = format!(
            "{:<width$}  {:<7}  {:<20}  {:<20}  {:<5}{hosts}",
            p.name,
            p.state.as_str(),
            p.version.as_deref().unwrap_or("-"),
            p.loaded_at.as_deref().unwrap_or("-"),
            p.nodes
        );
        println!("{}", line.trim_end());
        if let Some(error) = &p.error {
            println!("{:<width$}  failed: {error}", "");
        }
    }
    println!();
}

/// Arguments of `warden describe`.
#[derive(Debug, clap::Args)]
pub(crate) struct DescribeArgs {
    /// The node's full name.
    node: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn describe(args: DescribeArgs) -> Result<(), Failure> {
    let info = super::tokio()?.block_on(async {
        let client = args.connect.connect().await?;
        let info = client.describe(&args.node).await.map_err(Failure::from);
        client.close().await;
        info
    })?;
    let json = crate::json::from_msgpack(&info.to_value());
    println!(
        "{}",
        serde_json::to_string_pretty(&json).unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_read_as_one_json_value_or_as_words() {
        let json = |s: &str| crate::json::to_msgpack(&serde_json::from_str(s).unwrap());
        assert_eq!(parse_args(&words(&["[1, 2]"])).unwrap(), json("[1, 2]"));
        assert_eq!(
            parse_args(&words(&[r#"{"a": 1}"#])).unwrap(),
            json(r#"{"a": 1}"#)
        );
        assert_eq!(parse_args(&words(&["1", "2"])).unwrap(), json("[1, 2]"));
        assert_eq!(
            parse_args(&words(&["hello"])).unwrap(),
            json(r#"["hello"]"#)
        );
        assert_eq!(
            parse_args(&words(&["\"x\"", "true"])).unwrap(),
            json(r#"["x", true]"#)
        );
        assert_eq!(parse_args(&words(&[])).unwrap(), json("[]"));
        assert!(parse_args(&words(&["[1,"])).is_err());
    }
}
