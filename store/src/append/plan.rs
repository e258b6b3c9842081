//! Planning a batch of appends: which requests append, at which positions and with which
//! hashes, and which are answered without appending (a conflict, a reused key, a replay).
//!
//! Pure: what the log holds comes in as [`Found`] (read under the head's lock, or for the
//! streams the committer cannot vouch for) and [`Known`] (what the committer's own writes
//! taught it), the head to build on and the time as arguments. The group committer and the
//! in-memory log plan alike, so a unit test of one is a test of the other's rules.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use events::NewEvent;
use uuid::Uuid;

use crate::error::AppendError;
use crate::read::Head;

/// What version the stream must be at for the append to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the version.
    Any,
    /// The stream must have no events yet.
    NoStream,
    /// The stream's last event must have this version (0: no events).
    Exact(i64),
}

impl ExpectedVersion {
    fn admits(self, current: i64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current == 0,
            ExpectedVersion::Exact(version) => current == version,
        }
    }
}

/// An Idempotency-Key to record with the append, so that a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// Whose key it is (keys of different callers never collide).
    pub scope: String,
    pub key: String,
    /// A hash of the request; the same key with another request is refused.
    pub request_hash: Vec<u8>,
}

/// One stream's part of an append: its events, if it is at the expected version.
#[derive(Debug, Clone)]
pub struct StreamAppend {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    /// May be empty: the stream's version is still checked.
    pub events: Vec<NewEvent>,
}

/// One command's events: every stream's at its expected version, or none at all.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    /// The command's own stream first; the outcome reports its version. Each stream once.
    pub streams: Vec<StreamAppend>,
    pub idempotency: Option<IdempotencyClaim>,
    /// The log's head position at (or before) the snapshot in which the caller read the
    /// streams, from [`crate::load_streams`]. With it the committer can often check `expected`
    /// without reading the streams' versions again.
    pub observed_head: Option<i64>,
    /// The W3C `traceparent` of the command's trace, kept beside the events (not in them) for
    /// the relay and the projector to continue the trace: [`crate::traces`].
    pub trace_context: Option<String>,
}

impl AppendRequest {
    /// `events` for one stream, with nothing else asked.
    pub fn to_stream(stream_id: impl Into<String>, expected: ExpectedVersion, events: Vec<NewEvent>) -> AppendRequest {
        AppendRequest {
            streams: vec![StreamAppend { stream_id: stream_id.into(), expected, events }],
            idempotency: None,
            observed_head: None,
            trace_context: None,
        }
    }

    /// The request's first event, of whichever stream.
    pub(crate) fn first_event(&self) -> Option<&NewEvent> {
        self.streams.iter().find_map(|stream| stream.events.first())
    }

    /// Why the request cannot be planned, if it cannot.
    fn malformed(&self) -> Option<String> {
        if self.streams.is_empty() {
            return Some("an append names no stream".into());
        }
        let mut seen = HashSet::new();
        self.streams
            .iter()
            .find(|stream| !seen.insert(stream.stream_id.as_str()))
            .map(|stream| format!("an append names the stream {} twice", stream.stream_id))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub position: i64,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The request's first stream (for a replay found by its event ids, the stream of its first
    /// event).
    pub stream_id: String,
    /// That stream's version after the append.
    pub stream_version: i64,
    /// The positions of the first and last event appended; `None` when there were none.
    pub first_position: Option<i64>,
    pub last_position: Option<i64>,
    /// The events appended now, of every stream, in log order. Empty when `replayed`: read
    /// them by position instead.
    pub events: Vec<AppendedEvent>,
    /// True when these events were appended before, by an earlier request with the same
    /// idempotency key or event ids, and nothing was appended now.
    pub replayed: bool,
}

/// What an idempotency key answered the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub request_hash: Vec<u8>,
    pub stream_id: String,
    pub stream_version: i64,
    pub first_position: Option<i64>,
    pub last_position: Option<i64>,
}

impl IdempotencyRecord {
    /// The answer to a request that claims this key again with the same request.
    fn replay(&self) -> AppendOutcome {
        AppendOutcome {
            stream_id: self.stream_id.clone(),
            stream_version: self.stream_version,
            first_position: self.first_position,
            last_position: self.last_position,
            events: Vec::new(),
            replayed: true,
        }
    }
}

