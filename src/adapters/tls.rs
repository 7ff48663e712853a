//! The registry client's TLS settings: the system's root certificates, read on a thread of their
//! own from the moment the client is built, so that reading them overlaps the TCP connect and the TLS
//! hello; the handshake waits for them only when the server's certificate arrives first.
//!
//! On Linux the roots are where rustls-native-certs (reqwest's default, through
//! rustls-platform-verifier) finds them: `SSL_CERT_FILE` and `SSL_CERT_DIR` when either is set,
//! else OpenSSL's usual bundle file and directory. Reading all of them is file work: on Debian and
//! Ubuntu the directory holds the bundle's ~145 certificates once more, one file each: reading
//! everything took 4.4–8.6 ms here, the bundle alone 1.2–1.9 ms. So the bundle file is read first and
//! checks the server's chain alone; the directories are read only if it does not verify, and the
//! chain is then checked against everything, as OpenSSL looks into its directory only for issuers
//! the file lacks. A chain the bundle verifies is verified by the whole store too (more roots only
//! add paths), and every failure is the whole store's answer, so what is trusted is unchanged.

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

/// A client configuration (TLS 1.2 and 1.3, aws-lc-rs) offering `alpn` protocols, whose trust store
/// is being read in the background, and a handle that says whether reading it failed; `Err` when
/// the provider cannot be set up.
pub(crate) fn client_config(
    alpn: &[&[u8]],
) -> Result<(rustls::ClientConfig, TrustStore), rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(Deferred::start(Arc::clone(&provider), Roots::system()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok((config, TrustStore(verifier)))
}

/// The trust store a client configuration reads.
#[derive(Debug)]
pub(crate) struct TrustStore(Arc<Deferred>);

impl TrustStore {
    /// Why the system's root certificates could not be used, once a handshake found out (a
    /// machine problem, not the registry's: the request is not worth retrying).
    pub(crate) fn failure(&self) -> Option<String> {
        let first = self.0.ready.get().and_then(|r| r.as_ref().err());
        let whole = self.0.whole.get().and_then(|r| r.as_ref().err());
        first.or(whole).map(ToString::to_string)
    }
}

/// A TLS failure no retry mends (a certificate refused, a handshake the server would not finish),
/// found among an HTTP client error's causes; `None` for anything else (a refused or dropped
/// connection, a timeout), which may pass. rustls's error reaches reqwest inside an `io::Error`,
/// whose `source()` skips the error it wraps, so each `io::Error` is looked into as well.
pub(crate) fn handshake_failure(
    error: &(dyn std::error::Error + 'static),
) -> Option<HandshakeFailure> {
    let mut next = Some(error);
    while let Some(e) = next {
        let wrapped = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        let found = e
            .downcast_ref::<rustls::Error>()
            .or_else(|| wrapped.and_then(|w| w.downcast_ref::<rustls::Error>()));
        if let Some(found) = found {
            return Some(HandshakeFailure::of(found));
        }
        next = wrapped.or_else(|| e.source());
    }
    None
}

/// What a failed TLS handshake says to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HandshakeFailure {
    /// rustls's reason, in words.
    pub(crate) reason: String,
    /// Whether the server's certificate was refused (rather than the handshake itself).
    pub(crate) certificate: bool,
}

impl HandshakeFailure {
    fn of(e: &rustls::Error) -> HandshakeFailure {
        use rustls::CertificateError as C;
        let reason = match e {
            rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
                "the certificate's issuer is not in this machine's trust store (UnknownIssuer)"
                    .to_string()
            }
            rustls::Error::InvalidCertificate(C::NotValidForName) => {
                "the certificate is not valid for this host name (NotValidForName)".to_string()
            }
            other => other.to_string(),
        };
        HandshakeFailure {
            reason,
            certificate: matches!(e, rustls::Error::InvalidCertificate(_)),
        }
    }
}

/// Where the root certificates are.
#[derive(Debug, Clone, Default)]
struct Roots {
    /// A bundle file (PEM).
    file: Option<PathBuf>,
    /// Directories of PEM files.
    dirs: Vec<PathBuf>,
}

