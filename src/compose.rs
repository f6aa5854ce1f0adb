//! Before/after outputs a clinic can hand to a client: comparisons in three layouts with labels and a caption,
//! a magnified close-up of the hairline, contact sheets of variants, and a self-contained HTML slider page.
//!
//! Geometry (documented, and tested): panels are separated by [`GAP`] white pixels; labels sit inside each
//! panel's top corner, `text::text_height_for` high with a dark backing box, a margin of half their
//! height from the edges; the close-up panel (before | after, magnified) sits under the comparison, and the
//! caption bar under everything.

use image::{imageops, Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use crate::field::{DensityField, PixelRect};
use crate::text::{label, measure, text_height_for};

/// White pixels between panels.
pub const GAP: u32 = 16;
const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([30, 30, 34]);
const BACKING: Rgb<u8> = Rgb([20, 20, 24]);
const DIVIDER: Rgb<u8> = Rgb([255, 255, 255]);

/// How before and after are put together.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Before on the left, after on the right.
    #[default]
    SideBySide,
    /// Before above, after below.
    Stacked,
    /// One image: before left of a divider at `at` (0–1 of the width), after right of it.
    Split {
        /// Divider position as a fraction of the width.
        at: f32,
    },
}

impl std::str::FromStr for Layout {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "side-by-side" => Ok(Layout::SideBySide),
            "stacked" => Ok(Layout::Stacked),
            "split" => Ok(Layout::Split { at: 0.5 }),
            _ => Err(crate::Error::param(
                "layout",
                format!("{s:?}"),
                "expected side-by-side, stacked or split",
            )),
        }
    }
}

/// A magnified crop of the same region of before and after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Closeup {
    /// The region, in photo pixels.
    pub region: PixelRect,
    /// Magnification: 1 = 100% (one photo pixel per output pixel), 2 = 200%, …
    pub zoom: u32,
}

/// Everything a comparison can carry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompareOptions {
    /// The layout.
    pub layout: Layout,
    /// Labels of the two panels; empty strings draw none. Default: "Before", "After".
    pub labels: [String; 2],
    /// A caption line under the image (the clinic's name and the date, say).
    pub caption: Option<String>,
    /// A close-up panel under the comparison.
    pub closeup: Option<Closeup>,
    /// Largest width of the result; larger results are scaled down (for sharing by message).
    pub max_width: Option<u32>,
}

impl CompareOptions {
    /// Side by side with the default labels.
    pub fn new() -> Self {
        CompareOptions {
            labels: ["Before".into(), "After".into()],
            ..Default::default()
        }
    }
}

/// `before` and `after` next to each other, left to right, with a `gap`-pixel white divider, no labels.
#[must_use]
pub fn side_by_side(before: &RgbImage, after: &RgbImage, gap: u32) -> RgbImage {
    strip(&[before, after], gap)
}

/// Images left to right with `gap`-pixel white dividers, top-aligned. The height is the tallest image's.
#[must_use]
pub fn strip(images: &[&RgbImage], gap: u32) -> RgbImage {
    let width = images.iter().map(|i| i.width()).sum::<u32>() + gap * images.len().saturating_sub(1) as u32;
    let height = images.iter().map(|i| i.height()).max().unwrap_or(0);
    let mut out = RgbImage::from_pixel(width, height, WHITE);
    let mut x = 0i64;
    for img in images {
        imageops::replace(&mut out, *img, x, 0);
        x += (img.width() + gap) as i64;
    }
    out
}

/// Images top to bottom with `gap`-pixel white dividers, left-aligned.
fn column(images: &[&RgbImage], gap: u32) -> RgbImage {
    let width = images.iter().map(|i| i.width()).max().unwrap_or(0);
    let height = images.iter().map(|i| i.height()).sum::<u32>() + gap * images.len().saturating_sub(1) as u32;
    let mut out = RgbImage::from_pixel(width, height, WHITE);
    let mut y = 0i64;
    for img in images {
        imageops::replace(&mut out, *img, 0, y);
        y += (img.height() + gap) as i64;
    }
    out
}

/// The same region of `before` and `after`, each enlarged `zoom` times with nearest-neighbour sampling (so every
/// photo pixel stays a crisp square: what a clinician sees at 100%, 200%, …), side by side.
#[must_use]
pub fn zoomed_pair(before: &RgbImage, after: &RgbImage, region: PixelRect, zoom: u32, gap: u32) -> RgbImage {
    let crop = |img: &RgbImage| {
        let c = imageops::crop_imm(img, region.x0, region.y0, region.width(), region.height()).to_image();
        imageops::resize(&c, c.width() * zoom, c.height() * zoom, imageops::FilterType::Nearest)
    };
    side_by_side(&crop(before), &crop(after), gap)
}

