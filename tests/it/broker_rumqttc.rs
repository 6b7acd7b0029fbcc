//! The in-process broker against an independent client (rumqttc, 3.1.1 and 5.0):
//! pub/sub at each QoS, retained, persistent sessions, and the v5 features it can express.

use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{
    Filter, Packet as P5, PublishProperties, RetainForwardRule, SubscribeProperties,
};
use tokio::time::timeout;

use crate::util::TestBroker;

const WAIT: Duration = Duration::from_secs(5);

fn opts4(b: &TestBroker, id: &str) -> rumqttc::MqttOptions {
    let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", b.port());
    o.set_keep_alive(Duration::from_secs(30));
    o
}

fn opts5(b: &TestBroker, id: &str) -> rumqttc::v5::MqttOptions {
    let mut o = rumqttc::v5::MqttOptions::new(id, "127.0.0.1", b.port());
    o.set_keep_alive(Duration::from_secs(30));
    o
}

/// Polls until CONNACK; returns session present.
async fn connack4(ev: &mut rumqttc::EventLoop) -> bool {
    loop {
        match timeout(WAIT, ev.poll()).await.expect("CONNACK in time") {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(c))) => {
                assert_eq!(c.code, rumqttc::ConnectReturnCode::Success);
                return c.session_present;
            }
            Ok(_) => {}
            Err(e) => panic!("connect: {e}"),
        }
    }
}

/// Polls until the SUBACK.
async fn suback4(ev: &mut rumqttc::EventLoop) -> Vec<rumqttc::SubscribeReasonCode> {
    loop {
        match timeout(WAIT, ev.poll()).await.expect("SUBACK in time") {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(s))) => return s.return_codes,
            Ok(_) => {}
            Err(e) => panic!("subscribe: {e}"),
        }
    }
}

async fn publish4(ev: &mut rumqttc::EventLoop) -> rumqttc::Publish {
    loop {
        match timeout(WAIT, ev.poll()).await.expect("PUBLISH in time") {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => return p,
            Ok(_) => {}
            Err(e) => panic!("waiting for PUBLISH: {e}"),
        }
    }
}

/// Drives a publisher's event loop until `n` acks of the wanted kinds arrive.
async fn drive4(ev: &mut rumqttc::EventLoop, mut acks: usize) {
    while acks > 0 {
        match timeout(WAIT, ev.poll()).await.expect("ack in time") {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)))
            | Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubComp(_))) => acks -= 1,
            Ok(_) => {}
            Err(e) => panic!("publisher: {e}"),
        }
    }
}

async fn event5(ev: &mut rumqttc::v5::EventLoop, what: &str) -> P5 {
    loop {
        match timeout(WAIT, ev.poll())
            .await
            .unwrap_or_else(|_| panic!("{what} in time"))
        {
            Ok(rumqttc::v5::Event::Incoming(p)) => return p,
            Ok(_) => {}
            Err(e) => panic!("{what}: {e:?}"),
        }
    }
}

async fn wait5(ev: &mut rumqttc::v5::EventLoop, what: &str, f: impl Fn(&P5) -> bool) -> P5 {
    loop {
        let p = event5(ev, what).await;
        if f(&p) {
            return p;
        }
    }
}

fn is_publish(p: &P5) -> bool {
    matches!(p, P5::Publish(_))
}

#[tokio::test]
async fn v311_pub_sub_each_qos() {
    let b = TestBroker::start();
    let (sub, mut sev) = rumqttc::AsyncClient::new(opts4(&b, "sub"), 10);
    connack4(&mut sev).await;
    sub.subscribe("t/#", rumqttc::QoS::ExactlyOnce)
        .await
        .unwrap();
    suback4(&mut sev).await;
    let (publ, mut pev) = rumqttc::AsyncClient::new(opts4(&b, "pub"), 10);
    connack4(&mut pev).await;
    for (i, q) in [
        rumqttc::QoS::AtMostOnce,
        rumqttc::QoS::AtLeastOnce,
        rumqttc::QoS::ExactlyOnce,
    ]
    .into_iter()
    .enumerate()
    {
        publ.publish(format!("t/{i}"), q, false, vec![i as u8; 3])
            .await
            .unwrap();
    }
    drive4(&mut pev, 2).await;
    for (i, q) in [
        rumqttc::QoS::AtMostOnce,
        rumqttc::QoS::AtLeastOnce,
        rumqttc::QoS::ExactlyOnce,
    ]
    .into_iter()
    .enumerate()
    {
        let p = publish4(&mut sev).await;
        assert_eq!(p.topic, format!("t/{i}"));
        assert_eq!(p.qos, q);
        assert_eq!(&p.payload[..], &[i as u8; 3]);
        assert!(!p.retain);
    }
}

