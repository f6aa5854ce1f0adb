//! The coverage of one impression: a disc of pigment blurred by the skin, integrated over each pixel.
//!
//! An impression is 1–4 pixels wide at photo scale, so drawing it as a pixel-snapped circle would make it
//! either a square or nothing. Instead each pixel gets the exact fraction of pigment that falls on it: the disc
//! convolved with a Gaussian (the skin's scatter plus the pixel's own box, approximated by a Gaussian of the
//! same variance, 1/12 px²). That profile has no closed form, so it is tabulated once, in units of the blur σ:
//! one row per disc radius ρ = r/σ, one column per distance t = d/σ from the centre.

use std::sync::OnceLock;

/// Rows per unit of ρ.
const RHO_STEPS: f32 = 8.0;
/// Largest tabulated ρ; sharper impressions are drawn with their blur widened to this ratio.
pub const MAX_RHO: f32 = 12.0;
/// Columns per unit of t.
pub const T_STEPS: f32 = 16.0;
/// The profile is zero (below 1e-6) beyond this many σ past the disc's edge.
pub const TAIL_SIGMAS: f32 = 5.0;
/// Columns per row: reaches `MAX_RHO + TAIL_SIGMAS` plus one for interpolation.
const COLUMNS: usize = ((MAX_RHO + TAIL_SIGMAS) * T_STEPS) as usize + 2;

/// Rows of the table.
const ROWS: usize = (MAX_RHO * RHO_STEPS) as usize + 1;

/// One row of the profile: coverage at distance `t` (in σ) is `row[t * T_STEPS]`, linearly interpolated.
/// Rows are computed on first use (about half a millisecond each); a render uses only a few.
pub fn profile_row(rho: f32) -> &'static [f32] {
    static TABLE: [OnceLock<Vec<f32>>; ROWS] = [const { OnceLock::new() }; ROWS];
    let row = (rho.clamp(0.0, MAX_RHO) * RHO_STEPS).round() as usize;
    TABLE[row].get_or_init(|| {
        let rho = row as f64 / RHO_STEPS as f64;
        (0..COLUMNS)
            .map(|col| blurred_disc(rho, col as f64 / T_STEPS as f64) as f32)
            .collect()
    })
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

/// A disc of radius `rho` convolved with a unit Gaussian, at distance `t` from its centre:
/// ∫₀^ρ s·exp(−(s−t)²/2)·I0e(s·t) ds, by Simpson's rule.
fn blurred_disc(rho: f64, t: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    let n = 96; // even; the integrand is smooth, so this is exact to ~1e-7
    let h = rho / n as f64;
    let f = |s: f64| s * (-(s - t) * (s - t) / 2.0).exp() * bessel_i0_scaled(s * t);
    let mut sum = f(0.0) + f(rho);
    for k in 1..n {
        sum += f(k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 };
    }
    (sum * h / 3.0).min(1.0)
}

/// e^(−x)·I0(x) for x ≥ 0 (Abramowitz & Stegun 9.8.1–9.8.2, relative error below 2e-7).
fn bessel_i0_scaled(x: f64) -> f64 {
    if x < 3.75 {
        let y = (x / 3.75).powi(2);
        let i0 = 1.0
            + y * (3.515_622_9
                + y * (3.089_942_4 + y * (1.206_749_2 + y * (0.265_973_2 + y * (0.036_076_8 + y * 0.004_581_3)))));
        i0 * (-x).exp()
    } else {
        let y = 3.75 / x;
        (0.398_942_28
            + y * (0.013_285_92
                + y * (0.002_253_19
                    + y * (-0.001_575_65
                        + y * (0.009_162_81
                            + y * (-0.020_577_06 + y * (0.026_355_37 + y * (-0.016_476_33 + y * 0.003_923_77))))))))
            / x.sqrt()
    }
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
