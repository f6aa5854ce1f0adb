//! What several integration tests share (each uses a part of it).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The bundled photo, a baseline 4:2:0 JPEG as cameras write them, and its mask.
pub const FIXTURE_PHOTO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/head.jpg");
pub const FIXTURE_MASK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/head_mask.png");

/// The settings tests render the fixture with when they compare two ways of rendering it: the CLI's
/// `--px-per-mm 9 --seed 5 --density 150 --shade #3a3a3a`.
pub fn fixture_params() -> smpsim::Params {
    smpsim::Params {
        px_per_mm: Some(9.0),
        seed: 5,
        density: 150.0,
        shade: "#3a3a3a".parse().unwrap(),
        ..Default::default()
    }
}

/// `tests/browser` when Debian's Chromium (or `$CHROMIUM`) and the playwright-core package are installed.
/// Otherwise `None` after saying so — unless `SMPSIM_BROWSER_TESTS` is set (CI sets it), which makes the
/// browser tests required and their absence a failure.
pub fn browser_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if Path::new(&chromium).exists() && dir.join("node_modules/playwright-core").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("SMPSIM_BROWSER_TESTS").is_none(),
        "SMPSIM_BROWSER_TESTS is set but Chromium or playwright-core is missing: run .ci/setup-browser"
    );
    eprintln!("skipping the browser part: install Chromium and playwright-core with .ci/setup-browser (CI does)");
    None
}
