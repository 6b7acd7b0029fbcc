//! Resolution of client flags into one `Settings`: options files
//! (`$XDG_CONFIG_HOME/mosquitto_pub`, else `~/.config/mosquitto_pub`, or `-o FILE`),
//! `-L` URLs, `--proxy` URLs, `-D` properties, defaults, and every check that
//! involves several flags — all in mosquitto's words (client/client_shared.c), since
//! scripts compare them.
//!
//! Precedence, where mosquitto goes by argv order: options-file lines come before
//! argv (so argv wins); an explicit `-h`/`-p`/`-u`/`-P`/`-t` wins over the parts of a
//! `-L` URL; the last of `-V`, `-D` and `-x` sets the protocol (`crate::cli::words`
//! drops a `-V` that a later `-D`/`-x` overrides, so a `-V` left here wins).

pub mod payload;
pub mod props;
pub mod record;
pub mod replay;
pub mod rr;
pub mod sub;

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

use crate::cli::connect::{ConnectArgs, parse_publish_topic, usage_suffix};
use crate::cli::r#pub::PubArgs;
use crate::codec::{Properties, PropertyId, PropertyValue, ProtocolVersion, QoS, Will};
use crate::exit::Error;
use crate::transport::{Endpoint, KeyLogPath, Proxy, ProxyKind, TlsSettings, TlsVersion};

/// Which client tool: decides the default options file and which `-D` commands apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Pub,
    Sub,
    Rr,
}

impl Tool {
    fn from_subcommand(name: &str) -> Option<Tool> {
        match name {
            "pub" => Some(Tool::Pub),
            "sub" => Some(Tool::Sub),
            "rr" => Some(Tool::Rr),
            _ => None,
        }
    }

    /// The options file's name, as mosquitto names it.
    fn options_file_name(self) -> &'static str {
        match self {
            Tool::Pub => "mosquitto_pub",
            Tool::Sub => "mosquitto_sub",
            Tool::Rr => "mosquitto_rr",
        }
    }
}

/// A usage error in mosquitto's words, followed by "Use 'TOOL --help' to see usage.".
pub fn usage(text: impl Into<String>, tool: &str) -> Error {
    Error::Verbatim {
        text: format!("{}{}", text.into(), usage_suffix(tool)),
        code: crate::exit::FAILURE,
    }
}

/// An error in mosquitto's words with no usage hint after it.
pub fn plain(text: impl Into<String>) -> Error {
    Error::Verbatim {
        text: text.into(),
        code: crate::exit::FAILURE,
    }
}

// ---------------------------------------------------------------------------------
// Options files

/// Inserts the options file's arguments right after the subcommand (`mqtk pub …`), so
/// that argv's own options, parsed later, override them. Commands other than pub, sub
/// and rr pass through. `-o FILE` replaces the default file; a default file that does
/// not exist is skipped, as in mosquitto, but a missing `-o FILE` is an error (mosquitto
/// ignores it silently, which hides typos).
///
/// `invoked_as` is the tool name from the original argv[0] (`mosquitto_pub` through a
/// symlink), for the usage lines of errors; `args` has already been rewritten to
/// `mqtk pub …`, so it no longer knows.
pub fn with_options_file(
    args: Vec<OsString>,
    invoked_as: Option<&str>,
) -> Result<Vec<OsString>, Error> {
    let Some(tool) = args
        .get(1)
        .and_then(|s| s.to_str())
        .and_then(Tool::from_subcommand)
    else {
        // bench shares the client flags, -D included.
        return Ok(mosquitto_words(&args, &[]));
    };
    let tool_name = invoked_as
        .map(str::to_string)
        .or_else(|| crate::cli::connect::client_tool_name(&args))
        .unwrap_or_else(|| tool.options_file_name().to_string());
    let mut explicit: Option<PathBuf> = None;
    let mut i = 2;
    while i < args.len() {
        if args[i] == "-o" {
            if explicit.is_some() {
                return Err(usage("Error: Duplicate -o argument given.\n\n", &tool_name));
            }
            let Some(file) = args.get(i + 1) else {
                return Err(usage(
                    "Error: -o argument given but no options file specified.\n\n",
                    &tool_name,
                ));
            };
            explicit = Some(PathBuf::from(file));
            i += 1;
        }
        i += 1;
    }
    let text = match &explicit {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                return Err(usage(
                    format!(
                        "Error: Unable to open options file \"{}\": {}.\n",
                        path.display(),
                        crate::exit::strerror(&e)
                    ),
                    &tool_name,
                ));
            }
        },
        None => match default_options_file(tool) {
            Some(path) => std::fs::read(path).unwrap_or_default(),
            None => Vec::new(),
        },
    };
    let file = options_file_args(&text, &args[1], &tool_name)?;
    Ok(mosquitto_words(&args, &file))
}

/// `mqtk SUB… ARGS` with the options file's words (`file`) before ARGS, read as
/// mosquitto reads them (`crate::cli::words`) by the commands that take the client
/// flags: `-D` groups kept whole, the protocol by argv order. Other commands' words
/// pass as they are.
pub(crate) fn mosquitto_words(args: &[OsString], file: &[OsString]) -> Vec<OsString> {
    use clap::CommandFactory;
    let mut root = crate::cli::Cli::command();
    root.build();
    // The (sub)command the leading words name: `mqtk pub`, `mqtk bench pub`.
    let mut cmd = &root;
    let mut i = 1;
    while let Some(sub) = args
        .get(i)
        .and_then(|w| w.to_str())
        .and_then(|w| cmd.find_subcommand(w))
    {
        cmd = sub;
        i += 1;
    }
    let i = i.min(args.len());
    let mut out = args[..i].to_vec();
    if cmd.get_arguments().any(|a| a.get_id() == "property") {
        out.extend(crate::cli::words::mosquitto_order(cmd, file, &args[i..]));
    } else {
        out.extend_from_slice(file);
        out.extend_from_slice(&args[i..]);
    }
    out
}