/// A `width`×`height` window on the front edge of the treated region at mid-width, for a close-up: the row
/// where density first reaches half, seen from the front (the bottom), sits 60% of the way down, so the
/// window shows the ramp, strays and bare skin. The whole field's middle if it is empty.
pub fn front_edge_region(field: &DensityField, width: u32, height: u32) -> PixelRect {
    let (w, h) = (field.width(), field.height());
    let (rw, rh) = (width.min(w).max(1), height.min(h).max(1));
    let bbox = field.bounding_box().unwrap_or(PixelRect::new(0, 0, w, h));
    let cx = (bbox.x0 + bbox.x1) / 2;
    let front = (bbox.y0..bbox.y1)
        .rev()
        .find(|&y| field.level(cx, y) >= 128)
        .unwrap_or((bbox.y0 + bbox.y1) / 2);
    let x0 = cx.saturating_sub(rw / 2).min(w - rw);
    let y0 = front.saturating_sub(rh * 3 / 5).min(h - rh);
    PixelRect {
        x0,
        y0,
        x1: x0 + rw,
        y1: y0 + rh,
    }
}

/// Labels the two panels of a comparison drawn at `boxes` (each panel's rectangle in `img`).
fn label_panels(
    img: &mut RgbImage,
    labels: &[String; 2],
    boxes: [PixelRect; 2],
    text_h: u32,
    right_align_second: bool,
) {
    let margin = (text_h / 2) as i32;
    for (i, (text, b)) in labels.iter().zip(boxes).enumerate() {
        if text.is_empty() {
            continue;
        }
        let (tw, _) = measure(text, text_h);
        let box_w = tw as i32 + 2 * (text_h / 3).max(2) as i32;
        let x = if i == 1 && right_align_second {
            b.x1 as i32 - margin - box_w
        } else {
            b.x0 as i32 + margin
        };
        label(img, text, x, b.y0 as i32 + margin, text_h, WHITE, BACKING);
    }
}

/// A before/after comparison as the options ask: layout, labels, close-up, caption, size cap.
#[must_use]
pub fn compare(before: &RgbImage, after: &RgbImage, options: &CompareOptions) -> RgbImage {
    let (w, h) = before.dimensions();
    let text_h = text_height_for(h);
    let (mut main, boxes, right_align) = match options.layout {
        Layout::SideBySide => (
            side_by_side(before, after, GAP),
            [PixelRect::new(0, 0, w, h), PixelRect::new(w + GAP, 0, 2 * w + GAP, h)],
            false,
        ),
        Layout::Stacked => (
            column(&[before, after], GAP),
            [PixelRect::new(0, 0, w, h), PixelRect::new(0, h + GAP, w, 2 * h + GAP)],
            false,
        ),
        Layout::Split { at } => {
            let split = split_x(w, at);
            let mut img = after.clone();
            imageops::replace(&mut img, &imageops::crop_imm(before, 0, 0, split, h).to_image(), 0, 0);
            let line = (w / 400).max(2);
            for y in 0..h {
                for x in split.saturating_sub(line / 2)..(split + line.div_ceil(2)).min(w) {
                    img.put_pixel(x, y, DIVIDER);
                }
            }
            (
                img,
                [PixelRect::new(0, 0, split, h), PixelRect::new(split, 0, w, h)],
                true,
            )
        }
    };
    label_panels(&mut main, &options.labels, boxes, text_h, right_align);
    let mut parts = vec![main];
    if let Some(c) = options.closeup {
        let mut pair = zoomed_pair(before, after, c.region, c.zoom, GAP);
        let zoom_label = format!("{}%", c.zoom * 100);
        let half = c.region.width() * c.zoom;
        let ph = pair.height();
        let labels = [
            format!("{} {zoom_label}", options.labels[0]),
            format!("{} {zoom_label}", options.labels[1]),
        ];
        let boxes = [
            PixelRect::new(0, 0, half, ph),
            PixelRect::new(half + GAP, 0, 2 * half + GAP, ph),
        ];
        label_panels(&mut pair, &labels, boxes, text_h, false);
        parts.push(pair);
    }
    if let Some(caption) = &options.caption {
        let width = parts.iter().map(|p| p.width()).max().unwrap_or(w);
        let mut bar = RgbImage::from_pixel(width, text_h * 2, WHITE);
        label(
            &mut bar,
            caption,
            (text_h / 2) as i32,
            (text_h / 6) as i32,
            text_h,
            INK,
            WHITE,
        );
        parts.push(bar);
    }
    let out = if parts.len() == 1 {
        parts.pop().unwrap()
    } else {
        column(&parts.iter().collect::<Vec<_>>(), GAP)
    };
    cap_width(out, options.max_width)
}

