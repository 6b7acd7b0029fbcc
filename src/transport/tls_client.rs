//! The client side of TLS: one rustls `ClientConfig` built from mosquitto's TLS flags
//! (`--cafile`, `--capath`, `--tls-use-os-certs`, `--cert`/`--key`, `--insecure`,
//! `--tls-alpn`, `--tls-version`, `--ciphers`, `--tls-keylog`), with errors in
//! mosquitto's words.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    SupportedCipherSuite, SupportedProtocolVersion,
};

use super::keylog::KeyLogFile;
use super::tls::provider;
use super::{ConnectError, TlsSettings, TlsVersion};

/// OpenSSL's names (and the IANA names) of the cipher suites the ring provider has.
/// `--ciphers` takes OpenSSL's names, as mosquitto does; both spellings are accepted.
const CIPHER_NAMES: &[(&str, &str, &SupportedCipherSuite)] = {
    use rustls::crypto::ring::cipher_suite as cs;
    &[
        (
            "TLS_AES_128_GCM_SHA256",
            "TLS13_AES_128_GCM_SHA256",
            &cs::TLS13_AES_128_GCM_SHA256,
        ),
        (
            "TLS_AES_256_GCM_SHA384",
            "TLS13_AES_256_GCM_SHA384",
            &cs::TLS13_AES_256_GCM_SHA384,
        ),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS13_CHACHA20_POLY1305_SHA256",
            &cs::TLS13_CHACHA20_POLY1305_SHA256,
        ),
        (
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            &cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            &cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            &cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "ECDHE-RSA-AES128-GCM-SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            &cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "ECDHE-RSA-AES256-GCM-SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            &cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "ECDHE-RSA-CHACHA20-POLY1305",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            &cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
    ]
};

/// The suites a `--ciphers` list allows, in the list's order (which is the client's
/// preference order). OpenSSL separates names with `:`, and also accepts `,` and spaces.
///
/// OpenSSL's cipher list only governs TLS 1.2 and below, so a list naming no TLS 1.3
/// suite leaves TLS 1.3 with its default suites, as with mosquitto. A list naming only
/// TLS 1.3 suites allows no TLS 1.2 suite. Names we cannot map (other suites, OpenSSL's
/// aliases such as `HIGH`, `!` exclusions) are an error naming them: rustls does not
/// have those suites, and ignoring them would silently weaken or change the choice.
pub fn cipher_suites(list: &str) -> Result<Vec<SupportedCipherSuite>, ConnectError> {
    let bad = |reason: String| ConnectError::TlsOption {
        option: "--ciphers",
        reason,
    };
    let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
    for name in list
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let suite = CIPHER_NAMES
            .iter()
            .find(|(openssl, iana, _)| {
                name.eq_ignore_ascii_case(openssl) || name.eq_ignore_ascii_case(iana)
            })
            .map(|(_, _, s)| **s)
            .ok_or_else(|| {
                let known: Vec<&str> = CIPHER_NAMES.iter().map(|(n, _, _)| *n).collect();
                bad(format!(
                    "unsupported cipher \"{name}\" (supported: {})",
                    known.join(":")
                ))
            })?;
        if !chosen.iter().any(|c| c.suite() == suite.suite()) {
            chosen.push(suite);
        }
    }
    if chosen.is_empty() {
        return Err(bad("no cipher named".into()));
    }
    if !chosen.iter().any(|s| s.tls13().is_some()) {
        chosen.extend(
            rustls::crypto::ring::DEFAULT_CIPHER_SUITES
                .iter()
                .filter(|s| s.tls13().is_some())
                .copied(),
        );
    }
    Ok(chosen)
}

/// Does `path` exist? mosquitto checks this first and says "File not found".
fn must_exist(option: &'static str, path: &Path) -> Result<(), ConnectError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ConnectError::TlsFileNotFound {
            option,
            path: path.to_path_buf(),
        }),
        Err(e) => Err(ConnectError::TlsFile {
            what: "Unable to load",
            option,
            path: path.to_path_buf(),
            reason: super::strerror(&e),
        }),
        Ok(_) => Ok(()),
    }
}

