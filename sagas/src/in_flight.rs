//! The work this process is carrying out, by its `saga_work` id, so that work made moot while
//! under way (its attempt timed out, its run ended) is abandoned at once when this process
//! dropped it. Work dropped by another process is abandoned at the next renewal of its lease,
//! which finds its row gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct InFlight(Mutex<HashMap<i64, Arc<Notify>>>);

impl InFlight {
    /// Work `id` is under way: the returned bell rings if it is dropped.
    pub fn start(&self, id: i64) -> Arc<Notify> {
        self.0.lock().expect("work in flight").entry(id).or_default().clone()
    }

    /// Work `id` is no longer under way.
    pub fn end(&self, id: i64) {
        self.0.lock().expect("work in flight").remove(&id);
    }

    /// The work `ids` was dropped: whichever of it is under way here is abandoned.
    pub fn dropped(&self, ids: &[i64]) {
        let in_flight = self.0.lock().expect("work in flight");
        for bell in ids.iter().filter_map(|id| in_flight.get(id)) {
            bell.notify_one();
        }
    }
}
