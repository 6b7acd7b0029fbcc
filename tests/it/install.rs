//! install.sh, end to end in a temporary prefix with the already-built binary
//! (`--binary`, so CI does not build the crate twice): the installed binary, each
//! mosquitto_* symlink, man pages and completions, a second run, `--uninstall`
//! leaving nothing behind, and the refusal to replace a real mosquitto_pub.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use clap::CommandFactory;

use crate::util::{Sandbox, assert_code, describe, mqtk_bin, run_with_timeout};

fn install_sh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh")
}

fn run_install(sb: &Sandbox, prefix: &Path, args: &[&str]) -> Output {
    let mut cmd = sb.command("bash");
    cmd.arg(install_sh())
        .arg("--prefix")
        .arg(prefix)
        .arg("--binary")
        .arg(mqtk_bin())
        .args(args);
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

fn run_uninstall(sb: &Sandbox, prefix: &Path) -> Output {
    let mut cmd = sb.command("bash");
    cmd.arg(install_sh())
        .arg("--prefix")
        .arg(prefix)
        .arg("--uninstall");
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

/// Every file and symlink under `dir`, relative, sorted.
fn entries(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                walk(base, &e.path(), out);
            } else {
                out.push(e.path().strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn run(sb: &Sandbox, program: &Path, args: &[&str]) -> Output {
    run_with_timeout(
        sb.command(program).args(args).env("COLUMNS", "100"),
        Duration::from_secs(30),
    )
}

#[test]
fn install_run_reinstall_and_uninstall_leave_nothing_behind() {
    let sb = Sandbox::new();
    let prefix = sb.file("prefix");
    let out = run_install(&sb, &prefix, &["--mosquitto-names"]);
    assert_code(&out, 0);
    // The sandbox's PATH does not hold the prefix: the script says so.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not on PATH"),
        "{}",
        describe(&out)
    );
    let installed = entries(&prefix);
    for f in [
        "bin/mqtk",
        "bin/mosquitto_pub",
        "bin/mosquitto_sub",
        "bin/mosquitto_rr",
        "bin/mosquitto_passwd",
        "share/man/man1/mqtk.1",
        "share/man/man1/mqtk-pub.1",
        "share/man/man1/mqtk-passwd.1",
        "share/man/man1/mqtk-broker.1",
        "share/bash-completion/completions/mqtk",
        "share/zsh/site-functions/_mqtk",
        "share/fish/vendor_completions.d/mqtk.fish",
        "share/mqtk/install-manifest",
    ] {
        assert!(installed.iter().any(|p| p == f), "{f} not in {installed:?}");
    }
    // The installed pages are the committed ones (same binary, same generator).
    let committed =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/mqtk-pub.1")).unwrap();
    assert_eq!(
        std::fs::read(prefix.join("share/man/man1/mqtk-pub.1")).unwrap(),
        committed
    );

    let bin = prefix.join("bin");
    let v = run(&sb, &bin.join("mqtk"), &["--version"]);
    assert_code(&v, 0);
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("mqtk "));

    // Each symlink runs its subcommand: same output as `mqtk SUB --help`.
    for (tool, sub) in mqtk::cli::MULTICALL {
        let link = bin.join(tool);
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("mqtk"));
        let via_link = run(&sb, &link, &["--help"]);
        let direct = run(&sb, &bin.join("mqtk"), &[sub, "--help"]);
        // mosquitto's clients exit 1 after --help; `mqtk SUB --help` succeeds.
        // (mosquitto_passwd prints its usage and exits 1 under either name.)
        let want = if *sub == "passwd" {
            direct.status.code()
        } else {
            assert_eq!(direct.status.code(), Some(0), "mqtk {sub}");
            Some(1)
        };
        assert_eq!(via_link.status.code(), want, "{tool}");
        if *sub == "passwd" {
            // The usage names the tool as it was run.
            let text = String::from_utf8_lossy(&via_link.stdout);
            assert!(text.contains("Usage: mosquitto_passwd "), "{text}");
        } else {
            assert_eq!(via_link.stdout, direct.stdout, "{tool}");
        }
        // stderr names the program as invoked, so compare it only for success.
        if direct.status.success() {
            assert_eq!(via_link.stderr, direct.stderr, "{tool}");
        }
    }
    // And does real work under the mosquitto name.
    let pw = sb.file("pw");
    let out = run(
        &sb,
        &bin.join("mosquitto_passwd"),
        &["-c", "-b", pw.to_str().unwrap(), "alice", "s3cret"],
    );
    assert_code(&out, 0);
    assert!(
        std::fs::read_to_string(&pw)
            .unwrap()
            .starts_with("alice:$7$")
    );
    let out = run(&sb, &bin.join("mosquitto_pub"), &["--bogus"]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: Unknown option '--bogus'.\n\nUse 'mosquitto_pub --help' to see usage.\n"
    );

    // A second run changes nothing.
    let manifest = std::fs::read_to_string(prefix.join("share/mqtk/install-manifest")).unwrap();
    let out = run_install(&sb, &prefix, &["--mosquitto-names"]);
    assert_code(&out, 0);
    assert_eq!(entries(&prefix), installed);
    assert_eq!(
        std::fs::read_to_string(prefix.join("share/mqtk/install-manifest")).unwrap(),
        manifest
    );

    let out = run_uninstall(&sb, &prefix);
    assert_code(&out, 0);
    assert_eq!(entries(&prefix), Vec::<String>::new());
    // The prefix did not exist before, so its directories go too.
    assert!(!prefix.exists(), "{prefix:?} left behind");
    // Uninstalling again is fine.
    assert_code(&run_uninstall(&sb, &prefix), 0);
}

#[test]
fn uninstall_keeps_what_it_did_not_install() {
    let sb = Sandbox::new();
    let prefix = sb.file("prefix");
    let man1 = prefix.join("share/man/man1");
    std::fs::create_dir_all(&man1).unwrap();
    std::fs::write(man1.join("other.1"), "not ours").unwrap();
    assert_code(&run_install(&sb, &prefix, &["--mosquitto-names"]), 0);
    // A symlink someone pointed elsewhere after the install is not ours any more.
    let sub = prefix.join("bin/mosquitto_sub");
    std::fs::remove_file(&sub).unwrap();
    std::os::unix::fs::symlink("/bin/true", &sub).unwrap();

    let out = run_uninstall(&sb, &prefix);
    assert_code(&out, 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mosquitto_sub"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        entries(&prefix),
        vec![
            "bin/mosquitto_sub".to_string(),
            "share/man/man1/other.1".to_string()
        ]
    );
    assert_eq!(std::fs::read_link(&sub).unwrap(), Path::new("/bin/true"));
}

#[test]
fn a_real_mosquitto_pub_is_never_replaced() {
    let sb = Sandbox::new();
    let prefix = sb.file("prefix");
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::fs::write(prefix.join("bin/mosquitto_pub"), "#!/bin/sh\necho real\n").unwrap();
    let out = run_install(&sb, &prefix, &["--mosquitto-names"]);
    assert_code(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mosquitto_pub exists and is not a symlink to mqtk"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        std::fs::read_to_string(prefix.join("bin/mosquitto_pub")).unwrap(),
        "#!/bin/sh\necho real\n"
    );
    // Refused before anything was installed.
    assert_eq!(entries(&prefix), vec!["bin/mosquitto_pub".to_string()]);
    // Without the names, the install goes ahead and leaves the file alone.
    assert_code(&run_install(&sb, &prefix, &[]), 0);
    assert!(prefix.join("bin/mqtk").is_file());
    assert_code(&run_uninstall(&sb, &prefix), 0);
    assert_eq!(entries(&prefix), vec!["bin/mosquitto_pub".to_string()]);
}

#[test]
fn failures_say_what_failed() {
    let sb = Sandbox::new();
    let prefix = sb.file("prefix");
    let mut cmd = sb.command("bash");
    cmd.arg(install_sh())
        .arg("--prefix")
        .arg(&prefix)
        .arg("--binary")
        .arg(sb.file("no-such-mqtk"));
    let out = run_with_timeout(&mut cmd, Duration::from_secs(30));
    assert_code(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such-mqtk is not an executable file"),
        "{}",
        describe(&out)
    );
    assert!(!prefix.exists());

    // A step that fails midway is named by the ERR trap: here the prefix is a file.
    std::fs::write(&prefix, "a file").unwrap();
    let out = run_install(&sb, &prefix, &[]);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("install.sh: error while creating"),
        "{}",
        describe(&out)
    );

    let mut cmd = sb.command("bash");
    cmd.arg(install_sh()).arg("--frobnicate");
    let out = run_with_timeout(&mut cmd, Duration::from_secs(30));
    assert_code(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option '--frobnicate'"));
}

/// The mosquitto names install.sh creates are exactly those argv[0] dispatch knows.
#[test]
fn the_script_and_the_binary_agree_on_the_mosquitto_names() {
    let script = std::fs::read_to_string(install_sh()).unwrap();
    let line = script
        .lines()
        .find(|l| l.starts_with("mosquitto_names=("))
        .expect("mosquitto_names=( line");
    let names: Vec<&str> = line
        .trim_start_matches("mosquitto_names=(")
        .trim_end_matches(')')
        .split_whitespace()
        .collect();
    let known: Vec<&str> = mqtk::cli::MULTICALL.iter().map(|(t, _)| *t).collect();
    assert_eq!(names, known);
    // Each name's subcommand is either in the CLI now or still to come (sub, rr).
    let root = mqtk::cli::Cli::command();
    for (_, sub) in mqtk::cli::MULTICALL {
        let exists = root.get_subcommands().any(|s| s.get_name() == *sub);
        assert!(exists || matches!(*sub, "sub" | "rr"), "{sub}");
    }
}

/// A stand-in for cargo: `install` copies the built binary and writes cargo's
/// metadata files as cargo does; `uninstall` undoes that. Every call is logged.
const FAKE_CARGO: &str = r#"#!/usr/bin/env bash
set -euo pipefail
echo "$*" >> "$FAKE_CARGO_LOG"
root=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[$i]}" = --root ] && root="${args[$((i + 1))]}"
done
case "$1" in
    install)
        mkdir -p "$root/bin"
        cp "$FAKE_CARGO_BIN" "$root/bin/mqtk"
        [ -f "$root/.crates.toml" ] || echo '[v1]' > "$root/.crates.toml"
        echo '"mqtk 0.1.0 (path+file:///src)" = ["mqtk"]' >> "$root/.crates.toml"
        echo '{"installs":{"mqtk 0.1.0 (path+file:///src)":{}}}' > "$root/.crates2.json"
        ;;
    uninstall)
        rm "$root/bin/mqtk"
        sed -i '/mqtk 0.1.0/d' "$root/.crates.toml"
        echo '{"installs":{}}' > "$root/.crates2.json"
        ;;
