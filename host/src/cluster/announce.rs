//! Announcing this host's plugins every [`ANNOUNCE_EVERY`] (and at once
//! when they change, or when a new host is heard, so it learns the catalog
//! without waiting), and hearing the other hosts'.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use super::peers::{AnnouncedPlugin, Announcement};
use super::wire::{Joiner, MAX_MESSAGE};
use super::{ANNOUNCE_EVERY, ClusterError, Shared};
use crate::host::{Host, is_token};

/// What `host` serves, as an announcement.
fn describe(shared: &Shared, host: &Host) -> Announcement {
    let registry = host.plugins().snapshot();
    let status = host.plugins().status();
    // A plugin whose name cannot be a subject token is not served to the
    // cluster, so it is not announced either.
    let plugins = status
        .plugins
        .into_iter()
        .filter(|status| is_token(&status.name))
        .map(|status| {
            let served = registry.get(&status.name);
            AnnouncedPlugin {
                timeout: served.map_or(std::time::Duration::ZERO, |s| s.plugin.limits().timeout),
                callers: served.and_then(|s| s.access.callers.clone()),
                nodes: served.map_or_else(Vec::new, |s| {
                    s.plugin
                        .nodes()
                        .filter(|n| n.not_callable.is_none())
                        .map(|n| (n.info.clone(), s.is_private(n.name())))
                        .collect()
                }),
                status,
            }
        })
        .collect();
    Announcement {
        host: shared.host_id.clone(),
        leaving: false,
        plugins,
    }
}

/// Announces `host` until the cluster stops.
pub(super) async fn announce(shared: Arc<Shared>, host: Host) {
    let subject = shared.subject(&format!("announce.{}", shared.host_id));
    let mut stop = shared.stop.subscribe();
    let mut changes = host.plugins().subscribe();
    let mut tick = tokio::time::interval(ANNOUNCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            // A newcomer learns the catalog at once.
            _ = shared.newcomer.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let announcement = describe(&shared, &host).to_value();
        if let Err(e) = shared.send(subject.clone(), &announcement).await {
            tracing::warn!("cannot announce this host: {}", e.message);
        }
    }
}

/// Tells the other hosts this one is leaving.
pub(super) async fn say_leaving(shared: &Shared) {
    let subject = shared.subject(&format!("announce.{}", shared.host_id));
    let leaving = Announcement {
        host: shared.host_id.clone(),
        leaving: true,
        plugins: Vec::new(),
    };
    let _ = shared.send(subject, &leaving.to_value()).await;
}

/// Subscribes to the other hosts' announcements; the future it returns
/// hears them until the cluster stops.
pub(super) async fn listen(
    shared: Arc<Shared>,
) -> Result<impl Future<Output = ()> + Send + 'static, ClusterError> {
    let mut announcements = shared
        .client
        .subscribe(shared.subject("announce.*"))
        .await
        .map_err(|e| ClusterError::Subscribe(e.to_string()))?;
    Ok(async move {
        let mut stop = shared.stop.subscribe();
        // Parts of large announcements, by subject (one per host).
        let mut joiners: HashMap<String, Joiner> = HashMap::new();
        let mut tick = tokio::time::interval(ANNOUNCE_EVERY);
        loop {
            let message = tokio::select! {
                message = announcements.next() => match message {
                    Some(message) => message,
                    None => return,
                },
                _ = tick.tick() => {
                    shared.peers.expire(Instant::now());
                    continue;
                }
                _ = stop.wait_for(|s| *s) => return,
            };
            let subject = message.subject.to_string();
            let joiner = joiners
                .entry(subject.clone())
                .or_insert_with(|| Joiner::new(MAX_MESSAGE));
            let value = match joiner.push(&message.payload) {
                Ok(Some(value)) => value,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(%subject, "a bad announcement: {e}");
                    continue;
                }
            };
            joiners.remove(&subject);
            match Announcement::from_value(value) {
                // Our own announcements come back too.
                Ok(a) if a.host == shared.host_id => {}
                Ok(a) => {
                    if shared.peers.heard(a, Instant::now()) {
                        shared.newcomer.notify_one();
                    }
                }
                Err(e) => tracing::warn!(%subject, "a bad announcement: {e}"),
            }
        }
    })
}
