//! Who may log in and what they may do: `password_file`, `acl_file` and
//! `allow_anonymous` with mosquitto 2.0's semantics (`src/security.c`,
//! `src/security_default.c`). Pure logic, no I/O beyond loading the two files; the
//! broker calls `Auth::login`, `Auth::may_publish`, `Auth::may_read` and
//! `Auth::may_subscribe`.
//!
//! Refusals, as mosquitto 2.0.11 sends them (checked against /usr/sbin/mosquitto):
//! a refused login gets CONNACK return code 5 "not authorised" in 3.1/3.1.1 and
//! reason 0x87 Not authorized in 5.0, for a wrong password, an unknown user and an
//! anonymous client alike (never 4 / 0x86, which would tell a prober which part was
//! wrong). A publish without write access is dropped silently in 3.x and answered
//! with 0x87 in a 5.0 PUBACK/PUBREC.

use std::collections::HashMap;
use std::path::Path;

use crate::passwd::file::{read_regular, trim};
use crate::passwd::hash::Hash;
use crate::transport::error::strerror;

/// The two access bits of an ACL rule (`MOSQ_ACL_READ`, `MOSQ_ACL_WRITE`); a
/// `deny` rule has neither.
const READ: u8 = 1;
const WRITE: u8 = 2;

/// Loaded `password_file`: username → hash. Lines that mosquitto would drop are
/// dropped here too, with the same warnings.
#[derive(Clone, Debug, Default)]
pub struct PasswordDb {
    users: HashMap<Vec<u8>, Hash>,
    /// A hash checked (and its answer ignored) when the user is unknown or sent no
    /// password, so that a refusal takes as long as a wrong password and the timing
    /// does not tell which user names exist. mosquitto answers those at once.
    decoy: Option<Hash>,
}

/// Reads a password or ACL file whole, in mosquitto's words with the OS's text (no
/// " (os error N)"); a device or pipe is refused (`read_regular`).
fn read_config_file(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::File::open(path)
        .and_then(|mut f| read_regular(&mut f))
        .map_err(|e| {
            format!(
                "Unable to open {what} \"{}\": {}.",
                path.display(),
                strerror(&e)
            )
        })
}

impl PasswordDb {
    /// Reads `path`. An unreadable file is an error (the broker does not start);
    /// bad lines are skipped and reported in the returned warnings.
    pub fn load(path: &Path) -> Result<(PasswordDb, Vec<String>), String> {
        let data = read_config_file(path, "pwfile")?;
        Ok(PasswordDb::parse(&data))
    }

    /// mosquitto's `pwfile__parse` + `unpwd__decode_passwords`: lines starting with
    /// `#` and lines without `:` are skipped; fields are `strtok(":")` tokens with
    /// blanks trimmed; an entry whose hash cannot be used is removed. When a user
    /// appears twice the last usable line wins, as in mosquitto.
    pub fn parse(data: &[u8]) -> (PasswordDb, Vec<String>) {
        let mut users = HashMap::new();
        let mut warnings = Vec::new();
        for line in data.split(|&b| b == b'\n') {
            if line.first() == Some(&b'#') || !line.contains(&b':') {
                continue;
            }
            let mut tokens = line.split(|&b| b == b':').filter(|t| !t.is_empty());
            let Some(user) = tokens.next().map(trim) else {
                continue;
            };
            let shown = String::from_utf8_lossy(user);
            if user.len() > 65535 {
                warnings.push("Warning: Invalid line in password file, username too long.".into());
                continue;
            }
            let Some(stored) = tokens.next().map(trim) else {
                warnings.push(format!(
                    "Error: Missing password hash for user {shown}, removing entry."
                ));
                continue;
            };
            match Hash::parse(stored) {
                Ok(hash) => {
                    users.insert(user.to_vec(), hash);
                }
                Err(e) => warnings.push(format!("Error: {e} for user {shown}, removing entry.")),
            }
        }
        let decoy = users.values().next().cloned();
        (PasswordDb { users, decoy }, warnings)
    }

