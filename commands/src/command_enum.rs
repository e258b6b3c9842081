//! `command_enum!`: a command enum over payload structs, with parsing and schemas.

use crate::FieldError;

/// Declares a command enum whose variants are the payload structs of the same name.
macro_rules! command_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis enum $name {
            $($variant($variant)),+
        }

        impl $name {
            /// Every command type of this enum, by wire name.
            pub const TYPES: &'static [&'static str] = &[$(stringify!($variant)),+];

            /// The JSON Schema of each command type's payload, by wire name.
            /// Each schema comes from a fresh generator, so it holds only its own definitions.
            pub fn payload_schemas(
                settings: &schemars::generate::SchemaSettings,
            ) -> Vec<(&'static str, schemars::Schema)> {
                vec![$((stringify!($variant), settings.clone().into_generator().into_root_schema_for::<$variant>())),+]
            }

            /// Reads a payload as the command `command_type`; `None` when the type is not one of
            /// this enum's. Errors name the offending field by JSON pointer.
            pub fn parse(
                command_type: &str,
                payload: &serde_json::Value,
            ) -> Option<Result<Self, crate::FieldError>> {
                match command_type {
                    $(stringify!($variant) => Some(
                        serde_path_to_error::deserialize::<_, $variant>(payload)
                            .map_err(|error| crate::FieldError::new(
                                &crate::command_enum::json_pointer(&error.path().to_string()),
                                error.inner().to_string(),
                            ))
                            .and_then(|command| {
                                crate::Validate::validate(&command)?;
                                Ok($name::$variant(command))
                            })
                    ),)+
                    _ => None,
                }
            }

            /// Checks the payload's fields as parsing does, for commands built in code.
            pub fn validate(&self) -> Result<(), crate::FieldError> {
                match self {
                    $($name::$variant(command) => crate::Validate::validate(command)),+
                }
            }

            pub fn command_type(&self) -> &'static str {
                match self {
                    $($name::$variant(_) => stringify!($variant)),+
                }
            }

            /// The payload as the command endpoint takes it.
            pub fn to_payload(&self) -> serde_json::Value {
                match self {
                    $($name::$variant(command) => {
                        serde_json::to_value(command).expect("command payloads always serialize")
                    }),+
                }
            }
        }

        $(
            impl From<$variant> for $name {
                fn from(command: $variant) -> Self {
                    $name::$variant(command)
                }
            }
        )+
    };
}

pub(crate) use command_enum;

/// serde_path_to_error's `a.b[0]` as a JSON pointer `/a/b/0`; `.` (the root) as ``.
pub(crate) fn json_pointer(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    path.split(['.', '['])
        .filter(|part| !part.is_empty())
        .map(|part| format!("/{}", part.trim_end_matches(']')))
        .collect()
}

/// Schema checks beyond the shape serde already enforces.
pub trait Validate {
    fn validate(&self) -> Result<(), FieldError> {
        Ok(())
    }
}
