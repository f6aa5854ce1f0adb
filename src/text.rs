//! Labels and captions, drawn with the DejaVu Sans Bold font shipped in `assets/fonts/` (its licence beside it),
//! so text looks the same on every machine and needs no system font.

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_text_mut, text_size};
use imageproc::rect::Rect;
use std::sync::OnceLock;

static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).expect("the bundled font parses"))
}

/// A legible text height for an image `height` pixels tall: 4% of it, at least 14 px.
pub fn text_height_for(height: u32) -> u32 {
    ((height as f32 * 0.04).round() as u32).max(14)
}

/// Width and height in pixels of `text` at `height` px.
pub fn measure(text: &str, height: u32) -> (u32, u32) {
    text_size(PxScale::from(height as f32), font(), text)
}

/// Draws `text` at (x, y) (top-left of its box) in `colour` on a `backing` box with a margin of a third of the
/// text height, so it reads on any photo. Returns the box drawn.
pub fn label(img: &mut RgbImage, text: &str, x: i32, y: i32, height: u32, colour: Rgb<u8>, backing: Rgb<u8>) -> Rect {
    let (w, h) = measure(text, height);
    let pad = (height / 3).max(2);
    let rect = Rect::at(x, y).of_size(w + 2 * pad, h.max(height) + 2 * pad);
    draw_filled_rect_mut(img, rect, backing);
    draw_text_mut(
        img,
        colour,
        x + pad as i32,
        y + pad as i32,
        PxScale::from(height as f32),
        font(),
        text,
    );
    rect
}
