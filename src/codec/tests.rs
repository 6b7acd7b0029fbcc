//! Codec-wide tests: framing (need-more, too large, back to back), and proptest
//! round trips and no-panic checks over all packets and versions.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::sample::select;

use crate::codec::properties::PROPERTY_TABLE;
use crate::codec::*;

const V31: ProtocolVersion = ProtocolVersion::V31;
const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn enc(p: &Packet, v: ProtocolVersion) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(p, v, &mut out).expect("encode");
    out.to_vec()
}

#[test]
fn too_large_is_reported_from_the_header_alone() {
    // PUBLISH announcing 200 bytes of body; only the fixed header has arrived.
    let mut buf = BytesMut::from(&[0x30, 0xC8, 0x01][..]);
    assert_eq!(
        decode(&mut buf, V311, 100),
        Err(Error::PacketTooLarge {
            size: 203,
            max: 100
        })
    );
    assert_eq!(
        Error::PacketTooLarge { size: 0, max: 0 }.reason_code(),
        ReasonCode::PACKET_TOO_LARGE
    );
    // Exactly at the limit is fine (and still needs its body).
    let mut buf = BytesMut::from(&[0x30, 0xC8, 0x01][..]);
    assert_eq!(decode(&mut buf, V311, 203), Ok(None));
    // The largest remaining length, header only.
    let mut buf = BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F][..]);
    assert_eq!(
        decode(&mut buf, V5, 1 << 20),
        Err(Error::PacketTooLarge {
            size: MAX_REMAINING_LENGTH + 5,
            max: 1 << 20
        })
    );
}

#[test]
fn five_byte_remaining_length_is_malformed() {
    let mut buf = BytesMut::from(&[0x30, 0x80, 0x80, 0x80, 0x80, 0x01][..]);
    let e = decode(&mut buf, V311, usize::MAX).unwrap_err();
    assert_eq!(e, Error::MalformedRemainingLength);
    assert_eq!(e.reason_code(), ReasonCode::MALFORMED_PACKET);
    // Known as soon as the 4th length byte arrives.
    let mut buf = BytesMut::from(&[0x30, 0x80, 0x80, 0x80, 0x80][..]);
    assert_eq!(
        decode(&mut buf, V311, usize::MAX),
        Err(Error::MalformedRemainingLength)
    );
}

#[test]
fn packet_type_zero_and_auth_before_v5() {
    let mut buf = BytesMut::from(&[0x00, 0x00][..]);
    assert_eq!(
        decode(&mut buf, V5, usize::MAX),
        Err(Error::InvalidPacketType(0))
    );
    let mut buf = BytesMut::from(&[0xF0, 0x00][..]);
    let e = decode(&mut buf, V311, usize::MAX).unwrap_err();
    assert_eq!(
        e,
        Error::NotInVersion {
            packet: "AUTH",
            version: V311
        }
    );
    assert_eq!(e.reason_code(), ReasonCode::PROTOCOL_ERROR);
}

#[test]
fn bad_flags_fail_before_the_body_arrives() {
    // PUBREL with flags 0 and a body still to come.
    let mut buf = BytesMut::from(&[0x60, 0x02][..]);
    assert!(matches!(
        decode(&mut buf, V311, usize::MAX),
        Err(Error::InvalidHeaderFlags { .. })
    ));
}

#[test]
fn back_to_back_and_split_arrival() {
    let publish = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: "a/b".into(),
        packet_id: 7,
        properties: Properties::new(),
        payload: Bytes::from_static(b"payload"),
    });
    let ack = Packet::PubAck(PubAck {
        packet_id: 7,
        reason: ReasonCode::NO_MATCHING_SUBSCRIBERS,
        properties: Properties::new(),
    });
    for v in [V311, V5] {
        let mut wire = enc(&publish, v);
        wire.extend(enc(&ack, v));
        wire.extend(enc(&Packet::PingReq, v));
        // All at once.
        let mut buf = BytesMut::from(&wire[..]);
        let mut got = Vec::new();
        while let Some(p) = decode(&mut buf, v, usize::MAX).unwrap() {
            got.push(p);
        }
        assert!(buf.is_empty());
        let want_ack = if v == V5 {
            ack.clone()
        } else {
            // 3.x PUBACK carries no reason.
            Packet::PubAck(PubAck {
                packet_id: 7,
                reason: ReasonCode::SUCCESS,
                properties: Properties::new(),
            })
        };
        assert_eq!(got, [publish.clone(), want_ack.clone(), Packet::PingReq]);
        // One byte at a time.
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &b in &wire {
            buf.extend_from_slice(&[b]);
            while let Some(p) = decode(&mut buf, v, usize::MAX).unwrap() {
                got.push(p);
            }
        }
        assert_eq!(got, [publish.clone(), want_ack, Packet::PingReq]);
    }
}

