//! Password hashing ($6$, $7$, argon2id) and password files.

pub mod file;
pub mod hash;
