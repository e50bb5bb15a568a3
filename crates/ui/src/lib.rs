//! The web UI embedded in the binary: the files Vite built from `web/` (committed in
//! `crates/ui/dist`, checked against their sources by `scripts/check-ui-assets`), served from
//! memory with ETags, gzip when the client accepts it, long caching for content-hashed assets,
//! and `index.html` for the client-side routes. Never answers for the server's own namespaces
//! (`/api/`, `/-/`, `/metrics`, `/federate`, …), which keep their 404s.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
struct Asset {
    /// The URL path, starting with `/`.
    path: &'static str,
    body: &'static [u8],
    /// The gzip-compressed body, when that is smaller.
    gzip: Option<&'static [u8]>,
    content_type: &'static str,
    etag: &'static str,
}

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Path prefixes that belong to the server: the UI never serves `index.html` for them.
const RESERVED_PREFIXES: &[&str] =
    &["/api/", "/-/", "/metrics", "/federate", "/pushgateway", "/write", "/ping", "/query", "/debug/"];

/// Returns a router that serves the UI as the fallback of whatever it is merged with, so that
/// every route the server declares keeps precedence.
pub fn router() -> Router {
    Router::new().fallback(serve)
}

/// Returns true when the UI was built into this binary (false when `dist/` was empty at build time).
pub fn is_embedded() -> bool {
    find("/index.html").is_some()
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

fn is_reserved(path: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|prefix| path == prefix.trim_end_matches('/') || path.starts_with(prefix))
}

async fn serve(request: Request<Body>) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let path = request.uri().path();
    let asset = match find(path) {
        Some(asset) => asset,
        // A path with an extension is a missing file, not a client route.
        None if is_reserved(path) || path.rsplit('/').next().is_some_and(|last| last.contains('.')) => {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        }
        None => match find("/index.html") {
            Some(index) => index,
            None => return (StatusCode::NOT_FOUND, "the web UI was not built into this binary\n").into_response(),
        },
    };
    respond(asset, request.headers(), request.method() == Method::HEAD)
}

fn respond(asset: &'static Asset, headers: &HeaderMap, head_only: bool) -> Response {
    // Vite names assets under /assets/ by content hash: they never change, cache them for a year.
    // index.html must be revalidated so that a new binary's UI is picked up at once.
    let cache = if asset.path.starts_with("/assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, asset.content_type)
        .header(header::ETAG, asset.etag)
        .header(header::CACHE_CONTROL, cache)
        .header(header::VARY, "Accept-Encoding");
    if headers.get(header::IF_NONE_MATCH).is_some_and(|tag| tag.as_bytes() == asset.etag.as_bytes()) {
        return response
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    let accepts_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|coding| coding.trim().split(';').next() == Some("gzip")));
    let body = match asset.gzip {
        Some(gzip) if accepts_gzip => {
            response = response.header(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            gzip
        }
        _ => asset.body,
    };
    response = response.header(header::CONTENT_LENGTH, body.len());
    let body = if head_only { Body::empty() } else { Body::from(body) };
    response.status(StatusCode::OK).body(body).unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::builder().uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        router().oneshot(request.body(Body::empty()).expect("request")).await.expect("infallible")
    }

    async fn text(response: Response) -> String {
        String::from_utf8(response.into_body().collect().await.expect("body").to_bytes().to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn client_routes_fall_back_to_index_html() {
        assert!(is_embedded(), "crates/ui/dist must hold the built UI");
        for path in ["/", "/explore", "/d/abc/some-slug", "/dashboard/import", "/status"] {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
            assert!(text(response).await.contains("<div id=\"app\">"), "{path}");
        }
    }

    #[tokio::test]
    async fn server_namespaces_and_missing_files_are_not_shadowed() {
        for path in ["/api/v1/nope", "/api", "/-/nope", "/metrics", "/federate", "/assets/missing.js", "/favicon.ico"] {
            assert_eq!(get(path, &[]).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[tokio::test]
    async fn hashed_assets_are_cached_compressed_and_revalidated() {
        let script = ASSETS.iter().find(|a| a.path.ends_with(".js")).expect("a built script");
        let plain = get(script.path, &[]).await;
        assert_eq!(plain.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert!(plain.headers()[header::CACHE_CONTROL].to_str().expect("ascii").contains("immutable"));
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let gzipped = get(script.path, &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
        let not_modified = get(script.path, &[("if-none-match", script.etag)]).await;
        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn other_methods_are_not_answered_with_the_ui() {
        let request = Request::builder().method(Method::POST).uri("/explore").body(Body::empty()).expect("request");
        assert_eq!(router().oneshot(request).await.expect("infallible").status(), StatusCode::NOT_FOUND);
    }
}
