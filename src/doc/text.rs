//! The prose of the man pages that clap's definitions cannot hold: per-command
//! descriptions, the `-F` format language, options files, and examples. Plain text
//! with a tiny markup that `super` turns into roff: a paragraph per blank-line-separated
//! block; a block whose lines start with two spaces is shown verbatim; a line
//! `TERM :: text` is a tagged paragraph (`.TP`).

/// What one man page adds to clap's sections. Keyed by subcommand name ("" for the
/// root page); a subcommand without an entry gets the common sections only.
pub struct Extra {
    /// Paragraphs appended to DESCRIPTION.
    pub description: &'static str,
    /// A USAGE section shown verbatim (for commands with their own grammar).
    pub usage: Option<&'static str>,
    /// Whether the page gets the OUTPUT FORMAT section (the `-F` language).
    pub format: bool,
    /// Whether the page gets the options-file FILES section (pub, sub, rr).
    pub options_file: Option<&'static str>,
    /// EXAMPLES, in the markup above.
    pub examples: &'static str,
}

pub fn extra(name: &str) -> Extra {
    match name {
        "" => Extra {
            description: ROOT_DESCRIPTION,
            usage: None,
            format: false,
            options_file: None,
            examples: ROOT_EXAMPLES,
        },
        "pub" => Extra {
            description: PUB_DESCRIPTION,
            usage: None,
            format: false,
            options_file: Some("mosquitto_pub"),
            examples: PUB_EXAMPLES,
        },
        "sub" => Extra {
            description: SUB_DESCRIPTION,
            usage: None,
            format: true,
            options_file: Some("mosquitto_sub"),
            examples: SUB_EXAMPLES,
        },
        "rr" => Extra {
            description: RR_DESCRIPTION,
            usage: None,
            format: true,
            options_file: Some("mosquitto_rr"),
            examples: RR_EXAMPLES,
        },
        "passwd" => Extra {
            description: PASSWD_DESCRIPTION,
            usage: Some(crate::cli::passwd::USAGE),
            format: false,
            options_file: None,
            examples: PASSWD_EXAMPLES,
        },
        "broker" => Extra {
            description: BROKER_DESCRIPTION,
            usage: None,
            format: false,
            options_file: None,
            examples: BROKER_EXAMPLES,
        },
        "bench" => Extra {
            description: BENCH_DESCRIPTION,
            usage: None,
            format: false,
            options_file: None,
            examples: "",
        },
        _ => Extra {
            description: "",
            usage: None,
            format: false,
            options_file: None,
            examples: "",
        },
    }
}

const ROOT_DESCRIPTION: &str = "\
mqtk is an MQTT toolkit in one binary: drop-in replacements for Eclipse Mosquitto's \
command-line clients (the same flags, output bytes and exit codes), a load generator, \
and a small embedded MQTT 3.1/3.1.1/5.0 broker.

Invoked through a symlink named after one of mosquitto's tools, mqtk behaves as that \
tool; install.sh --mosquitto-names creates these symlinks:";

const ROOT_EXAMPLES: &str = "\
Start a broker on localhost port 1883, logging every event:

  mqtk broker -v

Publish a message to it, and check that it was delivered:

  mqtk pub -t demo/hello -m 'hello, world' || echo \"publish failed: $?\"

Behave as mosquitto_pub without installing the symlinks:

  ln -s \"$(command -v mqtk)\" ~/.local/bin/mosquitto_pub";

const PUB_DESCRIPTION: &str = "\
Publishes one message (-m, -f, -n, -s), a message per line of standard input (-l), or \
a message repeated (--repeat), then disconnects. Flags, defaults, messages and exit \
statuses are mosquitto_pub's.";

const PUB_EXAMPLES: &str = "\
Publish a retained temperature reading at QoS 1:

  mqtk pub -h broker.example -t sensors/kitchen/temp -m 21.5 -q 1 -r