    /// Whether `username` exists and `password` is its password. Slow by design
    /// for `$7$` and argon2id: call it off the async runtime (`spawn_blocking`).
    pub fn check(&self, username: &[u8], password: Option<&[u8]>) -> bool {
        match (self.users.get(username), password) {
            (Some(hash), Some(password)) => hash.verify(password),
            (_, password) => {
                if let Some(decoy) = &self.decoy {
                    std::hint::black_box(decoy.verify(password.unwrap_or(b"")));
                }
                false
            }
        }
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// One `topic`/`pattern` line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    topic: String,
    /// `READ | WRITE` bits; 0 for `deny`.
    access: u8,
}

/// Loaded `acl_file`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acl {
    /// Rules before the first `user` line: they apply to clients without a username.
    anonymous: Option<Vec<Rule>>,
    users: HashMap<String, Vec<Rule>>,
    /// `pattern` lines, for everyone, with `%c`/`%u` substituted.
    patterns: Vec<Rule>,
}

/// mosquitto keeps `deny` rules in front of a list (added in reverse), so a
/// matching deny always wins over an allow from the same list.
fn add_rule(list: &mut Vec<Rule>, rule: Rule) {
    if rule.access == 0 {
        list.insert(0, rule);
    } else {
        list.push(rule);
    }
}

impl Acl {
    pub fn load(path: &Path) -> Result<Acl, String> {
        let data = read_config_file(path, "acl_file")?;
        Acl::parse(&String::from_utf8_lossy(&data), &path.display().to_string())
    }

    /// mosquitto's `aclfile__parse`: `#` in the first column is a comment; words
    /// are separated by spaces; `topic [read|write|readwrite|deny] TOPIC` (no access
    /// word means readwrite), `pattern …` likewise, `user NAME`. Errors use
    /// mosquitto's words; `file` names the file in them.
    pub fn parse(text: &str, file: &str) -> Result<Acl, String> {
        let mut acl = Acl::default();
        let mut user: Option<String> = None;
        for line in text.split('\n') {
            let line = line.trim_end_matches(|c: char| c.is_ascii_whitespace());
            if line.starts_with('#') {
                continue;
            }
            // strtok skips leading spaces: "  topic x" is a topic line.
            let line = line.trim_start_matches(' ');
            if line.is_empty() {
                continue;
            }
            Acl::parse_line(&mut acl, &mut user, line, file)?;
        }
        Ok(acl)
    }

