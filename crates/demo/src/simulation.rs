//! The workload model: user requests enter at the ingress gateway once per simulated second and
//! follow Bookinfo's call graph (gateway → productpage → details and reviews; reviews v2 and v3
//! → ratings), with the reviews weight split and the injected faults of [`TrafficControl`].
//! Every hop becomes one [`RequestEvent`] handed to each [`TrafficObserver`]: the Istio metrics
//! today, access logs and spans later. Time advances in whole one-second ticks from the start,
//! so the events are a function of the seed and the number of ticks only.

use crate::control::TrafficControl;
use crate::rng::SplitMix64;
use crate::topology::{DETAILS, INGRESS, PRODUCTPAGE, RATINGS, REVIEWS_V2, REVIEWS_V3, WORKLOADS, reviews_workload};

/// Length of one tick of simulated time.
pub const TICK_MS: i64 = 1000;

/// The most ticks one advance simulates; after a long pause (a suspended laptop) the
/// simulation skips ahead instead of replaying hours at once.
const MAX_TICKS_PER_ADVANCE: i64 = 600;

/// One request between two workloads, as both sidecars see it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestEvent {
    /// Simulated time of the request's start, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Index in `WORKLOADS` of the caller.
    pub source: usize,
    /// Index in `WORKLOADS` of the callee.
    pub destination: usize,
    /// The HTTP status.
    pub response_code: u16,
    /// Envoy's response flags (`-` when none).
    pub response_flags: &'static str,
    /// Time the destination's sidecar measured, in milliseconds.
    pub duration_ms: f64,
    /// Request size (headers and body), in bytes.
    pub request_bytes: f64,
    /// Response size, in bytes.
    pub response_bytes: f64,
    /// The trace the request belongs to (one per user request), for future trace outputs.
    pub trace_id: u64,
}

/// Consumes the events of the simulation (Istio metrics now; access logs and spans later).
/// Implementations must be cheap: they run under the mesh's lock, once per hop.
pub trait TrafficObserver: Send {
    /// Records one request.
    fn observe(&mut self, event: &RequestEvent);
}

/// The traffic generator.
pub struct Simulation {
    rng: SplitMix64,
    requests_per_second: f64,
    /// Start of the next tick to simulate, in milliseconds since the epoch.
    next_tick_ms: i64,
    /// Events of the tick being simulated, handed to the observers at its end.
    pending: Vec<RequestEvent>,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Simulation")
            .field("requests_per_second", &self.requests_per_second)
            .field("next_tick_ms", &self.next_tick_ms)
            .finish_non_exhaustive()
    }
}

/// What one served request returns to its caller.
struct Served {
    code: u16,
    duration_ms: f64,
    response_bytes: f64,
}

impl Simulation {
    /// Returns a simulation starting at `start_ms` with `requests_per_second` user requests.
    pub fn new(seed: u64, requests_per_second: f64, start_ms: i64) -> Self {
        Self { rng: SplitMix64::new(seed), requests_per_second, next_tick_ms: start_ms, pending: Vec::new() }
    }

    /// Returns the configured user request rate.
    pub fn requests_per_second(&self) -> f64 {
        self.requests_per_second
    }

    /// Simulates every whole tick that ends at or before `now_ms` under `control`, handing each
    /// event to every observer in order.
    pub fn advance_to(&mut self, now_ms: i64, control: &TrafficControl, observers: &mut [&mut dyn TrafficObserver]) {
        let due = (now_ms - self.next_tick_ms) / TICK_MS;
        if due > MAX_TICKS_PER_ADVANCE {
            self.next_tick_ms += (due - MAX_TICKS_PER_ADVANCE) * TICK_MS;
        }
        while self.next_tick_ms + TICK_MS <= now_ms {
            self.tick(control);
            for event in self.pending.drain(..) {
                for observer in observers.iter_mut() {
                    observer.observe(&event);
                }
            }
            self.next_tick_ms += TICK_MS;
        }
    }

    fn tick(&mut self, control: &TrafficControl) {
        // Arrivals vary by ±20% around the rate, rounded randomly so the mean is exact.
        let expected = self.requests_per_second * (0.8 + 0.4 * self.rng.unit());
        let mut count = expected.floor() as u64;
        if self.rng.unit() < expected.fract() {
            count += 1;
        }
        for index in 0..count {
            let offset = (index as f64 / count as f64 * TICK_MS as f64) as i64;
            let trace_id = self.rng.next_u64();
            self.call(INGRESS, PRODUCTPAGE, self.next_tick_ms + offset, trace_id, control);
        }
    }

    /// One hop: `source` calls `destination`, which serves it (and calls its own backends).
    fn call(
        &mut self,
        source: usize,
        destination: usize,
        time_ms: i64,
        trace_id: u64,
        control: &TrafficControl,
    ) -> Served {
        let served = self.serve(destination, time_ms, trace_id, control);
        let request_bytes = self.rng.log_normal(if source == INGRESS { 820.0 } else { 560.0 }, 0.1).round();
        let event = RequestEvent {
            time_ms,
            source,
            destination,
            response_code: served.code,
            response_flags: "-",
            duration_ms: served.duration_ms,
            request_bytes,
            response_bytes: served.response_bytes,
            trace_id,
        };
        self.pending.push(event);
        served
    }

