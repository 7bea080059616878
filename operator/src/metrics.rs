//! Operator metrics, served on `/metrics` of the admin port.

use prometheus::core::Collector;
use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

pub struct Metrics {
    pub registry: Registry,
    pub reconciles: IntCounterVec,
    pub reconcile_duration: Histogram,
    pub errors: IntCounterVec,
    pub leader: IntGauge,
    pub failovers: IntCounterVec,
    pub failover_errors: IntCounterVec,
    /// Resize documents published, by step; and slots whose move began.
    pub resize_steps: IntCounterVec,
    pub slots_moved: prometheus::IntCounter,
    /// Pods deleted by rollouts.
    pub rollout_replacements: prometheus::IntCounter,
}

fn counter_vec(name: &str, help: &str, label: &str) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric")
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let reconciles = counter_vec(
            "shoal_operator_reconciliations_total",
            "Reconciliations, by result (ok or error).",
            "result",
        );
        let reconcile_duration = Histogram::with_opts(
            HistogramOpts::new(
                "shoal_operator_reconcile_duration_seconds",
                "Time to reconcile one CacheCluster.",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )
        .expect("valid metric");
        let errors = counter_vec(
            "shoal_operator_reconcile_errors_total",
            "Failed reconciliations, by reason.",
            "reason",
        );
        let leader = IntGauge::new(
            "shoal_operator_leader",
            "1 while this replica holds the leader Lease.",
        )
        .expect("valid metric");
        let failovers = counter_vec(
            "shoal_operator_failovers_total",
            "Replicas promoted, by reason (PrimaryDown, PrimaryLostData, Requested, Leaving).",
            "reason",
        );
        let failover_errors = counter_vec(
            "shoal_operator_failover_errors_total",
            "Failover rounds that failed, by reason.",
            "reason",
        );
        let resize_steps = counter_vec(
            "shoal_operator_resize_steps_total",
            "Resize documents published, by step (AddShards, Begin, Cutover, Finish, RemoveShards).",
            "step",
        );
        let slots_moved = prometheus::IntCounter::new(
            "shoal_operator_slots_moved_total",
            "Slots whose move to another shard was started by a resize.",
        )
        .expect("valid metric");
        let rollout_replacements = prometheus::IntCounter::new(
            "shoal_operator_rollout_replacements_total",
            "Pods deleted by rollouts, to come back at their StatefulSet's update revision.",
        )
        .expect("valid metric");
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(rollout_replacements.clone()),
            Box::new(resize_steps.clone()),
            Box::new(slots_moved.clone()),
            Box::new(reconciles.clone()),
            Box::new(reconcile_duration.clone()),
            Box::new(errors.clone()),
            Box::new(leader.clone()),
            Box::new(failovers.clone()),
            Box::new(failover_errors.clone()),
            #[cfg(target_os = "linux")]
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ];
        for c in collectors {
            registry.register(c).expect("unique");
        }
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            errors,
            leader,
            failovers,
            failover_errors,
            resize_steps,
            slots_moved,
            rollout_replacements,
        }
    }
}

impl Metrics {
    pub fn render(&self) -> String {
        shoal_core::metrics::render(&self.registry)
    }
}
