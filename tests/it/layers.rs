//! The layering rules of ARCHITECTURE.md, checked on the sources: a lower layer names
//! nothing of the layers above it. A scan of `crate::` paths is enough because every
//! cross-module reference in mqtk is written as one (no `super::super::`).

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

/// Each `crate::` path in code (not comments) under `src/<layer>` whose first segment
/// is not in `allowed`, as `file:line: text`.
fn reaches_outside(layer: &str, allowed: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(layer);
    let mut found = Vec::new();
    for file in sources(&root) {
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