impl Roots {
    /// The system's roots, found as rustls-native-certs finds them on Linux; elsewhere none (the
    /// platform verifier asks the operating system).
    fn system() -> Roots {
        if !cfg!(target_os = "linux") {
            return Roots::default();
        }
        let file = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
        let dirs: Vec<PathBuf> = std::env::var_os("SSL_CERT_DIR")
            .map(|d| {
                std::env::split_paths(&d)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if file.is_some() || !dirs.is_empty() {
            return Roots { file, dirs };
        }
        let probed = openssl_probe::probe();
        Roots {
            file: probed.cert_file,
            dirs: probed.cert_dir,
        }
    }

    /// A verifier of the bundle file's roots, when there is a bundle and something more to read
    /// later (else the whole store is read at once).
    fn bundle_verifier(
        &self,
        provider: &Arc<CryptoProvider>,
    ) -> Option<Arc<dyn ServerCertVerifier>> {
        let file = self.file.as_deref().filter(|_| !self.dirs.is_empty())?;
        let certs = rustls_native_certs::load_certs_from_paths(Some(file), None).certs;
        webpki_verifier(certs, provider).ok()
    }

    /// A verifier of every root: on Linux the file's and the directories' (read as
    /// rustls-native-certs reads them, duplicates dropped), elsewhere the platform verifier.
    fn whole_verifier(
        &self,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Arc<dyn ServerCertVerifier>, rustls::Error> {
        if !cfg!(target_os = "linux") {
            let platform = rustls_platform_verifier::Verifier::new(Arc::clone(provider))?;
            return Ok(Arc::new(platform));
        }
        let mut certs = Vec::new();
        let mut dirs = self.dirs.iter().map(|d| Some(d.as_path()));
        let first_dir = dirs.next().flatten();
        certs.extend(
            rustls_native_certs::load_certs_from_paths(self.file.as_deref(), first_dir).certs,
        );
        for dir in dirs {
            certs.extend(rustls_native_certs::load_certs_from_paths(None, dir).certs);
        }
        certs.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
        certs.dedup();
        webpki_verifier(certs, provider)
    }
}

/// A webpki verifier of `certs` (those that do not parse are left out, as the platform verifier
/// leaves them out); `Err` when none is left.
fn webpki_verifier(
    certs: Vec<CertificateDer<'static>>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, rustls::Error> {
    let mut store = rustls::RootCertStore::empty();
    store.add_parsable_certificates(certs);
    if store.is_empty() {
        return Err(rustls::Error::General(
            "No CA certificates were loaded from the system".into(),
        ));
    }
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(provider))
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
    Ok(verifier)
}

/// What the thread read first.
struct First {
    verifier: Arc<dyn ServerCertVerifier>,
    /// Whether that was the bundle alone, the directories still to read if it does not verify.
    partial: bool,
}

/// The verifiers, once the thread building the first is done.
struct Deferred {
    provider: Arc<CryptoProvider>,
    roots: Roots,
    loading: Mutex<Option<JoinHandle<Result<First, rustls::Error>>>>,
    ready: OnceLock<Result<First, rustls::Error>>,
    /// Every root, read when the bundle alone does not verify a chain.
    whole: OnceLock<Result<Arc<dyn ServerCertVerifier>, rustls::Error>>,
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("roots", &self.roots)
            .field("ready", &self.ready.get().map(Result::is_ok))
            .field("whole", &self.whole.get().map(Result::is_ok))
            .finish_non_exhaustive()
    }
}

impl Deferred {
    /// Starts reading the trust store at `roots`.
    fn start(provider: Arc<CryptoProvider>, roots: Roots) -> Deferred {
        let (for_thread, roots_for_thread) = (Arc::clone(&provider), roots.clone());
        let loading = std::thread::Builder::new()
            .name("trust-store".into())
            .spawn(move || first(&roots_for_thread, &for_thread))
            .ok();
        Deferred {
            provider,
            roots,
            loading: Mutex::new(loading),
            ready: OnceLock::new(),
            whole: OnceLock::new(),
        }
    }

