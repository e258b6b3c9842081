//! A log in memory, for unit tests of what stands on the log (the command service, say): the
//! same [`EventLog`] and [`KeyStore`] as [`crate::EventStore`], appends planned by the same
//! rules as the group committer's ([`crate::append`]'s plan: versions, idempotency keys,
//! replays by event id, the hash chain), personal data sealed with the same cipher. What it
//! does not have: other processes, durability, and SQL.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use events::{ChainHash, GENESIS_HASH, NewEvent, RecordedEvent};
use uuid::Uuid;

use crate::append::{Found, plan};
use crate::ports::{EventLog, KeyStore, StreamEvents};
use crate::{AppendError, AppendOutcome, AppendRequest, Head, IdempotencyRecord, Result, Snapshot};

/// A log in memory; clones share it, as a service's clones share a database.
#[derive(Clone, Default)]
pub struct MemoryLog {
    memory: Arc<Mutex<Memory>>,
}

#[derive(Default)]
struct Memory {
    events: Vec<RecordedEvent>,
    keys: HashMap<(String, String), IdempotencyRecord>,
    snapshots: HashMap<(String, i32), Snapshot>,
    /// Subject hash → key id; key id → key (`None` once forgotten).
    subjects: HashMap<Vec<u8>, Uuid>,
    personal_keys: HashMap<Uuid, Option<Vec<u8>>>,
    /// Key id → the key of one sealed secret.
    secret_keys: HashMap<Uuid, Vec<u8>>,
    round_trips: usize,
    /// Appended just before the next append, as another process would in between.
    interleaved: Vec<AppendRequest>,
}

impl Memory {
    fn head(&self) -> Head {
        self.events
            .last()
            .map_or(Head { position: 0, hash: GENESIS_HASH }, |last| Head { position: last.position, hash: last.hash })
    }

    fn version_of(&self, stream_id: &str) -> i64 {
        self.events.iter().rev().find(|event| event.stream_id == stream_id).map_or(0, |event| event.stream_version)
    }

    /// What a database would read under the head's lock for this request.
    fn found(&self, request: &AppendRequest) -> Found {
        let mut found = Found::default();
        for stream in &request.streams {
            found.stream_versions.insert(stream.stream_id.clone(), self.version_of(&stream.stream_id));
        }
        if let Some(claim) = &request.idempotency {
            let id = (claim.scope.clone(), claim.key.clone());
            if let Some(record) = self.keys.get(&id) {
                found.keys.insert(id, record.clone());
            }
        }
        if let Some(first) = request.first_event()
            && let Some(event) = self.events.iter().find(|event| event.event_id == first.event_id)
        {
            found.event_ids.insert(first.event_id, (event.stream_id.clone(), event.stream_version, event.position));
        }
        found
    }

    /// Plans `request` alone on the log as it is, as the committer's locked path does, and
    /// writes what the plan says.
    fn append(&mut self, request: AppendRequest) -> Result<AppendOutcome, AppendError> {
        let found = self.found(&request);
        let recorded_at = now();
        let mut planned = plan(vec![request], self.head(), &found, None, recorded_at);
        if let Some((_, answer)) = planned.answered.pop() {
            return answer;
        }
        let (request, outcome) = planned.appends.pop().expect("one request is appended or answered");
        let rows = &planned.rows;
        for (index, position) in rows.positions.iter().enumerate() {
            self.events.push(RecordedEvent {
                position: *position,
                stream_id: rows.stream_ids[index].clone(),
                stream_version: rows.stream_versions[index],
                event_id: rows.event_ids[index],
                event_type: rows.event_types[index].clone(),
                schema_version: rows.schema_versions[index],
                payload: rows.payloads[index].clone(),
                metadata: rows.metadata[index].clone(),
                recorded_at,
                hash: ChainHash::from_slice(&rows.hashes[index]).expect("hashes are 32 bytes"),
            });
        }
        if let Some(claim) = request.idempotency {
            let record = IdempotencyRecord {
                request_hash: claim.request_hash,
                stream_id: outcome.stream_id.clone(),
                stream_version: outcome.stream_version,
                first_position: outcome.first_position,
                last_position: outcome.last_position,
            };
            self.keys.insert((claim.scope, claim.key), record);
        }
        Ok(outcome)
    }

