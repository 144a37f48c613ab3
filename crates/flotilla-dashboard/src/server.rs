//! The live dashboard's web server (the `server` feature).
//!
//! [`Dashboard::serve`] binds its address at once (so a taken port is an
//! error to the caller, not a log line) and serves from a thread of its
//! own, on a single-threaded tokio runtime, so that it takes nothing from
//! the workers:
//!
//! * `GET /` — the page: workers, progress per kind, the task stream, the
//!   graph's shape, updated live;
//! * `GET /events` — server-sent events: a [`View`] as JSON every half
//!   second (`?window=SECONDS` sets the stream's window, default 10);
//! * `GET /api/view` — one [`View`] as JSON;
//! * `GET /metrics` — [Prometheus metrics](crate::metrics).
//!
//! Each request asks the [`Source`] for what it knows now; nothing is
//! computed between requests. Dropping the [`Dashboard`] stops the server.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::live::{Source, View};

/// The page, with its style and script inline.
const PAGE: &str = include_str!("page.html");

/// How often `/events` sends a view.
const UPDATE_EVERY: Duration = Duration::from_millis(500);

/// The stream's window when the page does not ask for one.
const DEFAULT_WINDOW_NS: u64 = 10_000_000_000;

/// Why a dashboard could not be served.
///
/// ```
/// let e = flotilla_dashboard::DashboardError::Bind {
///     addr: "127.0.0.1:1".into(),
///     source: std::io::Error::other("taken"),
/// };
/// assert!(e.to_string().contains("127.0.0.1:1"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DashboardError {
    /// The address could not be listened on (taken, not local, malformed).
    #[error("cannot serve the dashboard at {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server's thread or runtime could not start.
    #[error("cannot start the dashboard's server: {0}")]
    Start(#[source] std::io::Error),
}

/// A live dashboard being served; dropping it stops the server.
///
/// ```
/// use std::sync::Arc;
/// use flotilla_dashboard::live::{Live, Source};
/// use flotilla_dashboard::Dashboard;
///
/// struct Empty;
/// impl Source for Empty {
///     fn live(&self) -> Live { Live::default() }
/// }
/// let dashboard = Dashboard::serve("127.0.0.1:0", Arc::new(Empty)).unwrap();
/// assert!(dashboard.url().starts_with("http://127.0.0.1:"));
/// ```
#[derive(Debug)]
pub struct Dashboard {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Dashboard {
    /// Serves `source`'s dashboard at `addr` (`host:port`; port 0 picks a
    /// free one, see [`Dashboard::addr`]).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # struct Empty;
    /// # impl flotilla_dashboard::live::Source for Empty {
    /// #     fn live(&self) -> flotilla_dashboard::live::Live { Default::default() }
    /// # }
    /// let err = flotilla_dashboard::Dashboard::serve("not an address", Arc::new(Empty)).unwrap_err();
    /// assert!(err.to_string().contains("not an address"));
    /// ```
    pub fn serve(addr: &str, source: Arc<dyn Source>) -> Result<Dashboard, DashboardError> {
        let bind_error = |source| DashboardError::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(DashboardError::Start)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/", get(page))
            .route("/events", get(events))
            .route("/api/view", get(view))
            .route("/metrics", get(metrics))
            .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
            .with_state(source);
        let thread = std::thread::Builder::new()
            .name("flotilla-dashboard".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    // Stopping drops the runtime and with it every open
                    // connection: event streams never end by themselves.
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stopped => {}
                    }
                });
            })
            .map_err(DashboardError::Start)?;
        Ok(Dashboard {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address served.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # struct Empty;
    /// # impl flotilla_dashboard::live::Source for Empty {
    /// #     fn live(&self) -> flotilla_dashboard::live::Live { Default::default() }
    /// # }
    /// let d = flotilla_dashboard::Dashboard::serve("127.0.0.1:0", Arc::new(Empty)).unwrap();
    /// assert_ne!(d.addr().port(), 0);
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address, `http://host:port/`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # struct Empty;
    /// # impl flotilla_dashboard::live::Source for Empty {
    /// #     fn live(&self) -> flotilla_dashboard::live::Live { Default::default() }
    /// # }
    /// let d = flotilla_dashboard::Dashboard::serve("127.0.0.1:0", Arc::new(Empty)).unwrap();
    /// assert!(d.url().ends_with('/'));
    /// ```
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The window asked for in `?window=SECONDS`, or the default.
fn window(query: Option<String>) -> u64 {
    query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("window="))
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_WINDOW_NS, |s| (s * 1e9) as u64)
}

fn view_json(source: &dyn Source, window_ns: u64) -> String {
    let view = View::build(&source.live(), window_ns);
    serde_json::to_string(&view).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response()
}

async fn view(State(source): State<Arc<dyn Source>>, RawQuery(query): RawQuery) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        view_json(&*source, window(query)),
    )
        .into_response()
}

async fn metrics(State(source): State<Arc<dyn Source>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&source.live()),
    )
        .into_response()
}

async fn events(State(source): State<Arc<dyn Source>>, RawQuery(query): RawQuery) -> Response {
    let window_ns = window(query);
    let stream = futures_util::stream::unfold(true, move |first| {
        let source = Arc::clone(&source);
        async move {
            if !first {
                tokio::time::sleep(UPDATE_EVERY).await;
            }
            let event = format!("data: {}\n\n", view_json(&*source, window_ns));
            Some((Ok::<_, Infallible>(event), false))
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_read_from_the_query_or_defaults() {
        assert_eq!(window(None), DEFAULT_WINDOW_NS);
        assert_eq!(window(Some("window=2.5".into())), 2_500_000_000);
        assert_eq!(window(Some("x=1&window=-3".into())), DEFAULT_WINDOW_NS);
        assert_eq!(window(Some("window=NaN".into())), DEFAULT_WINDOW_NS);
    }
}