    fn parse_line(
        acl: &mut Acl,
        user: &mut Option<String>,
        line: &str,
        file: &str,
    ) -> Result<(), String> {
        let line = line.trim_start_matches(' ');
        let (first, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim_start_matches(' ');
        match first {
            "topic" | "pattern" => {
                if rest.is_empty() {
                    return Err(format!("Error: Empty topic in acl_file \"{file}\"."));
                }
                let (access_word, topic) = match rest.split_once(' ') {
                    Some((a, t)) if !trim(t.as_bytes()).is_empty() => (
                        Some(a),
                        String::from_utf8_lossy(trim(t.as_bytes())).into_owned(),
                    ),
                    _ => (None, rest.trim_end_matches(' ').to_string()),
                };
                let access = match access_word {
                    None | Some("readwrite") => READ | WRITE,
                    Some("read") => READ,
                    Some("write") => WRITE,
                    Some("deny") => 0,
                    Some(other) => {
                        return Err(format!(
                            "Error: Invalid topic access type \"{other}\" in acl_file \"{file}\"."
                        ));
                    }
                };
                // As mosquitto's `mosquitto_sub_topic_check`: `+` and `#` fill a whole level,
                // `#` only last.
                if crate::topic::validate_plain_filter(&topic).is_err() {
                    return Err(format!(
                        "Error: Invalid ACL topic \"{topic}\" in acl_file \"{file}\"."
                    ));
                }
                let rule = Rule { topic, access };
                if first == "pattern" {
                    add_rule(&mut acl.patterns, rule);
                } else {
                    match user {
                        Some(u) => add_rule(acl.users.entry(u.clone()).or_default(), rule),
                        None => add_rule(acl.anonymous.get_or_insert_with(Vec::new), rule),
                    }
                }
            }
            "user" => {
                let name = String::from_utf8_lossy(trim(rest.as_bytes())).into_owned();
                if name.is_empty() {
                    return Err(format!("Error: Missing username in acl_file \"{file}\"."));
                }
                *user = Some(name);
            }
            _ => {
                return Err(format!(
                    "Error: Invalid line in acl_file \"{file}\": {line}."
                ));
            }
        }
        Ok(())
    }

    fn list_for(&self, username: Option<&str>) -> Option<&[Rule]> {
        match username {
            Some(u) => self.users.get(u).map(Vec::as_slice),
            None => self.anonymous.as_deref(),
        }
    }

    /// `%c` → client id, `%u` → username (mosquitto's substitution, left to right).
    fn substitute(pattern: &str, client_id: &str, username: Option<&str>) -> String {
        let mut out = String::with_capacity(pattern.len());
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '%' {
                match (chars.peek(), username) {
                    (Some('c'), _) => {
                        chars.next();
                        out.push_str(client_id);
                        continue;
                    }
                    (Some('u'), Some(u)) => {
                        chars.next();
                        out.push_str(u);
                        continue;
                    }
                    _ => {}
                }
            }
            out.push(c);
        }
        out
    }

    /// Patterns that apply to this client, substituted; `None` when patterns exist
    /// but the client's id or username contains `+` or `#` (mosquitto then denies,
    /// so that a crafted name cannot widen a pattern).
    fn patterns_for(&self, client_id: &str, username: Option<&str>) -> Option<Vec<Rule>> {
        if self.patterns.is_empty() {
            return Some(Vec::new());
        }
        let dangerous = |s: &str| s.contains(['+', '#']);
        if username.is_some_and(dangerous) || dangerous(client_id) {
            return None;
        }
        Some(
            self.patterns
                .iter()
                .filter(|r| username.is_some() || !r.topic.contains("%u"))
                .map(|r| Rule {
                    topic: Acl::substitute(&r.topic, client_id, username),
                    access: r.access,
                })
                .collect(),
        )
    }

    /// mosquitto's `mosquitto_acl_check_default` for one concrete topic.
    fn check(&self, client_id: &str, username: Option<&str>, topic: &str, access: u8) -> bool {
        let list = self.list_for(username);
        if list.is_none() && self.patterns.is_empty() {
            return false;
        }
        for rule in list.unwrap_or(&[]) {
            // A `$` topic is only matched by rules that start with `$` too.
            if topic.starts_with('$') && !rule.topic.starts_with('$') {
                continue;
            }
            if topic_matches(&rule.topic, topic) {
                if rule.access == 0 {
                    return false;
                }
                if rule.access & access != 0 {
                    return true;
                }
            }
        }
        let Some(patterns) = self.patterns_for(client_id, username) else {
            return false;
        };
        for rule in &patterns {
            if topic_matches(&rule.topic, topic) {
                if rule.access == 0 {
                    return false;
                }
                if rule.access & access != 0 {
                    return true;
                }
            }
        }
        false
    }

    /// Whether a subscription to `filter` can never deliver anything: every topic
    /// it matches is refused read access. mosquitto 2.0.11 grants every
    /// subscription and filters each message on delivery (`may_read`); refusing only
    /// what is provably empty keeps deliveries identical while telling the client.
    fn subscription_is_empty(&self, client_id: &str, username: Option<&str>, filter: &str) -> bool {
        let list = self.list_for(username).unwrap_or(&[]);
        let applies = |rule: &Rule| !filter.starts_with('$') || rule.topic.starts_with('$');
        if list
            .iter()
            .any(|r| r.access == 0 && applies(r) && filter_covers(&r.topic, filter))
        {
            return true;
        }
        let user_may_read = list
            .iter()
            .any(|r| r.access & READ != 0 && applies(r) && filters_intersect(&r.topic, filter));
        if user_may_read {
            return false;
        }
        match self.patterns_for(client_id, username) {
            None => true,
            Some(patterns) => {
                patterns
                    .iter()
                    .any(|r| r.access == 0 && filter_covers(&r.topic, filter))
                    || !patterns
                        .iter()
                        .any(|r| r.access & READ != 0 && filters_intersect(&r.topic, filter))
            }
        }
    }
}

