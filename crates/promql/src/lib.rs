//! PromQL engine over the storage traits (see ARCHITECTURE.md).
