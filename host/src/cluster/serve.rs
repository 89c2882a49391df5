//! The serving side of forwarded calls: a queue subscription per plugin
//! ready here, and each request run through [`Host::admit_here`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rmpv::Value;
use tokio::sync::mpsc;

use super::wire::{CallRequest, Frame, Joiner, MAX_MESSAGE, WINDOW};
use super::{ALIVE_EVERY, SILENCE_LIMIT, Shared};
use crate::access::Caller;
use crate::host::is_token;
use crate::host::{CallIo, Host, Identity, Origin, StreamIo, Wait};
use crate::proto::{CallError, CallEvent, ErrorKind, NodeKind, Response, TraceContext};

/// Progress and log events queued for the entry host; past this, new ones
/// are dropped (as on QUIC).
const EVENT_BUFFER: usize = 256;

/// The plugins served here that the cluster can reach (their names are
/// subject tokens).
pub(super) fn ready_plugins(host: &Host) -> Vec<String> {
    host.plugins()
        .snapshot()
        .served()
        .map(|s| s.plugin.name().to_owned())
        .filter(|name| is_token(name))
        .collect()
}

/// Keeps one queue subscription per ready plugin until the cluster stops.
pub(super) async fn serve(shared: Arc<Shared>, host: Host) {
    let mut stop = shared.stop.subscribe();
    let mut changes = host.plugins().subscribe();
    // The plugins subscribed to, each with what stops its subscription.
    let mut serving: HashMap<String, tokio::sync::oneshot::Sender<()>> = HashMap::new();
    loop {
        let ready = ready_plugins(&host);
        serving.retain(|name, _| ready.contains(name));
        for name in ready {
            if serving.contains_key(&name) {
                continue;
            }
            let subject = shared.subject(&format!("call.{name}"));
            let group = format!("warden.{name}");
            match shared.client.queue_subscribe(subject, group).await {
                Ok(requests) => {
                    let (done, stopped) = tokio::sync::oneshot::channel();
                    serving.insert(name.clone(), done);
                    tokio::spawn(take_requests(
                        shared.clone(),
                        host.clone(),
                        requests,
                        stopped,
                    ));
                    tracing::debug!(plugin = %name, "serving the plugin to the cluster");
                }
                Err(e) => {
                    tracing::warn!(plugin = %name, "cannot serve the plugin to the cluster: {e}")
                }
            }
        }
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            // Retries a subscription that failed.
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Takes one plugin's requests until `stopped` (its subscription ends with
/// this task).
async fn take_requests(
    shared: Arc<Shared>,
    host: Host,
    mut requests: async_nats::Subscriber,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let mut stop = shared.stop.subscribe();
    loop {
        let message = tokio::select! {
            message = requests.next() => match message {
                Some(message) => message,
                None => return,
            },
            _ = &mut stopped => return,
            _ = stop.wait_for(|s| *s) => return,
        };
        tokio::spawn(answer(shared.clone(), host.clone(), message));
    }
}

/// The identity a forwarded call runs as: the entry host checked the
/// caller's own patterns; here only the plugin's `callers` apply.
fn forwarded(caller: &str) -> Identity {
    if caller == Identity::ANONYMOUS {
        return Identity::Anonymous(Arc::new(vec!["*".to_owned()]));
    }
    Identity::Caller(Arc::new(Caller {
        name: caller.to_owned(),
        nodes: vec!["*".to_owned()],
        blobs: None,
    }))
}

/// Answers one forwarded call on its reply subject.
async fn answer(shared: Arc<Shared>, host: Host, message: async_nats::Message) {
    let Some(reply) = message.reply.map(|r| r.to_string()) else {
        return;
    };
    let request = Joiner::new(MAX_MESSAGE)
        .push(&message.payload)
        .map_err(|e| e.to_string())
        .and_then(|v| v.ok_or_else(|| "a request in parts".to_owned()))
        .and_then(|v| CallRequest::from_value(v).map_err(|e| e.to_string()));
    let request = match request {
        Ok(request) => request,
        Err(why) => {
            let e = CallError::new(
                ErrorKind::BadRequest,
                format!("a bad forwarded call: {why}"),
            );
            let _ = shared
                .send(reply, &Frame::Response(Response::Err(e)).into_value())
                .await;
            return;
        }
    };
    let node = request.node.clone();
    if let Err(e) = run(&shared, &host, request, &reply).await {
        tracing::debug!(%node, "a forwarded call failed: {}", e.message);
        let _ = shared
            .send(reply, &Frame::Response(Response::Err(e)).into_value())
            .await;
    }
}

/// Admits and runs one forwarded call; an `Err` is answered by the caller
/// of this function.
async fn run(
    shared: &Shared,
    host: &Host,
    request: CallRequest,
    reply: &str,
) -> Result<(), CallError> {
    let unavailable = |e: String| CallError::new(ErrorKind::Unavailable, e);
    let deadline = Instant::now() + Duration::from_millis(request.deadline_ms);
    let identity = request.caller.as_deref().map(forwarded);
    let origin = match &identity {
        Some(identity) => Origin::Caller(identity),
        None => Origin::Node {
            chain: &request.chain,
        },
    };
    let admitted = host
        .admit_here(origin, &request.node, Some(deadline), Wait::No)
        .await?
        .with_trace(request.trace.as_deref().and_then(TraceContext::parse));
    let control = shared.client.new_inbox();
    let mut from_entry = shared
        .client
        .subscribe(control.clone())
        .await
        .map_err(|e| unavailable(format!("cannot subscribe on NATS: {e}")))?;
    let send = |frame: Frame| shared.send_frame(reply.to_owned(), frame);
    send(Frame::Accepted {
        host: shared.host_id.clone(),
        control,
        window: WINDOW,
    })
    .await?;
    let mut joiner = Joiner::new(MAX_MESSAGE);
    let mut last_heard = Instant::now();
    let args = match request.args {
        Some(args) => args,
        None => loop {
            let heard = tokio::time::timeout(SILENCE_LIMIT, from_entry.next()).await;
            let Ok(Some(message)) = heard else {
                return Err(CallError::new(
                    ErrorKind::Cancelled,
                    "the entry host did not send the arguments",
                ));
            };
            match joiner.push(&message.payload) {
                Ok(Some(v)) => match Frame::from_value(v) {
                    Ok(Frame::Args(args)) => break args,
                    Ok(Frame::Cancel) => return Ok(()),
                    _ => {}
                },
                Ok(None) => {}
                Err(e) => {
                    return Err(CallError::new(
                        ErrorKind::BadRequest,
                        format!("bad arguments: {e}"),
                    ));
                }
            }
        },
    };
    let channel = admitted.kind() == NodeKind::Channel;
    let (events_tx, mut events) = mpsc::channel::<CallEvent>(EVENT_BUFFER);
    let (items_tx, mut items) = mpsc::channel::<Value>(WINDOW as usize);
    let (mut inputs_tx, inputs_rx) = if channel {
        let (tx, rx) = mpsc::channel::<Value>(WINDOW as usize);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let io = CallIo {
        events: Some(Arc::new(move |event| {
            let _ = events_tx.try_send(event);
        })),
        stream: (channel || !request.collect).then_some(StreamIo {
            items: items_tx,
            inputs: inputs_rx,
        }),
    };
    let running = admitted.run(args, io);
    tokio::pin!(running);
    let mut credits = request.window;
    // Inputs received, waiting for room in the node's queue.
    let mut inputs: VecDeque<Value> = VecDeque::new();
    let mut input_ended = false;
    let mut alive = tokio::time::interval(ALIVE_EVERY);
    alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        let queue = inputs_tx.clone();
        tokio::select! {
            biased;
            result = &mut running => break result,
            Some(event) = events.recv() => {
                send(Frame::Response(Response::Event(event))).await?;
            }
            Some(item) = items.recv(), if credits > 0 => {
                credits -= 1;
                send(Frame::Response(Response::Event(CallEvent::Item(item)))).await?;
            }
            permit = async { queue?.reserve_owned().await.ok() }, if !inputs.is_empty() => {
                match (permit, inputs.pop_front()) {
                    (Some(permit), Some(value)) => {
                        permit.send(value);
                        send(Frame::Credit(1)).await?;
                    }
                    // The node stopped taking input; it ends on its own.
                    _ => {
                        inputs.clear();
                        inputs_tx = None;
                    }
                }
                if input_ended && inputs.is_empty() {
                    inputs_tx = None;
                }
            }
            message = from_entry.next() => {
                let Some(message) = message else {
                    return Err(unavailable("the NATS subscription ended".into()));
                };
                last_heard = Instant::now();
                let frame = match joiner.push(&message.payload) {
                    Ok(Some(v)) => Frame::from_value(v),
                    Ok(None) => continue,
                    Err(e) => Err(e),
                };
                match frame {
                    Ok(Frame::Credit(n)) => credits = credits.saturating_add(n),
                    Ok(Frame::Input(value)) if inputs_tx.is_some() && !input_ended => {
                        if inputs.len() >= 2 * WINDOW as usize {
                            break Err(CallError::new(
                                ErrorKind::BadRequest,
                                "the entry host sent more input than its window",
                            ));
                        }
                        inputs.push_back(value);
                    }
                    Ok(Frame::End) => {
                        input_ended = true;
                        if inputs.is_empty() {
                            inputs_tx = None;
                        }
                    }
                    Ok(Frame::Cancel) => {
                        tracing::debug!(node = %request.node, "forwarded call cancelled");
                        return Ok(());
                    }
                    Ok(_) => {}
                    Err(e) => {
                        break Err(CallError::new(
                            ErrorKind::BadRequest,
                            format!("a bad frame from the entry host: {e}"),
                        ));
                    }
                }
            }
            _ = alive.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    tracing::debug!(node = %request.node, "the entry host went away; call cancelled");
                    return Ok(());
                }
                send(Frame::Alive).await?;
            }
        }
    };
    // Events and items sent before the result go out before it (at most
    // the buffers' worth, past the window).
    while let Ok(event) = events.try_recv() {
        send(Frame::Response(Response::Event(event))).await?;
    }
    while let Ok(item) = items.try_recv() {
        send(Frame::Response(Response::Event(CallEvent::Item(item)))).await?;
    }
    send(Frame::Response(Response::outcome(result))).await
}
