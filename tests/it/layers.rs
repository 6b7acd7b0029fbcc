//! The invariants of ARCHITECTURE.md that a scan of the sources can check: a lower
//! layer names nothing of the layers above it (a scan of `crate::` paths is enough
//! because every cross-module reference in mqtk is written as one, no
//! `super::super::`), packet bytes come from the codec, and functions fit on a screen.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// `src/<layer>`: every file of a directory layer, or the one file `<layer>.rs`.
fn layer_files(layer: &str) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let dir = src.join(layer);
    if dir.is_dir() {
        sources(&dir)
    } else {
        vec![src.join(format!("{layer}.rs"))]
    }
}

/// Each `crate::` path in code (not comments) under `src/<layer>` whose first segment
/// is not in `allowed`, as `file:line: text`.
fn reaches_outside(layer: &str, allowed: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in layer_files(layer) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let ok = allowed.iter().any(|a| {
                    rest.strip_prefix(a)
                        .is_some_and(|t| !t.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
                });
                if !ok {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn transport_imports_nothing_above_it() {
    let found = reaches_outside("transport", &["transport"]);
    assert!(
        found.is_empty(),
        "transport reaches up:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_sees_an_upward_import() {
    // The check itself must be able to fail: cmd does import settings.
    assert!(!reaches_outside("cmd", &["cmd"]).is_empty());
}

/// Which layers each layer may name (besides itself): ARCHITECTURE.md's "Layers point
/// down".
const LAYERS: &[(&str, &[&str])] = &[
    ("codec", &[]),
    ("topic", &[]),
    ("passwd", &[]),
    ("payload", &[]),
    ("client", &["codec", "topic", "transport"]),
    ("output", &["codec", "topic", "payload"]),
    ("record", &["codec", "topic"]),
    ("broker", &["codec", "topic", "transport", "passwd"]),
    ("cli", &["codec", "topic", "passwd", "payload"]),
];

#[test]
fn every_layer_imports_only_what_is_below_it() {
    let mut found = Vec::new();
    for (layer, below) in LAYERS {
        let mut allowed = vec![*layer];
        allowed.extend_from_slice(below);
        found.extend(reaches_outside(layer, &allowed));
    }
    assert!(found.is_empty(), "upward imports:\n{}", found.join("\n"));
}

/// The code of a file before its `#[cfg(test)] mod …` (tests may build bytes by hand).
fn code_before_tests(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod "))
        .unwrap_or(lines.len());
    lines[..end].iter().map(|l| l.to_string()).collect()
}

/// Fixed-header bytes written by hand: a PUBLISH first byte built with `0x30 |`, or a
/// byte array opening with a control packet's first byte (CONNECT … DISCONNECT).
fn hand_encoded(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    let starts = [
        "[0x10,", "[0x20,", "[0x40,", "[0x50,", "[0x62,", "[0x70,", "[0x82,", "[0x90,", "[0xA2,",
        "[0xB0,", "[0xC0,", "[0xD0,", "[0xE0,",
    ];
    code.contains("0x30 |") || starts.iter().any(|s| code.replace(' ', "").contains(s))
}

#[test]
fn packets_are_encoded_by_the_codec() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let codec = src.join("codec");
    let mut found = Vec::new();
    for file in sources(&src).iter().filter(|f| !f.starts_with(&codec)) {
        for (n, line) in code_before_tests(file).iter().enumerate() {
            if hand_encoded(line) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "packet bytes outside src/codec:\n{}",
        found.join("\n")
    );
    assert!(
        hand_encoded("out.put_slice(&[0xC0, 0x00]);"),
        "the scan must see a PINGREQ"
    );
}

/// Functions longer than `limit` lines in `file` (outside its tests), as `name (n)`.
fn long_functions(file: &Path, limit: usize) -> Vec<String> {
    let lines = code_before_tests(file);
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let t = line.trim_start();
        let is_fn = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "pub(super) fn ",
            "async fn ",
            "pub async fn ",
            "pub(crate) async fn ",
            "const fn ",
            "pub const fn ",
        ]
        .iter()
        .any(|p| t.starts_with(p));
        if !is_fn || line.trim_end().ends_with(';') {
            i += 1;
            continue;
        }
        let indent = &line[..line.len() - t.len()];
        let close = format!("{indent}}}");
        let end = (i..lines.len())
            .find(|&j| lines[j].trim_end() == close)
            .unwrap_or(i);
        if end + 1 - i > limit {
            let name = t.split('(').next().unwrap_or(t);
            found.push(format!(
                "{}: {name} ({} lines)",
                file.display(),
                end + 1 - i
            ));
        }
        i = end.max(i) + 1;
    }
    found
}

#[test]
fn functions_fit_on_a_screen() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found: Vec<String> = sources(&src)
        .iter()
        .filter(|f| !f.ends_with("tests.rs"))
        .flat_map(|f| long_functions(f, 100))
        .collect();
    assert!(
        found.is_empty(),
        "functions over 100 lines:\n{}",
        found.join("\n")
    );
}

/// A `print!`-family macro in code (not comments): they panic when stdout or stderr
/// cannot be written (`2>/dev/full`, `| true`).
fn prints_with_a_panicking_macro(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    ["print!(", "println!(", "eprint!(", "eprintln!("]
        .iter()
        .any(|m| code.contains(m))
}

/// No write to stdout or stderr may panic: text for the user goes through
/// `cmd::print_out`/`print_err` or a `write!` whose error is handled (tests aside).
#[test]
fn no_panicking_print_macros() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for file in sources(&src).iter().filter(|f| !f.ends_with("tests.rs")) {
        for (n, line) in code_before_tests(file).iter().enumerate() {
            if prints_with_a_panicking_macro(line) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "print macros that can panic:\n{}",
        found.join("\n")
    );
    assert!(prints_with_a_panicking_macro("    eprintln!(\"x\");"));
    assert!(!prints_with_a_panicking_macro("    // eprintln!(\"x\");"));
}
