//! The `--metrics` endpoint: a small HTTP/1.1 server (hyper) on bench's own thread,
//! answering `GET /metrics` with a fresh `metrics::Snapshot`, in OpenMetrics when the
//! scraper asks for it (Prometheus does) and in the Prometheus text format otherwise
//! (curl). It binds before any client connects, so a taken port is an error before
//! the load starts, and it is stopped with the run (after `--metrics-linger`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::cmd::bench::metrics::{Snapshot, content_type};
use crate::exit::Error;

/// Where the snapshot of each scrape comes from.
pub type Source = Rc<dyn Fn() -> Snapshot>;

/// The running endpoint; its task ends when this is dropped.
pub struct Server {
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and serves `/metrics` from `source` on the current `LocalSet`.
pub async fn serve(addr: SocketAddr, source: Source) -> Result<Server, Error> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        Error::Failed(format!(
            "--metrics {addr}: cannot listen: {}",
            crate::exit::strerror(&e)
        ))
    })?;
    let task = tokio::task::spawn_local(async move {
        loop {
            // A failed accept (fd limit, a connection reset before it was taken) is
            // that scraper's problem; the endpoint goes on, without spinning.
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            let source = source.clone();
            tokio::task::spawn_local(async move {
                let service = hyper::service::service_fn(move |req| {
                    let response = respond(&req, &source);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Server { task })
}

/// `GET /metrics` (or `HEAD`): the exposition; anything else: 404 or 405.
fn respond(req: &Request<Incoming>, source: &Source) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "Not found: the metrics are at /metrics.\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "Use GET.\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let openmetrics = req.headers().get_all(ACCEPT).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.contains("application/openmetrics-text"))
    });
    let body = source().encode(openmetrics);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(content_type(openmetrics)),
    );
    r
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
