//! The consultation designer: `smpsim serve`, a local web app over this library.
//!
//! The practitioner opens the client's photo in a browser, clicks the hairline into place, paints density and
//! exclusions, tries shades, sessions and years, and sees a downscaled preview re-rendered on every change;
//! exports are rendered at full resolution. Every render goes through the files the page exports (a design
//! file and a settings file, plus density and exclusion masks when painted), parsed exactly as `smpsim render`
//! parses them, so a design made here re-runs from the command line (or in a `batch`) to the same bytes.
//!
//! Privacy: photos are medical personal data. They stay in this process's memory (never written to disk),
//! each under an unguessable session id that only the page that uploaded it knows; a session is dropped when
//! its page closes, after [`Options::idle`] without use, or when the server stops. The server binds to
//! loopback unless told otherwise, answers only requests addressed to the host it listens on (no DNS
//! rebinding), opens no file named by a request, and serves its page from the binary with a strict CSP.

mod session;
mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub use session::{Brush, Session};
pub use state::{DesignState, Export, Exported};

/// How the designer runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Address to listen on. Default: 127.0.0.1:8470 (loopback: only this computer can connect).
    pub addr: SocketAddr,
    /// Largest photo upload, bytes. Default: 64 MB.
    pub max_upload_bytes: usize,
    /// Most photos held at once (each is kept decoded in memory). Default: 8.
    pub max_sessions: usize,
    /// A photo not used for this long is dropped. Default: 30 minutes.
    pub idle: Duration,
    /// Longest side of the live preview, pixels. Default: 1600.
    pub preview_side: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            addr: SocketAddr::from(([127, 0, 0, 1], 8470)),
            max_upload_bytes: 64 << 20,
            max_sessions: 8,
            idle: Duration::from_secs(30 * 60),
            preview_side: 1600,
        }
    }
}

/// Largest painted mask upload (a PNG of the preview's size), bytes.
const MAX_BRUSH_BYTES: usize = 16 << 20;

/// What every request handler shares.
#[derive(Clone)]
struct App {
    sessions: Arc<Mutex<HashMap<String, Arc<Mutex<Session>>>>>,
    options: Arc<Options>,
    /// The `Host` header values this server answers (its own address, and `localhost` on loopback).
    hosts: Arc<Vec<String>>,
}

/// Serves the designer until Ctrl-C (or SIGTERM), calling `ready` with the bound address once it listens
/// (port 0 in `options.addr` picks a free port). Blocks the calling thread.
pub fn run(options: Options, ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(options.addr).await?;
        let addr = listener.local_addr()?;
        let app = App {
            sessions: Arc::default(),
            hosts: Arc::new(host_names(addr)),
            options: Arc::new(options),
        };
        tokio::spawn(expire_idle(app.clone()));
        ready(addr);
        axum::serve(listener, router(app))
            .with_graceful_shutdown(shutdown_signal())
            .await
    })
}

/// The routes. Anything else — including any path that looks like a file — is 404: nothing is read from disk.
fn router(app: App) -> Router {
    let upload_limit = app.options.max_upload_bytes;
    Router::new()
        .route("/", get(page))
        .route("/app.js", get(script))
        .route("/app.css", get(style))
        // Browsers ask for it unprompted; an empty answer keeps their consoles clean.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/api/photos",
            post(upload).layer(DefaultBodyLimit::max(upload_limit.saturating_add(1))),
        )
        .route("/api/limits", get(limits))
        .route("/api/photos/{id}", delete(close))
        // `navigator.sendBeacon` can only POST: the page's last word when it closes.
        .route("/api/photos/{id}/close", post(close))
        .route("/api/photos/{id}/before", get(before))
        .route(
            "/api/photos/{id}/brush/{which}",
            post(set_brush)
                .delete(clear_brush)
                .layer(DefaultBodyLimit::max(MAX_BRUSH_BYTES + 1)),
        )
        .route("/api/photos/{id}/preview", post(preview))
        .route("/api/photos/{id}/export", post(export))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// The `Host` values a browser sends to this address.
fn host_names(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut hosts = vec![addr.to_string()];
    if addr.ip().is_loopback() {
        hosts.push(format!("localhost:{port}"));
        hosts.push(format!("127.0.0.1:{port}"));
        hosts.push(format!("[::1]:{port}"));
    }
    hosts
}

/// Refuses requests addressed to another host name (a DNS-rebinding page would send its own), and adds the
/// headers every response carries: no caching of client photos, no sniffing, no framing.
async fn guard(State(app): State<App>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let listening_everywhere = app.options.addr.ip().is_unspecified();
    if !listening_everywhere && !app.hosts.iter().any(|h| h == host) {
        return ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!("this server does not answer for host {host:?}"),
        )
        .into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Waits for Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Drops photos not used for `options.idle`, checking every 30 seconds (or twice per `idle` if shorter).
async fn expire_idle(app: App) {
    let idle = app.options.idle;
    let mut tick = tokio::time::interval((idle / 2).clamp(Duration::from_millis(50), Duration::from_secs(30)));
    loop {
        tick.tick().await;
        let mut sessions = app.sessions.lock().expect("sessions lock");
        sessions.retain(|_, s| s.lock().map(|s| s.last_used.elapsed() < idle).unwrap_or(false));
    }
}

/// An error for the page: a status and a message it shows as it is.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// A library error: the user's input (400) unless it is a file or encoding problem on our side.
    fn from_library(e: crate::Error) -> Self {
        let status = match e {
            crate::Error::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    }

    fn no_session() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "this photo is no longer open (closed, or unused for too long): load it again",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

async fn page() -> Response {
    let csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
               connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, csp),
        ],
        include_str!("serve/page.html"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("serve/app.js"),
    )
        .into_response()
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("serve/app.css"),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not found")
}

