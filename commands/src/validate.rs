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

/// The most artifacts one step may record.
pub const ARTIFACTS_MAX: usize = 100;
const ARTIFACT_NAME_MAX_CHARS: usize = 200;
const MEDIA_TYPE_MAX_CHARS: usize = 255;
const URI_MAX_CHARS: usize = 2048;
/// The largest size JSON numbers carry exactly everywhere (2^53 - 1).
const ARTIFACT_SIZE_MAX: u64 = (1 << 53) - 1;

/// A step's artifacts: each a file's metadata within bounds, names unique, and no URI that
/// carries a credential (a presigned URL kept in the log for ever would be one).
pub fn artifacts(path: &str, artifacts: &[events::runs::Artifact]) -> Result<(), FieldError> {
    if artifacts.len() > ARTIFACTS_MAX {
        return Err(FieldError::new(path, format!("at most {ARTIFACTS_MAX} artifacts per step")));
    }
    let mut names = std::collections::HashSet::new();
    for (index, artifact) in artifacts.iter().enumerate() {
        let at = |field: &str| format!("{path}/{index}/{field}");
        let name = &artifact.name;
        let segments_ok = name.split('/').all(|segment| !matches!(segment, "" | "." | ".."));
        if name.is_empty()
            || name.chars().count() > ARTIFACT_NAME_MAX_CHARS
            || name.chars().any(char::is_control)
            || !segments_ok
        {
            return Err(FieldError::new(
                &at("name"),
                format!(
                    "must be 1 to {ARTIFACT_NAME_MAX_CHARS} characters without control characters, \
                     of `/`-separated segments none of which is empty, `.` or `..`"
                ),
            ));
        }
        if !names.insert(name.as_str()) {
            return Err(FieldError::new(&at("name"), "is the name of another artifact of the step"));
        }
        if !is_media_type(&artifact.media_type) {
            return Err(FieldError::new(&at("media_type"), "must be a media type, type/subtype[;parameters]"));
        }
        if artifact.size > ARTIFACT_SIZE_MAX {
            return Err(FieldError::new(&at("size"), format!("must be at most {ARTIFACT_SIZE_MAX}")));
        }
        if artifact.sha256.len() != 64 || !artifact.sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(FieldError::new(&at("sha256"), "must be 64 hexadecimal digits"));
        }
        uri(&at("uri"), &artifact.uri)?;
    }
    Ok(())
}

fn is_media_type(text: &str) -> bool {
    let token =
        |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b));
    let essence = text.split(';').next().unwrap_or_default().trim();
    text.len() <= MEDIA_TYPE_MAX_CHARS
        && !text.chars().any(char::is_control)
        && essence.split_once('/').is_some_and(|(kind, subtype)| token(kind) && token(subtype))
}

/// Query parameters by which object stores sign a URL: such a URL is a credential.
const SIGNATURES: [&str; 4] = ["x-amz-signature", "x-goog-signature", "sig", "signature"];

fn uri(path: &str, text: &str) -> Result<(), FieldError> {
    let refused = |why: &str| Err(FieldError::new(path, why.to_owned()));
    if text.chars().count() > URI_MAX_CHARS || text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return refused("must be a URI of at most 2048 characters");
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return refused("must be an s3://, gs://, az:// or https:// URI");
    };
    if !matches!(scheme, "s3" | "gs" | "az" | "https") {
        return refused("must be an s3://, gs://, az:// or https:// URI");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return refused("must name a bucket or host");
    }
    if authority.contains('@') {
        return refused("must not carry user information");
    }
    if text.contains('#') {
        return refused("must not have a fragment");
    }
    let query = text.split_once('?').map(|(_, query)| query).unwrap_or_default();
    let signed = query.split('&').any(|pair| {
        let key = pair.split('=').next().unwrap_or_default().to_ascii_lowercase();
        SIGNATURES.contains(&key.as_str())
    });
    if signed {
        return refused("must not be a signed URL: the log keeps it for ever, and a signature is a credential");
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

    #[test]
    fn artifacts_are_metadata_within_bounds_and_never_a_signed_url() {
        let artifact = |name: &str, media_type: &str, uri: &str| events::runs::Artifact {
            name: name.into(),
            media_type: media_type.into(),
            size: 1,
            sha256: "F".repeat(64),
            uri: uri.into(),
        };
        let field = |list: &[events::runs::Artifact]| artifacts("/artifacts", list).err().map(|error| error.path);
        assert_eq!(
            field(&[artifact("reports/2026/q1.pdf", "application/pdf; charset=binary", "az://acct/c/q1.pdf")]),
            None
        );
        for uri in [
            "https://bucket.example/r.pdf?sig=abc",
            "https://bucket.example/r.pdf?Signature=abc&Expires=1",
            "https://user:secret@bucket.example/r.pdf",
            "https://bucket.example/r.pdf#page=2",
            "http://bucket.example/r.pdf",
            "s3:///no-bucket",
        ] {
            assert_eq!(field(&[artifact("r", "text/plain", uri)]), Some("/artifacts/0/uri".into()), "{uri}");
        }
        for name in ["", "/r", "r/", "a//b", "a/./b", "../r", "tab\there"] {
            assert_eq!(
                field(&[artifact(name, "text/plain", "s3://b/r")]),
                Some("/artifacts/0/name".into()),
                "{name:?}"
            );
        }
        assert_eq!(field(&[artifact("r", "text", "s3://b/r")]), Some("/artifacts/0/media_type".into()));
        let many: Vec<_> = (0..=ARTIFACTS_MAX).map(|i| artifact(&format!("r{i}"), "text/plain", "s3://b/r")).collect();
        assert_eq!(field(&many), Some("/artifacts".into()));
    }
}
