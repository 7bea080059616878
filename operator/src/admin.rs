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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn probes_and_metrics() {
        let metrics = Arc::new(Metrics::default());
        metrics.reconciles.with_label_values(&["ok"]).inc();
        let ready = Arc::new(AtomicBool::new(false));
        let r = routes(metrics, ready.clone());
        let get = |path: &'static str| warp::test::request().method("GET").path(path).reply(&r);
        assert_eq!(get("/healthz").await.status(), 200);
        assert_eq!(get("/readyz").await.status(), 503);
        ready.store(true, Ordering::Release);
        assert_eq!(get("/readyz").await.status(), 200);
        let m = get("/metrics").await;
        let body = String::from_utf8(m.body().to_vec()).unwrap();
        assert!(
            body.contains("shoal_operator_reconciliations_total{result=\"ok\"} 1"),
            "{body}"
        );
        assert!(body.contains("shoal_operator_reconcile_duration_seconds"));
        assert!(body.contains("shoal_operator_leader 0"));
    }
}
