//! The speed and memory ratios of issue 8, measured in one run and printed as one markdown table.
//!
//! `cargo bench --bench ratios` (a plain `main`, not criterion; about 45 s on 2 cores after the build).
//!
//! Everything is measured in this one process (plus a few child processes for peak memory), interleaved, over a
//! few repetitions. The machines are shared: another tenant's work can only add time to a repetition, never
//! take it away, so each figure the targets use is its fastest repetition (the least disturbed); medians and
//! ranges are printed beside them. The one exception is the thread speed-up, a ratio of two settings run in
//! alternation: the median of each pair's ratio (see there). The photo is the
//! synthetic head at 4000×3000 (22.5 px/mm), written as a q90 4:2:0 JPEG with its mask as a PNG into a
//! temporary folder; 100k impressions at 1000 per cm² and the scale that gives that count (`common::params_at_cap`).
//!
//! The side-by-side figures against the Python peers and the libjpeg-turbo floor are not measured here (they
//! need Python and OpenCV): `benches/peers.py` runs those.

use image::{imageops, GrayImage, Luma, RgbImage};
use imageproc::drawing::draw_filled_circle_mut;
use smpsim::{io, DensityField, Impression, Params};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

mod common;

/// Repetitions of each file-to-file timing (a quarter second each); the fastest is used, the median shown
/// beside it.
const REPS: usize = 21;
/// Repetitions of the whole render and the plain re-encode, in turn (see where they run).
const CHAIN_REPS: usize = 2 * REPS;
/// Repetitions of each in-memory timing (tens of milliseconds each). More than [`REPS`]: a 2-thread run needs
/// both cores free at once for its whole length, which on a shared machine one window in ten may not give.
const SHORT_REPS: usize = 61;
/// Impressions in the end-to-end scene.
const TARGET: usize = 100_000;
/// Output JPEG quality, the CLI's default.
const QUALITY: u8 = io::DEFAULT_JPEG_QUALITY;
/// Set (to `photo|mask|out|px_per_mm|density`) when this binary is re-run as a child to measure peak memory.
const CHILD_ENV: &str = "SMPSIM_RATIOS_MEMORY_CHILD";

