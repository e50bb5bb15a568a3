//! The `panoptes` binary: command line and process modes.

fn main() -> anyhow::Result<()> {
    Ok(())
}
