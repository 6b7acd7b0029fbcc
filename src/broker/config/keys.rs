//! The mosquitto.conf keys beyond listeners, limits, logging and passwords/ACLs:
//! general settings mqtk honours, keys it ignores with one warning each (none of them
//! bears on security), keys it refuses because ignoring them would weaken security,
//! `include_dir`, and the checks across listener blocks (`per_listener_settings`,
//! `max_connections`).

use std::path::PathBuf;

use super::{ListenerAuth, ListenerDraft, Parser, Value, parse_bool, parse_number};

/// Keys mosquitto accepts whose absence changes no security: mqtk warns once per key and
/// otherwise ignores them (no persistence to disk, no $SYS interval setting, …).
const IGNORED: &[&str] = &[
    "autosave_interval",
    "autosave_on_changes",
    "allow_duplicate_messages",
    "auto_id_prefix",
    "check_retain_source",
    "http_dir",
    "log_facility",
    "log_timestamp",
    "log_timestamp_format",
    "max_inflight_bytes",
    "max_qos",
    "max_topic_alias",
    "memory_limit",
    "persistence",
    "persistence_file",
    "persistence_location",
    "pid_file",
    "queue_qos0_messages",
    "retained_persistence",
    "set_tcp_nodelay",
    "sys_interval",
    "upgrade_outgoing_qos",
    "user",
    "websockets_headers_size",
    "websockets_log_level",
];

/// Keys that restrict who may connect or what they may do, or how TLS checks peers:
/// ignoring them would leave the broker more open than its configuration says, so
/// mqtk refuses to start with them (unless set to their harmless value, see `refused`).
const SECURITY: &[&str] = &[
    "auth_plugin",
    "capath",
    "ciphers",
    "ciphers_tls1.3",
    "clientid_prefixes",
    "crlfile",
    "dhparamfile",
    "mount_point",
    "plugin",
    "psk_file",
    "psk_hint",
    "tls_engine",
    "tls_engine_kpass_sha1",
    "tls_keyform",
    "use_identity_as_username",
    "use_subject_as_username",
    "use_username_as_clientid",
];

/// Files one configuration may bring in through `include_dir`, in all.
const MAX_INCLUDES: usize = 1000;

impl Parser {
    /// Keys outside the main groups: honoured, ignored with a warning, or refused.
    pub(super) fn other_key(&mut self, v: &Value<'_>, line: usize) -> Result<(), String> {
        let keyword = v.keyword;
        let honoured = !IGNORED.contains(&keyword) && !SECURITY.contains(&keyword);
        if let Some(extra) = v.args.get(1).filter(|_| honoured) {
            return Err(format!("Unexpected value \"{extra}\" after {keyword}."));
        }
        match keyword {
            "max_keepalive" => {
                self.config.max_keepalive = parse_number(keyword, v.args, 0, 65535)? as u16;
            }
            "max_queued_bytes" => {
                self.config.max_queued_bytes =
                    parse_number(keyword, v.args, 0, usize::MAX as u64)? as usize;
            }
            "retain_available" => self.config.retain_available = parse_bool(keyword, v.args)?,
            "allow_zero_length_clientid" => {
                self.config.allow_zero_length_clientid = parse_bool(keyword, v.args)?;
            }
            "connection_messages" => {
                self.config.connection_messages = parse_bool(keyword, v.args)?;
            }
            "persistent_client_expiration" => {
                self.config.persistent_client_expiration = Some(parse_duration(v.first()?)?);
            }
            "per_listener_settings" => {
                let on = parse_bool(keyword, v.args)?;
                if on && (self.auth != ListenerAuth::default() || !self.listeners.is_empty()) {
                    return Err(
                        "per_listener_settings must come before listeners and security settings."
                            .into(),
                    );
                }
                self.per_listener_settings = on;
            }
            "bind_address" => {
                // mosquitto: the address of the default listener (deprecated).
                let address = v.first()?.to_string();
                self.current_default(line).cfg.bind_address = Some(address);
            }
            "max_connections" => {
                let text = v.first()?;
                let n = match text.parse::<i64>() {
                    Ok(n) if n < 0 => None,
                    Ok(n) => Some(n as usize),
                    Err(_) => return Err(format!("Invalid {keyword} value ({text}).")),
                };
                self.current(line).max_connections = Some(n);
            }
            "tls_version" => {
                self.current(line).tls13_only = match v.first()? {
                    "tlsv1.3" => true,
                    // rustls speaks TLS 1.2 and 1.3 only: a minimum of 1.1 or 1.2 is met.
                    "tlsv1.2" | "tlsv1.1" => false,
                    other => return Err(format!("Invalid tls_version value ({other}).")),
                };
            }
            k if IGNORED.contains(&k) => self.warnings.push(format!(
                "Warning: {k} is not supported by mqtk and is ignored."
            )),
            // The default, which mqtk has: nothing to do.
            "use_identity_as_username" | "use_subject_as_username" | "use_username_as_clientid"
                if v.args.first() == Some(&"false") => {}
            k => return Err(refused(k)),
        }
        Ok(())
    }

