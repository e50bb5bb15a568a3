//! Measures one gather-and-render of this machine's node metrics: `cargo run --release -p
//! panoptes-node --example gather -- [rounds]` prints the mean and best time and the page size.

use std::time::Instant;

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|rounds| rounds.parse().ok()).unwrap_or(100);
    let collector = match panoptes_node::NodeCollector::try_new(panoptes_node::NodeOptions::default()) {
        Ok(collector) => collector,
        Err(error) => {
            eprintln!("gather: {error}");
            std::process::exit(1);
        }
    };
    let mut best = f64::MAX;
    let mut total = 0.0;
    let mut bytes = 0;
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        let page = collector.render();
        let elapsed = started.elapsed().as_secs_f64();
        best = best.min(elapsed);
        total += elapsed;
        bytes = page.len();
    }
    println!(
        "{rounds} gathers: mean {:.2} ms, best {:.2} ms, page {bytes} bytes",
        total * 1e3 / rounds.max(1) as f64,
        best * 1e3
    );
}
