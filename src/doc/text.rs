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
    pub usage: Option<String>,
    /// Whether the page gets the OUTPUT FORMAT section (the `-F` language).
    pub format: bool,
    /// Whether the page gets the options-file FILES section (pub, sub, rr).
    pub options_file: Option<&'static str>,
    /// EXAMPLES, in the markup above.
    pub examples: &'static str,
    /// The PAYLOAD FORMATS section (`--decode`, `--encode`), for sub, rr and pub.
    pub payloads: Option<&'static str>,
}

pub fn extra(name: &str) -> Extra {
    match name {
        "" => Extra {
            description: ROOT_DESCRIPTION,
            usage: None,
            format: false,
            options_file: None,
            examples: ROOT_EXAMPLES,
            payloads: None,
        },
        "pub" => Extra {
            description: PUB_DESCRIPTION,
            usage: None,
            format: false,
            options_file: Some("mosquitto_pub"),
            examples: PUB_EXAMPLES,
            payloads: Some(PAYLOADS),
        },
        "sub" => Extra {
            description: SUB_DESCRIPTION,
            usage: None,
            format: true,
            options_file: Some("mosquitto_sub"),
            examples: SUB_EXAMPLES,
            payloads: Some(PAYLOADS),
        },
        "rr" => Extra {
            description: RR_DESCRIPTION,
            usage: None,
            format: true,
            options_file: Some("mosquitto_rr"),
            examples: RR_EXAMPLES,
            payloads: Some(PAYLOADS),
        },
        "passwd" => Extra {
            description: PASSWD_DESCRIPTION,
            usage: Some(crate::cli::passwd::usage("mqtk passwd")),
            format: false,
            options_file: None,
            examples: PASSWD_EXAMPLES,
            payloads: None,
        },
        "broker" => Extra {
            description: BROKER_DESCRIPTION,
            usage: None,
            format: false,
            options_file: None,
            examples: BROKER_EXAMPLES,
            payloads: None,
        },
        "check" => Extra {
            description: CHECK_DESCRIPTION,
            usage: None,
            format: false,
            options_file: None,
            examples: CHECK_EXAMPLES,
            payloads: None,
        },
        "record" => Extra {
            description: RECORD_DESCRIPTION,
            usage: None,
            format: false,
            options_file: None,
            examples: RECORD_EXAMPLES,
            payloads: Some(PAYLOADS),
        },
        "replay" => Extra {
            description: REPLAY_DESCRIPTION,
            usage: None,
            format: false,
            options_file: None,
            examples: REPLAY_EXAMPLES,
            payloads: None,
        },
        "bench" => Extra {
            description: BENCH_DESCRIPTION,
            usage: None,
            format: false,
            options_file: None,
            examples: BENCH_EXAMPLES,
            payloads: None,
        },
        _ => Extra {
            description: "",
            usage: None,
            format: false,
            options_file: None,
            examples: "",
            payloads: None,
        },
    }
}

const ROOT_DESCRIPTION: &str = "\
mqtk is an MQTT toolkit in one binary: drop-in replacements for Eclipse Mosquitto's \
command-line clients (the same flags, output bytes and exit codes), a load generator, \
a broker checker, and a small embedded MQTT 3.1/3.1.1/5.0 broker.

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

  mqtk pub -t a/b -m hi -D publish message-expiry-interval 30 -D publish user-property source cron

Send a Sparkplug B NDATA from JSON (timestamp and seq filled in):

  mqtk pub -t spBv1.0/plant/NDATA/edge1 --encode sparkplug -m '{\"metrics\":[{\"alias\":3,\"dataType\":\"Float\",\"value\":21.5}]}'";

const SUB_DESCRIPTION: &str = "\
Subscribes to one or more topic filters and prints each message received, until \
interrupted, -C messages have arrived, or -W seconds have passed. Flags, output bytes \
and exit statuses are mosquitto_sub's (2.1).

