//! The density field: how much of the full treatment density each pixel of the photo gets.

use image::GrayImage;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// A rectangle of pixels, `x0..x1` by `y0..y1` (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelRect {
    /// First column.
    pub x0: u32,
    /// First row.
    pub y0: u32,
    /// One past the last column.
    pub x1: u32,
    /// One past the last row.
    pub y1: u32,
}

impl PixelRect {
    /// The rectangle `x0..x1` by `y0..y1`.
    pub const fn new(x0: u32, y0: u32, x1: u32, y1: u32) -> Self {
        PixelRect { x0, y0, x1, y1 }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.x1 - self.x0
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.y1 - self.y0
    }
}

/// Fraction (0–1) of the full treatment density at every pixel of the photo, stored as 0–255.
///
/// 0 means untreated: no impression is centred there and no pigment reaches it, so a black mask region
/// (an ear, a mole, the background) is never touched. Values between give proportionally fewer impressions,
/// so a soft-brushed mask edge becomes a soft density edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DensityField {
    width: u32,
    height: u32,
    values: Vec<u8>,
}

impl DensityField {
    /// A field from a greyscale mask: white is full density, black none, grey that fraction.
    pub fn from_mask(mask: &GrayImage) -> Self {
        DensityField {
            width: mask.width(),
            height: mask.height(),
            values: mask.as_raw().clone(),
        }
    }

    /// Like [`DensityField::from_mask`], taking the mask's memory instead of copying it.
    pub fn from_mask_owned(mask: GrayImage) -> Self {
        let (width, height) = mask.dimensions();
        DensityField {
            width,
            height,
            values: mask.into_raw(),
        }
    }

    /// Like [`DensityField::from_mask`], but checks that the mask is the photo's size; `what` names the mask
    /// in the error.
    pub fn from_mask_sized(mask: &GrayImage, photo_w: u32, photo_h: u32, what: &str) -> Result<Self> {
        if mask.dimensions() != (photo_w, photo_h) {
            return Err(Error::SizeMismatch {
                what: what.to_string(),
                expected_w: photo_w,
                expected_h: photo_h,
                found_w: mask.width(),
                found_h: mask.height(),
            });
        }
        Ok(Self::from_mask(mask))
    }

    /// A field computed per pixel by `f(x, y)`, which returns the density fraction (clamped to 0–1; NaN is 0).
    /// Evaluated at pixel centres, in parallel by rows.
    pub fn from_fn(width: u32, height: u32, f: impl Fn(f32, f32) -> f32 + Sync) -> Self {
        let mut values = vec![0u8; width as usize * height as usize];
        if width > 0 {
            values.par_chunks_mut(width as usize).enumerate().for_each(|(y, row)| {
                for (x, v) in row.iter_mut().enumerate() {
                    *v = to_level(f(x as f32 + 0.5, y as f32 + 0.5));
                }
            });
        }
        DensityField { width, height, values }
    }

    /// A field computed row by row: `f(y, row)` fills one row of fractions (0–1; NaN is 0), in parallel.
    /// For fields whose per-row set-up (a polygon's crossings, say) is worth sharing across the row.
    pub fn from_row_fn(width: u32, height: u32, f: impl Fn(u32, &mut [f32]) + Sync) -> Self {
        let mut values = vec![0u8; width as usize * height as usize];
        if width > 0 {
            values.par_chunks_mut(width as usize).enumerate().for_each_init(
                || vec![0f32; width as usize],
                |buf, (y, row)| {
                    buf.fill(0.0);
                    f(y as u32, buf);
                    for (v, &x) in row.iter_mut().zip(buf.iter()) {
                        *v = to_level(x);
                    }
                },
            );
        }
        DensityField { width, height, values }
    }

    /// Removes density where `exclusion` is set: each pixel is multiplied by one minus the exclusion's value
    /// (white in an exclusion mask = no impressions there).
    pub fn exclude(&mut self, exclusion: &DensityField) -> Result<()> {
        let mut keep = exclusion.clone();
        keep.values.par_iter_mut().for_each(|v| *v = 255 - *v);
        self.multiply(&keep)
    }