fn main() {
    common::pin_global_pool();
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        memory_child(&spec);
        return;
    }
    let run_start = Instant::now();
    let load_start = load_average();
    let dir = tempfile::tempdir().expect("temp folder");
    let photo_path = dir.path().join("photo.jpg");
    let mask_path = dir.path().join("mask.png");
    let out_path = dir.path().join("after.jpg");

    eprintln!("ratios: generating the synthetic 4000x3000 head …");
    let scene = common::head_scene(common::WIDTH, common::HEIGHT);
    io::save_rgb(&photo_path, &scene.photo, QUALITY).expect("write photo");
    scene.mask.save(&mask_path).expect("write mask");
    let (w, h) = scene.photo.dimensions();
    let params = common::params_at_cap(&scene.field, TARGET);
    let px_per_mm = params.px_per_mm.expect("scale set");
    let rgb_bytes = w as u64 * h as u64 * 3;
    let pool1 = common::pool(1);
    let pool2 = common::pool(2);
    let cores = common::all_cores();

    // ---- End-to-end breakdown, all cores, file to file --------------------------------------------------
    eprintln!("ratios: end-to-end breakdown …");
    let mut st = Stages::default();
    let mut impressions = Vec::new();
    for rep in 0..=REPS {
        let t = Instant::now();
        let photo = io::load_photo(&photo_path).expect("decode");
        let decode = secs(t);
        let t = Instant::now();
        let field = io::load_mask(&mask_path, w, h).expect("mask");
        let mask = secs(t);
        let t = Instant::now();
        let (imps, stats) = smpsim::plan(w, h, &field, &params).expect("placement");
        let place = secs(t);
        // Stamped in place, as `smpsim render` does when nothing needs the original (`render_mut`).
        let t = Instant::now();
        let mut out = photo;
        let copy = secs(t);
        let t = Instant::now();
        smpsim::stamp_impressions(&mut out, &field, &imps, &params, stats.px_per_mm).expect("stamping");
        let stamp = secs(t);
        let t = Instant::now();
        io::save_rgb(&out_path, &out, QUALITY).expect("encode");
        let encode = secs(t);
        let t = Instant::now();
        let bytes = encode_in_memory(&out);
        let encode_mem = secs(t);
        std::hint::black_box(bytes);
        if rep > 0 {
            // Rep 0 warms the lookup tables, the page cache and the allocator.
            st.push(decode, mask, place, copy, stamp, encode, encode_mem);
        }
        impressions = imps;
    }
    let n = impressions.len();
    // The render as the stages above last wrote it (the whole chain below writes over it).
    let file_mb = |path: &Path| std::fs::metadata(path).map_or(f64::NAN, |m| m.len() as f64 / 1e6);
    let rendered_mb = file_mb(&out_path);

    // The same job as `smpsim render` does it, as library calls: the mask read, the field built and the
    // impressions placed and prepared for stamping while the photo decodes, then each band stamped as soon as
    // it is decoded (`io::load_photo_beside_stamping`), and the save. In turn with it, a plain re-encode of the same photo (decode + save): the issue's
    // "render costs at most 1.15× a plain re-encode", end to end. Twice the repetitions of the stages above:
    // two chains of ~150 ms each must both meet a fast window of this machine for their fastest to compare.
    let (mut chain, mut reencode) = (Vec::new(), Vec::new());
    let limits = io::DecodeLimits::default();
    for _ in 0..CHAIN_REPS {
        let t = Instant::now();
        let (loaded, beside, stamped) = io::load_photo_beside_stamping(
            &photo_path,
            &limits,
            |width, height| {
                let field = io::load_mask(&mask_path, width, height)?;
                let planned = smpsim::plan_and_prepare(width, height, &field, &params)?;
                Ok::<_, smpsim::Error>((field, planned))
            },
            |beside, band, pixels| match beside {
                Ok((field, planned)) => smpsim::stamp_planned_band(planned, field, &params, band, pixels),
                Err(_) => false,
            },
        )
        .expect("decode");
        let (field, planned) = beside.expect("mask and placement");
        let mut photo = loaded.image;
        if !stamped {
            smpsim::render_planned_mut(&mut photo, &field, &params, planned).expect("render");
        }
        io::save_rgb(&out_path, photo.as_rgb8().expect("an RGB JPEG"), QUALITY).expect("encode");
        chain.push(secs(t));
        let t = Instant::now();
        let photo = io::load_photo(&photo_path).expect("decode");
        io::save_rgb(&out_path, &photo, QUALITY).expect("encode");
        reencode.push(secs(t));
    }

    // ---- Our stamping vs the naive baseline, 1 thread ---------------------------------------------------
    eprintln!("ratios: stamping vs naive baseline, 1 thread …");
    let (mut ours_1t, mut naive_1t) = (Vec::new(), Vec::new());
    for rep in 0..=SHORT_REPS {
        let mut out = scene.photo.clone();
        let t = Instant::now();
        pool1
            .install(|| smpsim::stamp_impressions(&mut out, &scene.field, &impressions, &params, px_per_mm))
            .expect("stamping");
        let ours = secs(t);
        let mut out = scene.photo.clone();
        let t = Instant::now();
        let shade = match &params.shade {
            smpsim::pigment::ShadeSpec::Mix(mix) => mix[0].0 .0,
            smpsim::pigment::ShadeSpec::Auto => [0x26, 0x24, 0x2a],
        };
        naive_stamp(&mut out, &impressions, shade);
        let naive = secs(t);
        if rep > 0 {
            ours_1t.push(ours);
            naive_1t.push(naive);
        }
    }

    // ---- Thread scaling: placement + stamping on 1 and 2 threads ----------------------------------------
    eprintln!("ratios: thread scaling …");
    // Beside each wall time, the CPU time all of the process's threads got during the run: on a shared
    // machine the 2-thread run may not get two cores, and CPU ÷ wall says how many it did get. After each run,
    // two controls in the same pool, each split in two equal halves: arithmetic alone (no memory, no
    // imbalance), which scales by the cores the machine gives, and a stream over memory, which scales by the
    // memory bandwidth it gives. Their speed-ups are the ceilings of the moment.
    let (mut ps_1t, mut ps_2t) = (Vec::new(), Vec::new());
    let (mut cpu_1t, mut cpu_2t) = (Vec::new(), Vec::new());
    let (mut arith_1t, mut arith_2t) = (Vec::new(), Vec::new());
    let (mut stream_1t, mut stream_2t) = (Vec::new(), Vec::new());
    let mut streams = [vec![1u8; STREAM_BYTES], vec![1u8; STREAM_BYTES]];
    for rep in 0..=SHORT_REPS {
        for (pool, times, cpu, arith, stream) in [
            (&pool1, &mut ps_1t, &mut cpu_1t, &mut arith_1t, &mut stream_1t),
            (&pool2, &mut ps_2t, &mut cpu_2t, &mut arith_2t, &mut stream_2t),
        ] {
            let mut out = scene.photo.clone();
            let (t, c) = (Instant::now(), cpu_seconds());
            pool.install(|| place_and_stamp(&mut out, &scene.field, &params));
            let (time, cpu_time) = (secs(t), cpu_seconds().zip(c).map(|(after, before)| after - before));
            let t = Instant::now();
            pool.install(|| rayon::join(arithmetic, arithmetic));
            let arith_time = secs(t);
            let [a, b] = &mut streams;
            let t = Instant::now();
            pool.install(|| rayon::join(|| stream_over(a), || stream_over(b)));
            if rep > 0 {
                times.push(time);
                cpu.push(cpu_time);
                arith.push(arith_time);
                stream.push(secs(t));
            }
        }
    }
    drop(streams);

    // ---- Placement rate and blue-noise quality ---------------------------------------------------------
    eprintln!("ratios: placement rate and spacing …");
    let gradient = common::gradient_field(w, h);
    let params_1m = common::params_by_scale(&gradient, 1_000_000);
    let mut place_head = Vec::new();
    let mut place_1m = Vec::new();
    let mut n_1m = 0;
    // The head scene's placement again, in memory: in the file-to-file loop above it runs between the decode
    // and the stamping, and the fewer repetitions there leave it more exposed to the other tenant.
    for rep in 0..=SHORT_REPS {
        let t = Instant::now();
        let (imps, _) = smpsim::plan(w, h, &scene.field, &params).expect("placement");
        if rep > 0 {
            place_head.push(secs(t));
        }
        assert_eq!(imps.len(), n, "the same impressions as file to file");
        let t = Instant::now();
        let imps = smpsim::place::place(&gradient, &params_1m, params_1m.px_per_mm.unwrap()).expect("placement");
        if rep > 0 {
            place_1m.push(secs(t));
        }
        n_1m = imps.len();
    }
    let cv_full = spacing_cv(1.0);
    let cv_half = spacing_cv(0.5);

    // ---- Linear growth: placement + stamping, all cores -------------------------------------------------
    // A 0.2–1.0 gradient over the whole frame at the head's scale (same impression size in pixels):
    // 12 MP at density D (~100k) vs 12 MP at D/10 (10× fewer) vs a 3 MP crop at D (4× fewer pixels).
    eprintln!("ratios: linear growth …");
    let params_big = common::params_for(&gradient, px_per_mm, TARGET);
    let params_sparse = Params {
        density: params_big.density / 10.0,
        ..params_big.clone()
    };
    let (sw, sh) = (w / 2, h / 2);
    let small_photo = imageops::crop_imm(&scene.photo, (w - sw) / 2, (h - sh) / 2, sw, sh).to_image();
    let small_gradient = common::gradient_field(sw, sh);
    let cases: [(&RgbImage, &DensityField, &Params); 3] = [
        (&scene.photo, &gradient, &params_big),
        (&scene.photo, &gradient, &params_sparse),
        (&small_photo, &small_gradient, &params_big),
    ];
    let mut growth: [Vec<f64>; 3] = Default::default();
    let mut growth_n = [0usize; 3];
    for rep in 0..=SHORT_REPS {
        for (i, (photo, field, p)) in cases.iter().enumerate() {
            let mut out = (*photo).clone();
            let t = Instant::now();
            growth_n[i] = place_and_stamp(&mut out, field, p);
            if rep > 0 {
                growth[i].push(secs(t));
            }
        }
    }

    // ---- Peak memory ------------------------------------------------------------------------------------
    eprintln!("ratios: peak memory …");
    let spec = format!(
        "{}|{}|{}|{}|{}",
        photo_path.display(),
        mask_path.display(),
        dir.path().join("child.jpg").display(),
        px_per_mm,
        params.density
    );
    let child = memory_in_process(&spec);
    let cli = cli_runs(&photo_path, &mask_path, &dir.path().join("cli.jpg"), &params);

    // ---- Report -----------------------------------------------------------------------------------------
    let m = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (decode, mask, place, copy, stamp, encode) = (
        m(&st.decode),
        m(&st.mask),
        m(&st.place),
        m(&st.copy),
        m(&st.stamp),
        m(&st.encode),
    );
    let sum = decode + mask + place + copy + stamp + encode;

    println!();
    // A capped run (`SMPSIM_SIMD=avx2`) measures what a CPU without the wider vectors gets: say so.
    let simd = std::env::var(smpsim::SIMD_ENV).map_or(String::new(), |v| {
        format!(", stamping capped by {}={v}", smpsim::SIMD_ENV)
    });
    println!(
        "## smpsim ratios: {w}×{h} synthetic head, {n} impressions ({:.0} per cm² at {} px/mm), {cores} logical CPUs{simd}",
        params.density, px_per_mm
    );
    println!();
    println!(
        "Fastest of {REPS} repetitions file to file ({CHAIN_REPS} for the whole render and the plain re-encode), {SHORT_REPS} in memory, in one process (after one warm-up), \
         which the ratios use: on a shared machine other work only adds time. Medians and min–max beside. Load average (1 min) at start \
         {load_start}, at end {}.",
        load_average()
    );
    println!();
    println!("### End-to-end render, file to file, all cores");
    println!();
    println!(
        "The photo: a q{QUALITY} 4:2:0 JPEG of {:.2} MB with a camera's grain (`common::add_grain`; the peers' photo is \
         1.9 MB); the render written from it: {:.2} MB.",
        file_mb(&photo_path),
        rendered_mb
    );
    println!();
    println!("| stage | fastest ms | median ms | range ms | share of sum |");
    println!("|---|---:|---:|---:|---:|");
    let stage = |name: &str, v: &[f64]| {
        println!(
            "| {name} | {:.1} | {:.1} | {} | {:.0} % |",
            ms(m(v)),
            ms(median(v)),
            range(v),
            100.0 * m(v) / sum
        )
    };
    stage("decode (`io::load_photo`, JPEG → RGB)", &st.decode);
    stage("mask (`io::load_mask`, PNG → field)", &st.mask);
    stage("placement (`plan`)", &st.place);
    stage("copy (none: stamped in place with `render_mut`)", &st.copy);
    stage("stamping (`stamp_impressions`)", &st.stamp);
    stage("encode (`io::save_rgb`, JPEG q90 4:2:0, write + fsync)", &st.encode);
    println!("| **sum of stages** | **{:.1}** | | | 100 % |", ms(sum));
    let other = |name: &str, v: &[f64]| {
        println!("| {name} | {:.1} | {:.1} | {} | |", ms(m(v)), ms(median(v)), range(v));
    };
    let codec = if cfg!(feature = "turbojpeg") {
        "libjpeg-turbo, feature `turbojpeg`"
    } else {
        "jpeg-encoder"
    };
    other(
        &format!("of encode: JPEG q90 4:2:0 into memory only ({codec})"),
        &st.encode_mem,
    );
    other(
        "whole render in one go, as `smpsim render` (mask, placement and stamping's preparation while the photo decodes, stamping, save)",
        &chain,
    );
    other("plain re-encode in one go (decode + save), in turn with it", &reencode);
    if let Some(c) = &cli {
        other(
            &format!(
                "`smpsim render` process, wall (`/usr/bin/time -v`, {} runs)",
                c.wall.len()
            ),
            &c.wall,
        );
    }
    println!();

    let mut targets = Targets::default();
    let ps_share = (place + stamp) / (decode + encode);
    targets.row(
        "placement + stamping vs decode + encode",
        format!(
            "{:.1} % ({:.1} + {:.1} ms vs {:.1} + {:.1} ms)",
            100.0 * ps_share,
            ms(place),
            ms(stamp),
            ms(decode),
            ms(encode)
        ),
        "≤ 15 %",
        Some(ps_share <= 0.15),
    );
    let chain_ratio = m(&chain) / m(&reencode);
    let paired: Vec<f64> = chain.iter().zip(&reencode).map(|(c, r)| c / r).collect();
    targets.row(
        "the same, end to end: whole render vs plain re-encode, file to file",
        format!(
            "{:.3}× ({:.1} vs {:.1} ms, fastest of {CHAIN_REPS} each; median of each render over the re-encode \
             after it {:.3}×)",
            chain_ratio,
            ms(m(&chain)),
            ms(m(&reencode)),
            median(&paired)
        ),
        "≤ 1.15×",
        Some(chain_ratio <= 1.15),
    );
    let naive_ratio = m(&ours_1t) / m(&naive_1t);
    targets.row(
        "our stamping vs naive baseline, 1 thread, same impressions",
        format!(
            "{:.2}× ({:.1} ms vs {:.1} ms naive)",
            naive_ratio,
            ms(m(&ours_1t)),
            ms(m(&naive_1t))
        ),
        "≤ 1.0× (no slower)",
        Some(naive_ratio <= 1.0),
    );
    let rate_head = n as f64 / m(&place_head) / 1e6;
    targets.row(
        &format!("placement rate, 12 MP head mask, {n} impressions, all cores"),
        format!(
            "{rate_head:.1} M/s ({:.2} ms; file to file above: {:.1} M/s)",
            ms(m(&place_head)),
            n as f64 / place / 1e6
        ),
        "≥ 20 M/s",
        Some(rate_head >= 20.0),
    );
    let rate_1m = n_1m as f64 / m(&place_1m) / 1e6;
    targets.row(
        &format!("placement rate, 12 MP 0.2–1.0 gradient, {n_1m} impressions, all cores"),
        format!("{rate_1m:.1} M/s ({:.1} ms)", ms(m(&place_1m))),
        "≥ 20 M/s",
        Some(rate_1m >= 20.0),
    );
    for (level, (cv, count)) in [(1.0, cv_full), (0.5, cv_half)] {
        targets.row(
            &format!("nearest-neighbour spacing CV, constant density {level} ({count} points)"),
            format!("{cv:.3}"),
            "≤ 0.2",
            Some(cv <= 0.2),
        );
    }
    // Each 1-thread run against the 2-thread run right after it, and the median of those ratios: this
    // machine's speed switches between regimes lasting seconds (the same 1-thread run takes 38 ms in one,
    // 55 ms in the other), so the fastest 1-thread and fastest 2-thread runs may come from different
    // regimes, while a pair, 0.1 s apart, shares one. The fastest-of-each ratio is printed beside it.
    let paired: Vec<f64> = ps_1t.iter().zip(&ps_2t).map(|(one, two)| one / two).collect();
    let speedup = median(&paired);
    // The CPU time of each setting's fastest run: cores actually used, and whether the work grew.
    let fastest_cpu = |times: &[f64], cpu: &[Option<f64>]| {
        let i = (0..times.len()).min_by(|&a, &b| times[a].total_cmp(&times[b]))?;
        cpu[i]
    };
    let cores_note = match (fastest_cpu(&ps_1t, &cpu_1t), fastest_cpu(&ps_2t, &cpu_2t)) {
        (Some(one), Some(two)) => format!(
            "; the 2-thread run got {:.2} cores (CPU ÷ wall), its CPU time {:.2}× the 1-thread run's",
            two / m(&ps_2t),
            two / one
        ),
        _ => String::new(),
    };
    targets.row(
        "placement + stamping, 1 → 2 threads speed-up",
        format!(
            "{speedup:.2}× (median of {} paired runs; fastest of each {:.1} ms → {:.1} ms, {:.2}×; medians {:.2}×{cores_note}. Controls in the same window, fastest \
             (medians): arithmetic alone {:.2}× ({:.2}×), a memory stream {:.2}× ({:.2}×))",
            paired.len(),
            ms(m(&ps_1t)),
            ms(m(&ps_2t)),
            m(&ps_1t) / m(&ps_2t),
            median(&ps_1t) / median(&ps_2t),
            m(&arith_1t) / m(&arith_2t),
            median(&arith_1t) / median(&arith_2t),
            m(&stream_1t) / m(&stream_2t),
            median(&stream_1t) / median(&stream_2t)
        ),
        "≥ 1.7×",
        Some(speedup >= 1.7),
    );
    let ten_x = m(&growth[0]) / m(&growth[1]);
    targets.row(
        &format!(
            "10× impressions ({} → {}, 12 MP), placement + stamping time ratio",
            growth_n[1], growth_n[0]
        ),
        format!("{ten_x:.2}× ({:.1} → {:.1} ms)", ms(m(&growth[1])), ms(m(&growth[0]))),
        "≤ 11×",
        Some(ten_x <= 11.0),
    );
    let four_x = m(&growth[0]) / m(&growth[2]);
    targets.row(
        &format!(
            "4× pixels, same density ({sw}×{sh}, {} → {w}×{h}, {}), placement + stamping time ratio",
            growth_n[2], growth_n[0]
        ),
        format!("{four_x:.2}× ({:.1} → {:.1} ms)", ms(m(&growth[2])), ms(m(&growth[0]))),
        "≤ 4.5×",
        Some(four_x <= 4.5),
    );
    let mb = |kb: u64| kb as f64 / 1024.0;
    let rgb_mb = rgb_bytes as f64 / (1 << 20) as f64;
    match &cli {
        Some(c) => {
            let peak = median_u64(&c.max_rss_kb);
            let ratio = peak as f64 * 1024.0 / rgb_bytes as f64;
            targets.row(
                "peak RSS of `smpsim render` (12 MP, `/usr/bin/time -v` max RSS, median) / decoded RGB",
                format!("{ratio:.2}× ({:.0} MiB / {rgb_mb:.0} MiB)", mb(peak)),
                "≤ 2.5×",
                Some(ratio <= 2.5),
            );
        }
        None => targets.row(
            "peak RSS of `smpsim render` / decoded RGB",
            "not measured: /usr/bin/time or the smpsim binary is missing".into(),
            "≤ 2.5×",
            None,
        ),
    }
    if let Some(c) = &child {
        let ratio = c.peak_kb as f64 * 1024.0 / rgb_bytes as f64;
        targets.row(
            "peak RSS of load + `render` + save in a fresh process (VmHWM) / decoded RGB",
            format!("{ratio:.2}× ({:.0} MiB / {rgb_mb:.0} MiB)", mb(c.peak_kb)),
            "≤ 2.5×",
            Some(ratio <= 2.5),
        );
    }
    targets.row(
        "end to end vs OpenCV peer (≥ 10× faster) and vs libjpeg-turbo floor (≤ 2×)",
        "not measured here: needs Python + OpenCV, see `benches/peers.py` and benches/README.md".into(),
        "",
        None,
    );
    println!("### Targets");
    println!();
    println!("| target | measured | goal | result |");
    println!("|---|---|---|---|");
    for row in &targets.rows {
        println!("{row}");
    }
    println!();
    if let Some(c) = &child {
        println!("Peak resident memory (VmHWM) of the fresh process after each step, MiB:");
        println!(
            "{}",
            c.steps
                .iter()
                .map(|(s, kb)| format!("{s} {:.0}", mb(*kb)))
                .collect::<Vec<_>>()
                .join(" · ")
        );
        println!();
    }
    println!(
        "Naive baseline: each impression drawn by `imageproc::drawing::draw_filled_circle_mut` at its integer \
         centre, radius round(√(major·minor)), into a scratch mask, then each covered pixel blended by hand in \
         sRGB with alpha = opacity. Growth cases use a 0.2–1.0 gradient field over the whole frame. Whole run: \
         {:.0} s.",
        run_start.elapsed().as_secs_f64()
    );
}

