//! Events as people read them. Every path that shows stored events to someone (the audit
//! trail, the activity feed and the subscriptions built on it, exports) goes through
//! [`present`], so none of them can forget a step.

use events::RecordedEvent;
use sqlx::PgExecutor;

use crate::Result;

/// Reveals personal data (or shows it erased, once its subject is forgotten), then puts each
/// event in today's shape: its payload upcast and its schema version today's. An event this
/// code cannot upcast is left as stored. The deciders do not need this: they read events with
/// `DomainEvent::from_recorded`, which upcasts, after [`crate::personal::reveal`].
pub async fn present(executor: impl PgExecutor<'_>, events: &mut [RecordedEvent]) -> Result<()> {
    crate::personal::reveal(executor, events).await?;
    for event in events {
        if let Err(error) = events::to_current_shape(event) {
            tracing::warn!(%error, position = event.position, "shown as stored");
        }
    }
    Ok(())
}