    /// A field with the same fraction everywhere.
    pub fn uniform(width: u32, height: u32, fraction: f32) -> Self {
        DensityField {
            width,
            height,
            values: vec![to_level(fraction); width as usize * height as usize],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The stored level (0–255) at a pixel. Panics outside the field, like slice indexing.
    pub fn level(&self, x: u32, y: u32) -> u8 {
        self.values[y as usize * self.width as usize + x as usize]
    }

    /// The density fraction (0–1) at a pixel.
    pub fn get(&self, x: u32, y: u32) -> f32 {
        self.level(x, y) as f32 / 255.0
    }

    /// One row of levels (0–255).
    pub fn row(&self, y: u32) -> &[u8] {
        let w = self.width as usize;
        &self.values[y as usize * w..(y as usize + 1) * w]
    }

    /// The field as a greyscale image (white = full density): what `smpsim mask` writes.
    pub fn to_image(&self) -> GrayImage {
        GrayImage::from_raw(self.width, self.height, self.values.clone()).expect("size matches")
    }

    /// Sum of the density fraction over all pixels: the treated area in pixels, weighted by density.
    pub fn weighted_area_px(&self) -> f64 {
        let sum: u64 = self
            .values
            .par_chunks(1 << 16)
            // Summed in u32 (65536 × 255 cannot overflow it), which vectorises four times wider than u64.
            .map(|c| c.iter().map(|&v| v as u32).sum::<u32>() as u64)
            .sum();
        sum as f64 / 255.0
    }

    /// The smallest rectangle holding every pixel with a non-zero level, or `None` for an empty field.
    pub fn bounding_box(&self) -> Option<PixelRect> {
        let w = self.width as usize;
        if w == 0 {
            return None;
        }
        let rows: Vec<Option<(usize, usize)>> = self
            .values
            .par_chunks(w)
            .map(|row| {
                // Whole 64-byte blocks are tested with a vectorised OR before looking for the first byte:
                // most of a mask's rows are empty, and a byte-by-byte search of them dominated placement.
                const BLOCK: usize = 64;
                let any = |c: &[u8]| c.iter().fold(0u8, |a, &v| a | v) != 0;
                let head = row.chunks(BLOCK).position(any)?;
                let tail = row.chunks(BLOCK).rposition(any)?;
                let first = head * BLOCK + row[head * BLOCK..].iter().position(|&v| v > 0)?;
                let last_block = &row[..(tail * BLOCK + BLOCK).min(row.len())];
                let last = last_block.iter().rposition(|&v| v > 0)?;
                Some((first, last))
            })
            .collect();
        let y0 = rows.iter().position(Option::is_some)?;
        let y1 = rows.iter().rposition(Option::is_some)? + 1;
        let (x0, x1) = rows[y0..y1]
            .iter()
            .flatten()
            .fold((usize::MAX, 0), |(a, b), &(f, l)| (a.min(f), b.max(l + 1)));
        Some(PixelRect {
            x0: x0 as u32,
            y0: y0 as u32,
            x1: x1 as u32,
            y1: y1 as u32,
        })
    }

    /// Multiplies this field by another of the same size, pixel by pixel (e.g. a region times an exclusion).
    pub fn multiply(&mut self, other: &DensityField) -> Result<()> {
        if (other.width, other.height) != (self.width, self.height) {
            return Err(Error::SizeMismatch {
                what: "density field".into(),
                expected_w: self.width,
                expected_h: self.height,
                found_w: other.width,
                found_h: other.height,
            });
        }
        self.values
            .par_chunks_mut(1 << 16)
            .zip(other.values.par_chunks(1 << 16))
            .for_each(|(a, b)| {
                for (a, &b) in a.iter_mut().zip(b) {
                    *a = ((*a as u32 * b as u32 + 127) / 255) as u8;
                }
            });
        Ok(())
    }
}

/// Side of the squares of [`LevelBlocks`], in pixels.
const BLOCK: u32 = 16;

/// The least and greatest level in each [`BLOCK`]×[`BLOCK`] square of a field (the last row and column of
/// squares may be cut short by the field's edge).
///
/// Placement reads the level under each candidate point. Points of a tile cell lie on different pixel rows,
/// so each read of the field itself is a cache miss; the squares' table is 1/128 of the field's size and
/// stays in cache. A point is turned down on its square's greatest level, and where a square is uniform (as
/// most of a mask is: all 0 or all 255) its level is known without reading the field at all.
pub(crate) struct LevelBlocks {
    columns: usize,
    /// (least, greatest) per square, row by row.
    squares: Vec<(u8, u8)>,
    bounds: Option<PixelRect>,
    /// [`DensityField::weighted_area_px`], found on the same pass.
    pub(crate) weighted_area_px: f64,
}

impl LevelBlocks {
    /// The squares of `field`, in one parallel pass over it.
    pub(crate) fn new(field: &DensityField) -> Self {
        let (w, b) = (field.width as usize, BLOCK as usize);
        let columns = w.div_ceil(b);
        let mut squares = vec![(u8::MAX, u8::MIN); columns * (field.height as usize).div_ceil(b)];
        let mut level_sum = 0;
        if w > 0 {
            level_sum = squares
                .par_chunks_mut(columns)
                .zip(field.values.par_chunks(w * b))
                .with_max_len(1) // a task per row of squares, for either thread to take
                .map(|(out, rows)| {
                    let mut sum = 0u64;
                    for (square, x0) in out.iter_mut().zip((0..w).step_by(b)) {
                        let (least, greatest, total) = if x0 + b <= w {
                            square_levels(rows, w, x0)
                        } else {
                            edge_square_levels(rows, w, x0)
                        };
                        *square = (least, greatest);
                        sum += total as u64;
                    }
                    sum
                })
                .sum();
        }
        let bounds = Self::bounds(&squares, columns, field.width, field.height);
        LevelBlocks {
            columns,
            squares,
            bounds,
            weighted_area_px: level_sum as f64 / 255.0,
        }
    }

    /// The squares with a non-zero level, as a pixel rectangle clipped to the field.
    fn bounds(squares: &[(u8, u8)], columns: usize, width: u32, height: u32) -> Option<PixelRect> {
        let mut found: Option<(usize, usize, usize, usize)> = None;
        for (i, _) in squares.iter().enumerate().filter(|(_, s)| s.1 > 0) {
            let (c, r) = (i % columns, i / columns);
            found = Some(match found {
                None => (c, r, c, r),
                Some((c0, r0, c1, r1)) => (c0.min(c), r0.min(r), c1.max(c), r1.max(r)),
            });
        }
        let (c0, r0, c1, r1) = found?;
        let b = BLOCK as usize;
        Some(PixelRect {
            x0: (c0 * b) as u32,
            y0: (r0 * b) as u32,
            x1: (((c1 + 1) * b) as u32).min(width),
            y1: (((r1 + 1) * b) as u32).min(height),
        })
    }

    /// (least, greatest) level of the square holding pixel (x, y).
    #[inline]
    pub(crate) fn at(&self, x: u32, y: u32) -> (u8, u8) {
        self.squares[(y / BLOCK) as usize * self.columns + (x / BLOCK) as usize]
    }

    /// (least, greatest) level over the squares holding pixels `x0..=x1` by `y0..=y1` (inside the field).
    pub(crate) fn levels_in(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> (u8, u8) {
        let columns = (x0 / BLOCK) as usize..=(x1 / BLOCK) as usize;
        (y0 / BLOCK..=y1 / BLOCK)
            .flat_map(|row| &self.squares[row as usize * self.columns..][columns.clone()])
            .fold((u8::MAX, u8::MIN), |(lo, hi), &(l, g)| (lo.min(l), hi.max(g)))
    }

    /// A rectangle holding every pixel with a non-zero level (to the squares' edges), or `None` if there is
    /// none.
    pub(crate) fn bounding_box(&self) -> Option<PixelRect> {
        self.bounds
    }
}

/// (least, greatest, sum) of the levels of the full-width square whose left column is `x0`, in the strip
/// `rows` (up to [`BLOCK`] rows of `w` levels).
///
/// Sixteen lanes run down the square's rows and are reduced across once at the end, so the compiler keeps
/// them in vector registers (a square row is one 16-byte load); reducing the strip column by column through
/// arrays as long as the row took three times the instructions.
#[inline]
fn square_levels(rows: &[u8], w: usize, x0: usize) -> (u8, u8, u32) {
    const B: usize = BLOCK as usize;
    let (mut least, mut greatest, mut sum) = ([u8::MAX; B], [u8::MIN; B], [0u16; B]);
    for row in rows.chunks_exact(w) {
        let levels: &[u8; B] = row[x0..x0 + B].try_into().expect("a full square");
        for k in 0..B {
            least[k] = least[k].min(levels[k]);
            greatest[k] = greatest[k].max(levels[k]);
            // At most 16 rows × 255: fits a u16.
            sum[k] += levels[k] as u16;
        }
    }
    (
        least.into_iter().fold(u8::MAX, u8::min),
        greatest.into_iter().fold(u8::MIN, u8::max),
        sum.into_iter().map(u32::from).sum(),
    )
}

/// [`square_levels`] for the last square of a row of squares, cut short by the field's right edge.
fn edge_square_levels(rows: &[u8], w: usize, x0: usize) -> (u8, u8, u32) {
    rows.chunks_exact(w)
        .flat_map(|row| &row[x0..])
        .fold((u8::MAX, u8::MIN, 0), |(lo, hi, sum), &v| {
            (lo.min(v), hi.max(v), sum + v as u32)
        })
}

/// A fraction 0–1 as a level 0–255 (NaN and negatives are 0).
fn to_level(f: f32) -> u8 {
    if f.is_nan() {
        0
    } else {
        (f.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_blocks_hold_each_squares_least_and_greatest_level() {
        // 37×21: squares cut short at the right and bottom edges.
        let field = DensityField::from_fn(37, 21, |x, y| if x >= 20.0 && y >= 5.0 { (x + y) / 60.0 } else { 0.0 });
        let blocks = LevelBlocks::new(&field);
        for y in 0..21 {
            for x in 0..37 {
                let (lo, hi) = blocks.at(x, y);
                let (sx, sy) = (x / BLOCK * BLOCK, y / BLOCK * BLOCK);
                let levels: Vec<u8> = (sy..(sy + BLOCK).min(21))
                    .flat_map(|py| (sx..(sx + BLOCK).min(37)).map(move |px| (px, py)))
                    .map(|(px, py)| field.level(px, py))
                    .collect();
                assert_eq!((lo, hi), (*levels.iter().min().unwrap(), *levels.iter().max().unwrap()));
            }
        }
        assert_eq!(blocks.bounding_box(), Some(PixelRect::new(16, 0, 37, 21)));
        assert_eq!(blocks.weighted_area_px, field.weighted_area_px());
        assert!(blocks.weighted_area_px > 10.0);
        let empty = LevelBlocks::new(&DensityField::uniform(40, 40, 0.0));
        assert_eq!((empty.bounding_box(), empty.weighted_area_px), (None, 0.0));
    }

    #[test]
    fn bounding_box_and_area() {
        let f = DensityField::from_fn(100, 80, |x, y| {
            if (10.0..30.0).contains(&x) && (20.0..25.0).contains(&y) {
                1.0
            } else {
                0.0
            }
        });
        assert_eq!(
            f.bounding_box(),
            Some(PixelRect {
                x0: 10,
                y0: 20,
                x1: 30,
                y1: 25
            })
        );
        assert!((f.weighted_area_px() - 100.0).abs() < 1e-9);
        assert_eq!(DensityField::uniform(5, 5, 0.0).bounding_box(), None);
    }

    #[test]
    fn bounding_box_finds_single_pixels_in_any_block() {
        // Widths around the 64-byte blocks of the search, pixels at block edges and in the last partial block.
        for w in [1u32, 63, 64, 65, 130, 301] {
            for x in [0, w / 2, w.saturating_sub(1), 63.min(w - 1), 64.min(w - 1)] {
                for x2 in [x, w - 1] {
                    let f = DensityField::from_fn(w, 7, |px, py| {
                        let hit = (px as u32 == x && py as u32 == 2) || (px as u32 == x2 && py as u32 == 4);
                        if hit {
                            0.5
                        } else {
                            0.0
                        }
                    });
                    let want = PixelRect {
                        x0: x.min(x2),
                        y0: 2,
                        x1: x.max(x2) + 1,
                        y1: 5,
                    };
                    assert_eq!(f.bounding_box(), Some(want), "width {w}, x {x}, x2 {x2}");
                }
            }
        }
    }

    #[test]
    fn wrong_size_mask_is_an_error_naming_it() {
        let mask = GrayImage::new(10, 10);
        let err = DensityField::from_mask_sized(&mask, 20, 10, "mask.png").unwrap_err();
        assert!(err.to_string().contains("mask.png is 10x10"), "{err}");
    }

    #[test]
    fn multiply_rounds_and_checks_size() {
        let mut a = DensityField::uniform(4, 4, 1.0);
        a.multiply(&DensityField::uniform(4, 4, 0.5)).unwrap();
        assert_eq!(a.level(0, 0), 128);
        assert!(a.multiply(&DensityField::uniform(3, 4, 1.0)).is_err());
    }
}
