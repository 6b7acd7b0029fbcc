//! Password files as `mqtk passwd` edits them: parse into lines (comments, blank
//! lines and CRLF kept), change entries, and replace the file atomically (temporary
//! file in the same directory, fsync, rename, fsync the directory), keeping the old
//! file's mode and owner.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::passwd::hash::{self, Hash, HashError, HashParams};

/// One line, split into content and line end so that untouched lines are written
/// back byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Line {
    content: Vec<u8>,
    /// `b"\n"`, `b"\r\n"`, or empty for a last line without a line end.
    eol: &'static [u8],
    /// `Some((user, password))` for an entry; `None` for a comment or blank line.
    entry: Option<(Vec<u8>, Vec<u8>)>,
}

/// Why a file could not be used or changed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// mosquitto_passwd's words for a line that is not `user:password`.
    #[error("Corrupt password file at line {0}.")]
    Corrupt(usize),
    /// `-U` found a line that starts like a hash but is not a valid one; hashing it
    /// again would lose the original, so nothing is changed.
    #[error("Line {0} looks like a password hash but is not a valid one; not re-hashing it.")]
    MalformedHash(usize),
    #[error("Unable to hash password: {0}")]
    Hash(#[from] HashError),
}

/// A password file in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswdFile {
    lines: Vec<Line>,
}

/// C's `isspace`, which mosquitto's `trimblanks` uses.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Strips C `isspace` bytes from both ends, as mosquitto trims password and ACL
/// file lines (the broker's `auth` reads its files with this too).
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_c_space(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_c_space(b))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

