//! Password hashes as mosquitto stores them: `$6$` (salted SHA-512), `$7$`
//! (PBKDF2-HMAC-SHA512) and `$argon2id$` (PHC string, mosquitto 2.1): create,
//! parse, encode byte-exactly, and verify in constant time.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use sha2::{Digest, Sha512};

/// Length of every `$6$`/`$7$` hash (a SHA-512 digest or a 64-byte PBKDF2 key).
pub const HASH_LEN: usize = 64;
/// Salt length mosquitto 2.0 writes, and the only one 2.0.11 accepts (it drops
/// entries with any other salt length; checked against /usr/sbin/mosquitto).
pub const SALT_LEN_V20: usize = 12;
/// Salt length mosquitto 2.1 writes (EVP_MAX_MD_SIZE). 2.1 accepts 12 or 64.
pub const SALT_LEN_V21: usize = 64;
/// The PBKDF2 iteration count mosquitto 2.1 writes (`PW_DEFAULT_ITERATIONS` in
/// libcommon/password_common.c); 2.0 wrote 101. 2.0.11 reads any count from the hash.
pub const PBKDF2_ITERATIONS: u32 = 1000;
/// mosquitto 2.1's argon2id parameters (`MOSQ_ARGON2_T/M/P`), with 64-byte salt and hash.
pub const ARGON2_T_COST: u32 = 1;
pub const ARGON2_M_COST: u32 = 47104;
pub const ARGON2_P_COST: u32 = 1;
/// A password file is trusted configuration, but one bad line must not make every
/// login allocate without bound: argon2 memory above 4 GiB is refused at load time.
const ARGON2_MAX_M_COST: u32 = 4 * 1024 * 1024;

/// The hash families `-H` can choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashKind {
    /// `$6$`: SHA-512 of password‖salt (mosquitto 1.x).
    Sha512,
    /// `$7$`: PBKDF2-HMAC-SHA512 (mosquitto 2.x default).
    Sha512Pbkdf2,
    /// `$argon2id$`: mosquitto 2.1 only (2.0 rejects it).
    Argon2id,
}

impl HashKind {
    /// The `-H` names mosquitto_passwd uses.
    pub fn from_name(name: &[u8]) -> Option<HashKind> {
        match name {
            b"sha512" => Some(HashKind::Sha512),
            b"sha512-pbkdf2" => Some(HashKind::Sha512Pbkdf2),
            b"argon2id" => Some(HashKind::Argon2id),
            _ => None,
        }
    }
}

/// How a new hash is made: family, PBKDF2 iterations, salt length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashParams {
    pub kind: HashKind,
    /// PBKDF2 rounds; ignored by the other kinds (as mosquitto ignores `-I` for them).
    pub iterations: u32,
    /// Salt bytes for `$6$`/`$7$`; argon2id always uses 64, as mosquitto 2.1.
    pub salt_len: usize,
}

impl Default for HashParams {
    /// The default: `$7$` with mosquitto 2.1's 1000 iterations, and the 12-byte salt
    /// of 2.0, the only salt length mosquitto 2.0.11 (Debian 12) accepts (2.1 writes
    /// 64 bytes and reads both).
    fn default() -> HashParams {
        HashParams {
            kind: HashKind::Sha512Pbkdf2,
            iterations: PBKDF2_ITERATIONS,
            salt_len: SALT_LEN_V20,
        }
    }
}

/// Why a stored hash cannot be used. The texts never include the hash or a password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("Invalid password hash type")]
    UnknownType,
    #[error("Invalid password hash")]
    Malformed,
    #[error("Invalid hash iterations")]
    Iterations,
    #[error("Unable to decode password salt")]
    Salt,
    #[error("Unable to decode password")]
    Hash,
    #[error("Unsupported argon2id parameters")]
    Argon2Params,
    #[error("No random numbers from the operating system: {0}")]
    Random(String),
}

