//! What the client commands (pub, sub, rr) share: the CONNECT mosquitto's tools send,
//! the checks mosquitto 2.1 makes before connecting, a first connection in mosquitto's
//! words (`words`), and the `-d` packet log (`debug`).

pub mod debug;
pub mod input;
pub mod stdout;
pub mod words;

use crate::client::drive::Client;
use crate::client::{Connection, Options, Outgoing};
use crate::codec::{self, ConnAck, Connect, PropertyContext, PropertyId, ProtocolVersion};
use crate::exit::Error;
use crate::settings::ClientSettings;
use crate::settings::props::check_all;
use crate::transport::Prepared;

pub use debug::Debug;
pub use words::quieted;

/// The CONNECT mosquitto's tools send for these settings.
pub fn connect_packet(s: &ClientSettings, clean_start: bool) -> Connect {
    let mut properties = s.connect_properties.clone();
    // libmosquitto (send_connect.c) always tells a v5 broker its Receive Maximum, 20
    // unless `-D connect receive-maximum` gives one; the same bytes as mosquitto's tools.
    if s.version == ProtocolVersion::V5 && properties.get(PropertyId::ReceiveMaximum).is_none() {
        properties.push(
            PropertyId::ReceiveMaximum,
            codec::PropertyValue::TwoByte(20),
        );
    }
    Connect {
        version: s.version,
        clean_start,
        keep_alive: s.keep_alive,
        properties,
        client_id: s.client_id.clone(),
        will: s.will.clone(),
        username: s.username.clone(),
        password: s.password.clone(),
    }
}

/// A client on `opts`, with the `-d` packet log when asked for.
pub fn new_client<M: Outgoing>(opts: Options, dbg: &Debug) -> Client<M> {
    let version = opts.version;
    let mut conn = Connection::new(opts, tokio::time::Instant::now().into_std());
    if let Some(trace) = dbg.trace(version) {
        conn.set_trace(trace);
    }
    Client::new(conn)
}

/// Checks the endpoint and loads what it needs (certificates) once, before connecting,
/// and the `-D will`/`-D connect` properties where mosquitto 2.1 checks them: the will
/// as it is set (before TLS), the CONNECT ones as it starts to connect.
pub fn prepare(s: &ClientSettings) -> Result<Prepared, Error> {
    let v5 = s.version == ProtocolVersion::V5;
    let failed = |text: String| quieted(s.quiet, crate::settings::plain(text));
    if let Some(w) = &s.will
        && check_all(PropertyContext::Will, &w.properties, v5).is_err()
    {
        return Err(failed("Error: Problem setting will.\n".into()));
    }
    let prepared =
        crate::transport::prepare(&s.endpoint).map_err(|e| words::connect_error(&e, s.quiet))?;
    if let Err(p) = check_all(PropertyContext::Connect, &s.connect_properties, v5) {
        return Err(failed(format!("Unable to connect ({}).\n", p.strerror())));
    }
    Ok(prepared)
}

/// The first connection: any failure is final, in mosquitto's words.
pub async fn connect<M: Outgoing>(
    client: &mut Client<M>,
    s: &ClientSettings,
    prepared: &Prepared,
    connect: &Connect,
) -> Result<ConnAck, Error> {
    client
        .connect(prepared, connect)
        .await
        .map_err(|e| words::connect_failure(&e, s.version, s.quiet))
}