/// What the log already holds that a batch must be checked against.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub stream_versions: HashMap<String, i64>,
    pub keys: HashMap<(String, String), IdempotencyRecord>,
    /// Event id → (stream, version, position) of events already in the log.
    pub event_ids: HashMap<Uuid, (String, i64, i64)>,
}

/// What a committer knows of the log after its own writes. It stays true only while no other
/// process appends; every append moves the head, and the optimistic write goes through only if
/// the head is where this committer left it, so a stale `Known` can never be acted on.
#[derive(Debug)]
pub(crate) struct Known {
    pub head: Head,
    /// Every append after this position was made by this committer...
    pub own_since: i64,
    /// ...so this holds the current version of every stream appended to since then.
    pub versions: HashMap<String, i64>,
}

/// How many stream versions a committer remembers before it starts over.
const KNOWN_VERSIONS_CAPACITY: usize = 250_000;

impl Known {
    pub fn fresh(head: Head) -> Known {
        Known { head, own_since: head.position, versions: HashMap::new() }
    }

    /// The stream's current version, when this committer can tell without reading it.
    /// `observed_head`: the head as of the caller's read of the stream.
    pub fn version_of(&self, stream: &StreamAppend, observed_head: Option<i64>) -> Option<i64> {
        if let Some(version) = self.versions.get(&stream.stream_id) {
            return Some(*version);
        }
        match (stream.expected, observed_head) {
            // Not appended to since `own_since`, and the caller read it after that: what the
            // caller saw is current.
            (ExpectedVersion::Exact(version), Some(observed)) if observed >= self.own_since => Some(version),
            // A new stream: assume it is new. If it is not, the unique index on
            // (stream_id, stream_version) refuses the write, and the locked path finds out.
            (ExpectedVersion::NoStream, _) => Some(0),
            _ => None,
        }
    }

    /// Whether every stream of `request` has a version this committer can tell.
    pub fn knows(&self, request: &AppendRequest) -> bool {
        request.streams.iter().all(|stream| self.version_of(stream, request.observed_head).is_some())
    }

    /// Learns what `plan` will have written.
    pub fn record<P>(&mut self, plan: &Plan<P>) {
        self.head = plan.new_head;
        if self.versions.len() + plan.versions.len() > KNOWN_VERSIONS_CAPACITY {
            self.versions.clear();
            self.own_since = plan.new_head.position;
            return;
        }
        self.versions.extend(plan.versions.iter().map(|(stream, version)| (stream.clone(), *version)));
    }
}

/// The rows of one batch statement, column by column.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub positions: Vec<i64>,
    pub stream_ids: Vec<String>,
    pub stream_versions: Vec<i64>,
    pub event_ids: Vec<Uuid>,
    pub event_types: Vec<String>,
    pub schema_versions: Vec<i32>,
    pub payloads: Vec<serde_json::Value>,
    pub metadata: Vec<serde_json::Value>,
    pub recorded_at: Vec<DateTime<Utc>>,
    pub hashes: Vec<Vec<u8>>,
    pub key_scopes: Vec<String>,
    pub key_values: Vec<String>,
    pub key_hashes: Vec<Vec<u8>>,
    pub key_streams: Vec<String>,
    pub key_first: Vec<Option<i64>>,
    pub key_last: Vec<Option<i64>>,
    pub key_versions: Vec<i64>,
    pub traced_positions: Vec<i64>,
    pub traceparents: Vec<String>,
}

/// A batch, decided. `P` is a request with whatever its planner needs to answer it (the
/// committer's reply channel).
#[derive(Debug)]
pub(crate) struct Plan<P> {
    pub appends: Vec<(P, AppendOutcome)>,
    /// Requests answered without appending (conflicts, replays, reused keys). The answers are
    /// held until the batches before this one are written, since they were decided on top of
    /// them.
    pub answered: Vec<(P, Result<AppendOutcome, AppendError>)>,
    /// Requests that claim a key or event ids another request of this batch claims first: they
    /// go in a later batch, and find the first one's answer.
    pub deferred: Vec<P>,
    /// Requests refused on versions the committer remembers rather than read under the lock.
    /// Memory is good enough to admit an append (the compare-and-set guards the write), not to
    /// refuse one: these are checked again under the lock.
    pub suspects: Vec<P>,
    pub rows: Rows,
    pub new_head: Head,
    /// The version each stream of the batch is at after it.
    pub versions: HashMap<String, i64>,
}

