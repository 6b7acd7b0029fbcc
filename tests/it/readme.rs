//! The README's commands run here, so the README cannot rot.
//!
//! A fenced ```` ```sh ```` block is run when the line right above its fence is a
//! marker comment:
//!
//! - `<!-- test -->`: the block runs as a bash script (`set -euo pipefail`) in an empty
//!   temporary directory (HOME inside it), with `mqtk` and the `mosquitto_*` names on
//!   PATH (the binary under test), inside a private network namespace whose loopback
//!   already has `mqtk broker` listening on the default port 1883. So the README shows
//!   commands exactly as a user types them: `mqtk pub -t demo -m hi`, no test-only
//!   flags. It must exit 0 within 30 seconds.
//! - `<!-- test: no-broker -->`: the same without the broker, for blocks that start
//!   their own (`mqtk broker -c mqtk.conf &`).
//! - `<!-- test: runs -->`: a command that runs until interrupted (`mqtk broker -v`,
//!   `mqtk sub -t '#' -v`): it must still be running after a second; then it is
//!   stopped. Combine as `<!-- test: runs, no-broker -->`.
//! - `<!-- tested-by: tests/it/install.rs -->`: run elsewhere (slow or system-wide
//!   commands such as `cargo install` or `./install.sh`); not run here.
//!
//! Anything a block starts in the background ends with it (the namespace has its own
//! PID space). Blocks share nothing; use relative paths, never /etc.
//!
//! Unmarked `sh` blocks are listed on stderr and skipped; with MQTK_README_STRICT=1
//! each one is a failure. The namespace needs `unshare` and unprivileged user
//! namespaces: where the kernel refuses them the test says so and passes, except in
//! CI (CI=true), where that is a failure.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::util::{Sandbox, describe, mqtk_bin, run_with_timeout};

/// How a marked block is run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Marker {
    Test { broker: bool, runs: bool },
    TestedBy(String),
    Unmarked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    marker: Marker,
    code: String,
}

fn parse_marker(line: &str) -> Result<Marker, String> {
    let line = line.trim();
    let Some(inner) = line
        .strip_prefix("<!--")
        .and_then(|l| l.strip_suffix("-->"))
    else {
        return Ok(Marker::Unmarked);
    };
    let inner = inner.trim();
    if let Some(by) = inner.strip_prefix("tested-by:") {
        return Ok(Marker::TestedBy(by.trim().to_string()));
    }
    if inner == "test" {
        return Ok(Marker::Test {
            broker: true,
            runs: false,
        });
    }
    let Some(opts) = inner.strip_prefix("test:") else {
        return Ok(Marker::Unmarked);
    };
    let (mut broker, mut runs) = (true, false);
    for opt in opts.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        match opt {
            "no-broker" => broker = false,
            "runs" => runs = true,
            other => return Err(format!("unknown test option '{other}' in `{line}`")),
        }
    }
    Ok(Marker::Test { broker, runs })
}

/// The ```sh blocks of a Markdown text, each with the marker on the line above it.
fn sh_blocks(markdown: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_start();
        if !fence.starts_with("```") {
            i += 1;
            continue;
        }
        let lang = fence.trim_start_matches('`').trim();
        let start = i;
        let mut end = i + 1;
        while end < lines.len() && !lines[end].trim_start().starts_with("```") {
            end += 1;
        }
        if end == lines.len() {
            return Err(format!("README line {}: unclosed code fence", start + 1));
        }
        if matches!(lang, "sh" | "bash" | "shell") {
            let marker = match start.checked_sub(1) {
                Some(above) => parse_marker(lines[above])
                    .map_err(|e| format!("README line {}: {e}", above + 1))?,
                None => Marker::Unmarked,
            };
            out.push(Block {
                line: start + 1,
                marker,
                code: lines[start + 1..end].join("\n") + "\n",
            });
        }
        i = end + 1;
    }
    Ok(out)
}

/// What the runner does inside the namespace: bring up loopback, start the broker if
/// asked, then run the block (or start it and check it keeps running).
const RUNNER: &str = r#"set -euo pipefail
ip link set lo up
if [ "$README_BROKER" = 1 ]; then
    mqtk broker > ../broker.log 2>&1 &
    for _ in $(seq 200); do
        (echo > /dev/tcp/127.0.0.1/1883) 2>/dev/null && break
        sleep 0.025
    done
    (echo > /dev/tcp/127.0.0.1/1883) 2>/dev/null || { echo "readme test: broker did not start" >&2; exit 90; }
