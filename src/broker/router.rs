//! Routing: the subscription tree (a trie by topic level), shared-subscription groups,
//! and fan-out of one message to every matching session's bounded queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::broker::session::{Message, Outgoing, Session};
use crate::codec::SubscriptionOptions;
use crate::topic;

/// One subscription as routing needs it: the session to deliver to, and its options.
#[derive(Clone, Debug)]
pub struct SubEntry {
    pub session: Arc<Session>,
    pub options: SubscriptionOptions,
    pub id: Option<u32>,
}

/// Subscribers of one `$share/group/filter`: each message goes to one of them, in turn
/// (5.0 §4.8.2).
#[derive(Debug, Default)]
struct Group {
    members: Vec<SubEntry>,
    /// Round-robin cursor; atomic so that routing needs only the tree's read lock.
    next: AtomicUsize,
}

/// One topic level of the tree. Children are keyed by the level text, `+` and `#` included.
///
/// A filter may have tens of thousands of levels (a 64 KiB filter of `/`s has 65,536), so
/// nothing here recurses per level: not the walks below, not even dropping a branch.
#[derive(Default)]
struct Node {
    children: HashMap<String, Node>,
    /// Non-shared subscriptions whose filter ends here, keyed by client id (one per
    /// client and filter: a new SUBSCRIBE replaces it, 5.0 §3.8.4).
    subs: HashMap<Arc<str>, SubEntry>,
    shared: HashMap<String, Group>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.subs.is_empty() && self.shared.is_empty()
    }

    /// Nothing of its own and no other branch than the one being pruned.
    fn only_a_branch(&self) -> bool {
        self.children.len() <= 1 && self.subs.is_empty() && self.shared.is_empty()
    }
}

impl Drop for Node {
    /// Dismantles the branch below level by level: the derived drop would recurse once
    /// per level and overflow the stack on a deep filter.
    fn drop(&mut self) {
        let mut below: Vec<Node> = self.children.drain().map(|(_, n)| n).collect();
        while let Some(mut n) = below.pop() {
            below.extend(n.children.drain().map(|(_, c)| c));
        }
    }
}

/// The subscription tree.
#[derive(Default)]
pub struct SubTree {
    root: Node,
    count: usize,
}

impl std::fmt::Debug for SubTree {
    // The derived form would recurse through every level.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubTree")
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

/// A subscription matched by one message, before per-session merging.
#[derive(Debug)]
pub struct Match {
    pub entry: SubEntry,
    pub shared: bool,
}

impl SubTree {
    /// Adds or replaces `client`'s subscription to `filter` (`$share/…` understood).
    /// Returns true when it is new (not a replacement), for retain handling 1.
    pub fn subscribe(&mut self, filter: &str, entry: SubEntry) -> bool {
        let (group, plain) = match topic::parse_shared(filter) {
            Some((g, f)) => (Some(g), f),
            None => (None, filter),
        };
        let mut node = &mut self.root;
        for level in plain.split('/') {
            node = node.children.entry(level.to_string()).or_default();
        }
        let client = Arc::clone(&entry.session.client_id);
        let new = match group {
            None => node.subs.insert(client, entry).is_none(),
            Some(g) => {
                let grp = node.shared.entry(g.to_string()).or_default();
                match grp
                    .members
                    .iter_mut()
                    .find(|m| m.session.client_id == client)
                {
                    Some(m) => {
                        *m = entry;
                        false
                    }
                    None => {
                        grp.members.push(entry);
                        true
                    }
                }
            }
        };
        if new {
            self.count += 1;
        }
        new
    }

    /// Removes `client`'s subscription to `filter`; false when there was none.
    pub fn unsubscribe(&mut self, filter: &str, client: &str) -> bool {
        self.remove(filter, client, None)
    }

    /// Removes the subscription to `filter` only if it belongs to this very session (not
    /// a newer session that reuses the client id).
    pub fn remove_if_session(&mut self, filter: &str, session: &Session) -> bool {
        self.remove(filter, &session.client_id, Some(session as *const Session))
    }

