//! `mqtk passwd` and password files: known answers from Debian's mosquitto_passwd,
//! the real binary against mosquitto_passwd (messages, exit codes), files our
//! command writes loaded by Debian's mosquitto, and a kill test during rewrites.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mqtk::passwd::hash::{Hash, HashKind, HashParams};

use crate::util::{self, Sandbox, assert_code, run_with_timeout};

const T: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/passwd")
        .join(name)
}

/// The (user, password) pairs the fixture files were made with, by Debian's
/// mosquitto_passwd 2.0.11: `mosquitto_passwd -c -b f user pass`, then `-b` for the
/// others (bob with `-I 1000`), and the same with `-H sha512`.
const PBKDF2_USERS: &[(&str, &str)] =
    &[("user", "pass"), ("alice", "Tr0ub4dor&3"), ("bob", "p:w d")];
const SHA512_USERS: &[(&str, &str)] = &[("user", "pass"), ("alice", "Tr0ub4dor&3"), ("ünï", "ü")];
/// mosquitto21-pbkdf2.txt, written by mosquitto 2.1.2's mosquitto_passwd.
const V21_USERS: &[(&str, &str)] = &[("user", "pass"), ("alice", "Tr0ub4dor&3")];

fn entries(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (u, h) = l.split_once(':').unwrap();
            (u.to_string(), h.to_string())
        })
        .collect()
}

/// Decodes a mosquitto salt field (standard base64, padded).
fn salt_of(stored: &str) -> Vec<u8> {
    use base64::Engine as _;
    let fields: Vec<&str> = stored.split('$').collect();
    let salt = if stored.starts_with("$7$") {
        fields[3]
    } else {
        fields[2]
    };
    base64::engine::general_purpose::STANDARD
        .decode(salt)
        .unwrap()
}

#[test]
fn debian_fixtures_verify_and_our_hash_is_byte_exact() {
    for (file, users, kind) in [
        ("debian-pbkdf2.txt", PBKDF2_USERS, HashKind::Sha512Pbkdf2),
        ("debian-sha512.txt", SHA512_USERS, HashKind::Sha512),
        ("mosquitto21-pbkdf2.txt", V21_USERS, HashKind::Sha512Pbkdf2),
    ] {
        let got = entries(&fixture(file));
        assert_eq!(got.len(), users.len(), "{file}");
        for ((user, stored), (want_user, password)) in got.iter().zip(users) {
            assert_eq!(user, want_user);
            let hash = Hash::parse(stored.as_bytes()).unwrap();
            assert!(hash.verify(password.as_bytes()), "{file}: {user}");
            assert!(!hash.verify(b"wrong"), "{file}: {user}");
            let iterations = stored.split('$').nth(2).unwrap().parse().unwrap_or(0);
            let params = HashParams {
                kind,
                iterations,
                salt_len: salt_of(stored).len(),
            };
            let ours = Hash::with_salt(&params, salt_of(stored), password.as_bytes()).unwrap();
            assert_eq!(&ours.encode(), stored, "{file}: {user}");
        }
    }
}

fn mqtk_passwd(sb: &Sandbox, args: &[&str]) -> Output {
    run_with_timeout(sb.mqtk().arg("passwd").args(args), T)
}

/// Runs `cmd` with `input` on a piped stdin.
fn with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(input).unwrap();
    util::wait_with_timeout(child, T, &format!("{cmd:?}"))
}

fn verify_ok(sb: &Sandbox, file: &Path, user: &str, password: &str) -> bool {
    let out = mqtk_passwd(
        sb,
        &["--verify", "-b", file.to_str().unwrap(), user, password],
    );
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!("--verify failed\n{}", util::describe(&out)),
    }
}

#[test]
fn verify_reads_debian_files() {
    let sb = Sandbox::new();
    for (file, users) in [
        ("debian-pbkdf2.txt", PBKDF2_USERS),
        ("debian-sha512.txt", SHA512_USERS),
    ] {
        for (user, password) in users {
            assert!(verify_ok(&sb, &fixture(file), user, password));
            assert!(!verify_ok(&sb, &fixture(file), user, "nope"));
        }
    }
    let out = mqtk_passwd(
        &sb,
        &[
            "--verify",
            "-b",
            fixture("debian-pbkdf2.txt").to_str().unwrap(),
            "ghost",
            "x",
        ],
    );
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: User ghost not found in password file.\n"
    );
}

