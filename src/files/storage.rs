//! Where file bytes live, behind one small interface (opendal underneath):
//! the local file system by default, any S3-compatible store by
//! configuration.

use anyhow::Context;
use opendal::{Operator, services};
use secrecy::ExposeSecret;

use crate::config::{StorageBackend, StorageSettings};

#[derive(Clone, Debug)]
pub struct Storage {
    op: Operator,
}

impl Storage {
    pub fn from_settings(settings: &StorageSettings) -> anyhow::Result<Self> {
        let op = match settings.backend {
            StorageBackend::Fs => {
                let root = std::path::absolute(&settings.fs_root)
                    .with_context(|| format!("storage.fs_root {}", settings.fs_root))?;
                std::fs::create_dir_all(&root)
                    .with_context(|| format!("creating the file store {}", root.display()))?;
                Operator::new(services::Fs::default().root(&root.to_string_lossy()))?.finish()
            }
            StorageBackend::S3 => {
                let mut builder = services::S3::default()
                    .bucket(&settings.s3_bucket)
                    .region(&settings.s3_region)
                    .access_key_id(&settings.s3_access_key_id)
                    .secret_access_key(settings.s3_secret_access_key.expose_secret());
                if !settings.s3_endpoint.is_empty() {
                    builder = builder.endpoint(&settings.s3_endpoint);
                }
                Operator::new(builder)?.finish()
            }
        };
        Ok(Self { op })
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.op
            .write(key, bytes)
            .await
            .with_context(|| format!("storing {key}"))?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        Ok(self
            .op
            .read(key)
            .await
            .with_context(|| format!("reading {key}"))?
            .to_vec())
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.op
            .delete(key)
            .await
            .with_context(|| format!("deleting {key}"))?;
        Ok(())
    }
}