#[tokio::test]
async fn v311_retained() {
    let b = TestBroker::start();
    let (publ, mut pev) = rumqttc::AsyncClient::new(opts4(&b, "pub"), 10);
    connack4(&mut pev).await;
    publ.publish("ret/x", rumqttc::QoS::AtLeastOnce, true, "kept")
        .await
        .unwrap();
    drive4(&mut pev, 1).await;
    let (sub, mut sev) = rumqttc::AsyncClient::new(opts4(&b, "sub"), 10);
    connack4(&mut sev).await;
    sub.subscribe("ret/+", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    let p = publish4(&mut sev).await;
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("ret/x", &b"kept"[..]));
    assert!(p.retain);
    assert_eq!(p.qos, rumqttc::QoS::AtLeastOnce);
}

#[tokio::test]
async fn v311_persistent_session_gets_offline_messages() {
    let b = TestBroker::start();
    let mut o = opts4(&b, "persist");
    o.set_clean_session(false);
    {
        let (sub, mut sev) = rumqttc::AsyncClient::new(o.clone(), 10);
        assert!(!connack4(&mut sev).await);
        sub.subscribe("off/line", rumqttc::QoS::AtLeastOnce)
            .await
            .unwrap();
        suback4(&mut sev).await;
        sub.disconnect().await.unwrap();
        // Poll until the event loop has sent DISCONNECT and stops.
        while let Ok(Ok(_)) = timeout(WAIT, sev.poll()).await {}
    }
    // The broker closes the socket just before it detaches the session: publish only
    // once it is offline.
    b.wait_connected_down_to(0);
    let (publ, mut pev) = rumqttc::AsyncClient::new(opts4(&b, "pub"), 10);
    connack4(&mut pev).await;
    publ.publish("off/line", rumqttc::QoS::AtLeastOnce, false, "while away")
        .await
        .unwrap();
    drive4(&mut pev, 1).await;
    let (_sub, mut sev) = rumqttc::AsyncClient::new(o, 10);
    assert!(connack4(&mut sev).await, "session present");
    let p = publish4(&mut sev).await;
    assert_eq!(&p.payload[..], b"while away");
    assert_eq!(p.qos, rumqttc::QoS::AtLeastOnce);
}

#[tokio::test]
async fn v5_properties_pass_through() {
    let b = TestBroker::start();
    let (sub, mut sev) = rumqttc::v5::AsyncClient::new(opts5(&b, "sub5"), 10);
    wait5(&mut sev, "CONNACK", |p| matches!(p, P5::ConnAck(_))).await;
    sub.subscribe_with_properties(
        "p/#",
        rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        SubscribeProperties {
            id: Some(42),
            user_properties: vec![],
        },
    )
    .await
    .unwrap();
    wait5(&mut sev, "SUBACK", |p| matches!(p, P5::SubAck(_))).await;
    let (publ, mut pev) = rumqttc::v5::AsyncClient::new(opts5(&b, "pub5"), 10);
    wait5(&mut pev, "CONNACK", |p| matches!(p, P5::ConnAck(_))).await;
    let props = PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(600),
        content_type: Some("text/plain".into()),
        response_topic: Some("reply/here".into()),
        correlation_data: Some(Bytes::from_static(b"corr")),
        user_properties: vec![("k1".into(), "v1".into()), ("k2".into(), "v2".into())],
        ..Default::default()
    };
    publ.publish_with_properties(
        "p/q",
        rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        false,
        "body",
        props,
    )
    .await
    .unwrap();
    wait5(&mut pev, "PUBACK", |p| matches!(p, P5::PubAck(_))).await;
    let P5::Publish(p) = wait5(&mut sev, "PUBLISH", is_publish).await else {
        unreachable!()
    };
    assert_eq!(&p.topic[..], b"p/q");
    let pp = p.properties.expect("properties");
    assert_eq!(pp.payload_format_indicator, Some(1));
    assert_eq!(pp.content_type.as_deref(), Some("text/plain"));
    assert_eq!(pp.response_topic.as_deref(), Some("reply/here"));
    assert_eq!(pp.correlation_data.as_deref(), Some(&b"corr"[..]));
    assert_eq!(
        pp.user_properties,
        [
            ("k1".to_string(), "v1".to_string()),
            ("k2".into(), "v2".into())
        ]
    );
    assert_eq!(pp.subscription_identifiers, [42]);
    let left = pp.message_expiry_interval.expect("expiry forwarded");
    assert!((598..=600).contains(&left), "{left}");
}