#[test]
fn encode_limits() {
    // A payload pushing the remaining length past 268,435,455.
    let big = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "t".into(),
        packet_id: 0,
        properties: Properties::new(),
        payload: Bytes::from(vec![0u8; MAX_REMAINING_LENGTH]),
    });
    let mut out = BytesMut::new();
    assert!(matches!(
        encode(&big, V311, &mut out),
        Err(Error::PacketTooLarge { .. })
    ));
    assert!(out.is_empty());
    // A user name longer than 65,535 bytes.
    let c = Packet::Connect(Connect {
        version: V311,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::new(),
        client_id: String::new(),
        will: None,
        username: Some("u".repeat(70_000)),
        password: None,
    });
    assert_eq!(
        encode(&c, V311, &mut out),
        Err(Error::TooLong {
            packet: "CONNECT",
            len: 70_000
        })
    );
}

// ---- proptest strategies: only valid packets for the version ----

fn string() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..12)
        .prop_map(|cs| cs.into_iter().filter(|&c| c != '\0').collect())
}

fn binary() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn value_for(id: PropertyId, n: u32, s: String, s2: String, b: Bytes) -> PropertyValue {
    match id.data_type() {
        // Every Byte property is 0 or 1 (MaximumQos too).
        PropertyType::Byte => PropertyValue::Byte((n % 2) as u8),
        // 0 is forbidden for receive maximum; skipping it elsewhere costs little.
        PropertyType::TwoByte => PropertyValue::TwoByte((n as u16).max(1)),
        PropertyType::FourByte => PropertyValue::FourByte(n.max(1)),
        PropertyType::VarInt => PropertyValue::VarInt(n % wire::MAX_VARINT + 1),
        PropertyType::String => PropertyValue::String(s),
        PropertyType::Binary => PropertyValue::Binary(b),
        PropertyType::Pair => PropertyValue::Pair(s, s2),
    }
}

/// Valid properties for `ctx`: allowed ids, right types, no forbidden repeats.
fn props(ctx: PropertyContext) -> BoxedStrategy<Properties> {
    let ids: Vec<PropertyId> = PROPERTY_TABLE
        .iter()
        .map(|r| r.id)
        .filter(|id| id.allowed_in(ctx))
        .collect();
    prop::collection::vec(
        (select(ids), any::<u32>(), string(), string(), binary()),
        0..6,
    )
    .prop_map(move |entries| {
        let mut p = Properties::new();
        for (id, n, s, s2, b) in entries {
            if !id.repeatable_in(ctx) && p.get(id).is_some() {
                continue;
            }
            p.push(id, value_for(id, n, s, s2, b));
        }
        p
    })
    .boxed()
}

fn props_for(v: ProtocolVersion, ctx: PropertyContext) -> BoxedStrategy<Properties> {
    if v == V5 {
        props(ctx)
    } else {
        Just(Properties::new()).boxed()
    }
}

fn reason_for(v: ProtocolVersion) -> BoxedStrategy<ReasonCode> {
    if v == V5 {
        any::<u8>().prop_map(ReasonCode).boxed()
    } else {
        Just(ReasonCode::SUCCESS).boxed()
    }
}

