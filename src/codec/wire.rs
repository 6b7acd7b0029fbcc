//! Wire primitives: fixed header, remaining length, strings, binary data (MQTT 5.0 §1.5, §2.1).
//! "Need more bytes" is `Ok(None)`, not an error.