/// The 1-minute load average from /proc/loadavg, as text ("?" where unavailable): how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// CPU time, in seconds, that all of this process's threads have had so far (Linux: the first field of each
/// `/proc/self/task/*/schedstat`, in nanoseconds), or `None` where that is not available.
fn cpu_seconds() -> Option<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 / 1e9)
}

/// Seconds since `t`.
fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn ms(s: f64) -> f64 {
    s * 1e3
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let k = s.len();
    if k == 0 {
        f64::NAN
    } else if k % 2 == 1 {
        s[k / 2]
    } else {
        (s[k / 2 - 1] + s[k / 2]) / 2.0
    }
}

fn median_u64(v: &[u64]) -> u64 {
    let mut s = v.to_vec();
    s.sort_unstable();
    s[s.len() / 2]
}

/// "min–max" in milliseconds.
fn range(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.1}–{:.1}", ms(lo), ms(hi))
}

/// Timings of each stage of the end-to-end render, one entry per repetition.
#[derive(Default)]
struct Stages {
    decode: Vec<f64>,
    mask: Vec<f64>,
    place: Vec<f64>,
    copy: Vec<f64>,
    stamp: Vec<f64>,
    encode: Vec<f64>,
    encode_mem: Vec<f64>,
}

impl Stages {
    #[allow(clippy::too_many_arguments)]
    fn push(&mut self, decode: f64, mask: f64, place: f64, copy: f64, stamp: f64, encode: f64, encode_mem: f64) {
        self.decode.push(decode);
        self.mask.push(mask);
        self.place.push(place);
        self.copy.push(copy);
        self.stamp.push(stamp);
        self.encode.push(encode);
        self.encode_mem.push(encode_mem);
    }
}

