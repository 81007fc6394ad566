//! The rustls client configuration for `wss://` and `https://`, built from
//! [`TlsOptions`]: the bundled public (webpki) roots unless turned off, extra CA
//! certificates, and an optional client certificate. ring is named explicitly as the
//! crypto provider, so the result never depends on which provider features other crates
//! enable.

use std::sync::Arc;

use futures_rustls::rustls;
use futures_rustls::TlsConnector;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use surql::{Error, Result, TlsOptions};

/// A TLS connector for `url` (named in errors) with `tls`'s trust and identity.
pub(crate) fn connector(url: &str, tls: &TlsOptions) -> Result<TlsConnector> {
    let fail = |reason: String| Error::Connect {
        url: url.to_owned(),
        reason: format!("TLS setup failed: {reason}"),
    };
    let mut roots = rustls::RootCertStore::empty();
    if !tls.no_public_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for (i, pem) in tls.extra_roots_pem.iter().enumerate() {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| fail(format!("extra root certificate #{i}: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| fail(format!("extra root certificate #{i}: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots);
    let config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some(cert) => {
            let chain = CertificateDer::pem_slice_iter(&cert.chain_pem)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| fail(format!("client certificate chain: {e}")))?;
            // The key's bytes never appear in the message.
            let key = PrivateKeyDer::from_pem_slice(&cert.key_pem)
                .map_err(|_| fail("the client private key is not a PEM private key".into()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| fail(format!("client certificate: {e}")))?
        }
    };
    Ok(TlsConnector::from(Arc::new(config)))
}
