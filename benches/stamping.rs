//! Stamping throughput on a 12 MP photo with about 100k impressions, on 1 thread and on all cores.
//!
//! `cargo bench --bench stamping`. The photo and mask are the synthetic head at 4000×3000; 100k impressions at
//! the highest density `Params` accepts (1000 per cm²) and the scale that gives that count on the mask (about
//! 21 px/mm, so a 0.15 mm impression is about 3.2 px wide). See `common::params_at_cap`.
//! Each iteration stamps onto a fresh copy of the photo (the copy is made outside the timing).
//!
//! Throughput is reported twice per run: elements/s are impressions per second, and bytes/s are bytes of the
//! 8-bit RGB frame per second, so megapixels per second = bytes/s ÷ 3.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

mod common;

fn stamping(c: &mut Criterion) {
    let scene = common::head_scene(common::WIDTH, common::HEIGHT);
    let params = common::params_at_cap(&scene.field, 100_000);
    let (w, h) = scene.photo.dimensions();
    let (impressions, stats) = smpsim::plan(w, h, &scene.field, &params).expect("placement");

    let mut group = c.benchmark_group("stamping_12mp");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::ElementsAndBytes {
            elements: impressions.len() as u64,
            bytes: w as u64 * h as u64 * 3,
        });
    let mut threads = vec![1, common::all_cores()];
    threads.dedup();
    for n in threads {
        let pool = common::pool(n);
        group.bench_function(
            BenchmarkId::new(format!("{}_impressions", impressions.len()), format!("{n}_threads")),
            |b| {
                b.iter_batched_ref(
                    || scene.photo.clone(),
                    |photo| {
                        pool.install(|| {
                            smpsim::stamp_impressions(
                                photo,
                                black_box(&scene.field),
                                black_box(&impressions),
                                &params,
                                stats.px_per_mm,
                            )
                        })
                        .expect("stamping")
                    },
                    BatchSize::LargeInput,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, stamping);
criterion_main!(benches);
