//! `mqtk broker`: loads the configuration, binds the listeners, and runs `broker::run`
//! until SIGINT or SIGTERM, printing mosquitto's startup lines on the way.

use std::sync::Arc;

use crate::broker::config::Config;
use crate::broker::listener::{BoundAddr, Listener};
use crate::broker::log::{LogType, Logger};
use crate::cli::broker::BrokerArgs;
use crate::exit::{self, Error};

const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn run(args: BrokerArgs) -> Result<u8, Error> {
    let file = match &args.config_file {
        Some(path) => Some(Config::load(path).map_err(|e| Error::Config(e.to_string()))?),
        None => None,
    };
    let notes = file.as_ref().map(|f| f.notes.clone()).unwrap_or_default();
    let warnings = file
        .as_ref()
        .map(|f| f.warnings.clone())
        .unwrap_or_default();
    let local_only = file.as_ref().is_none_or(|f| f.local_only);
    let mut config = Config::resolve(file, args.port, args.verbose);
    if local_only && std::net::TcpListener::bind("[::1]:0").is_err() {
        // A host without IPv6: local only mode serves 127.0.0.1 alone.
        config
            .listeners
            .retain(|l| l.bind_address.as_deref() != Some("::1"));
    }
    let log = Logger::new(&config.log);
    for note in &notes {
        log.log(LogType::Notice, format_args!("{note}"));
    }
    for warning in &warnings {
        log.log(LogType::Warning, format_args!("{warning}"));
    }
    let runtime =
        crate::broker::runtime().map_err(|e| Error::io("cannot start the async runtime", e))?;
    runtime.block_on(async move {
        // Installed before any socket is bound: once clients (or a test) can see the
        // broker, SIGTERM already means a clean shutdown.
        let shutdown = shutdown_signal().map_err(|e| Error::io("cannot watch for signals", e))?;
        log.log(LogType::Information, format_args!("mqtk version {VERSION} starting"));
        match &args.config_file {
            Some(path) => log.log(
                LogType::Information,
                format_args!("Config loaded from {}.", path.display()),
            ),
            None => log.log(LogType::Information, format_args!("Using default config.")),
        }
        if local_only {
            for line in [
                "Starting in local only mode. Connections will only be possible from clients running on this machine.",
                "Create a configuration file which defines a listener to allow remote access.",
                "For more details see https://mosquitto.org/documentation/authentication-methods/",
            ] {
                log.log(LogType::Information, format_args!("{line}"));
            }
        }
        // mosquitto refuses to start on a password or ACL file it cannot use. Find
        // out before any listener opens, so no client ever meets a broker that is
        // about to exit (`broker::run` loads the files for good).
        crate::broker::auth::Auth::from_config(&config).map_err(Error::Config)?;
        let listeners = bind_all(&config, &log).await?;
        serve(listeners, config, shutdown, &log).await
    })
}

/// Binds every configured listener, in order; the first failure stops startup.
async fn bind_all(config: &Config, log: &Logger) -> Result<Vec<Listener>, Error> {
    let mut listeners = Vec::with_capacity(config.listeners.len());
    for cfg in &config.listeners {
        let listener = Listener::bind_logged(cfg, Some(log.clone()))
            .await
            .map_err(|e| Error::Failed(e.to_string()))?;
        // mosquitto names the socket family, except for WebSocket listeners, which it
        // announces once.
        let mut lines: Vec<String> = listener
            .local_addrs()
            .iter()
            .map(|addr| match addr {
                BoundAddr::Unix(path) => {
                    format!("Opening unix listen socket on path {}.", path.display())
                }
                BoundAddr::Tcp(a) if listener.is_websockets() => {
                    format!("Opening websockets listen socket on port {}.", a.port())
                }
                BoundAddr::Tcp(a) if a.is_ipv4() => {
                    format!("Opening ipv4 listen socket on port {}.", a.port())
                }
                BoundAddr::Tcp(a) => format!("Opening ipv6 listen socket on port {}.", a.port()),
            })
            .collect();
        lines.dedup();
        for line in lines {
            log.log(LogType::Information, format_args!("{line}"));
        }
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Runs the broker until SIGINT or SIGTERM.
async fn serve(
    listeners: Vec<Listener>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    log: &Logger,
) -> Result<u8, Error> {
    log.log(
        LogType::Information,
        format_args!("mqtk version {VERSION} running"),
    );
    crate::broker::run(listeners, Arc::new(config), shutdown)
        .await
        .map_err(|e| Error::io("broker", e))?;
    log.log(
        LogType::Information,
        format_args!("mqtk version {VERSION} terminating"),
    );
    Ok(exit::OK)
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM. The handlers are installed before
/// this returns, so a signal that arrives during startup is not lost.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
