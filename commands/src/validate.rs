//! Field checks that a payload's JSON Schema also states, applied before any decision.

use serde_json::Value;

/// A payload field that breaks its schema: the JSON path, what is wrong, and a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FieldError {
    pub path: String,
    pub message: String,
    /// `invalid_payload`, or `nul_character` for text PostgreSQL cannot store.
    pub code: &'static str,
}

impl FieldError {
    pub fn new(path: &str, message: impl Into<String>) -> FieldError {
        FieldError { path: path.to_owned(), message: message.into(), code: "invalid_payload" }
    }

    /// A string of a template (a step's input, a workflow's output) that is not one.
    pub fn template(path: &str, error: &events::template::TemplateError) -> FieldError {
        FieldError { path: path.to_owned(), message: error.to_string(), code: "invalid_template" }
    }

    /// Text with a NUL character: JSON allows it, PostgreSQL's `jsonb` and `text` refuse it.
    pub fn nul(path: &str) -> FieldError {
        FieldError {
            path: path.to_owned(),
            message: "must not contain a NUL character (\\u0000)".into(),
            code: "nul_character",
        }
    }
}

/// The deepest a free JSON value (a step's input or output) may nest.
pub const JSON_MAX_DEPTH: usize = 32;

/// Free JSON: no NUL in any string or member name, nested at most [`JSON_MAX_DEPTH`] deep.
/// Its size is bounded by the body limit and, once it is in an event, by the event limit.
pub fn json(path: &str, value: &Value) -> Result<(), FieldError> {
    fn walk(path: &mut String, value: &Value, depth: usize) -> Result<(), FieldError> {
        match value {
            Value::String(text) if text.contains('\0') => Err(FieldError::nul(path)),
            Value::Array(_) | Value::Object(_) if depth >= JSON_MAX_DEPTH => {
                Err(FieldError::new(path, format!("must not nest more than {JSON_MAX_DEPTH} levels deep")))
            }
            Value::Array(items) => items.iter().enumerate().try_for_each(|(index, item)| {
                let length = path.len();
                path.push_str(&format!("/{index}"));
                walk(path, item, depth + 1)?;
                path.truncate(length);
                Ok(())
            }),
            Value::Object(members) => members.iter().try_for_each(|(name, member)| {
                let length = path.len();
                path.push('/');
                path.push_str(&name.replace('~', "~0").replace('/', "~1"));
                if name.contains('\0') {
                    return Err(FieldError::nul(path));
                }
                walk(path, member, depth + 1)?;
                path.truncate(length);
                Ok(())
            }),
            _ => Ok(()),
        }
    }
    walk(&mut path.to_owned(), value, 0)
}

/// Text of at most `max_chars` characters, without a NUL.
pub fn text(path: &str, value: &str, max_chars: usize) -> Result<(), FieldError> {
    if value.contains('\0') {
        return Err(FieldError::nul(path));
    }
    if value.chars().count() > max_chars {
        return Err(FieldError::new(path, format!("must be at most {max_chars} characters")));
    }
    Ok(())
}

pub const NAME_MAX_CHARS: usize = 100;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const USER_ID_MAX_CHARS: usize = 200;

/// A display name: not blank, at most [`NAME_MAX_CHARS`] characters.
pub fn name(path: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(path, "must not be blank"));
    }
    text(path, value, NAME_MAX_CHARS)
}

/// An email address: one `@` with text on both sides, no white space.
pub fn email(path: &str, value: &str) -> Result<(), FieldError> {
    let well_formed = value.chars().count() <= EMAIL_MAX_CHARS
        && !value.chars().any(char::is_whitespace)
        && matches!(value.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if well_formed { Ok(()) } else { Err(FieldError::new(path, "must be an email address")) }
}

/// A user id as tokens carry it in `sub`.
pub fn user_id(path: &str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() || value.chars().count() > USER_ID_MAX_CHARS {
        return Err(FieldError::new(path, format!("must be 1 to {USER_ID_MAX_CHARS} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_json_refuses_nul_anywhere_and_deep_nesting_and_says_where() {
        use serde_json::json;
        assert!(json("/payload", &json!({"a": [1, "two", {"b": null}]})).is_ok());
        let error = json("/payload", &json!({"a": [1, {"b/c": "x\u{0}y"}]})).unwrap_err();
        assert_eq!((error.path.as_str(), error.code), ("/payload/a/1/b~1c", "nul_character"));
        let error = json("/payload", &json!({"k\u{0}": 1})).unwrap_err();
        assert_eq!(error.code, "nul_character");
        let mut deep = json!(1);
        for _ in 0..JSON_MAX_DEPTH + 1 {
            deep = json!([deep]);
        }
        assert_eq!(json("/payload", &deep).unwrap_err().code, "invalid_payload");
        assert_eq!(text("/reason", "a\0b", 10).unwrap_err().code, "nul_character");
        assert!(text("/reason", "abc", 2).is_err());
    }

    #[test]
    fn emails_need_one_at_sign_with_text_around_it() {
        assert!(email("/email", "bo@example.com").is_ok());
        for bad in ["", "bo", "@x", "bo@", "b o@x", "a@b@c"] {
            assert!(email("/email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_must_not_be_blank_or_too_long() {
        assert!(name("/name", "Research").is_ok());
        assert!(name("/name", "  ").is_err());
        assert!(name("/name", &"x".repeat(NAME_MAX_CHARS + 1)).is_err());
    }
}