#[test]
fn create_add_update_delete() {
    let sb = Sandbox::new();
    let f = sb.file("pw");
    let fs = f.to_str().unwrap();
    assert_code(&mqtk_passwd(&sb, &["-c", "-b", fs, "alice", "a1"]), 0);
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
        0o600,
        "new files are 0600"
    );
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_code(&mqtk_passwd(&sb, &["-b", fs, "bob", "b1"]), 0);
    assert_code(
        &mqtk_passwd(&sb, &["-H", "sha512", "-b", fs, "alice", "a2"]),
        0,
    );
    assert!(verify_ok(&sb, &f, "alice", "a2"));
    assert!(!verify_ok(&sb, &f, "alice", "a1"));
    assert!(verify_ok(&sb, &f, "bob", "b1"));
    assert!(
        std::fs::read_to_string(&f)
            .unwrap()
            .starts_with("alice:$6$")
    );
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
        0o640,
        "mode of an existing file is kept"
    );

    let before = std::fs::read(&f).unwrap();
    let out = mqtk_passwd(&sb, &["-D", fs, "carol"]);
    assert_code(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Warning: User carol not found in password file.\n"
    );
    assert_eq!(
        std::fs::read(&f).unwrap(),
        before,
        "unchanged after a failed -D"
    );
    assert_code(&mqtk_passwd(&sb, &["-D", fs, "alice"]), 0);
    assert!(!std::fs::read_to_string(&f).unwrap().contains("alice"));
    let leftovers: Vec<_> = std::fs::read_dir(sb.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".mqtk-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// `mqtk passwd` hashes with mosquitto 2.1's iteration count (read from what 2.1's
/// mosquitto_passwd wrote), keeping the 12-byte salt mosquitto 2.0.11 requires; `-I`
/// still sets the count. Under the mosquitto_passwd name too.
#[test]
fn default_iterations_are_mosquitto_21s() {
    let v21 = entries(&fixture("mosquitto21-pbkdf2.txt"));
    let count_21 = v21[0].1.split('$').nth(2).unwrap().to_string();
    assert_eq!(count_21, "1000");
    let sb = Sandbox::new();
    let link = sb.multicall("mosquitto_passwd");
    for (prog, args) in [
        (
            util::mqtk_bin().into(),
            vec!["passwd", "-c", "-b", "-", "u", "pw"],
        ),
        (link.clone(), vec!["-c", "-b", "-", "u", "pw"]),
        (link.clone(), vec!["-I", "77", "-c", "-b", "-", "u", "pw"]),
    ] {
        let out = run_with_timeout(sb.command(&prog).args(&args), T);
        assert_code(&out, 0);
        let line = String::from_utf8(out.stdout).unwrap();
        let stored = line.trim_end().strip_prefix("u:").unwrap();
        let want = if args.contains(&"-I") {
            "77"
        } else {
            count_21.as_str()
        };
        assert_eq!(stored.split('$').nth(2), Some(want), "{args:?}: {line}");
        assert_eq!(salt_of(stored).len(), 12, "{line}");
        assert!(Hash::parse(stored.as_bytes()).unwrap().verify(b"pw"));
    }
}

#[test]
fn create_to_stdout_writes_no_file() {
    let sb = Sandbox::new();
    let out = mqtk_passwd(&sb, &["-c", "-b", "-", "u", "secret"]);
    assert_code(&out, 0);
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with("u:$7$1000$") && line.ends_with("==\n"),
        "{line}"
    );
    assert!(!sb.file("-").exists());
    let hash = Hash::parse(&line.trim_end().as_bytes()[2..]).unwrap();
    assert!(hash.verify(b"secret"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("secret"));
}

#[test]
fn update_keeps_comments_crlf_and_hashed_lines() {
    let sb = Sandbox::new();
    let f = sb.file("pw");
    let hashed = Hash::create(&HashParams::default(), b"kept")
        .unwrap()
        .encode();
    std::fs::write(
        &f,
        format!("# staff\r\n\r\nann:one:two\r\nben:{hashed}\r\ncid:three\r\n"),
    )
    .unwrap();
    let out = mqtk_passwd(&sb, &["-U", f.to_str().unwrap()]);
    assert_code(&out, 0);
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.starts_with("# staff\r\n\r\nann:$7$1000$"), "{text}");
    assert!(text.contains(&format!("\r\nben:{hashed}\r\n")), "{text}");
    assert_eq!(text.matches("\r\n").count(), 5);
    assert!(verify_ok(&sb, &f, "ann", "one:two"));
    assert!(verify_ok(&sb, &f, "ben", "kept"));
    assert!(verify_ok(&sb, &f, "cid", "three"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 line(s) already hashed"), "{err}");
    assert!(!err.contains("three") && !err.contains("one:two"), "{err}");

    // A line that starts like a hash but is broken stops -U before any change.
    std::fs::write(&f, "a:plain\nb:$7$101$bad$bad\n").unwrap();
    let out = mqtk_passwd(&sb, &["-U", f.to_str().unwrap()]);
    assert_code(&out, 1);
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "a:plain\nb:$7$101$bad$bad\n"
    );
}

#[test]
fn prompts_read_piped_stdin_like_mosquitto() {
    let sb = Sandbox::new();
    let f = sb.file("pw");
    let out = with_stdin(
        sb.mqtk().args(["passwd", "-c", f.to_str().unwrap(), "u"]),
        b"hunter2\nhunter2\n",
    );
    assert_code(&out, 0);
    assert_eq!(out.stdout, b"Password: \nReenter password: \n");
    assert!(verify_ok(&sb, &f, "u", "hunter2"));

    let out = with_stdin(
        sb.mqtk().args(["passwd", f.to_str().unwrap(), "u"]),
        b"aaa\nbbb\n",
    );
    assert_code(&out, 2);
    assert_eq!(out.stderr, b"Error: Passwords do not match.\n");
    assert!(
        verify_ok(&sb, &f, "u", "hunter2"),
        "unchanged after a mismatch"
    );

    let out = with_stdin(
        sb.mqtk()
            .args(["passwd", "--verify", f.to_str().unwrap(), "u"]),
        b"hunter2\n",
    );
    assert_code(&out, 0);
}

/// mosquitto_passwd reports a corrupt line, then drops it and still exits 0 when
/// adding a user (its update path ignores the error). We refuse and change nothing.
#[test]
fn corrupt_file_is_refused_and_left_alone() {
    let sb = Sandbox::new();
    let f = sb.file("pw");
    std::fs::write(&f, "u1:p1\nnocolon\n").unwrap();
    let out = mqtk_passwd(&sb, &["-b", f.to_str().unwrap(), "u", "p"]);
    assert_code(&out, 1);
    assert_eq!(out.stderr, b"Error: Corrupt password file at line 2.\n");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "u1:p1\nnocolon\n");
}

