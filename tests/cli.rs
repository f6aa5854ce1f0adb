//! The real `smpsim` binary, run in a temporary folder.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

mod common;
use common::{fixture_params, FIXTURE_MASK, FIXTURE_PHOTO};

fn smpsim() -> Command {
    Command::cargo_bin("smpsim").unwrap()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs a `smpsim render` command with `--json` added: asserts it succeeded; its summary and its stderr.
fn render_json(command: &mut Command) -> (serde_json::Value, String) {
    let o = command.arg("--json").output().unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    (serde_json::from_slice(&o.stdout).unwrap(), stderr_of(&o))
}

fn render_fixture(dir: &Path, name: &str, extra: &[&str], threads: &str) -> (PathBuf, std::process::Output) {
    let out = dir.join(name);
    let output = smpsim()
        .env("RAYON_NUM_THREADS", threads)
        .args(["render", FIXTURE_PHOTO, "--mask", FIXTURE_MASK, "-o"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    (out, output)
}

#[test]
fn render_writes_the_after_image_and_a_json_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (out, o) = render_fixture(
        dir.path(),
        "after.jpg",
        &["--json", "--px-per-mm", "9", "--seed", "5"],
        "2",
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = v["impressions"].as_u64().unwrap() as f64;
    let area = v["treated_area_cm2"].as_f64().unwrap();
    assert_eq!(v["px_per_mm"].as_f64().unwrap(), 9.0);
    assert_eq!(v["px_per_mm_estimated"], false);
    // The default density is 100 per cm², and the count follows it over the mask's weighted area.
    assert!(
        (n / (100.0 * area) - 1.0).abs() < 0.05,
        "{n} impressions over {area} cm²"
    );
    for stage in ["decode", "mask", "place", "stamp", "encode", "total"] {
        assert!(v["seconds"][stage].as_f64().unwrap() >= 0.0, "missing stage {stage}");
    }
    let after = image::open(&out).unwrap().into_rgb8();
    let before = image::open(FIXTURE_PHOTO).unwrap().into_rgb8();
    assert_eq!(after.dimensions(), before.dimensions());
    // The treated top got darker on average; the untreated backdrop corner did not change beyond JPEG noise.
    let mean = |img: &image::RgbImage, x0: u32, y0: u32| {
        let mut s = 0u64;
        for y in y0..y0 + 50 {
            for x in x0..x0 + 50 {
                s += img.get_pixel(x, y).0.iter().map(|&c| c as u64).sum::<u64>();
            }
        }
        s as f64 / (50.0 * 50.0 * 3.0)
    };
    assert!(mean(&after, 775, 300) < mean(&before, 775, 300) - 1.0);
    assert!((mean(&after, 10, 10) - mean(&before, 10, 10)).abs() < 1.0);
}

#[test]
fn an_estimated_scale_is_printed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (_, o) = render_fixture(dir.path(), "after.png", &["--json"], "2");
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("estimated scale"), "{}", stderr_of(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["px_per_mm_estimated"], true);
    // The fixture is drawn at 9 px/mm; the estimate from the treated width lands within 10%.
    let s = v["px_per_mm"].as_f64().unwrap();
    assert!((s / 9.0 - 1.0).abs() < 0.1, "estimated {s} px/mm");
}

#[test]
fn output_is_byte_identical_on_1_2_and_8_threads() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = |threads: &str| {
        let (out, o) = render_fixture(dir.path(), &format!("t{threads}.png"), &[], threads);
        assert!(o.status.success(), "{}", stderr_of(&o));
        std::fs::read(out).unwrap()
    };
    let one = bytes("1");
    assert!(one == bytes("2"));
    assert!(one == bytes("8"));
}

#[test]
fn bad_parameters_exit_2_naming_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value, name) in [
        ("--density", "-3", "density"),
        ("--density", "NaN", "density"),
        ("--dot-size", "0", "dot_size"),
        ("--px-per-mm", "0", "px_per_mm"),
        ("--shade", "#12345z", "shade"),
    ] {
        let (out, o) = render_fixture(dir.path(), "x.jpg", &[flag, value], "1");
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {}", stderr_of(&o));
        assert!(stderr_of(&o).contains(name), "{flag} {value}: {}", stderr_of(&o));
        assert!(!out.exists());
    }
}

