//! `mqtk passwd`: mosquitto_passwd, with its prompts, messages and exit codes, and
//! safer file handling (atomic replace, comments kept, no double hashing).

use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;

use crate::cli::passwd::{Action, ParseError, PasswdArgs, Target, usage};
use crate::exit::{self, Error, strerror};
use crate::passwd::file::{FileError, PasswdFile, WriteError, replace};
use crate::passwd::hash::{Hash, HashParams};

pub fn run(args: PasswdArgs) -> Result<u8, Error> {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let as_mosquitto = crate::cli::invoked_as(&argv0) == Some("mosquitto_passwd");
    let inv = match args.parse(as_mosquitto) {
        Ok(inv) => inv,
        Err(ParseError::Usage) => {
            let tool = if as_mosquitto {
                "mosquitto_passwd"
            } else {
                "mqtk passwd"
            };
            super::print_out(&usage(tool));
            return Ok(exit::FAILURE);
        }
        Err(ParseError::Error(msg)) => return Err(Error::Usage(msg)),
    };
    let params = inv.hash;
    // mosquitto resolves the file name first (realpath); only "does not exist" is
    // let through.
    let file = match &inv.action {
        Action::Create {
            target: Target::File(f),
            ..
        }
        | Action::Set { file: f, .. }
        | Action::Delete { file: f, .. }
        | Action::Update { file: f }
        | Action::Verify { file: f, .. } => Some(f),
        Action::Create {
            target: Target::Stdout,
            ..
        } => None,
    };
    if let Some(Err(e)) = file.map(fs::canonicalize)
        && e.kind() != io::ErrorKind::NotFound
    {
        super::print_err(&format!("Error reading password file: {}\n", strerror(&e)));
        return Ok(exit::FAILURE);
    }
    match inv.action {
        Action::Create {
            target,
            user,
            password,
        } => create(&params, target, &user, password),
        Action::Set {
            file,
            user,
            password,
        } => set(&params, &file, &user, password),
        Action::Delete { file, user } => delete(&file, &user),
        Action::Update { file } => update(&params, &file),
        Action::Verify {
            file,
            user,
            password,
        } => verify(&file, &user, password),
    }
}

