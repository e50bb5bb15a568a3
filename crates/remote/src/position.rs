//! The position file of a queue: where in the WAL everything before has been accepted by the
//! receiver. One line, `<segment> <offset>\n`, replaced atomically (temporary file, rename).

use std::path::Path;

use panoptes_tsdb::wal::WalPosition;

use crate::error::{Error, Result};

const POSITION_FILE: &str = "position";

/// Returns the position saved in `dir`: `Ok(None)` when there is none (a new queue), an error
/// when the file exists but does not parse.
///
/// # Errors
///
/// Returns an I/O error when the file cannot be read, or [`Error::Io`] of kind `InvalidData`
/// when its content is malformed.
pub fn load_position(dir: &Path) -> Result<Option<WalPosition>> {
    let path = dir.join(POSITION_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(Error::io("read position file", &path)(error)),
    };
    let mut fields = text.split_whitespace();
    let parsed = match (fields.next(), fields.next(), fields.next()) {
        (Some(segment), Some(offset), None) => segment.parse().ok().zip(offset.parse().ok()),
        _ => None,
    };
    match parsed {
        Some((segment, offset)) => Ok(Some(WalPosition { segment, offset })),
        None => Err(Error::io("parse position file", &path)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("expected `<segment> <offset>`, found {text:?}"),
        ))),
    }
}

/// Saves `position` in `dir`, creating the directory if needed. A crash leaves the old or the
/// new position, never a torn file.
///
/// # Errors
///
/// Returns an I/O error when the directory or the file cannot be written.
pub fn save_position(dir: &Path, position: WalPosition) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io("create queue directory", dir))?;
    let path = dir.join(POSITION_FILE);
    let temporary = dir.join(format!("{POSITION_FILE}.tmp"));
    std::fs::write(&temporary, format!("{} {}\n", position.segment, position.offset))
        .map_err(Error::io("write position file", &temporary))?;
    std::fs::rename(&temporary, &path).map_err(Error::io("rename position file", &path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_position(dir.path()).unwrap(), None);
        let position = WalPosition { segment: 7, offset: 12345 };
        save_position(&dir.path().join("q"), position).unwrap();
        assert_eq!(load_position(&dir.path().join("q")).unwrap(), Some(position));
        std::fs::write(dir.path().join("q").join(POSITION_FILE), "7\n").unwrap();
        assert!(load_position(&dir.path().join("q")).is_err());
    }
}
