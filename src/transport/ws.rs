//! MQTT over WebSocket (MQTT 5.0 §6, 3.1.1 §6): a byte stream carried in binary frames,
//! for the broker (server handshake) and the clients (`ws://`, client handshake).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// The subprotocols a server accepts, best first: "mqtt" (MQTT 3.1.1 and 5.0 §6) and
/// "mqttv3.1", which MQTT 3.1 clients offer.
pub const SUBPROTOCOLS: &[&str] = &["mqtt", "mqttv3.1"];

/// A WebSocket connection read and written as a plain byte stream.
///
/// MQTT packets and WebSocket frames are independent: one packet may span several
/// frames and one frame may hold several packets (MQTT 5.0 §6), so reading simply
/// concatenates the payloads of binary messages. Each write becomes one binary message.
pub struct WsStream<S> {
    inner: WebSocketStream<S>,
    /// The unread rest of the last binary message.
    pending: Bytes,
    /// The peer closed the WebSocket; reads return end of stream from now on.
    eof: bool,
    /// A written message may still sit in the WebSocket's buffer; it is pushed out
    /// before more is accepted, so buffering stays bounded.
    unflushed: bool,
}

impl<S> WsStream<S> {
    pub fn new(inner: WebSocketStream<S>) -> WsStream<S> {
        WsStream {
            inner,
            pending: Bytes::new(),
            eof: false,
            unflushed: false,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    /// The stream the WebSocket runs over (TCP, TLS, …).
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }
}

fn to_io(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, "WebSocket closed")
        }
        other => io::Error::new(io::ErrorKind::InvalidData, format!("WebSocket: {other}")),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                let chunk = self.pending.split_to(n);
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            if self.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => self.pending = data,
                // tungstenite answers pings itself (RFC 6455 §5.5.2).
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(_))) => {
                    // MQTT 5.0 §6: "If any other type of data frame is received the
                    // recipient MUST close the Network Connection".
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "WebSocket text frame: MQTT must be sent in binary frames",
                    )));
                }
                Some(Ok(Message::Close(_)))
                | None
                | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                    self.eof = true;
                }
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            // Not worth an empty frame.
            return Poll::Ready(Ok(0));
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.inner).poll_flush(cx)).map_err(to_io)?;
            self.unflushed = false;
        }
        ready!(Pin::new(&mut self.inner).poll_ready(cx)).map_err(to_io)?;
        Pin::new(&mut self.inner)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(to_io)?;
        // Send it now, like a socket would, for callers that never flush; if the
        // socket is full, the next write or flush finishes the job.
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(r) => r.map_err(to_io)?,
            Poll::Pending => self.unflushed = true,
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.inner).poll_flush(cx)).map_err(to_io)?;
        self.unflushed = false;
        Poll::Ready(Ok(()))
    }

    /// Sends a Close frame (RFC 6455 §5.5.1) and flushes it.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(Pin::new(&mut self.inner).poll_close(cx)) {
            Ok(()) | Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(to_io(e))),
        }
    }
}

/// The subprotocol to answer with, from the client's `Sec-WebSocket-Protocol` offers
/// (the header may repeat, each a comma-separated list). `Ok(None)`: nothing offered.
fn choose_subprotocol(request: &Request) -> Result<Option<&'static str>, ()> {
    let offered: Vec<&str> = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if offered.is_empty() {
        return Ok(None);
    }
    SUBPROTOCOLS
        .iter()
        .find(|p| offered.iter().any(|o| o.eq_ignore_ascii_case(p)))
        .map(|p| Some(*p))
        .ok_or(())
}

/// The server side of the WebSocket handshake: answers `Sec-WebSocket-Protocol: mqtt`
/// (or `mqttv3.1`) when offered, accepts clients that offer no subprotocol, and refuses
/// (HTTP 400) clients that offer only other subprotocols. Any request path is accepted.
pub async fn accept<S>(stream: S) -> io::Result<WsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // The callback's types are tungstenite's; its error is an HTTP response.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, mut response: Response| match choose_subprotocol(request) {
        Ok(Some(p)) => {
            response
                .headers_mut()
                .insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(p));
            Ok(response)
        }
        Ok(None) => Ok(response),
        Err(()) => {
            let mut refusal = ErrorResponse::new(Some(
                "MQTT over WebSocket needs the \"mqtt\" subprotocol\n".to_string(),
            ));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            Err(refusal)
        }
    };
    let ws = tokio_tungstenite::accept_hdr_async(stream, callback)
        .await
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("WebSocket handshake: {e}"),
            )
        })?;
    Ok(WsStream::new(ws))
}

/// The client side of the WebSocket handshake over an already connected `stream`,
/// offering the `mqtt` subprotocol. `url` (`ws://host:port/path` or `wss://…`) gives
/// the Host header and the path; mosquitto's clients use the path `/mqtt`.
pub async fn connect<S>(stream: S, url: &str) -> io::Result<WsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let bad = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
    let mut request = url
        .into_client_request()
        .map_err(|e| bad(format!("invalid WebSocket URL \"{url}\": {e}")))?;
    request.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static("mqtt"),
    );
    let (ws, _response) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| match e {
            WsError::Io(e) => e,
            other => io::Error::new(
                io::ErrorKind::InvalidData,
                format!("WebSocket handshake with {url} failed: {other}"),
            ),
        })?;
    Ok(WsStream::new(ws))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(offers: &[&str]) -> Request {
        let mut b = Request::builder().uri("/mqtt");
        for o in offers {
            b = b.header(header::SEC_WEBSOCKET_PROTOCOL, *o);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn subprotocol_choice_prefers_mqtt() {
        assert_eq!(choose_subprotocol(&request(&[])), Ok(None));
        assert_eq!(choose_subprotocol(&request(&["mqtt"])), Ok(Some("mqtt")));
        assert_eq!(
            choose_subprotocol(&request(&["mqttv3.1"])),
            Ok(Some("mqttv3.1"))
        );
        assert_eq!(
            choose_subprotocol(&request(&["mqttv3.1, MQTT"])),
            Ok(Some("mqtt"))
        );
        assert_eq!(
            choose_subprotocol(&request(&["chat", "mqttv3.1"])),
            Ok(Some("mqttv3.1"))
        );
        assert_eq!(choose_subprotocol(&request(&["chat, superchat"])), Err(()));
    }

    /// Server and client adapters over an in-memory pipe: bytes written on one side come
    /// out on the other whatever the write sizes, and a close reads as end of stream.
    #[tokio::test]
    async fn adapters_carry_a_byte_stream() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (a, b) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(async move {
            let mut s = accept(a).await.unwrap();
            let mut got = vec![0u8; 6];
            s.read_exact(&mut got).await.unwrap();
            s.write_all(&got).await.unwrap();
            s.shutdown().await.unwrap();
            got
        });
        let mut c = connect(b, "ws://localhost/mqtt").await.unwrap();
        c.write_all(b"\x10\x04").await.unwrap();
        c.write_all(b"abcd").await.unwrap();
        let mut echoed = Vec::new();
        c.read_to_end(&mut echoed).await.unwrap();
        assert_eq!(echoed, b"\x10\x04abcd");
        assert_eq!(server.await.unwrap(), b"\x10\x04abcd");
    }
}
