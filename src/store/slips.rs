//! Slip files (and raw messages kept for staff), stored by SHA-256 of their
//! content through the `object_store` crate: a local folder by default, an
//! S3-compatible bucket when several machines share the work. Names the
//! sender chose are never used as paths.

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Content-addressed file storage.
#[derive(Clone, Debug)]
pub struct SlipStore {
    inner: Arc<dyn ObjectStore>,
}

/// The SHA-256 of `bytes`, lowercase hex.
pub fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn path_of(hash: &str) -> Result<ObjectPath, SlipError> {
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SlipError::BadHash(hash.to_string()));
    }
    Ok(ObjectPath::from(format!(
        "{}/{}/{hash}",
        &hash[..2],
        &hash[2..4]
    )))
}

/// Errors of the slip store.
#[derive(Debug, thiserror::Error)]
pub enum SlipError {
    /// The hash is not 64 hex digits (never a path from outside).
    #[error("not a slip id: {0:?}")]
    BadHash(String),
    /// No file has that hash.
    #[error("no slip with id {0}")]
    NotFound(String),
    /// The storage failed.
    #[error("slip storage failed: {0}")]
    Storage(#[from] object_store::Error),
}

impl SlipStore {
    /// A store in a local folder (created if missing).
    ///
    /// # Errors
    /// The folder cannot be created.
    pub fn local(dir: &std::path::Path) -> anyhow::Result<SlipStore> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("Cannot create slip folder {}: {e}", dir.display()))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
        Ok(SlipStore {
            inner: Arc::new(fs),
        })
    }

    /// A store from a URL (`s3://bucket/prefix`, credentials from the usual `AWS_*` variables),
    /// or a local folder for a plain path.
    ///
    /// # Errors
    /// The URL is not understood.
    pub fn from_setting(store: &str, local_dir: &std::path::Path) -> anyhow::Result<SlipStore> {
        if store.contains("://") && !store.starts_with("file://") {
            let url = url_parse(store)?;
            // object_store reads its options by lowercase key (`aws_access_key_id`);
            // the environment spells them in capitals, which it would ignore and
            // fall back to the cloud's instance metadata.
            let options = std::env::vars()
                .filter(|(k, _)| {
                    k.starts_with("AWS_") || k.starts_with("GOOGLE_") || k.starts_with("AZURE_")
                })
                .map(|(k, v)| (k.to_ascii_lowercase(), v));
            let (inner, prefix) = object_store::parse_url_opts(&url, options)?;
            let inner: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
                Arc::from(inner)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(inner, prefix))
            };
            Ok(SlipStore { inner })
        } else {
            SlipStore::local(local_dir)
        }
    }

    /// Stores `bytes` (once) and returns their hash.
    ///
    /// # Errors
    /// The storage failed.
    pub async fn put(&self, bytes: &[u8]) -> Result<String, SlipError> {
        let h = hash(bytes);
        let path = path_of(&h)?;
        if self.inner.head(&path).await.is_ok() {
            return Ok(h);
        }
        self.inner
            .put(&path, PutPayload::from(Bytes::copy_from_slice(bytes)))
            .await?;
        Ok(h)
    }

    /// Reads the file with this hash.
    ///
    /// # Errors
    /// [`SlipError::NotFound`] when there is none.
    pub async fn get(&self, hash: &str) -> Result<Bytes, SlipError> {
        let path = path_of(hash)?;
        match self.inner.get(&path).await {
            Ok(r) => Ok(r.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(SlipError::NotFound(hash.into())),
            Err(e) => Err(e.into()),
        }
    }
}

fn url_parse(s: &str) -> anyhow::Result<url::Url> {
    url::Url::parse(s).map_err(|e| anyhow::anyhow!("slips.store {s:?} is not a URL: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_are_kept_by_content_hash_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SlipStore::local(dir.path()).unwrap();
        let a = store.put(b"slip one").await.unwrap();
        let again = store.put(b"slip one").await.unwrap();
        assert_eq!(a, again);
        assert_eq!(a, hash(b"slip one"));
        assert_eq!(&store.get(&a).await.unwrap()[..], b"slip one");
        assert!(matches!(
            store.get(&hash(b"other")).await,
            Err(SlipError::NotFound(_))
        ));
        assert!(matches!(
            store.get("../../etc/passwd").await,
            Err(SlipError::BadHash(_))
        ));
    }
}