fi
if [ "$README_RUNS" = 1 ]; then
    bash -euo pipefail ../block.sh &
    pid=$!
    # What is tested: still running after a second (a server, a watcher), not a wait.
    sleep 1
    if ! kill -0 "$pid" 2>/dev/null; then
        status=0
        wait "$pid" || status=$?
        echo "readme test: the command exited (status $status) instead of running" >&2
        exit 91
    fi
    exit 0
fi
exec bash -euo pipefail ../block.sh
"#;

/// Whether this machine can make the private namespace.
fn namespaces_work() -> bool {
    let ok = std::process::Command::new("unshare")
        .args(["-r", "-n", "-p", "-f", "--kill-child", "true"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
            panic!("unshare -r -n -p -f fails here: README commands cannot be tested");
        }
        eprintln!(
            "skipping README commands: `unshare -r -n -p -f` fails (no unprivileged user \
             namespaces); CI=true makes this a failure"
        );
    }
    ok
}

/// Runs one block as the module doc describes; `Err` holds everything a developer
/// needs to see.
fn run_block(block: &Block) -> Result<(), String> {
    let Marker::Test { broker, runs } = block.marker else {
        return Ok(());
    };
    let sb = Sandbox::new();
    let bin = sb.file("bin");
    std::fs::create_dir(&bin).unwrap();
    for name in std::iter::once("mqtk").chain(mqtk::cli::MULTICALL.iter().map(|(t, _)| *t)) {
        std::os::unix::fs::symlink(mqtk_bin(), bin.join(name)).unwrap();
    }
    let work = sb.file("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(sb.file("block.sh"), &block.code).unwrap();
    std::fs::write(sb.file("runner.sh"), RUNNER).unwrap();
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let mut cmd = sb.command("unshare");
    cmd.args(["-r", "-n", "-p", "-f", "--kill-child", "bash"])
        .arg(sb.file("runner.sh"))
        .current_dir(&work)
        .env("PATH", path)
        .env("COLUMNS", "100")
        .env("README_BROKER", if broker { "1" } else { "0" })
        .env("README_RUNS", if runs { "1" } else { "0" });
    let out: Output = run_with_timeout(&mut cmd, Duration::from_secs(30));
    if out.status.success() {
        return Ok(());
    }
    let log = std::fs::read_to_string(sb.file("broker.log")).unwrap_or_default();
    Err(format!(
        "README block at line {} failed\n--- block ---\n{}{}\n--- broker log ---\n{}",
        block.line,
        block.code,
        describe(&out),
        log
    ))
}

fn readme_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")
}

