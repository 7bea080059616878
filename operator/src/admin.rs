//! The operator's admin HTTP port: `/metrics`, `/healthz`, `/readyz`.

use crate::metrics::Metrics;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use warp::http::StatusCode;
use warp::Filter;

pub fn routes(
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let m = warp::path("metrics").and(warp::path::end()).map(move || {
        warp::reply::with_header(
            metrics.render(),
            "content-type",
            "text/plain; version=0.0.4; charset=utf-8",
        )
    });
    let healthz = warp::path("healthz").and(warp::path::end()).map(|| "ok\n");
    let readyz = warp::path("readyz").and(warp::path::end()).map(move || {
        if ready.load(Ordering::Acquire) {
            warp::reply::with_status("ready\n", StatusCode::OK)
        } else {
            warp::reply::with_status("not ready\n", StatusCode::SERVICE_UNAVAILABLE)
        }
    });
    warp::get().and(m.or(healthz).or(readyz))
}

pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    warp::serve(routes(metrics, ready))
        .incoming(listener)
        .run()
        .await;
    Ok(())
}
