//! Errors as `application/problem+json` (RFC 9457), each with a stable machine `code`.

use app::CommandError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use commands::RejectionKind;
use serde_json::{Map, Value, json};

/// An error response: status, code, human text, and extension members.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub extensions: Map<String, Value>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem { status, code, title, detail: detail.into(), extensions: Map::new() }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Problem {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    pub fn malformed(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "malformed_request", "The request is malformed", detail)
    }

    pub fn invalid_field(path: &str, message: &str) -> Problem {
        Problem::invalid(&commands::FieldError::new(path, message))
    }

    /// A payload field outside its schema or its bounds, with the field's JSON pointer.
    pub fn invalid(error: &commands::FieldError) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, error.code, "The payload does not match its schema", error.to_string())
            .with("field", error.path.as_str())
    }

    /// A body over `limit` bytes.
    pub fn body_too_large(limit: usize) -> Problem {
        let detail = format!("the body may be at most {limit} bytes");
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "The request body is too large", detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", "A valid bearer token is required", detail)
    }

    pub fn conflict(current_version: i64) -> Problem {
        Problem::new(
            StatusCode::CONFLICT,
            "version_conflict",
            "The aggregate has changed",
            format!("the aggregate is at version {current_version}; reload it and retry"),
        )
        .with("current_version", current_version)
    }

    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "log_unavailable", "The event log is unavailable", detail)
    }

    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "type": format!("urn:oxbow:problem:{}", self.code),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        let object = body.as_object_mut().expect("a JSON object");
        for (key, value) in &self.extensions {
            object.insert(key.clone(), value.clone());
        }
        body
    }
}

impl From<CommandError> for Problem {
    fn from(error: CommandError) -> Problem {
        let detail = error.to_string();
        match error {
            CommandError::Rejected { kind, code, version, .. } => match kind {
                RejectionKind::NotFound => Problem::new(StatusCode::NOT_FOUND, code, "Not found", detail),
                RejectionKind::AlreadyExists => {
                    Problem::new(StatusCode::CONFLICT, code, "Already exists", detail).with("current_version", version)
                }
                RejectionKind::Forbidden if code == "internal_command" => {
                    Problem::new(StatusCode::FORBIDDEN, code, "Only Oxbow's run saga sends this command", detail)
                }
                RejectionKind::Forbidden => Problem::new(StatusCode::FORBIDDEN, code, "Forbidden", detail),
                RejectionKind::Invalid => Problem::new(StatusCode::BAD_REQUEST, code, "The command is invalid", detail),
                RejectionKind::TooLarge => {
                    Problem::new(StatusCode::PAYLOAD_TOO_LARGE, code, "An event would be too large", detail)
                }
                RejectionKind::RuleViolated => {
                    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, "A business rule refused the command", detail)
                        .with("rule", code)
                }
            },
            CommandError::Conflict { current } => Problem::conflict(current),
            CommandError::IdempotencyKeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "The idempotency key was used with another request",
                detail,
            ),
            CommandError::Unavailable(reason) => Problem::unavailable(reason),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.to_json().to_string()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        // A refusal that says when to come back says it in the header too, for clients and
        // proxies that read only that.
        if let Some(ms) = self.extensions.get("retry_after_ms").and_then(Value::as_u64) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(ms.div_ceil(1000).max(1)));
        }
        response
    }
}