/// The divider's column for a split at fraction `at` of `width`.
pub fn split_x(width: u32, at: f32) -> u32 {
    ((width as f32 * at.clamp(0.0, 1.0)).round() as u32).min(width)
}

/// Scales `img` down (Lanczos) to at most `max_width` wide, keeping its aspect.
pub fn cap_width(img: RgbImage, max_width: Option<u32>) -> RgbImage {
    match max_width {
        Some(m) if m > 0 && img.width() > m => {
            let h = ((img.height() as u64 * m as u64) / img.width() as u64).max(1) as u32;
            imageops::resize(&img, m, h, imageops::FilterType::Lanczos3)
        }
        _ => img,
    }
}

/// A contact sheet: labelled tiles in rows of `columns`, each tile scaled to `tile_width`.
#[must_use]
pub fn contact_sheet(tiles: &[(String, RgbImage)], columns: u32, tile_width: u32) -> RgbImage {
    let columns = columns.max(1);
    let scaled: Vec<(String, RgbImage)> = tiles
        .iter()
        .map(|(l, img)| (l.clone(), cap_width(img.clone(), Some(tile_width))))
        .collect();
    let tile_h = scaled.iter().map(|(_, i)| i.height()).max().unwrap_or(0);
    let rows = (tiles.len() as u32).div_ceil(columns);
    let width = columns * tile_width + (columns - 1) * GAP;
    let height = rows * tile_h + rows.saturating_sub(1) * GAP;
    let mut out = RgbImage::from_pixel(width, height, WHITE);
    let text_h = text_height_for(tile_h).min(28);
    for (k, (text, img)) in scaled.iter().enumerate() {
        let (col, row) = (k as u32 % columns, k as u32 / columns);
        let (x, y) = (col * (tile_width + GAP), row * (tile_h + GAP));
        imageops::replace(&mut out, img, x as i64, y as i64);
        label(
            &mut out,
            text,
            (x + text_h / 2) as i32,
            (y + text_h / 2) as i32,
            text_h,
            WHITE,
            BACKING,
        );
    }
    out
}

/// Base64 (standard alphabet, padded) for embedding images in the HTML page.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n =
            (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained HTML page with a draggable, keyboard-accessible before/after slider. `before` and `after`
/// are encoded images (JPEG or PNG bytes) of the same size, embedded as data URIs: the page makes no network
/// request (its Content-Security-Policy forbids any) and runs no external script. It fits a phone or a
/// desktop; a click or tap without dragging shows the photo at 100%, another fits it again.
pub fn html_slider(before: &[u8], after: &[u8], mime: &str, labels: &[String; 2], title: &str) -> String {
    let src = |bytes: &[u8]| format!("data:{mime};base64,{}", base64(bytes));
    let (b, a) = (escape_html(&labels[0]), escape_html(&labels[1]));
    let title = escape_html(title);
    HTML_TEMPLATE
        .replace("{{TITLE}}", &title)
        .replace("{{BEFORE_LABEL}}", &b)
        .replace("{{AFTER_LABEL}}", &a)
        .replace("{{BEFORE}}", &src(before))
        .replace("{{AFTER}}", &src(after))
}

const HTML_TEMPLATE: &str = include_str!("slider.html");

/// The slider page ([`html_slider`]) for two images of the same size, each capped at `max_width` and embedded
/// as JPEG (quality 88: the page is for looking at, and a phone must open it).
pub fn slider_page(
    before: &RgbImage,
    after: &RgbImage,
    labels: &[String; 2],
    title: &str,
    max_width: u32,
) -> crate::Result<String> {
    let embed = |img: &RgbImage| crate::io::encode_jpeg(&cap_width(img.clone(), Some(max_width)), 88);
    Ok(html_slider(
        &embed(before)?,
        &embed(after)?,
        "image/jpeg",
        labels,
        title,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_land_where_documented() {
        let a = RgbImage::from_pixel(4, 3, Rgb([10, 10, 10]));
        let b = RgbImage::from_pixel(4, 3, Rgb([200, 0, 0]));
        let s = side_by_side(&a, &b, 2);
        assert_eq!(s.dimensions(), (10, 3));
        assert_eq!(s.get_pixel(3, 1).0, [10, 10, 10]);
        assert_eq!(s.get_pixel(4, 1).0, [255, 255, 255]);
        assert_eq!(s.get_pixel(6, 1).0, [200, 0, 0]);
        let z = zoomed_pair(&a, &b, PixelRect::new(1, 1, 3, 2), 3, 1);
        assert_eq!(z.dimensions(), (13, 3));
        assert_eq!(z.get_pixel(7, 2).0, [200, 0, 0]);
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