/// A device that never ends (mosquitto_passwd reads /dev/zero forever) is refused at
/// once, with one error and exit 1.
#[test]
fn a_device_is_refused_not_read_forever() {
    let sb = Sandbox::new();
    for args in [
        &["-b", "/dev/zero", "u", "p"][..],
        &["-b", "/dev/full", "u", "p"],
    ] {
        let out = mqtk_passwd(&sb, args);
        assert_code(&out, 1);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "Error: Unable to open password file {}. Not a regular file.\n",
                args[1]
            ),
            "{}",
            util::describe(&out)
        );
    }
}

/// Runs the same arguments (and stdin) through mqtk's `mosquitto_passwd` symlink
/// and Debian's mosquitto_passwd, each in its own sandbox with the same files, and
/// compares exit codes and stderr.
#[test]
fn differential_against_mosquitto_passwd() {
    if !util::have_mosquitto_tool("mosquitto_passwd") {
        return;
    }
    let real = util::which("mosquitto_passwd").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&[], ""),
        (&["-c", "-D", "f", "u"], ""),
        (&["-c", "-U", "f"], ""),
        (&["-D", "-U", "f"], ""),
        (&["-b", "-D", "f", "u"], ""),
        (&["-H"], ""),
        (&["-H", "md5", "f", "u"], ""),
        (&["-I"], ""),
        (&["-I", "0", "f", "u"], ""),
        (&["-I", "x", "f", "u"], ""),
        (&["-c", "f"], ""),
        (&["-c", "-b", "f", "u"], ""),
        (&["-D", "f"], ""),
        (&["-U"], ""),
        (&["-U", "f", "g"], ""),
        (&["-b", "f", "u"], ""),
        (&["f", "-c", "u"], ""),
        (&["-cb", "f", "u", "p"], ""),
        (&["--help"], ""),
        (&["-h"], ""),
        (&["--version"], ""),
        (&["--help", "u"], ""),
        (&["-h", "f", "u"], ""),
        (&["-c", "-b", "f", "a:b", "p"], ""),
        (&["-c", "-b", "f", "a\x01b", "p"], ""),
        (&["-D", "missing", "u"], ""),
        (&["-U", "missing"], ""),
        (&["-b", "missing", "u", "p"], ""),
        (&["-c", "-b", "nodir/f", "u", "p"], ""),
        (&["-c", "f", "u"], ""),
        (&["-c", "f", "u"], "a\nb\n"),
        (&["-c", "f", "u"], "a\n"),
        (&["-c", "f", "u"], "\n\n"),
        (&["-c", "f", "u"], "same\nsame\n"),
        (&["-D", "existing", "nobody"], ""),
        (&["-D", "existing", "alice"], ""),
        (&["-b", "existing", "carol", "pw"], ""),
        (&["-U", "plain"], ""),
    ];
    let long_user = "a".repeat(65536);
    let long_cases = [
        vec!["-c", "-b", "f", long_user.as_str(), "p"],
        vec!["-c", "-b", "f", "u", long_user.as_str()],
    ];
    let all = cases
        .iter()
        .map(|(a, i)| (a.to_vec(), *i))
        .chain(long_cases.iter().map(|a| (a.clone(), "")));
    for (args, input) in all {
        let run = |program: &Path| {
            let sb = Sandbox::new();
            std::fs::write(sb.file("existing"), "alice:$6$HWYP9E+5t1eDHuF1$eKYweFnGU+Eq+zxNi0N108nDmHLYDgM7RMjrFG+EJph+CMrKS9iDFmrVS60R6T1x7pmO/VuHifc8BfALwHK19g==\n").unwrap();
            std::fs::write(sb.file("plain"), "u1:p1\nu2:p2\n").unwrap();
            let out = with_stdin(sb.command(program).args(&args), input.as_bytes());
            let file_ok = match args.as_slice() {
                ["-D", "existing", "alice"] => !std::fs::read_to_string(sb.file("existing"))
                    .unwrap()
                    .contains("alice"),
                _ => true,
            };
            (out, file_ok)
        };
        let link = Sandbox::new();
        let ours_path = link.file("mosquitto_passwd");
        std::os::unix::fs::symlink(util::mqtk_bin(), &ours_path).unwrap();
        let (ours, ours_file) = run(&ours_path);
        let (theirs, theirs_file) = run(&real);
        let show = || {
            format!(
                "args {args:?} input {input:?}\n--- ours ---\n{}\n--- mosquitto_passwd ---\n{}",
                util::describe(&ours),
                util::describe(&theirs)
            )
        };
        assert_eq!(ours.status.code(), theirs.status.code(), "{}", show());
        assert_eq!(ours.stderr, theirs.stderr, "{}", show());
        assert_eq!(ours_file, theirs_file, "{}", show());
        // Usage goes to stdout in both; ours adds lines for mqtk's extensions, so
        // only its first line is compared. Prompts are compared byte for byte.
        let first = |o: &Output| o.stdout.split(|&b| b == b'\n').next().map(<[u8]>::to_vec);
        if theirs.stdout.starts_with(b"mosquitto_passwd is") {
            assert_eq!(first(&ours), first(&theirs), "{}", show());
        } else {
            assert_eq!(ours.stdout, theirs.stdout, "{}", show());
        }
    }
}

