//! The secrets the configuration points at: the broker password and the
//! TLS files. Read at start, at `--check-config` and at each reload, so a
//! file that is missing or malformed is a configuration error with its
//! name, never a failure later. Their contents never reach a log line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::config::{Config, SYSTEM_CA_FILE};

/// What the connection to the broker needs besides the configuration.
#[derive(Clone)]
pub struct Credentials {
    pub password: Option<String>,
    /// For `mqtts://` brokers.
    pub tls: Option<Arc<ClientConfig>>,
}

/// A secret file that cannot serve, and why.
#[derive(Debug)]
pub struct CredentialError {
    pub key: &'static str,
    pub file: PathBuf,
    pub message: String,
}

impl std::fmt::Display for CredentialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "key '{}': {}: {}",
            self.key,
            self.file.display(),
            self.message
        )
    }
}

impl std::error::Error for CredentialError {}

/// Where a configured file is: absolute as given; relative, in the
/// credentials directory systemd makes for `LoadCredential=`.
pub fn resolve(key: &'static str, file: &Path) -> Result<PathBuf, CredentialError> {
    if file.is_absolute() {
        return Ok(file.to_path_buf());
    }
    match std::env::var_os("CREDENTIALS_DIRECTORY") {
        Some(directory) => Ok(Path::new(&directory).join(file)),
        None => Err(CredentialError {
            key,
            file: file.to_path_buf(),
            message: "a relative path is read from $CREDENTIALS_DIRECTORY (systemd's \
                      LoadCredential=), which is not set: give an absolute path"
                .into(),
        }),
    }
}

fn read(key: &'static str, file: &Path) -> Result<(PathBuf, Vec<u8>), CredentialError> {
    let path = resolve(key, file)?;
    let bytes = std::fs::read(&path).map_err(|error| CredentialError {
        key,
        file: path.clone(),
        message: format!("cannot read it: {error}"),
    })?;
    Ok((path, bytes))
}

impl Credentials {
    pub fn load(config: &Config) -> Result<Credentials, CredentialError> {
        let password = match &config.password_file {
            None => None,
            Some(file) => Some(read_password(file)?),
        };
        let tls = if config.broker.tls {
            Some(Arc::new(tls_config(config)?))
        } else {
            None
        };
        Ok(Credentials { password, tls })
    }
}

/// The password: the file's first line, without its line break.
fn read_password(file: &Path) -> Result<String, CredentialError> {
    let (path, bytes) = read("password_file", file)?;
    let error = |message: &str| CredentialError {
        key: "password_file",
        file: path.clone(),
        message: message.into(),
    };
    let text = String::from_utf8(bytes).map_err(|_| error("the password is not UTF-8 text"))?;
    let password = text.lines().next().unwrap_or_default();
    if password.is_empty() {
        return Err(error("the file is empty: its first line is the password"));
    }
    Ok(password.to_string())
}

fn tls_config(config: &Config) -> Result<ClientConfig, CredentialError> {
    let (ca_key, ca_file) = match &config.ca_file {
        Some(file) => ("ca_file", file.clone()),
        None => ("ca_file", PathBuf::from(SYSTEM_CA_FILE)),
    };
    let (ca_path, ca_pem) = read(ca_key, &ca_file)?;
    let pem_error = |key: &'static str, file: &Path, what: &str| CredentialError {
        key,
        file: file.to_path_buf(),
        message: format!("no {what} in it (PEM expected)"),
    };
    let mut roots = RootCertStore::empty();
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&ca_pem)
        .filter_map(Result::ok)
        .collect();
    let (added, _ignored) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(pem_error(ca_key, &ca_path, "CA certificate"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| CredentialError {
            key: ca_key,
            file: ca_path.clone(),
            message: format!("TLS set-up failed: {error}"),
        })?
        .with_root_certificates(roots);
    match &config.client_auth {
        None => Ok(builder.with_no_client_auth()),
        Some((cert_file, key_file)) => {
            let (cert_path, cert_pem) = read("cert_file", cert_file)?;
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
                .filter_map(Result::ok)
                .collect();
            if chain.is_empty() {
                return Err(pem_error("cert_file", &cert_path, "certificate"));
            }
            let (key_path, key_pem) = read("key_file", key_file)?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|_| pem_error("key_file", &key_path, "private key"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|error| CredentialError {
                    key: "key_file",
                    file: key_path,
                    message: format!("does not go with cert_file: {error}"),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("f"), "pi").unwrap()
    }

    #[test]
    fn the_password_is_the_first_line_and_never_empty() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\nignored\n").unwrap();
        let text = format!(
            "broker = \"mqtt://h\"\nusername = \"u\"\npassword_file = \"{}\"",
            file.display()
        );
        let credentials = Credentials::load(&config(&text)).unwrap();
        assert_eq!(credentials.password.as_deref(), Some("s3cret"));
        std::fs::write(&file, "\n").unwrap();
        let error = Credentials::load(&config(&text)).err().unwrap().to_string();
        assert!(
            error.contains("key 'password_file'") && error.contains("empty"),
            "{error}"
        );
        std::fs::remove_file(&file).unwrap();
        let error = Credentials::load(&config(&text)).err().unwrap().to_string();
        assert!(error.contains("cannot read it"), "{error}");
    }

    #[test]
    fn relative_files_come_from_the_credentials_directory_only() {
        // (No test here sets CREDENTIALS_DIRECTORY: they run in threads.)
        if std::env::var_os("CREDENTIALS_DIRECTORY").is_none() {
            let error = resolve("password_file", Path::new("pw"))
                .unwrap_err()
                .to_string();
            assert!(error.contains("LoadCredential"), "{error}");
        }
        assert_eq!(
            resolve("ca_file", Path::new("/a/b")).unwrap(),
            PathBuf::from("/a/b")
        );
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let text = format!("broker = \"mqtts://h\"\nca_file = \"{}\"", file.display());
        let error = Credentials::load(&config(&text)).err().unwrap().to_string();
        assert!(
            error.contains("key 'ca_file'") && error.contains("no CA certificate"),
            "{error}"
        );
    }
}
