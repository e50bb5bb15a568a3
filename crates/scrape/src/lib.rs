//! Exposition parsing, relabelling and scraping (see ARCHITECTURE.md).
