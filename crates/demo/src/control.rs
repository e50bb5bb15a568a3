//! What the operator changes at run time: the `reviews` VirtualService weight split, faults per
//! workload (a share of requests answered with an error code, a delay) and workloads taken down
//! (their metrics endpoint answers 503, so the target is down). Validated like Istio validates
//! a VirtualService: weights add up to 100, percentages within 0..100.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::topology::{WORKLOADS, workload_index};

/// The longest injected delay.
const MAX_DELAY_MS: u64 = 60_000;

/// A fault injected into one workload.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    /// Share of requests answered with `abort_code`, in percent.
    #[serde(default)]
    pub abort_percent: f64,
    /// The HTTP status of aborted requests.
    #[serde(default = "default_abort_code")]
    pub abort_code: u16,
    /// Delay added to every request, in milliseconds.
    #[serde(default)]
    pub delay_ms: u64,
}

fn default_abort_code() -> u16 {
    503
}

impl Fault {
    /// Checks the ranges.
    ///
    /// # Errors
    ///
    /// `Error::Invalid` naming the field.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=100.0).contains(&self.abort_percent) {
            return Err(Error::Invalid(format!("abortPercent {} must be within 0..100", self.abort_percent)));
        }
        if !(400..=599).contains(&self.abort_code) {
            return Err(Error::Invalid(format!(
                "abortCode {} must be an HTTP error status (400..599)",
                self.abort_code
            )));
        }
        if self.delay_ms > MAX_DELAY_MS {
            return Err(Error::Invalid(format!("delayMs {} must be at most {MAX_DELAY_MS}", self.delay_ms)));
        }
        Ok(())
    }
}

/// The weight split of the `reviews` route, in percent per version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewsWeights {
    /// Weight of reviews-v1.
    #[serde(default)]
    pub v1: u32,
    /// Weight of reviews-v2.
    #[serde(default)]
    pub v2: u32,
    /// Weight of reviews-v3.
    #[serde(default)]
    pub v3: u32,
}

impl Default for ReviewsWeights {
    /// Bookinfo's `virtual-service-reviews-50-v3.yaml`: half to v1, half to v3.
    fn default() -> Self {
        Self { v1: 50, v2: 0, v3: 50 }
    }
}

impl ReviewsWeights {
    /// Returns the weights in version order.
    pub fn as_array(&self) -> [u32; 3] {
        [self.v1, self.v2, self.v3]
    }

    /// Checks that the weights add up to 100, as Istio requires.
    ///
    /// # Errors
    ///
    /// `Error::Invalid` with the sum.
    pub fn validate(&self) -> Result<()> {
        let sum: u32 = self.as_array().iter().sum();
        if sum != 100 {
            return Err(Error::Invalid(format!(
                "reviews weights v1={} v2={} v3={} add up to {sum}, not 100",
                self.v1, self.v2, self.v3
            )));
        }
        Ok(())
    }

    /// Parses `v1=50,v2=0,v3=50` (versions left out weigh 0).
    ///
    /// # Errors
    ///
    /// `Error::Invalid` naming the bad part.
    pub fn parse(text: &str) -> Result<Self> {
        let mut weights = ReviewsWeights { v1: 0, v2: 0, v3: 0 };
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            let (version, weight) =
                part.split_once('=').ok_or_else(|| Error::Invalid(format!("{part:?}: expected VERSION=WEIGHT")))?;
            let weight: u32 =
                weight.trim().parse().map_err(|_| Error::Invalid(format!("{part:?}: weight is not a whole number")))?;
            match version.trim() {
                "v1" => weights.v1 = weight,
                "v2" => weights.v2 = weight,
                "v3" => weights.v3 = weight,
                other => {
                    return Err(Error::Invalid(format!("{part:?}: unknown reviews version {other:?} (v1, v2, v3)")));
                }
            }
        }
        weights.validate()?;
        Ok(weights)
    }
}

/// The run-time settings of the simulation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficControl {
    /// The reviews weight split.
    pub reviews: ReviewsWeights,
    /// Faults by workload name.
    pub faults: BTreeMap<String, Fault>,
    /// Workloads whose metrics endpoint is down.
    pub down: Vec<String>,
}

impl TrafficControl {
    /// Sets (or, with an all-zero fault, clears) the fault of `workload`.
    ///
    /// # Errors
    ///
    /// `Error::UnknownWorkload` or `Error::Invalid`.
    pub fn set_fault(&mut self, workload: &str, fault: Fault) -> Result<()> {
        check_workload(workload)?;
        fault.validate()?;
        if fault.abort_percent == 0.0 && fault.delay_ms == 0 {
            self.faults.remove(workload);
        } else {
            self.faults.insert(workload.to_owned(), fault);
        }
        Ok(())
    }

    /// Marks `workload`'s endpoint up or down.
    ///
    /// # Errors
    ///
    /// `Error::UnknownWorkload`.
    pub fn set_up(&mut self, workload: &str, up: bool) -> Result<()> {
        check_workload(workload)?;
        self.down.retain(|name| name != workload);
        if !up {
            self.down.push(workload.to_owned());
            self.down.sort();
        }
        Ok(())
    }

    /// Returns the fault of the workload at `index`, if any.
    pub(crate) fn fault_of(&self, index: usize) -> Option<&Fault> {
        self.faults.get(WORKLOADS[index].name)
    }

    /// Returns true when the workload's endpoint is down.
    pub fn is_down(&self, workload: &str) -> bool {
        self.down.iter().any(|name| name == workload)
    }
}

fn check_workload(workload: &str) -> Result<()> {
    workload_index(workload).map(|_| ()).ok_or_else(|| Error::UnknownWorkload(workload.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_parse_and_must_add_up_to_100() {
        assert_eq!(ReviewsWeights::parse("v1=20, v3=80").unwrap(), ReviewsWeights { v1: 20, v2: 0, v3: 80 });
        assert_eq!(
            ReviewsWeights::parse("v1=50,v2=10").unwrap_err().to_string(),
            "invalid demo setting: reviews weights v1=50 v2=10 v3=0 add up to 60, not 100"
        );
        assert!(ReviewsWeights::parse("v4=100").unwrap_err().to_string().contains("unknown reviews version"));
    }

    #[test]
    fn faults_are_validated_and_cleared_by_zero() {
        let mut control = TrafficControl::default();
        let fault = Fault { abort_percent: 5.0, abort_code: 503, delay_ms: 0 };
        control.set_fault("ratings-v1", fault).unwrap();
        assert_eq!(control.faults["ratings-v1"], fault);
        assert!(control.set_fault("ratings-v9", fault).is_err());
        assert!(control.set_fault("ratings-v1", Fault { abort_percent: 101.0, ..fault }).is_err());
        control.set_fault("ratings-v1", Fault { abort_percent: 0.0, abort_code: 503, delay_ms: 0 }).unwrap();
        assert!(control.faults.is_empty());
    }
}
