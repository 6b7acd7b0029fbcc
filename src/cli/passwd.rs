//! `mqtk passwd` arguments, parsed with mosquitto_passwd's own grammar: flags only
//! before the password file, each flag a separate word, anything unknown ends the
//! flags. clap only collects the words; `PasswdArgs::parse` reads them.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::passwd::hash::{HashKind, HashParams, PBKDF2_ITERATIONS, SALT_LEN_V20};

/// mosquitto_passwd's usage text (2.0), with mqtk's additions (argon2id, -I,
/// --verify) in the same style, under the name the tool was run by: `mosquitto_passwd`
/// (its first line then is mosquitto's) or `mqtk passwd`. Printed on stdout, exit
/// status 1, as mosquitto.
pub fn usage(tool: &str) -> String {
    let head = if tool == "mosquitto_passwd" {
        "mosquitto_passwd is a tool for managing password files for mosquitto."
    } else {
        "mqtk passwd manages password files for mosquitto and mqtk broker."
    };
    format!("{head}\n\n{}", USAGE_BODY.replace("{tool}", tool))
}

/// The usage after its first line; `{tool}` is the name.
const USAGE_BODY: &str = "\
Usage: {tool} [-H sha512 | -H sha512-pbkdf2 | -H argon2id] [-I iterations] [-c | -D] passwordfile username
       {tool} [-H sha512 | -H sha512-pbkdf2 | -H argon2id] [-I iterations] [-c] -b passwordfile username password
       {tool} -U passwordfile
       {tool} --verify [-b] passwordfile username [password]
 -b : run in batch mode to allow passing passwords on the command line.
 -c : create a new password file. This will overwrite existing files.
      With -b, a passwordfile of - writes the line to standard output.
 -D : delete the username rather than adding/updating its password.
 -H : specify the hashing algorithm. Defaults to sha512-pbkdf2, which is recommended.
      Mosquitto 1.6 and earlier defaulted to sha512.
      argon2id is stronger, but only mosquitto 2.1 and mqtk broker read it.
 -I : PBKDF2 iterations for sha512-pbkdf2 (default 1000, as mosquitto 2.1;
      mosquitto 2.0 wrote 101, and reads any count).
 -U : update a plain text password file to use hashed passwords.
      Lines that are already hashed are left as they are.
 --verify : check a user's password; exit status 0 if it matches, 1 if not.

See https://mosquitto.org/ for more information.

";

/// The words after `passwd`, kept raw so that mosquitto's grammar applies.
#[derive(Debug, clap::Args)]
#[command(
    disable_help_flag = true,
    after_help = "Arguments follow mosquitto_passwd exactly; `mqtk passwd --help` prints its usage.\n\n\
        Hash choice (-H): the default, sha512-pbkdf2 with 1000 iterations (mosquitto \
        2.1's count) and a 12-byte salt, is read by mosquitto 2.0 and 2.1 alike (2.1 \
        writes a 64-byte salt, which mosquitto 2.0.11 (Debian 12) refuses). Stronger \
        choices: `-I N` with more PBKDF2 iterations keeps that format; `-H argon2id` \
        (mosquitto 2.1's parameters: t=1, \
        m=47104 KiB, p=1) is read only by mosquitto 2.1 and mqtk broker. -H sha512 is \
        mosquitto 1.x's single-round salted SHA-512, for old brokers only.\n\n\
        Beyond mosquitto_passwd: -U leaves already-hashed lines alone (mosquitto would \
        hash the hash), --verify checks a password, files are replaced atomically \
        (temporary file, fsync, rename) keeping their mode and owner, and comments, \
        blank lines and CRLF line ends are kept."
)]
pub struct PasswdArgs {
    /// [-H sha512|sha512-pbkdf2|argon2id] [-I iterations] [-c | -D | -U | --verify] [-b] passwordfile [username [password]]
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..,
        value_name = "ARGS"
    )]
    pub args: Vec<OsString>,
}

/// Where `-c` writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    File(PathBuf),
    /// `-c -b - user password` (mosquitto 2.1): the line goes to stdout.
    Stdout,
}

/// What to do, after mosquitto's checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `-c`: write a new file with one user.
    Create {
        target: Target,
        user: Vec<u8>,
        password: Option<Vec<u8>>,
    },
    /// Add or update one user in an existing file.
    Set {
        file: PathBuf,
        user: Vec<u8>,
        password: Option<Vec<u8>>,
    },
    /// `-D`.
    Delete { file: PathBuf, user: Vec<u8> },
    /// `-U`.
    Update { file: PathBuf },
    /// `--verify`.
    Verify {
        file: PathBuf,
        user: Vec<u8>,
        password: Option<Vec<u8>>,
    },
}