/// The broker's security settings, loaded once at start.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    /// `password_file`, if configured.
    pub passwords: Option<PasswordDb>,
    /// `acl_file`, if configured.
    pub acl: Option<Acl>,
    /// `allow_anonymous` as resolved by the config (mosquitto 2.x: false once
    /// listeners are configured, unless set).
    pub allow_anonymous: bool,
}

impl Auth {
    /// The settings of a resolved broker configuration, files loaded.
    pub fn from_config(
        config: &crate::broker::config::Config,
    ) -> Result<(Auth, Vec<String>), String> {
        Auth::load(
            config.password_file.as_deref(),
            config.acl_file.as_deref(),
            config.allow_anonymous,
        )
    }

    /// Loads the files named in the configuration. Returns the warnings to log.
    pub fn load(
        password_file: Option<&Path>,
        acl_file: Option<&Path>,
        allow_anonymous: bool,
    ) -> Result<(Auth, Vec<String>), String> {
        let mut warnings = Vec::new();
        let passwords = match password_file {
            Some(p) => {
                let (db, w) = PasswordDb::load(p)?;
                warnings.extend(w);
                Some(db)
            }
            None => None,
        };
        let acl = acl_file.map(Acl::load).transpose()?;
        Ok((
            Auth {
                passwords,
                acl,
                allow_anonymous,
            },
            warnings,
        ))
    }

    /// "Is this login allowed" (mosquitto 2.0 `mosquitto_unpwd_check`):
    /// - with a password file, a client with a username must match it (right
    ///   password), and one without is let in only if `allow_anonymous`;
    /// - without one, `allow_anonymous` decides for everyone, username or not.
    ///
    /// May take tens of milliseconds (PBKDF2, argon2id): run it on a blocking thread.
    pub fn login(&self, username: Option<&str>, password: Option<&[u8]>) -> bool {
        match (&self.passwords, username) {
            (Some(db), Some(user)) => db.check(user.as_bytes(), password),
            _ => self.allow_anonymous,
        }
    }

    /// "May it publish to this topic" (write access). `$SYS` is never writable by
    /// clients (except bridge state topics) and `$share/…` is no topic name, with or
    /// without an ACL file, as mosquitto's `acl__check_dollar`.
    pub fn may_publish(&self, client_id: &str, username: Option<&str>, topic: &str) -> bool {
        if topic.starts_with("$SYS") && !topic_matches("$SYS/broker/connection/+/state", topic) {
            return false;
        }
        if topic.starts_with("$share") {
            return false;
        }
        self.acl
            .as_ref()
            .is_none_or(|acl| acl.check(client_id, username, topic, WRITE))
    }

    /// "May this message be delivered to this client" (read access), checked for
    /// every message, retained ones included, against its topic.
    pub fn may_read(&self, client_id: &str, username: Option<&str>, topic: &str) -> bool {
        if topic.starts_with("$share") {
            return false;
        }
        self.acl
            .as_ref()
            .is_none_or(|acl| acl.check(client_id, username, topic, READ))
    }

