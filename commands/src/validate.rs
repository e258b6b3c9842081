//! Field checks that a payload's JSON Schema also states, applied before any decision.

/// A payload field that breaks its schema: the JSON path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: &str, message: impl Into<String>) -> FieldError {
        FieldError { path: path.to_owned(), message: message.into() }
    }
}

pub const NAME_MAX_CHARS: usize = 100;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const USER_ID_MAX_CHARS: usize = 200;

/// A display name: not blank, at most [`NAME_MAX_CHARS`] characters.
pub fn name(path: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(path, "must not be blank"));
    }
    if value.chars().count() > NAME_MAX_CHARS {
        return Err(FieldError::new(path, format!("must be at most {NAME_MAX_CHARS} characters")));
    }
    Ok(())
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
