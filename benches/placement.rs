//! Placement throughput over a variable density field, in impressions per second.
//!
//! `cargo bench --bench placement`. The field is a smooth 0.2–1.0 gradient over a 4000×3000 frame (so about
//! half the blue-noise tile's points are thinned away); the scale is chosen so the default 100 per cm² places
//! about 10k, 100k and 1M impressions. Throughput counts the impressions actually placed.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

mod common;

fn placement(c: &mut Criterion) {
    let field = common::gradient_field(common::WIDTH, common::HEIGHT);
    let mut group = c.benchmark_group("placement");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(6));
    for target in [10_000usize, 100_000, 1_000_000] {
        let params = common::params_by_scale(&field, target);
        let px_per_mm = params.px_per_mm.expect("scale set");
        let placed = smpsim::place::place(&field, &params, px_per_mm)
            .expect("placement")
            .len();
        group.throughput(Throughput::Elements(placed as u64));
        group.bench_with_input(BenchmarkId::new("gradient_4000x3000", placed), &params, |b, params| {
            b.iter(|| smpsim::place::place(black_box(&field), black_box(params), px_per_mm).expect("placement"))
        });
    }
    group.finish();
}

criterion_group!(benches, placement);
criterion_main!(benches);
