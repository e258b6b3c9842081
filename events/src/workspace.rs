//! Events of the Workspaces context: tenants, their members and invitations.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member's role in a workspace, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    fn rank(self) -> u8 {
        match self {
            Role::Owner => 3,
            Role::Admin => 2,
            Role::Member => 1,
            Role::Viewer => 0,
        }
    }

    /// Whether this role may do what `required` may.
    pub fn at_least(self, required: Role) -> bool {
        self.rank() >= required.rank()
    }

    /// The role named by [`Role::as_str`].
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }
}

/// The stream that holds a workspace's events.
pub fn stream_id(workspace_id: Uuid) -> String {
    crate::StreamId::new(crate::Category::Workspace, workspace_id).to_string()
}

/// A workspace was created; its creator is its first owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceCreated {
    pub workspace_id: Uuid,
    pub name: String,
    pub owner_id: String,
}

/// Schema version 2: also says what the name was. Version 1 (`{name}`) did not; its events are
/// read with `previous_name: null` (see [`renamed_v1_to_v2`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceRenamed {
    pub name: String,
    pub previous_name: Option<String>,
}

/// Upcasts a stored `WorkspaceRenamed` payload to version 2.
pub fn renamed_v1_to_v2(stored_version: i32, mut payload: serde_json::Value) -> Result<serde_json::Value, String> {
    match (stored_version, payload.as_object_mut()) {
        (1, Some(fields)) => {
            fields.entry("previous_name").or_insert(serde_json::Value::Null);
            Ok(payload)
        }
        (1, None) => Err("a version 1 WorkspaceRenamed payload is an object".into()),
        (other, _) => Err(format!("WorkspaceRenamed has no schema version {other}")),
    }
}

/// Someone was invited by email; they join when they accept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberInvited {
    pub invitation_id: Uuid,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
}

/// An invitation was accepted: `user_id` is now a member with the invited role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationAccepted {
    pub invitation_id: Uuid,
    pub user_id: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRoleChanged {
    pub user_id: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRemoved {
    pub user_id: String,
}

/// A suspended workspace starts no new runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceSuspended {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceReactivated {}

crate::event_enum! {
    /// Every event of a workspace's stream.
    pub enum WorkspaceEvent {
        WorkspaceCreated,
        WorkspaceRenamed = 2 via renamed_v1_to_v2,
        MemberInvited,
        InvitationAccepted,
        MemberRoleChanged,
        MemberRemoved,
        WorkspaceSuspended,
        WorkspaceReactivated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_rename_is_read_in_todays_shape_and_a_newer_version_is_refused() {
        let v1 = serde_json::json!({"name": "Lab"});
        let read = WorkspaceEvent::from_stored("WorkspaceRenamed", 1, &v1).unwrap();
        assert_eq!(read, WorkspaceRenamed { name: "Lab".into(), previous_name: None }.into());
        let (version, shape) = WorkspaceEvent::upcast("WorkspaceRenamed", 1, &v1).unwrap().unwrap();
        assert_eq!((version, shape.into_owned()), (2, serde_json::json!({"name": "Lab", "previous_name": null})));
        let event: WorkspaceEvent = WorkspaceRenamed { name: "Lab".into(), previous_name: Some("R".into()) }.into();
        assert_eq!(crate::DomainEvent::schema_version(&event), 2);
        assert!(matches!(
            WorkspaceEvent::from_stored("WorkspaceRenamed", 3, &v1),
            Err(crate::Error::UnsupportedSchemaVersion { found: 3, known: 2, .. })
        ));
        assert!(WorkspaceEvent::from_stored("WorkspaceRenamed", 1, &serde_json::json!(["Lab"])).is_err());
        assert!(WorkspaceEvent::upcast("RunStarted", 1, &v1).is_none(), "not this enum's type");
    }
    use crate::DomainEvent;

    #[test]
    fn events_round_trip_through_their_stored_form() {
        let event = WorkspaceEvent::from(MemberInvited {
            invitation_id: Uuid::nil(),
            email: "bo@example.com".into(),
            role: Role::Admin,
            invited_by: "alice".into(),
        });
        let payload = event.to_payload();
        assert_eq!(payload["role"], "admin");
        let back = WorkspaceEvent::from_stored(event.event_type(), 1, &payload).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn unknown_types_and_newer_versions_are_refused() {
        let payload = serde_json::json!({});
        assert_eq!(
            WorkspaceEvent::from_stored("Nope", 1, &payload),
            Err(crate::Error::UnknownEventType("Nope".into()))
        );
        assert!(matches!(
            WorkspaceEvent::from_stored("WorkspaceReactivated", 2, &payload),
            Err(crate::Error::UnsupportedSchemaVersion { found: 2, .. })
        ));
    }
}
