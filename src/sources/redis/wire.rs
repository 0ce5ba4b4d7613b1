//! The byte stream under every Redis connection the sources open: TCP, TLS
//! over TCP, or a Unix socket, opened here rather than by the library so
//! that every reply is bounded. The library buffers a reply whole before
//! parsing it, whatever size its header announces; an instance (or anything
//! answering on its port) that sends 50 MB of `INFO` would otherwise cost
//! that much memory on every poll. The stream is [`Capped`] at
//! [`REPLY_BYTES`] per request.

use std::io;
use std::sync::Arc;

use redis::ConnectionAddr;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};

use super::trust::TlsFiles;
use crate::sources::capped::Capped;

/// The most read in answer to one request (a pipeline of `INFO` sections,
/// `CLIENT LIST`, `SENTINEL replicas`): far beyond what a healthy instance
/// sends (a few kilobytes; `CLIENT LIST` of 10,000 clients is about 3 MB).
pub const REPLY_BYTES: usize = 8 * 1024 * 1024;

/// Any of the streams below, for the library.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// Opens the stream to `addr` (TLS as the target's trust says), bounded.
pub async fn open(addr: &ConnectionAddr, tls: &TlsFiles) -> io::Result<Capped<Box<dyn Stream>>> {
    let stream: Box<dyn Stream> = match addr {
        ConnectionAddr::Tcp(host, port) => Box::new(tcp(host, *port).await?),
        ConnectionAddr::TcpTls { host, port, .. } => {
            let tcp = tcp(host, *port).await?;
            let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
                .to_owned();
            let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(tls)?));
            Box::new(connector.connect(name, tcp).await?)
        }
        ConnectionAddr::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
        other => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("unsupported address {other:?}"),
            ));
        }
    };
    Ok(Capped::new(stream, REPLY_BYTES))
}

async fn tcp(host: &str, port: u16) -> io::Result<tokio::net::TcpStream> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let stream = tokio::net::TcpStream::connect((host, port)).await?;
    // Requests are small and answered at once: no Nagle delay.
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The rustls client settings: the CA given, else the system's roots; the
/// client certificate when given; no verification with `--tls-insecure`.
fn client_config(tls: &TlsFiles) -> io::Result<rustls::ClientConfig> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"))
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS", &e))?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(insecure::Anything(provider)))
    } else {
        builder.with_root_certificates(roots(tls.ca.as_deref())?)
    };
    match &tls.client {
        Some((cert, key)) => {
            let certs = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad("the client certificate", &e))?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| bad("the client key", &e))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| bad("the client certificate and key", &e))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

fn roots(ca: Option<&[u8]>) -> io::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                roots
                    .add(cert)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    Ok(roots)
}

/// `--tls-insecure`: the server's certificate is not checked (its
/// handshake signatures still are, so the connection is TLS all the same).
mod insecure {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, Error, SignatureScheme};

    #[derive(Debug)]
    pub struct Anything(pub Arc<CryptoProvider>);

    impl ServerCertVerifier for Anything {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            let algorithms = &self.0.signature_verification_algorithms;
            verify_tls12_signature(message, cert, dss, algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            let algorithms = &self.0.signature_verification_algorithms;
            verify_tls13_signature(message, cert, dss, algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}
