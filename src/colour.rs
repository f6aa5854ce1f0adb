//! sRGB ↔ linear light, and darkening an 8-bit sRGB value by a fraction of its light.
//!
//! Pigment absorbs light, so it is applied in linear light. For 8-bit values that round trip needs no
//! encode table: on sRGB's power segment, encode(decode(v)·t) = (v + 14.025)·t^(1/2.4) − 14.025 exactly (in
//! 8-bit units), so darkening is one power of the transmittance ([`transmittance_power`]: an octave's power
//! from an 8-entry table times a polynomial, no table per value) and one multiply-add. That arithmetic is the
//! same in the scalar and the SIMD stamping kernels, lane for lane, so all give the same bytes.

use std::sync::OnceLock;

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

/// sRGB's offset (0.055) in 8-bit units.
pub const OFFSET: f32 = 14.025;
/// The lightest 8-bit result of sRGB's linear segment (0.04045 · 255): below it the power formula is wrong.
pub const KNEE: f32 = 10.314_75;
/// The largest 8-bit value on sRGB's linear segment (10/255 < 0.04045 < 11/255).
pub const DARK_MAX: u8 = 10;
/// 8-bit units per unit of linear light on the linear segment (12.92 · 255).
const LINEAR_SLOPE: f32 = 3294.6;
/// The darkening from which [`transmittance_power`] hands over to `powf`: 1 − 2⁻⁷, the end of its eight
/// octaves. Only an opacity near 1 gets there.
pub const POWER_END: f32 = 0.992_187_5;

/// 2^(−5k/12) for the octaves k = 0–7 of the transmittance: what [`transmittance_power`] scales by. Eight, so
/// that an AVX2 kernel reads them with one permute.
pub const POWER_OCTAVES: [f32; 8] = [
    1.0,
    0.749_153_55,
    0.561_231,
    0.420_448_2,
    0.314_980_27,
    0.235_968_57,
    0.176_776_69,
    0.132_432_9,
];

/// (1 + t)^(5/12) on 0 ≤ t < 1 is 1 + t·(c₁ + t·(c₂ + t·c₃)) with these c, within 1.02e-4 of it (relative):
/// a minimax fit (iteratively reweighted least squares in f64, rounded to f32) held to the exact value at
/// both ends, so that octaves meet and the power rises with the transmittance. A fourth degree would be ten
/// times closer and cost the AVX-512 kernel 2.5 %; this one is as close as the 32-piece table it replaced.
pub const POWER_POLYNOMIAL: [f32; 3] = [0.414_241, -0.104_237_154, 0.024_836_01];

/// The transmittance's power (1 − x)^(1/2.4) for a darkening 0 ≤ x < [`POWER_END`], within 1.02e-4 of it
/// (relative; 0.03 of a level at 255), and exactly 1 at x = 0.
///
/// With 1 − x = 2⁻ᵏ·(1 + t), k = 0–7 read from the float's exponent and t from its mantissa, the power is
/// 2^(−5k/12) ([`POWER_OCTAVES`]) times (1 + t)^(5/12) ([`POWER_POLYNOMIAL`]). The SIMD stamping kernels do
/// these operations lane for lane.
#[inline]
pub fn transmittance_power(x: f32) -> f32 {
    let bits = (1.0 - x).to_bits();
    // The exponent's distance below 2⁰; masked only to keep the index in the table (x is in range).
    let octave = (127u32.wrapping_sub(bits >> 23) & 7) as usize;
    let t = f32::from_bits(bits & 0x007F_FFFF | 0x3F80_0000) - 1.0;
    let [c1, c2, c3] = POWER_POLYNOMIAL;
    POWER_OCTAVES[octave] * (1.0 + t * (c1 + t * (c2 + t * c3)))
}

/// The 8-bit value `v` after its linear light loses the fraction `x` (0–1): never lighter than `v`, and `v`
/// itself for x = 0.
///
/// On the power segment this is (v + 14.025)·(1 − x)^(1/2.4) − 14.025; where the value or the result lies on
/// sRGB's linear segment (the darkest 4 %) it is the linear light itself, 3294.6 · decode(v) · (1 − x). The
/// SIMD kernels (`stamp::avx512`, `stamp::avx2`) compute the same expression for many pixels at a time and
/// call this for any lane that needs the linear segment or `powf`.
#[inline]
pub fn darken_u8(v: u8, x: f32, decode: &[f32; 256]) -> u8 {
    let g = if x < POWER_END {
        transmittance_power(x)
    } else {
        ((1.0 - x as f64).max(0.0)).powf(1.0 / 2.4) as f32
    };
    let s = (v as f32 + OFFSET) * g - OFFSET;
    let out = if v > DARK_MAX && s >= KNEE {
        s
    } else {
        LINEAR_SLOPE * decode[v as usize] * (1.0 - x)
    };
    (round_small(out) as u8).min(v)
}

