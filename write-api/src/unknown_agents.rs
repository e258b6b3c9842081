//! Agents the log has never heard of, remembered for a while: a worker credential that names
//! one is refused again without reading the log.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// How long an unknown agent is taken to stay unknown. Agent ids are chosen by whoever
/// registers them, so an agent registered since is known at most this late to the credentials
/// that name it, and those cannot have been issued before it existed.
const REMEMBERED_FOR: Duration = Duration::from_secs(30);

/// The most agents remembered; past it the memory starts again, so it stays small however many
/// made-up ids arrive (each costs its sender a token of their address's bucket first).
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct UnknownAgents {
    since: Mutex<HashMap<Uuid, Instant>>,
}

impl UnknownAgents {
    pub fn contains(&self, agent_id: Uuid) -> bool {
        let since = self.since.lock().expect("unknown agents lock");
        since.get(&agent_id).is_some_and(|at| at.elapsed() < REMEMBERED_FOR)
    }

    pub fn remember(&self, agent_id: Uuid) {
        let mut since = self.since.lock().expect("unknown agents lock");
        if since.len() >= CAPACITY {
            since.clear();
        }
        since.insert(agent_id, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_agent_is_remembered_and_the_memory_stays_small() {
        let unknown = UnknownAgents::default();
        let agent = Uuid::now_v7();
        assert!(!unknown.contains(agent));
        unknown.remember(agent);
        assert!(unknown.contains(agent));
        for _ in 0..CAPACITY {
            unknown.remember(Uuid::now_v7());
        }
        assert!(unknown.since.lock().unwrap().len() <= CAPACITY);
    }
}
