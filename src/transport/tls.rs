//! TLS for the broker (rustls, ring provider): PEM loading whose errors name the file,
//! and the listeners' server configuration. The client side is `tls_client`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use tokio_rustls::TlsAcceptor;

/// A TLS listener's settings, as mosquitto.conf's `certfile`, `keyfile`, `cafile` and
/// `require_certificate` give them (the broker's configuration holds one per TLS
/// listener).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTls {
    pub certfile: PathBuf,
    pub keyfile: PathBuf,
    /// CA used to verify client certificates.
    pub cafile: Option<PathBuf>,
    /// Clients must present a certificate signed by `cafile`.
    pub require_certificate: bool,
    /// `tls_version tlsv1.3`: refuse TLS 1.2.
    pub tls13_only: bool,
}

/// The crypto provider, chosen explicitly: the crate is built with ring and without
/// aws-lc, so rustls cannot pick a process default by itself.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Why a PEM file could not be used, in words (the I/O error itself when there is one).
fn pem_reason(e: rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(e) => super::error::strerror(&e),
        rustls_pki_types::pem::Error::NoItemsFound => "no PEM data of the right kind in it".into(),
        other => format!("malformed PEM ({other})"),
    }
}

/// Every certificate in a PEM file. `what` names the file's role in errors, e.g.
/// `Unable to load server certificate "/etc/server.pem": No such file or directory.`
pub fn load_certs(path: &Path, what: &str) -> io::Result<Vec<CertificateDer<'static>>> {
    let fail = |reason: String| {
        invalid(format!(
            "Unable to load {what} \"{}\": {reason}.",
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(pem_reason(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(pem_reason(e)))?;
    if certs.is_empty() {
        return Err(fail("no certificates in it".into()));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn load_private_key(path: &Path) -> io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        invalid(format!(
            "Unable to load key file \"{}\": {}.",
            path.display(),
            match e {
                rustls_pki_types::pem::Error::NoItemsFound => "no private key in it".into(),
                other => pem_reason(other),
            }
        ))
    })
}

/// A trust store holding every certificate of a PEM CA file.
pub fn load_roots(path: &Path) -> io::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path, "CA certificates")? {
        roots.add(cert).map_err(|e| {
            invalid(format!(
                "Unable to load CA certificates \"{}\": {e}.",
                path.display()
            ))
        })?;
    }
    Ok(roots)
}

/// The broker side of a TLS listener, as mosquitto reads `certfile`, `keyfile`, `cafile`
/// and `require_certificate`: with `require_certificate true` a client must present a
/// certificate signed by `cafile`; with `false` no client certificate is asked for.
pub fn server_config(cfg: &ServerTls) -> io::Result<Arc<ServerConfig>> {
    let certs = load_certs(&cfg.certfile, "server certificate")?;
    let key = load_private_key(&cfg.keyfile)?;
    let builder = ServerConfig::builder_with_provider(provider());
    let builder = if cfg.tls13_only {
        builder.with_protocol_versions(&[&rustls::version::TLS13])
    } else {
        builder.with_safe_default_protocol_versions()
    }
    .map_err(|e| invalid(format!("TLS setup failed: {e}")))?;
    let builder = match (&cfg.cafile, cfg.require_certificate) {
        (Some(cafile), true) => {
            let roots = load_roots(cafile)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| {
                    invalid(format!(
                        "Unable to use CA certificates \"{}\": {e}.",
                        cafile.display()
                    ))
                })?;
            builder.with_client_cert_verifier(verifier)
        }
        (None, true) => {
            return Err(invalid(
                "require_certificate true needs a cafile to check client certificates with.".into(),
            ));
        }
        (_, false) => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| {
        invalid(format!(
            "Unable to use certfile \"{}\" with keyfile \"{}\": {e}.",
            cfg.certfile.display(),
            cfg.keyfile.display()
        ))
    })?;
    Ok(Arc::new(config))
}