fn options(v: ProtocolVersion) -> BoxedStrategy<SubscriptionOptions> {
    if v == V5 {
        (
            qos(),
            any::<bool>(),
            any::<bool>(),
            select(vec![
                RetainHandling::SendAtSubscribe,
                RetainHandling::SendIfNewSubscription,
                RetainHandling::DoNotSend,
            ]),
        )
            .prop_map(
                |(qos, no_local, retain_as_published, retain_handling)| SubscriptionOptions {
                    qos,
                    no_local,
                    retain_as_published,
                    retain_handling,
                },
            )
            .boxed()
    } else {
        qos()
            .prop_map(|qos| SubscriptionOptions {
                qos,
                ..SubscriptionOptions::default()
            })
            .boxed()
    }
}

fn connect(v: ProtocolVersion) -> BoxedStrategy<Connect> {
    let will = (
        string(),
        binary(),
        qos(),
        any::<bool>(),
        props_for(v, PropertyContext::Will),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        });
    (
        any::<bool>(),
        any::<u16>(),
        props_for(v, PropertyContext::Connect),
        string(),
        prop::option::of(will),
        prop::option::of(string()),
        prop::option::of(binary()),
    )
        .prop_map(
            move |(clean_start, keep_alive, properties, client_id, will, username, password)| {
                // 3.x: no password without a user name.
                let password = if v != V5 && username.is_none() {
                    None
                } else {
                    password
                };
                Connect {
                    version: v,
                    clean_start,
                    keep_alive,
                    properties,
                    client_id,
                    will,
                    username,
                    password,
                }
            },
        )
        .boxed()
}

fn packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let publish = (
        any::<bool>(),
        qos(),
        any::<bool>(),
        string(),
        1..=u16::MAX,
        props_for(v, PropertyContext::Publish),
        binary(),
    )
        .prop_map(
            |(dup, qos, retain, topic, id, properties, payload)| Publish {
                dup,
                qos,
                retain,
                topic,
                packet_id: if qos == QoS::AtMostOnce { 0 } else { id },
                properties,
                payload,
            },
        );
    let ack = |ctx| (any::<u16>(), reason_for(v), props_for(v, ctx));
    let suback_codes = if v == V5 {
        prop::collection::vec(any::<u8>().prop_map(ReasonCode), 0..5).boxed()
    } else {
        prop::collection::vec(select(vec![0u8, 1, 2, 0x80]).prop_map(ReasonCode), 0..5).boxed()
    };
    let unsuback_codes = if v == V5 {
        prop::collection::vec(any::<u8>().prop_map(ReasonCode), 0..5).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    let filter =
        (string(), options(v)).prop_map(|(filter, options)| SubscribeFilter { filter, options });
    let mut all = vec![
        connect(v).prop_map(Packet::Connect).boxed(),
        (
            any::<bool>(),
            any::<u8>(),
            props_for(v, PropertyContext::ConnAck),
        )
            .prop_map(|(session_present, code, properties)| {
                Packet::ConnAck(ConnAck {
                    session_present,
                    code,
                    properties,
                })
            })
            .boxed(),
        publish.prop_map(Packet::Publish).boxed(),
        ack(PropertyContext::PubAck)
            .prop_map(|(packet_id, reason, properties)| {
                Packet::PubAck(PubAck {
                    packet_id,
                    reason,
                    properties,
                })
            })
            .boxed(),
        ack(PropertyContext::PubRec)
            .prop_map(|(packet_id, reason, properties)| {
                Packet::PubRec(PubRec {
                    packet_id,
                    reason,
                    properties,
                })
            })
            .boxed(),
        ack(PropertyContext::PubRel)
            .prop_map(|(packet_id, reason, properties)| {
                Packet::PubRel(PubRel {
                    packet_id,
                    reason,
                    properties,
                })
            })
            .boxed(),
        ack(PropertyContext::PubComp)
            .prop_map(|(packet_id, reason, properties)| {
                Packet::PubComp(PubComp {
                    packet_id,
                    reason,
                    properties,
                })
            })
            .boxed(),
        (
            1..=u16::MAX,
            props_for(v, PropertyContext::Subscribe),
            prop::collection::vec(filter, 1..4),
        )
            .prop_map(|(packet_id, properties, filters)| {
                Packet::Subscribe(Subscribe {
                    packet_id,
                    properties,
                    filters,
                })
            })
            .boxed(),
        (
            any::<u16>(),
            props_for(v, PropertyContext::SubAck),
            suback_codes,
        )
            .prop_map(|(packet_id, properties, reasons)| {
                Packet::SubAck(SubAck {
                    packet_id,
                    properties,
                    reasons,
                })
            })
            .boxed(),
        (
            1..=u16::MAX,
            props_for(v, PropertyContext::Unsubscribe),
            prop::collection::vec(string(), 1..4),
        )
            .prop_map(|(packet_id, properties, filters)| {
                Packet::Unsubscribe(Unsubscribe {
                    packet_id,
                    properties,
                    filters,
                })
            })
            .boxed(),
        (
            any::<u16>(),
            props_for(v, PropertyContext::UnsubAck),
            unsuback_codes,
        )
            .prop_map(|(packet_id, properties, reasons)| {
                Packet::UnsubAck(UnsubAck {
                    packet_id,
                    properties,
                    reasons,
                })
            })
            .boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        (reason_for(v), props_for(v, PropertyContext::Disconnect))
            .prop_map(|(reason, properties)| Packet::Disconnect(Disconnect { reason, properties }))
            .boxed(),
    ];
    if v == V5 {
        all.push(
            (any::<u8>(), props(PropertyContext::Auth))
                .prop_map(|(r, properties)| {
                    Packet::Auth(Auth {
                        reason: ReasonCode(r),
                        properties,
                    })
                })
                .boxed(),
        );
    }
    proptest::strategy::Union::new(all).boxed()
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    select(vec![V31, V311, V5])
}

