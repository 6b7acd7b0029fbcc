//! Formatter cost per message: 1,000,000 messages of 16 bytes formatted into a
//! 64 KiB `BufWriter` over `io::sink()` (what `mqtk sub` does with stdout), for the
//! default payload output, `-v`, `-F '%j'` and a typical template; also counts heap
//! allocations per message. Then `-v --decode sparkplug` on a Sparkplug B NDATA of 10
//! metrics (the payload of bench/decode.sh). Run: `cargo bench --bench output`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use mqtk::codec::Properties;
use mqtk::output::{Formatter, Message, OutputOptions};
use mqtk::payload::{Codec, Encoder};

/// Counts allocations, to show the per-message paths allocate nothing.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: u64 = 1_000_000;

fn run(name: &str, opts: OutputOptions) {
    run_with(name, opts, b"0123456789abcdef", None);
}

fn run_with(name: &str, opts: OutputOptions, payload: &[u8], codec: Option<Codec>) {
    let props = Properties::new();
    let mut f = Formatter::new(&opts)
        .expect("valid options")
        .with_decoder(codec);
    let mut out = BufWriter::with_capacity(64 * 1024, io::sink());
    let mut diag = io::sink();
    let start_time = SystemTime::now();
    // Warm up (first-second time rendering, buffer growth).
    for _ in 0..1000 {
        let m = message(payload, &props, start_time);
        f.write(&m, &mut out, &mut diag).unwrap();
    }
    let allocs_before = ALLOCS.load(Ordering::Relaxed);
    let t = Instant::now();
    for i in 0..N {
        let mut m = message(payload, &props, start_time);
        // A new clock second every 100,000 messages, as a fast stream would see.
        m.received = start_time + std::time::Duration::from_micros(i * 10);
        f.write(&m, &mut out, &mut diag).unwrap();
    }
    out.flush().unwrap();
    let ns = t.elapsed().as_nanos() as f64 / N as f64;
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs_before;
    println!(
        "{name:<18} {ns:7.1} ns/msg   {:.4} allocs/msg",
        allocs as f64 / N as f64
    );
}

fn message<'a>(payload: &'a [u8], props: &'a Properties, at: SystemTime) -> Message<'a> {
    Message {
        topic: "bench/topic/1",
        payload,
        qos: 0,
        retain: false,
        mid: 0,
        properties: props,
        received: at,
    }
}

fn main() {
    run("payload", OutputOptions::default());
    run(
        "-v",
        OutputOptions {
            verbose: true,
            ..OutputOptions::default()
        },
    );
    run(
        "-F %j",
        OutputOptions {
            format: Some(b"%j".to_vec()),
            ..OutputOptions::default()
        },
    );
    run(
        "-F '%I %t %p'",
        OutputOptions {
            format: Some(b"%I %t %p".to_vec()),
            ..OutputOptions::default()
        },
    );
    run(
        "-F %x",
        OutputOptions {
            format: Some(b"%x".to_vec()),
            ..OutputOptions::default()
        },
    );
    let verbose = OutputOptions {
        verbose: true,
        ..OutputOptions::default()
    };
    let ndata = ndata();
    run_with("-v (NDATA raw)", verbose.clone(), &ndata, None);
    run_with("-v --decode sp", verbose, &ndata, Some(Codec::Sparkplug));
}

/// An NDATA of 10 metrics with alias, timestamp, datatype and value, as bench/decode.sh
/// publishes.
fn ndata() -> Vec<u8> {
    let m = |alias: u32, dt: &str, v: &str| {
        format!(
            r#"{{"alias":{alias},"timestamp":{},"dataType":"{dt}","value":{v}}}"#,
            1700000000000u64 + u64::from(alias)
        )
    };
    let metrics = [
        m(1, "Float", "21.5"),
        m(2, "Float", "-3.25"),
        m(3, "Float", "1013.2"),
        m(4, "Float", "0.5"),
        m(5, "Double", "230.125"),
        m(6, "Double", "49.98"),
        m(7, "Int32", "-10"),
        m(8, "Int32", "1200"),
        m(9, "Boolean", "true"),
        m(10, "Int64", "123456789012"),
    ];
    let json = format!(
        r#"{{"timestamp":1700000000000,"metrics":[{}],"seq":7}}"#,
        metrics.join(",")
    );
    Encoder::new(Codec::Sparkplug)
        .expect("sparkplug encodes")
        .encode(json.as_bytes(), 0)
        .expect("valid NDATA")
}
