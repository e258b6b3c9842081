//! The caller's standing in a workspace: the facts that workspace-scoped aggregates decide on.

use events::workspace::Role;

/// The caller's role in the aggregate's workspace (`None`: not a member, or no such workspace),
/// and whether the workspace is suspended. Looked up from the workspace's stream by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    pub role: Option<Role>,
    pub suspended: bool,
}

impl Access {
    pub fn of(role: Role) -> Access {
        Access { role: Some(role), suspended: false }
    }

    /// Ok when the caller has `required` or a higher role; the error names what was missing.
    pub fn require(&self, required: Role) -> Result<(), AccessDenied> {
        match self.role {
            None => Err(AccessDenied::NotAMember),
            Some(role) if role.at_least(required) => Ok(()),
            Some(_) => Err(AccessDenied::RoleTooLow { required }),
        }
    }
}

/// Why the caller may not do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessDenied {
    NotAMember,
    RoleTooLow { required: Role },
}

/// `From<AccessDenied>` for an error enum with `NotAMember` and `RoleTooLow { required }`.
macro_rules! access_denied_into {
    ($error:ident) => {
        impl From<$crate::access::AccessDenied> for $error {
            fn from(denied: $crate::access::AccessDenied) -> $error {
                match denied {
                    $crate::access::AccessDenied::NotAMember => $error::NotAMember,
                    $crate::access::AccessDenied::RoleTooLow { required } => $error::RoleTooLow { required },
                }
            }
        }
    };
}
pub(crate) use access_denied_into;
