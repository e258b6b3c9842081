//! Given/when/then for deciders: `given(events).when(command).then(events)`.

use std::fmt::Debug;

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use crate::{CommandContext, Decider};

/// A fixed context for tests: actor `alice`, a fixed time and id.
pub fn context_of(actor: &str) -> CommandContext {
    CommandContext {
        aggregate_id: Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_00aa),
        actor: actor.to_owned(),
        actor_email: None,
        now: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        new_id: Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001),
        new_secret: crate::decider::NewSecret::fixed(&"5e".repeat(32)),
        principal: crate::Principal::User,
        max_event_bytes: 262_144,
    }
}

pub struct Given<D: Decider> {
    state: D::State,
}

pub fn given<D: Decider>(events: impl IntoIterator<Item = D::Event>) -> Given<D> {
    let events: Vec<D::Event> = events.into_iter().collect();
    Given { state: D::fold(events.iter()) }
}

impl<D: Decider> Given<D>
where
    D::Facts: Default,
{
    /// Decides as `alice`, with default facts.
    pub fn when(self, command: D::Command) -> When<D> {
        self.when_by(command, context_of("alice"))
    }

    pub fn when_by(self, command: D::Command, context: CommandContext) -> When<D> {
        self.when_with(command, &D::Facts::default(), context)
    }
}

impl<D: Decider> Given<D> {
    pub fn when_with(self, command: D::Command, facts: &D::Facts, context: CommandContext) -> When<D> {
        let result = D::decide(&command, &self.state, facts, &context);
        When { result }
    }
}

pub struct When<D: Decider> {
    result: Result<Vec<D::Event>, D::Error>,
}

impl<D: Decider> When<D>
where
    D::Event: PartialEq + Debug,
    D::Error: PartialEq + Debug,
{
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = D::Event>) {
        let expected: Vec<D::Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => assert_eq!(events, expected),
            Err(error) => panic!("expected events {expected:?}, got rejection {error:?}"),
        }
    }

    #[track_caller]
    pub fn then_err(self, expected: D::Error) {
        match self.result {
            Ok(events) => panic!("expected rejection {expected:?}, got events {events:?}"),
            Err(error) => assert_eq!(error, expected),
        }
    }
}