esac
"#;

#[test]
fn the_cargo_path_installs_with_cargo_and_uninstalls_with_cargo() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let fake = sb.file("fakebin");
    std::fs::create_dir(&fake).unwrap();
    std::fs::write(fake.join("cargo"), FAKE_CARGO).unwrap();
    std::fs::set_permissions(fake.join("cargo"), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The toolchain check asks rustc (a rustup proxy would look for its toolchains
    // under the sandbox's HOME).
    std::fs::write(
        fake.join("rustc"),
        "#!/bin/sh\necho 'rustc 1.95.0 (fake)'\n",
    )
    .unwrap();
    std::fs::set_permissions(fake.join("rustc"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(std::iter::once(fake.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let log = sb.file("cargo.log");
    let script = |prefix: &Path, args: &[&str]| {
        let mut cmd = sb.command("bash");
        cmd.arg(install_sh())
            .arg("--prefix")
            .arg(prefix)
            .args(args)
            .env("PATH", &path)
            .env("FAKE_CARGO_LOG", &log)
            .env("FAKE_CARGO_BIN", mqtk_bin());
        run_with_timeout(&mut cmd, Duration::from_secs(60))
    };

    // A fresh prefix: cargo's metadata goes with the uninstall, and so does the prefix.
    let prefix = sb.file("fresh");
    assert_code(&script(&prefix, &[]), 0);
    let repo = env!("CARGO_MANIFEST_DIR");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!(
            "install --locked --path {repo} --root {} --force\n",
            prefix.display()
        )
    );
    assert!(prefix.join("share/man/man1/mqtk.1").is_file());
    assert_code(&script(&prefix, &["--uninstall"]), 0);
    assert!(std::fs::read_to_string(&log).unwrap().ends_with(&format!(
        "uninstall --quiet --root {} mqtk\n",
        prefix.display()
    )));
    assert!(!prefix.exists(), "left: {:?}", entries(&prefix));

    // A prefix where cargo had installed something else keeps cargo's records of it.
    let prefix = sb.file("shared");
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::fs::write(prefix.join("bin/other"), "x").unwrap();
    std::fs::write(
        prefix.join(".crates.toml"),
        "[v1]\n\"other 1.0.0 (registry+https://example)\" = [\"other\"]\n",
    )
    .unwrap();
    std::fs::write(
        prefix.join(".crates2.json"),
        "{\"installs\":{\"other\":{}}}",
    )
    .unwrap();
    assert_code(&script(&prefix, &[]), 0);
    assert_code(&script(&prefix, &["--uninstall"]), 0);
    assert_eq!(
        entries(&prefix),
        vec![
            ".crates.toml".to_string(),
            ".crates2.json".to_string(),
            "bin/other".to_string()
        ]
    );
    assert!(
        std::fs::read_to_string(prefix.join(".crates.toml"))
            .unwrap()
            .contains("other 1.0.0")
    );
}

/// Without --binary, install.sh checks the toolchain before changing anything: a
/// missing cargo/rustc or a rustc older than Cargo.toml's rust-version (Debian 12's
/// packaged Rust is 1.63) is refused with the exact fix: rustup's installer, or
/// `rustup update stable` where rustup is there.
#[test]
fn an_old_or_missing_toolchain_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let need = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("Cargo.toml declares rust-version");
    let sb = Sandbox::new();
    let fake = sb.file("fakebin");
    std::fs::create_dir(&fake).unwrap();
    let tool = |name: &str, out: &str| {
        let p = fake.join(name);
        std::fs::write(&p, format!("#!/bin/sh\necho '{out}'\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let script = |path: &str| {
        let prefix = sb.file("prefix");
        let mut cmd = sb.command("bash");
        cmd.arg(install_sh())
            .arg("--prefix")
            .arg(&prefix)
            .env("PATH", path);
        let out = run_with_timeout(&mut cmd, Duration::from_secs(30));
        assert_code(&out, 1);
        assert!(!prefix.exists(), "it changed something: {}", describe(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let rustup_sh = "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh";
    // Nothing on PATH but the system's tools.
    let err = script("/usr/bin:/bin");
    assert!(err.contains("cargo and rustc are not on PATH"), "{err}");
    assert!(
        err.contains(rustup_sh) && err.contains(&format!("Rust {need} or newer")),
        "{err}"
    );
    // Debian 12's packaged toolchain.
    tool("cargo", "cargo 0.66.0");
    tool("rustc", "rustc 1.63.0");
    let path = format!("{}:/usr/bin:/bin", fake.display());
    let err = script(&path);
    assert!(
        err.contains(&format!(
            "mqtk needs Rust {need} or newer; {}/rustc is 1.63.0",
            fake.display()
        )),
        "{err}"
    );
    assert!(err.contains(rustup_sh), "{err}");
    // rustup is there: it only needs an update.
    tool("rustup", "rustup 1.28.0");
    let err = script(&path);
    assert!(
        err.contains("Update it:\n    rustup update stable\n"),
        "{err}"
    );
}