/// The name mosquitto prints: `realpath(file)` when that works, else the argument.
fn shown(file: &Path) -> String {
    fs::canonicalize(file)
        .unwrap_or_else(|_| file.to_path_buf())
        .display()
        .to_string()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Opens an existing file the way mosquitto_passwd does (`r+`: it must be readable
/// and writable), reads it through that handle, and parses it.
fn load(file: &Path, writable: bool) -> Result<PasswdFile, Error> {
    let open_err = |e: io::Error| {
        Error::Failed(format!(
            "Unable to open password file {}. {}.",
            shown(file),
            strerror(&e)
        ))
    };
    let mut f = OpenOptions::new()
        .read(true)
        .write(writable)
        .open(file)
        .map_err(open_err)?;
    let data = crate::passwd::file::read_regular(&mut f).map_err(open_err)?;
    PasswdFile::parse(&data).map_err(file_error)
}

fn file_error(e: FileError) -> Error {
    Error::Failed(e.to_string())
}

fn write_error(e: WriteError) -> Error {
    Error::Failed(e.to_string())
}

/// Either the password given with -b, or one asked for on the terminal. `Err` is
/// the exit status after the message has been printed.
fn password_or_ask(password: Option<Vec<u8>>, reenter: bool) -> Result<Vec<u8>, u8> {
    match password {
        Some(p) => Ok(p),
        None => ask(reenter),
    }
}

/// mosquitto's `get_password`: "Password: " (and "Reenter password: "), no echo,
/// prompts on stdout. Like mosquitto, a stdin that is not a terminal is read as
/// lines, so `printf 'pw\npw\n' | mqtk passwd -c f user` works.
fn ask(reenter: bool) -> Result<Vec<u8>, u8> {
    let first = read_one("Password: ").ok_or_else(empty)?;
    if reenter {
        let second = read_one("Reenter password: ").ok_or_else(empty)?;
        if first != second {
            super::print_err("Error: Passwords do not match.\n");
            return Err(exit::PASSWD_MISMATCH);
        }
    }
    Ok(first)
}

fn empty() -> u8 {
    super::print_err("Error: Empty password.\n");
    exit::FAILURE
}

/// One password, or `None` when it is empty or input ended.
fn read_one(prompt: &str) -> Option<Vec<u8>> {
    let password = if io::stdin().is_terminal() {
        // rpassword turns the terminal's ISIG off and raises SIGINT itself on Ctrl-C;
        // with the default action the process would die before putting echo back.
        // With a handler installed (tokio's, for the rest of this short-lived
        // process), raise() returns, rpassword restores the terminal and reports
        // Interrupted, which ends the command like an empty password.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .ok();
        let _enter = rt.as_ref().map(|rt| rt.enter());
        let _sigint = rt.as_ref().and_then(|_| {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok()
        });
        // The terminal echoes nothing; rpassword writes the newline after Enter.
        let config = rpassword::ConfigBuilder::new()
            .output_writer(io::stdout())
            .build();
        rpassword::prompt_password_with_config(prompt, config)
            .ok()?
            .into_bytes()
    } else {
        super::print_out(prompt);
        let mut line = Vec::new();
        io::stdin().lock().read_until(b'\n', &mut line).ok()?;
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if !line.is_empty() {
            super::print_out("\n");
        }
        line
    };
    (!password.is_empty()).then_some(password)
}

fn create(
    params: &HashParams,
    target: Target,
    user: &[u8],
    password: Option<Vec<u8>>,
) -> Result<u8, Error> {
    let password = match password_or_ask(password, true) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let mut f = PasswdFile::new();
    f.set(user, params, &password).map_err(file_error)?;
    match target {
        Target::Stdout => {
            io::stdout()
                .write_all(&f.to_bytes())
                .and_then(|_| io::stdout().flush())
                .map_err(|e| Error::io("stdout", e))?;
        }
        Target::File(file) => {
            let cannot = |e: &io::Error| {
                Error::Failed(format!(
                    "Unable to open file {} for writing. {}.",
                    shown(&file),
                    strerror(e)
                ))
            };
            // mosquitto opens the file for writing; an existing file we may not
            // write is refused the same way, before anything changes.
            if file.exists() {
                OpenOptions::new()
                    .write(true)
                    .open(&file)
                    .map_err(|e| cannot(&e))?;
            }
            replace(&file, &f.to_bytes()).map_err(|e| match &e {
                WriteError::Temp { source, .. } => cannot(source),
                _ => write_error(e),
            })?;
        }
    }
    Ok(exit::OK)
}

fn set(
    params: &HashParams,
    file: &Path,
    user: &[u8],
    password: Option<Vec<u8>>,
) -> Result<u8, Error> {
    let mut f = load(file, true)?;
    let password = match password_or_ask(password, true) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    f.set(user, params, &password).map_err(file_error)?;
    replace(file, &f.to_bytes()).map_err(write_error)?;
    Ok(exit::OK)
}

fn delete(file: &Path, user: &[u8]) -> Result<u8, Error> {
    let mut f = load(file, true)?;
    if !f.delete(user) {
        super::print_err(&format!(
            "Warning: User {} not found in password file.\n",
            lossy(user)
        ));
        return Ok(exit::FAILURE);
    }
    replace(file, &f.to_bytes()).map_err(write_error)?;
    Ok(exit::OK)
}

fn update(params: &HashParams, file: &Path) -> Result<u8, Error> {
    let mut f = load(file, true)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (hashed, already) = f.hash_plain(params, threads).map_err(file_error)?;
    if hashed > 0 {
        replace(file, &f.to_bytes()).map_err(write_error)?;
    }
    if already > 0 {
        super::print_err(&format!(
            "Warning: {already} line(s) already hashed, left unchanged (mosquitto_passwd would hash them again).\n"
        ));
    }
    Ok(exit::OK)
}

fn verify(file: &Path, user: &[u8], password: Option<Vec<u8>>) -> Result<u8, Error> {
    let f = load(file, false)?;
    let Some(stored) = f.get(user) else {
        return Err(Error::Failed(format!(
            "User {} not found in password file.",
            lossy(user)
        )));
    };
    let hash = Hash::parse(stored).map_err(|e| {
        Error::Failed(format!(
            "Unusable password hash for user {}: {e}.",
            lossy(user)
        ))
    })?;
    let password = match password_or_ask(password, false) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    if hash.verify(&password) {
        Ok(exit::OK)
    } else {
        Err(Error::Failed("Password does not match.".into()))
    }
}
