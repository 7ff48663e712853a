//! The registry client's TLS settings: the system's root certificates, checked by
//! rustls-platform-verifier as reqwest's own default does, but read on a thread of their own from
//! the moment the client is built. Reading them is file work (about 150 certificates, each read twice
//! when both `SSL_CERT_FILE` and `SSL_CERT_DIR` are set: ~5 ms here) that would otherwise come before
//! the first connection; this way it overlaps the TCP connect and the TLS hello, and the handshake
//! waits for it only when the server's certificate arrives first.

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls_platform_verifier::Verifier;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

/// A client configuration (TLS 1.2 and 1.3, aws-lc-rs) offering `alpn` protocols, whose trust store
/// is being read in the background, and a handle that says whether reading it failed; `Err` when
/// the provider cannot be set up.
pub(crate) fn client_config(
    alpn: &[&[u8]],
) -> Result<(rustls::ClientConfig, TrustStore), rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(Deferred::start(Arc::clone(&provider)));
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
        match self.0.ready.get() {
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        }
    }
}

/// The platform verifier, once the thread building it is done.
#[derive(Debug)]
struct Deferred {
    provider: Arc<CryptoProvider>,
    loading: Mutex<Option<JoinHandle<Result<Verifier, rustls::Error>>>>,
    ready: OnceLock<Result<Verifier, rustls::Error>>,
}

impl Deferred {
    /// Starts reading the trust store.
    fn start(provider: Arc<CryptoProvider>) -> Deferred {
        let for_thread = Arc::clone(&provider);
        let loading = std::thread::Builder::new()
            .name("trust-store".into())
            .spawn(move || Verifier::new(for_thread))
            .ok();
        Deferred {
            provider,
            loading: Mutex::new(loading),
            ready: OnceLock::new(),
        }
    }

    /// The verifier, waiting for the thread if it is still reading (or reading here if no thread
    /// could be started).
    fn verifier(&self) -> Result<&Verifier, rustls::Error> {
        self.ready
            .get_or_init(|| {
                let handle = self.loading.lock().ok().and_then(|mut h| h.take());
                match handle {
                    Some(h) => h.join().unwrap_or_else(|_| {
                        Err(rustls::Error::General(
                            "reading the system's root certificates failed".into(),
                        ))
                    }),
                    None => Verifier::new(Arc::clone(&self.provider)),
                }
            })
            .as_ref()
            .map_err(Clone::clone)
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
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
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

    #[test]
    fn the_trust_store_is_the_system_s_and_is_read_once() {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let deferred = Deferred::start(Arc::clone(&provider));
        let first = deferred.verifier().map(std::ptr::from_ref);
        let second = deferred.verifier().map(std::ptr::from_ref);
        assert!(first.is_ok(), "{first:?}");
        assert_eq!(first, second);
        assert_eq!(
            deferred.supported_verify_schemes(),
            Verifier::new(provider).unwrap().supported_verify_schemes()
        );
    }
}