/// `$XDG_CONFIG_HOME/mosquitto_pub`, else `$HOME/.config/mosquitto_pub`, joined as
/// mosquitto joins them (`"%s/mosquitto_pub"`): a variable that is set but empty means
/// the root directory, not the current one.
fn default_options_file(tool: Tool) -> Option<PathBuf> {
    let mut path = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(x) => x,
        None => {
            let mut home = std::env::var_os("HOME")?;
            home.push("/.config");
            home
        }
    };
    path.push("/");
    path.push(tool.options_file_name());
    Some(PathBuf::from(path))
}

/// An options file's arguments. mosquitto reads each line as an argument list of its
/// own, so a line's option never takes the next line as its value: a lone option that
/// needs a value (or `-D`, which needs more than one line can hold) is mosquitto's
/// missing-value error, and a value starting with `-` is attached to its option so the
/// parser cannot read it as a flag. `-o` lines are skipped, as mosquitto skips them.
fn options_file_args(
    text: &[u8],
    subcommand: &OsStr,
    tool_name: &str,
) -> Result<Vec<OsString>, Error> {
    use clap::CommandFactory;
    let lines = options_file_lines(text);
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let mut cli = crate::cli::Cli::command();
    // Built, so that every argument knows how many values it takes.
    cli.build();
    let cmd = subcommand.to_str().and_then(|s| cli.find_subcommand(s));
    let mut out = Vec::new();
    for (opt, rest) in lines {
        if opt == "-o" {
            continue;
        }
        let arg = opt.to_str().and_then(|o| {
            cmd?.get_arguments().find(|a| {
                a.get_short().is_some_and(|c| o == format!("-{c}"))
                    || a.get_long().is_some_and(|l| o == format!("--{l}"))
            })
        });
        let takes = arg.and_then(|a| a.get_num_args()).map(|n| n.min_values());
        match (takes, rest) {
            (Some(n), rest) if n > 1 || (n == 1 && rest.is_none()) => {
                let o = opt.to_string_lossy();
                let text = crate::cli::connect::missing_value_text(&o)
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        format!("Error: {o} argument given but no value specified.\n\n")
                    });
                return Err(usage(text, tool_name));
            }
            (Some(1), Some(v)) if v.as_encoded_bytes().starts_with(b"-") => {
                // `-e=-x` and `--topic=-x`: clap drops the `=` either way.
                let mut joined = opt;
                joined.push("=");
                joined.push(v);
                out.push(joined);
            }
            (_, rest) => {
                out.push(opt);
                out.extend(rest);
            }
        }
    }
    Ok(out)
}

/// Splits an options file as mosquitto does: a line starting with `#` is a comment;
/// otherwise its first space-separated word is an option and the rest of the line,
/// spaces included, its value (`-m hello world`). Blank lines are skipped.
fn options_file_lines(text: &[u8]) -> Vec<(OsString, Option<OsString>)> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        if line.first() == Some(&b'#') {
            continue;
        }
        let mut line = line;
        while let [rest @ .., b'\r' | b'\n'] = line {
            line = rest;
        }
        // strtok(line, " "): leading spaces are skipped, the first word ends at a space.
        let start = line.iter().position(|&b| b != b' ').unwrap_or(line.len());
        let line = &line[start..];
        if line.is_empty() {
            continue;
        }
        match memchr::memchr(b' ', line) {
            Some(sp) => {
                let rest = &line[sp + 1..];
                out.push((os(&line[..sp]), (!rest.is_empty()).then(|| os(rest))));
            }
            None => out.push((os(line), None)),
        }
    }
    out
}

fn os(b: &[u8]) -> OsString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(b).to_os_string()
    }
    #[cfg(not(unix))]
    {
        OsString::from(String::from_utf8_lossy(b).into_owned())
    }
}

/// An argument's raw bytes (on Unix a `-F` format need not be UTF-8); the inverse of
/// [`os`].
fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        s.as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        s.to_string_lossy().into_owned().into_bytes()
    }
}

// ---------------------------------------------------------------------------------
// Client settings (shared by pub, sub and rr)

/// Everything needed to connect and keep a session, resolved.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// `mosquitto_pub` or `mqtk pub`: the name error messages use.
    pub tool: String,
    /// Where and how to connect; `crate::transport::open` takes it.
    pub endpoint: Endpoint,
    pub version: ProtocolVersion,
    /// Empty: the broker assigns one (3.1.1 §3.1.3.1, 5.0 §3.1.3.1).
    pub client_id: String,
    /// `!-c`.
    pub clean_start: bool,
    pub keep_alive: u16,
    pub username: Option<String>,
    /// Never printed, not even with `-d`.
    pub password: Option<Bytes>,
    pub will: Option<Will>,
    /// `-D connect …` plus session expiry from `-x`/`-c`.
    pub connect_properties: Properties,
    pub publish_properties: Properties,
    pub subscribe_properties: Properties,
    pub unsubscribe_properties: Properties,
    pub disconnect_properties: Properties,
    /// `-M`; `None`: the broker's receive maximum (v5), else 20.
    pub max_inflight: Option<u16>,
    pub debug: bool,
    pub quiet: bool,
    /// The topic part of `-L`, unchecked for sub (a filter) and checked for pub/rr.
    pub url_topic: Option<String>,
}

/// Parts of a `-L` URL.
#[derive(Debug, Default, PartialEq, Eq)]
struct Url {
    pub tls: bool,
    pub websocket: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    pub topic: String,
}

