//! `$SYS/broker/...` topics: retained status messages published every `SYS_INTERVAL`
//! (mosquitto's `sys_interval` default).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use crate::broker::session::Message;
use crate::broker::shared::Shared;
use crate::codec::{Properties, QoS};

/// mosquitto's default `sys_interval`.
pub const SYS_INTERVAL: Duration = Duration::from_secs(10);

fn publish(shared: &Shared, topic: &str, value: String) {
    shared.publish(Arc::new(Message {
        topic: topic.to_string(),
        payload: Bytes::from(value),
        qos: QoS::AtMostOnce,
        retain: true,
        properties: Properties::new(),
        expires: None,
        origin: None,
    }));
}

/// Publishes the $SYS topics now and every `SYS_INTERVAL` until shutdown.
pub async fn run(shared: Arc<Shared>) {
    publish(
        &shared,
        "$SYS/broker/version",
        format!("mqtk version {}", env!("CARGO_PKG_VERSION")),
    );
    loop {
        let s = &shared.stats;
        publish(
            &shared,
            "$SYS/broker/uptime",
            format!("{} seconds", shared.started.elapsed().as_secs()),
        );
        publish(
            &shared,
            "$SYS/broker/clients/connected",
            s.connected.load(Ordering::Relaxed).to_string(),
        );
        publish(
            &shared,
            "$SYS/broker/messages/received",
            s.messages_received.load(Ordering::Relaxed).to_string(),
        );
        publish(
            &shared,
            "$SYS/broker/messages/sent",
            s.messages_sent.load(Ordering::Relaxed).to_string(),
        );
        publish(
            &shared,
            "$SYS/broker/publish/messages/dropped",
            s.dropped.load(Ordering::Relaxed).to_string(),
        );
        if !shared.sleep_unless_shutdown(SYS_INTERVAL).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::config::Config;

    fn retained(shared: &Shared, topic: &str) -> Option<Bytes> {
        let found = shared
            .retained
            .lock()
            .matching(topic, std::time::Instant::now());
        found.first().map(|m| m.payload.clone())
    }

    /// The counters are published at start and again every `SYS_INTERVAL`, so a slow
    /// consumer's dropped messages show up in `$SYS/broker/publish/messages/dropped`.
    #[tokio::test(start_paused = true)]
    async fn counters_are_republished_every_interval() {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared::new(Arc::new(Config::default()), Arc::default(), rx));
        let task = tokio::spawn(run(Arc::clone(&shared)));
        let dropped = "$SYS/broker/publish/messages/dropped";
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(retained(&shared, dropped).as_deref(), Some(&b"0"[..]));
        shared.stats.dropped.fetch_add(3, Ordering::Relaxed);
        tokio::time::sleep(SYS_INTERVAL).await;
        assert_eq!(retained(&shared, dropped).as_deref(), Some(&b"3"[..]));
        tx.send(true).unwrap();
        task.await.unwrap();
    }
}
