//! `node_entropy_available_bits` and `node_entropy_pool_size_bits` from
//! `/proc/sys/kernel/random`.

use super::{Context, read_number};
use crate::error::Result;
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let available = read_number(&context.paths.proc("sys/kernel/random/entropy_avail"))?;
    out.gauge("node_entropy_available_bits", "Bits of available entropy.", &[], available);
    let pool_size = read_number(&context.paths.proc("sys/kernel/random/poolsize"))?;
    out.gauge("node_entropy_pool_size_bits", "Bits of entropy pool.", &[], pool_size);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn entropy_is_read() {
        let fixture = Fixture::new();
        fixture.write("proc/sys/kernel/random/entropy_avail", "256\n");
        fixture.write("proc/sys/kernel/random/poolsize", "4096\n");
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_entropy_available_bits", &[]), Some(256.0));
        assert_eq!(out.value("node_entropy_pool_size_bits", &[]), Some(4096.0));
    }
}