/// Rows of the targets table.
#[derive(Default)]
struct Targets {
    rows: Vec<String>,
}

impl Targets {
    fn row(&mut self, what: &str, measured: String, goal: &str, pass: Option<bool>) {
        let result = match pass {
            Some(true) => "PASS",
            Some(false) => "**MISS**",
            None => "—",
        };
        self.rows.push(format!("| {what} | {measured} | {goal} | {result} |"));
    }
}

/// Places and stamps on the current rayon pool; returns the number of impressions.
fn place_and_stamp(photo: &mut RgbImage, field: &DensityField, params: &Params) -> usize {
    let (w, h) = photo.dimensions();
    let (imps, stats) = smpsim::plan(w, h, field, params).expect("placement");
    smpsim::stamp_impressions(photo, field, &imps, params, stats.px_per_mm).expect("stamping");
    imps.len()
}

/// About 8 ms of arithmetic on one core, touching no memory: half of the thread-scaling control.
fn arithmetic() -> u64 {
    let mut x = std::hint::black_box(0x9E37_79B9_7F4A_7C15u64);
    for _ in 0..std::hint::black_box(6_000_000) {
        x = x
            .wrapping_mul(0x5851_F42D_4C95_7F2D)
            .wrapping_add(0x1405_7B7E_F767_814F)
            .rotate_left(17);
    }
    x
}