    /// "May this client subscribe to this filter". Refused (SUBACK 0x80 in 3.x,
    /// 0x87 in 5.0) only when no topic the filter matches could ever be read;
    /// otherwise granted, with `may_read` filtering each delivery as mosquitto does.
    /// A shared subscription `$share/GROUP/F` is judged by `F`.
    pub fn may_subscribe(&self, client_id: &str, username: Option<&str>, filter: &str) -> bool {
        let filter = crate::topic::parse_shared(filter).map_or(filter, |(_, f)| f);
        self.acl
            .as_ref()
            .is_none_or(|acl| !acl.subscription_is_empty(client_id, username, filter))
    }
}

/// mosquitto's `mosquitto_topic_matches_sub` for a filter and a concrete topic:
/// a filter and topic match only if both or neither start with `$`; `#` also
/// matches the parent level. `crate::topic::matches` has the same rules for valid
/// input (a literal first level never matches a `$` level it differs from); the
/// guards keep odd input (a pattern substituted with an odd client id) from matching.
fn topic_matches(filter: &str, topic: &str) -> bool {
    !filter.is_empty()
        && !topic.is_empty()
        && !topic.contains(['+', '#'])
        && crate::topic::matches(filter, topic)
}

/// Whether some topic matches both filters (with the `$` rule above).
fn filters_intersect(a: &str, b: &str) -> bool {
    if a.starts_with('$') != b.starts_with('$') {
        return false;
    }
    let a: Vec<&str> = a.split('/').collect();
    let b: Vec<&str> = b.split('/').collect();
    let (mut i, mut j) = (0, 0);
    loop {
        match (a.get(i), b.get(j)) {
            (Some(&"#"), _) | (_, Some(&"#")) => return true,
            (None, None) => return true,
            (Some(x), Some(y)) if *x == "+" || *y == "+" || x == y => {}
            _ => return false,
        }
        i += 1;
        j += 1;
    }
}

