//! The run console, served from the binary itself as GraphiQL is: `GET /console` and the files
//! it loads, built by `scripts/build-console` from `read-api/console` and checked in. A strict
//! Content-Security-Policy keeps the page to this origin; the console reads over GraphQL and
//! acts through `/v1/commands`, both here, so no CORS is needed (see the deployment guide).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Scripts, styles and connections from this origin only; no inline script or style at all.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const PAGE: &str = include_str!("../console/index.html");

/// Each file the page loads: its name, media type and bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    ("console.js", "text/javascript; charset=utf-8", include_bytes!("../console/dist/console.js")),
    ("console.css", "text/css; charset=utf-8", include_bytes!("../console/console.css")),
];

/// The headers of every answer: the page and its files are checked again on each load, so a
/// new build is seen at once.
fn secured(media_type: &'static str) -> [(header::HeaderName, &'static str); 5] {
    [
        (header::CONTENT_TYPE, media_type),
        (header::CONTENT_SECURITY_POLICY, POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-cache"),
    ]
}

/// `GET /console`.
pub async fn page() -> Response {
    (secured("text/html; charset=utf-8"), PAGE).into_response()
}

/// `GET /console/{file}`.
pub async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, media_type, bytes)) => (secured(media_type), *bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_the_binary_carries() {
        for reference in PAGE.split('"').filter(|part| part.starts_with("/console/")) {
            let name = &reference["/console/".len()..];
            assert!(FILES.iter().any(|(file, _, _)| *file == name), "{name} is not served");
        }
        assert!(!PAGE.contains("//"), "the page names no other origin");
    }

    /// The checked-in build is the one its checksum names (`scripts/build-console` writes both).
    #[test]
    fn the_built_console_is_the_one_checked_in() {
        use sha2::Digest;
        let sums = include_str!("../console/dist/SHA256SUMS");
        let expected = sums.split_whitespace().next().unwrap();
        let actual = hex::encode(sha2::Sha256::digest(include_bytes!("../console/dist/console.js")));
        assert_eq!(actual, expected, "read-api/console/dist/console.js changed without scripts/build-console");
    }
}