#[tokio::test]
async fn v5_no_local_and_retain_options() {
    let b = TestBroker::start();
    let (c, mut ev) = rumqttc::v5::AsyncClient::new(opts5(&b, "self"), 10);
    wait5(&mut ev, "CONNACK", |p| matches!(p, P5::ConnAck(_))).await;
    // A retained message that "Never" (retain handling 2) must not bring back.
    c.publish("o/r", rumqttc::v5::mqttbytes::QoS::AtLeastOnce, true, "old")
        .await
        .unwrap();
    wait5(&mut ev, "PUBACK", |p| matches!(p, P5::PubAck(_))).await;
    let f = Filter {
        path: "o/#".into(),
        qos: rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        nolocal: true,
        preserve_retain: true,
        retain_forward_rule: RetainForwardRule::Never,
    };
    c.subscribe_many([f]).await.unwrap();
    wait5(&mut ev, "SUBACK", |p| matches!(p, P5::SubAck(_))).await;
    c.publish(
        "o/mine",
        rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        false,
        "mine",
    )
    .await
    .unwrap();
    let (other, mut oev) = rumqttc::v5::AsyncClient::new(opts5(&b, "other"), 10);
    wait5(&mut oev, "CONNACK", |p| matches!(p, P5::ConnAck(_))).await;
    other
        .publish(
            "o/theirs",
            rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            true,
            "theirs",
        )
        .await
        .unwrap();
    wait5(&mut oev, "PUBACK", |p| matches!(p, P5::PubAck(_))).await;
    let P5::Publish(p) = wait5(&mut ev, "PUBLISH", is_publish).await else {
        unreachable!()
    };
    // Not its own (no local), not the old retained one (retain handling 2), and the
    // retain flag as published.
    assert_eq!(&p.topic[..], b"o/theirs");
    assert!(p.retain, "retain as published");
}

