//! GraphiQL, served from the binary itself: no CDN, so it works on a network without internet
//! access. The files are the pinned npm builds in `read-api/graphiql/dist` (made by
//! `scripts/build-graphiql`) and the page that starts them; a strict Content-Security-Policy
//! keeps the page to this origin.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The page's policy: scripts, styles and connections from this origin only (React sets inline
/// styles; GraphiQL's fonts are data URIs).
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                      font-src 'self' data:; img-src 'self' data:; connect-src 'self'; \
                      base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const PAGE: &str = include_str!("../graphiql/index.html");

/// Each file under `graphiql/`: its name, media type and bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    ("graphiql.min.js", "text/javascript; charset=utf-8", include_bytes!("../graphiql/dist/graphiql.min.js")),
    ("graphiql.min.css", "text/css; charset=utf-8", include_bytes!("../graphiql/dist/graphiql.min.css")),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../graphiql/dist/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../graphiql/dist/react-dom.production.min.js"),
    ),
    ("oxbow.js", "text/javascript; charset=utf-8", include_bytes!("../graphiql/oxbow.js")),
    ("oxbow.css", "text/css; charset=utf-8", include_bytes!("../graphiql/oxbow.css")),
    ("LICENSES", "text/plain; charset=utf-8", include_bytes!("../graphiql/dist/LICENSES")),
];

/// The GraphiQL page.
pub fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

/// `GET /graphiql/{file}`.
pub async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, media_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *media_type),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_the_binary_carries() {
        for reference in PAGE.split('"').filter(|part| part.starts_with("graphiql/")) {
            let name = &reference["graphiql/".len()..];
            assert!(FILES.iter().any(|(file, _, _)| *file == name), "{name} is not served");
        }
        assert!(!PAGE.contains("//"), "the page names no other origin");
    }
}
