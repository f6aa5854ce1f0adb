//! The coverage of one impression: a disc of pigment blurred by the skin, integrated over each pixel.
//!
//! An impression is 1–4 pixels wide at photo scale, so drawing it as a pixel-snapped circle would make it
//! either a square or nothing. Instead each pixel gets the exact fraction of pigment that falls on it: the disc
//! convolved with a Gaussian (the skin's scatter plus the pixel's own box, approximated by a Gaussian of the
//! same variance, 1/12 px²). That profile has no closed form, so it is tabulated once, in units of the blur σ:
//! one row per disc radius ρ = r/σ, one column per distance t = d/σ from the centre.

use std::sync::OnceLock;

#[path = "splat/profile.rs"]
#[allow(dead_code)]
mod profile;
use profile::{COLUMNS, RHO_STEPS};
pub use profile::{MAX_RHO, T_STEPS};

/// The baked table (see `build.rs`), unpacked once.
fn table() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let bytes: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/profile_table.bin"));
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    })
}

/// One row of the profile: coverage at distance `t` (in σ) is `row[t * T_STEPS]`, linearly interpolated.
pub fn profile_row(rho: f32) -> &'static [f32] {
    let row = (rho.clamp(0.0, MAX_RHO) * RHO_STEPS).round() as usize;
    &table()[row * COLUMNS..(row + 1) * COLUMNS]
}

/// Coverage at distance `t` (in σ) along a row from [`profile_row`]; zero past the table.
#[inline]
pub fn sample(row: &[f32], t: f32) -> f32 {
    let x = t * T_STEPS;
    let i = x as usize;
    if i + 1 >= row.len() {
        return 0.0;
    }
    let f = x - i as f32;
    row[i] + (row[i + 1] - row[i]) * f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integral of the tabulated profile over the plane, in σ² units.
    fn ink(rho: f32) -> f64 {
        let row = profile_row(rho);
        let dt = 1.0 / T_STEPS as f64;
        (0..row.len())
            .map(|i| {
                let t = i as f64 * dt;
                2.0 * std::f64::consts::PI * t * row[i] as f64 * dt
            })
            .sum()
    }

    #[test]
    fn baked_table_is_the_integrated_one() {
        assert!(
            table() == profile::build_table().as_slice(),
            "build.rs and the integrator disagree"
        );
        assert_eq!(table().len(), profile::ROWS * COLUMNS);
    }

    #[test]
    fn profile_holds_the_disc_area() {
        for rho in [0.5f32, 1.0, 2.0, 4.0, 8.0] {
            let want = std::f64::consts::PI * (rho as f64).powi(2);
            let got = ink(rho);
            assert!((got / want - 1.0).abs() < 0.01, "rho {rho}: {got} vs {want}");
        }
    }

    #[test]
    fn wide_disc_is_opaque_inside_and_half_at_edge() {
        let row = profile_row(10.0);
        assert!(sample(row, 0.0) > 0.999);
        assert!((sample(row, 10.0) - 0.5).abs() < 0.02, "{}", sample(row, 10.0));
        assert!(sample(row, 16.0) < 1e-4);
    }

    #[test]
    fn small_disc_peak_matches_closed_form() {
        // At the centre, disc ⊛ Gaussian = 1 − exp(−ρ²/2).
        for rho in [0.5f32, 1.0, 2.0] {
            let want = 1.0 - (-(rho * rho) / 2.0).exp();
            assert!((sample(profile_row(rho), 0.0) - want).abs() < 1e-4);
        }
    }
}