/// Parses `mqtt(s)://[username[:password]@]host[:port]/topic` and `ws(s)://…` as
/// mosquitto does (the scheme is case-insensitive; the topic is everything after the
/// first `/`). `[v6]:port` hosts are accepted too.
fn parse_url(url: &str, tool: &str) -> Result<Url, Error> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let (rest, tls, websocket) = if lower.starts_with("mqtt://") {
        (&url[7..], false, false)
    } else if lower.starts_with("mqtts://") {
        (&url[8..], true, false)
    } else if lower.starts_with("ws://") {
        (&url[5..], false, true)
    } else if lower.starts_with("wss://") {
        (&url[6..], true, true)
    } else {
        return Err(usage("Error: Unsupported URL scheme.\n\n", tool));
    };
    let Some(slash) = rest.find('/') else {
        return Err(usage(
            "Error: Invalid URL for -L argument specified - topic missing.\n",
            tool,
        ));
    };
    let (authority, topic) = (&rest[..slash], &rest[slash + 1..]);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (Some(user.to_string()), Some(pass.to_string())),
            None => (Some(u.to_string()), None),
        },
        None => (None, None),
    };
    let default_port = if tls { 8883 } else { 1883 };
    let (host, port) = split_host_port(hostport, default_port)
        .map_err(|p| usage(format!("Error: Invalid port given: {p}\n"), tool))?;
    Ok(Url {
        tls,
        websocket,
        username,
        password,
        host,
        port,
        topic: topic.to_string(),
    })
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`. Err carries the bad port text.
fn split_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => (s, None),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => n as u16,
            _ => return Err(p.to_string()),
        },
    };
    Ok((host.to_string(), port))
}

/// `--proxy socks5h://[user[:pass]@]host[:port]` (default port 1080) or
/// `http://[user[:pass]@]host[:port]` (HTTP CONNECT, default port 8080).
fn parse_proxy(url: &str, tool: &str) -> Result<Proxy, Error> {
    let (kind, rest, default_port) = if let Some(r) = url.strip_prefix("socks5h://") {
        (ProxyKind::Socks5h, r, 1080)
    } else if let Some(r) = url.strip_prefix("http://") {
        (ProxyKind::HttpConnect, r, 8080)
    } else {
        return Err(usage(
            format!("Error: Unsupported proxy protocol: {url}\n"),
            tool,
        ));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (userinfo, hostport) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (username, password) = match userinfo {
        Some(u) => {
            let (user, pass) = match u.split_once(':') {
                Some((a, b)) => (a, Some(b)),
                None => (u, None),
            };
            let dec =
                |s: &str| percent_decode(s).ok_or_else(|| usage("Error: Invalid proxy.\n", tool));
            (Some(dec(user)?), pass.map(dec).transpose()?)
        }
        None => (None, None),
    };
    let (host, port) = split_host_port(hostport, default_port).map_err(|p| {
        let n = p.parse::<i64>().unwrap_or(0);
        usage(format!("Error: Invalid proxy port {n}\n"), tool)
    })?;
    if host.is_empty() {
        return Err(usage("Error: Invalid proxy.\n", tool));
    }
    Ok(Proxy {
        kind,
        host,
        port,
        username,
        password,
    })
}

/// `%XX` escapes in proxy credentials (mosquitto decodes `%25`, `%3A`, `%40`).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// 18 random alphanumerics, as libmosquitto makes for MQTT 3.1 clients without an id
/// (3.1 requires 1–23 characters: "mosq-" + 18).
fn random_client_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut raw = [0u8; 18];
    // A failed getrandom leaves zeros: still a valid id, only less unique.
    let _ = getrandom::fill(&mut raw);
    let tail: String = raw
        .iter()
        .map(|b| CHARS[usize::from(*b) % CHARS.len()] as char)
        .collect();
    format!("mosq-{tail}")
}

fn not_supported(option: &str, why: &str, tool: &str) -> Error {
    usage(format!("Error: {option} is not supported: {why}.\n"), tool)
}

const RUSTLS: &str = "mqtk's TLS library (rustls) does not implement it";

/// Where the TLS secrets go: `--tls-keylog FILE`, else `$SSLKEYLOGFILE` (as curl
/// reads it; an empty value is unset). Without TLS there is nothing to log: the
/// variable is ignored then, but the flag is an error (mosquitto 2.1 fails too, later
/// and less clearly: its connection fails with "Invalid arguments provided").
fn keylog_path(
    flag: Option<&PathBuf>,
    tls_on: bool,
    tool: &str,
) -> Result<Option<KeyLogPath>, Error> {
    if let Some(path) = flag {
        if !tls_on {
            return Err(usage(
                "Error: --tls-keylog needs a TLS connection (--cafile, --capath, --tls-use-os-certs, port 8883 or an mqtts:// URL).\n",
                tool,
            ));
        }
        return Ok(Some(KeyLogPath {
            path: path.clone(),
            named_by: "--tls-keylog",
        }));
    }
    Ok(std::env::var_os("SSLKEYLOGFILE")
        .filter(|v| tls_on && !v.is_empty())
        .map(|v| KeyLogPath {
            path: PathBuf::from(v),
            named_by: "SSLKEYLOGFILE",
        }))
}

