//! The batch adapter of the run rule ([`super::view`]): a batch's runs are folded in memory
//! and written once, a few statements per batch rather than per event. The projector applies
//! each Kafka batch this way, and a rebuild each of its batches.

use std::collections::{HashMap, HashSet};

use events::RecordedEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use super::view::{self, ArtifactRow, RunChange, RunView, Usage, UsageKey};
use crate::Touched;

/// Runs, their steps and usage, held in memory until [`Runs::write`].
#[derive(Default)]
pub struct Runs {
    views: HashMap<Uuid, RunView>,
    /// The runs an event changed: their rows are written.
    changed: HashSet<Uuid>,
    /// Increments to `rm_usage`.
    usage: HashMap<UsageKey, Usage>,
    /// Artifacts recorded, in log order, not yet numbered.
    artifacts: Vec<ArtifactRow>,
}

impl Runs {
    /// Reads the rows these runs already have, so that their events carry on from them.
    pub async fn load(&mut self, connection: &mut PgConnection, run_ids: &[Uuid]) -> sqlx::Result<()> {
        let missing: Vec<Uuid> = run_ids.iter().copied().filter(|id| !self.views.contains_key(id)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        self.views.extend(super::load(connection, &missing).await?);
        Ok(())
    }

    /// Applies one run event to what is held; says which run changed, if one did.
    pub fn apply(&mut self, event: &RecordedEvent) -> Result<Option<Touched>, events::Error> {
        let Some(run_id) = view::run_of(event) else { return Ok(None) };
        let Some(mut change) = view::change(self.views.get(&run_id), event)? else { return Ok(None) };
        let touched = Touched::Run { workspace_id: change.run().workspace_id.into(), run_id: run_id.into() };
        if let RunChange::Update { artifacts, .. } = &mut change {
            self.artifacts.append(artifacts);
        }
        self.changed.insert(run_id);
        if let Some((key, usage)) = change.apply_to(&mut self.views) {
            let total = self.usage.entry(key).or_default();
            *total = total.plus(usage);
        }
        Ok(Some(touched))
    }

    /// Writes the runs that changed (their rows and steps) and what usage gained, and forgets
    /// what is held.
    pub async fn write(&mut self, connection: &mut PgConnection) -> sqlx::Result<()> {
        let changed = std::mem::take(&mut self.changed);
        let (runs, steps): (Vec<_>, Vec<_>) = std::mem::take(&mut self.views)
            .into_iter()
            .filter(|(id, _)| changed.contains(id))
            .map(|(_, view)| (view.run, view.steps))
            .unzip();
        let steps: Vec<_> = steps.into_iter().flatten().collect();
        super::put_runs(connection, &runs).await?;
        super::put_steps(connection, &steps).await?;
        let usage: Vec<(UsageKey, Usage)> = self.usage.drain().collect();
        super::add_usage(connection, &usage).await?;
        super::put_artifacts(connection, std::mem::take(&mut self.artifacts)).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use events::DomainEvent;
    use events::agents::{Builtin, Executor, Price};
    use events::runs::*;
    use events::workflows::RetryPolicy;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const STEPS: [&str; 3] = ["fetch", "clean", "merge"];

    /// Two workspaces, two agents: runs share usage rows.
    fn agent(index: usize) -> Uuid {
        Uuid::from_u128(0xa0 + index as u128 % 2)
    }

    fn requested(run: usize, steps: usize) -> RunEvent {
        RunRequested {
            run_id: Uuid::from_u128(run as u128 + 1),
            workspace_id: Uuid::from_u128(0xe0 + run as u128 % 2),
            workflow_id: Uuid::nil(),
            workflow_version: 1,
            input: json!({}),
            budget: 1_000,
            steps: STEPS[..steps]
                .iter()
                .enumerate()
                .map(|(i, id)| PlannedStep {
                    id: (*id).into(),
                    kind: Default::default(),
                    agent_id: Some(agent(i)),
                    depends_on: STEPS[..i].iter().map(|s| (*s).into()).collect(),
                    input: json!(null),
                    retry: RetryPolicy::default(),
                    timeout_ms: 1_000,
                    executor: Some(Executor::Builtin { name: Builtin::Echo, config: Default::default() }),
                    price: Some(Price { per_call: 1, per_1k_input_tokens: 1, per_1k_output_tokens: 1 }),
                    approvers: None,
                    signalers: None,
                    signal_agent_id: None,
                })
                .collect(),
            output: None,
            retry_of: None,
        }
        .into()
    }

    /// A step's artifacts, of a few names shared by every run, so that versions pile up.
    fn arb_artifacts() -> impl Strategy<Value = Vec<Artifact>> {
        let name = prop_oneof![Just("report.pdf"), Just("data/raw.csv"), Just("summary.md")];
        proptest::collection::vec(name, 0..3).prop_map(|mut names| {
            names.dedup();
            names
                .into_iter()
                .map(|name| Artifact {
                    name: name.into(),
                    media_type: "text/plain".into(),
                    size: 1,
                    sha256: "0".repeat(64),
                    uri: format!("s3://bucket/{name}"),
                })
                .collect()
        })
    }

    /// Any later event of a run, extreme numbers and unknown steps included.
    fn arb_event() -> impl Strategy<Value = RunEvent> {
        let step = prop_oneof![Just("fetch"), Just("clean"), Just("merge"), Just("unknown")].prop_map(String::from);
        let attempt = prop_oneof![Just(0u32), 1u32..4, Just(u32::MAX)];
        let tokens = prop_oneof![0u64..5_000, Just(u64::MAX), Just(i64::MAX as u64 + 1)];
        let cost = prop_oneof![0i64..500, Just(i64::MAX), Just(i64::MAX - 1), Just(-1i64), Just(i64::MIN)];
        let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        prop_oneof![
            Just(RunStarted { reservation_id: Uuid::nil() }.into()),
            (step.clone(), attempt.clone()).prop_map(move |(step_id, attempt)| StepScheduled {
                step_id,
                attempt,
                input: json!(1),
                deadline: at
            }
            .into()),
            (step.clone(), attempt.clone()).prop_map(|(step_id, attempt)| StepStarted { step_id, attempt }.into()),
            (step.clone(), attempt.clone(), tokens.clone(), tokens, cost.clone(), arb_artifacts()).prop_map(
                |(step_id, attempt, tokens, duration_ms, cost, artifacts)| StepSucceeded {
                    step_id,
                    attempt,
                    output: json!({"ok": true}),
                    input_tokens: tokens,
                    output_tokens: tokens / 2,
                    artifacts,
                    duration_ms,
                    cost
                }
                .into()
            ),
            (step.clone(), attempt.clone(), cost.clone(), any::<bool>()).prop_map(
                |(step_id, attempt, cost, retryable)| StepFailed {
                    step_id,
                    attempt,
                    error: "x".into(),
                    retryable,
                    cost,
                    by: None,
                }
                .into()
            ),
            (step.clone(), attempt.clone()).prop_map(move |(step_id, attempt)| StepRetryScheduled {
                step_id,
                attempt,
                at
            }
            .into()),
            (step, attempt).prop_map(|(step_id, attempt)| StepTimedOut { step_id, attempt }.into()),
            cost.clone().prop_map(|credits_used| RunSucceeded { credits_used, output: None }.into()),
            cost.clone().prop_map(|credits_used| RunFailed { reason: "step_failed".into(), credits_used }.into()),
            cost.prop_map(|credits_used| RunCancelled { reason: "cancelled".into(), credits_used }.into()),
            Just(RunRejected { reason: "insufficient_credits".into() }.into()),
        ]
    }

    /// The log of a few runs, interleaved, over a few days; each run's stream starts with its
    /// request. Then delivered with some events again (at least once), in stream order.
    fn arb_log() -> impl Strategy<Value = Vec<RecordedEvent>> {
        let run = (1usize..=3, proptest::collection::vec(arb_event(), 0..12));
        (proptest::collection::vec(run, 1..4), proptest::collection::vec((0usize..4, 0u8..3, 0u8..4), 0..60)).prop_map(
            |(runs, order)| {
                let mut streams: Vec<Vec<RunEvent>> = runs
                    .into_iter()
                    .enumerate()
                    .map(|(i, (steps, later))| std::iter::once(requested(i, steps)).chain(later).collect())
                    .collect();
                for stream in &mut streams {
                    stream.reverse();
                }
                let start = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
                let mut log = Vec::new();
                let mut versions = vec![0i64; streams.len()];
                // Interleave by the generated order, then whatever is left.
                let rest: Vec<(usize, u8, u8)> =
                    streams.iter().enumerate().flat_map(|(run, s)| std::iter::repeat_n((run, 0, 0), s.len())).collect();
                for (run, again, day) in order.into_iter().chain(rest) {
                    let run = run % streams.len();
                    let Some(event) = streams[run].pop() else { continue };
                    versions[run] += 1;
                    let at: DateTime<Utc> = start + Duration::hours(i64::from(day) * 20);
                    let recorded = RecordedEvent {
                        position: log.len() as i64 + 1,
                        stream_id: events::runs::stream_id(Uuid::from_u128(run as u128 + 1)),
                        stream_version: versions[run],
                        event_id: Uuid::nil(),
                        event_type: event.event_type().into(),
                        schema_version: event.schema_version(),
                        payload: event.to_payload(),
                        metadata: json!({"actor": "ann"}),
                        recorded_at: at,
                        hash: events::GENESIS_HASH,
                    };
                    log.push(recorded.clone());
                    // Redelivered: an event seen again, right after or later.
                    if again == 1 {
                        log.push(recorded);
                    }
                }
                log
            },
        )
    }

    type Tables = (HashMap<Uuid, RunView>, HashMap<UsageKey, Usage>, Vec<ArtifactRow>);

    /// Each event's change applied to the tables alone, as it comes: what the rule says.
    fn live(log: &[RecordedEvent]) -> Tables {
        let (mut runs, mut usage, mut artifacts): Tables = Default::default();
        let mut highest = HashMap::new();
        for event in log {
            let run_id = view::run_of(event).unwrap();
            let Some(mut change) = view::change(runs.get(&run_id), event).unwrap() else { continue };
            if let RunChange::Update { artifacts: new, .. } = &mut change {
                view::number_artifacts(&mut highest, new);
                artifacts.append(new);
            }
            if let Some((key, added)) = change.apply_to(&mut runs) {
                let total = usage.entry(key).or_default();
                *total = total.plus(added);
            }
        }
        (runs, usage, artifacts)
    }

    /// This adapter: batches folded in memory from what the tables hold, then written.
    fn rebuilt(log: &[RecordedEvent], batch: usize) -> Tables {
        let (mut runs, mut usage, mut artifacts): Tables = Default::default();
        // What `rm_artifacts` holds: the highest version of each name so far.
        let mut highest: HashMap<(Uuid, String), i32> = HashMap::new();
        for events in log.chunks(batch) {
            let mut bulk = Runs::default();
            for event in events {
                let run_id = view::run_of(event).unwrap();
                if let Some(view) = runs.get(&run_id) {
                    bulk.views.entry(run_id).or_insert_with(|| view.clone());
                }
                bulk.apply(event).unwrap();
            }
            runs.extend(bulk.views.drain());
            for (key, added) in bulk.usage.drain() {
                let total = usage.entry(key).or_default();
                *total = total.plus(added);
            }
            let mut written = std::mem::take(&mut bulk.artifacts);
            let mut known: HashMap<(Uuid, String), i32> = written
                .iter()
                .filter_map(|a| {
                    Some(((a.workspace_id, a.name.clone()), *highest.get(&(a.workspace_id, a.name.clone()))?))
                })
                .collect();
            view::number_artifacts(&mut known, &mut written);
            for artifact in &written {
                highest.insert((artifact.workspace_id, artifact.name.clone()), artifact.version);
            }
            artifacts.append(&mut written);
        }
        (runs, usage, artifacts)
    }

    proptest! {
        /// Whatever the events, however they are batched or redelivered, the adapter leaves
        /// the rows that applying each event alone leaves, and no counter wraps.
        #[test]
        fn any_batching_gives_the_rows_of_each_event_applied_alone(log in arb_log(), batch in 1usize..8) {
            let expected = live(&log);
            prop_assert_eq!(&rebuilt(&log, batch), &expected);
            prop_assert_eq!(&rebuilt(&log, log.len().max(1)), &expected);
            // An event delivered again changes nothing.
            let mut once = log.clone();
            once.dedup();
            prop_assert_eq!(&live(&once), &expected);
            for usage in expected.1.values() {
                prop_assert!(usage.attempts >= 0 && usage.input_tokens >= 0 && usage.output_tokens >= 0 && usage.credits >= 0, "{usage:?}");
            }
        }
    }

    #[test]
    fn usage_saturates_instead_of_wrapping() {
        let mut log = Vec::new();
        let mut push = |version: i64, event: RunEvent| {
            log.push(RecordedEvent {
                position: version,
                stream_id: events::runs::stream_id(Uuid::from_u128(1)),
                stream_version: version,
                event_id: Uuid::nil(),
                event_type: event.event_type().into(),
                schema_version: event.schema_version(),
                payload: event.to_payload(),
                metadata: json!({"actor": "ann"}),
                recorded_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
                hash: events::GENESIS_HASH,
            })
        };
        push(1, requested(0, 2));
        for (version, step) in [(2, "fetch"), (3, "clean")] {
            let event = StepSucceeded {
                step_id: step.into(),
                attempt: 1,
                output: json!(1),
                input_tokens: u64::MAX,
                output_tokens: u64::MAX,
                duration_ms: u64::MAX,
                cost: i64::MAX,
                artifacts: Vec::new(),
            };
            push(version, event.into());
        }
        let (runs, usage, artifacts) = live(&log);
        let run = &runs[&Uuid::from_u128(1)];
        assert_eq!(run.run.credits_used, i64::MAX);
        assert!(
            run.steps.iter().all(|s| s.input_tokens == i64::MAX && s.output_tokens == i64::MAX && s.cost == i64::MAX)
        );
        // Both steps' agents differ; each usage row holds one attempt at the largest value.
        assert!(usage.values().all(|u| u.input_tokens == i64::MAX
            && u.output_tokens == i64::MAX
            && u.credits == i64::MAX
            && u.attempts == 1));
        assert_eq!(rebuilt(&log, 3), (runs, usage, artifacts));
    }
}
