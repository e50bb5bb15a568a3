//! `node_os_info` and `node_os_version` from `/etc/os-release` (or `/usr/lib/os-release`) under
//! the root filesystem.

use std::collections::HashMap;

use super::Context;
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

/// The os-release keys that become `node_os_info` labels, with their label names.
const INFO_LABELS: [(&str, &str); 12] = [
    ("BUILD_ID", "build_id"),
    ("ID", "id"),
    ("ID_LIKE", "id_like"),
    ("IMAGE_ID", "image_id"),
    ("IMAGE_VERSION", "image_version"),
    ("NAME", "name"),
    ("PRETTY_NAME", "pretty_name"),
    ("VARIANT", "variant"),
    ("VARIANT_ID", "variant_id"),
    ("VERSION", "version"),
    ("VERSION_CODENAME", "version_codename"),
    ("VERSION_ID", "version_id"),
];

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let mut last_error = None;
    let mut text = None;
    for candidate in ["/etc/os-release", "/usr/lib/os-release"] {
        let path = context.paths.root(candidate);
        match std::fs::read_to_string(&path) {
            Ok(content) => {
                text = Some(content);
                break;
            }
            Err(source) => last_error = Some(Error::Read { path, source }),
        }
    }
    let Some(text) = text else {
        return Err(last_error.unwrap_or(Error::NoData { what: "no os-release file".to_owned() }));
    };
    let values = parse_os_release(&text);
    let value = |key: &str| values.get(key).map(String::as_str).unwrap_or("");
    let labels: Vec<(&str, &str)> = INFO_LABELS.iter().map(|(key, label)| (*label, value(key))).collect();
    out.gauge(
        "node_os_info",
        "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
        &labels,
        1.0,
    );
    if let Some(version) = major_minor(value("VERSION_ID")) {
        out.gauge(
            "node_os_version",
            "Metric containing the major.minor part of the OS version.",
            &[("id", value("ID")), ("id_like", value("ID_LIKE")), ("name", value("NAME"))],
            version,
        );
    }
    Ok(())
}

/// Parses the `KEY=value` lines of os-release(5): values may be unquoted, or in single or double
/// quotes with backslash escapes; comments and malformed lines are skipped.
fn parse_os_release(text: &str) -> HashMap<String, String> {
    let mut values = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else { continue };
        let mut value = String::with_capacity(raw.len());
        let mut quote = None;
        let mut characters = raw.chars();
        while let Some(character) = characters.next() {
            match (quote, character) {
                (None, '"' | '\'') => quote = Some(character),
                (Some(open), _) if character == open => quote = None,
                (Some('\''), _) => value.push(character),
                (_, '\\') => {
                    if let Some(escaped) = characters.next() {
                        value.push(escaped);
                    }
                }
                (None, '#') if value.is_empty() => break,
                _ => value.push(character),
            }
        }
        values.insert(key.trim().to_owned(), value);
    }
    values
}

/// Returns the leading `major[.minor]` of a version as a number (`22.04.3` is 22.04).
fn major_minor(version: &str) -> Option<f64> {
    let digits = |text: &str| text.bytes().take_while(u8::is_ascii_digit).count();
    let major_len = digits(version);
    if major_len == 0 {
        return None;
    }
    let mut end = major_len;
    if version[end..].starts_with('.') {
        end += 1 + digits(&version[end + 1..]);
    }
    version[..end].trim_end_matches('.').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn os_release_gives_info_and_version() {
        let fixture = Fixture::new();
        fixture.write(
            "root/etc/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n\
             VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n# a comment\nHOME_URL='https://x/'\n",
        );
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let info = &out.family("node_os_info").unwrap().samples[0];
        let label = |name: &str| info.labels.iter().find(|(key, _)| key == name).unwrap().1.clone();
        assert_eq!(info.labels.len(), 12);
        assert_eq!(label("pretty_name"), "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(label("version_codename"), "bookworm");
        assert_eq!(label("id_like"), "");
        assert_eq!(
            out.value("node_os_version", &[("id", "debian"), ("id_like", ""), ("name", "Debian GNU/Linux")]),
            Some(12.0)
        );
    }

    #[test]
    fn usr_lib_os_release_is_the_fallback() {
        let fixture = Fixture::new();
        fixture.write("root/usr/lib/os-release", "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n");
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_os_version", &[("id", "ubuntu"), ("id_like", "debian"), ("name", "")]), Some(22.04));
    }

    #[test]
    fn versions_keep_major_and_minor() {
        assert_eq!(major_minor("22.04.3"), Some(22.04));
        assert_eq!(major_minor("12"), Some(12.0));
        assert_eq!(major_minor("7."), Some(7.0));
        assert_eq!(major_minor("rolling"), None);
        assert_eq!(major_minor(""), None);
    }

    #[test]
    fn quoting_follows_os_release() {
        let values = parse_os_release("A=\"x \\\"y\\\"\"\nB='a b'\nC=plain\nbad line\n");
        assert_eq!(values["A"], "x \"y\"");
        assert_eq!(values["B"], "a b");
        assert_eq!(values["C"], "plain");
        assert_eq!(values.len(), 3);
    }
}