/// One parsed hash, ready to verify or to re-encode exactly as read.
#[derive(Clone, PartialEq, Eq)]
pub enum Hash {
    Sha512 {
        salt: Vec<u8>,
        hash: [u8; HASH_LEN],
    },
    Pbkdf2 {
        iterations: u32,
        salt: Vec<u8>,
        hash: [u8; HASH_LEN],
    },
    Argon2id {
        /// 0x13 (`v=19`) or 0x10 (no `v=` field, as libargon2 reads it).
        version: u32,
        m_cost: u32,
        t_cost: u32,
        p_cost: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
}

/// Never print salts or hashes in debug output either.
impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hash::Sha512 { .. } => f.write_str("Hash::Sha512(..)"),
            Hash::Pbkdf2 { iterations, .. } => write!(f, "Hash::Pbkdf2({iterations}, ..)"),
            Hash::Argon2id { .. } => f.write_str("Hash::Argon2id(..)"),
        }
    }
}

/// Standard base64 with padding, as mosquitto's OpenSSL BIO writes it. Decoding is
/// lenient about padding and trailing bits, as OpenSSL is.
const B64_MOSQ: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);
/// PHC strings (libargon2) use standard base64 without padding.
const B64_PHC: GeneralPurpose = general_purpose::STANDARD_NO_PAD;

impl Hash {
    /// Hashes `password` with a fresh salt from the OS CSPRNG.
    pub fn create(params: &HashParams, password: &[u8]) -> Result<Hash, HashError> {
        let salt_len = match params.kind {
            HashKind::Argon2id => SALT_LEN_V21,
            _ => params.salt_len,
        };
        let mut salt = vec![0u8; salt_len];
        getrandom::fill(&mut salt).map_err(|e| HashError::Random(e.to_string()))?;
        Hash::with_salt(params, salt, password)
    }

    /// Hashes `password` with the given salt (known-answer tests use this).
    pub fn with_salt(
        params: &HashParams,
        salt: Vec<u8>,
        password: &[u8],
    ) -> Result<Hash, HashError> {
        Ok(match params.kind {
            HashKind::Sha512 => Hash::Sha512 {
                hash: sha512(password, &salt),
                salt,
            },
            HashKind::Sha512Pbkdf2 => {
                if params.iterations < 1 {
                    return Err(HashError::Iterations);
                }
                Hash::Pbkdf2 {
                    iterations: params.iterations,
                    hash: pbkdf2(password, &salt, params.iterations),
                    salt,
                }
            }
            HashKind::Argon2id => {
                let mut hash = vec![0u8; HASH_LEN];
                argon2id(
                    0x13,
                    ARGON2_M_COST,
                    ARGON2_T_COST,
                    ARGON2_P_COST,
                    password,
                    &salt,
                    &mut hash,
                )?;
                Hash::Argon2id {
                    version: 0x13,
                    m_cost: ARGON2_M_COST,
                    t_cost: ARGON2_T_COST,
                    p_cost: ARGON2_P_COST,
                    salt,
                    hash,
                }
            }
        })
    }

    /// Parses a stored hash (the part after `user:`), with mosquitto 2.1's rules:
    /// `$6$`/`$7$` salts of 12 or 64 bytes and 64-byte hashes; `$7$` iterations ≥ 1;
    /// `$argon2id$` as libargon2 encodes it.
    pub fn parse(s: &[u8]) -> Result<Hash, HashError> {
        if let Some(rest) = s.strip_prefix(b"$6$") {
            let mut parts = rest.split(|&b| b == b'$');
            let salt = decode_salt(parts.next())?;
            let hash = decode_hash(parts.next())?;
            if parts.next().is_some() {
                return Err(HashError::Malformed);
            }
            Ok(Hash::Sha512 { salt, hash })
        } else if let Some(rest) = s.strip_prefix(b"$7$") {
            let mut parts = rest.split(|&b| b == b'$');
            let iterations = parts
                .next()
                .and_then(parse_u32)
                .filter(|&n| n >= 1)
                .ok_or(HashError::Iterations)?;
            let salt = decode_salt(parts.next())?;
            let hash = decode_hash(parts.next())?;
            if parts.next().is_some() {
                return Err(HashError::Malformed);
            }
            Ok(Hash::Pbkdf2 {
                iterations,
                salt,
                hash,
            })
        } else if let Some(rest) = s.strip_prefix(b"$argon2id$") {
            parse_argon2id(rest)
        } else {
            Err(HashError::UnknownType)
        }
    }