/// Resolves the shared connection flags. `tool_name` is what usage errors call the
/// program (`mosquitto_pub`, `mqtk pub`). The checks run in mosquitto's order, so the
/// first error is the one mosquitto would print.
pub fn resolve_client(
    args: &ConnectArgs,
    tool: Tool,
    tool_name: &str,
) -> Result<ClientSettings, Error> {
    let t = tool_name;
    // Checks mosquitto makes while reading the arguments.
    if args.id.is_some() && args.id_prefix.is_some() {
        return Err(usage(
            "Error: -i and -I argument cannot be used together.\n\n",
            t,
        ));
    }
    let props = props::parse_properties(&args.property, t)?;
    let url = match &args.url {
        Some(u) => Some(parse_url(u, t)?),
        None => None,
    };
    if let (Some(u), Tool::Pub | Tool::Rr) = (&url, tool) {
        parse_publish_topic(&u.topic).map_err(|e| usage(e, t))?;
    }
    let proxy = match &args.proxy {
        Some(p) => Some(parse_proxy(p, t)?),
        None => None,
    };

    // Checks mosquitto makes after reading them all (client_config_load), in its order.
    check_combinations(args, t)?;
    refuse_unimplemented(args, t)?;
    let tls_version = tls_version(args, t)?;
    if args.mptcp {
        return Err(not_supported(
            "--mptcp",
            "Multipath TCP is not implemented in mqtk",
            t,
        ));
    }

    let version = protocol_version(args);
    let clean_start = !args.disable_clean_session;
    let connect_properties = with_session_expiry(args, version, props.connect, t)?;
    let client_id = client_id(args, version)?;
    let (username, password) = credentials(args, url.as_ref(), version)?;
    let will = args.will_topic.as_ref().map(|topic| Will {
        topic: topic.clone(),
        payload: Bytes::from(args.will_payload.clone().unwrap_or_default()),
        qos: QoS::from_u8(args.will_qos.unwrap_or(0)).unwrap_or_default(),
        retain: args.will_retain,
        properties: props.will,
    });
    let endpoint = endpoint(args, url.as_ref(), proxy, tls_version, t)?;

    Ok(ClientSettings {
        tool: tool_name.to_string(),
        endpoint,
        version,
        client_id,
        clean_start,
        keep_alive: args.keepalive.unwrap_or(60),
        username,
        password: password.map(Bytes::from),
        will,
        connect_properties,
        publish_properties: props.publish,
        subscribe_properties: props.subscribe,
        unsubscribe_properties: props.unsubscribe,
        disconnect_properties: props.disconnect,
        max_inflight: args.max_inflight,
        debug: args.debug,
        quiet: args.quiet,
        url_topic: url.map(|u| u.topic),
    })
}

/// The flags that need or exclude one another (will, client certificate, key form,
/// TLS engine, PSK), in the order mosquitto's `client_config_load` checks them.
fn check_combinations(args: &ConnectArgs, t: &str) -> Result<(), Error> {
    if args.will_payload.is_some() && args.will_topic.is_none() {
        return Err(usage(
            "Error: Will payload given, but no will topic given.\n",
            t,
        ));
    }
    if args.will_retain && args.will_topic.is_none() {
        return Err(usage(
            "Error: Will retain given, but no will topic given.\n",
            t,
        ));
    }
    if args.cert.is_some() != args.key.is_some() {
        return Err(usage(
            "Error: Both certfile and keyfile must be provided if one of them is set.\n",
            t,
        ));
    }
    if args.keyform.is_some() && args.key.is_none() {
        return Err(usage(
            "Error: If keyform is set, keyfile must be also specified.\n",
            t,
        ));
    }
    if args.tls_engine_kpass_sha1.is_some() && (args.keyform.is_none() || args.tls_engine.is_none())
    {
        return Err(usage(
            "Error: when using tls-engine-kpass-sha1, both tls-engine and keyform must also be provided.\n",
            t,
        ));
    }
    if (args.cafile.is_some() || args.capath.is_some()) && args.psk.is_some() {
        return Err(usage(
            "Error: Only one of --psk or --cafile/--capath may be used at once.\n",
            t,
        ));
    }
    if args.psk.is_some() && args.psk_identity.is_none() {
        return Err(usage("Error: --psk-identity required if --psk used.\n", t));
    }
    Ok(())
}

/// What rustls cannot do is refused by name, never ignored: PSK, OpenSSL engines,
/// `--keyform engine` (and a key form that is neither `pem` nor `engine`).
fn refuse_unimplemented(args: &ConnectArgs, t: &str) -> Result<(), Error> {
    if args.psk.is_some() {
        return Err(not_supported("--psk", RUSTLS, t));
    }
    if args.psk_identity.is_some() {
        return Err(not_supported("--psk-identity", RUSTLS, t));
    }
    if args.tls_engine.is_some() {
        return Err(not_supported("--tls-engine", RUSTLS, t));
    }
    if args.tls_engine_kpass_sha1.is_some() {
        return Err(not_supported("--tls-engine-kpass-sha1", RUSTLS, t));
    }
    match args.keyform.as_deref() {
        None | Some("pem") => Ok(()),
        Some("engine") => Err(not_supported("--keyform engine", RUSTLS, t)),
        Some(_) => Err(usage(
            "Error: Problem setting key form, it must be one of 'pem' or 'engine'.\n",
            t,
        )),
    }
}

/// `--tls-version`: 1.2 and 1.3 are what rustls speaks; older ones are refused by
/// name, anything else as mosquitto refuses it.
fn tls_version(args: &ConnectArgs, t: &str) -> Result<Option<TlsVersion>, Error> {
    match args.tls_version.as_deref() {
        None => Ok(None),
        Some("tlsv1.2") => Ok(Some(TlsVersion::Tls12)),
        Some("tlsv1.3") => Ok(Some(TlsVersion::Tls13)),
        Some(v @ ("tlsv1.1" | "tlsv1" | "tlsv1.0")) => Err(not_supported(
            &format!("--tls-version {v}"),
            "mqtk's TLS library (rustls) implements TLS 1.2 and 1.3 only",
            t,
        )),
        Some(_) => Err(usage(
            "Error: Problem setting TLS options, check the options are valid.\n",
            t,
        )),
    }
}

/// Protocol version: explicit -V wins; -D and -x imply v5 (mosquitto 2.1).
fn protocol_version(args: &ConnectArgs) -> ProtocolVersion {
    args.protocol_version.unwrap_or(
        if !args.property.is_empty() || args.session_expiry.is_some() {
            ProtocolVersion::V5
        } else {
            ProtocolVersion::V311
        },
    )
}