#[test]
fn readme_commands_run() {
    let text = std::fs::read_to_string(readme_path()).unwrap();
    let blocks = sh_blocks(&text).unwrap_or_else(|e| panic!("{e}"));
    let strict = std::env::var("MQTK_README_STRICT").as_deref() == Ok("1");
    let unmarked: Vec<usize> = blocks
        .iter()
        .filter(|b| b.marker == Marker::Unmarked)
        .map(|b| b.line)
        .collect();
    if !unmarked.is_empty() {
        let msg = format!(
            "README sh blocks with no <!-- test --> or <!-- tested-by: … --> marker, at lines \
             {unmarked:?} (see tests/it/readme.rs)"
        );
        assert!(!strict, "{msg}");
        eprintln!("not run: {msg}");
    }
    for b in &blocks {
        if let Marker::TestedBy(by) = &b.marker {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(by);
            assert!(
                path.exists(),
                "README line {}: tested-by names {by}, which does not exist",
                b.line
            );
        }
    }
    if !blocks
        .iter()
        .any(|b| matches!(b.marker, Marker::Test { .. }))
        || !namespaces_work()
    {
        return;
    }
    let failures: Vec<String> = blocks.iter().filter_map(|b| run_block(b).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn markers_and_blocks_are_read_as_documented() {
    let md = "intro\n\
              <!-- test -->\n\
              ```sh\n\
              mqtk pub -t a -m b\n\
              ```\n\
              \n\
              ```sh\n\
              unmarked\n\
              ```\n\
              <!-- test: runs, no-broker -->\n\
              ```sh\n\
              mqtk broker -v\n\
              ```\n\
              <!-- tested-by: tests/it/install.rs -->\n\
              ```bash\n\
              ./install.sh\n\
              ```\n\
              <!-- test -->\n\
              ```\n\
              listener 1883\n\
              ```\n";
    let blocks = sh_blocks(md).unwrap();
    assert_eq!(
        blocks,
        vec![
            Block {
                line: 3,
                marker: Marker::Test {
                    broker: true,
                    runs: false
                },
                code: "mqtk pub -t a -m b\n".into()
            },
            Block {
                line: 7,
                marker: Marker::Unmarked,
                code: "unmarked\n".into()
            },
            Block {
                line: 11,
                marker: Marker::Test {
                    broker: false,
                    runs: true
                },
                code: "mqtk broker -v\n".into()
            },
            Block {
                line: 15,
                marker: Marker::TestedBy("tests/it/install.rs".into()),
                code: "./install.sh\n".into()
            },
        ]
    );
    assert!(sh_blocks("<!-- test: sometimes -->\n```sh\nx\n```\n").is_err());
    assert!(sh_blocks("```sh\nx\n").is_err());
}

/// The runner itself: passing blocks pass, and each way of failing is caught.
#[test]
fn the_block_runner_catches_failures() {
    if !namespaces_work() {
        return;
    }
    let block = |broker, runs, code: &str| Block {
        line: 1,
        marker: Marker::Test { broker, runs },
        code: code.into(),
    };
    // Against the broker on the default port, exactly as a user would type it.
    run_block(&block(
        true,
        false,
        "mqtk pub -t demo/hello -m 'hello, world'\n\
         mosquitto_pub -t demo/hello -m again -q 1\n\
         mqtk passwd -c -b passwd alice s3cret && grep -q '^alice:' passwd\n",
    ))
    .unwrap();
    // A block that starts its own broker on 1883, in the background.
    run_block(&block(
        false,
        false,
        "printf 'listener 1883 127.0.0.1\\nallow_anonymous true\\n' > mqtk.conf\n\
         mqtk broker -c mqtk.conf &\n\
         for _ in $(seq 200); do (echo > /dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.025; done\n\
         mqtk pub -t a -m b\n",
    ))
    .unwrap();
    run_block(&block(false, true, "mqtk broker -v\n")).unwrap();

    let err = run_block(&block(
        true,
        false,
        "mqtk pub -t a -m b\nfalse\necho never\n",
    ))
    .unwrap_err();
    assert!(err.contains("README block at line 1 failed"), "{err}");
    assert!(!err.contains("never\n--- stderr"), "{err}");
    // No broker: the connection is refused, and that fails the block.
    let err = run_block(&block(false, false, "mqtk pub -t a -m b\n")).unwrap_err();
    assert!(err.contains("Connection refused"), "{err}");
    // `runs`: a command that exits at once is a failure.
    let err = run_block(&block(false, true, "mqtk broker -c missing.conf\n")).unwrap_err();
    assert!(err.contains("instead of running"), "{err}");
}

/// The README's table of differences from mosquitto names, for each row, the tests
/// that check mqtk's side; each must exist (`MODULE::fn` in tests/it/MODULE.rs, or
/// `src/PATH.rs::fn`), so that a row cannot outlive what it claims.
#[test]
fn the_differences_table_names_tests_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("\n## Differences from mosquitto\n")
        .nth(1)
        .expect("a 'Differences from mosquitto' section")
        .split("\n## ")
        .next()
        .unwrap();
    let rows: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| |"))
        .collect();
    assert!(rows.len() >= 20, "{} rows", rows.len());
    let mut problems = Vec::new();
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
        if cells.len() != 5 {
            problems.push(format!("not 5 cells: {row}"));
            continue;
        }
        let names: Vec<&str> = cells[4].split('`').skip(1).step_by(2).collect();
        if names.is_empty() {
            problems.push(format!("no test named: {row}"));
        }
        for name in names {
            let (file, func) = match name.rsplit_once("::") {
                Some((f, func)) if f.starts_with("src/") => (root.join(f), func),
                Some((module, func)) => (root.join(format!("tests/it/{module}.rs")), func),
                None => {
                    problems.push(format!("not MODULE::fn: {name}"));
                    continue;
                }
            };
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if !text.contains(&format!("fn {func}(")) {
                problems.push(format!("{name}: no fn {func} in {}", file.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