    fn serve(&mut self, workload: usize, time_ms: i64, trace_id: u64, control: &TrafficControl) -> Served {
        let spec = &WORKLOADS[workload];
        let fault = control.fault_of(workload).copied();
        let delay = fault.map_or(0.0, |fault| fault.delay_ms as f64);
        let mut duration = self.rng.log_normal(spec.own_latency_ms, 0.35) + delay;
        if let Some(fault) = fault
            && self.rng.chance_percent(fault.abort_percent)
        {
            // The application fails before calling its backends and answers a short error page.
            return Served { code: fault.abort_code, duration_ms: duration * 0.3, response_bytes: 95.0 };
        }
        let start = time_ms + delay as i64;
        match workload {
            PRODUCTPAGE => {
                duration += self.call(PRODUCTPAGE, DETAILS, start + 1, trace_id, control).duration_ms;
                let version = self.pick_reviews_version(control);
                let backend = reviews_workload(version);
                duration += self.call(PRODUCTPAGE, backend, start + 2, trace_id, control).duration_ms;
            }
            REVIEWS_V2 | REVIEWS_V3 => {
                duration += self.call(workload, RATINGS, start + 1, trace_id, control).duration_ms;
            }
            _ => {}
        }
        let response_bytes = self.rng.log_normal(spec.response_bytes.max(1.0), 0.05).round();
        Served { code: 200, duration_ms: duration, response_bytes }
    }

    fn pick_reviews_version(&mut self, control: &TrafficControl) -> usize {
        let weights = control.reviews.as_array();
        let total: u32 = weights.iter().sum();
        if total == 0 {
            return 0;
        }
        let mut draw = self.rng.unit() * f64::from(total);
        for (index, weight) in weights.iter().enumerate() {
            draw -= f64::from(*weight);
            if draw < 0.0 {
                return index;
            }
        }
        weights.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::control::{Fault, ReviewsWeights};
    use crate::topology::{REVIEWS_V1, workload_index};

    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<RequestEvent>>>);

    impl TrafficObserver for Recorder {
        fn observe(&mut self, event: &RequestEvent) {
            self.0.lock().unwrap().push(event.clone());
        }
    }

    fn run(seed: u64, seconds: i64, control: &TrafficControl) -> Vec<RequestEvent> {
        let mut recorder = Recorder::default();
        let mut simulation = Simulation::new(seed, 20.0, 0);
        simulation.advance_to(seconds * TICK_MS, control, &mut [&mut recorder]);
        recorder.0.lock().unwrap().clone()
    }

    #[test]
    fn traffic_follows_the_call_graph_and_the_weights() {
        let control = TrafficControl::default();
        let events = run(1, 60, &control);
        let count = |source: usize, destination: usize| {
            events.iter().filter(|event| event.source == source && event.destination == destination).count()
        };
        let user_requests = count(INGRESS, PRODUCTPAGE);
        assert!((1000..1400).contains(&user_requests), "{user_requests} requests in 60 s at 20/s");
        assert_eq!(count(PRODUCTPAGE, DETAILS), user_requests);
        let v1 = count(PRODUCTPAGE, REVIEWS_V1);
        let v3 = count(PRODUCTPAGE, REVIEWS_V3);
        assert_eq!(count(PRODUCTPAGE, REVIEWS_V2), 0, "v2 weighs 0");
        assert_eq!(v1 + v3, user_requests);
        assert!((v1 as f64 / user_requests as f64 - 0.5).abs() < 0.06, "v1 {v1} of {user_requests}");
        assert_eq!(count(REVIEWS_V3, RATINGS), v3, "v3 calls ratings, v1 does not");
        assert!(events.iter().all(|event| event.response_code == 200));
        let parent = events.iter().find(|event| event.destination == PRODUCTPAGE).unwrap();
        let children: f64 = events
            .iter()
            .filter(|event| event.trace_id == parent.trace_id && event.source == PRODUCTPAGE)
            .map(|event| event.duration_ms)
            .sum();
        assert!(parent.duration_ms > children, "a caller takes longer than its calls");
    }

    #[test]
    fn same_seed_gives_the_same_events_and_faults_apply() {
        let mut control =
            TrafficControl { reviews: ReviewsWeights { v1: 0, v2: 100, v3: 0 }, ..TrafficControl::default() };
        assert_eq!(run(9, 5, &control), run(9, 5, &control));
        control.set_fault("ratings-v1", Fault { abort_percent: 50.0, abort_code: 503, delay_ms: 0 }).unwrap();
        control.set_fault("reviews-v2", Fault { abort_percent: 0.0, abort_code: 503, delay_ms: 800 }).unwrap();
        let events = run(9, 30, &control);
        let ratings: Vec<_> = events.iter().filter(|event| event.destination == RATINGS).collect();
        let failed = ratings.iter().filter(|event| event.response_code == 503).count();
        assert!((failed as f64 / ratings.len() as f64 - 0.5).abs() < 0.1, "{failed} of {}", ratings.len());
        let reviews_v2 = workload_index("reviews-v2").unwrap();
        assert!(events.iter().filter(|event| event.destination == reviews_v2).all(|event| event.duration_ms >= 800.0));
        assert!(events.iter().filter(|event| event.destination == reviews_v2).all(|event| event.response_code == 200));
    }
}
