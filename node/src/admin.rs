//! The admin HTTP port (warp): `/metrics` for Prometheus, `/healthz` (the process
//! serves HTTP) and `/readyz` (the node accepts clients).

use crate::server::Shared;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use warp::http::StatusCode;
use warp::Filter;

pub fn routes(
    shared: Arc<Shared>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let metrics_state = shared.clone();
    let metrics = warp::path("metrics").and(warp::path::end()).map(move || {
        metrics_state.refresh_metrics();
        warp::reply::with_header(
            metrics_state.metrics.render(),
            "content-type",
            "text/plain; version=0.0.4; charset=utf-8",
        )
    });
    let healthz = warp::path("healthz").and(warp::path::end()).map(|| "ok\n");
    let readyz = warp::path("readyz").and(warp::path::end()).map(move || {
        if shared.is_ready() {
            warp::reply::with_status("ready\n", StatusCode::OK)
        } else {
            warp::reply::with_status("not ready\n", StatusCode::SERVICE_UNAVAILABLE)
        }
    });
    warp::get().and(metrics.or(healthz).or(readyz))
}

pub async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    warp::serve(routes(shared))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}
