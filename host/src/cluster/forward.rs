//! The entry side of forwarded calls: the host's [`Remote`], sending a call
//! to a host that serves its plugin and relaying its events, items, input
//! and cancellation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use rmpv::Value;

use super::wire::{self, CallRequest, Frame, Joiner, MAX_MESSAGE, WINDOW};
use super::{ACCEPT_WAIT, ALIVE_EVERY, SILENCE_LIMIT, Shared};
use crate::host::{CallIo, Remote, RemoteCall, RemoteNode};
use crate::proto::{CallError, CallEvent, ErrorKind, NodeKind, PluginStatus, Response};

/// How long past its deadline the entry waits for a call's answer (the
/// serving host's own timeout answers first).
const ANSWER_GRACE: Duration = Duration::from_secs(2);

/// Pause between two tries when no host took a call.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Tries per host serving the plugin when hosts answer `overloaded`
/// (the queue group picks a host at random, so a busy one may be picked
/// again).
const OVERLOADED_TRIES_PER_HOST: usize = 8;

/// Pause between two tries when a host was too busy.
const OVERLOADED_PAUSE: Duration = Duration::from_millis(10);

/// The cluster as the host's source of remote nodes.
pub(super) struct Router {
    shared: Arc<Shared>,
}

impl Router {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Router { shared }
    }
}

impl Remote for Router {
    fn host_id(&self) -> &str {
        &self.shared.host_id
    }

    fn nodes(&self) -> Vec<RemoteNode> {
        self.shared.peers.nodes()
    }

    fn find(&self, full: &str) -> Option<RemoteNode> {
        self.shared.peers.find(full)
    }

    fn plugins(&self) -> Vec<PluginStatus> {
        self.shared.peers.plugins()
    }

    fn call(
        &self,
        call: RemoteCall,
        args: Value,
        io: CallIo,
    ) -> BoxFuture<'static, Result<Value, CallError>> {
        Box::pin(forward(self.shared.clone(), call, args, io))
    }
}

fn unavailable(message: impl Into<String>) -> CallError {
    CallError::new(ErrorKind::Unavailable, message)
}

/// Sends `cancel` to a serving host if the call is dropped before its
/// answer, and stops the `alive` messages.
struct Guard {
    shared: Arc<Shared>,
    control: Option<String>,
    alive: Option<tokio::task::JoinHandle<()>>,
    answered: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(alive) = self.alive.take() {
            alive.abort();
        }
        if self.answered {
            return;
        }
        if let (Some(control), Ok(runtime)) =
            (self.control.take(), tokio::runtime::Handle::try_current())
        {
            let shared = self.shared.clone();
            runtime.spawn(async move {
                let _ = shared.send(control, &Frame::Cancel.into_value()).await;
            });
        }
    }
}

/// What the first answer to a request was.
enum Taken {
    /// A host accepted the call.
    Accepted {
        host: String,
        control: String,
        window: u32,
        answers: async_nats::Subscriber,
    },
    /// Nobody took it; try again.
    Nobody,
}

/// Sends the request once (to a fresh inbox) and waits for a host to take
/// it, at most [`ACCEPT_WAIT`].
async fn offer(
    shared: &Shared,
    subject: &str,
    request: &[u8],
    until: Instant,
) -> Result<Taken, CallError> {
    let inbox = shared.client.new_inbox();
    let mut answers = shared
        .client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| unavailable(format!("cannot subscribe on NATS: {e}")))?;
    let mut payload = Vec::with_capacity(request.len() + 1);
    payload.push(wire::WHOLE);
    payload.extend_from_slice(request);
    shared
        .client
        .publish_with_reply(subject.to_owned(), inbox, payload.into())
        .await
        .map_err(|e| unavailable(format!("cannot publish to NATS: {e}")))?;
    let wait_until = until.min(Instant::now() + ACCEPT_WAIT);
    let mut joiner = Joiner::new(MAX_MESSAGE);
    loop {
        let heard = tokio::time::timeout_at(wait_until.into(), answers.next()).await;
        let message = match heard {
            Err(_) => return Ok(Taken::Nobody),
            Ok(None) => return Err(unavailable("the NATS connection closed")),
            Ok(Some(message)) => message,
        };
        if message.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
            return Ok(Taken::Nobody);
        }
        let frame = match joiner.push(&message.payload) {
            Ok(Some(v)) => Frame::from_value(v),
            Ok(None) => continue,
            Err(e) => Err(e),
        };
        match frame {
            Ok(Frame::Accepted {
                host,
                control,
                window,
            }) => {
                return Ok(Taken::Accepted {
                    host,
                    control,
                    window,
                    answers,
                });
            }
            // Refused at admission there: nothing started.
            Ok(Frame::Response(Response::Err(e))) => return Err(e),
            Ok(_) => {}
            Err(e) => return Err(unavailable(format!("a bad answer from a host: {e}"))),
        }
    }
}

