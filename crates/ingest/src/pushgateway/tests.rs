//! Store semantics tests: grouping, replace and merge, consistency, persistence.