/// Whether every topic matching `inner` also matches `outer`.
fn filter_covers(outer: &str, inner: &str) -> bool {
    if outer.starts_with('$') != inner.starts_with('$') {
        return false;
    }
    let o: Vec<&str> = outer.split('/').collect();
    let n: Vec<&str> = inner.split('/').collect();
    let mut i = 0;
    loop {
        match (o.get(i), n.get(i)) {
            (Some(&"#"), _) => return true,
            (None, None) => return true,
            (Some(&"+"), Some(y)) if *y != "#" => {}
            (Some(x), Some(y)) if x == y && *y != "+" && *y != "#" => {}
            _ => return false,
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passwd::hash::HashParams;

    fn line(user: &str, password: &str) -> String {
        format!(
            "{user}:{}\n",
            Hash::create(&HashParams::default(), password.as_bytes())
                .unwrap()
                .encode()
        )
    }

    #[test]
    fn password_file_like_mosquitto() {
        let text = format!(
            "# comment\n\nno colon here\n{}{}  spaced  :{}u3:plaintext\nu4:\r\n{}",
            line("u1", "first"),
            line("u1", "second"),
            line("x", "s").trim_start_matches("x:"),
            line("crlf", "c").replace('\n', "\r\n"),
        );
        let (db, warnings) = PasswordDb::parse(text.as_bytes());
        assert!(db.check(b"u1", Some(b"second")), "last line wins");
        assert!(!db.check(b"u1", Some(b"first")));
        assert!(db.check(b"spaced", Some(b"s")), "blanks trimmed");
        assert!(
            !db.check(b"u3", Some(b"plaintext")),
            "plain text is never compared"
        );
        assert!(db.check(b"crlf", Some(b"c")));
        assert!(!db.check(b"u1", None));
        assert!(!db.check(b"nobody", Some(b"second")));
        assert_eq!(db.len(), 3);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings.iter().all(|w| !w.contains("plaintext")),
            "{warnings:?}"
        );
    }

    #[test]
    fn login_rules() {
        let (db, _) = PasswordDb::parse(line("alice", "pw").as_bytes());
        let with = |allow_anonymous| Auth {
            passwords: Some(db.clone()),
            acl: None,
            allow_anonymous,
        };
        assert!(with(false).login(Some("alice"), Some(b"pw")));
        assert!(!with(false).login(Some("alice"), Some(b"pw2")));
        assert!(
            !with(true).login(Some("alice"), Some(b"bad")),
            "anonymous does not excuse a bad password"
        );
        assert!(!with(true).login(Some("bob"), Some(b"pw")));
        assert!(!with(true).login(Some("alice"), None));
        assert!(with(true).login(None, None));
        assert!(!with(false).login(None, Some(b"pw")));
        let none = |allow_anonymous| Auth {
            passwords: None,
            acl: None,
            allow_anonymous,
        };
        assert!(none(true).login(Some("anyone"), Some(b"x")));
        assert!(!none(false).login(Some("anyone"), Some(b"x")));
        assert!(!none(false).login(None, None));
    }

    fn acl(text: &str) -> Auth {
        Auth {
            passwords: None,
            acl: Some(Acl::parse(text, "acl").unwrap()),
            allow_anonymous: true,
        }
    }

    const ACL: &str = "\
# anonymous
topic read anon/#

user alice
topic read a/#
topic write b/#
topic deny a/secret
topic readwrite both
topic c/+/x
user bob
topic deny #
topic read bob/#
pattern read p/%u/#
pattern write dev/%c/out
";

    #[test]
    fn acl_reads_and_writes() {
        let a = acl(ACL);
        assert!(a.may_read("c", Some("alice"), "a/1"));
        assert!(
            a.may_read("c", Some("alice"), "a"),
            "# matches the parent level"
        );
        assert!(!a.may_read("c", Some("alice"), "a/secret"), "deny wins");
        assert!(!a.may_publish("c", Some("alice"), "a/1"));
        assert!(a.may_publish("c", Some("alice"), "b/1"));
        assert!(!a.may_read("c", Some("alice"), "b/1"));
        assert!(
            a.may_read("c", Some("alice"), "both") && a.may_publish("c", Some("alice"), "both")
        );
        assert!(
            a.may_publish("c", Some("alice"), "c/any/x"),
            "no access word = readwrite"
        );
        assert!(a.may_read("c", Some("alice"), "p/alice/z"), "pattern %u");
        assert!(!a.may_read("c", Some("alice"), "p/bob/z"));
        assert!(
            a.may_publish("dev1", Some("alice"), "dev/dev1/out"),
            "pattern %c"
        );
        assert!(!a.may_publish("dev1", Some("alice"), "dev/dev2/out"));
        // bob's deny # comes first in his list: everything of his is refused,
        // patterns included (a deny in the user list stops the check).
        assert!(!a.may_read("c", Some("bob"), "bob/1"));
        assert!(!a.may_read("c", Some("bob"), "p/bob/1"));
        // Anonymous clients get the rules before the first `user` line.
        assert!(a.may_read("c", None, "anon/1"));
        assert!(!a.may_read("c", None, "a/1"));
        assert!(
            !a.may_read("c", None, "p/x/1"),
            "%u patterns skip anonymous clients"
        );
        // Users without rules still get patterns.
        assert!(a.may_read("c", Some("carol"), "p/carol/1"));
        assert!(!a.may_read("c", Some("carol"), "a/1"));
    }

    #[test]
    fn acl_dollar_and_dangerous_names() {
        let a = acl("user u\ntopic read #\ntopic read $SYS/#\npattern read x/%c\n");
        assert!(a.may_read("c", Some("u"), "any/thing"));
        assert!(a.may_read("c", Some("u"), "$SYS/broker/uptime"));
        let b = acl("user u\ntopic readwrite #\n");
        assert!(
            !b.may_read("c", Some("u"), "$SYS/broker/uptime"),
            "# does not match $ topics"
        );
        assert!(
            !b.may_publish("c", Some("u"), "$SYS/x"),
            "$SYS is not writable"
        );
        assert!(!Auth::default().may_publish("c", None, "$SYS/x"));
        assert!(Auth::default().may_publish("c", None, "$SYS/broker/connection/b1/state"));
        let p = acl("pattern readwrite x/%c\n");
        assert!(p.may_read("ok", None, "x/ok"));
        assert!(
            !p.may_read("a+b", None, "x/a+b"),
            "client id with + is refused"
        );
        assert!(
            !p.may_read("ok", Some("u#"), "x/ok"),
            "username with # is refused"
        );
    }

    #[test]
    fn acl_subscriptions() {
        let a = acl(ACL);
        assert!(a.may_subscribe("c", Some("alice"), "a/#"));
        assert!(
            a.may_subscribe("c", Some("alice"), "#"),
            "granted; deliveries filtered"
        );
        assert!(a.may_subscribe("c", Some("alice"), "+/1"));
        assert!(
            !a.may_subscribe("c", Some("alice"), "a/secret"),
            "covered by deny"
        );
        assert!(!a.may_subscribe("c", Some("alice"), "b/#"), "write-only");
        assert!(!a.may_subscribe("c", Some("alice"), "zzz/#"));
        assert!(a.may_subscribe("c", Some("alice"), "p/alice/+"));
        assert!(!a.may_subscribe("c", Some("alice"), "p/bob/+"));
        assert!(a.may_subscribe("c", Some("alice"), "$share/g/a/x"));
        assert!(!a.may_subscribe("c", Some("alice"), "$share/g/zzz"));
        assert!(!a.may_subscribe("c", Some("alice"), "$SYS/#"));
        assert!(
            !a.may_subscribe("c", Some("bob"), "bob/#"),
            "deny # covers all"
        );
        assert!(a.may_subscribe("c", None, "anon/+"));
        assert!(Auth::default().may_subscribe("c", None, "anything/#"));
    }

    #[test]
    fn acl_file_errors_use_mosquitto_words() {
        assert_eq!(
            Acl::parse("topic\n", "f"),
            Err("Error: Empty topic in acl_file \"f\".".into())
        );
        assert_eq!(
            Acl::parse("topic sometimes a/b\n", "f"),
            Err("Error: Invalid topic access type \"sometimes\" in acl_file \"f\".".into())
        );
        assert_eq!(
            Acl::parse("topic read a/#/b\n", "f"),
            Err("Error: Invalid ACL topic \"a/#/b\" in acl_file \"f\".".into())
        );
        assert_eq!(
            Acl::parse("user\n", "f"),
            Err("Error: Missing username in acl_file \"f\".".into())
        );
        assert_eq!(
            Acl::parse("frobnicate x\n", "f"),
            Err("Error: Invalid line in acl_file \"f\": frobnicate x.".into())
        );
        // "topic read" alone is the topic "read" with readwrite access, as mosquitto.
        let a = Acl::parse("topic read\n", "f").unwrap();
        assert_eq!(
            a.anonymous,
            Some(vec![Rule {
                topic: "read".into(),
                access: READ | WRITE
            }])
        );
    }

    #[test]
    fn filter_algebra() {
        assert!(topic_matches("a/+/c", "a/b/c"));
        assert!(topic_matches("a/#", "a"));
        assert!(!topic_matches("a/+", "a"));
        assert!(!topic_matches("+/x", "$SYS/x"));
        assert!(topic_matches("a/+", "a/"), "+ matches an empty level");
        assert!(filters_intersect("a/+", "+/b"));
        assert!(!filters_intersect("a/+", "b/#"));
        assert!(filters_intersect("a/#", "a"));
        assert!(!filters_intersect("#", "$SYS/#"));
        assert!(filter_covers("a/#", "a/b/+"));
        assert!(filter_covers("+/b", "x/b"));
        assert!(!filter_covers("+/b", "#"));
        assert!(!filter_covers("a/+", "a/+/c"));
        assert!(filter_covers("#", "#"));
        let valid_filter = |f| crate::topic::validate_plain_filter(f).is_ok();
        assert!(valid_filter("a/+/#") && !valid_filter("a/b#") && !valid_filter("#/a"));
    }
}
