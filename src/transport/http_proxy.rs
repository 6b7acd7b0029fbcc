//! The client side of an HTTP CONNECT tunnel (RFC 9110 §9.3.6), with Basic
//! authentication (RFC 7617) when credentials are given: `--proxy http://…`.
//! mosquitto lacks this (its issue #1358).

use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ConnectError;
use super::addr::host_port;

/// The proxy's response header may be no longer than this; a longer one is refused
/// rather than read without bound.
const MAX_RESPONSE_HEADER: usize = 16 * 1024;

fn proxy_error(reason: impl Into<String>) -> ConnectError {
    ConnectError::Proxy(reason.into())
}

/// The CONNECT request for `host:port`.
pub fn request(host: &str, port: u16, auth: Option<(&str, &str)>) -> Result<String, ConnectError> {
    // A CR or LF in a header would let the value start a header of its own.
    if host.contains(['\r', '\n', ' ']) {
        return Err(ConnectError::Invalid(format!(
            "The host name \"{host}\" cannot be sent to an HTTP proxy."
        )));
    }
    let target = host_port(host, port);
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((user, pass)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        req.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    req.push_str("\r\n");
    Ok(req)
}

/// Reads the response header, one byte at a time so that nothing after its blank line
/// (the broker's first bytes) is consumed.
async fn read_header<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Vec<u8>, ConnectError> {
    let mut header = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !header.ends_with(b"\r\n\r\n") {
        if header.len() >= MAX_RESPONSE_HEADER {
            return Err(proxy_error("the HTTP proxy's response header is too long"));
        }
        match stream.read(&mut byte).await? {
            0 => {
                return Err(proxy_error(
                    "the HTTP proxy closed the connection without answering CONNECT",
                ));
            }
            _ => header.push(byte[0]),
        }
    }
    Ok(header)
}

/// Asks the HTTP proxy on `stream` for a tunnel to `host:port`. Any 2xx answer opens
/// the tunnel; anything else is an error quoting the proxy's status line.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    port: u16,
    auth: Option<(&str, &str)>,
) -> Result<(), ConnectError> {
    let req = request(host, port, auth)?;
    stream.write_all(req.as_bytes()).await?;
    stream.flush().await?;
    let header = read_header(stream).await?;
    let text = String::from_utf8_lossy(&header);
    let status_line = text.lines().next().unwrap_or("").trim();
    // "HTTP/1.1 200 Connection established"
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let code: u16 = match (version.starts_with("HTTP/1."), code.parse()) {
        (true, Ok(c)) if code.len() == 3 => c,
        _ => {
            return Err(proxy_error(format!(
                "the HTTP proxy sent an unreadable answer: \"{}\"",
                status_line.escape_debug()
            )));
        }
    };
    match code {
        200..=299 => Ok(()),
        407 => Err(proxy_error(format!(
            "the HTTP proxy requires authentication ({}){}",
            status_line.escape_debug(),
            if auth.is_some() {
                "; it refused the username and password given"
            } else {
                "; give user:password in the --proxy URL"
            }
        ))),
        _ => Err(proxy_error(format!(
            "the HTTP proxy refused to connect to {}: \"{}\"",
            host_port(host, port),
            status_line.escape_debug()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_the_target_and_credentials() {
        assert_eq!(
            request("broker", 1883, None).unwrap(),
            "CONNECT broker:1883 HTTP/1.1\r\nHost: broker:1883\r\n\r\n"
        );
        assert_eq!(
            request("::1", 8883, Some(("Aladdin", "open sesame"))).unwrap(),
            "CONNECT [::1]:8883 HTTP/1.1\r\nHost: [::1]:8883\r\n\
             Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
        assert!(request("a\r\nX-Evil: 1", 1, None).is_err());
    }
}