One difference on purpose: with --remove-retained, when -C or --retained-only says to \
stop (--retained-only at the first message that is not retained, such as the broker \
echoing one of the deletions), mqtk sub waits until its deletions are acknowledged, \
disconnects and exits 0. mosquitto_sub stops handling messages then, but does not \
disconnect: it runs on until -W (exit status 27) or a signal.";

const SUB_EXAMPLES: &str = "\
Print every message under home/, with its topic:

  mqtk sub -t 'home/#' -v

One JSON object per message, for jq:

  mqtk sub -t 'sensors/#' -F %j | jq -c '{topic, payload}'

Wait at most 10 seconds for one message (exit status 27 on timeout):

  mqtk sub -t jobs/done -C 1 -W 10

Delete every retained message under home/ (exit status 0 once they are deleted, or 27 \
after 2 seconds when there were none):

  mqtk sub -t 'home/#' --remove-retained --retained-only -W 2

Read a Sparkplug B plant as JSON, one line per message:

  mqtk sub -t 'spBv1.0/#' -v --decode sparkplug

Protobuf with your own schema:

  mqtk sub -t 'fleet/+/state' --decode proto:fleet.proto:fleet.v1.State --proto-path ./protos";

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
are errors naming the file and line. As mosquitto, it refuses topic names and filters \
of more than 201 levels (200 '/').";

const BROKER_EXAMPLES: &str = "\
A broker on port 1884, logging every event:

  mqtk broker -p 1884 -v

A broker that requires a password and applies an ACL:

  mqtk passwd -c -b passwd alice 's3cret'
  printf 'user alice\\ntopic readwrite home/#\\n' > acl
  printf 'listener 1883\\nallow_anonymous false\\npassword_file passwd\\nacl_file acl\\n' > mqtk.conf
  mqtk broker -c mqtk.conf";

const CHECK_DESCRIPTION: &str = "\
Runs a series of probes against a broker and reports what it supports and where its \
limits are: which MQTT versions connect and what the MQTT 5 CONNACK announces; whether \
QoS 0, 1 and 2, retained messages, + and # wildcards, shared subscriptions, No Local, \
Retain As Published, topic aliases, subscription identifiers, wills, persistent \
sessions, $SYS and message expiry work, measured by publishing and receiving; and the \
longest topic, the most topic levels, the longest client id, the largest payload and the \
keepalive the broker grants, found by bisection with a bounded number of attempts. Where \
an MQTT 5 broker announces a feature or a limit, the report shows the announced value \
beside the measured one and flags a disagreement. PROBES below lists them all; --only \
and --skip choose, --list prints the list.

The behaviour and limit probes speak the newest MQTT version the broker accepts, or the \
one -V gives. Every wait for the broker is bounded by --timeout, and every probe by a \
budget of such waits: a probe that runs out is reported as timed out and the others go \
on. Where the answer is that nothing arrives (no $SYS, no will), the probe waits out \
--timeout once; elsewhere it publishes a marker after the messages under test and \
decides when the marker arrives.