/// Bytes each half of the memory control streams over: well past a core's caches and the shared L3.
const STREAM_BYTES: usize = 64 << 20;

/// Reads and rewrites one byte of every 64-byte line of `buffer` (about 5 ms at 15 GB/s): half of the
/// memory-bandwidth control.
fn stream_over(buffer: &mut [u8]) {
    let mut carry = 0u8;
    for line in buffer.chunks_exact_mut(64) {
        carry = carry.wrapping_add(line[0]);
        line[1] = carry;
    }
    std::hint::black_box(carry);
}

/// JPEG q90 4:2:0 into a buffer, with the encoder `io::save_rgb` uses: the codec's share of the encode step.
fn encode_in_memory(image: &RgbImage) -> Vec<u8> {
    io::encode_jpeg(image, QUALITY).expect("encode")
}

/// The naive way: every impression as a hard, integer-centred imageproc circle, each covered pixel blended by
/// hand in sRGB with alpha = the impression's opacity. Single-threaded.
///
/// The circle is rasterised into a scratch mask first because `draw_filled_circle_mut` draws some rows more
/// than once: blending straight through a canvas would blend those rows twice.
fn naive_stamp(photo: &mut RgbImage, impressions: &[Impression], shade: [u8; 3]) {
    let radius = |imp: &Impression| (imp.radius_major * imp.radius_minor).sqrt().round() as i32;
    let r_max = impressions.iter().map(radius).max().unwrap_or(0);
    let side = (2 * r_max + 1) as u32;
    let mut scratch = GrayImage::new(side, side);
    let (w, h) = (photo.width() as i32, photo.height() as i32);
    for imp in impressions {
        let r = radius(imp);
        draw_filled_circle_mut(&mut scratch, (r_max, r_max), r, Luma([255]));
        let (cx, cy) = (imp.x.floor() as i32, imp.y.floor() as i32);
        let a = imp.opacity;
        for sy in r_max - r..=r_max + r {
            for sx in r_max - r..=r_max + r {
                let cover = scratch.get_pixel_mut(sx as u32, sy as u32);
                if cover.0[0] == 0 {
                    continue;
                }
                cover.0[0] = 0;
                let (x, y) = (cx + sx - r_max, cy + sy - r_max);
                if x < 0 || y < 0 || x >= w || y >= h {
                    continue;
                }
                let p = photo.get_pixel_mut(x as u32, y as u32);
                for (v, &ink) in p.0.iter_mut().zip(&shade) {
                    *v = (*v as f32 * (1.0 - a) + ink as f32 * a + 0.5) as u8;
                }
            }
        }
    }
}

