//! Password hashing ($6$, $7$, argon2id) and password files.
