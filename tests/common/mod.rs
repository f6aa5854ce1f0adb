//! What several integration tests share.

use std::path::{Path, PathBuf};

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