    /// The first verifier, waiting for the thread if it is still reading (or reading here if no
    /// thread could be started).
    fn first(&self) -> Result<&First, rustls::Error> {
        self.ready
            .get_or_init(|| {
                let handle = self.loading.lock().ok().and_then(|mut h| h.take());
                match handle {
                    Some(h) => h.join().unwrap_or_else(|_| {
                        Err(rustls::Error::General(
                            "reading the system's root certificates failed".into(),
                        ))
                    }),
                    None => first(&self.roots, &self.provider),
                }
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The verifier of every root, read once.
    fn whole(&self) -> Result<&Arc<dyn ServerCertVerifier>, rustls::Error> {
        self.whole
            .get_or_init(|| self.roots.whole_verifier(&self.provider))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The bundle's verifier if there is more to read later, else the whole store's.
fn first(roots: &Roots, provider: &Arc<CryptoProvider>) -> Result<First, rustls::Error> {
    match roots.bundle_verifier(provider) {
        Some(verifier) => Ok(First {
            verifier,
            partial: true,
        }),
        None => Ok(First {
            verifier: roots.whole_verifier(provider)?,
            partial: false,
        }),
    }
}

impl ServerCertVerifier for Deferred {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let first = self.first()?;
        let verified = first.verifier.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if verified.is_ok() || !first.partial {
            return verified;
        }
        self.whole()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    // The handshake signatures need no trust store: checked as the platform verifier checks them.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    /// An error that says what it is and has a cause, as hyper's and reqwest's do.
    #[derive(Debug)]
    struct Wrapper(&'static str, Box<dyn std::error::Error + Send + Sync>);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.1)
        }
    }

    #[test]
    fn a_handshake_failure_is_found_inside_the_io_error_that_carries_it() {
        let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, refused);
        let chain = Wrapper(
            "client error (Connect)",
            Box::new(Wrapper("connect", Box::new(io))),
        );
        let found = handshake_failure(&chain).unwrap();
        assert!(
            found.certificate && found.reason.contains("UnknownIssuer"),
            "{found:?}"
        );
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        let chain = Wrapper("connect", Box::new(alert));
        assert!(!handshake_failure(&chain).unwrap().certificate);
        // A refused or dropped connection may pass: it is not one.
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            handshake_failure(&Wrapper("connect", Box::new(reset))),
            None
        );
    }

    /// A directory holding the named fixture certificates.
    fn dir_of(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for n in names {
            std::fs::copy(fixture(n), dir.path().join(n)).unwrap();
        }
        dir
    }

    /// Checks the fixture leaf (`registry.test`, issued by test CA b) with the roots at `roots`.
    fn verify(roots: Roots) -> (Deferred, Result<ServerCertVerified, rustls::Error>) {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let deferred = Deferred::start(provider, roots);
        let pem = std::fs::read(fixture("leaf-by-b.pem")).unwrap();
        let leaf = rustls::pki_types::pem::PemObject::from_pem_slice(&pem).unwrap();
        let name = ServerName::try_from("registry.test").unwrap();
        // 2030-01-01: inside the fixtures' validity.
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_893_456_000));
        let verified = deferred.verify_server_cert(&leaf, &[], &name, &[], now);
        (deferred, verified)
    }

    #[test]
    fn a_chain_the_bundle_verifies_needs_no_directory() {
        let dir = dir_of(&["ca-a.pem"]);
        let (deferred, verified) = verify(Roots {
            file: Some(fixture("ca-b.pem")),
            dirs: vec![dir.path().into(), "/no/such/dir".into()],
        });
        assert!(verified.is_ok(), "{verified:?}");
        assert!(deferred.whole.get().is_none(), "the directories were read");
        assert_eq!(TrustStore(Arc::new(deferred)).failure(), None);
    }

    #[test]
    fn an_issuer_only_in_a_directory_is_trusted_as_before() {
        let dir = dir_of(&["ca-b.pem"]);
        let (deferred, verified) = verify(Roots {
            file: Some(fixture("ca-a.pem")),
            dirs: vec![dir.path().into()],
        });
        assert!(verified.is_ok(), "{verified:?}");
        assert!(deferred.whole.get().is_some_and(Result::is_ok));
    }

    #[test]
    fn an_issuer_nowhere_in_the_store_is_unknown() {
        let dir = dir_of(&["ca-a.pem"]);
        for roots in [
            Roots {
                file: Some(fixture("ca-a.pem")),
                dirs: vec![dir.path().into()],
            },
            Roots {
                file: None,
                dirs: vec![dir.path().into()],
            },
            Roots {
                file: Some(fixture("ca-a.pem")),
                dirs: vec![],
            },
        ] {
            let (deferred, verified) = verify(roots.clone());
            assert_eq!(
                verified.unwrap_err(),
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
                "{roots:?}"
            );
            assert_eq!(TrustStore(Arc::new(deferred)).failure(), None, "{roots:?}");
        }
    }

    #[test]
    fn a_store_without_certificates_is_the_machine_s_problem() {
        let empty = tempfile::tempdir().unwrap();
        let (deferred, verified) = verify(Roots {
            file: Some(empty.path().join("no-such-bundle.crt")),
            dirs: vec![empty.path().into()],
        });
        assert!(verified.is_err());
        let failure = TrustStore(Arc::new(deferred)).failure();
        assert!(
            failure
                .as_deref()
                .is_some_and(|f| f.contains("No CA certificates")),
            "{failure:?}"
        );
    }

    #[test]
    fn the_system_store_is_read_once() {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let deferred = Deferred::start(Arc::clone(&provider), Roots::system());
        let first = deferred.first().map(|f| Arc::as_ptr(&f.verifier));
        let second = deferred.first().map(|f| Arc::as_ptr(&f.verifier));
        assert!(first.is_ok(), "{first:?}");
        assert_eq!(first, second);
        assert_eq!(
            deferred.supported_verify_schemes(),
            rustls_platform_verifier::Verifier::new(provider)
                .unwrap()
                .supported_verify_schemes()
        );
    }
}