fn pem_reason(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => super::strerror(&e),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM data of the right kind".into(),
        other => format!("malformed PEM ({other})"),
    }
}

/// The trust store: `--cafile`, every certificate file in `--capath` (as OpenSSL's
/// hashed directories, but reading every file that parses), and the system's store
/// for `--tls-use-os-certs` or when neither file nor directory is given (mosquitto 2.1
/// does the same for `mqtts://` and port 8883).
fn roots(s: &TlsSettings) -> Result<RootCertStore, ConnectError> {
    let mut roots = RootCertStore::empty();
    if let Some(cafile) = &s.cafile {
        must_exist("--cafile", cafile)?;
        let fail = |reason: String| ConnectError::TlsFile {
            what: "Unable to load CA certificates, check cafile",
            option: "--cafile",
            path: cafile.clone(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(cafile)
            .map_err(|e| fail(pem_reason(e)))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(pem_reason(e)))?;
        if certs.is_empty() {
            return Err(fail("no certificates in it".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| fail(e.to_string()))?;
        }
    }
    if let Some(capath) = &s.capath {
        must_exist("--capath", capath)?;
        let fail = |reason: String| ConnectError::TlsFile {
            what: "Unable to load CA certificates, check capath",
            option: "--capath",
            path: capath.clone(),
            reason,
        };
        if !capath.is_dir() {
            return Err(fail("not a directory".into()));
        }
        // Files that are not certificates are skipped, as OpenSSL's lookup skips them.
        let found = rustls_native_certs::load_certs_from_paths(None, Some(capath));
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(fail(match found.errors.first() {
                Some(e) => format!("no usable certificates in it ({e})"),
                None => "no certificates in it".into(),
            }));
        }
    }
    if s.use_os_certs || (s.cafile.is_none() && s.capath.is_none()) {
        let found = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(ConnectError::TlsOption {
                option: "--tls-use-os-certs",
                reason: match found.errors.first() {
                    Some(e) => format!("no usable system CA certificates ({e})"),
                    None => "no system CA certificates found".into(),
                },
            });
        }
    }
    Ok(roots)
}

/// `--cert` and `--key`: the client's certificate chain and private key.
fn client_identity(
    s: &TlsSettings,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, ConnectError> {
    let (cert, key) = match (&s.certfile, &s.keyfile) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => {
            return Err(ConnectError::Invalid(
                "Both certfile and keyfile must be provided if one of them is set.".into(),
            ));
        }
    };
    must_exist("--cert", cert)?;
    must_exist("--key", key)?;
    let cert_fail = |reason: String| ConnectError::TlsFile {
        what: "Unable to load client certificate",
        option: "--cert",
        path: cert.clone(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_fail(pem_reason(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_fail(pem_reason(e)))?;
    if certs.is_empty() {
        return Err(cert_fail("no certificates in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| ConnectError::TlsFile {
        what: "Unable to load client key file",
        option: "--key",
        path: key.clone(),
        reason: match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no unencrypted private key in it".into()
            }
            other => pem_reason(other),
        },
    })?;
    Ok(Some((certs, key)))
}

/// The client configuration for these settings. Everything that can fail is checked
/// here, before any connection is made.
pub fn client_config(s: &TlsSettings) -> Result<Arc<ClientConfig>, ConnectError> {
    let roots = roots(s)?;
    let mut provider: CryptoProvider = (*provider()).clone();
    if let Some(list) = &s.ciphers {
        provider.cipher_suites = cipher_suites(list)?;
    }
    let provider = Arc::new(provider);
    // mosquitto's --tls-version allows exactly that version, no other.
    let versions: &[&SupportedProtocolVersion] = match s.version {
        None => rustls::DEFAULT_VERSIONS,
        Some(TlsVersion::Tls12) => &[&rustls::version::TLS12],
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| ConnectError::TlsOption {
            // The only way this fails: the chosen suites have none for the version.
            option: if s.ciphers.is_some() {
                "--ciphers"
            } else {
                "--tls-version"
            },
            reason: e.to_string(),
        })?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| ConnectError::TlsOption {
            option: "--cafile",
            reason: e.to_string(),
        })?;
    let builder = if s.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoHostnameCheck { inner: verifier }))
    } else {
        builder.with_webpki_verifier(verifier)
    };
    let mut config = match client_identity(s)? {
        Some((certs, key)) => {
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| ConnectError::TlsFile {
                    what: "Client certificate/key are inconsistent",
                    option: "--key",
                    path: s.keyfile.clone().unwrap_or_default(),
                    reason: e.to_string(),
                })?
        }
        None => builder.with_no_client_auth(),
    };
    if let Some(alpn) = &s.alpn {
        // RFC 7301 §3.1: a protocol name is 1 to 255 bytes.
        if alpn.is_empty() || alpn.len() > 255 {
            return Err(ConnectError::TlsOption {
                option: "--tls-alpn",
                reason: "a protocol name must be 1 to 255 bytes long".into(),
            });
        }
        config.alpn_protocols = vec![alpn.as_bytes().to_vec()];
    }
    if let Some(k) = &s.keylog {
        let file = KeyLogFile::open(&k.path).map_err(|e| ConnectError::TlsFile {
            what: if k.named_by == "SSLKEYLOGFILE" {
                "Unable to open TLS key log file (SSLKEYLOGFILE)"
            } else {
                "Unable to open TLS key log file"
            },
            option: k.named_by,
            path: k.path.clone(),
            reason: super::strerror(&e),
        })?;
        config.key_log = Arc::new(file);
    }
    Ok(Arc::new(config))
}

