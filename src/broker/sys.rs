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
