//! The committed docs cannot drift from the CLI: `man/` and `completions/` must equal
//! what `mqtk generate` writes, and `tests/golden/help/*.txt` what `--help` prints.
//! With MQTK_BLESS=1 both are rewritten instead of compared
//! (`MQTK_BLESS=1 cargo test --test it docs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::CommandFactory;

use crate::util::{Sandbox, assert_code, describe, run_with_timeout};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var("MQTK_BLESS").as_deref() == Ok("1")
}

/// Every file under `dir/sub` for each `sub`, keyed by its path relative to `dir`.
fn files_under(dir: &Path, subs: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in subs {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                let name = format!("{sub}/{}", e.file_name().to_string_lossy());
                out.insert(name, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// Compares `want` (freshly produced) with `have` (committed), or with MQTK_BLESS=1
/// writes `want` under `root` and removes stale files. Returns the problems found.
fn compare_or_bless(
    root: &Path,
    want: &BTreeMap<String, Vec<u8>>,
    have: &BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, bytes) in want {
        if have.get(path) != Some(bytes) {
            if bless() {
                let p = root.join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, bytes).unwrap();
            } else if have.contains_key(path) {
                problems.push(format!("{path} differs from what the CLI produces"));
            } else {
                problems.push(format!("{path} is missing"));
            }
        }
    }
    for path in have.keys().filter(|p| !want.contains_key(*p)) {
        if bless() {
            std::fs::remove_file(root.join(path)).unwrap();
        } else {
            problems.push(format!("{path} is stale: the CLI no longer produces it"));
        }
    }
    problems
}

#[test]
fn committed_man_pages_and_completions_match_the_cli() {
    let sb = Sandbox::new();
    let out = run_with_timeout(
        sb.mqtk().arg("generate").arg(sb.file("gen")),
        Duration::from_secs(30),
    );
    assert_code(&out, 0);
    let want = files_under(&sb.file("gen"), &["man", "completions"]);
    for f in [
        "man/mqtk.1",
        "man/mqtk-pub.1",
        "man/mqtk-passwd.1",
        "man/mqtk-broker.1",
        "completions/mqtk.bash",
        "completions/_mqtk",
        "completions/mqtk.fish",
    ] {
        assert!(want.contains_key(f), "generate did not write {f}: {want:?}");
    }
    let have = files_under(&repo(), &["man", "completions"]);
    let problems = compare_or_bless(&repo(), &want, &have);
    assert!(
        problems.is_empty(),
        "generated docs drifted from the CLI:\n  {}\nRun `cargo run -q -- generate .` \
         (or `MQTK_BLESS=1 cargo test --test it docs`) and commit the result.",
        problems.join("\n  ")
    );
}

#[test]
fn generate_twice_gives_the_same_bytes() {
    let sb = Sandbox::new();
    for dir in ["a", "b"] {
        let out = run_with_timeout(
            sb.mqtk().arg("generate").arg(sb.file(dir)),
            Duration::from_secs(30),
        );
        assert_code(&out, 0);
    }
    let a = files_under(&sb.file("a"), &["man", "completions"]);
    let b = files_under(&sb.file("b"), &["man", "completions"]);
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn generate_into_an_unwritable_place_fails_with_a_message() {
    let sb = Sandbox::new();
    std::fs::write(sb.file("plain-file"), "x").unwrap();
    let out = run_with_timeout(
        sb.mqtk().arg("generate").arg(sb.file("plain-file")),
        Duration::from_secs(30),
    );
    assert_code(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plain-file"), "{}", describe(&out));
}

/// `mqtk --help` and `mqtk SUB… --help` for every visible subcommand (nested ones too),
/// at a fixed width.
fn help_outputs() -> BTreeMap<String, Vec<u8>> {
    let sb = Sandbox::new();
    let mut root = mqtk::cli::Cli::command();
    root.build();
    // (golden name, argv): `mqtk --help`, `mqtk pub --help`, `mqtk bench merge --help`…
    let mut runs: Vec<(String, Vec<String>)> = vec![("mqtk".into(), vec!["--help".into()])];
    fn walk(cmd: &clap::Command, path: &[String], runs: &mut Vec<(String, Vec<String>)>) {
        for sub in cmd.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            let mut p = path.to_vec();
            p.push(sub.get_name().to_string());
            let mut args = p.clone();
            args.push("--help".into());
            runs.push((p.join("-"), args));
            walk(sub, &p, runs);
        }
    }
    walk(&root, &[], &mut runs);
    let mut out = BTreeMap::new();
    for (name, args) in runs {
        let o = run_with_timeout(
            sb.mqtk().args(&args).env("COLUMNS", "100"),
            Duration::from_secs(30),
        );
        // passwd prints mosquitto_passwd's usage and exits 1, as mosquitto_passwd does.
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "mqtk {args:?}\n{}",
            describe(&o)
        );
        assert!(
            o.stderr.is_empty(),
            "help went to stderr: {args:?}\n{}",
            describe(&o)
        );
        assert!(!o.stdout.is_empty(), "no help: {args:?}");
        out.insert(format!("help/{name}.txt"), o.stdout);
    }
    out
}

#[test]
fn help_texts_match_the_goldens() {
    let want = help_outputs();
    assert!(want.contains_key("help/mqtk.txt") && want.contains_key("help/pub.txt"));
    let golden = repo().join("tests/golden");
    let have = files_under(&golden, &["help"]);
    let problems = compare_or_bless(&golden, &want, &have);
    assert!(
        problems.is_empty(),
        "--help output drifted from tests/golden:\n  {}\nIf the change is intended, run \
         `MQTK_BLESS=1 cargo test --test it docs` and commit the result.",
        problems.join("\n  ")
    );
}

/// The committed bash script really completes: subcommands, then a subcommand's flags.
#[test]
fn bash_completion_completes_subcommands_and_flags() {
    let sb = Sandbox::new();
    let script = repo().join("completions/mqtk.bash");
    let complete = |words: &str, cword: usize| {
        let prog = format!(
            "source '{}'\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\n\
             _mqtk mqtk \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = run_with_timeout(
            sb.command("bash").arg("-c").arg(prog),
            Duration::from_secs(10),
        );
        assert_code(&out, 0);
        String::from_utf8(out.stdout).unwrap()
    };
    let subs = complete("mqtk p", 1);
    assert!(subs.lines().any(|l| l == "pub"), "{subs}");
    assert!(subs.lines().any(|l| l == "passwd"), "{subs}");
    assert!(!subs.contains("generate"), "{subs}");
    assert_eq!(complete("mqtk pub --will-r", 2), "--will-retain\n");
}
