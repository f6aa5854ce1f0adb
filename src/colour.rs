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

/// 8-bit sRGB of linear light quantised to 16 bits; read it with [`encode`].
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

/// The linear → 8-bit sRGB table.
pub type EncodeTable = [u8; ENCODE_STEPS];

/// 8-bit sRGB of linear light `l` (0–1), through `table` ([`encode_table`]).
///
/// Callers keep `l` within 0–1 (stamping only multiplies a pixel's light by a transmittance); outside it the
/// result is some table entry, never a panic: the mask keeps the index in bounds and lets the compiler drop the
/// bounds check.
#[inline]
pub fn encode(l: f32, table: &EncodeTable) -> u8 {
    debug_assert!((0.0..=1.0).contains(&l), "{l}");
    table[round_small(l * (ENCODE_STEPS - 1) as f32) as usize & (ENCODE_STEPS - 1)]
}

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
    fn every_8bit_value_round_trips() {
        let (dec, enc) = (decode_table(), encode_table());
        for v in 0..=255u8 {
            assert_eq!(encode(dec[v as usize], enc), v, "value {v}");
        }
    }

    #[test]
    fn every_16bit_value_round_trips() {
        use crate::stamp::Channel;
        for v in (0..=u16::MAX).step_by(7).chain([u16::MAX]) {
            let t = u16::tables();
            assert_eq!(u16::from_linear(v.to_linear(t), t), v, "value {v}");
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
