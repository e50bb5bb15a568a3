//! Small file-system helpers with errors that name the path.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// Syncs a directory so that renames and new entries in it survive a power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io("sync directory", dir))
}