    /// `include_dir DIR`: every `*.conf` file in DIR, in name order, read as if its lines
    /// were here. The outer error is about this line; the inner one about an included line.
    pub(super) fn include_dir(
        &mut self,
        dir: &str,
    ) -> Result<Result<(), super::ConfigError>, String> {
        if dir.is_empty() {
            return Err("Empty include_dir value in configuration.".into());
        }
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("Unable to open include_dir '{dir}': {e}."))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "conf") && p.is_file())
            .collect();
        files.sort();
        for file in files {
            self.includes += 1;
            if self.includes > MAX_INCLUDES {
                return Err(format!(
                    "More than {MAX_INCLUDES} files included: is an include_dir including itself?"
                ));
            }
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("Unable to open config file {}: {e}.", file.display()))?;
            if let Err(e) = self.feed(&text, &file) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}

/// The error for a key mqtk does not take: security keys say why, others are unknown.
fn refused(keyword: &str) -> String {
    if SECURITY.contains(&keyword)
        || keyword.starts_with("plugin_opt_")
        || keyword.starts_with("auth_opt_")
    {
        return format!(
            "{keyword} is not supported by mqtk, and ignoring it would weaken security."
        );
    }
    format!("Unknown configuration variable \"{keyword}\".")
}

/// mosquitto's `persistent_client_expiration` value: a number and a unit, h (hours),
/// d (days), w (weeks), m (months of 30 days) or y (years of 365 days).
fn parse_duration(text: &str) -> Result<u32, String> {
    let bad = || format!("Invalid persistent_client_expiration value ({text}).");
    let unit = text.chars().last().ok_or_else(bad)?;
    let n: u64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    let hours = match unit {
        'h' => 1,
        'd' => 24,
        'w' => 24 * 7,
        'm' => 24 * 30,
        'y' => 24 * 365,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(hours * 3600).ok_or_else(bad)?;
    if n == 0 {
        return Err(bad());
    }
    Ok(secs.min(u64::from(u32::MAX - 1)) as u32)
}

/// With `per_listener_settings true`: the security settings of every listener, which
/// mqtk can honour only when they are the same for all (one password file, one ACL).
pub(super) fn one_auth(drafts: &[ListenerDraft]) -> Result<ListenerAuth, (usize, String)> {
    let mut found: Option<&ListenerAuth> = None;
    for d in drafts {
        match found {
            Some(a) if *a != d.auth => {
                return Err((
                    d.line,
                    "per_listener_settings with different security settings per listener is not supported by mqtk.".into(),
                ));
            }
            _ => found = Some(&d.auth),
        }
    }
    Ok(found.cloned().unwrap_or_default())
}

/// `max_connections`, which mqtk applies to every listener: one value for all.
pub(super) fn one_max_connections(
    drafts: &[ListenerDraft],
) -> Result<Option<usize>, (usize, String)> {
    let mut found: Option<Option<usize>> = None;
    for d in drafts {
        let Some(n) = d.max_connections else { continue };
        match found {
            Some(m) if m != n => {
                return Err((
                    d.line,
                    "mqtk applies one max_connections to every listener; this one differs.".into(),
                ));
            }
            _ => found = Some(n),
        }
    }
    Ok(found.flatten())
}
