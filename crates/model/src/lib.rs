//! The shared vocabulary of Panoptes: labels, matchers, samples, time and error kinds.
//!
//! This crate does no I/O and depends on no other Panoptes crate. Everything that more than one
//! subsystem speaks about (a series' label set, a label matcher, a float sample) lives here.

mod error;
pub mod gofloat;
mod labels;
mod matcher;
mod sample;
mod secret;
pub mod size;
pub mod time;

pub use error::{Classify, ErrorKind, error_chain};
pub use labels::{
    Label, Labels, LabelsBuilder, LabelsError, METRIC_NAME, hash_label_pairs, is_canonical_label_pairs,
    is_valid_label_name, is_valid_legacy_label_name,
};
pub use matcher::{MatchOp, Matcher, MatcherError};
pub use sample::{STALE_NAN_BITS, Sample, is_stale_nan, stale_nan};
pub use secret::Secret;
