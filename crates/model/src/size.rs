//! Byte sizes written like Prometheus' flags and configuration (Go's `units.Base2Bytes`).

/// Parses a base-2 byte size such as `512MB`, `1GiB`, `1GB512MB` or `0`: every unit (B, KB, MB,
/// GB, TB, PB, EB, or KiB … EiB) is a power of 1024, terms may be chained, and a bare number
/// other than `0` is refused, as Go's `units.ParseBase2Bytes` does.
///
/// # Errors
///
/// Returns a message naming the input when it has no number, an unknown unit or overflows.
pub fn parse_base2_bytes(text: &str) -> Result<u64, String> {
    const UNITS: [(&str, u32); 13] = [
        ("KiB", 1),
        ("MiB", 2),
        ("GiB", 3),
        ("TiB", 4),
        ("PiB", 5),
        ("EiB", 6),
        ("KB", 1),
        ("MB", 2),
        ("GB", 3),
        ("TB", 4),
        ("PB", 5),
        ("EB", 6),
        ("B", 0),
    ];
    let bad = || format!("invalid byte size {text:?}: expected a number and a unit such as 512MB or 1GB");
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err(bad());
    }
    let mut rest = text;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, power) = UNITS.iter().find(|(unit, _)| rest.starts_with(unit)).ok_or_else(bad)?;
        rest = &rest[unit.len()..];
        let part = 1024u64.checked_pow(*power).and_then(|size| size.checked_mul(number)).ok_or_else(bad)?;
        total = total.checked_add(part).ok_or_else(bad)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_base2_sizes_and_refuses_bare_numbers() {
        assert_eq!(parse_base2_bytes("0"), Ok(0));
        assert_eq!(parse_base2_bytes("1KiB"), Ok(1024));
        assert_eq!(parse_base2_bytes("1GB512MB"), Ok((1 << 30) + (512 << 20)));
        assert!(parse_base2_bytes("1024").is_err());
        assert!(parse_base2_bytes("16EB").is_err());
    }
}
