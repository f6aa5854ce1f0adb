//! Specular highlights veil pigment.
//!
//! A bald scalp often has a bright, near-white highlight. That light is reflected at the skin's surface,
//! above the pigment, so it is not absorbed: in a highlight, pigment contrast falls. The share of a pixel's
//! light that is surface reflection is estimated from how white it is — its weakest channel (skin is never
//! far from neutral-white except where the light source is mirrored).

use std::sync::OnceLock;

/// The share (0–1) of a pixel's light (linear RGB) taken to be surface reflection, which pigment cannot
/// darken: none below a weakest channel of 0.45 (about sRGB 180), rising smoothly to 0.8 at 0.9.
#[inline]
pub fn highlight_share(linear: [f32; 3]) -> f32 {
    // Plain comparisons rather than f32::min/clamp, whose NaN rules cost several instructions: this runs for
    // every pixel under pigment, and linear light from the decode tables is never NaN.
    let smaller = |a: f32, b: f32| if a < b { a } else { b };
    let white = smaller(smaller(linear[0], linear[1]), linear[2]);
    if white <= 0.45 {
        return 0.0; // most skin
    }
    let t = smaller((white - 0.45) / 0.45, 1.0);
    0.8 * t * t * (3.0 - 2.0 * t)
}

/// The share of light pigment can darken (1 − [`highlight_share`]) of an 8-bit pixel, indexed by its weakest
/// channel: the decode table is increasing, so the weakest 8-bit channel is the weakest in linear light too.
pub fn unveiled_u8() -> &'static [f32; 256] {
    static T: OnceLock<[f32; 256]> = OnceLock::new();
    T.get_or_init(|| {
        std::array::from_fn(|v| {
            let l = crate::colour::decode_table()[v];
            1.0 - highlight_share([l, l, l])
        })
    })
}

/// The darkest weakest channel that a highlight veils at all: below it [`unveiled_u8`] is exactly 1, so the SIMD
/// kernel looks the table up only for the few lanes at or above it.
pub fn veiled_from() -> u8 {
    unveiled_u8().iter().position(|&u| u < 1.0).map_or(255, |v| v as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matte_skin_is_unveiled_and_highlights_are() {
        assert_eq!(highlight_share([0.5, 0.3, 0.2]), 0.0);
        assert!(highlight_share([0.95, 0.93, 0.9]) > 0.7);
        assert!(highlight_share([0.7, 0.68, 0.66]) > 0.2);
    }

    #[test]
    fn below_the_veil_nothing_is_veiled() {
        let (table, from) = (unveiled_u8(), veiled_from() as usize);
        assert!((170..190).contains(&from), "{from}");
        assert!(table[..from].iter().all(|&u| u == 1.0));
        assert!(table[from] < 1.0);
    }
}
