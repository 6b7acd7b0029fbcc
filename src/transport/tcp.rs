//! Client TCP connections as mosquitto makes them: resolve the host (IPv4 and IPv6),
//! try each address in turn, bind `-A` first when given, then `--nodelay`.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

use super::ConnectError;

/// Every address of `host`, in the resolver's order (getaddrinfo's, which prefers
/// what the system can reach). Addresses are used as they are, without a lookup.
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectError> {
    let name = super::addr::unbracketed(host);
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let lookup_error = |reason: String| ConnectError::Lookup {
        host: host.to_string(),
        reason,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| {
            // std words it "failed to lookup address information: <gai_strerror>".
            let text = e.to_string();
            lookup_error(
                text.strip_prefix("failed to lookup address information: ")
                    .unwrap_or(&text)
                    .to_string(),
            )
        })?
        .collect();
    if addrs.is_empty() {
        return Err(lookup_error("no addresses".into()));
    }
    Ok(addrs)
}

/// A TCP connection to `host:port`. Like mosquitto's `net__try_connect`: each resolved
/// address is tried in order; with `bind`, the socket is bound to the first of its
/// addresses that binds before connecting. The error is the last one met, in the OS's
/// words (`Connection refused`, `Cannot assign requested address`, …).
pub async fn connect(
    host: &str,
    port: u16,
    bind: Option<&str>,
    nodelay: bool,
) -> Result<TcpStream, ConnectError> {
    let targets = resolve(host, port).await?;
    let locals = match bind {
        Some(b) => resolve(b, 0).await?,
        None => Vec::new(),
    };
    let mut last: Option<io::Error> = None;
    for target in targets {
        match connect_one(target, bind.map(|_| locals.as_slice())).await {
            Ok(stream) => {
                if nodelay {
                    stream.set_nodelay(true).map_err(ConnectError::from)?;
                }
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(ConnectError::from(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::AddrNotAvailable, "no address to connect to")
    })))
}

async fn connect_one(target: SocketAddr, locals: Option<&[SocketAddr]>) -> io::Result<TcpStream> {
    let socket = match target {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(locals) = locals {
        let mut bound: io::Result<()> = Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "the -A address is not of the same family (IPv4 or IPv6) as the broker's address",
        ));
        for local in locals.iter().filter(|l| l.is_ipv4() == target.is_ipv4()) {
            bound = socket.bind(*local);
            if bound.is_ok() {
                break;
            }
        }
        bound?;
    }
    socket.connect(target).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn addresses_need_no_lookup() {
        assert_eq!(
            resolve("127.0.0.1", 1883).await.unwrap(),
            ["127.0.0.1:1883".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve("[::1]", 8883).await.unwrap(),
            ["[::1]:8883".parse::<SocketAddr>().unwrap()]
        );
        // /etc/hosts answers for localhost; no query leaves the machine.
        let local = resolve("localhost", 1).await.unwrap();
        assert!(local.iter().all(|a| a.ip().is_loopback()), "{local:?}");
    }
}