/// Coefficient of variation of nearest-neighbour distances of impressions placed over a constant field of
/// `level`, 3000×3000 px at 10 px/mm (wider than one blue-noise tile, so tile seams count). Points within 3 mm
/// of the border are not measured (they lack neighbours outside). Returns (CV, points measured).
fn spacing_cv(level: f32) -> (f64, usize) {
    let (size, px_per_mm) = (3000u32, 10.0f32);
    let field = DensityField::uniform(size, size, level);
    let params = Params {
        px_per_mm: Some(px_per_mm),
        ..Params::default()
    };
    let pts: Vec<(f32, f32)> = smpsim::place::place(&field, &params, px_per_mm)
        .expect("placement")
        .iter()
        .map(|i| (i.x, i.y))
        .collect();
    // Grid of cells a few mean spacings wide; search rings outward until no closer point can exist.
    let spacing = (size as f32 * size as f32 / pts.len() as f32).sqrt();
    let cell = 2.0 * spacing;
    let cells = (size as f32 / cell).ceil() as usize;
    let mut grid: Vec<Vec<usize>> = vec![Vec::new(); cells * cells];
    let cell_of = |v: f32| ((v / cell) as usize).min(cells - 1);
    for (i, &(x, y)) in pts.iter().enumerate() {
        grid[cell_of(y) * cells + cell_of(x)].push(i);
    }
    let margin = 3.0 * px_per_mm;
    let mut d = Vec::new();
    for (i, &(x, y)) in pts.iter().enumerate() {
        if x < margin || y < margin || x > size as f32 - margin || y > size as f32 - margin {
            continue;
        }
        let (gx, gy) = (cell_of(x) as i64, cell_of(y) as i64);
        let mut best = f32::INFINITY;
        for ring in 0i64.. {
            if ring as f32 * cell > best.sqrt() + cell {
                break;
            }
            for yy in gy - ring..=gy + ring {
                for xx in gx - ring..=gx + ring {
                    let on_ring = (yy - gy).abs() == ring || (xx - gx).abs() == ring;
                    if !on_ring || xx < 0 || yy < 0 || xx >= cells as i64 || yy >= cells as i64 {
                        continue;
                    }
                    for &j in &grid[yy as usize * cells + xx as usize] {
                        if j != i {
                            let (dx, dy) = (pts[j].0 - x, pts[j].1 - y);
                            best = best.min(dx * dx + dy * dy);
                        }
                    }
                }
            }
        }
        d.push(best.sqrt() as f64);
    }
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / d.len() as f64;
    (var.sqrt() / mean, d.len())
}

