//! Panoptes metrics storage engine (see ARCHITECTURE.md).
