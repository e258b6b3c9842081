//! Stream ids: `{category}-{id}`, one stream per aggregate. The one place that knows how a
//! stream id is spelled; everything else names streams through [`StreamId`].

use std::fmt;

use uuid::Uuid;

/// The kind of aggregate a stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Workspace,
    Agent,
    Workflow,
    /// A workspace's billing account: its id is the workspace's.
    Billing,
    Run,
    /// Operators' decisions about the log's consumers (see [`crate::operations`]): not an
    /// aggregate, one stream.
    Operations,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Workspace,
        Category::Agent,
        Category::Workflow,
        Category::Billing,
        Category::Run,
        Category::Operations,
    ];

    /// The stream ids' prefix, e.g. `run` in `run-{id}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Workspace => "workspace",
            Category::Agent => "agent",
            Category::Workflow => "workflow",
            Category::Billing => "billing",
            Category::Run => "run",
            Category::Operations => "operations",
        }
    }

    /// The bounded context the category belongs to, as CloudEvents `source` paths name it.
    pub fn context(self) -> &'static str {
        match self {
            Category::Workspace => "workspaces",
            Category::Agent => "agents",
            Category::Workflow => "workflows",
            Category::Billing => "billing",
            Category::Run => "runs",
            Category::Operations => "operations",
        }
    }

    fn parse(text: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|category| category.as_str() == text)
    }
}

/// A stream's id: its category and the aggregate's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    pub category: Category,
    pub id: Uuid,
}

impl StreamId {
    pub fn new(category: Category, id: Uuid) -> StreamId {
        StreamId { category, id }
    }

    /// `None` for text that is not an Oxbow stream id.
    pub fn parse(text: &str) -> Option<StreamId> {
        let (category, id) = text.split_once('-')?;
        Some(StreamId { category: Category::parse(category)?, id: id.parse().ok()? })
    }

    /// The aggregate's id when the stream is of `category`.
    pub fn id_of(text: &str, category: Category) -> Option<Uuid> {
        StreamId::parse(text).filter(|stream| stream.category == category).map(|stream| stream.id)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.category.as_str(), self.id)
    }
}

/// The bounded context a stream belongs to (`workspace-…` → `workspaces`); `oxbow` for any
/// other stream.
pub fn context_of_stream(stream_id: &str) -> &'static str {
    match stream_id.split_once('-').and_then(|(category, _)| Category::parse(category)) {
        Some(category) => category.context(),
        None => "oxbow",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_round_trip_through_their_text() {
        let id = Uuid::now_v7();
        for category in Category::ALL {
            let stream = StreamId::new(category, id);
            assert_eq!(StreamId::parse(&stream.to_string()), Some(stream));
            assert_eq!(StreamId::id_of(&stream.to_string(), category), Some(id));
        }
        assert_eq!(StreamId::new(Category::Run, id).to_string(), format!("run-{id}"));
    }

    #[test]
    fn other_text_is_no_stream() {
        assert_eq!(StreamId::parse("run-not-a-uuid"), None);
        assert_eq!(StreamId::parse("queue-0190a0b2-0000-7000-8000-000000000000"), None);
        assert_eq!(StreamId::id_of(&format!("agent-{}", Uuid::nil()), Category::Run), None);
        assert_eq!(context_of_stream("billing-x"), "billing");
        assert_eq!(context_of_stream("queue-x"), "oxbow");
    }
}
