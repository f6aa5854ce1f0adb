//! sRGB ↔ linear light, and darkening an 8-bit sRGB value by a fraction of its light.
//!
//! Pigment absorbs light, so it is applied in linear light. For 8-bit values that round trip needs no
//! encode table: on sRGB's power segment, encode(decode(v)·t) = (v + 14.025)·t^(1/2.4) − 14.025 exactly (in
//! 8-bit units), so darkening is one power of the transmittance — read from a 32-piece table, [`power_table`]
//! — and one multiply-add. That arithmetic is the same in the scalar and the SIMD stamping kernels, lane for
//! lane, so both give the same bytes.

use std::sync::OnceLock;

use crate::pieces::{Pieces, PIECES};

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
/// The darkening from which [`power_table`] hands over to `powf`: its last two pieces near x = 1, where
/// (1 − x)^(5/12) turns too sharply for a quadratic, are never read. Only an opacity near 1 gets there.
pub const TABLE_END: f32 = 0.9375;

/// The transmittance's power (1 − x)^(1/2.4) for a darkening x in 0–1, as 32 quadratic pieces of 32·x,
/// within 1e-4 of the power below [`TABLE_END`] (a thirtieth of a level); built once per process, each piece
/// through the power at its ends and middle, in f64.
pub fn power_table() -> &'static Pieces {
    static T: OnceLock<Pieces> = OnceLock::new();
    T.get_or_init(|| {
        let power = |x: f64| (1.0 - x).max(0.0).powf(1.0 / 2.4);
        let mut t = Pieces::ZERO;
        for i in 0..PIECES {
            let x0 = i as f64 / PIECES as f64;
            let h = 1.0 / PIECES as f64;
            let (y0, y1, y2) = (power(x0), power(x0 + 0.5 * h), power(x0 + h));
            let c2 = 2.0 * (y2 - 2.0 * y1 + y0);
            t.c0[i] = y0 as f32;
            t.c1[i] = (y2 - y0 - c2) as f32;
            t.c2[i] = c2 as f32;
        }
        t
    })
}

/// The 8-bit value `v` after its linear light loses the fraction `x` (0–1): never lighter than `v`, and `v`
/// itself for x = 0.
///
/// On the power segment this is (v + 14.025)·(1 − x)^(1/2.4) − 14.025; where the value or the result lies on
/// sRGB's linear segment (the darkest 4 %) it is the linear light itself, 3294.6 · decode(v) · (1 − x). The
/// SIMD kernel (`stamp::avx512`) computes the same expression for sixteen pixels at a time and calls this for
/// any lane that needs the linear segment or `powf`.
#[inline]
pub fn darken_u8(v: u8, x: f32, power: &Pieces, decode: &[f32; 256]) -> u8 {
    let g = if x < TABLE_END {
        power.at(x * PIECES as f32)
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
        let (power, decode) = (power_table(), decode_table());
        (1..=255u8)
            .map(|v| {
                let (mut lo, mut hi) = (0.0f32, 0.1f32);
                for _ in 0..40 {
                    let mid = 0.5 * (lo + hi);
                    if darken_u8(v, mid, power, decode) == v {
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
        let (power, decode) = (power_table(), decode_table());
        for v in 0..=255u8 {
            for j in 0..=200 {
                let x = j as f32 / 200.0;
                let got = darken_u8(v, x, power, decode) as f64;
                let want = exact(v, x);
                // Within rounding (plus the table's thirtieth of a level), and never lighter.
                assert!((got - want).abs() <= 0.55, "v {v} x {x}: {got} vs {want:.3}");
                assert!(got <= v as f64);
            }
            assert_eq!(darken_u8(v, 0.0, power, decode), v, "value {v} does not round-trip");
        }
    }

    #[test]
    fn darkening_falls_with_x() {
        let (power, decode) = (power_table(), decode_table());
        for v in [11u8, 12, 40, 128, 200, 255] {
            let mut last = v;
            for j in 0..=1000 {
                let now = darken_u8(v, j as f32 / 1000.0, power, decode);
                assert!(now <= last, "v {v} at {j}");
                last = now;
            }
            assert_eq!(last, 0, "v {v}: full darkening is black");
        }
    }

    #[test]
    fn invisible_darkening_never_changes_a_byte_and_a_little_more_does() {
        let (power, decode) = (power_table(), decode_table());
        let e = invisible_darkening();
        assert!((1.0 / 240.0..1.0 / 200.0).contains(&e), "{e}");
        for v in 0..=255u8 {
            for j in 0..=20 {
                let x = e * j as f32 / 20.0;
                assert_eq!(darken_u8(v, x, power, decode), v, "value {v} changed by {x}");
            }
        }
        assert!(
            (1..=255u8).any(|v| darken_u8(v, e * 1.05, power, decode) < v),
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