/// A parsed command line. `password: None` means "ask on the terminal".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub hash: HashParams,
    pub action: Action,
}

/// Why the words were refused. `Usage` prints the usage text (exit 1); `Error`
/// carries mosquitto's message without the leading "Error: ".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    Usage,
    Error(String),
}

impl PasswdArgs {
    /// Parses as mosquitto_passwd's `main` does, in the same order, with the same words.
    /// `as_mosquitto`: run as `mosquitto_passwd`, where `--help` is no option (alone it
    /// gets the usage, as any wrong word count does; `--help USER` names a password
    /// file `--help`, as there). Under mqtk's name `--help` among the options prints
    /// the usage.
    pub fn parse(&self, as_mosquitto: bool) -> Result<Invocation, ParseError> {
        parse(&self.args, !as_mosquitto)
    }
}

fn err<T>(msg: &str) -> Result<T, ParseError> {
    Err(ParseError::Error(msg.to_string()))
}

fn bytes(s: &OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

/// C's `atoi`: optional blanks and sign, then digits up to the first non-digit;
/// clamped to `int` range instead of overflowing.
fn atoi(s: &[u8]) -> i64 {
    let s = s.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &d in digits.iter().take_while(|b| b.is_ascii_digit()) {
        n = (n * 10 + i64::from(d - b'0')).min(i64::from(i32::MAX) + 1);
    }
    if neg { -n } else { n.min(i64::from(i32::MAX)) }
}

/// The flags before the password file, as mosquitto_passwd's `main` reads them.
struct Flags {
    kind: HashKind,
    /// `-I`, as `atoi` read it (checked > 0).
    iterations: i64,
    batch: bool,
    create: bool,
    delete: bool,
    update: bool,
    verify: bool,
}

/// Parses mosquitto_passwd's words in its order: flags, their conflicts, the words
/// the mode needs, then the user name's and password's limits. `help_option`: `--help`
/// among the flags prints the usage (mqtk's name only).
pub fn parse(args: &[OsString], help_option: bool) -> Result<Invocation, ParseError> {
    if args.is_empty() {
        return Err(ParseError::Usage);
    }
    let (flags, idx) = read_flags(args, help_option)?;
    check_exclusive(&flags)?;
    let action = action(&flags, &args[idx..])?;
    check_user_and_password(&action)?;
    Ok(Invocation {
        hash: HashParams {
            kind: flags.kind,
            iterations: u32::try_from(flags.iterations).unwrap_or(u32::MAX),
            salt_len: SALT_LEN_V20,
        },
        action,
    })
}

/// Reads flags up to the first word that is not one; returns them and that word's
/// index.
fn read_flags(args: &[OsString], help_option: bool) -> Result<(Flags, usize), ParseError> {
    let mut f = Flags {
        kind: HashKind::Sha512Pbkdf2,
        iterations: i64::from(PBKDF2_ITERATIONS),
        batch: false,
        create: false,
        delete: false,
        update: false,
        verify: false,
    };
    let mut idx = 0;
    while idx < args.len() {
        match bytes(&args[idx]).as_slice() {
            b"-H" => {
                let Some(name) = args.get(idx + 1) else {
                    return err("-H argument given but not enough other arguments.");
                };
                f.kind = match HashKind::from_name(&bytes(name)) {
                    Some(k) => k,
                    None => {
                        return Err(ParseError::Error(format!(
                            "Unknown hash type '{}'",
                            name.to_string_lossy()
                        )));
                    }
                };
                idx += 1;
            }
            b"-b" => f.batch = true,
            b"-c" => f.create = true,
            b"-D" => f.delete = true,
            b"-I" => {
                let Some(n) = args.get(idx + 1) else {
                    return err("-I argument given but not enough other arguments.");
                };
                f.iterations = atoi(&bytes(n));
                idx += 1;
                if f.iterations < 1 {
                    return err("Number of iterations must be > 0.");
                }
            }
            b"-U" => f.update = true,
            b"--verify" => f.verify = true,
            b"--help" if help_option => return Err(ParseError::Usage),
            _ => break,
        }
        idx += 1;
    }
    Ok((f, idx))
}

/// The modes that cannot be combined, in mosquitto's order of checking.
fn check_exclusive(f: &Flags) -> Result<(), ParseError> {
    if f.create && f.delete {
        return err("-c and -D cannot be used together.");
    }
    if f.create && f.update {
        return err("-c and -U cannot be used together.");
    }
    if f.delete && f.update {
        return err("-D and -U cannot be used together.");
    }
    if f.delete && f.batch {
        return err("-b and -D cannot be used together.");
    }
    for (set, flag) in [(f.create, "-c"), (f.delete, "-D"), (f.update, "-U")] {
        if f.verify && set {
            return Err(ParseError::Error(format!(
                "--verify and {flag} cannot be used together."
            )));
        }
    }
    Ok(())
}

/// What the mode and the words after the flags (`rest`: file, user, password) ask
/// for; a wrong word count is mosquitto's error for the mode, or the usage.
fn action(f: &Flags, rest: &[OsString]) -> Result<Action, ParseError> {
    let path = |s: &OsString| PathBuf::from(s);
    Ok(if f.create {
        if f.batch {
            if rest.len() < 3 {
                return err("-c argument given but password file, username, or password missing.");
            }
        } else if rest.len() < 2 {
            return err("-c argument given but password file or username missing.");
        }
        let target = if rest[0] == "-" {
            Target::Stdout
        } else {
            Target::File(path(&rest[0]))
        };
        Action::Create {
            target,
            user: bytes(&rest[1]),
            password: f.batch.then(|| bytes(&rest[2])),
        }
    } else if f.delete {
        if rest.len() < 2 {
            return err("-D argument given but password file or username missing.");
        }
        Action::Delete {
            file: path(&rest[0]),
            user: bytes(&rest[1]),
        }
    } else if f.update {
        if rest.len() != 1 {
            return err("-U argument given but password file missing.");
        }
        Action::Update {
            file: path(&rest[0]),
        }
    } else if (f.batch && rest.len() == 3) || (!f.batch && rest.len() == 2) {
        let (file, user, password) = (
            path(&rest[0]),
            bytes(&rest[1]),
            f.batch.then(|| bytes(&rest[2])),
        );
        if f.verify {
            Action::Verify {
                file,
                user,
                password,
            }
        } else {
            Action::Set {
                file,
                user,
                password,
            }
        }
    } else {
        return Err(ParseError::Usage);
    })
}

/// The user name's and the batch password's limits, as mosquitto_passwd checks them.
fn check_user_and_password(action: &Action) -> Result<(), ParseError> {
    let (user, password) = match action {
        Action::Create { user, password, .. }
        | Action::Set { user, password, .. }
        | Action::Verify { user, password, .. } => (Some(user), password.as_ref()),
        Action::Delete { user, .. } => (Some(user), None),
        Action::Update { .. } => (None, None),
    };
    if let Some(user) = user {
        check_username(user)?;
    }
    if password.is_some_and(|p| p.len() > 65535) {
        return err("Password must be less than 65536 characters long.");
    }
    Ok(())
}

/// mosquitto's `is_username_valid`: at most 65535 bytes, no control characters
/// (C `iscntrl`: 0x00–0x1f and 0x7f), no ':' (the field separator).
fn check_username(user: &[u8]) -> Result<(), ParseError> {
    if user.len() > 65535 {
        return err("Username must be less than 65536 characters long.");
    }
    if user.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return err("Username must not contain control characters.");
    }
    if user.contains(&b':') {
        return err("Username must not contain the ':' character.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<Invocation, ParseError> {
        parse(&v.iter().map(OsString::from).collect::<Vec<_>>(), true)
    }

    #[test]
    fn help_is_an_option_only_under_mqtks_name() {
        let words = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(p(&["--help", "u"]), Err(ParseError::Usage));
        assert_eq!(parse(&words(&["--help"]), false), Err(ParseError::Usage));
        assert_eq!(
            parse(&words(&["--help", "u"]), false).map(|i| i.action),
            Ok(Action::Set {
                file: PathBuf::from("--help"),
                user: b"u".to_vec(),
                password: None
            })
        );
    }

    fn e(msg: &str) -> Result<Invocation, ParseError> {
        Err(ParseError::Error(msg.into()))
    }

    #[test]
    fn mosquitto_errors_in_mosquitto_order() {
        assert_eq!(p(&[]), Err(ParseError::Usage));
        assert_eq!(
            p(&["-c", "-D", "f", "u"]),
            e("-c and -D cannot be used together.")
        );
        assert_eq!(
            p(&["-c", "-U", "f"]),
            e("-c and -U cannot be used together.")
        );
        assert_eq!(
            p(&["-D", "-U", "f"]),
            e("-D and -U cannot be used together.")
        );
        assert_eq!(
            p(&["-b", "-D", "f", "u"]),
            e("-b and -D cannot be used together.")
        );
        assert_eq!(
            p(&["-H"]),
            e("-H argument given but not enough other arguments.")
        );
        assert_eq!(p(&["-H", "md5", "f", "u"]), e("Unknown hash type 'md5'"));
        assert_eq!(
            p(&["-I"]),
            e("-I argument given but not enough other arguments.")
        );
        assert_eq!(
            p(&["-I", "abc", "f", "u"]),
            e("Number of iterations must be > 0.")
        );
        assert_eq!(
            p(&["-I", "0", "f", "u"]),
            e("Number of iterations must be > 0.")
        );
        assert_eq!(
            p(&["-c", "f"]),
            e("-c argument given but password file or username missing.")
        );
        assert_eq!(
            p(&["-c", "-b", "f", "u"]),
            e("-c argument given but password file, username, or password missing.")
        );
        assert_eq!(
            p(&["-D", "f"]),
            e("-D argument given but password file or username missing.")
        );
        assert_eq!(
            p(&["-U"]),
            e("-U argument given but password file missing.")
        );
        assert_eq!(
            p(&["-U", "f", "g"]),
            e("-U argument given but password file missing.")
        );
        assert_eq!(p(&["-b", "f", "u"]), Err(ParseError::Usage));
        assert_eq!(p(&["--help"]), Err(ParseError::Usage));
        assert_eq!(p(&["-h"]), Err(ParseError::Usage));
        assert_eq!(p(&["-cb", "f", "u", "p"]), Err(ParseError::Usage));
        assert_eq!(
            p(&["-c", "-b", "f", "a:b", "p"]),
            e("Username must not contain the ':' character.")
        );
        assert_eq!(
            p(&["-c", "-b", "f", "a\tb", "p"]),
            e("Username must not contain control characters.")
        );
    }

    #[test]
    fn flags_are_read_only_before_the_file_name() {
        // mosquitto: `f -c u` is three positionals, which is no valid form.
        assert_eq!(p(&["f", "-c", "u"]), Err(ParseError::Usage));
        // ...and a password may start with '-'.
        let inv = p(&["-b", "f", "u", "-c"]).unwrap();
        assert_eq!(
            inv.action,
            Action::Set {
                file: "f".into(),
                user: b"u".to_vec(),
                password: Some(b"-c".to_vec())
            }
        );
    }

    #[test]
    fn forms_and_defaults() {
        let inv = p(&["-c", "-b", "-", "u", "pw"]).unwrap();
        assert_eq!(inv.hash, HashParams::default());
        assert_eq!(
            inv.action,
            Action::Create {
                target: Target::Stdout,
                user: b"u".to_vec(),
                password: Some(b"pw".to_vec())
            }
        );
        let inv = p(&["-H", "argon2id", "-I", "5x", "-c", "f", "u"]).unwrap();
        assert_eq!(inv.hash.kind, HashKind::Argon2id);
        assert_eq!(inv.hash.iterations, 5);
        assert!(matches!(inv.action, Action::Create { password: None, .. }));
        assert_eq!(
            p(&["--verify", "-b", "f", "u", "p"]).unwrap().action,
            Action::Verify {
                file: "f".into(),
                user: b"u".to_vec(),
                password: Some(b"p".to_vec())
            }
        );
        assert_eq!(
            p(&["--verify", "-c", "f", "u"]),
            e("--verify and -c cannot be used together.")
        );
        // Extra words after -c/-D forms are ignored, as mosquitto does.
        assert!(p(&["-D", "f", "u", "extra"]).is_ok());
    }

    #[test]
    fn long_names_and_passwords() {
        let long = "a".repeat(65536);
        assert_eq!(
            p(&["-c", "-b", "f", &long, "p"]),
            e("Username must be less than 65536 characters long.")
        );
        assert_eq!(
            p(&["-c", "-b", "f", "u", &long]),
            e("Password must be less than 65536 characters long.")
        );
        assert!(p(&["-c", "-b", "f", &long[1..], &long[1..]]).is_ok());
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi(b"12"), 12);
        assert_eq!(atoi(b" 7x"), 7);
        assert_eq!(atoi(b"x7"), 0);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(atoi(b"99999999999999"), i64::from(i32::MAX));
    }
}