Publish from a script, acting on the exit status:

  mqtk pub -t jobs/done -m \"$job\" -q 1 || {
      status=$?
      echo \"not delivered (exit status $status)\" >&2
      exit \"$status\"
  }

Clear a retained message (an empty retained message deletes it):

  mqtk pub -t sensors/kitchen/temp -r -n

Send each line of a log as a message:

  tail -F app.log | mqtk pub -t logs/app -l

Publish over TLS with a client certificate:

  mqtk pub -h broker.example -p 8883 --cafile ca.crt --cert client.crt --key client.key -t a/b -m hi

Publish with MQTT v5 properties:

  mqtk pub -t a/b -m hi -D publish message-expiry-interval 30 -D publish user-property source cron";

const SUB_DESCRIPTION: &str = "\
Subscribes to one or more topic filters and prints each message received, until \
interrupted, -C messages have arrived, or -W seconds have passed. Flags, output bytes \
and exit statuses are mosquitto_sub's.";

const SUB_EXAMPLES: &str = "\
Print every message under home/, with its topic:

  mqtk sub -t 'home/#' -v

One JSON object per message, for jq:

  mqtk sub -t 'sensors/#' -F %j | jq -c '{topic, payload}'

Wait at most 10 seconds for one message (exit status 27 on timeout):

  mqtk sub -t jobs/done -C 1 -W 10

Delete every retained message under home/:

  mqtk sub -t 'home/#' --remove-retained --retained-only -W 2";

const RR_DESCRIPTION: &str = "\
Subscribes to the response topic (-e), sends a request message to the request topic \
(-t), prints the first message that arrives on the response topic and exits, as \
mosquitto_rr does. In MQTT v5, the default, the request carries a Response Topic naming \
the -e topic and no other property of its own; with -V 311 or -V 31 it carries no \
properties, so the responder must know where to answer. With --correlate (mqtk, MQTT v5 \
only) the request also carries random Correlation Data, and only a message that echoes \
it counts as the response; others are ignored.";

const RR_EXAMPLES: &str = "\
Ask a service for the time and print the answer:

  mqtk rr -t service/time -e service/time/response -m now

Ask on a topic that several clients answer on, keeping only the answer to this request:

  mqtk rr -t service/time -e service/time/response -m now --correlate";

const PASSWD_DESCRIPTION: &str = "\
Creates and edits password files in the format mosquitto and mqtk broker read, with \
mosquitto_passwd's grammar: flags come before the password file. Files are replaced \
atomically (temporary file, fsync, rename), keeping their mode and owner.";

const PASSWD_EXAMPLES: &str = "\
Create a file with one user, asking for the password twice without echo:

  mqtk passwd -c /etc/mqtk/passwd alice

Add or change a user from a script:

  mqtk passwd -b /etc/mqtk/passwd bob 's3cret'

Check a password (exit status 0 if it matches):

  mqtk passwd --verify -b /etc/mqtk/passwd bob 's3cret' && echo ok";

const BROKER_DESCRIPTION: &str = "\
Runs a small MQTT 3.1/3.1.1/5.0 broker. Without a configuration file it listens on \
localhost only (127.0.0.1 and ::1), port 1883, with anonymous access, as mosquitto 2 \
does. A configuration file (-c) uses mosquitto.conf's keywords with the same meaning: \
listener, protocol websockets, certfile, keyfile, cafile, require_certificate, \
allow_anonymous, password_file, acl_file, max_keepalive, max_queued_messages, \
max_queued_bytes, max_connections, include_dir, log_dest, log_type and more. Keys that \
change no security and that mqtk does not implement (persistence, sys_interval…) are \
ignored with a warning; unknown keys, and keys whose absence would weaken security, \
are errors naming the file and line.";

const BROKER_EXAMPLES: &str = "\
A broker on port 1884, logging every event:

  mqtk broker -p 1884 -v

A broker that requires a password and applies an ACL:

  mqtk passwd -c -b passwd alice 's3cret'
  printf 'user alice\\ntopic readwrite home/#\\n' > acl
  printf 'listener 1883\\nallow_anonymous false\\npassword_file passwd\\nacl_file acl\\n' > mqtk.conf
  mqtk broker -c mqtk.conf";

