//! `smpsim batch` of 50 photos with `--jobs 1` and `--jobs N` (N = the cores): how the wall time scales, and
//! whether peak memory stays within jobs × one photo's peak (issue 8).
//!
//! `cargo bench --bench batch` writes 50 synthetic 12 MP consultation photos (JPEG, each with its own mask
//! sidecar `NAME.mask.png`) into a temporary folder, then runs the release binary under `/usr/bin/time -v`
//! (`apt-get install time`): one `smpsim render` of one photo for the single-photo peak, and the batch at
//! each job count, interleaved twice. Prints a markdown table.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

mod common;

const PHOTOS: usize = 50;

/// (wall seconds, max RSS in kB) of a command under /usr/bin/time -v.
fn timed(args: &[&std::ffi::OsStr]) -> (f64, u64) {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .args(args)
        .output()
        .expect("/usr/bin/time runs");
    let wall = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rss = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .expect("max RSS in /usr/bin/time's output");
    (wall, rss)
}

fn main() {
    let exe = env!("CARGO_BIN_EXE_smpsim");
    if !Path::new("/usr/bin/time").exists() {
        eprintln!("batch: /usr/bin/time is missing (apt-get install time)");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    eprintln!("batch: writing {PHOTOS} photos of 4000×3000 …");
    let scene = common::head_scene(common::WIDTH, common::HEIGHT);
    let jpeg = smpsim::io::encode_jpeg(&scene.photo, 90).unwrap();
    for i in 0..PHOTOS {
        std::fs::write(photos.join(format!("client{i:02}.jpg")), &jpeg).unwrap();
        smpsim::io::save_gray(&photos.join(format!("client{i:02}.mask.png")), &scene.mask).unwrap();
    }
    let config = dir.path().join("smpsim.toml");
    std::fs::write(&config, format!("[treatment]\npx_per_mm = {}\n", scene.px_per_mm)).unwrap();

    let one_out = dir.path().join("one.jpg");
    let (one_wall, one_rss) = timed(&[
        exe.as_ref(),
        "render".as_ref(),
        photos.join("client00.jpg").as_os_str(),
        "--mask".as_ref(),
        photos.join("client00.mask.png").as_os_str(),
        "--px-per-mm".as_ref(),
        scene.px_per_mm.to_string().as_ref(),
        "-o".as_ref(),
        one_out.as_os_str(),
    ]);

    let cores = common::all_cores();
    let mut jobs = vec![1, cores];
    jobs.dedup();
    let mut results: Vec<(usize, Vec<f64>, Vec<u64>)> = jobs.iter().map(|&j| (j, Vec::new(), Vec::new())).collect();
    for round in 0..2 {
        for (j, walls, rsss) in results.iter_mut() {
            eprintln!("batch: round {}, --jobs {j} …", round + 1);
            let out = dir.path().join(format!("out-{j}-{round}"));
            let (wall, rss) = timed(&[
                exe.as_ref(),
                "batch".as_ref(),
                photos.as_os_str(),
                "-o".as_ref(),
                out.as_os_str(),
                "--config".as_ref(),
                config.as_os_str(),
                "--jobs".as_ref(),
                j.to_string().as_ref(),
                "--quiet".as_ref(),
            ]);
            walls.push(wall);
            rsss.push(rss);
            std::fs::remove_dir_all(&out).unwrap();
        }
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::MAX, f64::min);
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!("## smpsim batch: {PHOTOS} photos of 4000×3000 (JPEG + mask), {cores} logical CPUs\n");
    println!(
        "Best of 2 interleaved runs each. One `smpsim render` of one photo: {one_wall:.2} s, peak {:.0} MiB.\n",
        mb(one_rss)
    );
    println!("| --jobs | wall s | photos/s | speed-up | peak RSS MiB | ÷ (jobs × one photo's peak) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let base = best(&results[0].1);
    for (j, walls, rsss) in &results {
        let wall = best(walls);
        let peak = *rsss.iter().max().unwrap();
        println!(
            "| {j} | {wall:.1} | {:.2} | {:.2}× | {:.0} | {:.2} |",
            PHOTOS as f64 / wall,
            base / wall,
            mb(peak),
            peak as f64 / (*j as f64 * one_rss as f64)
        );
    }
    println!(
        "\nLoad average at the end: {}",
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
}
