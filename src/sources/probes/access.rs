//! What a probe may present and to whom: a CA to verify HTTPS members, a
//! client certificate and key, a user and password (from a file or an
//! environment variable, never from argv alone), and the hosts allowed to
//! receive them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::sources::redis::trust::AllowList;

/// The files and secret a probe uses, as read at start.
#[derive(Clone, Default)]
pub struct Access {
    pub ca: Option<Vec<CertificateDer<'static>>>,
    pub identity: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub allowed: Option<AllowList>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("ca", &self.ca.is_some())
            .field("client_certificate", &self.identity.is_some())
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Where the files and the password come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFiles {
    #[serde(default)]
    pub ca: Option<PathBuf>,
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
    #[serde(default)]
    pub user: Option<String>,
    /// The password's file (its first line).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
}

impl AccessFiles {
    /// Reads everything named; errors say which file and why.
    pub fn load(&self, allowed: AllowList) -> Result<Access, String> {
        let ca = self.ca.as_deref().map(certificates).transpose()?;
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some((certificates(cert)?, Arc::new(private_key(key)?))),
            (None, None) => None,
            _ => return Err("a client certificate needs both its certificate and its key".into()),
        };
        let password = match (&self.password_file, &self.password_env) {
            (Some(path), _) => Some(first_line(path)?),
            (None, Some(var)) => std::env::var(var).ok().filter(|p| !p.is_empty()),
            (None, None) => None,
        };
        Ok(Access {
            ca,
            identity,
            user: self.user.clone(),
            password,
            allowed: Some(allowed),
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    crate::bounded::read_text(path, crate::bounded::CONFIG_BYTES)
        .map(String::into_bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("{}: not a PEM private key: {e}", path.display()))
}

fn first_line(path: &Path) -> Result<String, String> {
    let text = crate::bounded::read_text(path, 64 * 1024)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text.lines().next().unwrap_or("").trim_end().to_string())
}

impl Access {
    /// Whether credentials may go to `host`.
    pub fn allows(&self, host: &str) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.allows(host))
    }

    /// The TLS settings for HTTPS members: the CA given, else the system's
    /// roots; the client certificate only when `with_identity`.
    pub fn tls_config(&self, with_identity: bool) -> Result<rustls::ClientConfig, String> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca {
            Some(ca) => {
                for cert in ca {
                    roots
                        .add(cert.clone())
                        .map_err(|e| format!("bad CA certificate: {e}"))?;
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        match (&self.identity, with_identity) {
            (Some((certs, key)), true) => builder
                .with_client_auth_cert(certs.clone(), key.clone_key())
                .map_err(|e| format!("the client certificate and key do not go together: {e}")),
            _ => Ok(builder.with_no_client_auth()),
        }
    }
}