    /// The stored form, byte-exact with what mosquitto_passwd writes.
    pub fn encode(&self) -> String {
        match self {
            Hash::Sha512 { salt, hash } => {
                format!("$6${}${}", B64_MOSQ.encode(salt), B64_MOSQ.encode(hash))
            }
            Hash::Pbkdf2 {
                iterations,
                salt,
                hash,
            } => format!(
                "$7${iterations}${}${}",
                B64_MOSQ.encode(salt),
                B64_MOSQ.encode(hash)
            ),
            Hash::Argon2id {
                version,
                m_cost,
                t_cost,
                p_cost,
                salt,
                hash,
            } => {
                let v = if *version == 0x10 {
                    String::new()
                } else {
                    format!("v={version}$")
                };
                format!(
                    "$argon2id${v}m={m_cost},t={t_cost},p={p_cost}${}${}",
                    B64_PHC.encode(salt),
                    B64_PHC.encode(hash)
                )
            }
        }
    }

    /// Whether `password` matches. The comparison of derived keys takes the same
    /// time wherever they differ.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Hash::Sha512 { salt, hash } => ct_eq(&sha512(password, salt), hash),
            Hash::Pbkdf2 {
                iterations,
                salt,
                hash,
            } => ct_eq(&pbkdf2(password, salt, *iterations), hash),
            Hash::Argon2id {
                version,
                m_cost,
                t_cost,
                p_cost,
                salt,
                hash,
            } => {
                let mut out = vec![0u8; hash.len()];
                argon2id(
                    *version, *m_cost, *t_cost, *p_cost, password, salt, &mut out,
                )
                .is_ok()
                    && ct_eq(&out, hash)
            }
        }
    }

    /// The kind of this hash.
    pub fn kind(&self) -> HashKind {
        match self {
            Hash::Sha512 { .. } => HashKind::Sha512,
            Hash::Pbkdf2 { .. } => HashKind::Sha512Pbkdf2,
            Hash::Argon2id { .. } => HashKind::Argon2id,
        }
    }
}

/// Whether a stored password field claims to be a hash (starts with a known
/// prefix), whether or not it parses.
pub fn looks_hashed(s: &[u8]) -> bool {
    s.starts_with(b"$6$") || s.starts_with(b"$7$") || s.starts_with(b"$argon2id$")
}

fn sha512(password: &[u8], salt: &[u8]) -> [u8; HASH_LEN] {
    let mut h = Sha512::new();
    h.update(password);
    h.update(salt);
    h.finalize().into()
}

fn pbkdf2(password: &[u8], salt: &[u8], iterations: u32) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
    out
}

fn argon2id(
    version: u32,
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    let version = match version {
        0x13 => argon2::Version::V0x13,
        0x10 => argon2::Version::V0x10,
        _ => return Err(HashError::Argon2Params),
    };
    let params = argon2::Params::new(m_cost, t_cost, p_cost, Some(out.len()))
        .map_err(|_| HashError::Argon2Params)?;
    argon2::Argon2::new(argon2::Algorithm::Argon2id, version, params)
        .hash_password_into(password, salt, out)
        .map_err(|_| HashError::Argon2Params)
}

/// Compares two byte strings without branching on their contents. Lengths are not
/// secret (every stored hash has a public length).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn decode_salt(field: Option<&[u8]>) -> Result<Vec<u8>, HashError> {
    let salt = field
        .and_then(|f| B64_MOSQ.decode(f).ok())
        .ok_or(HashError::Salt)?;
    if salt.len() != SALT_LEN_V20 && salt.len() != SALT_LEN_V21 {
        return Err(HashError::Salt);
    }
    Ok(salt)
}

