//! Photo scale: how many pixels make a millimetre of scalp.
//!
//! Densities and sizes are physical, so every render needs a scale. When the caller has none, it is estimated
//! from the treated region's width against a typical treated width. That is a rough guess (about ±20% across
//! heads and treatment plans); pass `px_per_mm` when it matters.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::field::DensityField;

/// Typical width of a treated region across the top of the head, temple to temple, in mm: an adult head is
/// about 150 mm broad and SMP on the top stops a little short of the sides.
pub const TYPICAL_TREATED_WIDTH_MM: f32 = 130.0;

/// A column counts as treated when it holds at least this fraction of the fullest column's density, so a few
/// stray mask pixels do not widen the region.
const COLUMN_FRACTION: f64 = 0.05;

/// Width of the treated region in pixels: the span of columns holding a real share of the density.
pub fn treated_width_px(field: &DensityField) -> u32 {
    let w = field.width() as usize;
    let columns = (0..field.height())
        .into_par_iter()
        .fold(
            || vec![0u64; w],
            |mut acc, y| {
                for (a, &v) in acc.iter_mut().zip(field.row(y)) {
                    *a += v as u64;
                }
                acc
            },
        )
        .reduce(
            || vec![0u64; w],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let max = columns.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return 0;
    }
    let threshold = (max as f64 * COLUMN_FRACTION).ceil() as u64;
    let first = columns.iter().position(|&c| c >= threshold).unwrap_or(0);
    let last = columns.iter().rposition(|&c| c >= threshold).unwrap_or(0);
    (last - first + 1) as u32
}

/// Estimates pixels per mm from the treated region's width (see [`TYPICAL_TREATED_WIDTH_MM`]).
pub fn estimate_px_per_mm(field: &DensityField) -> Result<f32> {
    let width = treated_width_px(field);
    if width == 0 {
        return Err(Error::EmptyField);
    }
    Ok(width as f32 / TYPICAL_TREATED_WIDTH_MM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_ignores_stray_pixels() {
        let field = DensityField::from_fn(1000, 400, |x, y| {
            let region = (200.0..700.0).contains(&x) && (100.0..300.0).contains(&y);
            let stray = (x - 950.5).abs() < 1.0 && (y - 10.5).abs() < 1.0;
            (region || stray) as u8 as f32
        });
        assert_eq!(treated_width_px(&field), 500);
        assert!((estimate_px_per_mm(&field).unwrap() - 500.0 / TYPICAL_TREATED_WIDTH_MM).abs() < 1e-4);
        assert!(matches!(
            estimate_px_per_mm(&DensityField::uniform(10, 10, 0.0)),
            Err(Error::EmptyField)
        ));
    }
}
