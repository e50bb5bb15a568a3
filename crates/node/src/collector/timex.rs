//! `node_timex_*`: the kernel clock's synchronisation state from adjtimex(2) (read only), with
//! node-exporter's names and units.

use super::Context;
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

/// adjtimex's return value when the clock is not synchronised (`TIME_ERROR`).
const TIME_ERROR: i32 = 5;
/// The status bit saying offsets are in nanoseconds rather than microseconds (`STA_NANO`).
const STA_NANO: i32 = 0x2000;
/// Frequencies are parts per million with a 16-bit binary fraction (adjtimex(2), NOTES).
const PPM16FRAC: f64 = 1_000_000.0 * 65_536.0;

/// The fields of `struct timex` the collector reports.
struct Timex {
    synchronised: bool,
    status: i32,
    offset: i64,
    freq: i64,
    maxerror: i64,
    esterror: i64,
    constant: i64,
    tick: i64,
    ppsfreq: i64,
    jitter: i64,
    shift: i32,
    stabil: i64,
    jitcnt: i64,
    calcnt: i64,
    errcnt: i64,
    stbcnt: i64,
    tai: i32,
}

/// Reads the clock state without changing it (`modes` 0).
#[allow(unsafe_code)]
fn read_timex() -> std::io::Result<Timex> {
    // SAFETY: `timex` is a plain C struct for which all-zero bytes are a valid value; with
    // `modes` 0 adjtimex only writes into the struct we own, which outlives the call.
    let (state, buffer) = unsafe {
        let mut buffer: libc::timex = std::mem::zeroed();
        let state = libc::adjtimex(&mut buffer);
        (state, buffer)
    };
    if state < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Timex {
        synchronised: state != TIME_ERROR,
        status: buffer.status,
        offset: buffer.offset,
        freq: buffer.freq,
        maxerror: buffer.maxerror,
        esterror: buffer.esterror,
        constant: buffer.constant,
        tick: buffer.tick,
        ppsfreq: buffer.ppsfreq,
        jitter: buffer.jitter,
        shift: buffer.shift,
        stabil: buffer.stabil,
        jitcnt: buffer.jitcnt,
        calcnt: buffer.calcnt,
        errcnt: buffer.errcnt,
        stbcnt: buffer.stbcnt,
        tai: buffer.tai,
    })
}

pub(super) fn collect(_context: &Context, out: &mut MetricSet) -> Result<()> {
    let timex = read_timex().map_err(|source| match source.kind() {
        std::io::ErrorKind::PermissionDenied => Error::NoData { what: "adjtimex is not permitted".to_owned() },
        _ => Error::Read { path: "adjtimex(2)".into(), source },
    })?;
    emit(&timex, out);
    Ok(())
}

fn emit(timex: &Timex, out: &mut MetricSet) {
    let divisor = if timex.status & STA_NANO != 0 { 1e9 } else { 1e6 };
    let gauges: [(&str, &str, f64); 13] = [
        (
            "sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            if timex.synchronised { 1.0 } else { 0.0 },
        ),
        ("offset_seconds", "Time offset in between local system and reference clock.", timex.offset as f64 / divisor),
        ("frequency_adjustment_ratio", "Local clock frequency adjustment.", 1.0 + timex.freq as f64 / PPM16FRAC),
        ("maxerror_seconds", "Maximum error in seconds.", timex.maxerror as f64 / 1e6),
        ("estimated_error_seconds", "Estimated error in seconds.", timex.esterror as f64 / 1e6),
        ("status", "Value of the status array bits.", f64::from(timex.status)),
        ("loop_time_constant", "Phase-locked loop time constant.", timex.constant as f64),
        ("tick_seconds", "Seconds between clock ticks.", timex.tick as f64 / 1e6),
        ("pps_frequency_hertz", "Pulse per second frequency.", timex.ppsfreq as f64 / PPM16FRAC),
        ("pps_jitter_seconds", "Pulse per second jitter.", timex.jitter as f64 / divisor),
        ("pps_shift_seconds", "Pulse per second interval duration.", f64::from(timex.shift)),
        (
            "pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            timex.stabil as f64 / PPM16FRAC,
        ),
        ("tai_offset_seconds", "International Atomic Time (TAI) offset.", f64::from(timex.tai)),
    ];
    for (name, help, value) in gauges {
        out.gauge(&format!("node_timex_{name}"), help, &[], value);
    }
    let counters: [(&str, &str, i64); 4] = [
        ("pps_jitter_total", "Pulse per second count of jitter limit exceeded events.", timex.jitcnt),
        ("pps_calibration_total", "Pulse per second count of calibration intervals.", timex.calcnt),
        ("pps_error_total", "Pulse per second count of calibration errors.", timex.errcnt),
        ("pps_stability_exceeded_total", "Pulse per second count of stability limit exceeded events.", timex.stbcnt),
    ];
    for (name, help, value) in counters {
        out.counter(&format!("node_timex_{name}"), help, &[], value as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_status_bits() {
        let mut timex = Timex {
            synchronised: true,
            status: 0x2001,
            offset: 1_500_000,
            freq: 65_536 * 10,
            maxerror: 16_000_000,
            esterror: 250,
            constant: 2,
            tick: 10_000,
            ppsfreq: 0,
            jitter: 2_000,
            shift: 4,
            stabil: 0,
            jitcnt: 1,
            calcnt: 2,
            errcnt: 3,
            stbcnt: 4,
            tai: 37,
        };
        let mut out = MetricSet::new();
        emit(&timex, &mut out);
        assert_eq!(out.value("node_timex_offset_seconds", &[]), Some(0.0015));
        assert_eq!(out.value("node_timex_pps_jitter_seconds", &[]), Some(2e-6));
        assert_eq!(out.value("node_timex_frequency_adjustment_ratio", &[]), Some(1.00001));
        assert_eq!(out.value("node_timex_maxerror_seconds", &[]), Some(16.0));
        assert_eq!(out.value("node_timex_tick_seconds", &[]), Some(0.01));
        assert_eq!(out.value("node_timex_sync_status", &[]), Some(1.0));
        assert_eq!(out.value("node_timex_tai_offset_seconds", &[]), Some(37.0));
        assert_eq!(out.value("node_timex_pps_stability_exceeded_total", &[]), Some(4.0));
        // Without STA_NANO offsets are microseconds.
        timex.status = 0x0001;
        timex.synchronised = false;
        let mut out = MetricSet::new();
        emit(&timex, &mut out);
        assert_eq!(out.value("node_timex_offset_seconds", &[]), Some(1.5));
        assert_eq!(out.value("node_timex_sync_status", &[]), Some(0.0));
    }

    #[test]
    fn the_kernel_answers() {
        let timex = read_timex().expect("adjtimex");
        assert!(timex.tick > 0);
    }
}
