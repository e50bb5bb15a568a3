//! Byte-level helpers shared by the WAL records and the block index: varints and a cursor.

/// Appends `value` as an unsigned LEB128 varint.
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `value` zigzag-encoded as an unsigned varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, value: i64) {
    put_uvarint(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// Appends a length-prefixed string.
pub(crate) fn put_str(out: &mut Vec<u8>, value: &str) {
    put_uvarint(out, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

/// Reads values from a byte slice, remembering where it is; every read returns `None` past the end
/// or on malformed input instead of panicking.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, position: 0 }
    }

    pub(crate) fn at(data: &'a [u8], position: usize) -> Self {
        Self { data, position }
    }

    pub(crate) fn position(&self) -> usize {
        self.position
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.position >= self.data.len()
    }

    pub(crate) fn uvarint(&mut self) -> Option<u64> {
        // Most varints in the WAL and the index (deltas, small ids, lengths) take one byte.
        let first = *self.data.get(self.position)?;
        if first < 0x80 {
            self.position += 1;
            return Some(u64::from(first));
        }
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.data.get(self.position)?;
            self.position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(value);
            }
        }
        None
    }

    pub(crate) fn varint(&mut self) -> Option<i64> {
        let raw = self.uvarint()?;
        Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.position.checked_add(len)?;
        let slice = self.data.get(self.position..end)?;
        self.position = end;
        Some(slice)
    }

    pub(crate) fn str(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.uvarint()?).ok()?;
        std::str::from_utf8(self.bytes(len)?).ok()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }

    pub(crate) fn u32_le(&mut self) -> Option<u32> {
        self.bytes(4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    pub(crate) fn u64_le(&mut self) -> Option<u64> {
        self.bytes(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        let values = [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN, 1_700_000_000_000];
        let mut out = Vec::new();
        for v in values {
            put_varint(&mut out, v);
            put_uvarint(&mut out, v as u64);
        }
        let mut cursor = Cursor::new(&out);
        for v in values {
            assert_eq!(cursor.varint(), Some(v));
            assert_eq!(cursor.uvarint(), Some(v as u64));
        }
        assert!(cursor.is_empty());
        assert_eq!(Cursor::new(&[0x80, 0x80]).uvarint(), None, "truncated varint");
    }
}
