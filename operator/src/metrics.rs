//! Operator metrics, served on `/metrics` of the admin port.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

pub struct Metrics {
    pub registry: Registry,
    pub reconciles: IntCounterVec,
    pub reconcile_duration: Histogram,
    pub errors: IntCounterVec,
    pub leader: IntGauge,
    pub failovers: IntCounterVec,
    pub failover_errors: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new(
                "shoal_operator_reconciliations_total",
                "Reconciliations, by result (ok or error).",
            ),
            &["result"],
        )
        .expect("valid metric");
        let reconcile_duration = Histogram::with_opts(
            HistogramOpts::new(
                "shoal_operator_reconcile_duration_seconds",
                "Time to reconcile one CacheCluster.",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new(
                "shoal_operator_reconcile_errors_total",
                "Failed reconciliations, by reason.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let leader = IntGauge::new(
            "shoal_operator_leader",
            "1 while this replica holds the leader Lease.",
        )
        .expect("valid metric");
        let failovers = IntCounterVec::new(
            Opts::new(
                "shoal_operator_failovers_total",
                "Replicas promoted, by reason (PrimaryDown, PrimaryLostData, Requested).",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let failover_errors = IntCounterVec::new(
            Opts::new(
                "shoal_operator_failover_errors_total",
                "Failover rounds that failed, by reason.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(failovers.clone()))
            .expect("unique");
        registry
            .register(Box::new(failover_errors.clone()))
            .expect("unique");
        registry
            .register(Box::new(reconciles.clone()))
            .expect("unique");
        registry
            .register(Box::new(reconcile_duration.clone()))
            .expect("unique");
        registry.register(Box::new(errors.clone())).expect("unique");
        registry.register(Box::new(leader.clone())).expect("unique");
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("unique");
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            errors,
            leader,
            failovers,
            failover_errors,
        }
    }
}

impl Metrics {
    pub fn render(&self) -> String {
        shoal_node::metrics::render(&self.registry)
    }
}
