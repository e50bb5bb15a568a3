//! Log output: `tracing` events to stderr as logfmt or JSON, filtered by `--log.level`.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::{LogFormat, LogLevel};

/// Installs the global subscriber.
///
/// # Errors
///
/// Returns an error when a global subscriber is already installed.
pub(crate) fn init(level: LogLevel, format: LogFormat) -> anyhow::Result<()> {
    let level = match level {
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    };
    let builder = tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stderr).with_ansi(false);
    let installed = match format {
        LogFormat::Logfmt => builder.event_format(Logfmt).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|error| anyhow::anyhow!("cannot install the logger: {error}"))
}

/// Formats an event as `time=... level=info target=... msg="..." key=value ...`.
struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _context: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut time = String::new();
        SystemTime.format_time(&mut Writer::new(&mut time))?;
        let metadata = event.metadata();
        write!(writer, "time={time} level={} target={}", level_name(*metadata.level()), metadata.target())?;
        let mut fields = LogfmtFields::default();
        event.record(&mut fields);
        if let Some(message) = &fields.message {
            writer.write_str(" msg=")?;
            write_value(&mut writer, message)?;
        }
        writer.write_str(&fields.rest)?;
        writeln!(writer)
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// Collects an event's fields: the message apart, the others as ` key=value` text.
#[derive(Default)]
struct LogfmtFields {
    message: Option<String>,
    rest: String,
}

impl LogfmtFields {
    fn record_text(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            // Writing to a String cannot fail.
            let _ = write!(self.rest, " {}=", field.name());
            let _ = write_value(&mut self.rest, value);
        }
    }
}

impl Visit for LogfmtFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_text(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_text(field, &format!("{value:?}"));
    }
}

/// Writes a logfmt value, quoted and escaped when it is empty or holds spaces, quotes or `=`.
fn write_value(writer: &mut impl fmt::Write, value: &str) -> fmt::Result {
    let needs_quotes =
        value.is_empty() || value.chars().any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control());
    if needs_quotes { write!(writer, "{value:?}") } else { writer.write_str(value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(value: &str, expected: &str) {
        let mut out = String::new();
        write_value(&mut out, value).unwrap();
        assert_eq!(out, expected);
    }

    #[test]
    fn logfmt_values_are_quoted_only_when_needed() {
        check("127.0.0.1:9090", "127.0.0.1:9090");
        check("storage opened", "\"storage opened\"");
        check("", "\"\"");
        check("a=b", "\"a=b\"");
        check("say \"hi\"\n", "\"say \\\"hi\\\"\\n\"");
    }
}