impl<P> Plan<P> {
    /// Every request of the batch, to check again from a newer head.
    pub fn into_batch(self) -> Vec<P> {
        let appends = self.appends.into_iter().map(|(pending, _)| pending);
        let answered = self.answered.into_iter().map(|(pending, _)| pending);
        appends.chain(answered).chain(self.deferred).chain(self.suspects).collect()
    }
}

/// Decides each request of the batch: answered (conflict, reused key, replay), deferred,
/// suspect, or appended at the positions and hashes this plan gives it, on top of `head`.
/// With `known`, versions come partly from the committer's memory, and refusals become
/// suspects.
pub(crate) fn plan<P: Borrow<AppendRequest>>(
    batch: Vec<P>,
    head: Head,
    found: &Found,
    known: Option<&Known>,
    recorded_at: DateTime<Utc>,
) -> Plan<P> {
    let mut versions: HashMap<String, i64> = HashMap::new();
    let mut claimed: HashSet<(String, String)> = HashSet::new();
    let mut first_ids: HashSet<Uuid> = HashSet::new();
    let mut rows = Rows::default();
    let mut appends = Vec::with_capacity(batch.len());
    let mut answered = Vec::new();
    let mut deferred = Vec::new();
    let mut suspects = Vec::new();
    let mut position = head.position;
    let mut hash = head.hash;
    let mut scratch = Vec::with_capacity(1024);

    for pending in batch {
        let request: &AppendRequest = pending.borrow();
        if let Some(problem) = request.malformed() {
            answered.push((pending, Err(AppendError::Refused(problem))));
            continue;
        }
        if let Some(claim) = &request.idempotency {
            let id = (claim.scope.clone(), claim.key.clone());
            if let Some(record) = found.keys.get(&id) {
                let answer = if record.request_hash == claim.request_hash {
                    Ok(record.replay())
                } else {
                    Err(AppendError::IdempotencyKeyReused)
                };
                answered.push((pending, answer));
                continue;
            }
            if claimed.contains(&id) {
                deferred.push(pending);
                continue;
            }
        }
        if let Some(first) = request.first_event() {
            if let Some((stream_id, version, first_position)) = found.event_ids.get(&first.event_id) {
                let in_stream = request
                    .streams
                    .iter()
                    .find(|stream| &stream.stream_id == stream_id)
                    .map_or(1, |stream| stream.events.len()) as i64;
                let total = request.streams.iter().map(|stream| stream.events.len()).sum::<usize>() as i64;
                let replay = AppendOutcome {
                    stream_id: stream_id.clone(),
                    stream_version: version + in_stream - 1,
                    first_position: Some(*first_position),
                    last_position: Some(first_position + total - 1),
                    events: Vec::new(),
                    replayed: true,
                };
                answered.push((pending, Ok(replay)));
                continue;
            }
            if first_ids.contains(&first.event_id) {
                deferred.push(pending);
                continue;
            }
        }

        // Each stream's version: this batch's own appends first, then the committer's own
        // earlier appends (some maybe still in flight, so newer than anything read), then what
        // was read, then what the caller's snapshot tells.
        let mut currents = Vec::with_capacity(request.streams.len());
        let mut refused = None;
        for stream in &request.streams {
            let current = versions
                .get(&stream.stream_id)
                .or_else(|| known.and_then(|known| known.versions.get(&stream.stream_id)))
                .or_else(|| found.stream_versions.get(&stream.stream_id))
                .copied()
                .or_else(|| known.and_then(|known| known.version_of(stream, request.observed_head)))
                .unwrap_or(0);
            if !stream.expected.admits(current) {
                refused = Some(current);
                break;
            }
            currents.push(current);
        }
        if let Some(current) = refused {
            if known.is_some() {
                suspects.push(pending);
            } else {
                answered.push((pending, Err(AppendError::Conflict { current })));
            }
            continue;
        }

        let mut appended = Vec::new();
        for (stream, current) in request.streams.iter().zip(currents) {
            for (index, event) in stream.events.iter().enumerate() {
                position += 1;
                let stream_version = current + index as i64 + 1;
                hash = events::hash::HashedFields {
                    position,
                    stream_id: &stream.stream_id,
                    stream_version,
                    event_id: event.event_id,
                    event_type: &event.event_type,
                    schema_version: event.schema_version,
                    payload: &event.payload,
                    metadata: &event.metadata,
                    recorded_at_micros: recorded_at.timestamp_micros(),
                }
                .chain(&hash, &mut scratch);
                rows.positions.push(position);
                rows.stream_ids.push(stream.stream_id.clone());
                rows.stream_versions.push(stream_version);
                rows.event_ids.push(event.event_id);
                rows.event_types.push(event.event_type.clone());
                rows.schema_versions.push(event.schema_version);
                rows.payloads.push(event.payload.clone());
                rows.metadata.push(event.metadata.clone());
                rows.recorded_at.push(recorded_at);
                rows.hashes.push(hash.0.to_vec());
                appended.push(AppendedEvent {
                    event_id: event.event_id,
                    event_type: event.event_type.clone(),
                    position,
                });
                if let Some(traceparent) = &request.trace_context {
                    rows.traced_positions.push(position);
                    rows.traceparents.push(traceparent.clone());
                }
            }
            versions.insert(stream.stream_id.clone(), current + stream.events.len() as i64);
        }
        let own = &request.streams[0].stream_id;
        let stream_version = versions[own];
        let first_position = appended.first().map(|e| e.position);
        let last_position = appended.last().map(|e| e.position);
        if let Some(first) = request.first_event() {
            first_ids.insert(first.event_id);
        }
        if let Some(claim) = &request.idempotency {
            claimed.insert((claim.scope.clone(), claim.key.clone()));
            rows.key_scopes.push(claim.scope.clone());
            rows.key_values.push(claim.key.clone());
            rows.key_hashes.push(claim.request_hash.clone());
            rows.key_streams.push(own.clone());
            rows.key_first.push(first_position);
            rows.key_last.push(last_position);
            rows.key_versions.push(stream_version);
        }
        let outcome = AppendOutcome {
            stream_id: own.clone(),
            stream_version,
            first_position,
            last_position,
            events: appended,
            replayed: false,
        };
        appends.push((pending, outcome));
    }
    Plan { appends, answered, deferred, suspects, rows, new_head: Head { position, hash }, versions }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::{ChainHash, GENESIS_HASH};
    use serde_json::json;

    fn event(i: usize) -> NewEvent {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: "Happened".into(),
            schema_version: 1,
            payload: json!({"i": i}),
            metadata: json!({"actor": "test"}),
        }
    }

    fn request(stream: &str, expected: ExpectedVersion, count: usize) -> AppendRequest {
        AppendRequest::to_stream(stream, expected, (0..count).map(event).collect())
    }

    fn claim(key: &str, hash: &[u8]) -> Option<IdempotencyClaim> {
        Some(IdempotencyClaim { scope: "ann".into(), key: key.into(), request_hash: hash.to_vec() })
    }

    const EMPTY: Head = Head { position: 0, hash: GENESIS_HASH };

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp_micros(1_800_000_000_000_000).unwrap()
    }

    #[test]
    fn it_gives_each_request_the_next_positions_and_versions() {
        let found = Found { stream_versions: [("b".to_owned(), 4)].into(), ..Found::default() };
        let batch = vec![
            request("a", ExpectedVersion::NoStream, 2),
            request("b", ExpectedVersion::Exact(4), 1),
            request("a", ExpectedVersion::Exact(2), 1),
        ];
        let plan = plan(batch, Head { position: 10, hash: GENESIS_HASH }, &found, None, at());
        let outcomes: Vec<(&str, i64, Option<i64>, Option<i64>)> = plan
            .appends
            .iter()
            .map(|(_, o)| (o.stream_id.as_str(), o.stream_version, o.first_position, o.last_position))
            .collect();
        assert_eq!(
            outcomes,
            [("a", 2, Some(11), Some(12)), ("b", 5, Some(13), Some(13)), ("a", 3, Some(14), Some(14))]
        );
        assert_eq!(plan.rows.positions, [11, 12, 13, 14]);
        assert_eq!(plan.rows.stream_versions, [1, 2, 5, 3]);
        assert_eq!(plan.new_head.position, 14);
        assert_eq!(plan.versions, [("a".to_owned(), 3), ("b".to_owned(), 5)].into());
    }

    #[test]
    fn it_chains_every_hash_from_the_head() {
        let head = Head { position: 7, hash: ChainHash([9; 32]) };
        let plan = plan(vec![request("a", ExpectedVersion::Any, 3)], head, &Found::default(), None, at());
        let mut previous = head.hash;
        let mut scratch = Vec::new();
        let (_, outcome) = &plan.appends[0];
        for (index, appended) in outcome.events.iter().enumerate() {
            let hashed = events::hash::HashedFields {
                position: appended.position,
                stream_id: "a",
                stream_version: index as i64 + 1,
                event_id: appended.event_id,
                event_type: "Happened",
                schema_version: 1,
                payload: &plan.rows.payloads[index],
                metadata: &plan.rows.metadata[index],
                recorded_at_micros: at().timestamp_micros(),
            };
            previous = hashed.chain(&previous, &mut scratch);
            assert_eq!(plan.rows.hashes[index], previous.0.to_vec());
        }
        assert_eq!(plan.new_head.hash, previous);
    }

    #[test]
    fn it_refuses_a_stale_version_and_appends_the_rest() {
        let found = Found { stream_versions: [("a".to_owned(), 3)].into(), ..Found::default() };
        let batch = vec![request("a", ExpectedVersion::Exact(2), 1), request("b", ExpectedVersion::NoStream, 1)];
        let plan = plan(batch, EMPTY, &found, None, at());
        assert_eq!(plan.answered.len(), 1);
        assert_eq!(plan.answered[0].1, Err(AppendError::Conflict { current: 3 }));
        assert_eq!(plan.appends.len(), 1);
        assert_eq!(plan.appends[0].1.first_position, Some(1), "the refused request takes no position");
    }

    #[test]
    fn a_refusal_on_remembered_versions_is_checked_again_under_the_lock() {
        let mut known = Known::fresh(EMPTY);
        known.versions.insert("a".into(), 3);
        let plan = plan(vec![request("a", ExpectedVersion::Exact(2), 1)], EMPTY, &Found::default(), Some(&known), at());
        assert!(plan.answered.is_empty() && plan.appends.is_empty());
        assert_eq!(plan.suspects.len(), 1);
    }

    #[test]
    fn the_committer_trusts_a_version_read_after_it_last_took_over_the_head() {
        let known = Known { head: Head { position: 20, hash: GENESIS_HASH }, own_since: 10, versions: HashMap::new() };
        let stream = |expected| StreamAppend { stream_id: "a".into(), expected, events: Vec::new() };
        assert_eq!(known.version_of(&stream(ExpectedVersion::Exact(5)), Some(10)), Some(5));
        assert_eq!(known.version_of(&stream(ExpectedVersion::Exact(5)), Some(9)), None, "read before: unknown");
        assert_eq!(known.version_of(&stream(ExpectedVersion::Exact(5)), None), None);
        assert_eq!(known.version_of(&stream(ExpectedVersion::NoStream), None), Some(0));
        assert_eq!(known.version_of(&stream(ExpectedVersion::Any), Some(20)), None);
    }

    #[test]
    fn a_used_key_answers_with_its_first_outcome_or_refuses_another_request() {
        let record = IdempotencyRecord {
            request_hash: b"same".to_vec(),
            stream_id: "a".into(),
            stream_version: 2,
            first_position: Some(5),
            last_position: Some(6),
        };
        let found = Found { keys: [(("ann".to_owned(), "k".to_owned()), record)].into(), ..Found::default() };
        let again = AppendRequest { idempotency: claim("k", b"same"), ..request("a", ExpectedVersion::Any, 2) };
        let other = AppendRequest { idempotency: claim("k", b"other"), ..request("a", ExpectedVersion::Any, 2) };
        let plan = plan(vec![again, other], EMPTY, &found, None, at());
        assert!(plan.appends.is_empty());
        let answers: Vec<_> = plan.answered.into_iter().map(|(_, answer)| answer).collect();
        assert_eq!(
            answers[0],
            Ok(AppendOutcome {
                stream_id: "a".into(),
                stream_version: 2,
                first_position: Some(5),
                last_position: Some(6),
                events: Vec::new(),
                replayed: true
            })
        );
        assert_eq!(answers[1], Err(AppendError::IdempotencyKeyReused));
    }

    #[test]
    fn a_key_claimed_twice_in_one_batch_waits_for_the_first() {
        let first = AppendRequest { idempotency: claim("k", b"h"), ..request("a", ExpectedVersion::Any, 1) };
        let plan = plan(vec![first.clone(), first], EMPTY, &Found::default(), None, at());
        assert_eq!(plan.appends.len(), 1);
        assert_eq!(plan.deferred.len(), 1);
        assert_eq!(plan.rows.key_values, ["k"]);
        assert_eq!(plan.rows.key_first, [Some(1)]);
    }

    #[test]
    fn events_in_the_log_already_answer_as_a_replay() {
        let request = request("a", ExpectedVersion::Any, 3);
        let first = request.first_event().unwrap().event_id;
        let found = Found { event_ids: [(first, ("a".to_owned(), 4, 40))].into(), ..Found::default() };
        let plan = plan(vec![request], EMPTY, &found, None, at());
        let outcome = plan.answered[0].1.clone().unwrap();
        assert!(outcome.replayed);
        assert_eq!((outcome.stream_version, outcome.first_position, outcome.last_position), (6, Some(40), Some(42)));
        assert_eq!(plan.new_head, EMPTY, "nothing is written");
    }

    #[test]
    fn several_streams_append_together_or_not_at_all() {
        let found = Found { stream_versions: [("b".to_owned(), 1)].into(), ..Found::default() };
        let both = |b_expected| AppendRequest {
            streams: vec![
                StreamAppend { stream_id: "a".into(), expected: ExpectedVersion::NoStream, events: vec![event(0)] },
                StreamAppend { stream_id: "b".into(), expected: b_expected, events: vec![event(1), event(2)] },
            ],
            ..request("unused", ExpectedVersion::Any, 0)
        };
        let plan =
            plan(vec![both(ExpectedVersion::Exact(0)), both(ExpectedVersion::Exact(1))], EMPTY, &found, None, at());
        assert_eq!(plan.answered[0].1, Err(AppendError::Conflict { current: 1 }), "b is at 1: nothing of it");
        let (_, outcome) = &plan.appends[0];
        assert_eq!((outcome.stream_id.as_str(), outcome.stream_version), ("a", 1), "the first stream reports");
        assert_eq!((outcome.first_position, outcome.last_position), (Some(1), Some(3)));
        assert_eq!(plan.rows.stream_ids, ["a", "b", "b"]);
        assert_eq!(plan.rows.stream_versions, [1, 2, 3]);
        assert_eq!(plan.versions, [("a".to_owned(), 1), ("b".to_owned(), 3)].into());
    }

    #[test]
    fn an_append_that_names_no_stream_or_one_twice_is_refused() {
        let none = AppendRequest { streams: Vec::new(), ..request("a", ExpectedVersion::Any, 1) };
        let mut twice = request("a", ExpectedVersion::Any, 1);
        twice.streams.push(twice.streams[0].clone());
        let plan = plan(vec![none, twice], EMPTY, &Found::default(), None, at());
        assert!(plan.appends.is_empty());
        assert!(plan.answered.iter().all(|(_, answer)| matches!(answer, Err(AppendError::Refused(_)))));
    }

    #[test]
    fn a_traced_request_keeps_its_trace_beside_every_event() {
        let traced = AppendRequest { trace_context: Some("00-trace".into()), ..request("a", ExpectedVersion::Any, 2) };
        let plan = plan(vec![request("b", ExpectedVersion::Any, 1), traced], EMPTY, &Found::default(), None, at());
        assert_eq!(plan.rows.traced_positions, [2, 3]);
        assert_eq!(plan.rows.traceparents, ["00-trace", "00-trace"]);
    }
}
