//! Formatter cost per message: 1,000,000 messages of 16 bytes formatted into a
//! 64 KiB `BufWriter` over `io::sink()` (what `mqtk sub` does with stdout), for the
//! default payload output, `-v`, `-F '%j'` and a typical template; also counts heap
//! allocations per message. Run: `cargo bench --bench output`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use mqtk::codec::Properties;
use mqtk::output::{Formatter, Message, OutputOptions};

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
    let props = Properties::new();
    let payload = *b"0123456789abcdef";
    let mut f = Formatter::new(&opts).expect("valid options");
    let mut out = BufWriter::with_capacity(64 * 1024, io::sink());
    let mut diag = io::sink();
    let start_time = SystemTime::now();
    // Warm up (first-second time rendering, buffer growth).
    for _ in 0..1000 {
        let m = message(&payload, &props, start_time);
        f.write(&m, &mut out, &mut diag).unwrap();
    }
    let allocs_before = ALLOCS.load(Ordering::Relaxed);
    let t = Instant::now();
    for i in 0..N {
        let mut m = message(&payload, &props, start_time);
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
}