fn round_trip(p: &Packet, v: ProtocolVersion) -> Result<(), TestCaseError> {
    let wire = enc(p, v);
    // Incomplete prefixes need more and leave the buffer alone.
    let cut = wire.len() / 2;
    let mut buf = BytesMut::from(&wire[..cut]);
    prop_assert_eq!(decode(&mut buf, v, usize::MAX), Ok(None));
    prop_assert_eq!(buf.len(), cut);
    // The whole packet, followed by a PINGREQ.
    let mut buf = BytesMut::from(&wire[..]);
    buf.extend_from_slice(&[0xC0, 0x00]);
    prop_assert_eq!(decode(&mut buf, v, wire.len()), Ok(Some(p.clone())));
    prop_assert_eq!(decode(&mut buf, v, 2), Ok(Some(Packet::PingReq)));
    prop_assert!(buf.is_empty());
    Ok(())
}

proptest! {
    #[test]
    fn round_trip_v31(p in packet(V31)) {
        round_trip(&p, V31)?;
    }

    #[test]
    fn round_trip_v311(p in packet(V311)) {
        round_trip(&p, V311)?;
    }

    #[test]
    fn round_trip_v5(p in packet(V5)) {
        round_trip(&p, V5)?;
    }

    /// Arbitrary bytes never panic the decoder, and whatever decodes re-encodes
    /// to something that decodes to the same packet.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        v in version(),
        max in 0usize..128,
    ) {
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(p)) = decode(&mut buf, v, max) {
            let mut out = BytesMut::new();
            encode(&p, v, &mut out).expect("a decoded packet re-encodes");
            prop_assert_eq!(decode(&mut out, v, usize::MAX), Ok(Some(p)));
        }
    }

    /// Valid packets with one byte changed: decoding never panics and stays
    /// consistent with encoding.
    #[test]
    fn mutated_packets_never_panic(
        (v, p) in version().prop_flat_map(|v| (Just(v), packet(v))),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut wire = enc(&p, v);
        let i = at.index(wire.len());
        wire[i] = byte;
        let mut buf = BytesMut::from(&wire[..]);
        if let Ok(Some(p)) = decode(&mut buf, v, usize::MAX) {
            let mut out = BytesMut::new();
            encode(&p, v, &mut out).expect("a decoded packet re-encodes");
            prop_assert_eq!(decode(&mut out, v, usize::MAX), Ok(Some(p)));
        }
    }
}
