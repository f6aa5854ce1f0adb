//! Comparisons, close-ups and contact sheets: geometry and labels as documented in `smpsim::compose`.

use image::{Rgb, RgbImage};
use smpsim::compose::{compare, contact_sheet, Closeup, CompareOptions, Layout, GAP};
use smpsim::field::PixelRect;

const W: u32 = 600;
const H: u32 = 400;

/// A textured "before" (so crops can be checked pixel for pixel) and a flat "after".
fn images() -> (RgbImage, RgbImage) {
    let before = RgbImage::from_fn(W, H, |x, y| {
        Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 7) as u8 * 30])
    });
    let after = RgbImage::from_pixel(W, H, Rgb([200, 150, 120]));
    (before, after)
}

/// Whether the box at (x, y, w, h) holds a dark label backing with light text on it.
fn has_label(img: &RgbImage, x: u32, y: u32, w: u32, h: u32) -> bool {
    let (mut dark, mut light) = (0, 0);
    for yy in y..y + h {
        for xx in x..x + w {
            let p = img.get_pixel(xx, yy).0;
            if p.iter().all(|&c| c < 40) {
                dark += 1;
            }
            if p.iter().all(|&c| c > 200) {
                light += 1;
            }
        }
    }
    dark > (w * h / 4) as usize && light > 10
}

#[test]
fn side_by_side_and_stacked_geometry_with_labels() {
    let (before, after) = images();
    let text_h = (H as f32 * 0.04).round() as u32; // 16 px
    let margin = text_h / 2;
    let img = compare(&before, &after, &CompareOptions::new());
    assert_eq!(img.dimensions(), (2 * W + GAP, H));
    assert!(
        has_label(&img, margin, margin, text_h * 3, text_h),
        "no Before label at the top-left"
    );
    assert!(
        has_label(&img, W + GAP + margin, margin, text_h * 3, text_h),
        "no After label"
    );
    assert_eq!(img.get_pixel(W + GAP / 2, H / 2).0, [255, 255, 255], "white gap");
    assert_eq!(img.get_pixel(W + GAP + 300, 300).0, [200, 150, 120]);
    let stacked = compare(
        &before,
        &after,
        &CompareOptions {
            layout: Layout::Stacked,
            ..CompareOptions::new()
        },
    );
    assert_eq!(stacked.dimensions(), (W, 2 * H + GAP));
    assert!(has_label(&stacked, margin, H + GAP + margin, text_h * 3, text_h));
    // No labels asked for: none drawn.
    let bare = compare(
        &before,
        &after,
        &CompareOptions {
            labels: [String::new(), String::new()],
            ..CompareOptions::new()
        },
    );
    assert_eq!(
        bare.get_pixel(margin + 2, margin + 2),
        before.get_pixel(margin + 2, margin + 2)
    );
}

#[test]
fn split_divider_sits_where_asked() {
    let (before, after) = images();
    for at in [0.3f32, 0.5, 0.8] {
        let img = compare(
            &before,
            &after,
            &CompareOptions {
                layout: Layout::Split { at },
                ..CompareOptions::new()
            },
        );
        assert_eq!(img.dimensions(), (W, H));
        let x = (W as f32 * at).round() as u32;
        assert_eq!(img.get_pixel(x, H / 2).0, [255, 255, 255], "divider at {at}");
        assert_eq!(
            img.get_pixel(x - 5, H / 2),
            before.get_pixel(x - 5, H / 2),
            "before left of {at}"
        );
        assert_eq!(img.get_pixel(x + 5, H / 2).0, [200, 150, 120], "after right of {at}");
    }
}

#[test]
fn the_closeup_is_the_same_region_pixel_exact_and_the_caption_sits_below() {
    let (before, after) = images();
    let region = PixelRect {
        x0: 100,
        y0: 50,
        x1: 260,
        y1: 150,
    };
    let opts = CompareOptions {
        closeup: Some(Closeup { region, zoom: 1 }),
        caption: Some("Clinic · 2026-11-29".into()),
        ..CompareOptions::new()
    };
    let img = compare(&before, &after, &opts);
    let text_h = 16;
    assert_eq!(img.dimensions(), (2 * W + GAP, H + GAP + 100 + GAP + 2 * text_h));
    // 100%: the close-up's before panel is the photo's region, pixel for pixel (below its label).
    let top = H + GAP;
    for (x, y) in [(0, 60), (159, 99), (80, 40)] {
        assert_eq!(
            img.get_pixel(x, top + y),
            before.get_pixel(region.x0 + x, region.y0 + y),
            "({x},{y})"
        );
    }
    assert_eq!(
        img.get_pixel(160 + GAP + 80, top + 60).0,
        [200, 150, 120],
        "after panel"
    );
    // The caption: dark text on white in the last bar.
    let bar = H + GAP + 100 + GAP;
    let dark = (bar..bar + 2 * text_h)
        .flat_map(|y| (0..300).map(move |x| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 80)
        .count();
    assert!(dark > 50, "no caption text");
    // Zoom 2 doubles the panel.
    let z2 = compare(
        &before,
        &after,
        &CompareOptions {
            closeup: Some(Closeup { region, zoom: 2 }),
            ..CompareOptions::new()
        },
    );
    assert_eq!(z2.height(), H + GAP + 200);
    assert_eq!(z2.get_pixel(1, top + 120), before.get_pixel(region.x0, region.y0 + 60));
}

#[test]
fn max_width_caps_and_sheets_tile() {
    let (before, after) = images();
    let capped = compare(
        &before,
        &after,
        &CompareOptions {
            max_width: Some(600),
            ..CompareOptions::new()
        },
    );
    assert_eq!(capped.width(), 600);
    assert_eq!(capped.height(), (H as u64 * 600 / (2 * W + GAP) as u64) as u32);
    let tiles: Vec<(String, RgbImage)> = (0..5).map(|i| (format!("variant {i}"), after.clone())).collect();
    let sheet = contact_sheet(&tiles, 3, 300);
    assert_eq!(sheet.dimensions(), (3 * 300 + 2 * GAP, 2 * 200 + GAP));
    assert!(has_label(&sheet, 300 + GAP + 8, 8, 30, 14), "tile label");
}