/// Runs `call` on a host serving its plugin.
async fn forward(
    shared: Arc<Shared>,
    call: RemoteCall,
    args: Value,
    io: CallIo,
) -> Result<Value, CallError> {
    let plugin = call.node.split_once('/').map_or(&*call.node, |(p, _)| p);
    let subject = shared.subject(&format!("call.{plugin}"));
    let channel = call.info.kind == NodeKind::Channel;
    let left = call.deadline.saturating_duration_since(Instant::now());
    let mut request = CallRequest {
        node: call.node.clone(),
        caller: call.caller.clone(),
        chain: call.chain.clone(),
        deadline_ms: u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
        trace: call.trace.as_ref().map(|t| t.header()),
        collect: io.stream.is_none(),
        window: WINDOW,
        args: Some(args),
    };
    let mut encoded = wire::encode(&request.to_value());
    // Arguments too large for one message follow once a host took the call.
    let args_after = if encoded.len() > shared.chunk() {
        let args = request.args.take();
        encoded = wire::encode(&request.to_value());
        args
    } else {
        None
    };
    // Offered until a host takes it: a host that died (or is leaving) has
    // no subscription any more, and the next try reaches another. A host
    // too busy to take it (`overloaded`, nothing started) is passed over
    // for another serving the plugin, a few tries per host.
    let mut busy_tries = 0;
    let (host, control, mut input_credits, mut answers) = loop {
        if Instant::now() >= call.deadline {
            return Err(unavailable(format!(
                "no host of the cluster took the call of `{}` before its deadline",
                call.node
            )));
        }
        let offered = match offer(&shared, &subject, &encoded, call.deadline).await {
            Err(e) if e.kind == ErrorKind::Overloaded => {
                let hosts = shared.peers.find(&call.node).map_or(0, |n| n.hosts.len());
                busy_tries += 1;
                if hosts < 2 || busy_tries >= hosts * OVERLOADED_TRIES_PER_HOST {
                    return Err(e);
                }
                tokio::time::sleep(OVERLOADED_PAUSE).await;
                continue;
            }
            offered => offered?,
        };
        match offered {
            Taken::Accepted {
                host,
                control,
                window,
                answers,
            } => break (host, control, window, answers),
            Taken::Nobody => {
                if shared.peers.find(&call.node).is_none() {
                    return Err(unavailable(format!(
                        "no host of the cluster serves `{}` any more",
                        call.node
                    )));
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    };
    tracing::debug!(node = %call.node, %host, "call forwarded");
    let alive = {
        let shared = shared.clone();
        let control = control.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(ALIVE_EVERY);
            loop {
                tick.tick().await;
                let _ = shared
                    .send(control.clone(), &Frame::Alive.into_value())
                    .await;
            }
        })
    };
    let mut guard = Guard {
        shared: shared.clone(),
        control: Some(control.clone()),
        alive: Some(alive),
        answered: false,
    };
    let to_server = |frame: Frame| shared.send_frame(control.clone(), frame);
    if let Some(args) = args_after {
        to_server(Frame::Args(args)).await?;
    }
    let CallIo { events, stream } = io;
    let (items, mut inputs) = match stream {
        Some(s) => (Some(s.items), s.inputs.filter(|_| channel)),
        None => (None, None),
    };
    let answer_by = call.deadline + ANSWER_GRACE;
    let mut joiner = Joiner::new(MAX_MESSAGE);
    let mut last_heard = Instant::now();
    let mut check = tokio::time::interval(ALIVE_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        let input_open = inputs.is_some() && input_credits > 0;
        tokio::select! {
            biased;
            message = answers.next() => {
                let Some(message) = message else {
                    break Err(unavailable("the NATS connection closed"));
                };
                last_heard = Instant::now();
                let frame = match joiner.push(&message.payload) {
                    Ok(Some(v)) => Frame::from_value(v),
                    Ok(None) => continue,
                    Err(e) => Err(e),
                };
                let frame = match frame {
                    Ok(frame) => frame,
                    Err(e) => break Err(unavailable(format!("a bad answer from host `{host}`: {e}"))),
                };
                match frame {
                    Frame::Response(Response::Ok(value)) => {
                        guard.answered = true;
                        break Ok(value);
                    }
                    Frame::Response(Response::Err(e)) => {
                        guard.answered = true;
                        break Err(e);
                    }
                    Frame::Response(Response::Event(CallEvent::Item(value))) => {
                        let Some(items) = &items else { continue };
                        // The caller's pace: the serving host waits for the
                        // credit this sends once the item is taken.
                        match tokio::time::timeout_at(answer_by.into(), items.send(value)).await {
                            Ok(Ok(())) => to_server(Frame::Credit(1)).await?,
                            // The caller stopped reading: the call ends.
                            Ok(Err(_)) | Err(_) => break Err(CallError::new(
                                ErrorKind::Cancelled,
                                "the caller stopped reading the call's items",
                            )),
                        }
                    }
                    Frame::Response(Response::Event(event)) => {
                        if let Some(events) = &events {
                            events(event);
                        }
                    }
                    Frame::Credit(n) => input_credits = input_credits.saturating_add(n),
                    _ => {}
                }
            }
            input = async { inputs.as_mut()?.recv().await }, if input_open => {
                match input {
                    Some(value) => {
                        input_credits -= 1;
                        to_server(Frame::Input(value)).await?;
                    }
                    None => {
                        inputs = None;
                        to_server(Frame::End).await?;
                    }
                }
            }
            _ = check.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    break Err(unavailable(format!(
                        "host `{host}` stopped answering during the call of `{}` (it may have \
                         stopped or lost its connection); the call may or may not have run",
                        call.node
                    )));
                }
                if Instant::now() > answer_by {
                    break Err(CallError::new(
                        ErrorKind::Timeout,
                        format!("host `{host}` did not answer the call of `{}` by its deadline", call.node),
                    ));
                }
            }
        }
    };
    // Unless the serving host answered, dropping the guard cancels there.
    drop(guard);
    result
}
