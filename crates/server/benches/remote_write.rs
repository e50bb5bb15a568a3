//! Reading remote-write requests as `bench/loadgen` sends them: 5,000 series of 8 labels with
//! one sample each, the shape of the storage benchmark's load. Measures the snappy
//! decompression and the protobuf walk (labels kept as encoded bytes, samples decoded), the two
//! steps every request pays before the store sees a sample.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest, walk_write_request};
use panoptes_test_util::node_like_series;

const SERIES: usize = 5_000;

fn request() -> WriteRequest {
    let timeseries = node_like_series(SERIES)
        .iter()
        .enumerate()
        .map(|(i, labels)| {
            let mut labels: Vec<Label> = labels.iter().map(|label| Label::new(&label.name, &label.value)).collect();
            labels.push(Label::new("namespace", &format!("team-{}", i % 17)));
            labels.push(Label::new("pod", &format!("app-{}-{:05x}", i % 50, i / 200)));
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            let sample = Sample { value: (i * 37) as f64 / 100.0, timestamp: 1_796_558_931_500 + i as i64 };
            TimeSeries { labels, samples: vec![sample], ..TimeSeries::default() }
        })
        .collect();
    WriteRequest { timeseries, ..WriteRequest::default() }
}

fn bench(c: &mut Criterion) {
    let body = prost::Message::encode_to_vec(&request());
    let compressed = snap::raw::Encoder::new().compress_vec(&body).expect("snappy");
    let mut group = c.benchmark_group("remote_write");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("walk_5000_series", |b| {
        b.iter(|| {
            let (mut label_bytes, mut samples) = (0usize, 0usize);
            walk_write_request(&body, |series| {
                label_bytes += series.label_bytes.map_or(0, <[u8]>::len);
                samples += series.samples.len();
                Ok(())
            })
            .expect("valid request");
            assert_eq!(samples, SERIES);
            label_bytes
        });
    });
    group.bench_function("decompress_5000_series", |b| {
        let mut out = vec![0; body.len()];
        b.iter(|| snap::raw::Decoder::new().decompress(&compressed, &mut out).expect("snappy"));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
