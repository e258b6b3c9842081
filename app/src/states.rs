//! The aggregate states the command service has folded, by stream, so that a command reads only
//! the events its stream got since. The log is append-only, so a state at version `v` stays
//! the state at version `v`; nothing here can go stale, only fall behind.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many streams are kept; past it, the cache starts over (a miss only costs a full read).
const CAPACITY: usize = 10_000;

#[derive(Clone, Default)]
pub(crate) struct States {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

struct Entry {
    version: i64,
    last_position: i64,
    state: Arc<dyn Any + Send + Sync>,
}

/// A stream's state at `version`, whose last event is at `last_position`.
#[derive(Clone)]
pub(crate) struct Folded<S> {
    pub state: S,
    pub version: i64,
    pub last_position: i64,
}

impl States {
    pub fn get<S: Clone + 'static>(&self, stream_id: &str) -> Option<Folded<S>> {
        let entries = self.entries.lock().expect("states lock");
        let entry = entries.get(stream_id)?;
        let state = entry.state.downcast_ref::<S>()?.clone();
        Some(Folded { state, version: entry.version, last_position: entry.last_position })
    }

    /// Keeps `folded` unless a newer state of the stream is kept already.
    pub fn put<S: Send + Sync + 'static>(&self, stream_id: &str, folded: Folded<S>) {
        let mut entries = self.entries.lock().expect("states lock");
        if entries.get(stream_id).is_some_and(|entry| entry.version >= folded.version) {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        let entry =
            Entry { version: folded.version, last_position: folded.last_position, state: Arc::new(folded.state) };
        entries.insert(stream_id.to_owned(), entry);
    }
}

/// Per-stream turns: commands on one stream wait for each other instead of racing to the log
/// and losing. Streams share a fixed set of locks by hash, so memory stays bounded; two streams
/// that share a lock only wait a little.
#[derive(Clone)]
pub(crate) struct Turns {
    locks: Arc<[tokio::sync::Mutex<()>]>,
}

impl Default for Turns {
    fn default() -> Turns {
        Turns { locks: (0..1024).map(|_| tokio::sync::Mutex::new(())).collect() }
    }
}

impl Turns {
    pub fn of(&self, stream_id: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(stream_id);
        &self.locks[(hash % self.locks.len() as u64) as usize]
    }
}