const BENCH_DESCRIPTION: &str = "\
Generates MQTT load against any broker and reports throughput and latency.";

/// The FILES section of pub, sub and rr: `{tool}` is the options file's name.
pub const OPTIONS_FILE: &str = "\
$XDG_CONFIG_HOME/{tool} :: The default options file, read before the command line \
(so the command line wins). Its place is ~/.config/{tool} when XDG_CONFIG_HOME is \
unset. A missing default file is skipped.
-o FILE :: Read options from FILE instead; a missing FILE is an error (mosquitto \
ignores it).

An options file holds one option per line: the option, one space, and the rest of the \
line as its value, spaces included. Lines starting with # are comments; blank lines \
are skipped. For example:

  -h broker.example
  -p 8883
  --cafile /etc/ssl/certs/ca-certificates.crt
  -u alice";

/// The `-F` format language of sub and rr (mosquitto_sub 2.1's, as `crate::output`
/// implements it).
pub const FORMAT: &str = "\
Without -F, each message prints as its payload; with -v, as its topic, a space and its \
payload. A newline follows each message unless -N is given.

-F FORMAT prints each message through a template. % starts a message field, @ a time \
field (passed to strftime(3)), and \\ an escape; any other character prints as itself.

%t :: the topic.
%p :: the payload, raw bytes.
%l :: the payload's length in bytes.
%x, %X :: the payload in lower- or upper-case hex. With a precision, bytes are grouped \
(%.4x), and a character before the x picks the group separator (%.4:x).
%q :: the QoS.
%r :: the retain flag, 0 or 1.
%m :: the message id (0 for QoS 0).
%I :: the receive time in ISO-8601 with seconds, e.g. 2016-08-10T09:47:38+0100.
%U :: the receive time as Unix time with nanoseconds, e.g. 1470818943.786368637.
%j :: a JSON object: receive time (tst), topic, qos, retain, payloadlen, mid (for QoS \
1 and 2), v5 properties, and the payload as a string. A payload that is not UTF-8 prints as payload_base64 \
(mosquitto prints invalid JSON).
%J :: as %j, with the payload embedded as JSON. A payload that is not JSON prints as %j \
would print it, and is reported on stderr.
%f, %d :: a 4- or 8-byte payload as a native-endian float or double.
%A, %C, %D, %E, %F, %P, %R, %S :: MQTT v5 properties: topic alias, content type, \
correlation data, message expiry interval, payload format indicator, user properties \
(key:value separated by spaces), response topic, subscription identifier. Empty when \
absent.
%% :: a literal %.
@X :: strftime's %X of the receive time, for any character X (@Y-@m-@d, @H:@M:@S).
@N :: the nanoseconds of the receive time.
@@ :: a literal @.
\\n, \\t, \\r, \\v, \\a, \\e, \\0, \\\\ :: newline, tab, carriage return, vertical tab, \
bell, escape, NUL and backslash.

Between % and the field, as in printf(3): the flag - (left-align) or 0 (zero-pad, for \
numbers and hex), a minimum field width, and .N, a maximum width (for text fields) or \
the hex group size. For example %-20t pads the topic to 20 columns.

--pretty indents %j and %J output.";

/// ENVIRONMENT of the client pages.
pub const ENVIRONMENT: &str = "\
XDG_CONFIG_HOME :: Where the default options file is looked for (see FILES).
HOME :: ~/.config is $HOME/.config when XDG_CONFIG_HOME is unset.
SSLKEYLOGFILE :: Without --tls-keylog, the file to append TLS session secrets to (as \
curl reads it); ignored when the connection does not use TLS.";

/// The paragraphs before the exit-status list.
pub const EXIT_STATUS_INTRO: &str = "\
Zero on success, non-zero on error. When the broker refuses the connection at the MQTT \
level, the exit status is the CONNACK code, as with mosquitto's clients.";
