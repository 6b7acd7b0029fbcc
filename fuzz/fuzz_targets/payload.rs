//! Fuzz target for the payload decoders (`mqtk::payload`): arbitrary bytes through
//! each codec must never panic, never allocate without bound (libFuzzer's -rss_limit_mb
//! and -malloc_limit_mb catch that), and whatever decodes must render as valid JSON in
//! both styles. The same bytes, read as JSON, go through the Sparkplug encoder.
//!
//! Input layout: byte 0 picks the codec (mod 6: sparkplug, cbor, msgpack, json, auto,
//! proto with tests/fixtures/proto/sensor.proto's demo.Reading) and, by its top bit,
//! the topic (a Sparkplug topic or not); the rest is the payload.
//!
//! Run: RUSTC_BOOTSTRAP=1 cargo fuzz run payload -- -max_total_time=600

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mqtk::payload::{Codec, Encoder, Style};
use prost_reflect::MessageDescriptor;

fn reading() -> MessageDescriptor {
    static DESC: OnceLock<MessageDescriptor> = OnceLock::new();
    DESC.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/proto");
        mqtk::settings::payload::message_descriptor(
            &dir.join("sensor.proto"),
            "demo.Reading",
            &[dir.join("include")],
        )
        .expect("the fixture schema compiles")
    })
    .clone()
}

/// Panics unless `out` is JSON (nesting beyond serde_json's own limit aside).
fn check_json(out: &[u8]) {
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(out) {
        assert!(
            e.to_string().contains("recursion limit"),
            "invalid JSON ({e}): {}",
            String::from_utf8_lossy(out)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let [sel, payload @ ..] = data else {
        return;
    };
    let topic = if sel & 0x80 != 0 { "spBv1.0/g/NDATA/n" } else { "t" };
    let codec = match sel % 6 {
        0 => Codec::Sparkplug,
        1 => Codec::Cbor,
        2 => Codec::Msgpack,
        3 => Codec::Json,
        4 => Codec::Auto,
        _ => Codec::Proto(reading()),
    };
    if let Ok(Some(decoded)) = codec.decode(topic, payload) {
        for style in [Style::Compact, Style::Pretty { depth: 1 }] {
            let mut out = Vec::new();
            if decoded.write_json(style, &mut out).is_ok() {
                check_json(&out);
            }
        }
    }
    if sel % 6 == 0 {
        if let Ok(bytes) = Encoder::new(Codec::Sparkplug).unwrap().encode(payload, 0) {
            // What the encoder makes, the decoder reads.
            let d = Codec::Sparkplug.decode("spBv1.0/g/NDATA/n", &bytes).expect("decodes");
            let mut out = Vec::new();
            d.unwrap().write_json(Style::Compact, &mut out).expect("renders");
            check_json(&out);
        }
    }
});