impl PasswdFile {
    /// Parses a file. Lines starting with `#` and blank lines are kept as they are
    /// (the broker skips them); any other line must be `user:password` with both
    /// parts non-empty after trimming blanks, as mosquitto_passwd requires.
    pub fn parse(data: &[u8]) -> Result<PasswdFile, FileError> {
        let mut lines = Vec::new();
        let mut rest = data;
        let mut number = 0;
        while !rest.is_empty() {
            number += 1;
            let (mut content, eol, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], &b"\n"[..], &rest[i + 1..]),
                None => (rest, &b""[..], &rest[rest.len()..]),
            };
            let mut eol: &'static [u8] = if eol.is_empty() { b"" } else { b"\n" };
            if eol == b"\n" && content.last() == Some(&b'\r') {
                content = &content[..content.len() - 1];
                eol = b"\r\n";
            }
            rest = next;
            let entry = if content.first() == Some(&b'#') || trim(content).is_empty() {
                None
            } else {
                let colon = memchr::memchr(b':', content).ok_or(FileError::Corrupt(number))?;
                let user = trim(&content[..colon]);
                let password = trim(&content[colon + 1..]);
                if user.is_empty() || password.is_empty() {
                    return Err(FileError::Corrupt(number));
                }
                Some((user.to_vec(), password.to_vec()))
            };
            lines.push(Line {
                content: content.to_vec(),
                eol,
                entry,
            });
        }
        Ok(PasswdFile { lines })
    }

    /// An empty file (for `-c`).
    pub fn new() -> PasswdFile {
        PasswdFile { lines: Vec::new() }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for line in &self.lines {
            out.extend_from_slice(&line.content);
            out.extend_from_slice(line.eol);
        }
        out
    }

    /// The line end new lines get: the first one the file uses, else `\n`.
    fn eol_style(&self) -> &'static [u8] {
        self.lines
            .iter()
            .map(|l| l.eol)
            .find(|e| !e.is_empty())
            .unwrap_or(b"\n")
    }

    fn entry_line(user: &[u8], hash: &Hash, eol: &'static [u8]) -> Line {
        let mut content = user.to_vec();
        content.push(b':');
        content.extend_from_slice(hash.encode().as_bytes());
        Line {
            entry: Some((user.to_vec(), hash.encode().into_bytes())),
            content,
            eol,
        }
    }

    /// Sets `user`'s password: every line for `user` gets a fresh hash (as
    /// mosquitto 2.0 does, so no stale duplicate keeps the old password), or a new
    /// line is appended. Returns whether the user existed.
    pub fn set(
        &mut self,
        user: &[u8],
        params: &HashParams,
        password: &[u8],
    ) -> Result<bool, FileError> {
        let mut found = false;
        for line in &mut self.lines {
            if line.entry.as_ref().is_some_and(|(u, _)| u == user) {
                let hash = Hash::create(params, password)?;
                *line = PasswdFile::entry_line(user, &hash, line.eol);
                found = true;
            }
        }
        if !found {
            let eol = self.eol_style();
            // A last line without a line end must get one, or the new entry would
            // be glued onto it.
            if let Some(last) = self.lines.last_mut()
                && last.eol.is_empty()
            {
                last.eol = eol;
            }
            let hash = Hash::create(params, password)?;
            self.lines.push(PasswdFile::entry_line(user, &hash, eol));
        }
        Ok(found)
    }

    /// Removes every line for `user`. Returns whether there was one.
    pub fn delete(&mut self, user: &[u8]) -> bool {
        let before = self.lines.len();
        self.lines
            .retain(|l| l.entry.as_ref().is_none_or(|(u, _)| u != user));
        self.lines.len() != before
    }

    /// The stored password field of `user` (first line), if any.
    pub fn get(&self, user: &[u8]) -> Option<&[u8]> {
        self.lines.iter().find_map(|l| match &l.entry {
            Some((u, p)) if u == user => Some(p.as_slice()),
            _ => None,
        })
    }

    /// `-U`: hashes every plain-text password, on up to `threads` threads. Lines that
    /// hold a valid hash are left alone (mosquitto would hash the hash, locking the
    /// user out); a line that looks like a hash but does not parse stops everything.
    /// Returns (lines hashed, lines already hashed).
    pub fn hash_plain(
        &mut self,
        params: &HashParams,
        threads: usize,
    ) -> Result<(usize, usize), FileError> {
        let mut todo = Vec::new();
        let mut already = 0;
        for (i, line) in self.lines.iter().enumerate() {
            if let Some((_, password)) = &line.entry {
                if hash::looks_hashed(password) {
                    if Hash::parse(password).is_err() {
                        return Err(FileError::MalformedHash(i + 1));
                    }
                    already += 1;
                } else {
                    todo.push(i);
                }
            }
        }
        let threads = threads.clamp(1, todo.len().max(1));
        let chunk = todo.len().div_ceil(threads).max(1);
        let lines = &self.lines;
        let hashed: Vec<Result<Vec<(usize, Hash)>, HashError>> = std::thread::scope(|s| {
            let handles: Vec<_> = todo
                .chunks(chunk)
                .map(|idxs| {
                    s.spawn(move || {
                        idxs.iter()
                            .map(|&i| {
                                let (_, password) = lines[i].entry.as_ref().expect("entry line");
                                Hash::create(params, password).map(|h| (i, h))
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("hashing thread panicked"))
                .collect()
        });
        for part in hashed {
            for (i, hash) in part? {
                let line = &self.lines[i];
                let user = line.entry.as_ref().expect("entry line").0.clone();
                self.lines[i] = PasswdFile::entry_line(&user, &hash, line.eol);
            }
        }
        Ok((todo.len(), already))
    }
}

impl Default for PasswdFile {
    fn default() -> PasswdFile {
        PasswdFile::new()
    }
}

/// What `replace` needs to say when it fails.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("Unable to create temporary file in {dir}: {source}")]
    Temp { dir: String, source: io::Error },
    #[error("Unable to write temporary file {path}: {source}")]
    Write { path: String, source: io::Error },
    #[error("Unable to keep the owner of {path} ({source}); file left unchanged")]
    Owner { path: String, source: io::Error },
    #[error("Unable to replace {path}: {source}")]
    Rename { path: String, source: io::Error },
}

/// The whole of an opened password (or ACL) file. A device or a pipe (/dev/zero,
/// /dev/full) never ends and cannot be rewritten in place: it is refused with the
/// error "Not a regular file" rather than read until memory runs out.
pub fn read_regular(f: &mut File) -> io::Result<Vec<u8>> {
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "Not a regular file",
        ));
    }
    let mut data = Vec::new();
    f.read_to_end(&mut data)?;
    Ok(data)
}

