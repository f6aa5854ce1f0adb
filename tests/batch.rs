//! `smpsim batch`: statuses, exit codes, resume after a kill, shards, and identity with single renders.

use assert_cmd::Command;
use smpsim::synth::SyntheticHead;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn smpsim() -> Command {
    Command::cargo_bin("smpsim").unwrap()
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const DESIGN: &str = include_str!("../fixtures/head.hairline.toml");

/// A small synthetic consultation photo `dir/NAME.jpg`, with a mask or a hairline design beside it.
fn photo(dir: &Path, name: &str, seed: u32, design: &str, size: (u32, u32)) -> PathBuf {
    let head = SyntheticHead {
        width: size.0,
        height: size.1,
        px_per_mm: 9.0 * size.0 as f32 / 1600.0,
        seed,
        ..SyntheticHead::default()
    };
    let (img, mask) = head.generate();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{name}.jpg"));
    smpsim::io::save_rgb(&path, &img, 92).unwrap();
    match design {
        "mask" => mask.save(dir.join(format!("{name}.mask.png"))).unwrap(),
        "hairline" => std::fs::write(dir.join(format!("{name}.hairline.toml")), DESIGN).unwrap(),
        _ => {}
    }
    path
}

/// The fixture folder: two good photos, a nested one, a corrupt, a truncated and one without a design.
fn folder(root: &Path) -> PathBuf {
    let input = root.join("in");
    photo(&input, "anna", 1, "mask", (400, 300));
    photo(&input, "ben", 2, "hairline", (400, 300));
    photo(&input.join("day2"), "cleo", 3, "mask", (400, 300));
    photo(&input, "nodesign", 4, "none", (400, 300));
    let corrupt = photo(&input, "corrupt", 5, "mask", (400, 300));
    std::fs::write(&corrupt, b"\xff\xd8\xff\xe0 not a jpeg at all").unwrap();
    let truncated = photo(&input, "truncated", 6, "mask", (400, 300));
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(
        input.join("smpsim.toml"),
        "[treatment]\npx_per_mm = 2.25\nseed = 9\n[output]\ncompare = true\n",
    )
    .unwrap();
    input
}

/// `smpsim render PHOTO DESIGN_FLAG DESIGN -o OUT` with the batch folders' settings (2.25 px/mm, seed 9):
/// the bytes it wrote.
fn single_render(photo: &Path, design_flag: &str, design: &Path, out: &Path) -> Vec<u8> {
    let o = smpsim()
        .arg("render")
        .arg(photo)
        .arg(design_flag)
        .arg(design)
        .args(["--px-per-mm", "2.25", "--seed", "9", "-o"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    std::fs::read(out).unwrap()
}

fn report(out: &Path, name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join(name)).unwrap()).unwrap()
}

fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["photo"].as_str().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn s(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[test]
fn statuses_exit_code_resume_and_force() {
    let dir = tempfile::tempdir().unwrap();
    let input = folder(dir.path());
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        smpsim()
            .arg("batch")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(["--jobs", "2", "--csv"])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&["--recursive"]);
    assert_eq!(o.status.code(), Some(3), "some photos failed: {}", stderr_of(&o));
    let r = report(&out, "report.json");
    assert_eq!(
        statuses(&r),
        vec![
            s("anna.jpg", "rendered"),
            s("ben.jpg", "rendered"),
            s("corrupt.jpg", "failed"),
            s("day2/cleo.jpg", "rendered"),
            s("nodesign.jpg", "no-design"),
            s("truncated.jpg", "failed"),
        ]
    );
    let corrupt = &r["photos"][2];
    assert!(corrupt["error"].as_str().unwrap().contains("corrupt.jpg"), "{corrupt}");
    assert!(r["photos"][0]["impressions"].as_u64().unwrap() > 100);
    for f in [
        "anna.jpg",
        "anna.compare.jpg",
        "ben.jpg",
        "day2/cleo.jpg",
        "day2/cleo.compare.jpg",
        "report.csv",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(out.join("report.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7);
    assert!(csv.contains("\"nodesign.jpg\",no-design"));

    // A rerun leaves up-to-date results alone; --force redoes them.
    let o = run(&["--recursive"]);
    assert_eq!(o.status.code(), Some(3));
    let r = report(&out, "report.json");
    assert_eq!(statuses(&r)[0], s("anna.jpg", "up-to-date"));
    assert_eq!(statuses(&r)[3], s("day2/cleo.jpg", "up-to-date"));
    let o = run(&["--recursive", "--force"]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(statuses(&report(&out, "report.json"))[0], s("anna.jpg", "rendered"));

    // Without --recursive the nested photo is not looked at; a changed sidecar makes a photo stale again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(input.join("ben.toml"), "[treatment]\ndensity = 80\n").unwrap();
    let o = run(&[]);
    let names: Vec<String> = statuses(&report(&out, "report.json"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(!names.contains(&"day2/cleo.jpg".to_string()));
    assert_eq!(
        statuses(&report(&out, "report.json"))[1],
        s("ben.jpg", "rendered"),
        "{}",
        stderr_of(&o)
    );
}

#[test]
fn batch_results_are_byte_identical_to_single_renders() {
    let dir = tempfile::tempdir().unwrap();
    let input = folder(dir.path());
    let out = dir.path().join("out");
    smpsim().arg("batch").arg(&input).arg("-o").arg(&out).output().unwrap();
    for (name, design) in [("anna", "--mask"), ("ben", "--hairline")] {
        let single = dir.path().join(format!("{name}_single.jpg"));
        let sidecar = if design == "--mask" {
            format!("{name}.mask.png")
        } else {
            format!("{name}.hairline.toml")
        };
        let alone = single_render(
            &input.join(format!("{name}.jpg")),
            design,
            &input.join(sidecar),
            &single,
        );
        assert!(
            alone == std::fs::read(out.join(format!("{name}.jpg"))).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn shards_cover_the_folder_once_and_their_reports_merge() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    for i in 0..12 {
        photo(&input, &format!("client{i:02}"), i, "mask", (160, 120));
    }
    let out = dir.path().join("out");
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for k in 1..=3 {
        let o = smpsim()
            .arg("batch")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(["--shard", &format!("{k}/3")])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr_of(&o));
        let r = report(&out, &format!("report.shard-{k}-of-3.json"));
        for (name, status) in statuses(&r) {
            assert_eq!(status, "rendered");
            total += 1;
            seen.insert(name);
        }
    }
    assert_eq!(total, 12, "a photo was in two shards");
    assert_eq!(seen.len(), 12, "a photo was in no shard");
    let merged = out.join("report.json");
    let o = smpsim()
        .arg("merge-reports")
        .args((1..=3).map(|k| out.join(format!("report.shard-{k}-of-3.json"))))
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(statuses(&report(&out, "report.json")).len(), 12);
    // A bad shard is a usage error.
    let o = smpsim()
        .arg("batch")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--shard", "4/3"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_killed_batch_resumes_with_every_output_once_and_no_partial_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let n = 10;
    for i in 0..n {
        photo(&input, &format!("client{i:02}"), i, "mask", (1200, 900));
    }
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("smpsim"))
        .arg("batch")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--jobs", "1", "--quiet"])
        .spawn()
        .unwrap();
    // Kill it once the first result is out, while others are being written.
    let start = std::time::Instant::now();
    while !out.join("client00.jpg").exists() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(30));
    child.kill().unwrap();
    child.wait().unwrap();
    let written_before = std::fs::read_dir(&out).unwrap().filter(|e| {
        let name = e.as_ref().unwrap().file_name().to_string_lossy().into_owned();
        name.starts_with("client") && name.ends_with(".jpg")
    });
    assert!(
        written_before.count() < n as usize,
        "the batch finished before it was killed"
    );
    let o = smpsim().arg("batch").arg(&input).arg("-o").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let r = report(&out, "report.json");
    let st = statuses(&r);
    assert!(
        st.iter().any(|(_, s)| s == "up-to-date"),
        "nothing kept from the first run: {st:?}"
    );
    assert!(st.iter().all(|(_, s)| s == "up-to-date" || s == "rendered"));
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = (0..n).map(|i| format!("client{i:02}.jpg")).collect();
    want.push("report.json".into());
    assert_eq!(names, want, "exactly one output per photo, no temporary files");
    for i in 0..n {
        image::open(out.join(format!("client{i:02}.jpg"))).expect("a whole image");
    }
}

#[test]
fn an_output_folder_equal_to_the_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = folder(dir.path());
    let o = smpsim()
        .arg("batch")
        .arg(&input)
        .arg("-o")
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("input folder"));
    // Inside it, results are written but never picked up as photos.
    let inner = input.join("results");
    let run_into_inner = || {
        smpsim()
            .arg("batch")
            .arg(&input)
            .arg("-o")
            .arg(&inner)
            .arg("--recursive")
            .output()
            .unwrap()
    };
    run_into_inner();
    let o = run_into_inner();
    let names: Vec<String> = statuses(&report(&inner, "report.json"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with("results")),
        "{names:?} {}",
        stderr_of(&o)
    );
}

#[test]
fn the_documented_config_example_is_valid() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/smpsim.toml"));
    let table = smpsim::config::read_table(path).unwrap();
    let config = smpsim::config::from_layers(&[&table], "smpsim.toml").unwrap();
    assert_eq!(config.treatment.shade, smpsim::pigment::ShadeSpec::Auto);
    assert!(config.output.compare);
}

#[test]
fn photos_differing_only_in_extension_each_get_their_own_results() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    // gus.jpg and gus.png are different photos sharing the design gus.mask.png.
    photo(&input, "gus", 7, "mask", (400, 300));
    let other = SyntheticHead {
        width: 400,
        height: 300,
        px_per_mm: 2.25,
        seed: 8,
        ..SyntheticHead::default()
    };
    other.generate().0.save(input.join("gus.png")).unwrap();
    std::fs::write(input.join("smpsim.toml"), "[treatment]\npx_per_mm = 2.25\nseed = 9\n").unwrap();
    let out = dir.path().join("out");
    let o = smpsim().arg("batch").arg(&input).arg("-o").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));

    let written: BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gus"))
        .collect();
    assert_eq!(
        written,
        BTreeSet::from(["gus_jpg.jpg".to_string(), "gus_png.jpg".to_string()])
    );
    let outputs: Vec<String> = report(&out, "report.json")["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["outputs"][0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outputs, ["gus_jpg.jpg", "gus_png.jpg"]);
    // Each is its own photo's render.
    for ext in ["jpg", "png"] {
        let single = dir.path().join(format!("single_{ext}.jpg"));
        let alone = single_render(
            &input.join(format!("gus.{ext}")),
            "--mask",
            &input.join("gus.mask.png"),
            &single,
        );
        assert!(
            alone == std::fs::read(out.join(format!("gus_{ext}.jpg"))).unwrap(),
            "gus.{ext}"
        );
    }
}