    /// Asked once: what a database round trip would be.
    fn ask(&mut self) -> &mut Memory {
        self.round_trips += 1;
        self
    }
}

impl MemoryLog {
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }

    /// Every event appended, in log order.
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.memory.lock().expect("memory log").events.clone()
    }

    /// How many times the log was asked something: the round trips a database would have had.
    pub fn round_trips(&self) -> usize {
        self.memory.lock().expect("memory log").round_trips
    }

    /// Appends `request` just before the next append, as another process would between a
    /// command's read and its append. Its outcome is not told.
    pub fn interleave(&self, request: AppendRequest) {
        self.memory.lock().expect("memory log").interleaved.push(request);
    }

    /// Destroys every key, as forgetting every person would.
    pub fn forget_everyone(&self) {
        let mut memory = self.memory.lock().expect("memory log");
        memory.personal_keys.values_mut().for_each(|key| *key = None);
        memory.subjects.clear();
    }

    fn with<T>(&self, read: impl FnOnce(&mut Memory) -> T) -> T {
        read(self.memory.lock().expect("memory log").ask())
    }
}

fn now() -> DateTime<Utc> {
    // Microseconds, as PostgreSQL keeps them.
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

fn ready<T: Send>(value: T) -> impl Future<Output = T> + Send {
    std::future::ready(value)
}

impl EventLog for MemoryLog {
    fn append(&self, request: AppendRequest) -> impl Future<Output = Result<AppendOutcome, AppendError>> + Send {
        let answer = self.with(|memory| {
            for other in std::mem::take(&mut memory.interleaved) {
                let _ = memory.append(other);
            }
            memory.append(request)
        });
        ready(answer)
    }

    fn load_streams(&self, streams: &[(&str, i64)]) -> impl Future<Output = Result<(StreamEvents, i64)>> + Send {
        let loaded = self.with(|memory| {
            let mut loaded = StreamEvents::new();
            for (stream_id, after) in streams {
                let newer: Vec<RecordedEvent> = memory
                    .events
                    .iter()
                    .filter(|event| event.stream_id == *stream_id && event.stream_version > *after)
                    .cloned()
                    .collect();
                if !newer.is_empty() {
                    loaded.insert((*stream_id).to_owned(), newer);
                }
            }
            (loaded, memory.head().position)
        });
        ready(Ok(loaded))
    }

    fn read_stream(
        &self,
        stream_id: &str,
        after_version: i64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send {
        let events = self.with(|memory| {
            let of_stream =
                |event: &&RecordedEvent| event.stream_id == stream_id && event.stream_version > after_version;
            memory.events.iter().filter(of_stream).cloned().collect()
        });
        ready(Ok(events))
    }

    fn read_range(&self, first: i64, last: i64) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send {
        let events = self.with(|memory| {
            memory.events.iter().filter(|event| (first..=last).contains(&event.position)).cloned().collect()
        });
        ready(Ok(events))
    }

    fn find_idempotency_key(
        &self,
        scope: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>>> + Send {
        let record = self.with(|memory| memory.keys.get(&(scope.to_owned(), key.to_owned())).cloned());
        ready(Ok(record))
    }

    fn used_idempotency_keys(
        &self,
        scope: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<HashSet<String>>> + Send {
        let used = self.with(|memory| {
            let used = |key: &&&str| memory.keys.contains_key(&(scope.to_owned(), (**key).to_owned()));
            keys.iter().filter(used).map(|key| (*key).to_owned()).collect()
        });
        ready(Ok(used))
    }

    fn load_snapshot(
        &self,
        stream_id: &str,
        state_version: i32,
    ) -> impl Future<Output = Result<Option<Snapshot>>> + Send {
        let snapshot = self.with(|memory| memory.snapshots.get(&(stream_id.to_owned(), state_version)).cloned());
        ready(Ok(snapshot))
    }

    fn save_snapshot(
        &self,
        stream_id: &str,
        state_version: i32,
        snapshot: &Snapshot,
    ) -> impl Future<Output = Result<()>> + Send {
        self.with(|memory| {
            let kept =
                memory.snapshots.entry((stream_id.to_owned(), state_version)).or_insert_with(|| snapshot.clone());
            if kept.version < snapshot.version {
                *kept = snapshot.clone();
            }
        });
        ready(Ok(()))
    }
}

impl KeyStore for MemoryLog {
    fn seal(&self, events: &mut [NewEvent]) -> impl Future<Output = Result<()>> + Send {
        let secrets = crate::secrets::secret_texts(events);
        if !secrets.is_empty() {
            self.with(|memory| {
                for text in secrets {
                    let (key_id, key) = (Uuid::now_v7(), crate::personal::new_key().to_vec());
                    *text = crate::secrets::seal_text(key_id, &key, text);
                    memory.secret_keys.insert(key_id, key);
                }
            });
        }
        let texts = crate::personal::personal_texts(events);
        if texts.is_empty() {
            return ready(Ok(()));
        }
        self.with(|memory| {
            for text in texts {
                let key_id = *memory.subjects.entry(crate::personal::subject_hash(text)).or_insert_with(Uuid::now_v7);
                let key =
                    memory.personal_keys.entry(key_id).or_insert_with(|| Some(crate::personal::new_key().to_vec()));
                if let Some(key) = key {
                    *text = crate::personal::seal_text(key_id, key, text);
                }
            }
        });
        ready(Ok(()))
    }

    fn reveal_texts(&self, texts: Vec<&mut String>) -> impl Future<Output = Result<()>> + Send {
        if !texts.iter().any(|text| crate::personal::is_sealed(text)) {
            return ready(Ok(()));
        }
        self.with(|memory| {
            let keys: HashMap<Uuid, Vec<u8>> =
                memory.personal_keys.iter().filter_map(|(id, key)| Some((*id, key.clone()?))).collect();
            crate::personal::open_texts(texts, &keys);
        });
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExpectedVersion, IdempotencyClaim};
    use serde_json::json;

    fn event(event_type: &str, payload: serde_json::Value) -> NewEvent {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version: 1,
            payload,
            metadata: json!({"actor": "test"}),
        }
    }

    #[tokio::test]
    async fn it_appends_in_order_and_chains_from_the_genesis_hash() {
        let log = MemoryLog::new();
        let events = vec![event("Happened", json!({"i": 1})), event("Happened", json!({"i": 2}))];
        let outcome = log.append(AppendRequest::to_stream("s", ExpectedVersion::NoStream, events)).await.unwrap();
        assert_eq!((outcome.stream_version, outcome.first_position, outcome.last_position), (2, Some(1), Some(2)));
        let mut previous = GENESIS_HASH;
        let mut scratch = Vec::new();
        for logged in log.events() {
            assert!(events::hash_matches(&logged, &previous, &mut scratch));
            previous = logged.hash;
        }
        let again = log.append(AppendRequest::to_stream("s", ExpectedVersion::NoStream, Vec::new())).await;
        assert_eq!(again, Err(AppendError::Conflict { current: 2 }));
    }

    #[tokio::test]
    async fn a_claimed_key_answers_again_without_appending() {
        let log = MemoryLog::new();
        let claimed = |hash: &[u8]| AppendRequest {
            idempotency: Some(IdempotencyClaim { scope: "ann".into(), key: "k".into(), request_hash: hash.to_vec() }),
            ..AppendRequest::to_stream("s", ExpectedVersion::Any, vec![event("Happened", json!({}))])
        };
        let first = log.append(claimed(b"h")).await.unwrap();
        let again = log.append(claimed(b"h")).await.unwrap();
        assert!(again.replayed);
        assert_eq!((again.first_position, again.stream_version), (first.first_position, first.stream_version));
        assert_eq!(log.append(claimed(b"other")).await, Err(AppendError::IdempotencyKeyReused));
        assert_eq!(log.events().len(), 1);
    }

    #[tokio::test]
    async fn personal_data_is_sealed_and_reads_erased_once_forgotten() {
        let log = MemoryLog::new();
        let mut invited = vec![event("MemberInvited", json!({"email": "cy@example.com", "role": "member"}))];
        log.seal(&mut invited).await.unwrap();
        let sealed = invited[0].payload["email"].as_str().unwrap().to_owned();
        assert!(sealed.starts_with("pii:v1:"));
        let mut shown = sealed.clone();
        log.reveal_texts(vec![&mut shown]).await.unwrap();
        assert_eq!(shown, "cy@example.com");
        log.forget_everyone();
        let mut shown = sealed;
        log.reveal_texts(vec![&mut shown]).await.unwrap();
        assert_eq!(shown, crate::personal::ERASED);
    }
}