/// GET /api/limits — what the page checks before sending a photo (a browser cut off mid-upload would only say
/// "failed to fetch").
async fn limits(State(app): State<App>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "max_upload_bytes": app.options.max_upload_bytes }))
}

/// The body of an upload, or a message that says why it was refused.
fn body_or_error(body: Result<Bytes, BytesRejection>, limit: usize, what: &str) -> ApiResult<Bytes> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{what} is larger than the {} MB this server accepts", limit >> 20),
            )
        } else {
            ApiError::new(e.status(), format!("{what} could not be read: {e}"))
        }
    })?;
    if body.len() > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what} is larger than the {} MB this server accepts", limit >> 20),
        ));
    }
    Ok(body)
}

/// POST /api/photos — the photo's bytes as the body, its file name (for error messages and download names)
/// in `X-File-Name`. Answers `{id, name, width, height, preview_width, preview_height}`.
async fn upload(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let bytes = body_or_error(body, app.options.max_upload_bytes, "the photo")?;
    let file_name = headers
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .map(session::percent_decode)
        .unwrap_or_else(|| "photo".into());
    if app.sessions.lock().expect("sessions lock").len() >= app.options.max_sessions {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} photos are open already, the most this server holds: close another tab first",
                app.options.max_sessions
            ),
        ));
    }
    let preview_side = app.options.preview_side;
    let session = tokio::task::spawn_blocking(move || Session::open(&bytes, &file_name, preview_side))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| match e {
            crate::Error::BadFile { .. } | crate::Error::Image { .. } => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, e.to_string())
            }
            e => ApiError::from_library(e),
        })?;
    let id = session::new_id().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let summary = session.summary(&id);
    app.sessions
        .lock()
        .expect("sessions lock")
        .insert(id, Arc::new(Mutex::new(session)));
    Ok(Json(summary).into_response())
}

/// The session `id`, marked as used now.
fn session(app: &App, id: &str) -> ApiResult<Arc<Mutex<Session>>> {
    let found = app.sessions.lock().expect("sessions lock").get(id).cloned();
    let session = found.ok_or_else(ApiError::no_session)?;
    session.lock().expect("session lock").last_used = Instant::now();
    Ok(session)
}

/// DELETE /api/photos/{id} (or POST …/close): forget the photo now.
async fn close(State(app): State<App>, UrlPath(id): UrlPath<String>) -> StatusCode {
    app.sessions.lock().expect("sessions lock").remove(&id);
    StatusCode::NO_CONTENT
}

/// GET /api/photos/{id}/before — the preview-sized photo as JPEG.
async fn before(State(app): State<App>, UrlPath(id): UrlPath<String>) -> ApiResult<Response> {
    let session = session(&app, &id)?;
    let jpeg = session.lock().expect("session lock").before_jpeg.clone();
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response())
}

/// POST /api/photos/{id}/brush/{density|exclude} — a painted mask at the preview's size (PNG).
async fn set_brush(
    State(app): State<App>,
    UrlPath((id, which)): UrlPath<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<StatusCode> {
    let which = session::Brush::parse(&which).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such brush"))?;
    let bytes = body_or_error(body, MAX_BRUSH_BYTES, "the painted mask")?;
    let session = session(&app, &id)?;
    let mut s = session.lock().expect("session lock");
    s.set_brush(which, &bytes).map_err(ApiError::from_library)?;
    Ok(StatusCode::NO_CONTENT)
}

/// DELETE /api/photos/{id}/brush/{density|exclude} — clear a painted mask.
async fn clear_brush(State(app): State<App>, UrlPath((id, which)): UrlPath<(String, String)>) -> ApiResult<StatusCode> {
    let which = session::Brush::parse(&which).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such brush"))?;
    let session = session(&app, &id)?;
    session.lock().expect("session lock").clear_brush(which);
    Ok(StatusCode::NO_CONTENT)
}

/// POST /api/photos/{id}/preview — the design as JSON ([`DesignState`]); answers the preview-sized after
/// image as JPEG, with the render's figures in `X-Smpsim-Stats`.
async fn preview(
    State(app): State<App>,
    UrlPath(id): UrlPath<String>,
    Json(state): Json<DesignState>,
) -> ApiResult<Response> {
    let session = session(&app, &id)?;
    let job = session.lock().expect("session lock").preview_job();
    let (jpeg, stats) = tokio::task::spawn_blocking(move || job.run(&state))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::from_library)?;
    let mut response = ([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response();
    if let Ok(v) = HeaderValue::from_str(&stats) {
        response.headers_mut().insert("x-smpsim-stats", v);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct ExportQuery {
    what: String,
}

/// POST /api/photos/{id}/export?what=… — a download at full resolution (see [`Export`]).
async fn export(
    State(app): State<App>,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<ExportQuery>,
    Json(state): Json<DesignState>,
) -> ApiResult<Response> {
    let what = Export::parse(&query.what)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, format!("unknown export {:?}", query.what)))?;
    let session = session(&app, &id)?;
    let job = session.lock().expect("session lock").export_job();
    let file = tokio::task::spawn_blocking(move || job.run(&state, what))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::from_library)?;
    let disposition = format!("attachment; filename=\"{}\"", file.name);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(file.mime)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        file.bytes,
    )
        .into_response())
}