fn decode_hash(field: Option<&[u8]>) -> Result<[u8; HASH_LEN], HashError> {
    field
        .and_then(|f| B64_MOSQ.decode(f).ok())
        .and_then(|h| <[u8; HASH_LEN]>::try_from(h).ok())
        .ok_or(HashError::Hash)
}

/// `[v=19$]m=M,t=T,p=P$SALT$HASH`, the part after `$argon2id$`.
fn parse_argon2id(rest: &[u8]) -> Result<Hash, HashError> {
    let mut parts: Vec<&[u8]> = rest.split(|&b| b == b'$').collect();
    let version = match parts.first() {
        Some(v) if v.starts_with(b"v=") => {
            let v = parse_u32(&v[2..]).ok_or(HashError::Malformed)?;
            parts.remove(0);
            v
        }
        _ => 0x10,
    };
    let [params, salt, hash] = parts[..] else {
        return Err(HashError::Malformed);
    };
    let mut fields = params.split(|&b| b == b',');
    let mut field = |name: &[u8]| {
        fields
            .next()
            .and_then(|f| f.strip_prefix(name))
            .and_then(parse_u32)
            .ok_or(HashError::Malformed)
    };
    let m_cost = field(b"m=")?;
    let t_cost = field(b"t=")?;
    let p_cost = field(b"p=")?;
    if fields.next().is_some() {
        return Err(HashError::Malformed);
    }
    if (version != 0x13 && version != 0x10)
        || m_cost > ARGON2_MAX_M_COST
        || argon2::Params::new(m_cost, t_cost, p_cost, None).is_err()
    {
        return Err(HashError::Argon2Params);
    }
    let salt = B64_PHC.decode(salt).map_err(|_| HashError::Salt)?;
    let hash = B64_PHC.decode(hash).map_err(|_| HashError::Hash)?;
    if salt.len() < 8 || hash.len() < 4 {
        return Err(HashError::Malformed);
    }
    Ok(Hash::Argon2id {
        version,
        m_cost,
        t_cost,
        p_cost,
        salt,
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        B64_MOSQ.decode(s).unwrap()
    }

    // Known answers: hashes written by Debian's mosquitto_passwd 2.0.11
    // (`mosquitto_passwd -c -b f user pass`, and with `-H sha512`); the same lines
    // are committed under tests/fixtures/passwd/.
    const DEB_PBKDF2: &str = "$7$101$FSnbes5Lj34NVHOO$Ymo2wb7xifjbgIYa+A9oYvDxuqGr72TmZxJKUHBIBIu9Gr5gH+1HpZTSuq14qkizmOICGUFYRrs9xwF963SbjQ==";
    const DEB_SHA512: &str = "$6$HWYP9E+5t1eDHuF1$eKYweFnGU+Eq+zxNi0N108nDmHLYDgM7RMjrFG+EJph+CMrKS9iDFmrVS60R6T1x7pmO/VuHifc8BfALwHK19g==";

    #[test]
    fn debian_pbkdf2_verifies_and_reencodes_byte_exact() {
        let h = Hash::parse(DEB_PBKDF2.as_bytes()).unwrap();
        assert!(h.verify(b"pass"));
        assert!(!h.verify(b"pass "));
        assert!(!h.verify(b""));
        let params = HashParams {
            kind: HashKind::Sha512Pbkdf2,
            iterations: 101,
            salt_len: 12,
        };
        let ours = Hash::with_salt(&params, b64("FSnbes5Lj34NVHOO"), b"pass").unwrap();
        assert_eq!(ours.encode(), DEB_PBKDF2);
    }

    #[test]
    fn debian_sha512_verifies_and_reencodes_byte_exact() {
        let h = Hash::parse(DEB_SHA512.as_bytes()).unwrap();
        assert!(h.verify(b"pass"));
        assert!(!h.verify(b"Pass"));
        let params = HashParams {
            kind: HashKind::Sha512,
            iterations: 0,
            salt_len: 12,
        };
        let ours = Hash::with_salt(&params, b64("HWYP9E+5t1eDHuF1"), b"pass").unwrap();
        assert_eq!(ours.encode(), DEB_SHA512);
    }

    #[test]
    fn pbkdf2_known_answer() {
        // PBKDF2-HMAC-SHA512("password", "salt", 1, 64), computed independently
        // with Python's hashlib.pbkdf2_hmac.
        let out = pbkdf2(b"password", b"salt", 1);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252\
             c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce"
        );
    }

    #[test]
    fn argon2id_matches_the_reference_implementation() {
        // Reference PHC string from the argon2 reference implementation's test
        // suite (argon2id, v=19, m=65536, t=2, p=1, "password"/"somesalt").
        let s = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        let h = Hash::parse(s.as_bytes()).unwrap();
        assert_eq!(h.encode(), s);
        assert!(h.verify(b"password"));
        assert!(!h.verify(b"passwore"));
    }

    #[test]
    fn argon2id_created_with_mosquitto_21_parameters() {
        let h = Hash::create(
            &HashParams {
                kind: HashKind::Argon2id,
                ..HashParams::default()
            },
            b"secret",
        )
        .unwrap();
        let s = h.encode();
        assert!(s.starts_with("$argon2id$v=19$m=47104,t=1,p=1$"), "{s}");
        // 64-byte salt and hash, unpadded base64: 86 characters each.
        let parts: Vec<&str> = s.split('$').collect();
        assert_eq!(parts[4].len(), 86);
        assert_eq!(parts[5].len(), 86);
        let back = Hash::parse(s.as_bytes()).unwrap();
        assert!(back.verify(b"secret"));
        assert!(!back.verify(b"secreT"));
    }

    #[test]
    fn created_hashes_round_trip_for_each_kind_and_salt_length() {
        for (kind, salt_len) in [
            (HashKind::Sha512, 12),
            (HashKind::Sha512, 64),
            (HashKind::Sha512Pbkdf2, 12),
            (HashKind::Sha512Pbkdf2, 64),
        ] {
            let p = HashParams {
                kind,
                iterations: 7,
                salt_len,
            };
            let h = Hash::create(&p, b"pw").unwrap();
            let back = Hash::parse(h.encode().as_bytes()).unwrap();
            assert_eq!(back, h);
            assert!(back.verify(b"pw"));
            assert!(!back.verify(b"pW"));
        }
    }

    #[test]
    fn default_is_pbkdf2_with_21s_iterations_and_20s_salt() {
        let h = Hash::create(&HashParams::default(), b"x").unwrap().encode();
        let parts: Vec<&str> = h.split('$').collect();
        assert_eq!(parts[1], "7");
        assert_eq!(parts[2], "1000");
        assert_eq!(b64(parts[3]).len(), 12);
        assert_eq!(b64(parts[4]).len(), 64);
    }

    #[test]
    fn malformed_hashes_are_refused() {
        let salt12 = B64_MOSQ.encode([1u8; 12]);
        let salt16 = B64_MOSQ.encode([1u8; 16]);
        let hash64 = B64_MOSQ.encode([2u8; 64]);
        let hash32 = B64_MOSQ.encode([2u8; 32]);
        for bad in [
            "plain".to_string(),
            "$5$abc$def".to_string(),
            format!("$6${salt16}${hash64}"),
            format!("$6${salt12}${hash32}"),
            format!("$6${salt12}"),
            format!("$6${salt12}${hash64}$extra"),
            format!("$7$0${salt12}${hash64}"),
            format!("$7$-1${salt12}${hash64}"),
            format!("$7$x${salt12}${hash64}"),
            format!("$7$99999999999${salt12}${hash64}"),
            format!("$7$101$!!!!${hash64}"),
            "$argon2id$v=19$m=65536,t=2$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
                .to_string(),
            "$argon2id$v=18$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
                .to_string(),
            "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
                .to_string(),
        ] {
            assert!(Hash::parse(bad.as_bytes()).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn debug_output_hides_material() {
        let h = Hash::parse(DEB_PBKDF2.as_bytes()).unwrap();
        let d = format!("{h:?}");
        assert!(!d.contains("FSnb"), "{d}");
    }
}
