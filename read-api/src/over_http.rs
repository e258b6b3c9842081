//! GraphQL over HTTP, as the working group's specification has it: what a request may look like
//! (`POST` with `application/json`, or `GET` with the parameters in the URL, queries only), which
//! media type answers it, and which status code.
//!
//! A client that accepts `application/graphql-response+json` hears of a request error (the
//! document does not parse, does not validate, or its variables do not fit) as a 400 whose body
//! has no `data`; one that accepts only `application/json` gets those as a 200, as clients
//! written before the specification expect. Errors while executing are 200 either way.

use std::collections::HashMap;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type an answer is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: status codes say what went wrong.
    GraphQLResponse,
    /// `application/json`: every well-formed request is answered 200.
    Json,
}

impl MediaType {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }
}

/// The media type the client accepts, preferring the specification's; `None` when it accepts
/// neither (406). No `Accept` header at all means `application/json`.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let accepted: Vec<String> = accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next()?.to_ascii_lowercase();
            // `q=0` says "not this one".
            let refused = parts.any(|parameter| parameter.replace(' ', "") == "q=0");
            (!refused).then_some(media)
        })
        .collect();
    let accepts = |media: &str| accepted.iter().any(|item| item == media);
    if accepts(GRAPHQL_RESPONSE_JSON) {
        Some(MediaType::GraphQLResponse)
    } else if accepts(JSON) || accepts("application/*") || accepts("*/*") {
        Some(MediaType::Json)
    } else {
        None
    }
}

/// Whether the client is a browser asking for a page (GraphiQL).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|item| item.trim().starts_with("text/html")))
}

/// A GraphQL-over-HTTP request's parameters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    pub query: Option<serde_json::Value>,
    #[serde(default)]
    pub operation_name: Option<serde_json::Value>,
    #[serde(default)]
    pub variables: Option<serde_json::Value>,
    #[serde(default)]
    pub extensions: Option<serde_json::Value>,
}

/// Why a request is not one the endpoint can take, before any GraphQL is read.
#[derive(Debug)]
pub enum Refusal {
    /// 400: not a well-formed request (no query, parameters of the wrong type, a body that is
    /// not JSON).
    Malformed(String),
    /// 405: a mutation over GET, which must not change anything.
    MutationOverGet,
    /// 406: the client accepts no media type this endpoint writes.
    NotAcceptable,
    /// 415: a POST body that is not `application/json`.
    UnsupportedMediaType,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Refusal::Malformed(message) => (StatusCode::BAD_REQUEST, message),
            Refusal::MutationOverGet => {
                let message = "mutations are sent with POST; GET runs queries only".to_owned();
                let mut response = refusal(StatusCode::METHOD_NOT_ALLOWED, &message);
                response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
                return response;
            }
            Refusal::NotAcceptable => (
                StatusCode::NOT_ACCEPTABLE,
                format!("this endpoint answers in {GRAPHQL_RESPONSE_JSON} or {JSON}; the Accept header allows neither"),
            ),
            Refusal::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("a POST body must be {JSON}"))
            }
        };
        refusal(status, &message)
    }
}

fn refusal(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]});
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, MediaType::Json.content_type());
    response
}

/// The parameters of a POST: an `application/json` body holding an object.
pub fn post_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, Refusal> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let media = content_type.and_then(|value| value.split(';').next()).map(|media| media.trim().to_ascii_lowercase());
    if media.as_deref() != Some(JSON) {
        return Err(Refusal::UnsupportedMediaType);
    }
    serde_json::from_slice(body).map_err(|error| Refusal::Malformed(format!("the body is not a request: {error}")))
}

/// The parameters of a GET, from its URL; `variables` and `extensions` are JSON text there.
pub fn get_params(query: &HashMap<String, String>) -> Result<Params, Refusal> {
    let json = |name: &str| -> Result<Option<serde_json::Value>, Refusal> {
        match query.get(name) {
            None => Ok(None),
            Some(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|_| Refusal::Malformed(format!("`{name}` must be JSON in a GET request"))),
        }
    };
    Ok(Params {
        query: query.get("query").cloned().map(serde_json::Value::String),
        operation_name: query.get("operationName").cloned().map(serde_json::Value::String),
        variables: json("variables")?,
        extensions: json("extensions")?,
    })
}

