//! What the live catalog projection has set aside, so that a rebuild sets aside the same:
//! its parked events with the events of their streams that wait behind them, and the events
//! operators skipped (recorded in the log, so a rebuild from the log alone honours them).

use std::collections::{BTreeSet, HashSet};

use events::RecordedEvent;
use sqlx::PgConnection;

use crate::catalog;

#[derive(Debug, Default)]
pub struct SetAside {
    parked: HashSet<i64>,
    skipped: HashSet<i64>,
    /// Streams with an event set aside: their later events are set aside too.
    held: HashSet<String>,
    /// Positions set aside, other than skipped ones: applied later if the live projection
    /// applies them meanwhile (an operator's retry).
    waiting: BTreeSet<i64>,
}

impl SetAside {
    /// Reads what is parked and skipped now. Parked events at or below `position` count as
    /// set aside already (a resumed rebuild).
    pub async fn load(connection: &mut PgConnection, position: i64) -> sqlx::Result<SetAside> {
        let mut set_aside = SetAside::default();
        set_aside.reload(connection).await?;
        let (parked, waiting) = (&set_aside.parked, &mut set_aside.waiting);
        waiting.extend(parked.iter().copied().filter(|parked| *parked <= position));
        Ok(set_aside)
    }

    /// Reads again what is parked and skipped now.
    pub async fn reload(&mut self, connection: &mut PgConnection) -> sqlx::Result<()> {
        self.parked = store::parked::positions(&mut *connection, catalog::NAME).await?.into_iter().collect();
        self.skipped = store::parked::skipped(&mut *connection, catalog::NAME).await?.into_iter().collect();
        Ok(())
    }

    /// The events of `batch` (in log order) the live projection applied in place.
    pub fn filter(&mut self, batch: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
        if self.parked.is_empty() && self.skipped.is_empty() && self.held.is_empty() {
            return batch;
        }
        batch
            .into_iter()
            .filter(|event| {
                if self.skipped.contains(&event.position) {
                    return false;
                }
                if self.parked.contains(&event.position) || self.held.contains(&event.stream_id) {
                    self.held.insert(event.stream_id.clone());
                    self.waiting.insert(event.position);
                    return false;
                }
                true
            })
            .collect()
    }

    /// Positions set aside here that the live projection has applied since (retried), in
    /// order; they are no longer waiting. Call after [`SetAside::reload`].
    pub fn released(&mut self) -> Vec<i64> {
        let released: Vec<i64> = self
            .waiting
            .iter()
            .copied()
            .filter(|position| !self.parked.contains(position) && !self.skipped.contains(position))
            .collect();
        for position in &released {
            self.waiting.remove(position);
        }
        released
    }
}
