//! The HTML slider page in a real headless browser (Debian's Chromium, driven by playwright-core from
//! `tests/browser/`). CI installs both (`.ci/run`) and sets SMPSIM_BROWSER_TESTS=1, which makes this test
//! required; elsewhere it runs when Chromium and the npm package are present and says so when they are not.

mod common;

use image::{Rgb, RgbImage};
use std::process::Command;

const BEFORE: [u8; 3] = [40, 90, 200]; // blue
const AFTER: [u8; 3] = [230, 140, 30]; // orange

fn png(colour: [u8; 3]) -> Vec<u8> {
    let img = RgbImage::from_pixel(1200, 800, Rgb(colour));
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

fn near(p: &Rgb<u8>, c: [u8; 3]) -> bool {
    p.0.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 24)
}

#[test]
fn the_slider_page_works_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("slider.html");
    let labels = ["Before".to_string(), "After".to_string()];
    let html = smpsim::compose::html_slider(&png(BEFORE), &png(AFTER), "image/png", &labels, "Test clinic");
    std::fs::write(&page, &html).unwrap();
    // Self-contained: nothing fetched from anywhere.
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src=\"/"));
    assert!(html.contains("default-src 'none'"));

    let Some(browser_dir) = common::browser_dir() else {
        return;
    };
    let shot = dir.path().join("shot");
    let out = Command::new("node")
        .arg(browser_dir.join("slider.mjs"))
        .arg(&page)
        .arg(&shot)
        .output()
        .expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["consoleErrors"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["pageErrors"].as_array().unwrap().len(), 0, "{r}");
    let requests = r["requests"].as_array().unwrap();
    assert!(
        requests
            .iter()
            .all(|u| u.as_str().unwrap().starts_with("file:") || u.as_str().unwrap().starts_with("data:")),
        "{r}"
    );
    assert_eq!(r["initial"], 50.0);
    assert_eq!(
        r["afterKeys"], 40.0,
        "five left-arrow presses move the divider 10%: {r}"
    );
    let dragged = r["afterDrag"].as_f64().unwrap();
    assert!((dragged - 25.0).abs() < 2.0, "dragged to {dragged}: {r}");
    assert_eq!(r["fullAfterClick"], true, "{r}");
    assert!(
        (r["shownWidth"].as_f64().unwrap() - 1200.0).abs() < 1.0,
        "100% on click: {r}"
    );
    assert!(r["phoneFrameWidth"].as_f64().unwrap() <= 390.0, "fits a phone: {r}");

    // Screenshots: before left of the divider, after right of it — at 50%, then at 25%.
    let frame = &r["frame"];
    let (fx, fy, fw, fh) = (
        frame["x"].as_f64().unwrap(),
        frame["y"].as_f64().unwrap(),
        frame["width"].as_f64().unwrap(),
        frame["height"].as_f64().unwrap(),
    );
    let at = |img: &RgbImage, fraction: f64| *img.get_pixel((fx + fw * fraction) as u32, (fy + fh * 0.75) as u32);
    let initial = image::open(format!("{}-initial.png", shot.display()))
        .unwrap()
        .into_rgb8();
    assert!(
        near(&at(&initial, 0.3), BEFORE) && near(&at(&initial, 0.7), AFTER),
        "{:?} {:?}",
        at(&initial, 0.3),
        at(&initial, 0.7)
    );
    let dragged = image::open(format!("{}-dragged.png", shot.display()))
        .unwrap()
        .into_rgb8();
    assert!(near(&at(&dragged, 0.15), BEFORE) && near(&at(&dragged, 0.35), AFTER));
}
