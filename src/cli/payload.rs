//! The FORMAT values of `--decode` (sub, rr) and `--encode` (pub, rr), read into
//! `crate::payload::Format`; nothing is loaded here (a `proto:` schema is compiled by
//! `crate::settings`).

use crate::payload::Format;

/// `--decode FORMAT`.
pub fn parse_decode(s: &str) -> Result<Format, String> {
    Format::parse(s).map_err(|e| format!("Error: --decode: {e}.\n\n"))
}

/// `--encode FORMAT`: `auto` names no format to encode to.
pub fn parse_encode(s: &str) -> Result<Format, String> {
    match Format::parse(s) {
        Ok(Format::Auto) => Err(
            "Error: --encode: auto picks a format for decoding; name one to encode to (sparkplug, proto:FILE.proto:package.Message, cbor, msgpack or json).\n\n"
                .into(),
        ),
        Ok(f) => Ok(f),
        Err(e) => Err(format!("Error: --encode: {e}.\n\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_mosquitto_style_errors() {
        assert_eq!(parse_decode("auto"), Ok(Format::Auto));
        assert!(
            parse_decode("xml")
                .unwrap_err()
                .starts_with("Error: --decode: unknown payload format 'xml'")
        );
        assert!(
            parse_encode("auto")
                .unwrap_err()
                .starts_with("Error: --encode: auto picks")
        );
        assert_eq!(parse_encode("cbor"), Ok(Format::Cbor));
    }
}
