//! `warden blob put FILE` and `warden blob get REF`: blobs over the network,
//! streamed in chunks.

use std::path::PathBuf;

use super::Failure;
use super::client::ConnectArgs;

/// Arguments of `warden blob`.
#[derive(Debug, clap::Args)]
pub(crate) struct BlobArgs {
    #[command(subcommand)]
    command: BlobCommand,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, clap::Subcommand)]
enum BlobCommand {
    /// Upload FILE (`-` for stdin) and print its reference.
    Put {
        /// The file to upload.
        file: PathBuf,
    },
    /// Download blob REF to `--output` (default stdout); the hash is checked.
    Get {
        /// The reference, `blake3:` and 64 hex digits.
        reference: String,
        /// Where to write it.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

pub(crate) fn run(args: BlobArgs) -> Result<(), Failure> {
    super::tokio()?.block_on(async {
        let client = args.connect.connect().await?;
        let result = match &args.command {
            BlobCommand::Put { file } => put(&client, file).await,
            BlobCommand::Get { reference, output } => {
                get(&client, reference, output.as_ref()).await
            }
        };
        client.close().await;
        result
    })
}

async fn put(client: &crate::rpc::Client, file: &PathBuf) -> Result<(), Failure> {
    let cannot =
        |e: std::io::Error| Failure::new("usage", format!("cannot read `{}`: {e}", file.display()));
    let info = if file.as_os_str() == "-" {
        client.put_blob(tokio::io::stdin(), None).await?
    } else {
        let f = tokio::fs::File::open(file).await.map_err(cannot)?;
        let size = f.metadata().await.map_err(cannot)?.len();
        client.put_blob(f, Some(size)).await?
    };
    println!("{}", info.reference);
    eprintln!("warden: stored {} bytes", info.size);
    Ok(())
}

/// Hashes what passes through, so the download can be checked.
struct Hashing<W> {
    inner: W,
    hasher: blake3::Hasher,
}

impl<W: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Hashing<W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let poll = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = poll {
            self.hasher.update(&buf[..n]);
        }
        poll
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn get(
    client: &crate::rpc::Client,
    reference: &str,
    output: Option<&PathBuf>,
) -> Result<(), Failure> {
    let expected = crate::caps::BlobRef::parse(reference).map_err(|e| Failure::new("usage", e))?;
    let hasher = blake3::Hasher::new();
    let (info, hasher) = match output {
        Some(path) => {
            let file = tokio::fs::File::create(path).await.map_err(|e| {
                Failure::new("usage", format!("cannot create `{}`: {e}", path.display()))
            })?;
            let mut out = Hashing {
                inner: file,
                hasher,
            };
            let info = client.get_blob(reference, &mut out).await?;
            (info, out.hasher)
        }
        None => {
            let mut out = Hashing {
                inner: tokio::io::stdout(),
                hasher,
            };
            let info = client.get_blob(reference, &mut out).await?;
            (info, out.hasher)
        }
    };
    let got = format!("{}{}", crate::caps::REF_PREFIX, hasher.finalize().to_hex());
    if got != expected.to_string() {
        return Err(Failure::new(
            "protocol",
            format!("the downloaded bytes hash to {got}, not {reference}"),
        ));
    }
    eprintln!("warden: {} bytes, hash checked", info.size);
    Ok(())
}
