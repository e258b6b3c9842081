//! Ids that cross crates, each its own type, so a workspace's id cannot be passed where a
//! run's is meant. On the wire and in storage each is its UUID, unchanged.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Category, StreamId};

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $category:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn uuid(self) -> Uuid {
                self.0
            }

            /// The stream that holds the aggregate's events.
            pub fn stream(self) -> StreamId {
                StreamId::new($category, self.0)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> $name {
                $name(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(text: &str) -> Result<$name, uuid::Error> {
                text.parse().map($name)
            }
        }
    };
}

id_type!(
    /// A workspace, the tenant; its billing account has the same id.
    WorkspaceId,
    Category::Workspace
);
id_type!(RunId, Category::Run);
id_type!(AgentId, Category::Agent);
id_type!(WorkflowId, Category::Workflow);

impl WorkspaceId {
    /// The workspace's billing account's stream.
    pub fn billing_stream(self) -> StreamId {
        StreamId::new(Category::Billing, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_their_uuids_on_the_wire() {
        let id = Uuid::now_v7();
        assert_eq!(serde_json::to_value(RunId(id)).unwrap(), serde_json::to_value(id).unwrap());
        assert_eq!(serde_json::from_value::<WorkspaceId>(serde_json::json!(id)).unwrap(), WorkspaceId(id));
        assert_eq!(RunId(id).stream().to_string(), format!("run-{id}"));
        assert_eq!(WorkspaceId(id).billing_stream().to_string(), format!("billing-{id}"));
        assert_eq!(id.to_string().parse::<AgentId>().unwrap(), AgentId(id));
    }
}