    fn remove(&mut self, filter: &str, client: &str, only: Option<*const Session>) -> bool {
        let (group, plain) = match topic::parse_shared(filter) {
            Some((g, f)) => (Some(g), f),
            None => (None, filter),
        };
        let levels: Vec<&str> = plain.split('/').collect();
        let mut node = &mut self.root;
        for level in &levels {
            match node.children.get_mut(*level) {
                Some(child) => node = child,
                None => return false,
            }
        }
        let removed = remove_here(node, group, client, only);
        if removed {
            self.count -= 1;
            self.prune(&levels);
        }
        removed
    }

    /// Removes the branch of `levels` from where on it holds nothing, so that the tree
    /// does not keep every filter ever used.
    fn prune(&mut self, levels: &[&str]) {
        // The shallowest depth from which the path holds only itself down to an empty end.
        let mut cut = None;
        let mut node = &self.root;
        for (depth, level) in levels.iter().enumerate() {
            let Some(child) = node.children.get(*level) else {
                return;
            };
            node = child;
            if !node.only_a_branch() {
                cut = None;
            } else if cut.is_none() {
                cut = Some(depth);
            }
        }
        let Some(cut) = cut.filter(|_| node.is_empty()) else {
            return;
        };
        let mut parent = &mut self.root;
        for level in &levels[..cut] {
            match parent.children.get_mut(*level) {
                Some(child) => parent = child,
                None => return,
            }
        }
        parent.children.remove(levels[cut]);
    }

