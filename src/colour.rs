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

/// 8-bit sRGB of linear light quantised to 16 bits; index with [`encode_index`].
pub fn encode_table() -> &'static [u8] {
    static T: OnceLock<Vec<u8>> = OnceLock::new();
    T.get_or_init(|| {
        (0..ENCODE_STEPS)
            .map(|i| {
                let l = i as f32 / (ENCODE_STEPS - 1) as f32;
                (linear_to_srgb(l) * 255.0).round() as u8
            })
            .collect()
    })
}

/// Index into [`encode_table`] for linear light `l` in 0–1.
#[inline]
pub fn encode_index(l: f32) -> usize {
    (l.clamp(0.0, 1.0) * (ENCODE_STEPS - 1) as f32 + 0.5) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_8bit_value_round_trips() {
        let (dec, enc) = (decode_table(), encode_table());
        for v in 0..=255u8 {
            assert_eq!(enc[encode_index(dec[v as usize])], v, "value {v}");
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
    fn encode_is_monotonic() {
        assert!(encode_table().windows(2).all(|w| w[0] <= w[1]));
    }
}
