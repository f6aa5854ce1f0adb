//! The coverage of one impression: a disc of pigment blurred by the skin, integrated over each pixel.
//!
//! An impression is 1–4 pixels wide at photo scale, so drawing it as a pixel-snapped circle would make it
//! either a square or nothing. Instead each pixel gets the exact fraction of pigment that falls on it: the disc
//! convolved with a Gaussian (the skin's scatter plus the pixel's own box, approximated by a Gaussian of the
//! same variance, 1/12 px²). That profile has no closed form, so it is tabulated once, in units of the blur σ:
//! one row per disc radius ρ = r/σ, one column per distance t = d/σ from the centre.
//!
//! Stamping reads a second form of the same rows, indexed by the *squared* distance q = t² ([`q_row`]): an
//! impression's q is a quadratic in x along a pixel row, so it is stepped by two additions per pixel, with no
//! square root. Each q row ends [`CUT_SIGMAS`] past the disc's edge, where the coverage is too faint to move
//! an 8-bit value.

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

/// One row of the profile (the tests' reference for [`q_row`]): coverage at distance `t` (in σ) is `row[t * T_STEPS]`, linearly interpolated.
#[cfg(test)]
pub fn profile_row(rho: f32) -> &'static [f32] {
    let row = row_index(rho);
    &table()[row * COLUMNS..(row + 1) * COLUMNS]
}

/// Where an impression ends, in σ past its disc's edge. The coverage there is at most 1.35e-3 (the Gaussian
/// tail at 3σ), so with any pigment and opacity no 8-bit value would move by more than 0.2 of a level.
pub const CUT_SIGMAS: f32 = 3.0;

/// Columns of a [`q_row`] before its cut (stamping reads the nearest one); the row holds two more (zeros).
pub const Q_COLUMNS: usize = 1024;

/// A profile row indexed by squared distance.
#[derive(Debug, Clone, Copy)]
pub struct QRow {
    /// Coverage at column `c` = q · `columns_per_q` (q = t², in σ²), for `c` in 0..=[`Q_COLUMNS`], then zeros.
    pub values: &'static [f32; Q_COLUMNS + 2],
    /// Columns per unit of q.
    pub columns_per_q: f32,
}

impl QRow {
    /// The column past which the coverage stays below `cover` (every column at or beyond it reads less), or
    /// the row's cut [`Q_COLUMNS`] if that comes first. Stamping ends an impression there rather than at the
    /// cut.
    pub fn reach(&self, cover: f32) -> f32 {
        // Columns 0..k hold at least `cover`.
        let k = self.values.partition_point(|&v| v >= cover);
        k.min(Q_COLUMNS) as f32
    }
}

/// The squared-distance form of `profile_row(rho)`, resampled once per process from the baked table.
pub fn q_row(rho: f32) -> QRow {
    static ROWS: OnceLock<Vec<([f32; Q_COLUMNS + 2], f32)>> = OnceLock::new();
    let rows = ROWS.get_or_init(|| {
        (0..profile::ROWS)
            .map(|r| {
                let (t_row, q_end) = (&table()[r * COLUMNS..(r + 1) * COLUMNS], q_end(r));
                let mut values: [f32; Q_COLUMNS + 2] = std::array::from_fn(|c| match c {
                    0..=Q_COLUMNS => sample(t_row, (c as f32 * q_end / Q_COLUMNS as f32).sqrt()),
                    _ => 0.0,
                });
                // The true profile falls with distance; the integrated table can wobble by ~1e-7 in its tail.
                // A running minimum makes the fall exact, which is what lets `QRow::reach` binary-search it.
                for c in 1..values.len() {
                    values[c] = values[c].min(values[c - 1]);
                }
                (values, Q_COLUMNS as f32 / q_end)
            })
            .collect()
    });
    let (values, columns_per_q) = &rows[row_index(rho)];
    QRow {
        values,
        columns_per_q: *columns_per_q,
    }
}

/// The squared distance (σ²) where row `r`'s q form is cut.
fn q_end(r: usize) -> f32 {
    (r as f32 / RHO_STEPS + CUT_SIGMAS).powi(2)
}

fn row_index(rho: f32) -> usize {
    // Rounded by adding ½ (the value is never negative): `f32::round` is a library call on x86-64's baseline,
    // once per impression.
    (rho.clamp(0.0, MAX_RHO) * RHO_STEPS + 0.5) as usize
}

/// Coverage at distance `t` (in σ) along a row from `profile_row`; zero past the table.
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
    fn q_rows_agree_with_t_rows_and_end_faint() {
        for rho in [0.5f32, 1.0, 2.3, 4.0, 12.0] {
            let (t_row, q) = (profile_row(rho), q_row(rho));
            for t in [0.0f32, 0.3, 1.0, rho, rho + 1.0, rho + 2.5] {
                // Read as stamping reads it: the nearest column.
                let got = q.values[(t * t * q.columns_per_q).round() as usize];
                assert!(
                    (got - sample(t_row, t)).abs() < 2e-3,
                    "rho {rho} t {t}: {got} vs {}",
                    sample(t_row, t)
                );
            }
            assert!(q.values[Q_COLUMNS] < 1.4e-3, "rho {rho}: {}", q.values[Q_COLUMNS]);
            assert_eq!(q.values[Q_COLUMNS + 1], 0.0);
        }
    }

    #[test]
    fn reach_bounds_the_coverage() {
        for rho in [0.5f32, 2.3, 6.0] {
            let q = q_row(rho);
            assert!(q.values.windows(2).all(|w| w[1] <= w[0]), "rho {rho}: not falling");
            for cover in [2.0f32, 0.5, 0.01, 0.004, 1e-6] {
                let k = q.reach(cover) as usize;
                // Everything from the reach on is fainter (unless the cut came first); the column before is not.
                if k < Q_COLUMNS {
                    assert!(q.values[k..].iter().all(|&v| v < cover), "rho {rho} cover {cover}");
                }
                assert!(k == 0 || q.values[k - 1] >= cover, "rho {rho} cover {cover}");
            }
        }
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
