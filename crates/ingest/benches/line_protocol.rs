//! InfluxDB line protocol parser throughput (MB/s and lines/s) on Telegraf-like lines: a
//! measurement, four tags and several fields of mixed types with nanosecond timestamps.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use panoptes_ingest::influx::LineParser;

const LINES: usize = 10_000;

/// Returns a body shaped like Telegraf's `cpu`, `mem` and `disk` inputs, deterministic.
fn telegraf_like_body() -> Vec<u8> {
    let mut body = String::new();
    let start = 1_700_000_000_000_000_000i64;
    for i in 0..LINES {
        let host = i % 50;
        let t = start + (i as i64) * 10_000_000_000;
        match i % 3 {
            0 => body.push_str(&format!(
                "cpu,cpu=cpu{},host=node-{host}.example.com,region=eu-west-1,env=prod usage_idle={}.{},usage_user={}.25,usage_system=1.5e-1,usage_iowait=0 {t}\n",
                i % 8,
                90 + i % 10,
                i % 100,
                i % 7
            )),
            1 => body.push_str(&format!(
                "mem,host=node-{host}.example.com,region=eu-west-1,env=prod active={}i,available={}i,available_percent={}.5,free={}u,buffered=1234567i {t}\n",
                i * 1024,
                i * 4096,
                i % 100,
                i * 512
            )),
            _ => body.push_str(&format!(
                "disk,device=nvme0n1p{},fstype=ext4,host=node-{host}.example.com,mode=rw,path=/var/lib/data\\ {} free={}i,inodes_used={}i,used_percent={}.125,readonly=false {t}\n",
                i % 4,
                i % 10,
                i * 65536,
                i * 3,
                i % 100
            )),
        }
    }
    body.into_bytes()
}

fn bench(c: &mut Criterion) {
    let body = telegraf_like_body();
    let mut group = c.benchmark_group("line_protocol");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse_bytes", |b| {
        b.iter(|| LineParser::new(&body).filter(|(_, point)| point.is_ok()).count());
    });
    group.throughput(Throughput::Elements(LINES as u64));
    group.bench_function("parse_lines", |b| {
        b.iter(|| LineParser::new(&body).filter(|(_, point)| point.is_ok()).count());
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
