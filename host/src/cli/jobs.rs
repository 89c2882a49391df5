//! `warden submit`, `warden job`, `warden cancel`: calls that run in the
//! background.

use std::time::Duration;

use super::Failure;
use super::client::{ConnectArgs, parse_args};
use crate::proto::JobInfo;

/// Arguments of `warden submit`.
#[derive(Debug, clap::Args)]
pub(crate) struct SubmitArgs {
    /// The node's full name.
    node: String,
    /// The arguments, as for `warden call`.
    args: Vec<String>,
    /// A node the server calls with the outcome (parameters named some of
    /// `job`, `node`, `state`, `result`, `error`).
    #[arg(long, value_name = "NODE")]
    callback: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Arguments of `warden job`.
#[derive(Debug, clap::Args)]
pub(crate) struct JobArgs {
    /// The job's id (printed by `warden submit`).
    id: String,
    /// Wait up to SECONDS for the job to finish.
    #[arg(long, value_name = "SECONDS")]
    wait: Option<f64>,
    /// Keep a finished job on the server after printing it.
    #[arg(long)]
    keep: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Arguments of `warden cancel`.
#[derive(Debug, clap::Args)]
pub(crate) struct CancelArgs {
    /// The job's id.
    id: String,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) fn submit(args: SubmitArgs) -> Result<(), Failure> {
    let call_args = parse_args(&args.args)?;
    let job = with_client(&args.connect, |client| async move {
        client
            .submit(&args.node, call_args, args.callback.as_deref())
            .await
    })?;
    println!("{}", job.id);
    eprintln!(
        "warden: job {} queued; `warden job {} --wait 60` fetches its result",
        job.id, job.id
    );
    Ok(())
}

pub(crate) fn job(args: JobArgs) -> Result<(), Failure> {
    let wait = match args.wait {
        Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
        Some(_) => return Err(Failure::new("usage", "--wait must be a number of seconds")),
        None => None,
    };
    let keep = args.keep;
    let id = args.id.clone();
    let job = with_client(&args.connect, |client| async move {
        client.job(&id, wait, keep).await
    })?;
    report(&job)
}

pub(crate) fn cancel(args: CancelArgs) -> Result<(), Failure> {
    let id = args.id.clone();
    let job = with_client(
        &args.connect,
        |client| async move { client.cancel(&id).await },
    )?;
    eprintln!("warden: job {} is {}", job.id, job.state.as_str());
    Ok(())
}

/// Prints a finished job's result like `warden call` does (or fails like
/// it); an unfinished job fails with kind `queued` or `running`.
fn report(job: &JobInfo) -> Result<(), Failure> {
    use crate::proto::JobState;
    match job.state {
        JobState::Done => {
            let result = job.result.clone().unwrap_or(rmpv::Value::Nil);
            println!("{}", crate::json::from_msgpack(&result));
            Ok(())
        }
        JobState::Failed => Err(Failure::new(
            job.error_kind
                .unwrap_or(crate::ErrorKind::Internal)
                .as_str(),
            job.error.clone().unwrap_or_default(),
        )),
        JobState::Cancelled => Err(Failure::new(
            "cancelled",
            format!("job {} was cancelled", job.id),
        )),
        JobState::Queued | JobState::Running => Err(Failure::new(
            job.state.as_str(),
            format!(
                "job {} has not finished; `warden job {} --wait SECONDS` waits for it",
                job.id, job.id
            ),
        )),
    }
}

fn with_client<T, F, Fut>(connect: &ConnectArgs, f: F) -> Result<T, Failure>
where
    F: FnOnce(crate::rpc::Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::rpc::ClientError>>,
{
    super::tokio()?.block_on(async {
        let client = connect.connect().await?;
        let result = f(client.clone()).await;
        client.close().await;
        result.map_err(Failure::from)
    })
}
