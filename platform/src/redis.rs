//! Redis connections and key naming.

use anyhow::Context;
use redis::aio::ConnectionManager;

/// A multiplexed connection that reconnects by itself.
pub async fn connect(url: &str) -> anyhow::Result<ConnectionManager> {
    let client = crate::tls::redis_client(url)?;
    ConnectionManager::new(client).await.context("connecting to Redis")
}

/// A connection for long operations, such as replacing everything Redis serves in one MULTI:
/// its answers may take up to `timeout`.
pub async fn connect_patient(url: &str, timeout: std::time::Duration) -> anyhow::Result<ConnectionManager> {
    let client = crate::tls::redis_client(url)?;
    let config = redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(timeout));
    ConnectionManager::new_with_config(client, config).await.context("connecting to Redis")
}

/// Names Redis keys and channels under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys { prefix: prefix.to_owned() }
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The channel on which projectors announce how far they have applied the log.
    pub fn progress_channel(&self) -> String {
        self.key("projections:progress")
    }
}