/// Publishes once with mosquitto_pub; its exit status is the CONNACK refusal code.
fn pub_status(port: u16, user: Option<(&str, &str)>) -> i32 {
    let sb = Sandbox::new();
    let mut cmd = sb.command(util::which("mosquitto_pub").unwrap());
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-t",
        "t",
        "-m",
        "x",
    ]);
    if let Some((u, p)) = user {
        cmd.args(["-u", u, "-P", p]);
    }
    run_with_timeout(&mut cmd, T).status.code().unwrap_or(-1)
}

/// Files written by `mqtk passwd` (each -H) admit exactly the right users into
/// Debian's mosquitto 2.0.11. argon2id is a mosquitto 2.1 format: 2.0.11 drops the
/// entry, so even the right password is refused there (mqtk broker reads it).
#[test]
fn mosquitto_accepts_files_we_write() {
    if !util::have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let sb = Sandbox::new();
    let f = sb.file("pw");
    let fs = f.to_str().unwrap();
    assert_code(&mqtk_passwd(&sb, &["-c", "-b", fs, "dflt", "p-default"]), 0);
    assert_code(
        &mqtk_passwd(&sb, &["-H", "sha512", "-b", fs, "sha", "p-sha512"]),
        0,
    );
    assert_code(
        &mqtk_passwd(
            &sb,
            &[
                "-H",
                "sha512-pbkdf2",
                "-I",
                "2000",
                "-b",
                fs,
                "pbk",
                "p-2000",
            ],
        ),
        0,
    );
    assert_code(
        &mqtk_passwd(&sb, &["-H", "argon2id", "-b", fs, "arg", "p-argon"]),
        0,
    );
    // mosquitto reads the file as its own user; make it readable whoever that is.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let Some(m) = util::Mosquitto::start(&format!("password_file {fs}\nallow_anonymous false"))
    else {
        return;
    };
    for (user, password) in [
        ("dflt", "p-default"),
        ("sha", "p-sha512"),
        ("pbk", "p-2000"),
    ] {
        assert_eq!(pub_status(m.port, Some((user, password))), 0, "{user}");
        assert_eq!(pub_status(m.port, Some((user, "wrong"))), 5, "{user}");
    }
    assert_eq!(
        pub_status(m.port, Some(("arg", "p-argon"))),
        5,
        "2.0.11 cannot read argon2id"
    );
    assert_eq!(pub_status(m.port, Some(("nobody", "p-default"))), 5);
    assert_eq!(pub_status(m.port, None), 5, "anonymous refused");
}

/// SIGKILL at random moments during `-U` of a large file: every time, the file is
/// either exactly the old one or a complete new one.
#[test]
fn killed_during_update_leaves_old_or_new_file() {
    let sb = Sandbox::new();
    let f = sb.file("big");
    let users = 20000;
    let old: String = (0..users)
        .map(|i| format!("user{i}:password{i}\n"))
        .collect();
    let args = ["passwd", "-I", "1", "-U", f.to_str().unwrap()];

    // Calibrate: how long does one full run take here?
    std::fs::write(&f, &old).unwrap();
    let start = Instant::now();
    assert_code(&run_with_timeout(sb.mqtk().args(args), T), 0);
    let full = start.elapsed();

    let mut saw = (0, 0);
    for round in 0..20u32 {
        std::fs::write(&f, &old).unwrap();
        let mut child = sb
            .mqtk()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Round 0 dies before reading anything; the others are spread over the
        // last part of the run, where the new file is written and renamed. This sleep
        // is the test itself (a kill at a chosen moment), not a wait for anything.
        if round > 0 {
            std::thread::sleep(full.mul_f64(0.7 + 0.6 * f64::from(round) / 19.0));
        }
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read_to_string(&f).unwrap();
        if now == old {
            saw.0 += 1;
            continue;
        }
        let lines: Vec<&str> = now.lines().collect();
        assert_eq!(lines.len(), users, "round {round}: truncated file");
        assert!(now.ends_with('\n'), "round {round}: truncated file");
        for (i, line) in lines.iter().enumerate() {
            let (user, hash) = line.split_once(':').unwrap();
            assert_eq!(user, format!("user{i}"), "round {round}");
            assert!(
                Hash::parse(hash.as_bytes()).is_ok(),
                "round {round}: line {i}"
            );
        }
        saw.1 += 1;
    }
    eprintln!(
        "kill test: {} old, {} new (one run takes {full:?})",
        saw.0, saw.1
    );
    assert!(
        saw.0 > 0,
        "the kill before any work must leave the old file"
    );
}