    /// Number of subscriptions.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every subscription matching topic name `name` (5.0 §4.7), one member per shared
    /// group.
    pub fn collect(&self, name: &str, out: &mut Vec<Match>) {
        let levels: Vec<&str> = name.split('/').collect();
        walk(&self.root, &levels, name.starts_with('$'), out);
    }
}

/// Removes `client`'s subscription held at `node` (in `group`, when shared).
fn remove_here(
    node: &mut Node,
    group: Option<&str>,
    client: &str,
    only: Option<*const Session>,
) -> bool {
    let owned = |e: &SubEntry| only.is_none_or(|p| std::ptr::eq(Arc::as_ptr(&e.session), p));
    match group {
        None => match node.subs.get(client) {
            Some(e) if owned(e) => node.subs.remove(client).is_some(),
            _ => false,
        },
        Some(g) => {
            let Some(grp) = node.shared.get_mut(g) else {
                return false;
            };
            let before = grp.members.len();
            grp.members
                .retain(|m| !(&*m.session.client_id == client && owned(m)));
            let removed = grp.members.len() != before;
            if grp.members.is_empty() {
                node.shared.remove(g);
            }
            removed
        }
    }
}

fn add_node(node: &Node, out: &mut Vec<Match>) {
    for e in node.subs.values() {
        out.push(Match {
            entry: e.clone(),
            shared: false,
        });
    }
    for g in node.shared.values() {
        if g.members.is_empty() {
            continue;
        }
        let i = g.next.fetch_add(1, Ordering::Relaxed) % g.members.len();
        out.push(Match {
            entry: g.members[i].clone(),
            shared: true,
        });
    }
}

/// Collects the subscriptions matching `levels`, depth first, without recursion (a
/// topic may have tens of thousands of levels): it follows one branch and stacks the
/// exact-level branch only where a `+` branch is taken first, so a message that meets
/// no `+` allocates nothing here.
fn walk(root: &Node, levels: &[&str], dollar: bool, out: &mut Vec<Match>) {
    let mut pending = Vec::new();
    let mut next = Some((root, 0));
    while let Some((node, depth)) = next.take().or_else(|| pending.pop()) {
        // 5.0 §4.7.2: wildcards at the first level do not match `$` topics.
        let wild_ok = !(dollar && depth == 0);
        if wild_ok && let Some(hash) = node.children.get("#") {
            // `#` matches this level and everything below, and also the parent itself:
            // `sport/#` matches `sport` (5.0 §4.7.1.2).
            add_node(hash, out);
        }
        let Some(level) = levels.get(depth) else {
            add_node(node, out);
            continue;
        };
        let exact = node.children.get(*level).map(|c| (c, depth + 1));
        let plus = node.children.get("+").filter(|_| wild_ok);
        next = match plus {
            Some(plus) => {
                pending.extend(exact);
                Some((plus, depth + 1))
            }
            None => exact,
        };
    }
}

/// Turns the matches of one message into one delivery per session: overlapping
/// subscriptions of a client give one copy at the highest QoS, carrying every
/// subscription identifier (5.0 §3.3.4). No Local subscriptions skip the publisher.
pub fn deliveries(msg: &Arc<Message>, mut matches: Vec<Match>) -> Vec<(Arc<Session>, Outgoing)> {
    let mut out: Vec<(Arc<Session>, Outgoing)> = Vec::with_capacity(matches.len());
    if matches.len() > 1 {
        matches.sort_by_key(|m| Arc::as_ptr(&m.entry.session) as usize);
    }
    for m in matches {
        let o = &m.entry.options;
        // 5.0 §3.8.3.1: No Local is not allowed on shared subscriptions; ignore it there.
        if o.no_local
            && !m.shared
            && msg
                .origin
                .as_deref()
                .is_some_and(|c| c == &*m.entry.session.client_id)
        {
            continue;
        }
        let qos = msg.qos.min(o.qos);
        // 5.0 §3.3.1.3: the retain flag is cleared on normal delivery unless the
        // subscription asked for Retain As Published.
        let retain = o.retain_as_published && msg.retain;
        if let Some((s, prev)) = out.last_mut()
            && Arc::ptr_eq(s, &m.entry.session)
        {
            prev.qos = prev.qos.max(qos);
            prev.retain |= retain;
            prev.sub_ids.extend(m.entry.id);
            continue;
        }
        out.push((
            m.entry.session,
            Outgoing {
                msg: Arc::clone(msg),
                qos,
                retain,
                sub_ids: m.entry.id.into_iter().collect(),
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::QoS;

    fn entry(id: &str, qos: QoS) -> SubEntry {
        SubEntry {
            session: Arc::new(Session::new(id.into())),
            options: SubscriptionOptions {
                qos,
                ..Default::default()
            },
            id: None,
        }
    }

    fn names(t: &SubTree, topic: &str) -> Vec<String> {
        let mut v = Vec::new();
        t.collect(topic, &mut v);
        let mut n: Vec<String> = v
            .iter()
            .map(|m| m.entry.session.client_id.to_string())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn tree_matches_like_topic_matches() {
        let mut t = SubTree::default();
        let filters = [
            "a/b", "a/+", "a/#", "#", "+/b", "+", "$SYS/#", "a/b/c", "/+",
        ];
        for f in filters {
            t.subscribe(f, entry(f, QoS::AtMostOnce));
        }
        for name in ["a/b", "a", "a/b/c", "b", "$SYS/x", "/x", "a/", "x/b"] {
            let mut expect: Vec<String> = filters
                .iter()
                .filter(|f| topic::matches(f, name))
                .map(|f| f.to_string())
                .collect();
            expect.sort();
            assert_eq!(names(&t, name), expect, "topic {name}");
        }
    }

    fn level() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![
            proptest::strategy::Just(String::new()),
            proptest::strategy::Just("a".to_string()),
            proptest::strategy::Just("b".to_string()),
            proptest::strategy::Just("$x".to_string()),
        ]
    }

    fn filter_level() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![level(), proptest::strategy::Just("+".to_string())]
    }

    proptest::proptest! {
        /// The tree finds exactly the filters `topic::matches` accepts.
        #[test]
        fn tree_agrees_with_matches(
            filters in proptest::collection::vec(
                (proptest::collection::vec(filter_level(), 1..4), proptest::bool::ANY),
                1..8,
            ),
            name in proptest::collection::vec(level(), 1..5),
        ) {
            let name = name.join("/");
            let mut t = SubTree::default();
            let mut all = Vec::new();
            for (i, (levels, hash)) in filters.iter().enumerate() {
                let mut f = levels.join("/");
                if *hash {
                    f.push_str("/#");
                }
                let id = format!("{i}");
                t.subscribe(&f, entry(&id, QoS::AtMostOnce));
                all.push((id, f));
            }
            let mut expect: Vec<String> = all
                .iter()
                .filter(|(_, f)| topic::matches(f, &name))
                .map(|(id, _)| id.clone())
                .collect();
            expect.sort();
            proptest::prop_assert_eq!(names(&t, &name), expect);
        }
    }

    #[test]
    fn unsubscribe_prunes() {
        let mut t = SubTree::default();
        assert!(t.subscribe("a/b/c", entry("x", QoS::AtMostOnce)));
        assert!(!t.subscribe("a/b/c", entry("x", QoS::AtLeastOnce)));
        assert_eq!(t.len(), 1);
        assert!(!t.unsubscribe("a/b", "x"));
        assert!(t.unsubscribe("a/b/c", "x"));
        assert!(!t.unsubscribe("a/b/c", "x"));
        assert!(t.root.is_empty());
        assert!(t.is_empty());
    }

    #[test]
    fn pruning_keeps_what_other_filters_use() {
        let mut t = SubTree::default();
        t.subscribe("a/b/c/d", entry("x", QoS::AtMostOnce));
        t.subscribe("a/b", entry("y", QoS::AtMostOnce));
        t.subscribe("a/e", entry("z", QoS::AtMostOnce));
        assert!(t.unsubscribe("a/b/c/d", "x"));
        let a = &t.root.children["a"];
        assert!(a.children["b"].children.is_empty(), "c/d pruned below a/b");
        assert!(t.unsubscribe("a/b", "y"));
        assert_eq!(t.root.children["a"].children.len(), 1, "a/e left");
        assert_eq!(names(&t, "a/e"), ["z"]);
        assert!(t.unsubscribe("a/e", "z"));
        assert!(t.root.is_empty());
    }

    /// 65,536 levels (a 64 KiB filter of `/`s, the longest an MQTT string allows):
    /// subscribing, matching, unsubscribing and dropping the tree all fit a 2 MiB stack
    /// in a debug build. Each recursed once per level and overflowed it.
    #[test]
    fn deep_filters_need_no_deep_stack() {
        let deep = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let mut t = SubTree::default();
                let slashes = "/".repeat(65535);
                let plus = vec!["+"; 65536].join("/");
                t.subscribe(&slashes, entry("exact", QoS::AtMostOnce));
                t.subscribe(&plus, entry("plus", QoS::AtMostOnce));
                t.subscribe(&format!("{plus}/#"), entry("hash", QoS::AtMostOnce));
                assert_eq!(names(&t, &slashes), ["exact", "hash", "plus"]);
                assert!(t.unsubscribe(&slashes, "exact"));
                assert_eq!(names(&t, &slashes), ["hash", "plus"]);
                assert!(t.unsubscribe(&plus, "plus"));
                assert_eq!(t.len(), 1);
                drop(t);
            })
            .unwrap();
        deep.join().unwrap();
    }

    #[test]
    fn shared_round_robin() {
        let mut t = SubTree::default();
        t.subscribe("$share/g/a/+", entry("x", QoS::AtMostOnce));
        t.subscribe("$share/g/a/+", entry("y", QoS::AtMostOnce));
        t.subscribe("a/#", entry("z", QoS::AtMostOnce));
        let mut seen = Vec::new();
        for _ in 0..4 {
            let mut v = Vec::new();
            t.collect("a/b", &mut v);
            assert_eq!(v.len(), 2);
            seen.extend(
                v.iter()
                    .filter(|m| m.shared)
                    .map(|m| m.entry.session.client_id.to_string()),
            );
        }
        assert_eq!(seen, ["x", "y", "x", "y"]);
        assert!(t.unsubscribe("$share/g/a/+", "x"));
        assert!(!t.unsubscribe("$share/h/a/+", "y"));
    }

    #[test]
    fn overlapping_subscriptions_merge() {
        let s = Arc::new(Session::new("c".into()));
        let m = Arc::new(Message {
            topic: "a/b".into(),
            payload: bytes::Bytes::from_static(b"x"),
            qos: QoS::ExactlyOnce,
            retain: false,
            properties: Default::default(),
            expires: None,
            origin: Some("c".into()),
        });
        let mk = |qos, id, no_local| Match {
            entry: SubEntry {
                session: Arc::clone(&s),
                options: SubscriptionOptions {
                    qos,
                    no_local,
                    ..Default::default()
                },
                id: Some(id),
            },
            shared: false,
        };
        let d = deliveries(
            &m,
            vec![
                mk(QoS::AtMostOnce, 1, false),
                mk(QoS::AtLeastOnce, 2, false),
            ],
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].1.qos, QoS::AtLeastOnce);
        assert_eq!(d[0].1.sub_ids, [1, 2]);
        let d = deliveries(&m, vec![mk(QoS::AtLeastOnce, 1, true)]);
        assert!(d.is_empty(), "no local");
    }
}