/// The largest darkening that leaves every 8-bit value as it is through [`darken_u8`]: below it a pixel is
/// never changed, so stamping skips it.
///
/// Found by bisecting every value (about 1/225, a little under half a level at 255), then kept 1 % inside.
pub fn invisible_darkening() -> f32 {
    static E: OnceLock<f32> = OnceLock::new();
    *E.get_or_init(|| {
        let decode = decode_table();
        (1..=255u8)
            .map(|v| {
                let (mut lo, mut hi) = (0.0f32, 0.1f32);
                for _ in 0..40 {
                    let mid = 0.5 * (lo + hi);
                    if darken_u8(v, mid, decode) == v {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                lo
            })
            .fold(f32::INFINITY, f32::min)
            * 0.99
    })
}

/// `x` rounded to the nearest integer (ties to even), for 0 ≤ x < 2²².
///
/// Adding 1.5·2²³ leaves the rounded value in the low mantissa bits. This is the same on every machine, and it
/// is three instructions where `as usize` is a dozen: Rust's saturating float → integer cast must check for
/// NaN and range, and it sits in the innermost loop of stamping. It rounds as the SIMD conversion does.
#[inline]
pub fn round_small(x: f32) -> u32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 · 2²³
    (x + SHIFT).to_bits() & 0x003F_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact result: decode, multiply, encode, with the transfer functions in f64.
    fn exact(v: u8, x: f32) -> f64 {
        let decode = |s: f64| {
            if s <= 0.04045 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        let encode = |l: f64| {
            if l <= 0.003_130_8 {
                l * 12.92
            } else {
                1.055 * l.powf(1.0 / 2.4) - 0.055
            }
        };
        255.0 * encode(decode(v as f64 / 255.0) * (1.0 - x as f64))
    }

    #[test]
    fn darkening_matches_the_transfer_functions() {
        let decode = decode_table();
        for v in 0..=255u8 {
            for j in 0..=200 {
                let x = j as f32 / 200.0;
                let got = darken_u8(v, x, decode) as f64;
                let want = exact(v, x);
                // Within rounding (plus the power's 0.03 of a level), and never lighter.
                assert!((got - want).abs() <= 0.55, "v {v} x {x}: {got} vs {want:.3}");
                assert!(got <= v as f64);
            }
            assert_eq!(darken_u8(v, 0.0, decode), v, "value {v} does not round-trip");
        }
    }

    #[test]
    fn the_power_is_within_its_bound_everywhere_and_rises_with_the_transmittance() {
        let mut last = 0.0f32;
        // From x just under the end to x = 0, in steps far finer than a level's worth.
        let n = 2_000_000;
        for j in (0..=n).rev() {
            let x = POWER_END * j as f32 / (n as f32 + 1.0);
            let got = transmittance_power(x);
            let want = (1.0 - x as f64).powf(1.0 / 2.4);
            assert!(((got as f64 - want) / want).abs() < 1.02e-4, "x {x}: {got} vs {want}");
            assert!(got >= last, "x {x}: {got} after {last}");
            last = got;
        }
        assert_eq!(transmittance_power(0.0), 1.0);
        for (k, &v) in POWER_OCTAVES.iter().enumerate() {
            assert_eq!(v, 2f64.powf(-5.0 * k as f64 / 12.0) as f32, "octave {k}");
        }
    }

    #[test]
    fn darkening_falls_with_x() {
        let decode = decode_table();
        for v in [11u8, 12, 40, 128, 200, 255] {
            let mut last = v;
            for j in 0..=1000 {
                let now = darken_u8(v, j as f32 / 1000.0, decode);
                assert!(now <= last, "v {v} at {j}");
                last = now;
            }
            assert_eq!(last, 0, "v {v}: full darkening is black");
        }
    }

    #[test]
    fn invisible_darkening_never_changes_a_byte_and_a_little_more_does() {
        let decode = decode_table();
        let e = invisible_darkening();
        assert!((1.0 / 240.0..1.0 / 200.0).contains(&e), "{e}");
        for v in 0..=255u8 {
            for j in 0..=20 {
                let x = e * j as f32 / 20.0;
                assert_eq!(darken_u8(v, x, decode), v, "value {v} changed by {x}");
            }
        }
        assert!(
            (1..=255u8).any(|v| darken_u8(v, e * 1.05, decode) < v),
            "the threshold is not tight"
        );
    }

    #[test]
    fn every_16bit_value_round_trips() {
        use crate::stamp::Channel;
        for v in (0..=u16::MAX).step_by(7).chain([u16::MAX]) {
            assert_eq!(v.darken(0.0, u16::tables()), v, "value {v}");
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
}