/// The CONNECT properties with the session expiry of `-x`/`-c` appended (v5), after
/// checking that a lasting session has a fixed client id to come back to.
fn with_session_expiry(
    args: &ConnectArgs,
    version: ProtocolVersion,
    mut connect_properties: Properties,
    t: &str,
) -> Result<Properties, Error> {
    let clean_start = !args.disable_clean_session;
    let no_fixed_id = args.id_prefix.is_some() || args.id.is_none();
    if version == ProtocolVersion::V5 {
        // -c without -x: a session that never expires (mosquitto's rule).
        let expiry = match args.session_expiry {
            Some(x) => x,
            None if !clean_start => u32::MAX,
            None => 0,
        };
        if expiry > 0 {
            if expiry == u32::MAX && no_fixed_id {
                return Err(usage(
                    "Error: You must provide a client id if you are using an infinite session expiry interval.\n",
                    t,
                ));
            }
            // Appended after the -D ones, as mosquitto does: a `-D connect
            // session-expiry-interval` too is a duplicate, refused before connecting.
            connect_properties.push(
                PropertyId::SessionExpiryInterval,
                PropertyValue::FourByte(expiry),
            );
        }
    } else if !clean_start && no_fixed_id {
        return Err(usage(
            "Error: You must provide a client id if you are using the -c option.\n",
            t,
        ));
    }
    Ok(connect_properties)
}

/// `-i`, `-I` (prefix and process id), a random id for MQTT 3.1 (which needs one),
/// else empty: the broker assigns one.
fn client_id(args: &ConnectArgs, version: ProtocolVersion) -> Result<String, Error> {
    Ok(match (&args.id, &args.id_prefix) {
        (Some(id), _) if id.is_empty() => return Err(plain("Error: Invalid id.\n")),
        (Some(id), _) => id.clone(),
        (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
        (None, None) if version == ProtocolVersion::V31 => random_client_id(),
        (None, None) => String::new(),
    })
}

/// User name and password: `-u`/`-P` over the `-L` URL's.
fn credentials(
    args: &ConnectArgs,
    url: Option<&Url>,
    version: ProtocolVersion,
) -> Result<(Option<String>, Option<String>), Error> {
    let username = args
        .username
        .clone()
        .or_else(|| url.and_then(|u| u.username.clone()));
    let password = args
        .password
        .clone()
        .or_else(|| url.and_then(|u| u.password.clone()));
    // 3.1.1 §3.1.2.9 [MQTT-3.1.2-22]: no password without a user name before v5.
    if password.is_some() && username.is_none() && version != ProtocolVersion::V5 {
        return Err(plain("Error: Problem setting username and/or password.\n"));
    }
    Ok((username, password))
}

/// Where and how to connect: explicit flags over URL parts over defaults. TLS is on
/// with a CA file or directory, `--tls-use-os-certs`, an `mqtts://` URL or port 8883
/// (then with the system's CAs), unless `--no-tls`.
fn endpoint(
    args: &ConnectArgs,
    url: Option<&Url>,
    proxy: Option<Proxy>,
    tls_version: Option<TlsVersion>,
    t: &str,
) -> Result<Endpoint, Error> {
    let url_tls = url.is_some_and(|u| u.tls);
    let port = args.port.or(url.map(|u| u.port)).unwrap_or(
        if args.cafile.is_some() || args.capath.is_some() {
            8883
        } else {
            1883
        },
    );
    let use_os_certs = args.tls_use_os_certs
        || url_tls
        || (port == 8883 && args.cafile.is_none() && args.capath.is_none());
    let tls_on = !args.no_tls && (args.cafile.is_some() || args.capath.is_some() || use_os_certs);
    let keylog = keylog_path(args.tls_keylog.as_ref(), tls_on, t)?;
    let tls = tls_on.then(|| TlsSettings {
        cafile: args.cafile.clone(),
        capath: args.capath.clone(),
        use_os_certs,
        certfile: args.cert.clone(),
        keyfile: args.key.clone(),
        insecure: args.insecure,
        alpn: args.tls_alpn.clone(),
        version: tls_version,
        ciphers: args.ciphers.clone(),
        keylog,
    });
    let websocket = args.ws || url.is_some_and(|u| u.websocket);
    let host = args
        .host
        .clone()
        .or(url.map(|u| u.host.clone()))
        .unwrap_or_else(|| "localhost".to_string());
    Ok(Endpoint {
        host,
        port,
        unix_socket: args.unix.clone(),
        bind_address: args.bind_address.clone(),
        // Always on, whatever `--nodelay` says: the engine coalesces packets itself
        // (one write per wakeup), and Nagle's algorithm would hold each batch until
        // the previous one is acknowledged at the TCP level.
        nodelay: true,
        websocket_path: websocket.then(|| "/mqtt".to_string()),
        tls,
        proxy,
    })
}

// ---------------------------------------------------------------------------------
// pub

/// Where pub's messages come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageSource {
    /// `-m`: one message.
    Message(Bytes),
    /// `-n`: one empty message.
    Null,
    /// `-f`: the file's contents, streamed from disk.
    File(PathBuf),
    /// `-s`: all of stdin as one message.
    StdinAll,
    /// `-l`: one message per line of stdin, published as each line arrives.
    StdinLines,
}