/// The ACL used to compare our decisions with mosquitto's.
const ACL: &str = "\
# anonymous
topic read anon/#
topic write anon/in

user alice
topic read a/#
topic write b/#
topic deny a/secret
topic readwrite both
topic c/+/x
user bob
topic deny #
topic read bob/#
user root
topic readwrite #
pattern read p/%u/#
pattern write dev/%c/out
";

const TOPICS: &[&str] = &[
    "a/1",
    "a",
    "a/secret",
    "b/1",
    "both",
    "c/any/x",
    "p/alice/z",
    "p/bob/z",
    "p/carol/1",
    "dev/dev1/out",
    "dev/dev1-w/out",
    "dev/cc-w/out",
    "dev/dev2/out",
    "anon/1",
    "anon/in",
    "bob/1",
    "zzz",
];

/// (username, password, client id); None = anonymous.
const CLIENTS: &[(Option<(&str, &str)>, &str)] = &[
    (Some(("alice", "pa")), "dev1"),
    (Some(("bob", "pb")), "cb"),
    (Some(("carol", "pc")), "cc"),
    (None, "canon"),
];

/// Writes the password and ACL files for the ACL scenario (readable by mosquitto
/// whichever user it runs as).
fn acl_files(files: &Sandbox) -> (PathBuf, PathBuf) {
    let pw = files.file("pw");
    let acl = files.file("acl");
    let pws = pw.to_str().unwrap();
    assert_code(&mqtk_passwd(files, &["-c", "-b", pws, "root", "pr"]), 0);
    for (user, password) in CLIENTS.iter().filter_map(|(u, _)| *u) {
        assert_code(&mqtk_passwd(files, &["-b", pws, user, password]), 0);
    }
    std::fs::write(&acl, ACL).unwrap();
    for f in [&pw, &acl] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    (pw, acl)
}

/// For each reader (CLIENTS, then root, who reads them all): a topic it may read, on
/// which root's marks tell the test that the reader has subscribed (a retained
/// "ready", sent the moment it subscribes) and that it has had everything published
/// before ("done", published last: a subscriber gets messages in the order they came).
/// bob reads nothing, so has no mark: `subscribed` tells when he is in.
const MARKS: &[Option<&str>] = &[
    Some("a/mark"),
    None,
    Some("p/carol/mark"),
    Some("anon/mark"),
];

/// Waits until every reader has printed `word` on each of its marks.
fn wait_marks(readers: &[util::Spawned], word: &str) {
    for (i, reader) in readers.iter().enumerate() {
        let marks: Vec<&str> = match MARKS.get(i) {
            Some(mark) => mark.iter().copied().collect(),
            None => MARKS.iter().flatten().copied().collect(),
        };
        for mark in marks {
            reader.wait_stdout(&format!("{mark} {word}\n"), 1);
        }
    }
}

