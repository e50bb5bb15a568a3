//! Floats printed exactly as Go prints them, because Prometheus' wire formats, APIs and tools
//! are written in Go and their users compare text: `strconv.FormatFloat(v, 'f', -1, 64)` for
//! API values, `'g'` (also what `%v` prints) for the exposition format and templates, `'e'` /
//! `'E'` for rule API values and promtool's output.

/// Formats `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest digits that read back
/// as `v`, never an exponent; `NaN`, `+Inf`, `-Inf`.
pub fn format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() }
    } else {
        format!("{v}")
    }
}

/// Formats `v` as Go's `strconv.FormatFloat(v, 'g', -1, 64)`: the shortest digits, with an
/// exponent (`1.5e+06`, `1e-05`) when the decimal exponent is below -4 or at least 6;
/// `NaN`, `+Inf`, `-Inf`.
pub fn format_g(v: f64) -> String {
    if !v.is_finite() {
        return format_f(v);
    }
    let scientific = format!("{v:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else { return scientific };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if v != 0.0 && !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        format!("{v}")
    }
}

/// Formats `v` as Go's `strconv.FormatFloat(v, 'e', -1, 64)` (`1e+00`, `2.5e-01`), or with
/// `'E'` when `upper` (`3.0000000000000004E+00`); `NaN`, `+Inf`, `-Inf`.
pub fn format_e(v: f64, upper: bool) -> String {
    if !v.is_finite() {
        return format_f(v);
    }
    let scientific = format!("{v:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else { return scientific };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    let letter = if upper { 'E' } else { 'e' };
    format!("{mantissa}{letter}{sign}{:02}", exponent.unsigned_abs())
}

/// Formats `v` as Go's `%.<precision>g` (`fmt.Sprintf("%.4g", v)`): at most `precision`
/// significant digits, trailing zeros removed, an exponent when the decimal exponent is below -4
/// or at least `precision`.
pub fn format_g_precision(v: f64, precision: usize) -> String {
    if !v.is_finite() {
        return format_f(v);
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".to_owned() } else { "0".to_owned() };
    }
    let precision = precision.max(1);
    let scientific = format!("{:.*e}", precision - 1, v);
    let Some((mantissa, exponent)) = scientific.split_once('e') else { return scientific };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let trim = |text: &str| -> String {
        if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text.to_owned() }
    };
    let digits = i32::try_from(precision).unwrap_or(i32::MAX);
    if exponent < -4 || exponent >= digits {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.unsigned_abs())
    } else {
        let decimals = usize::try_from(digits - 1 - exponent).unwrap_or(0);
        trim(&format!("{v:.decimals$}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f_never_uses_an_exponent() {
        assert_eq!(format_f(1e21), "1000000000000000000000");
        assert_eq!(format_f(0.000_012_5), "0.0000125");
        assert_eq!(format_f(-2.5), "-2.5");
        assert_eq!(format_f(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn g_with_a_precision_matches_go() {
        assert_eq!(format_g_precision(1234.5, 4), "1234");
        assert_eq!(format_g_precision(12345.0, 4), "1.234e+04");
        assert_eq!(format_g_precision(0.000_012_345, 4), "1.234e-05");
        assert_eq!(format_g_precision(1.5, 4), "1.5");
        assert_eq!(format_g_precision(0.0, 4), "0");
        assert_eq!(format_g_precision(f64::INFINITY, 4), "+Inf");
    }

    #[test]
    fn e_always_uses_an_exponent() {
        assert_eq!(format_e(1.0, false), "1e+00");
        assert_eq!(format_e(0.25, false), "2.5e-01");
        assert_eq!(format_e(1234.5, false), "1.2345e+03");
        assert_eq!(format_e(60.0, true), "6E+01");
        assert_eq!(format_e(3.0000000000000004, true), "3.0000000000000004E+00");
        assert_eq!(format_e(f64::NAN, true), "NaN");
    }

    #[test]
    fn g_matches_go_exposition_output() {
        // Values as node-exporter (Go) prints them.
        assert_eq!(format_g(1_795_317_288.0), "1.795317288e+09");
        assert_eq!(format_g(14_757_621.0), "1.4757621e+07");
        assert_eq!(format_g(325_109.0), "325109");
        assert_eq!(format_g(2.527_650_201_6e10), "2.5276502016e+10");
        assert_eq!(format_g(1_000_000.0), "1e+06");
        assert_eq!(format_g(3.7), "3.7");
        assert_eq!(format_g(0.0001), "0.0001");
        assert_eq!(format_g(0.000_01), "1e-05");
        assert_eq!(format_g(0.0), "0");
        assert_eq!(format_g(-0.0), "-0");
        assert_eq!(format_g(f64::NAN), "NaN");
    }
}