impl MessageSource {
    /// The message source pub's or rr's flags name (`None` when none does); naming
    /// more than one is mosquitto's usage error.
    fn from_flags(
        message: Option<&String>,
        file: Option<&PathBuf>,
        stdin_file: bool,
        stdin_line: bool,
        null_message: bool,
        tool: &str,
    ) -> Result<Option<MessageSource>, Error> {
        let modes = usize::from(message.is_some())
            + usize::from(file.is_some())
            + usize::from(stdin_file)
            + usize::from(stdin_line)
            + usize::from(null_message);
        if modes > 1 {
            return Err(usage(
                "Error: Only one type of message can be sent at once.\n\n",
                tool,
            ));
        }
        Ok(if let Some(m) = message {
            Some(MessageSource::Message(Bytes::from(m.clone().into_bytes())))
        } else if let Some(f) = file {
            Some(MessageSource::File(f.clone()))
        } else if stdin_file {
            Some(MessageSource::StdinAll)
        } else if stdin_line {
            Some(MessageSource::StdinLines)
        } else if null_message {
            Some(MessageSource::Null)
        } else {
            None
        })
    }
}

/// `mqtk pub`, resolved.
#[derive(Clone, Debug)]
pub struct PubSettings {
    pub client: ClientSettings,
    pub topic: String,
    pub source: MessageSource,
    pub qos: QoS,
    pub retain: bool,
    /// `--repeat` (1 when not given); not used with `-l`.
    pub repeat: u32,
    pub repeat_delay: Duration,
    /// `--encode`: messages are JSON, encoded with this before publishing.
    pub encode: Option<crate::payload::Codec>,
}

/// What `resolve_pub` can find missing: mosquitto prints its usage for this one.
pub const BOTH_TOPIC_AND_MESSAGE: &str = "Error: Both topic and message must be supplied.\n";

