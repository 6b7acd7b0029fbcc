//! Retained messages (5.0 §3.3.1.3): one per topic, replaced by a newer one, deleted by an
//! empty payload, expired by their Message Expiry Interval.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::broker::session::Message;
use crate::topic;

#[derive(Debug, Default)]
pub struct Retained {
    by_topic: HashMap<String, Arc<Message>>,
}

impl Retained {
    /// Stores, replaces or (empty payload) deletes the retained message of `msg.topic`.
    pub fn set(&mut self, msg: &Arc<Message>) {
        if msg.payload.is_empty() {
            self.by_topic.remove(&msg.topic);
        } else {
            self.by_topic.insert(msg.topic.clone(), Arc::clone(msg));
        }
    }

    /// Retained messages whose topic matches `filter`, expired ones removed on the way.
    pub fn matching(&mut self, filter: &str, now: Instant) -> Vec<Arc<Message>> {
        self.by_topic.retain(|_, m| !m.expired(now));
        // A filter without wildcards names at most one topic: no scan.
        if !filter.contains(['+', '#']) {
            return self.by_topic.get(filter).cloned().into_iter().collect();
        }
        self.by_topic
            .iter()
            .filter(|(t, _)| topic::matches(filter, t))
            .map(|(_, m)| Arc::clone(m))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.by_topic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_topic.is_empty()
    }
}
