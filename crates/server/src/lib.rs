//! HTTP API, configuration and wiring (see ARCHITECTURE.md).