#[tokio::test]
async fn v5_topic_aliases_both_ways() {
    let b = TestBroker::start();
    let mut so = opts5(&b, "alias-sub");
    so.set_topic_alias_max(Some(5));
    let (sub, mut sev) = rumqttc::v5::AsyncClient::new(so, 10);
    wait5(&mut sev, "CONNACK", |p| matches!(p, P5::ConnAck(_))).await;
    sub.subscribe("al/#", rumqttc::v5::mqttbytes::QoS::AtMostOnce)
        .await
        .unwrap();
    wait5(&mut sev, "SUBACK", |p| matches!(p, P5::SubAck(_))).await;
    let (publ, mut pev) = rumqttc::v5::AsyncClient::new(opts5(&b, "alias-pub"), 10);
    let P5::ConnAck(ack) = wait5(&mut pev, "CONNACK", |p| matches!(p, P5::ConnAck(_))).await else {
        unreachable!()
    };
    assert_eq!(ack.properties.and_then(|p| p.topic_alias_max), Some(10));
    let with_alias = |a| PublishProperties {
        topic_alias: Some(a),
        ..Default::default()
    };
    publ.publish_with_properties(
        "al/long/topic",
        rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        false,
        "1",
        with_alias(3),
    )
    .await
    .unwrap();
    // Topic left empty: the broker resolves alias 3.
    publ.publish_with_properties(
        "",
        rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        false,
        "2",
        with_alias(3),
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    let drive = async {
        loop {
            let _ = pev.poll().await;
        }
    };
    let recv = async {
        for _ in 0..2 {
            let P5::Publish(p) = wait5(&mut sev, "PUBLISH", is_publish).await else {
                unreachable!()
            };
            let alias = p.properties.as_ref().and_then(|pp| pp.topic_alias);
            got.push((p.topic.clone(), p.payload.clone(), alias));
        }
    };
    tokio::select! {
        _ = drive => unreachable!(),
        _ = recv => {}
    }
    // The first carries the topic and sets alias 1; the second only the alias (rumqttc
    // resolves it internally but reports the packet as received).
    assert_eq!(&got[0].0[..], b"al/long/topic");
    assert_eq!(&got[1].0[..], b"");
    assert_eq!(&got[1].1[..], b"2");
    assert_eq!(got[0].2, Some(1));
    assert_eq!(got[1].2, Some(1));
}

#[tokio::test]
async fn v5_pub_sub_each_qos() {
    use rumqttc::v5::mqttbytes::QoS as Q;
    let b = TestBroker::start();
    let (sub, mut sev) = rumqttc::v5::AsyncClient::new(opts5(&b, "sub5q"), 10);
    wait5(&mut sev, "CONNACK", |p| matches!(p, P5::ConnAck(_))).await;
    sub.subscribe("q5/#", Q::ExactlyOnce).await.unwrap();
    wait5(&mut sev, "SUBACK", |p| matches!(p, P5::SubAck(_))).await;
    let (publ, mut pev) = rumqttc::v5::AsyncClient::new(opts5(&b, "pub5q"), 10);
    wait5(&mut pev, "CONNACK", |p| matches!(p, P5::ConnAck(_))).await;
    let qs = [Q::AtMostOnce, Q::AtLeastOnce, Q::ExactlyOnce];
    for (i, q) in qs.into_iter().enumerate() {
        publ.publish(format!("q5/{i}"), q, false, vec![i as u8; 2])
            .await
            .unwrap();
    }
    let drive = async {
        loop {
            if pev.poll().await.is_err() {
                break;
            }
        }
    };
    let recv = async {
        let mut got = Vec::new();
        for _ in 0..3 {
            let P5::Publish(p) = wait5(&mut sev, "PUBLISH", is_publish).await else {
                unreachable!()
            };
            got.push((p.topic.clone(), p.qos, p.payload.clone()));
        }
        got
    };
    let got = tokio::select! {
        _ = drive => panic!("publisher connection ended"),
        g = recv => g,
    };
    for (i, q) in qs.into_iter().enumerate() {
        assert_eq!(got[i].0, format!("q5/{i}").as_bytes());
        assert_eq!(got[i].1, q);
        assert_eq!(&got[i].2[..], &[i as u8; 2]);
    }
}

/// Offline QoS 1 messages kept for a persistent session under a queue limit.
async fn offline_messages_kept(max_queued_messages: usize, published: usize) -> usize {
    let mut config = TestBroker::config();
    config.max_queued_messages = max_queued_messages;
    let b = TestBroker::start_with(config);
    let mut o = opts4(&b, "persist");
    o.set_clean_session(false);
    {
        let (sub, mut sev) = rumqttc::AsyncClient::new(o.clone(), 10);
        connack4(&mut sev).await;
        sub.subscribe("q/x", rumqttc::QoS::AtLeastOnce)
            .await
            .unwrap();
        suback4(&mut sev).await;
        sub.disconnect().await.unwrap();
        while let Ok(Ok(_)) = timeout(WAIT, sev.poll()).await {}
    }
    // Publish only once the session is offline (see above).
    b.wait_connected_down_to(0);
    let (publ, mut pev) = rumqttc::AsyncClient::new(opts4(&b, "pub"), published + 10);
    connack4(&mut pev).await;
    for i in 0..published {
        publ.publish("q/x", rumqttc::QoS::AtLeastOnce, false, i.to_string())
            .await
            .unwrap();
    }
    drive4(&mut pev, published).await;
    let (_sub, mut sev) = rumqttc::AsyncClient::new(o, 10);
    assert!(connack4(&mut sev).await, "session present");
    let mut got = 0;
    while let Ok(Ok(ev)) = timeout(Duration::from_millis(500), sev.poll()).await {
        if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = ev {
            assert_eq!(&p.payload[..], got.to_string().as_bytes(), "in order");
            got += 1;
        }
    }
    got
}

#[tokio::test]
async fn max_queued_messages_bounds_offline_queue() {
    assert_eq!(offline_messages_kept(5, 20).await, 5);
}

/// Regression: `max_queued_messages 0` dropped everything; mosquitto reads it as no maximum.
#[tokio::test]
async fn max_queued_messages_zero_means_no_maximum() {
    assert_eq!(offline_messages_kept(0, 1200).await, 1200);
}