pub fn resolve_pub(args: &PubArgs, tool_name: &str) -> Result<PubSettings, Error> {
    let t = tool_name;
    let source = MessageSource::from_flags(
        args.message.as_ref(),
        args.file.as_ref(),
        args.stdin_file,
        args.stdin_line,
        args.null_message,
        t,
    )?;
    let client = resolve_client(&args.conn, Tool::Pub, t)?;
    let topic = args.topic.clone().or_else(|| client.url_topic.clone());
    let Some(source) = source else {
        return Err(plain(BOTH_TOPIC_AND_MESSAGE));
    };
    let Some(topic) = topic else {
        return Err(plain(BOTH_TOPIC_AND_MESSAGE));
    };
    if topic.is_empty() {
        // mosquitto reports this from mosquitto_publish(), after connecting.
        return Err(plain(
            "Error: Invalid input. Does your topic contain '+' or '#'?\n",
        ));
    }
    Ok(PubSettings {
        client,
        topic,
        source,
        qos: QoS::from_u8(args.qos.unwrap_or(0)).unwrap_or_default(),
        retain: args.retain,
        repeat: args.repeat.unwrap_or(1),
        repeat_delay: Duration::from_secs_f64(args.repeat_delay.unwrap_or(0.0)),
        encode: match &args.encode {
            Some(f) => Some(payload::codec(f, &args.proto_path)?),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> PubArgs {
        let mut argv: Vec<OsString> = vec!["mqtk".into(), "pub".into()];
        argv.extend(args.iter().map(OsString::from));
        match crate::cli::Cli::try_parse_from(mosquitto_words(&argv, &[]))
            .expect("parses")
            .command
        {
            crate::cli::Command::Pub(a) => *a,
            _ => unreachable!("pub parses as pub"),
        }
    }

    fn resolve(args: &[&str]) -> Result<PubSettings, Error> {
        resolve_pub(&parse(args), "mqtk pub")
    }

    fn err_text(args: &[&str]) -> String {
        resolve(args).unwrap_err().message()
    }

    #[test]
    fn defaults() {
        let s = resolve(&["-t", "a/b", "-m", "hi"]).unwrap();
        assert_eq!(s.client.endpoint.host, "localhost");
        assert_eq!(s.client.endpoint.port, 1883);
        assert!(s.client.endpoint.tls.is_none());
        assert_eq!(s.client.version, ProtocolVersion::V311);
        assert_eq!(s.client.keep_alive, 60);
        assert!(s.client.clean_start);
        assert_eq!(s.client.client_id, "");
        // TCP_NODELAY without --nodelay (mosquitto sets it only with the flag).
        assert!(s.client.endpoint.nodelay);
        assert_eq!(s.qos, QoS::AtMostOnce);
        assert_eq!(s.repeat, 1);
        assert_eq!(s.source, MessageSource::Message(Bytes::from_static(b"hi")));
    }

    #[test]
    fn cafile_means_tls_on_8883() {
        let s = resolve(&["-t", "a", "-n", "--cafile", "ca.pem"]).unwrap();
        assert_eq!(s.client.endpoint.port, 8883);
        let tls = s.client.endpoint.tls.unwrap();
        assert_eq!(tls.cafile.as_deref(), Some(std::path::Path::new("ca.pem")));
        assert!(!tls.use_os_certs);
        let s = resolve(&["-t", "a", "-n", "-p", "8883"]).unwrap();
        assert!(s.client.endpoint.tls.unwrap().use_os_certs);
        let s = resolve(&["-t", "a", "-n", "-p", "8883", "--no-tls"]).unwrap();
        assert!(s.client.endpoint.tls.is_none());
    }

    #[test]
    fn url_parts() {
        let s = resolve(&["-L", "mqtts://bob:pw@example.com:1234/a/b", "-m", "x"]).unwrap();
        assert_eq!(s.topic, "a/b");
        assert_eq!(s.client.endpoint.host, "example.com");
        assert_eq!(s.client.endpoint.port, 1234);
        assert_eq!(s.client.username.as_deref(), Some("bob"));
        assert_eq!(s.client.password.as_deref(), Some(&b"pw"[..]));
        assert!(s.client.endpoint.tls.unwrap().use_os_certs);
        let s = resolve(&["-L", "ws://h/t", "-m", "x"]).unwrap();
        assert_eq!(s.client.endpoint.port, 1883);
        assert_eq!(s.client.endpoint.websocket_path.as_deref(), Some("/mqtt"));
        // Explicit flags win over the URL's parts.
        let s = resolve(&["-L", "mqtt://h:1/t", "-p", "2", "-t", "u", "-m", "x"]).unwrap();
        assert_eq!((s.client.endpoint.port, s.topic.as_str()), (2, "u"));
        assert!(
            err_text(&["-L", "foo://h/t", "-m", "x"])
                .starts_with("Error: Unsupported URL scheme.\n\n\nUse 'mqtk pub --help'")
        );
        assert_eq!(
            err_text(&["-L", "mqtt://h", "-m", "x"]),
            "Error: Invalid URL for -L argument specified - topic missing.\n\nUse 'mqtk pub --help' to see usage.\n"
        );
        assert!(
            err_text(&["-L", "mqtt://h/a/#", "-m", "x"])
                .starts_with("Error: Invalid publish topic 'a/#'")
        );
    }

    #[test]
    fn proxies() {
        let p = parse_proxy("socks5h://u:p%40x@proxy:1081", "t").unwrap();
        assert_eq!(p.kind, ProxyKind::Socks5h);
        assert_eq!((p.host.as_str(), p.port), ("proxy", 1081));
        assert_eq!(p.username.as_deref(), Some("u"));
        assert_eq!(p.password.as_deref(), Some("p@x"));
        let p = parse_proxy("http://proxy", "t").unwrap();
        assert_eq!((p.kind, p.port), (ProxyKind::HttpConnect, 8080));
        assert!(
            parse_proxy("socks4://x", "t")
                .unwrap_err()
                .message()
                .starts_with("Error: Unsupported proxy protocol: socks4://x\n")
        );
        assert!(
            parse_proxy("socks5h://x:99999", "t")
                .unwrap_err()
                .message()
                .starts_with("Error: Invalid proxy port 99999\n")
        );
    }

    #[test]
    fn properties_imply_v5_and_parse() {
        let s = resolve(&[
            "-t",
            "a",
            "-m",
            "x",
            "-D",
            "publish",
            "message-expiry-interval",
            "30",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
            "-D",
            "connect",
            "receive-maximum",
            "10",
        ])
        .unwrap();
        assert_eq!(s.client.version, ProtocolVersion::V5);
        assert_eq!(
            s.client
                .publish_properties
                .get_int(PropertyId::MessageExpiryInterval),
            Some(30)
        );
        assert_eq!(
            s.client
                .publish_properties
                .user_properties()
                .collect::<Vec<_>>(),
            [("k", "v")]
        );
        assert_eq!(
            s.client
                .connect_properties
                .get_int(PropertyId::ReceiveMaximum),
            Some(10)
        );
        // The last of -V and -D decides, as mosquitto reads argv in order.
        let d = ["-D", "publish", "content-type", "t"];
        let s = resolve(&[&["-t", "a", "-m", "x", "-V", "311"][..], &d].concat()).unwrap();
        assert_eq!(s.client.version, ProtocolVersion::V5);
        let s = resolve(&[&["-t", "a", "-m", "x"][..], &d, &["-V", "311"]].concat()).unwrap();
        assert_eq!(s.client.version, ProtocolVersion::V311);
    }

    #[test]
    fn bench_reads_minus_d_as_the_clients_do() {
        let words = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let end = crate::cli::words::PROPERTY_END;
        let args = words(&[
            "mqtk",
            "bench",
            "pub",
            "-D",
            "publish",
            "content-type",
            "x",
            "-c",
            "2",
        ]);
        assert_eq!(
            mosquitto_words(&args, &[]),
            words(&[
                "mqtk",
                "bench",
                "pub",
                "-D",
                "publish",
                "content-type",
                "x",
                end,
                "-c",
                "2"
            ])
        );
        // Commands without the client flags pass untouched.
        let args = words(&["mqtk", "passwd", "-D", "f", "u"]);
        assert_eq!(mosquitto_words(&args, &[]), args);
    }

    #[test]
    fn bad_properties() {
        // Full coverage of the words is in `props`; here, that resolve_pub uses them.
        let e = err_text(&["-t", "a", "-m", "x", "-D", "publish", "foo", "1"]);
        assert_eq!(
            e,
            "Error: Invalid property name foo given in --property argument.\n\n\nUse 'mqtk pub --help' to see usage.\n"
        );
        let e = err_text(&[
            "-t",
            "a",
            "-m",
            "x",
            "-D",
            "publish",
            "message-expiry-interval",
            "-1",
        ]);
        assert!(
            e.starts_with(
                "Error: Property value (-1) out of range for property message-expiry-interval.\n"
            ),
            "{e}"
        );
        // A duplicate is kept for the check before connecting (libmosquitto's).
        let s = resolve(&[
            "-t",
            "a",
            "-m",
            "x",
            "-x",
            "5",
            "-D",
            "connect",
            "session-expiry-interval",
            "6",
        ])
        .unwrap();
        assert_eq!(s.client.connect_properties.0.len(), 2);
    }

    #[test]
    fn cross_flag_errors() {
        let u = "\nUse 'mqtk pub --help' to see usage.\n";
        assert_eq!(
            err_text(&["-t", "a", "-m", "x", "-l"]),
            format!("Error: Only one type of message can be sent at once.\n\n{u}")
        );
        assert_eq!(
            err_text(&["-t", "a", "-m", "x", "--will-payload", "p"]),
            format!("Error: Will payload given, but no will topic given.\n{u}")
        );
        assert_eq!(
            err_text(&["-t", "a", "-m", "x", "--will-retain"]),
            format!("Error: Will retain given, but no will topic given.\n{u}")
        );
        assert_eq!(
            err_text(&["-t", "a", "-m", "x", "--cert", "c"]),
            format!(
                "Error: Both certfile and keyfile must be provided if one of them is set.\n{u}"
            )
        );
        assert_eq!(
            err_text(&["-t", "a", "-m", "x", "-c"]),
            format!("Error: You must provide a client id if you are using the -c option.\n{u}")
        );
        assert_eq!(
            err_text(&["-t", "a", "-m", "x", "-c", "-V", "5"]),
            format!(
                "Error: You must provide a client id if you are using an infinite session expiry interval.\n{u}"
            )
        );
        assert_eq!(
            err_text(&["-t", "a", "-m", "x", "-i", "a", "-I", "b"]),
            format!("Error: -i and -I argument cannot be used together.\n\n{u}")
        );
        assert_eq!(
            err_text(&["-t", "a", "-m", "x", "--psk", "00"]),
            format!("Error: --psk-identity required if --psk used.\n{u}")
        );
        assert!(
            err_text(&["-t", "a", "-m", "x", "--psk", "00", "--psk-identity", "i"])
                .starts_with("Error: --psk is not supported")
        );
        assert!(
            err_text(&["-t", "a", "-m", "x", "--tls-engine", "e"])
                .starts_with("Error: --tls-engine is not supported")
        );
        assert!(
            err_text(&[
                "-t",
                "a",
                "-m",
                "x",
                "--cert",
                "c",
                "--key",
                "k",
                "--keyform",
                "engine"
            ])
            .starts_with("Error: --keyform engine is not supported")
        );
        assert!(
            err_text(&["-t", "a", "-m", "x", "--tls-version", "tlsv1.1"])
                .starts_with("Error: --tls-version tlsv1.1 is not supported")
        );
        assert_eq!(err_text(&["-m", "x"]), BOTH_TOPIC_AND_MESSAGE);
        assert_eq!(err_text(&["-t", "a"]), BOTH_TOPIC_AND_MESSAGE);
        assert_eq!(
            err_text(&["-t", "a", "-m", "x", "-i", ""]),
            "Error: Invalid id.\n"
        );
    }

    #[test]
    fn session_and_ids() {
        let s = resolve(&["-t", "a", "-m", "x", "-c", "-i", "me", "-V", "5"]).unwrap();
        assert_eq!(
            s.client
                .connect_properties
                .get_int(PropertyId::SessionExpiryInterval),
            Some(u32::MAX)
        );
        assert!(!s.client.clean_start);
        let s = resolve(&["-t", "a", "-m", "x", "-x", "30"]).unwrap();
        assert_eq!(s.client.version, ProtocolVersion::V5);
        assert_eq!(
            s.client
                .connect_properties
                .get_int(PropertyId::SessionExpiryInterval),
            Some(30)
        );
        let s = resolve(&["-t", "a", "-m", "x", "-I", "pre-"]).unwrap();
        assert_eq!(s.client.client_id, format!("pre-{}", std::process::id()));
        let s = resolve(&["-t", "a", "-m", "x", "-V", "31"]).unwrap();
        assert!(s.client.client_id.starts_with("mosq-") && s.client.client_id.len() == 23);
    }

    fn file_args(text: &[u8], sub: &str) -> Result<Vec<String>, Error> {
        Ok(options_file_args(text, OsStr::new(sub), "mosquitto_rr")?
            .into_iter()
            .map(|o| o.into_string().unwrap())
            .collect())
    }

    #[test]
    fn options_file_lines() {
        let text = b"# comment\n-h broker.example\n\n-m hello world\r\n-q 1\n  -r\n";
        assert_eq!(
            file_args(text, "pub").unwrap(),
            ["-h", "broker.example", "-m", "hello world", "-q", "1", "-r"]
        );
    }

    #[test]
    fn each_options_file_line_stands_alone() {
        // A value starting with '-' stays with its option; -o lines are skipped.
        assert_eq!(
            file_args(b"-e -x\n--topic -t\n-o other\n-v -N\n", "rr").unwrap(),
            ["-e=-x", "--topic=-t", "-v", "-N"]
        );
        // An option never takes the next line as its value.
        assert_eq!(
            file_args(b"-e\n-v\n", "rr").unwrap_err().message(),
            "Error: -e argument given but no response topic specified.\n\n\nUse 'mosquitto_rr --help' to see usage.\n"
        );
        // -D needs more words than one line holds (two: the option and the rest).
        assert!(
            file_args(b"-D publish user-property a b\n", "rr")
                .unwrap_err()
                .message()
                .starts_with("Error: --property argument given but not enough arguments")
        );
        // Options the tool does not know are left for the parser to name.
        assert_eq!(file_args(b"-C\n", "rr").unwrap(), ["-C"]);
    }

    #[test]
    fn options_file_goes_before_argv() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("opts");
        std::fs::write(&f, "-q 1\n-t from/file\n").unwrap();
        let argv: Vec<OsString> = ["mqtk", "pub", "-o", f.to_str().unwrap(), "-t", "x"]
            .iter()
            .map(OsString::from)
            .collect();
        let out = with_options_file(argv, None).unwrap();
        let out: Vec<&str> = out.iter().map(|o| o.to_str().unwrap()).collect();
        assert_eq!(out[..6], ["mqtk", "pub", "-q", "1", "-t", "from/file"]);
        assert_eq!(out[6..], ["-o", f.to_str().unwrap(), "-t", "x"]);
        let dup: Vec<OsString> = ["mqtk", "pub", "-o", "a", "-o", "b"]
            .iter()
            .map(OsString::from)
            .collect();
        assert!(
            with_options_file(dup, None)
                .unwrap_err()
                .message()
                .starts_with("Error: Duplicate -o argument given.\n\n")
        );
        let missing: Vec<OsString> = ["mqtk", "pub", "-o", "/nonexistent/x"]
            .iter()
            .map(OsString::from)
            .collect();
        assert!(
            with_options_file(missing, None)
                .unwrap_err()
                .message()
                .starts_with("Error: Unable to open options file")
        );
    }
}