/// Replaces `path` with `contents` so that at every moment `path` holds either the
/// old bytes or the new ones, whole:
/// 1. write a new file (mode 0600 from the start) next to the target, fsync it;
/// 2. give it the old file's mode and owner (a new file stays 0600);
/// 3. rename it over the target, then fsync the directory so the rename is durable.
///
/// A symlink is followed, so the link stays and its target is replaced.
pub fn replace(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    let target: PathBuf = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "passwd".into());
    let old = fs::metadata(&target).ok();

    let (tmp_path, mut tmp) = create_temp(&dir, &name).map_err(|source| WriteError::Temp {
        dir: dir.display().to_string(),
        source,
    })?;
    let cleanup = |e| {
        let _ = fs::remove_file(&tmp_path);
        e
    };
    let tmp_name = tmp_path.display().to_string();
    let write = |tmp: &mut File| -> io::Result<()> {
        tmp.write_all(contents)?;
        if let Some(meta) = &old {
            tmp.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
        Ok(())
    };
    write(&mut tmp)
        .map_err(|source| WriteError::Write {
            path: tmp_name.clone(),
            source,
        })
        .map_err(cleanup)?;
    if let Some(meta) = &old {
        let tmp_meta = tmp.metadata().map_err(|source| {
            cleanup(WriteError::Write {
                path: tmp_name.clone(),
                source,
            })
        })?;
        if (tmp_meta.uid(), tmp_meta.gid()) != (meta.uid(), meta.gid()) {
            std::os::unix::fs::fchown(&tmp, Some(meta.uid()), Some(meta.gid())).map_err(
                |source| {
                    cleanup(WriteError::Owner {
                        path: target.display().to_string(),
                        source,
                    })
                },
            )?;
            // chown may clear set-id bits; put the mode back.
            tmp.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(|source| {
                    cleanup(WriteError::Write {
                        path: tmp_name.clone(),
                        source,
                    })
                })?;
        }
    }
    tmp.sync_all()
        .map_err(|source| WriteError::Write {
            path: tmp_name.clone(),
            source,
        })
        .map_err(cleanup)?;
    drop(tmp);
    fs::rename(&tmp_path, &target)
        .map_err(|source| WriteError::Rename {
            path: target.display().to_string(),
            source,
        })
        .map_err(cleanup)?;
    // The new name is in place; make the directory entry durable too. A failure
    // here cannot be undone and the file is already whole, so it is not an error.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates `.NAME.mqtk-XXXXXXXXXXXX` in `dir`, exclusively, mode 0600.
fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..16 {
        let mut r = [0u8; 6];
        getrandom::fill(&mut r).map_err(|e| io::Error::other(e.to_string()))?;
        let suffix: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join(format!(".{name}.mqtk-{suffix}"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passwd::hash::HashKind;

    fn fast() -> HashParams {
        HashParams {
            kind: HashKind::Sha512Pbkdf2,
            iterations: 1,
            salt_len: 12,
        }
    }

    #[test]
    fn comments_blank_lines_and_crlf_survive_edits() {
        let src = b"# users\r\n\r\nalice:plain\r\nbob:$6$x$y\r\n";
        let mut f = PasswdFile::parse(src).unwrap();
        assert_eq!(f.to_bytes(), src);
        assert!(!f.set(b"carol", &fast(), b"pw").unwrap());
        let out = f.to_bytes();
        assert!(out.starts_with(b"# users\r\n\r\nalice:plain\r\nbob:$6$x$y\r\ncarol:$7$1$"));
        assert!(out.ends_with(b"\r\n"));
        assert!(f.delete(b"bob"));
        assert!(!f.delete(b"bob"));
        let again = PasswdFile::parse(&f.to_bytes()).unwrap();
        assert!(again.get(b"bob").is_none());
        assert!(
            Hash::parse(again.get(b"carol").unwrap())
                .unwrap()
                .verify(b"pw")
        );
    }

    #[test]
    fn set_returns_false_for_new_users_and_fixes_a_missing_last_newline() {
        let mut f = PasswdFile::parse(b"a:x").unwrap();
        assert!(!f.set(b"b", &fast(), b"p").unwrap());
        let out = f.to_bytes();
        assert!(
            out.starts_with(b"a:x\nb:$7$"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn set_updates_every_duplicate() {
        let mut f = PasswdFile::parse(b"u:a\nv:b\nu:c\n").unwrap();
        assert!(f.set(b"u", &fast(), b"new").unwrap());
        let g = PasswdFile::parse(&f.to_bytes()).unwrap();
        let hashes: Vec<_> = g
            .lines
            .iter()
            .filter_map(|l| l.entry.clone())
            .filter(|(u, _)| u == b"u")
            .collect();
        assert_eq!(hashes.len(), 2);
        for (_, h) in hashes {
            assert!(Hash::parse(&h).unwrap().verify(b"new"));
        }
    }

    #[test]
    fn corrupt_lines_are_reported_like_mosquitto() {
        assert!(matches!(
            PasswdFile::parse(b"ok:x\nnocolon\n"),
            Err(FileError::Corrupt(2))
        ));
        assert!(matches!(
            PasswdFile::parse(b" :x\n"),
            Err(FileError::Corrupt(1))
        ));
        assert!(matches!(
            PasswdFile::parse(b"u: \n"),
            Err(FileError::Corrupt(1))
        ));
    }

    #[test]
    fn hash_plain_skips_hashed_lines_and_keeps_colons_in_passwords() {
        let hashed = Hash::create(&fast(), b"old").unwrap().encode();
        let src = format!("# c\nu1:pa:ss\nu2:{hashed}\n\nu3: spaced \n");
        let mut f = PasswdFile::parse(src.as_bytes()).unwrap();
        assert_eq!(f.hash_plain(&fast(), 3).unwrap(), (2, 1));
        let g = PasswdFile::parse(&f.to_bytes()).unwrap();
        assert!(Hash::parse(g.get(b"u1").unwrap()).unwrap().verify(b"pa:ss"));
        assert_eq!(g.get(b"u2").unwrap(), hashed.as_bytes());
        assert!(
            Hash::parse(g.get(b"u3").unwrap())
                .unwrap()
                .verify(b"spaced")
        );
        assert!(g.to_bytes().starts_with(b"# c\n"));
        // Running it again changes nothing.
        let before = g.to_bytes();
        let mut g2 = g.clone();
        assert_eq!(g2.hash_plain(&fast(), 2).unwrap(), (0, 3));
        assert_eq!(g2.to_bytes(), before);
    }

    #[test]
    fn hash_plain_refuses_broken_hashes() {
        let mut f = PasswdFile::parse(b"a:plain\nb:$7$101$short$x\n").unwrap();
        assert!(matches!(
            f.hash_plain(&fast(), 1),
            Err(FileError::MalformedHash(2))
        ));
    }

    #[test]
    fn replace_keeps_mode_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        fs::write(&p, b"old\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        replace(&p, b"new\n").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new\n");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o640);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // New files are 0600.
        let q = dir.path().join("fresh");
        replace(&q, b"x\n").unwrap();
        assert_eq!(fs::metadata(&q).unwrap().mode() & 0o7777, 0o600);
    }

    #[test]
    fn replace_keeps_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        fs::write(&p, b"old\n").unwrap();
        // Only root can give a file away; elsewhere there is nothing to keep.
        if std::os::unix::fs::chown(&p, Some(65534), Some(65534)).is_err() {
            eprintln!("skipping: not allowed to chown (not root)");
            return;
        }
        fs::set_permissions(&p, fs::Permissions::from_mode(0o604)).unwrap();
        replace(&p, b"new\n").unwrap();
        let meta = fs::metadata(&p).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
        assert_eq!(meta.mode() & 0o7777, 0o604);
        assert_eq!(fs::read(&p).unwrap(), b"new\n");
    }

    #[test]
    fn replace_follows_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        let link = dir.path().join("link");
        fs::write(&real, b"old\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        replace(&link, b"new\n").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new\n");
    }
}
