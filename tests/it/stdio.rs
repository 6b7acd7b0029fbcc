//! A stdout or stderr that cannot be written (`2>/dev/full`, a pipe whose reader is
//! gone as in `2>&1 | true`) never makes mqtk panic (exit 101): each command exits
//! with the status it would have had with a working stream.

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{Sandbox, free_port, wait_with_timeout};

const T: Duration = Duration::from_secs(10);

/// A stream that refuses writes: `/dev/full` (ENOSPC) or a pipe without a reader (EPIPE).
#[derive(Clone, Copy, Debug)]
enum Broken {
    Full,
    ClosedPipe,
}

impl Broken {
    fn stdio(self) -> Stdio {
        match self {
            Broken::Full => Stdio::from(File::options().write(true).open("/dev/full").unwrap()),
            Broken::ClosedPipe => {
                let (reader, writer) = std::io::pipe().unwrap();
                drop(reader);
                Stdio::from(writer)
            }
        }
    }
}

/// Runs `cmd` with its stdout (`stdout == true`) or its stderr broken; the other
/// stream is thrown away. Returns the exit code.
fn status_with_broken(mut cmd: Command, stdout: bool, broken: Broken) -> Option<i32> {
    let what = format!(
        "{cmd:?} with a broken {}",
        if stdout { "stdout" } else { "stderr" }
    );
    if stdout {
        cmd.stdout(broken.stdio()).stderr(Stdio::null());
    } else {
        cmd.stdout(Stdio::null()).stderr(broken.stdio());
    }
    let child = cmd.spawn().unwrap();
    wait_with_timeout(child, T, &what).status.code()
}

#[test]
fn a_broken_stdout_or_stderr_keeps_the_exit_status() {
    let sb = Sandbox::new();
    let closed = free_port().to_string();
    std::fs::write(sb.file("bad.conf"), "no_such_keyword 1\n").unwrap();
    // (argv, the stream that carries the words, the status with a working stream)
    let cases: &[(&[&str], bool, i32)] = &[
        // A usage error (the case).
        (&["pub", "-p", &closed, "-t", "a/#", "-m", "x"], false, 1),
        // Refused by clap's parser, in mosquitto's words.
        (&["pub", "-q", "3", "-t", "a", "-m", "x"], false, 1),
        // A failed connection.
        (&["pub", "-p", &closed, "-t", "a", "-m", "x"], false, 1),
        (&["pub", "-t", "a"], false, 1),
        (&["rr", "-t", "a"], false, 1),
        (&["sub", "-p", &closed, "-t", "a"], false, 1),
        (&["pub", "--version"], true, 0),
        (&["--version"], true, 0),
        (&["--help"], true, 0),
        (&["passwd"], true, 1),
        (&["passwd", "-b", "no-such-dir/pw", "user", "pw"], false, 1),
        (&["bench", "--version"], true, 0),
        (&["bench", "pub", "-q", "3"], false, 1),
        (&["bench", "merge", "missing.json"], false, 1),
        (&["broker", "-c", "bad.conf"], false, 1),
    ];
    for (args, stdout, want) in cases {
        for broken in [Broken::Full, Broken::ClosedPipe] {
            let mut cmd = sb.mqtk();
            cmd.args(*args);
            let got = status_with_broken(cmd, *stdout, broken);
            assert_eq!(
                got,
                Some(*want),
                "mqtk {args:?} with a broken {} ({broken:?})",
                if *stdout { "stdout" } else { "stderr" }
            );
        }
    }
    // Under a mosquitto name, "no message" prints the usage on stdout.
    let mut cmd = sb.command(sb.multicall("mosquitto_pub"));
    cmd.args(["-t", "a"]);
    assert_eq!(status_with_broken(cmd, true, Broken::Full), Some(1));
}
