//! Key and trust stores: PEM only so far (PKCS12 and JKS come next).
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

pub struct KeyMaterial {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

pub fn load_key_store(
    path: &Path,
    _password: Option<&str>,
    _kind: Option<&str>,
) -> Result<KeyMaterial, StoreError> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| StoreError(format!("{}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
    let key = PrivateKeyDer::from_pem_file(path)
        .map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
    Ok(KeyMaterial { chain, key })
}

pub fn load_trust_store(
    path: &Path,
    _password: Option<&str>,
    _kind: Option<&str>,
) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    CertificateDer::pem_file_iter(path)
        .map_err(|e| StoreError(format!("{}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError(format!("{}: {e}", path.display())))
}
