//! The client side of a SOCKS5 proxy (RFC 1928), with username/password
//! authentication (RFC 1929): `--proxy socks5h://[user[:pass]@]host[:port]`.

use std::net::IpAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ConnectError;

const VERSION: u8 = 0x05;
const AUTH_NONE: u8 = 0x00;
const AUTH_USERPASS: u8 = 0x02;
const AUTH_NO_ACCEPTABLE: u8 = 0xff;
/// RFC 1929 §2: the version of the username/password sub-negotiation.
const USERPASS_VERSION: u8 = 0x01;
const CMD_CONNECT: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

fn proxy_error(reason: impl Into<String>) -> ConnectError {
    ConnectError::Proxy(reason.into())
}

/// Reads exactly `buf.len()` bytes; an early end of stream is the proxy hanging up.
async fn read_exact<S: AsyncRead + Unpin>(s: &mut S, buf: &mut [u8]) -> Result<(), ConnectError> {
    match s.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(proxy_error(
            "the SOCKS5 proxy closed the connection during the handshake",
        )),
        Err(e) => Err(e.into()),
    }
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) -> Result<(), ConnectError> {
    s.write_all(bytes).await?;
    s.flush().await?;
    Ok(())
}

/// The meaning of a reply's REP field (RFC 1928 §6).
fn reply_text(rep: u8) -> &'static str {
    match rep {
        0x01 => "general SOCKS server failure",
        0x02 => "connection not allowed by ruleset",
        0x03 => "network unreachable",
        0x04 => "host unreachable",
        0x05 => "connection refused",
        0x06 => "TTL expired",
        0x07 => "command not supported",
        0x08 => "address type not supported",
        _ => "unknown failure",
    }
}

/// Checks credentials before any connection: RFC 1929 carries each in at most 255 bytes.
pub fn check_credentials(username: &str, password: &str) -> Result<(), ConnectError> {
    if username.is_empty() || username.len() > 255 || password.len() > 255 {
        return Err(ConnectError::Invalid(
            "SOCKS5 proxy username and password must each be 1 to 255 bytes long (RFC 1929)."
                .into(),
        ));
    }
    Ok(())
}

/// The DST.ADDR of a CONNECT request. As `socks5h` means (and as mosquitto does),
/// a name is sent as a name (ATYP 3) for the proxy to resolve; an address literal is
/// sent as an address.
pub fn destination(host: &str) -> Result<Vec<u8>, ConnectError> {
    let bare = super::addr::unbracketed(host);
    Ok(match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => [&[ATYP_IPV4][..], &ip.octets()].concat(),
        Ok(IpAddr::V6(ip)) => [&[ATYP_IPV6][..], &ip.octets()].concat(),
        Err(_) => {
            let len = u8::try_from(bare.len())
                .ok()
                .filter(|l| *l > 0)
                .ok_or_else(|| {
                    ConnectError::Invalid(format!(
                        "The host name \"{host}\" is too long to pass through a SOCKS5 proxy (at most 255 bytes)."
                    ))
                })?;
            [&[ATYP_DOMAIN, len][..], bare.as_bytes()].concat()
        }
    })
}

/// Asks the proxy on `stream` to connect to `host:port`; on success the stream carries
/// bytes to and from the broker. `auth` is `(username, password)` when given.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    port: u16,
    auth: Option<(&str, &str)>,
) -> Result<(), ConnectError> {
    let dst = destination(host)?;
    // §3: offer "no authentication", and username/password when we have them.
    let greeting: &[u8] = match auth {
        Some(_) => &[VERSION, 2, AUTH_NONE, AUTH_USERPASS],
        None => &[VERSION, 1, AUTH_NONE],
    };
    send(stream, greeting).await?;
    let mut choice = [0u8; 2];
    read_exact(stream, &mut choice).await?;
    if choice[0] != VERSION {
        return Err(proxy_error(format!(
            "the proxy does not speak SOCKS5 (version byte {:#04x})",
            choice[0]
        )));
    }
    match (choice[1], auth) {
        (AUTH_NONE, _) => {}
        (AUTH_USERPASS, Some((user, pass))) => {
            check_credentials(user, pass)?;
            let mut msg = vec![USERPASS_VERSION, user.len() as u8];
            msg.extend_from_slice(user.as_bytes());
            msg.push(pass.len() as u8);
            msg.extend_from_slice(pass.as_bytes());
            send(stream, &msg).await?;
            let mut status = [0u8; 2];
            read_exact(stream, &mut status).await?;
            // RFC 1929 §2: STATUS 0 is success, anything else is failure.
            if status[1] != 0 {
                return Err(proxy_error(
                    "the SOCKS5 proxy rejected the username and password",
                ));
            }
        }
        (AUTH_NO_ACCEPTABLE, None) | (AUTH_USERPASS, None) => {
            return Err(proxy_error(
                "the SOCKS5 proxy requires authentication; give user:password in the --proxy URL",
            ));
        }
        (AUTH_NO_ACCEPTABLE, Some(_)) => {
            return Err(proxy_error(
                "the SOCKS5 proxy accepts none of the offered authentication methods",
            ));
        }
        (other, _) => {
            return Err(proxy_error(format!(
                "the SOCKS5 proxy chose an authentication method not offered ({other:#04x})"
            )));
        }
    }
    // §4: CONNECT to the broker.
    let mut request = vec![VERSION, CMD_CONNECT, 0x00];
    request.extend_from_slice(&dst);
    request.extend_from_slice(&port.to_be_bytes());
    send(stream, &request).await?;
    // §6: VER REP RSV ATYP, then BND.ADDR (by ATYP) and BND.PORT, read whole so that
    // no reply byte is mistaken for the broker's.
    let mut head = [0u8; 4];
    read_exact(stream, &mut head).await?;
    if head[0] != VERSION {
        return Err(proxy_error(format!(
            "the proxy does not speak SOCKS5 (version byte {:#04x})",
            head[0]
        )));
    }
    if head[1] != 0 {
        return Err(proxy_error(format!(
            "the SOCKS5 proxy could not connect to {host}:{port}: {}",
            reply_text(head[1])
        )));
    }
    let addr_len = match head[3] {
        ATYP_IPV4 => 4,
        ATYP_IPV6 => 16,
        ATYP_DOMAIN => {
            let mut len = [0u8; 1];
            read_exact(stream, &mut len).await?;
            usize::from(len[0])
        }
        other => {
            return Err(proxy_error(format!(
                "the SOCKS5 proxy sent an unknown address type ({other:#04x})"
            )));
        }
    };
    let mut rest = vec![0u8; addr_len + 2];
    read_exact(stream, &mut rest).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_by_kind() {
        assert_eq!(destination("10.1.2.3").unwrap(), [1, 10, 1, 2, 3]);
        assert_eq!(
            destination("[::1]").unwrap(),
            [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(destination("broker").unwrap(), b"\x03\x06broker");
        assert!(destination(&"a".repeat(256)).is_err());
        assert!(destination(&"a".repeat(255)).is_ok());
    }
}
