//! Before/after compositions of in-memory images.

use image::{imageops, Rgb, RgbImage};

use crate::field::PixelRect;

/// Background of the gaps between panels.
const GAP_COLOUR: Rgb<u8> = Rgb([255, 255, 255]);

/// `before` and `after` next to each other, left to right, with a `gap`-pixel white divider.
/// Both must be the same size.
#[must_use]
pub fn side_by_side(before: &RgbImage, after: &RgbImage, gap: u32) -> RgbImage {
    strip(&[before, after], gap)
}

/// Images left to right with `gap`-pixel white dividers, top-aligned (a before/after, or a strip of sessions
/// or years). The height is the tallest image's.
#[must_use]
pub fn strip(images: &[&RgbImage], gap: u32) -> RgbImage {
    let width = images.iter().map(|i| i.width()).sum::<u32>() + gap * images.len().saturating_sub(1) as u32;
    let height = images.iter().map(|i| i.height()).max().unwrap_or(0);
    let mut out = RgbImage::from_pixel(width, height, GAP_COLOUR);
    let mut x = 0i64;
    for img in images {
        imageops::replace(&mut out, *img, x, 0);
        x += (img.width() + gap) as i64;
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
        let z = zoomed_pair(
            &a,
            &b,
            PixelRect {
                x0: 1,
                y0: 1,
                x1: 3,
                y1: 2,
            },
            3,
            1,
        );
        assert_eq!(z.dimensions(), (13, 3));
        assert_eq!(z.get_pixel(7, 2).0, [200, 0, 0]);
    }
}