/// The TLS server name for `host`: a DNS name, or an IP address (checked against the
/// certificate's IP address entries).
pub fn server_name(host: &str) -> Result<ServerName<'static>, ConnectError> {
    let bare = super::addr::unbracketed(host);
    ServerName::try_from(bare.to_string()).map_err(|e| {
        ConnectError::Invalid(format!(
            "\"{host}\" cannot be used as a TLS server name: {e}."
        ))
    })
}

/// `--insecure` as mosquitto means it: "do not check that the server certificate
/// hostname matches the remote hostname". The chain is still verified against the
/// trusted CAs; only a name mismatch is forgiven. `WebPkiServerVerifier` checks the
/// name last, after the chain, so forgiving that one error skips nothing else.
#[derive(Debug)]
struct NoHostnameCheck {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for NoHostnameCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_names_map_to_suites() {
        let suites = cipher_suites("ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384").unwrap();
        let names: Vec<String> = suites.iter().map(|s| format!("{:?}", s.suite())).collect();
        assert_eq!(
            names,
            [
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS13_AES_256_GCM_SHA384"
            ]
        );
        // IANA spelling, commas, any case.
        let suites =
            cipher_suites("tls_ecdhe_ecdsa_with_aes_256_gcm_sha384, ECDHE-RSA-CHACHA20-POLY1305")
                .unwrap();
        assert_eq!(
            suites[0].suite(),
            rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        );
        assert_eq!(
            suites[1].suite(),
            rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        );
        // No TLS 1.3 suite named: TLS 1.3 keeps its defaults, as OpenSSL's list does.
        assert_eq!(suites.iter().filter(|s| s.tls13().is_some()).count(), 3);
    }

    #[test]
    fn unknown_cipher_names_are_errors_naming_the_option() {
        for list in [
            "AES128-SHA",
            "ECDHE-RSA-AES128-GCM-SHA256:HIGH",
            "!aNULL",
            ":",
        ] {
            let e = cipher_suites(list).unwrap_err().to_string();
            assert!(e.contains("--ciphers"), "{list}: {e}");
        }
        let e = cipher_suites("ECDHE-RSA-AES128-GCM-SHA256:RC4-MD5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"RC4-MD5\""), "{e}");
    }

    #[test]
    fn server_names_accept_names_and_addresses() {
        assert!(matches!(
            server_name("localhost"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            server_name("127.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(server_name("::1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        assert!(server_name("bad name!").is_err());
    }
}