/// Peak memory of a fresh process doing load + `render` + save, with VmHWM after each step.
struct ChildMemory {
    peak_kb: u64,
    steps: Vec<(String, u64)>,
}

/// Re-runs this binary as a child that does one render and reports its VmHWM.
fn memory_in_process(spec: &str) -> Option<ChildMemory> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe).env(CHILD_ENV, spec).output().ok()?;
    if !out.status.success() {
        eprintln!("ratios: memory child failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let steps: Vec<(String, u64)> = text
        .lines()
        .filter_map(|l| {
            let (s, kb) = l.split_once(' ')?;
            Some((s.to_string(), kb.trim().parse().ok()?))
        })
        .collect();
    let peak_kb = steps.iter().map(|s| s.1).max()?;
    Some(ChildMemory { peak_kb, steps })
}

/// The child: one render as `smpsim render` does it, printing "step VmHWM_kB" lines.
fn memory_child(spec: &str) {
    let f: Vec<&str> = spec.split('|').collect();
    let (photo_path, mask_path, out_path) = (Path::new(f[0]), Path::new(f[1]), Path::new(f[2]));
    let params = Params {
        px_per_mm: Some(f[3].parse().expect("px_per_mm")),
        density: f[4].parse().expect("density"),
        ..Params::default()
    };
    println!("start {}", vm_hwm_kb());
    let mut photo = io::load_photo(photo_path).expect("decode");
    println!("decode {}", vm_hwm_kb());
    let field = io::load_mask(mask_path, photo.width(), photo.height()).expect("mask");
    println!("mask {}", vm_hwm_kb());
    smpsim::render_mut(&mut photo, &field, &params).expect("render");
    println!("render {}", vm_hwm_kb());
    io::save_rgb(out_path, &photo, QUALITY).expect("encode");
    println!("encode {}", vm_hwm_kb());
}

/// Peak resident set size of this process so far, from /proc/self/status (0 where unavailable).
fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs of the release `smpsim render` binary under `/usr/bin/time -v`.
struct CliRuns {
    wall: Vec<f64>,
    max_rss_kb: Vec<u64>,
}

fn cli_runs(photo: &Path, mask: &Path, out: &Path, params: &Params) -> Option<CliRuns> {
    let exe = option_env!("CARGO_BIN_EXE_smpsim")?;
    if !Path::new("/usr/bin/time").exists() {
        eprintln!("ratios: /usr/bin/time is missing (apt-get install time): CLI peak memory not measured");
        return None;
    }
    let mut runs = CliRuns {
        wall: Vec::new(),
        max_rss_kb: Vec::new(),
    };
    for _ in 0..3 {
        let t = Instant::now();
        let o = Command::new("/usr/bin/time")
            .arg("-v")
            .arg(exe)
            .arg("render")
            .arg(photo)
            .arg("--mask")
            .arg(mask)
            .arg("-o")
            .arg(out)
            .arg("--json")
            .arg("--px-per-mm")
            .arg(params.px_per_mm.expect("scale").to_string())
            .arg("--density")
            .arg(params.density.to_string())
            .output()
            .ok()?;
        let wall = secs(t);
        if !o.status.success() {
            eprintln!("ratios: smpsim render failed: {}", String::from_utf8_lossy(&o.stderr));
            return None;
        }
        let rss = String::from_utf8_lossy(&o.stderr)
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse().ok())?;
        runs.wall.push(wall);
        runs.max_rss_kb.push(rss);
    }
    Some(runs)
}
