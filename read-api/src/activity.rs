//! The activity feed: every logged event, in log order, once the read models show it, as
//! people read it (personal data revealed, today's shape).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use events::RecordedEvent;
use sqlx::PgPool;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::progress::Progress;

/// One event as subscribers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub position: i64,
    pub event_type: String,
    pub stream_id: String,
    pub workspace_id: Option<Uuid>,
    pub actor: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

impl From<RecordedEvent> for Activity {
    fn from(event: RecordedEvent) -> Activity {
        Activity {
            position: event.position,
            workspace_id: event.workspace_id(),
            actor: event.actor().map(str::to_owned),
            event_type: event.event_type,
            stream_id: event.stream_id,
            recorded_at: event.recorded_at,
            payload: event.payload,
        }
    }
}

#[derive(Clone)]
pub struct ActivityFeed {
    sender: broadcast::Sender<Arc<Activity>>,
}

impl ActivityFeed {
    /// Starts following the log behind `progress`.
    pub fn spawn(pool: PgPool, progress: Progress) -> ActivityFeed {
        let (sender, _) = broadcast::channel(16_384);
        let feed = ActivityFeed { sender: sender.clone() };
        tokio::spawn(async move {
            let mut moved = progress.subscribe();
            let mut last = progress.current();
            loop {
                let target = *moved.borrow_and_update();
                while last < target {
                    let read = store::read_all(&pool, last, (target - last).min(1_000)).await;
                    let revealed = match read {
                        Ok(mut events) => store::present(&pool, &mut events).await.map(|()| events),
                        Err(error) => Err(error),
                    };
                    match revealed {
                        Ok(events) => {
                            for event in events {
                                last = event.position;
                                // No subscribers is not an error.
                                let _ = sender.send(Arc::new(Activity::from(event)));
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "the activity feed could not read the log; retrying");
                            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        }
                    }
                }
                if moved.changed().await.is_err() {
                    return;
                }
            }
        });
        feed
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Activity>> {
        self.sender.subscribe()
    }
}