#[test]
fn unreadable_inputs_exit_1_naming_the_file_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.jpg");
    std::fs::write(&corrupt, b"\xff\xd8\xff\xe0 this is not really a JPEG").unwrap();
    let truncated = dir.path().join("truncated.jpg");
    std::fs::write(&truncated, &std::fs::read(FIXTURE_PHOTO).unwrap()[..5000]).unwrap();
    let small_mask = dir.path().join("small_mask.png");
    image::GrayImage::new(10, 10).save(&small_mask).unwrap();
    let missing = dir.path().join("missing.jpg");
    let cases: [(&Path, &Path, &str); 4] = [
        (&corrupt, Path::new(FIXTURE_MASK), "corrupt.jpg"),
        (&truncated, Path::new(FIXTURE_MASK), "truncated.jpg"),
        (&missing, Path::new(FIXTURE_MASK), "missing.jpg"),
        (Path::new(FIXTURE_PHOTO), &small_mask, "small_mask.png is 10x10"),
    ];
    for (photo, mask, expect) in cases {
        let out = dir.path().join("out.jpg");
        let o = smpsim()
            .arg("render")
            .arg(photo)
            .arg("--mask")
            .arg(mask)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{expect}: {}", stderr_of(&o));
        assert!(stderr_of(&o).contains(expect), "{expect}: {}", stderr_of(&o));
        // The operating system's reason once, not repeated as the error's cause.
        assert!(
            stderr_of(&o).matches("os error").count() <= 1,
            "{expect}: {}",
            stderr_of(&o)
        );
        assert!(!out.exists(), "{expect}: an output was written");
    }
    // Nothing but the inputs is left in the folder: no temporary files either.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.jpg");
    std::fs::copy(FIXTURE_PHOTO, &photo).unwrap();
    let original = std::fs::read(&photo).unwrap();
    let o = smpsim()
        .arg("render")
        .arg(&photo)
        .args(["--mask", FIXTURE_MASK, "-o"])
        .arg(&photo)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("overwrite"), "{}", stderr_of(&o));
    assert_eq!(std::fs::read(&photo).unwrap(), original);
}

