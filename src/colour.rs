//! sRGB ↔ linear light through lookup tables.
//!
//! Pigment absorbs light, so it is applied in linear light; a per-pixel `powf` was 4–5× slower than these
//! tables. Linear values are quantised to 16 bits on the way out, fine enough that every 8-bit value round-trips.

use std::sync::OnceLock;

/// Steps of the linear → sRGB table.
const ENCODE_STEPS: usize = 1 << 16;

/// The exact sRGB transfer function, 0–1 → 0–1.
pub fn srgb_to_linear(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// The inverse sRGB transfer function, 0–1 → 0–1.
pub fn linear_to_srgb(l: f32) -> f32 {
    if l <= 0.003_130_8 {
        l * 12.92
    } else {
        1.055 * l.powf(1.0 / 2.4) - 0.055
    }
}

/// Linear light (0–1) of every 8-bit sRGB value.
pub fn decode_table() -> &'static [f32; 256] {
    static T: OnceLock<[f32; 256]> = OnceLock::new();
    T.get_or_init(|| std::array::from_fn(|v| srgb_to_linear(v as f32 / 255.0)))
}

/// Linear light (0–1) of every 16-bit sRGB value.
pub fn decode_table_16() -> &'static [f32] {
    static T: OnceLock<Vec<f32>> = OnceLock::new();
    T.get_or_init(|| (0..=u16::MAX).map(|v| srgb_to_linear(v as f32 / 65535.0)).collect())
}

/// 8-bit sRGB of linear light quantised to 16 bits, indexed by the rounded linear × 65535.
pub fn encode_table() -> &'static EncodeTable {
    static T: OnceLock<Box<EncodeTable>> = OnceLock::new();
    T.get_or_init(|| {
        let mut table = Box::new([0u8; ENCODE_STEPS]);
        for (i, v) in table.iter_mut().enumerate() {
            let l = i as f32 / (ENCODE_STEPS - 1) as f32;
            *v = (linear_to_srgb(l) * 255.0).round() as u8;
        }
        table
    })
}

/// Each 8-bit value's linear light in [`encode_table`] index units (linear × 65535): stamping multiplies this
/// by a transmittance and reads the table at the rounded product, with no scaling in between.
pub fn encode_index_table() -> &'static [f32; 256] {
    static T: OnceLock<[f32; 256]> = OnceLock::new();
    T.get_or_init(|| std::array::from_fn(|v| decode_table()[v] * (ENCODE_STEPS - 1) as f32))
}

/// The largest fraction of its light an 8-bit pixel can lose, through [`encode_index_table`] and
/// [`encode_table`], and still read back as the same value: a darkening below this never changes a byte.
///
/// Found by trying every value against the table (about 1/225, a little under half a level at 255), then
/// kept 1% inside, so the float rounding of the product can't cross it.
pub fn invisible_darkening() -> f32 {
    static E: OnceLock<f32> = OnceLock::new();
    *E.get_or_init(|| {
        let (index, table) = (encode_index_table(), encode_table());
        let smallest = (1..=255u8)
            .map(|v| {
                // The lowest table index that still encodes to v; any product rounding below it is darker.
                let first = table.partition_point(|&e| e < v) as f32;
                1.0 - (first - 0.5) / index[v as usize]
            })
            .fold(f32::INFINITY, f32::min);
        smallest * 0.99
    })
}

/// The linear → 8-bit sRGB table.
pub type EncodeTable = [u8; ENCODE_STEPS];

/// `x` rounded to the nearest integer (ties to even), for 0 ≤ x < 2²².
///
/// Adding 1.5·2²³ leaves the rounded value in the low mantissa bits. This is the same on every machine, and it
/// is three instructions where `as usize` is a dozen: Rust's saturating float → integer cast must check for
/// NaN and range, and it sits in the innermost loop of stamping.
#[inline]
pub fn round_small(x: f32) -> u32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 · 2²³
    (x + SHIFT).to_bits() & 0x003F_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_darkening_never_changes_a_byte_and_a_little_more_does() {
        let (index, table) = (encode_index_table(), encode_table());
        let e = invisible_darkening();
        assert!((1.0 / 240.0..1.0 / 200.0).contains(&e), "{e}");
        let darken = |v: u8, a: f32| table[round_small(index[v as usize] * (1.0 - a)) as usize];
        for v in 0..=255u8 {
            assert_eq!(darken(v, 0.0), v, "value {v} does not round-trip");
            assert_eq!(darken(v, e), v, "value {v} changed by {e}");
        }
        assert!(
            (1..=255u8).any(|v| darken(v, e * 1.05) < v),
            "the threshold is not tight"
        );
    }

    #[test]
    fn every_16bit_value_round_trips() {
        use crate::stamp::Channel;
        for v in (0..=u16::MAX).step_by(7).chain([u16::MAX]) {
            assert_eq!(v.transmit(1.0, u16::tables()), v, "value {v}");
        }
    }

    #[test]
    fn round_small_rounds_to_nearest_even() {
        for (x, want) in [
            (0.0, 0),
            (0.49, 0),
            (0.5, 0),
            (0.51, 1),
            (1.5, 2),
            (2.5, 2),
            (65534.7, 65535),
            (4e6, 4_000_000),
        ] {
            assert_eq!(round_small(x), want, "{x}");
        }
    }

    #[test]
    fn encode_is_monotonic() {
        assert!(encode_table().windows(2).all(|w| w[0] <= w[1]));
    }
}
