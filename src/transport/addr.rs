//! Host names as URLs, HTTP and TLS need them: IPv6 literals with and without the
//! brackets a URL puts around them.

/// `host` without the brackets an IPv6 literal may carry in a URL (`[::1]`), for
/// parsing it as an address or a TLS name.
pub fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `host:port` with IPv6 literals in brackets, as URLs and HTTP (RFC 9110 §7.2) need
/// them.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets() {
        assert_eq!(host_port("::1", 80), "[::1]:80");
        assert_eq!(host_port("[::1]", 80), "[::1]:80");
        assert_eq!(host_port("h", 80), "h:80");
        assert_eq!(unbracketed("[::1]"), "::1");
        assert_eq!(unbracketed("::1"), "::1");
        assert_eq!(unbracketed("[h"), "[h");
    }
}