The probes are polite. Every topic they publish to is under mqtk-check/TAG/, with TAG \
random for each run, and client ids start with mqtk-check-TAG- (or with -I's prefix). \
The retained messages and the sessions a probe creates are removed after it, also when \
it timed out or the run was interrupted (MQTT 5 sessions are created with a 60-second \
expiry, so they end by themselves should that fail). New connections are at least 20 ms \
apart, messages go one at a time, payloads stay within --max-payload and topics within \
1,024 levels.

On standard output comes a table: a mark (✓ supported, ✗ unsupported, – not \
applicable, ? timed out, ! could not run), the probe, the value measured (≥ when a \
search reached its ceiling), the value announced, the time in milliseconds and the \
reason code or message that decided, then the MQTT 5 CONNACK properties and a summary. \
--json FILE writes the report as JSON as well, and --json - prints it instead of the \
table. The JSON object holds mqtk (the version), broker, protocol (the version of the \
probes), prefix, client_id_prefix, connack (the CONNACK properties by name), probes, \
created (the retained topics and session client ids the run may have created, noted \
before the packet that would create them, each checked and removed afterwards), \
left_behind (those it could not remove) and ok. Each probe has \
name, status (supported, unsupported, not-applicable, timeout or error), value and \
announced when there is one, ceiling (true when a search stopped at its upper bound: \
the limit is at least value), disagreement, packet_size (max-payload), reason, ms, and \
codes (the reason codes of the broker's packets, in order, ×N for repeats).

check exits with 0 when every probe that ran reached its verdict (a feature the broker \
lacks is a result, not a failure) and nothing was left behind, and with 1 when the \
broker could not be reached or refused the connection, a probe timed out or could not \
run, something could not be removed, or the flags are wrong. It uses no other status \
of the table below.";

const CHECK_EXAMPLES: &str = "\
Check the broker on localhost:

  mqtk check

Check a TLS broker with a password, and list what it lacks with jq:

  mqtk check -h broker.example -p 8883 --cafile ca.crt -u alice -P s3cret --json - |
      jq -r '.probes[] | select(.status != \"supported\") | \"\\(.name): \\(.reason)\"'

Only the limits, with a payload ceiling of 16 MiB:

  mqtk check --only max-topic-length,max-client-id-length,max-payload --max-payload 16777216

Everything on MQTT 3.1.1, without waiting for $SYS topics:

  mqtk check -V 311 --skip sys-topics";

const RECORD_DESCRIPTION: &str = "\
Subscribes as mqtk sub does (the same connection, TLS and authentication flags, -t, \
-T, -q, -C, -W, -R, and persistent sessions with -c and -i) and writes every message \
it receives to a record: a file of JSON lines that keeps the receive time, the topic, \
the QoS, the retain flag, the payload (text as a string, anything else in base64) and \
every MQTT v5 property. mqtk record speaks MQTT v5 unless -V says otherwise, so that \
the properties arrive. RECORD FORMAT below describes the file; mqtk replay plays it \
back.

-o FILE writes to FILE (replacing it), -o - to standard output; a FILE ending in .zst \
is compressed with zstd as it is written (with a checksum). The header line is \
written before connecting. On a terminal, a progress line on standard error counts \
the messages and bytes recorded.

Ctrl-C (SIGINT) or SIGTERM ends the recording cleanly: every message received is \
written, the zstd frame is ended, the file is flushed and fsynced, and the exit \
status is 0. -C COUNT ends it the same way after COUNT messages; -W SECONDS too, \
then with \"Timed out\" and exit status 27, as with mqtk sub. A lost connection is \
re-established once a second, subscribing again; with -c the broker keeps the \
messages that arrive meanwhile. A QoS 2 message is recorded when it arrives, once, \
so the record keeps the order the broker sent the messages in.";

const RECORD_EXAMPLES: &str = "\
Record everything under sensors/ until Ctrl-C, compressed:

  mqtk record -h broker.example -t 'sensors/#' -q 2 -o sensors.ndjson.zst

Record an hour of traffic with the retain flags as published, then stop:

  mqtk record -t '#' --retain-as-published -W 3600 -o hour.ndjson || [ $? -eq 27 ]

Look at a record with jq (message lines have a topic, the header has none):

  jq -c 'select(.topic) | {offset_us, topic, payload}' hour.ndjson";

const REPLAY_DESCRIPTION: &str = "\
Publishes the messages of one or more records (as mqtk record writes them, plain or \
zstd-compressed, recognised by content) to a broker, in their order and with their \
original gaps, with the connection flags of mqtk pub. Each message keeps its QoS, \
retain flag, payload and MQTT v5 properties (mqtk replay speaks MQTT v5 unless -V says \
otherwise; subscription identifiers are never sent, as a client must not send them). \
Files, and records concatenated into one file, play one after another without a gap.

Nothing is sent before every line of every file has been read and checked: a line \
that is not a record line is reported with its file and line number, and the replay \
stops with exit status 1 (with --skip-bad, such lines are listed as skipped and the \
others are played). A file that is not a record, or whose format version is newer \
than this mqtk reads, is refused even with --skip-bad. The messages read in that \
pass are kept for sending when they fit in 256 MiB; larger records are read again, \
so memory stays bounded however long the recording.

The messages follow a fixed schedule: each is due at the start plus its offset in the \
recording divided by --speed, and a message sent late does not delay the ones after \
it. --speed max sends as fast as the broker takes them. --from and --to choose a \
window (the schedule starts at its first message), --loop plays it again, \
--topic-map and --topic-prefix rewrite topics, --qos and --no-retain override the \
recorded QoS and retain flag. On a terminal a progress bar shows the replay position. \
The closing line on standard error gives the count, the duration, the schedule and \
the largest lag behind it.

As with mqtk pub, a lost connection is re-established (10 attempts) and what was not \
acknowledged is sent again. The exit status is 0 only when every QoS 1 and 2 message \
was acknowledged; otherwise it is 1, and the count not acknowledged is printed. The \
first Ctrl-C or SIGTERM stops sending and waits up to 5 seconds for the \
acknowledgements of what was sent; a second one ends at once.";

const REPLAY_EXAMPLES: &str = "\
Replay a recording into a staging broker, under its own topics:

  mqtk replay -h staging.example sensors.ndjson.zst --topic-map sensors=staging/sensors

Ten times faster, three times over, all at QoS 1:

  mqtk replay trace.ndjson --speed 10 --loop 3 -q 1

Minutes 5 to 10 of a recording, as fast as the broker takes them:

  mqtk replay trace.ndjson --from 5m --to 10m --speed max

Play what can be read of a damaged recording:

  mqtk replay damaged.ndjson.zst --skip-bad";

/// The RECORD FORMAT section of record and replay.
pub const RECORD_FORMAT: &str = "\
A record is UTF-8 text, one JSON object per line (NDJSON), readable with jq. Its JSON \
Schema is docs/record.schema.json in mqtk's sources. The first line is the header:

  {\"format\":\"mqtk-record\",\"version\":1,\"started\":\"2024-05-01T12:00:00.000000Z\",
   \"broker\":\"mqtt://localhost:1883\",\"protocol\":\"mqttv5\",\"hostname\":\"lab\",
   \"filters\":[\"sensors/#\"],\"filter_out\":[],\"qos\":1,\"mqtk\":\"0.1.0\"}

format, version :: \"mqtk-record\" and the format version, 1. A reader refuses a newer version.
started :: When the recording started: RFC 3339, UTC, microseconds.
broker :: The broker, as a URL without credentials (mqtt://, mqtts://, ws://, wss://, unix:).
protocol, hostname :: The MQTT version spoken, and the recording machine.
filters, filter_out, qos :: What was subscribed to (-t, -T, -q).
mqtk :: The version of mqtk that recorded.

Each further line is a message:

  {\"time\":\"2024-05-01T12:00:01.250000Z\",\"offset_us\":1250000,\"topic\":\"sensors/a\",
   \"qos\":1,\"retain\":false,\"payload\":\"21.5\",\"properties\":{\"content_type\":\"text/plain\",
   \"user_properties\":[[\"unit\",\"C\"]]}}

time :: When it was received (wall clock, RFC 3339, UTC).
offset_us :: Microseconds since the first message, on a monotonic clock: what replay schedules by. It never decreases.
topic, qos, retain :: As received (a topic alias is resolved into the topic).
payload :: The payload, when it is UTF-8 text without NUL.
payload_base64 :: Any other payload, in standard base64. Exactly one of the two is present.
properties :: Present when the message has MQTT v5 properties: payload_format_indicator, message_expiry_interval (as received: what was left of it), content_type, response_topic, correlation_data (or correlation_data_base64 when it is not text), user_properties ([key, value] pairs in order; keys may repeat), subscription_identifiers.
decoded :: With record --decode FORMAT, the payload as that decoder read it, as JSON (see PAYLOAD FORMATS). Absent for an empty payload, a payload that did not decode, and one --decode auto did not recognise. Replay ignores it and sends the payload.

Readers ignore header fields they do not know and refuse message fields they do not \
know. A header line later in a file starts a new section (records can be \
concatenated with cat): its offsets start again, right after the previous message.";

const BENCH_DESCRIPTION: &str = "\
Generates MQTT load against any broker and reports throughput and latency.

Beyond one machine, run bench as shards: N processes (or the pods of a Kubernetes \
Indexed Job, deploy/kubernetes/ in the sources) started with --shard I/N, or --shard \
auto/N to read I from JOB_COMPLETION_INDEX. Each runs the -c, --rate and -L it is given; \
shard I takes its own range of client indices (from -n + I × the shard's clients), so \
client ids, %i in topics and the publisher ids in payloads never collide, and loss and \
latency stay exact across shards. --start-at TIME has every shard connect and subscribe \
first and start publishing at the same instant; the JSON report records the measured \
start as start_unix_ms.

--metrics ADDR:PORT serves the run's counters, gauges and latency histograms on /metrics \
for Prometheus, each series labelled with its shard; at the end of a run the counters \
equal the report's totals, and --metrics-linger keeps them served for a last scrape. \
bench merge adds the shards' reports exactly (histograms merged, not averaged), warns \
when their client ids overlap or their settings differ, and reports how far apart they \
started.";

const BENCH_EXAMPLES: &str = "\
Ten publishers and ten subscribers, QoS 1, 5000 messages per second in all, 10000 \
messages, with the full report as JSON:

  mqtk bench -c 10 -q 1 --rate 5000 -L 10000 --json run.json

Three shards on one machine starting together, their metrics for Prometheus, merged:

  at=$(( $(date +%s) + 5 ))
  for i in 0 1 2; do
      mqtk bench -c 100 -q 1 --rate 1000 --duration 60 --shard $i/3 --start-at $at \\
          --metrics 127.0.0.1:$((9464 + i)) --json shard$i.json --quiet &
  done; wait
  mqtk bench merge shard0.json shard1.json shard2.json";

/// Sections a page adds after OUTPUT FORMAT: (title, prose).
pub fn sections(name: &str) -> &'static [(&'static str, &'static str)] {
    match name {
        "record" | "replay" => &[("RECORD FORMAT", RECORD_FORMAT)],
        _ => &[],
    }
}

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

/// PAYLOAD FORMATS of sub, rr and pub: --decode and --encode (mqtk's own).
pub const PAYLOADS: &str = "\
mqtk's own --decode FORMAT (sub, rr) shows each payload as JSON (record writes it in \
each line's decoded field, beside the payload), and --encode FORMAT (pub, rr) takes \
each message as JSON and sends it encoded. FORMAT is one of:

sparkplug :: Eclipse Sparkplug B (3.0), its schema built in. Metrics print as \
{\"name\",\"alias\",\"timestamp\",\"dataType\",\"value\"} as the specification shows \
them, with isHistorical, isTransient, isNull, metadata and properties when present, and \
the value read by its datatype: Int8 to Int64 signed, UInt8 to UInt64 unsigned, \
DateTime as signed milliseconds, Float and Double as numbers, Boolean, String, Text and \
UUID as strings, Bytes and File as base64, the arrays as JSON arrays, DataSet as \
{\"columns\",\"types\",\"rows\"}, Template as {\"version\",\"templateRef\",\
\"parameters\",\"metrics\"}, property sets as objects of {\"type\",\"value\"}. A metric \
without a datatype (usual in NDATA) prints its value as the protobuf field holds it. \
Messages on spBv1.0/STATE/ are JSON. To encode, give the same JSON; dataType is a name \
or a number, inferred from the value when absent, and the payload's timestamp (now) and \
seq (counting from 0, wrapping after 255) are filled in when absent.
proto:FILE.proto:package.Message :: Any protobuf message, its .proto compiled when the \
command starts (no protoc needed). Imports are looked for next to FILE, then in each \
--proto-path DIR, then among protobuf's well-known types. Printed in protobuf's \
canonical JSON mapping: lowerCamelCase names, enums by name, 64-bit integers as \
strings, bytes as base64, Timestamp, Duration, Any and Struct in their JSON forms; \
encoding takes the same JSON and refuses fields the message lacks.
cbor, msgpack :: CBOR (RFC 8949) and MessagePack: byte strings as base64, map keys that \
are not strings as their JSON text, CBOR tags dropped (their content printed), a \
MessagePack extension as {\"ext\":TYPE,\"data\":BASE64}.
json :: Checked, and printed again minimised (or indented with --pretty), numbers and \
key order exactly as sent.
auto :: For --decode only: per message, sparkplug on spBv1.0/ topics, else JSON if the \
payload is JSON, else CBOR or MessagePack if it is one whole value of either, else the \
payload is shown as received, without a warning.

Numbers: an integer is a JSON number when a double holds it exactly and a string \
otherwise (so 18446744073709551615 prints as \"18446744073709551615\"); NaN and the \
infinities print as \"NaN\", \"Infinity\" and \"-Infinity\".

With --decode, -v prints the topic, a space and the JSON; %p prints the JSON; %j and %J \
put it under \"payload\" as a JSON value (payloadlen stays the received length); \
--pretty indents it as it indents %j. Empty payloads are not decoded. A payload that \
does not decode is printed as it would be without --decode (in %j, as payload_base64 \
when it is not UTF-8), one warning line on stderr names its topic and why, and when \
the command ends a count of such payloads is printed; the exit status does not change. \
record writes such a payload without decoded, and warns and counts the same way. \
--quiet silences the warnings.

--encode: a message that is not valid JSON, or has a field its format lacks, is an \
error naming where (line and column, or the field's path such as metrics[2].value). \
With -m, -f or -s it stops the command before it connects (exit status 1); with -l a \
bad line is reported with its number and skipped, the other lines are published, and \
the exit status is 1 at the end. A .proto that does not compile, or that does not \
define the message, is an error at start-up naming the file, line and column (exit \
status 1).";

/// ENVIRONMENT of the client pages.
pub const ENVIRONMENT: &str = "\
XDG_CONFIG_HOME :: Where the default options file is looked for (see FILES).
HOME :: ~/.config is $HOME/.config when XDG_CONFIG_HOME is unset.
SSLKEYLOGFILE :: Without --tls-keylog, the file to append TLS session secrets to (as \
curl reads it); ignored when the connection does not use TLS.";

/// The paragraph before a client's exit-status list.
pub const EXIT_STATUS_CLIENTS: &str = "\
Zero on success, non-zero on error, as with mosquitto's clients (2.1): a failure before \
the connection is made exits 1; after it, libmosquitto's error number (MOSQ_ERR_*), with \
mosquitto's words on the first line of standard error and mqtk's reason, when it has a \
more specific one, on the second. When the broker refuses the connection at the MQTT \
level, the exit status is the CONNACK code.";

/// The paragraph before the exit-status list of mqtk itself.
pub const EXIT_STATUS_ROOT: &str = "\
Each command's page lists the statuses it exits with; mqtk itself:";

/// The paragraph before the other commands' exit-status lists.
pub const EXIT_STATUS_INTRO: &str = "Zero on success, non-zero on error:";
