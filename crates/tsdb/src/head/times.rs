//! Time columns shared by closed head chunks.
//!
//! Series appended together (the series of one scrape, of one remote-write batch) have the same
//! timestamps, and a closed chunk's timestamps took half its bytes (scrape times jitter by some
//! milliseconds, so their delta-of-deltas cost bits): 100k series kept 100k copies of the same
//! column. A closed head chunk is therefore columnar (docs/format/chunks.md, encoding 3) with
//! its time column in this table, as block chunks share theirs within a chunk file.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::chunkenc::encode_time_owner;

/// A time column: the bytes [`crate::chunkenc::decode_columnar_into`] takes as the owner of a
/// shared column (sample count, inline tag, column).
pub(crate) struct TimeColumn {
    pub(crate) bytes: Box<[u8]>,
}

/// The process' time columns by their bytes. One table for every head in the process: a column
/// is immutable and found by its content, so heads may share one as well as series do.
pub(crate) static TIME_COLUMNS: TimeColumns = TimeColumns::new();

/// Columns no chunk uses any more are dropped when the table has doubled since the last sweep.
pub(crate) struct TimeColumns {
    table: Mutex<Table>,
}

struct Table {
    /// `None` until the first column; a `HashMap` cannot be built in a `const`.
    columns: Option<HashMap<Box<[u8]>, Arc<TimeColumn>>>,
    /// Live columns after the last sweep.
    swept_len: usize,
}

impl TimeColumns {
    const fn new() -> Self {
        Self { table: Mutex::new(Table { columns: None, swept_len: 0 }) }
    }

    /// Returns the shared column with the timestamps `times` (sorted, at most `u16::MAX`),
    /// adding it when no chunk has it.
    pub(crate) fn intern(&self, times: &[i64]) -> Arc<TimeColumn> {
        let bytes = encode_time_owner(times);
        let mut table = self.table.lock();
        let Table { columns, swept_len } = &mut *table;
        let columns = columns.get_or_insert_with(HashMap::new);
        if let Some(column) = columns.get(bytes.as_slice()) {
            return column.clone();
        }
        if columns.len() >= 2 * *swept_len + 64 {
            // Only the table holds a column no chunk uses, and new holders come only from here,
            // under this lock.
            columns.retain(|_, column| Arc::strong_count(column) > 1);
            *swept_len = columns.len();
        }
        let column = Arc::new(TimeColumn { bytes: bytes.clone().into_boxed_slice() });
        columns.insert(bytes.into_boxed_slice(), column.clone());
        column
    }

    /// Returns the number of columns in the table (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.lock().columns.as_ref().map_or(0, HashMap::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_columns_are_one_and_unused_ones_are_swept() {
        let table = TimeColumns::new();
        let a = table.intern(&[1_000, 11_000, 21_003]);
        let b = table.intern(&[1_000, 11_000, 21_003]);
        assert!(Arc::ptr_eq(&a, &b), "the same timestamps share one column");
        let other = table.intern(&[1_000, 11_000, 21_004]);
        assert!(!Arc::ptr_eq(&a, &other));
        drop(other);
        // Enough new columns to pass the sweep bound: the unused ones go, the held one stays.
        let held: Vec<Arc<TimeColumn>> = (0..100).map(|i| table.intern(&[i, i + 10])).collect();
        drop(held);
        for i in 0..100 {
            let _ = table.intern(&[5_000 + i]);
        }
        assert!(table.len() < 150, "{} columns kept", table.len());
        assert!(Arc::ptr_eq(&a, &table.intern(&[1_000, 11_000, 21_003])), "a used column is never swept");
    }
}
