//! The blurred-disc profile and its table layout. Shared, by `#[path]`, between `build.rs` (which bakes the
//! table into the binary: integrating it takes ~25 ms, too much for every run) and the library's tests.

/// Rows per unit of ρ.
pub const RHO_STEPS: f32 = 8.0;
/// Largest tabulated ρ; sharper impressions are drawn with their blur widened to this ratio.
pub const MAX_RHO: f32 = 12.0;
/// Columns per unit of t.
pub const T_STEPS: f32 = 16.0;
/// The profile is zero (below 1e-6) beyond this many σ past the disc's edge.
pub const TAIL_SIGMAS: f32 = 5.0;
/// Columns per row: reaches `MAX_RHO + TAIL_SIGMAS` plus one for interpolation.
pub const COLUMNS: usize = ((MAX_RHO + TAIL_SIGMAS) * T_STEPS) as usize + 2;

/// Rows of the table.
pub const ROWS: usize = (MAX_RHO * RHO_STEPS) as usize + 1;

/// The whole table, row after row (`ROWS × COLUMNS` values in 0–1).
pub fn build_table() -> Vec<f32> {
    let mut values = Vec::with_capacity(ROWS * COLUMNS);
    for row in 0..ROWS {
        let rho = row as f64 / RHO_STEPS as f64;
        values.extend((0..COLUMNS).map(|col| blurred_disc(rho, col as f64 / T_STEPS as f64) as f32));
    }
    values
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
