//! `node_filefd_allocated` and `node_filefd_maximum` from `/proc/sys/fs/file-nr`.

use super::{Context, parse_number, read_text};
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let path = context.paths.proc("sys/fs/file-nr");
    let text = read_text(&path)?;
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [allocated, _, maximum] = fields[..] else {
        return Err(Error::Parse { path, message: format!("expected three fields, got {text:?}") });
    };
    out.gauge("node_filefd_allocated", "File descriptor statistics: allocated.", &[], parse_number(&path, allocated)?);
    out.gauge("node_filefd_maximum", "File descriptor statistics: maximum.", &[], parse_number(&path, maximum)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn file_descriptors_are_read() {
        let fixture = Fixture::new();
        fixture.write("proc/sys/fs/file-nr", "337\t0\t2466249\n");
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_filefd_allocated", &[]), Some(337.0));
        assert_eq!(out.value("node_filefd_maximum", &[]), Some(2_466_249.0));
    }
}