/// Against the broker on `port`: every client subscribes to `#`, root publishes every
/// topic, then every client publishes every topic. `subscribed` waits until the broker
/// has answered every reader's SUBSCRIBE. Returns the `topic payload` lines each client
/// received, and (last) those root received (without the marks).
fn acl_scenario(port: u16, subscribed: impl Fn()) -> Vec<Vec<String>> {
    let port = port.to_string();
    let client = |cmd: &mut Command, who: &(Option<(&str, &str)>, &str)| {
        cmd.args(["-h", "127.0.0.1", "-p", &port, "-i", who.1]);
        if let Some((u, p)) = who.0 {
            cmd.args(["-u", u, "-P", p]);
        }
    };
    let sub_bin = util::which("mosquitto_sub").unwrap();
    let pub_bin = util::which("mosquitto_pub").unwrap();
    let sb = Sandbox::new();
    let root = (Some(("root", "pr")), "croot");
    let publish = |who: &(Option<(&str, &str)>, &str), topic: &str, args: &[&str]| {
        let mut cmd = sb.command(&pub_bin);
        client(&mut cmd, who);
        cmd.args(["-q", "1", "-t", topic]).args(args);
        assert_code(&run_with_timeout(&mut cmd, T), 0);
    };
    let root_w = (Some(("root", "pr")), "croot-w");
    for mark in MARKS.iter().flatten() {
        publish(&root_w, mark, &["-m", "ready", "-r"]);
    }
    let readers: Vec<_> = CLIENTS
        .iter()
        .chain(std::iter::once(&root))
        .map(|who| {
            let mut cmd = sb.command(&sub_bin);
            client(&mut cmd, who);
            util::Spawned::spawn(cmd.args(["-q", "1", "-v", "-t", "#", "-W", "20"]))
        })
        .collect();
    wait_marks(&readers, "ready");
    subscribed();
    for topic in TOPICS {
        publish(&root_w, topic, &["-m", "root"]);
    }
    for who in CLIENTS {
        for topic in TOPICS {
            publish(&(who.0, &format!("{}-w", who.1)), topic, &["-m", who.1]);
        }
    }
    for mark in MARKS.iter().flatten() {
        publish(&root_w, mark, &["-m", "done"]);
    }
    // bob's deliveries, if any were wrongly let through, are routed with everyone's,
    // so all but the very last would be in by now.
    wait_marks(&readers, "done");
    let is_mark = |line: &str| {
        MARKS
            .iter()
            .flatten()
            .any(|m| line.starts_with(&format!("{m} ")))
    };
    readers
        .into_iter()
        .map(|r| {
            let out = r.kill();
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !is_mark(l))
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// `broker::auth`'s decisions on ACL, which the scenario's deliveries are checked against.
fn acl_auth() -> mqtk::broker::auth::Auth {
    use mqtk::broker::auth::{Acl, Auth};
    Auth {
        passwords: None,
        acl: Some(Acl::parse(ACL, "acl").unwrap()),
        allow_anonymous: true,
    }
}

/// Checks one broker's deliveries in the ACL scenario against `broker::auth`'s
/// decisions.
fn check_acl_scenario(got: &[Vec<String>], broker: &str) {
    let auth = acl_auth();
    for (i, who) in CLIENTS.iter().enumerate() {
        let user = who.0.map(|(u, _)| u);
        let expected: Vec<String> = TOPICS
            .iter()
            .filter(|t| auth.may_read(who.1, user, t))
            .map(|t| format!("{t} root"))
            .collect();
        let delivered: Vec<String> = got[i]
            .iter()
            .filter(|l| l.ends_with(" root"))
            .cloned()
            .collect();
        assert_eq!(delivered, expected, "{broker}: reads of {user:?}");
        assert!(
            user == Some("bob") || !expected.is_empty(),
            "{user:?} reads nothing"
        );
    }
    let root_saw = &got[CLIENTS.len()];
    for who in CLIENTS {
        let user = who.0.map(|(u, _)| u);
        let id = format!("{}-w", who.1);
        let expected: Vec<String> = TOPICS
            .iter()
            .filter(|t| auth.may_publish(&id, user, t))
            .map(|t| format!("{t} {}", who.1))
            .collect();
        let delivered: Vec<String> = root_saw
            .iter()
            .filter(|l| l.ends_with(&format!(" {}", who.1)))
            .cloned()
            .collect();
        assert_eq!(delivered, expected, "{broker}: writes of {user:?}");
        assert!(
            user == Some("bob") || !expected.is_empty(),
            "{user:?} writes nothing"
        );
    }
}

/// The same acl_file in Debian's mosquitto and in mqtk broker: every client
/// publishes to every topic and subscribes to `#`; both brokers deliver exactly what
/// `may_publish` and `may_read` allow, so they deliver the same.
#[test]
fn acl_deliveries_match_mosquitto() {
    if !util::have_mosquitto_tool("mosquitto_sub") || !util::have_mosquitto_tool("mosquitto_pub") {
        return;
    }
    let files = Sandbox::new();
    let (pw, acl) = acl_files(&files);
    let Some(m) = util::Mosquitto::start(&format!(
        "password_file {}\nacl_file {}",
        pw.display(),
        acl.display()
    )) else {
        return;
    };
    // mosquitto answers every SUBSCRIBE, bob's too (it filters each delivery).
    let theirs = acl_scenario(m.port, || m.wait_subacks(CLIENTS.len() + 1));
    drop(m);
    check_acl_scenario(&theirs, "mosquitto");

    let mut config = util::TestBroker::config();
    config.password_file = Some(pw);
    config.acl_file = Some(acl);
    config.allow_anonymous = true;
    let b = util::TestBroker::start_with(config);
    // Ours refuses a subscription through which nothing could ever be read (bob's), so
    // holds one for each of the others.
    let auth = acl_auth();
    let granted = CLIENTS
        .iter()
        .filter(|(user, id)| auth.may_subscribe(id, user.map(|(u, _)| u), "#"))
        .count();
    let ours = acl_scenario(b.port(), || b.wait_subscriptions(granted + 1));
    check_acl_scenario(&ours, "mqtk broker");
    assert_eq!(ours, theirs);
}

/// Hand-built MQTT packets, so that the broker's bytes are checked against the spec,
/// not against our own codec.
mod raw {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    pub fn pkt(header: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![header];
        let mut n = body.len();
        loop {
            let mut b = (n % 128) as u8;
            n /= 128;
            if n > 0 {
                b |= 0x80;
            }
            v.push(b);
            if n == 0 {
                break;
            }
        }
        v.extend_from_slice(body);
        v
    }

    /// A length-prefixed string or binary field.
    pub fn s(x: &[u8]) -> Vec<u8> {
        let mut v = (x.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(x);
        v
    }

    /// CONNECT (3.1.1 §3.1 / 5.0 §3.1): clean start, keep alive 60, optional user
    /// name and password (flags 0x80, 0x40).
    pub fn connect(v5: bool, id: &str, user: Option<&str>, password: Option<&[u8]>) -> Vec<u8> {
        let mut flags = 0x02;
        if user.is_some() {
            flags |= 0x80;
        }
        if password.is_some() {
            flags |= 0x40;
        }
        let mut body = s(b"MQTT");
        body.extend_from_slice(&[if v5 { 5 } else { 4 }, flags, 0, 60]);
        if v5 {
            body.push(0); // no properties
        }
        body.extend(s(id.as_bytes()));
        if let Some(u) = user {
            body.extend(s(u.as_bytes()));
        }
        if let Some(p) = password {
            body.extend(s(p));
        }
        pkt(0x10, &body)
    }

    /// SUBSCRIBE packet id 1, one filter at `qos`.
    pub fn subscribe(v5: bool, filter: &str, qos: u8) -> Vec<u8> {
        let mut body = vec![0, 1];
        if v5 {
            body.push(0);
        }
        body.extend(s(filter.as_bytes()));
        body.push(qos);
        pkt(0x82, &body)
    }

    /// PUBLISH QoS 1, packet id 7.
    pub fn publish_qos1(v5: bool, topic: &str, payload: &[u8]) -> Vec<u8> {
        let mut body = s(topic.as_bytes());
        body.extend_from_slice(&[0, 7]);
        if v5 {
            body.push(0);
        }
        body.extend_from_slice(payload);
        pkt(0x32, &body)
    }

    pub struct Conn(TcpStream);

    impl Conn {
        pub fn open(port: u16) -> Conn {
            let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            Conn(s)
        }

        pub fn send(&mut self, b: &[u8]) {
            self.0.write_all(b).expect("write");
        }

        /// One whole packet.
        pub fn recv(&mut self) -> Vec<u8> {
            let mut head = [0u8; 1];
            self.0.read_exact(&mut head).expect("packet header");
            let mut out = head.to_vec();
            let (mut len, mut shift) = (0usize, 0);
            loop {
                let mut b = [0u8; 1];
                self.0.read_exact(&mut b).expect("remaining length");
                out.push(b[0]);
                len |= usize::from(b[0] & 0x7f) << shift;
                shift += 7;
                if b[0] & 0x80 == 0 {
                    break;
                }
            }
            let mut body = vec![0u8; len];
            self.0.read_exact(&mut body).expect("packet body");
            out.extend(body);
            out
        }
    }

    /// Connects and returns the CONNACK's code: 3.x return code or 5.0 reason code.
    pub fn login(port: u16, v5: bool, user: Option<&str>, password: Option<&[u8]>) -> u8 {
        let mut c = Conn::open(port);
        c.send(&connect(v5, "", user, password));
        let ack = c.recv();
        assert_eq!(ack[0], 0x20, "not a CONNACK: {ack:?}");
        ack[3]
    }
}

/// Files written by Debian's mosquitto_passwd (the fixtures, and a fresh one when
/// the tool is installed), 2.1-style 64-byte salts and argon2id all work in mqtk
/// broker; refusals are CONNACK 5 (3.1.1) and 0x87 (5.0), as mosquitto sends.
#[test]
fn password_files_work_in_mqtk_broker() {
    let sb = Sandbox::new();
    let f = sb.file("pw");
    let mut text = std::fs::read_to_string(fixture("debian-pbkdf2.txt")).unwrap();
    text += &std::fs::read_to_string(fixture("debian-sha512.txt")).unwrap();
    let mut users: Vec<(&str, &str)> = PBKDF2_USERS.iter().chain(SHA512_USERS).copied().collect();
    for (name, kind) in [
        ("v21pbkdf2", HashKind::Sha512Pbkdf2),
        ("v21sha512", HashKind::Sha512),
    ] {
        let params = HashParams {
            kind,
            iterations: 1000,
            salt_len: 64,
        };
        let h = Hash::create(&params, b"pw-2.1").unwrap();
        text += &format!("{name}:{}\n", h.encode());
        users.push((name, "pw-2.1"));
    }
    std::fs::write(&f, text).unwrap();
    assert_code(
        &mqtk_passwd(
            &sb,
            &[
                "-H",
                "argon2id",
                "-b",
                f.to_str().unwrap(),
                "arg",
                "pw-argon",
            ],
        ),
        0,
    );
    users.push(("arg", "pw-argon"));
    if util::have_mosquitto_tool("mosquitto_passwd") {
        let out = run_with_timeout(
            sb.command(util::which("mosquitto_passwd").unwrap()).args([
                "-b",
                f.to_str().unwrap(),
                "deb",
                "fresh pw",
            ]),
            T,
        );
        assert_code(&out, 0);
        users.push(("deb", "fresh pw"));
    }

    let mut config = util::TestBroker::config();
    config.password_file = Some(f.clone());
    config.allow_anonymous = false;
    let b = util::TestBroker::start_with(config);
    for (user, password) in &users {
        for v5 in [false, true] {
            assert_eq!(
                raw::login(b.port(), v5, Some(user), Some(password.as_bytes())),
                0,
                "{user} v5={v5}"
            );
        }
        assert_eq!(
            raw::login(b.port(), false, Some(user), Some(b"wrong")),
            5,
            "{user}"
        );
        assert_eq!(
            raw::login(b.port(), true, Some(user), Some(b"wrong")),
            0x87,
            "{user}"
        );
        assert_eq!(
            raw::login(b.port(), false, Some(user), None),
            5,
            "{user} without password"
        );
    }
    assert_eq!(raw::login(b.port(), false, Some("ghost"), Some(b"pass")), 5);
    assert_eq!(raw::login(b.port(), false, None, None), 5, "anonymous");
    assert_eq!(raw::login(b.port(), true, None, None), 0x87, "anonymous");
}

/// Refused subscriptions and publishes: SUBACK 0x80 (every version) for a
/// filter that can never be read; a refused publish is acked but dropped in 3.1.1
/// and answered 0x87 in 5.0.
#[test]
fn acl_refusals_on_the_wire() {
    let sb = Sandbox::new();
    let acl = sb.file("acl");
    std::fs::write(&acl, ACL).unwrap();
    let mut config = util::TestBroker::config();
    config.acl_file = Some(acl);
    config.allow_anonymous = true;
    let b = util::TestBroker::start_with(config);

    let mut watcher = raw::Conn::open(b.port());
    watcher.send(&raw::connect(false, "w", Some("root"), None));
    assert_eq!(watcher.recv(), [0x20, 0x02, 0x00, 0x00]);
    watcher.send(&raw::subscribe(false, "#", 1));
    assert_eq!(watcher.recv(), [0x90, 0x03, 0x00, 0x01, 0x01]);

    for v5 in [false, true] {
        let mut c = raw::Conn::open(b.port());
        c.send(&raw::connect(v5, "alice-c", Some("alice"), None));
        assert_eq!(c.recv()[3], 0);
        let refused = 0x80;
        let props: &[u8] = if v5 { &[0x00] } else { &[] };
        for (filter, code) in [
            ("zzz/#", refused),
            ("b/#", refused),
            ("a/secret", refused),
            ("a/#", 1),
            ("#", 1),
        ] {
            c.send(&raw::subscribe(v5, filter, 1));
            let want: Vec<u8> = [
                &[0x90, 3 + props.len() as u8, 0x00, 0x01][..],
                props,
                &[code],
            ]
            .concat();
            assert_eq!(c.recv(), want, "{filter} v5={v5}");
        }
        // alice may not write a/1: 3.1.1 gets a plain PUBACK, 5.0 gets 0x87.
        c.send(&raw::publish_qos1(v5, "a/1", b"x"));
        let want: Vec<u8> = if v5 {
            vec![0x40, 0x03, 0x00, 0x07, 0x87]
        } else {
            vec![0x40, 0x02, 0x00, 0x07]
        };
        assert_eq!(c.recv(), want, "v5={v5}");
        // ...and may write b/1, which root sees; a/1 never reached it.
        c.send(&raw::publish_qos1(v5, "b/1", b"ok"));
        // Success: 5.0 may leave out reason 0 without properties (§3.4.2.1).
        assert_eq!(c.recv(), [0x40, 0x02, 0x00, 0x07]);
        let got = watcher.recv();
        assert_eq!(got[0] & 0xf0, 0x30, "{got:?}");
        assert!(got.windows(3).any(|w| w == b"b/1"), "{got:?}");
        let pid = &got[2 + 2 + 3..2 + 2 + 3 + 2];
        watcher.send(&[0x40, 0x02, pid[0], pid[1]]);
    }
}

/// Like mosquitto, the broker does not start with a password or ACL file it cannot
/// use.
#[test]
fn broker_refuses_to_start_with_unusable_files() {
    let sb = Sandbox::new();
    let bad_acl = sb.file("acl");
    std::fs::write(&bad_acl, "topic sometimes a\n").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (pw, acl) in [(Some(sb.file("missing")), None), (None, Some(bad_acl))] {
        let mut config = util::TestBroker::config();
        config.password_file = pw;
        config.acl_file = acl;
        let r = rt.block_on(mqtk::broker::run(
            Vec::new(),
            std::sync::Arc::new(config),
            async {},
        ));
        let err = r.expect_err("started anyway").to_string();
        assert!(
            err.contains("Unable to open pwfile") || err.contains("Invalid topic access type"),
            "{err}"
        );
    }
}

/// The usage names the tool as it was run: `mqtk passwd` under mqtk's name (its man
/// page too), `mosquitto_passwd` through the symlink, whose first line is mosquitto's.
#[test]
fn usage_names_the_tool_as_it_was_run() {
    let sb = Sandbox::new();
    for (cmd, name) in [
        (
            sb.mqtk().args(["passwd", "--help"]).output().unwrap(),
            "mqtk passwd",
        ),
        (
            sb.command(sb.multicall("mosquitto_passwd"))
                .arg("--help")
                .output()
                .unwrap(),
            "mosquitto_passwd",
        ),
    ] {
        util::assert_code(&cmd, 1);
        let text = String::from_utf8_lossy(&cmd.stdout);
        assert!(text.contains(&format!("\nUsage: {name} [-H ")), "{text}");
        assert!(
            text.contains(&format!("\n       {name} -U passwordfile\n")),
            "{text}"
        );
        let other = if name == "mqtk passwd" {
            "mosquitto_passwd ["
        } else {
            "mqtk passwd ["
        };
        assert!(!text.contains(other), "{text}");
    }
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man/mqtk-passwd.1"),
    )
    .unwrap();
    assert!(page.contains("Usage: mqtk passwd"), "{page}");
    assert!(!page.contains("Usage: mosquitto_passwd"), "{page}");
}