/// The parameters as a request for the schema. `over_get` refuses mutations.
pub fn request_of(params: Params, over_get: bool) -> Result<async_graphql::Request, Refusal> {
    let query = match params.query {
        Some(serde_json::Value::String(query)) => query,
        Some(_) => return Err(Refusal::Malformed("`query` must be a string".into())),
        None => return Err(Refusal::Malformed("the request has no `query`".into())),
    };
    let operation_name = match params.operation_name {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(name)) => Some(name),
        Some(_) => return Err(Refusal::Malformed("`operationName` must be a string".into())),
    };
    let variables = match params.variables {
        None | Some(serde_json::Value::Null) => async_graphql::Variables::default(),
        Some(variables @ serde_json::Value::Object(_)) => async_graphql::Variables::from_json(variables),
        Some(_) => return Err(Refusal::Malformed("`variables` must be an object".into())),
    };
    if !matches!(params.extensions, None | Some(serde_json::Value::Null | serde_json::Value::Object(_))) {
        return Err(Refusal::Malformed("`extensions` must be an object".into()));
    }
    if over_get && is_mutation(&query, operation_name.as_deref()) {
        return Err(Refusal::MutationOverGet);
    }
    let mut request = async_graphql::Request::new(query).variables(variables);
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    Ok(request)
}

/// Whether the operation the request would run is a mutation (a document that does not parse
/// is not: the schema reports it).
fn is_mutation(query: &str, operation_name: Option<&str>) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let kind = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| operation.node.ty)
        }
        _ => None,
    };
    kind == Some(OperationType::Mutation)
}

/// The schema's answer in `media`. A request error (nothing executed: the errors have no path
/// and there is no data) has no `data` entry, and is a 400 in the specification's media type.
pub fn respond(media: MediaType, mut response: async_graphql::Response) -> Response {
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty());
    let status = match (request_error, media) {
        (true, MediaType::GraphQLResponse) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| serde_json::json!({}));
    if request_error && let Some(body) = body.as_object_mut() {
        body.remove("data");
    }
    let mut answer = (status, axum::Json(body)).into_response();
    answer.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
    for (name, value) in response.http_headers.drain() {
        if let Some(name) = name {
            answer.headers_mut().insert(name, value);
        }
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(accept: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        headers
    }

    #[test]
    fn the_specifications_media_type_is_preferred_and_json_is_the_default() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(MediaType::Json));
        assert_eq!(negotiate(&accepting("application/json")), Some(MediaType::Json));
        assert_eq!(negotiate(&accepting("*/*")), Some(MediaType::Json));
        assert_eq!(
            negotiate(&accepting("application/json, application/graphql-response+json")),
            Some(MediaType::GraphQLResponse)
        );
        assert_eq!(
            negotiate(&accepting("application/graphql-response+json;q=0, application/json")),
            Some(MediaType::Json)
        );
        assert_eq!(negotiate(&accepting("text/xml")), None);
    }

    #[test]
    fn get_runs_queries_only_and_parameters_have_their_types() {
        let get = |pairs: &[(&str, &str)]| {
            let query: HashMap<String, String> =
                pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
            get_params(&query).and_then(|params| request_of(params, true))
        };
        assert!(get(&[("query", "{ __typename }")]).is_ok());
        assert!(matches!(get(&[("query", "mutation { x }")]), Err(Refusal::MutationOverGet)));
        assert!(matches!(
            get(&[("query", "query A { a } mutation B { b }"), ("operationName", "B")]),
            Err(Refusal::MutationOverGet)
        ));
        assert!(get(&[("query", "query A { a } mutation B { b }"), ("operationName", "A")]).is_ok());
        assert!(matches!(get(&[]), Err(Refusal::Malformed(_))));
        assert!(matches!(get(&[("query", "{ a }"), ("variables", "[1]")]), Err(Refusal::Malformed(_))));
        assert!(matches!(get(&[("query", "{ a }"), ("variables", "{")]), Err(Refusal::Malformed(_))));
    }
}
