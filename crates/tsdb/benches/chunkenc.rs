//! Chunk encode and decode throughput on realistic series shapes: the XOR chunk, the head's
//! appender (head-decimal for short decimals) and the columnar encoding of closed chunks.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use panoptes_model::Sample;
use panoptes_tsdb::chunkenc::{HeadChunkAppender, TimeSource, XorAppender, XorIterator, encode_columnar};

fn shapes() -> Vec<(&'static str, Vec<(i64, f64)>)> {
    let start = 1_700_000_000_000i64;
    let counter: Vec<(i64, f64)> =
        (0..120).map(|i| (start + i * 15_000, (i * i * 7 % 1000 + i * 100) as f64)).collect();
    let gauge: Vec<(i64, f64)> =
        (0..120).map(|i| (start + i * 15_000 + (i * 37 % 11), (i as f64 * 0.37).sin() * 1e3)).collect();
    let constant: Vec<(i64, f64)> = (0..120).map(|i| (start + i * 15_000, 1.0)).collect();
    // Two decimal places, as `bench/loadgen`'s gauges.
    let decimal: Vec<(i64, f64)> =
        (0..120).map(|i| (start + i * 15_000, ((i * i * 31 % 977) as f64 + 4000.0) / 100.0)).collect();
    vec![("counter", counter), ("gauge", gauge), ("constant", constant), ("decimal", decimal)]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("chunkenc");
    for (name, samples) in shapes() {
        group.throughput(Throughput::Elements(samples.len() as u64));
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                let mut appender = XorAppender::new();
                for &(t, v) in &samples {
                    appender.append(t, v);
                }
                appender.finish()
            })
        });
        let mut appender = XorAppender::new();
        for &(t, v) in &samples {
            appender.append(t, v);
        }
        let bytes = appender.finish();
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| XorIterator::new(bytes.as_slice()).fold(0.0, |acc, s| acc + s.v))
        });
        group.bench_function(format!("head_append/{name}"), |b| {
            b.iter(|| {
                let mut appender = HeadChunkAppender::new();
                for &(t, v) in &samples {
                    appender.append(t, v);
                }
                appender.bytes().len()
            })
        });
        let closed: Vec<Sample> = samples.iter().map(|&(t, v)| Sample { t, v }).collect();
        group.bench_function(format!("columnar_values/{name}"), |b| {
            b.iter(|| encode_columnar(&closed, TimeSource::Shared(0)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
