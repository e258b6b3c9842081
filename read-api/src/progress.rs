//! The workspaces projection's watermark, as this process knows it: announced on Redis by
//! projectors, and polled from PostgreSQL in case an announcement is missed.

use std::time::Duration;

use futures::StreamExt;
use platform::redis::Keys;
use sqlx::PgPool;
use tokio::sync::watch;

#[derive(Clone)]
pub struct Progress {
    receiver: watch::Receiver<i64>,
}

impl Progress {
    /// Starts following the watermark of `projection`.
    pub fn spawn(pool: PgPool, redis_url: String, keys: Keys, projection: &'static str) -> Progress {
        let (sender, receiver) = watch::channel(0);
        let sender = std::sync::Arc::new(sender);
        let raise = |sender: &watch::Sender<i64>, position: i64| {
            sender.send_if_modified(|current| {
                let newer = position > *current;
                if newer {
                    *current = position;
                }
                newer
            });
        };
        {
            let sender = sender.clone();
            tokio::spawn(async move {
                loop {
                    if let Ok(position) = projections::status::position(&pool, projection).await {
                        raise(&sender, position);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
        tokio::spawn(async move {
            loop {
                if let Err(error) = listen(&redis_url, &keys, projection, &sender, raise).await {
                    tracing::warn!(%error, "lost the projection progress channel; polling until it is back");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Progress { receiver }
    }

    pub fn current(&self) -> i64 {
        *self.receiver.borrow()
    }

    /// Waits until the watermark reaches `position`; `Err(current)` after `timeout`.
    pub async fn wait_for(&self, position: i64, timeout: Duration) -> Result<i64, i64> {
        let mut receiver = self.receiver.clone();
        match tokio::time::timeout(timeout, receiver.wait_for(|current| *current >= position)).await {
            Ok(Ok(current)) => Ok(*current),
            _ => Err(self.current()),
        }
    }

    /// A receiver that wakes whenever the watermark moves.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.receiver.clone()
    }
}

async fn listen(
    redis_url: &str,
    keys: &Keys,
    projection: &str,
    sender: &watch::Sender<i64>,
    raise: impl Fn(&watch::Sender<i64>, i64),
) -> anyhow::Result<()> {
    let client = platform::tls::redis_client(redis_url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(keys.progress_channel()).await?;
    let mut messages = pubsub.into_on_message();
    while let Some(message) = messages.next().await {
        let text: String = message.get_payload()?;
        if let Some((name, position)) = text.split_once(' ')
            && name == projection
            && let Ok(position) = position.parse()
        {
            raise(sender, position);
        }
    }
    anyhow::bail!("the Redis subscription ended")
}