#[test]
fn demo_writes_after_compare_closeup_and_design() {
    let dir = tempfile::tempdir().unwrap();
    let o = smpsim()
        .current_dir(dir.path())
        .args(["demo", "-o", "out"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let after = image::open(dir.path().join("out/after.jpg")).unwrap();
    let compare = image::open(dir.path().join("out/before_after.jpg")).unwrap();
    let closeup = image::open(dir.path().join("out/closeup.png")).unwrap();
    assert_eq!((after.width(), after.height()), (1600, 1200));
    assert_eq!((compare.width(), compare.height()), (1600 * 2 + 16, 1200));
    assert_eq!((closeup.width(), closeup.height()), (400 * 2 * 2 + 8, 300 * 2));
    assert!(std::fs::read_to_string(dir.path().join("out/slider.html"))
        .unwrap()
        .contains("role=\"slider\""));
    let design = image::open(dir.path().join("out/design.jpg")).unwrap();
    assert_eq!((design.width(), design.height()), (1600, 1200));
    // The after image differs from the bundled photo on the crown only.
    let before = image::open(FIXTURE_PHOTO).unwrap().into_rgb8();
    let after = after.into_rgb8();
    let changed = |x0: u32, y0: u32| {
        (y0..y0 + 40)
            .flat_map(|y| (x0..x0 + 40).map(move |x| (x, y)))
            .any(|(x, y)| {
                after
                    .get_pixel(x, y)
                    .0
                    .iter()
                    .zip(before.get_pixel(x, y).0)
                    .any(|(a, b)| a.abs_diff(b) > 12)
            })
    };
    assert!(changed(780, 250), "crown untouched");
    assert!(!changed(10, 10), "backdrop changed");
}

const FIXTURE_DESIGN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/head.hairline.toml");

#[test]
fn mask_writes_the_field_and_an_overlay_and_honours_exclusions() {
    let dir = tempfile::tempdir().unwrap();
    let exclude = dir.path().join("mole.png");
    // Exclude a 40 px square on the crown.
    image::GrayImage::from_fn(1600, 1200, |x, y| {
        image::Luma([if (780..820).contains(&x) && (280..320).contains(&y) {
            255
        } else {
            0
        }])
    })
    .save(&exclude)
    .unwrap();
    let (mask, overlay) = (dir.path().join("mask.png"), dir.path().join("overlay.png"));
    let o = smpsim()
        .args(["mask", FIXTURE_PHOTO, "--hairline", FIXTURE_DESIGN, "--exclude"])
        .arg(&exclude)
        .arg("-o")
        .arg(&mask)
        .arg("--overlay")
        .arg(&overlay)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let m = image::open(&mask).unwrap().into_luma8();
    assert_eq!(m.dimensions(), (1600, 1200));
    assert_eq!(m.get_pixel(800, 200).0[0], 255, "crown treated");
    assert_eq!(m.get_pixel(800, 300).0[0], 0, "excluded square");
    assert_eq!(m.get_pixel(800, 1100).0[0], 0, "forehead untreated");
    let ov = image::open(&overlay).unwrap().into_rgb8();
    let photo = image::open(FIXTURE_PHOTO).unwrap().into_rgb8();
    // The treated crown is tinted green over the photo.
    let (p, q) = (ov.get_pixel(800, 200).0, photo.get_pixel(800, 200).0);
    assert!(
        p[1] as i32 - q[1] as i32 > 10 && (p[0] as i32) < q[0] as i32,
        "{p:?} vs {q:?}"
    );
}

#[test]
fn render_from_a_hairline_alone_and_the_style_flag_changes_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let run = |style: &str| {
        let out = dir.path().join(format!("{style}.png"));
        let (v, _) = render_json(
            smpsim()
                .args([
                    "render",
                    FIXTURE_PHOTO,
                    "--hairline",
                    FIXTURE_DESIGN,
                    "--hairline-style",
                    style,
                    "-o",
                ])
                .arg(&out),
        );
        (v["impressions"].as_u64().unwrap(), std::fs::read(out).unwrap())
    };
    let (soft_n, soft) = run("soft");
    let (sharp_n, sharp) = run("sharp");
    assert!(soft_n > 3000 && sharp_n > 3000);
    assert!(soft != sharp);
    // A sharp edge has no 7 mm ramp to thin out, so it places more impressions over the same region.
    assert!(sharp_n > soft_n, "sharp {sharp_n} vs soft {soft_n}");
}

#[test]
fn a_bad_design_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.hairline.toml");
    std::fs::write(&bad, "[hairline]\npoints = [[0.1, 0.5], [0.9, 0.5]]\n").unwrap();
    let out = dir.path().join("m.png");
    let o = smpsim()
        .args(["mask", FIXTURE_PHOTO, "--hairline"])
        .arg(&bad)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("bad.hairline.toml: `hairline.points`"),
        "{}",
        stderr_of(&o)
    );
    assert!(!out.exists());
    // Neither a mask nor a hairline: a usage error from the argument parser.
    let o = smpsim()
        .args(["render", FIXTURE_PHOTO, "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn auto_shade_sessions_and_years_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("after.jpg");
    let strip = dir.path().join("strip.jpg");
    let (v, stderr) = render_json(
        smpsim()
            .args([
                "render",
                FIXTURE_PHOTO,
                "--mask",
                FIXTURE_MASK,
                "--px-per-mm",
                "9",
                "--shade",
                "auto",
            ])
            .args(["--session", "all", "--years", "0,5", "-o"])
            .arg(&out)
            .arg("--sheet")
            .arg(&strip),
    );
    assert!(stderr.contains("shade auto → hair #"), "{stderr}");
    assert!(v["auto_shade"]["reason"].as_str().unwrap().contains("hair"));
    assert!(v["shade"].as_str().unwrap().starts_with('#'));
    // 3 sessions × 2 ages, each its own file, impressions growing with the sessions.
    let variants = v["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 6);
    let count = |s: u64, y: f64| {
        variants
            .iter()
            .find(|x| x["session"] == s && x["years"].as_f64() == Some(y))
            .unwrap()["impressions"]
            .as_u64()
            .unwrap()
    };
    assert!(count(1, 0.0) < count(2, 0.0) && count(2, 0.0) < count(3, 0.0));
    assert_eq!(count(3, 0.0), count(3, 5.0));
    for name in ["after_s1_0y.jpg", "after_s2_5y.jpg", "after_s3_0y.jpg"] {
        assert!(dir.path().join(name).exists(), "{name} missing");
    }
    // The contact sheet: before plus six variants, 3 × 3 tiles of 800 × 600.
    let s = image::open(&strip).unwrap();
    assert_eq!((s.width(), s.height()), (3 * 800 + 2 * 16, 3 * 600 + 2 * 16));
}

#[test]
fn auto_mask_skin_only_and_a_fitted_head_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("after.png");
    let (v, stderr) = render_json(
        smpsim()
            .args([
                "render",
                FIXTURE_PHOTO,
                "--auto-mask",
                "--skin-only",
                "--head",
                "auto",
                "-o",
            ])
            .arg(&out),
    );
    assert!(stderr.contains("head outline fitted"), "{stderr}");
    // The fixture's head: centre (800, 720), radius 675 px, 9 px/mm.
    let head = &v["params"]["head"];
    assert!((head["centre"][0].as_f64().unwrap() - 800.0).abs() < 20.0, "{head}");
    assert!((head["radii"][0].as_f64().unwrap() - 675.0).abs() < 20.0, "{head}");
    assert!((v["px_per_mm"].as_f64().unwrap() - 9.0).abs() < 0.9);
    assert!(v["impressions"].as_u64().unwrap() > 5000);
    // The backdrop stays untouched.
    let after = image::open(&out).unwrap().into_rgb8();
    let before = image::open(FIXTURE_PHOTO).unwrap().into_rgb8();
    assert_eq!(after.get_pixel(20, 20), before.get_pixel(20, 20));
}

#[test]
fn a_head_in_the_design_file_is_used_unless_flat() {
    let dir = tempfile::tempdir().unwrap();
    let design = dir.path().join("with_head.hairline.toml");
    let text = std::fs::read_to_string(FIXTURE_DESIGN).unwrap();
    // The fixture's head: centre (800, 720) and radius 675 px of a 1600×1200 photo, as fractions.
    std::fs::write(
        &design,
        format!("{text}\n[head]\ncentre = [0.5, 0.6]\nradii = [0.421875, 0.5625]\n"),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        render_json(
            smpsim()
                .args(["render", FIXTURE_PHOTO, "--hairline"])
                .arg(&design)
                .arg("-o")
                .arg(dir.path().join("a.png"))
                .args(extra),
        )
        .0
    };
    let curved = run(&[]);
    assert_eq!(curved["params"]["head"]["radii"][0], 675.0);
    assert!(
        (curved["px_per_mm"].as_f64().unwrap() - 9.0).abs() < 1e-3,
        "scale from the head: {}",
        curved["px_per_mm"]
    );
    let flat = run(&["--flat", "--px-per-mm", "9"]);
    assert!(flat["params"]["head"].is_null());
    // Foreshortening raises the image-space count toward the silhouette.
    assert!(curved["impressions"].as_u64().unwrap() > flat["impressions"].as_u64().unwrap());
}

/// `smpsim render` places the impressions while the photo decodes; its PNG is byte for byte what the library
/// gives when it decodes first and then renders in one call.
#[test]
fn render_while_decoding_gives_the_library_s_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (out, o) = render_fixture(
        dir.path(),
        "after.png",
        &[
            "--px-per-mm",
            "9",
            "--seed",
            "5",
            "--density",
            "150",
            "--shade",
            "#3a3a3a",
        ],
        "2",
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let mut photo = smpsim::io::load_image(Path::new(FIXTURE_PHOTO)).unwrap();
    let field = smpsim::io::load_mask(Path::new(FIXTURE_MASK), photo.width(), photo.height()).unwrap();
    let stats = smpsim::render_image_mut(&mut photo, &field, &fixture_params()).unwrap();
    assert!(stats.impressions > 1000, "{} impressions", stats.impressions);
    let cli = image::open(&out).unwrap();
    assert!(
        cli.as_bytes() == photo.as_bytes(),
        "the CLI's render differs from the library's"
    );
}

/// A disk that fills up while the render is written: the file-size limit (`RLIMIT_FSIZE`, with `SIGXFSZ`
/// ignored) makes a write past 64 kB fail as a full disk would. The error names the output, the previous
/// file of that name is left as it was, and no temporary file stays behind.
#[cfg(target_os = "linux")]
#[test]
fn a_disk_that_fills_up_leaves_the_previous_output_and_no_partial_file() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("after.jpg");
    std::fs::write(&out, b"the render of last week").unwrap();
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("smpsim"));
    command
        .args(["render", FIXTURE_PHOTO, "--mask", FIXTURE_MASK, "-o"])
        .arg(&out);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 64 * 1024,
                rlim_max: 64 * 1024,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0
                || libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = command.output().unwrap();
    let stderr = stderr_of(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("after.jpg"), "{stderr}");
    assert_eq!(stderr.matches("File too large").count(), 1, "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"the render of last week");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["after.jpg"], "a temporary file was left");

    // The same render without the limit writes the whole image: the limit, not the render, failed it.
    let o = smpsim()
        .args(["render", FIXTURE_PHOTO, "--mask", FIXTURE_MASK, "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(std::fs::metadata(&out).unwrap().len() > 64 * 1024);
}
