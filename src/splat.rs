//! The coverage of one impression: a disc of pigment blurred by the skin, integrated over each pixel.
//!
//! An impression is 1–4 pixels wide at photo scale, so drawing it as a pixel-snapped circle would make it
//! either a square or nothing. Instead each pixel gets the exact fraction of pigment that falls on it: the disc
//! convolved with a Gaussian (the skin's scatter plus the pixel's own box, approximated by a Gaussian of the
//! same variance, 1/12 px²). That profile has no closed form, so it is tabulated once, in units of the blur σ:
//! one row per disc radius ρ = r/σ, one column per distance t = d/σ from the centre.
//!
//! Stamping reads a second form of the same rows, a function of the *squared* distance q = t² in 32 quadratic
//! pieces ([`cover_row`]): an impression's q is a quadratic in x along a pixel row, so there is no square root
//! per pixel, and 32 pieces fit in two AVX-512 registers per coefficient. Each row ends [`CUT_SIGMAS`] past
//! the disc's edge, where the coverage is too faint to move an 8-bit value.

use std::sync::OnceLock;

use crate::pieces::{Pieces, PIECES};

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

/// One row of the profile (the tests' reference for [`cover_row`]): coverage at distance `t` (in σ) is `row[t * T_STEPS]`, linearly interpolated.
#[cfg(test)]
pub fn profile_row(rho: f32) -> &'static [f32] {
    let row = row_index(rho);
    &table()[row * COLUMNS..(row + 1) * COLUMNS]
}

/// Where an impression ends, in σ past its disc's edge. The coverage there is at most 1.35e-3 (the Gaussian
/// tail at 3σ), so with any pigment and opacity no 8-bit value would move by more than 0.2 of a level.
pub const CUT_SIGMAS: f32 = 3.0;

/// A profile row as a function of squared distance q (in σ²), in [`PIECES`] quadratic pieces up to its cut.
///
/// With u = q · `segments_per_q` (0 ≤ u < 32) the coverage is `pieces.at(u)`: each piece passes through the
/// profile at its ends and middle, within 2e-4 of it everywhere. Three small arrays rather than a finely
/// sampled row, so that a SIMD kernel holds a whole row in registers and evaluates it lane by lane with the
/// same arithmetic as the scalar one.
#[derive(Debug)]
pub struct CoverRow {
    /// The coverage at u.
    pub pieces: Pieces,
    /// Pieces per unit of q.
    pub segments_per_q: f32,
}

impl CoverRow {
    /// Coverage at `u` (q in pieces, 0 ≤ u < 32).
    #[inline]
    pub fn at(&self, u: f32) -> f32 {
        self.pieces.at(u)
    }

    /// Where the coverage has fallen below `cover` for good, in pieces (at most [`PIECES`], the cut): in the
    /// last piece that starts at or above `cover`, where that piece crosses it (solved as a quadratic), plus
    /// 1/64 of a piece for rounding. Stamping ends an impression's rows there; each pixel inside still checks
    /// its own coverage.
    #[inline(always)]
    pub fn reach(&self, cover: f32) -> f32 {
        // The pieces' starts fall (a running minimum when built), so pieces 0..k start at or above `cover`,
        // k being how many do: found by a binary search without branches (six look-ups; preparing sixteen
        // impressions at a time, that is six vector gathers, where counting all 32 starts took 32).
        let Pieces { c0, c1, c2 } = &self.pieces;
        let mut k = 0;
        for step in [16, 8, 4, 2, 1] {
            k += if c0[k + step - 1] >= cover { step } else { 0 };
        }
        // Here c0[k] < cover unless k is 31, where all 32 may start above it.
        k += (c0[k] >= cover) as usize;
        if k == 0 {
            return 0.0;
        }
        let piece = k - 1;
        let (a, b, c) = (c2[piece], c1[piece], c0[piece] - cover);
        // The root of a·f² + b·f + c = 0 where the falling piece crosses zero, in the form that does not
        // cancel: f = 2c / (−b + √(b² − 4ac)).
        let disc = b * b - 4.0 * a * c;
        let f = if disc >= 0.0 {
            2.0 * c / (-b + disc.sqrt())
        } else {
            f32::NAN
        };
        let f = if (0.0..=1.0).contains(&f) {
            (f + 1.0 / 64.0).min(1.0)
        } else {
            1.0
        };
        piece as f32 + f
    }
}

/// The squared-distance form of `profile_row(rho)`, built once per process from the baked table.
pub fn cover_row(rho: f32) -> &'static CoverRow {
    &cover_rows()[row_index(rho)]
}

/// Every row's squared-distance form, by [`row_index`]: to look up many at once.
pub fn cover_rows() -> &'static [CoverRow] {
    static ROWS: OnceLock<Vec<CoverRow>> = OnceLock::new();
    ROWS.get_or_init(|| (0..profile::ROWS).map(build_cover_row).collect())
}

/// Row `r` of the table in quadratic pieces of q, each through the profile at its ends and middle.
fn build_cover_row(r: usize) -> CoverRow {
    let (t_row, q_end) = (&table()[r * COLUMNS..(r + 1) * COLUMNS], q_end(r));
    let h = q_end / PIECES as f32;
    // The true profile falls with distance; the integrated table can wobble by ~1e-7 in its tail. A running
    // minimum makes the fall exact, which is what lets `reach` search the starts.
    let mut nodes = [0.0f32; 2 * PIECES + 1];
    for (j, v) in nodes.iter_mut().enumerate() {
        *v = sample(t_row, (j as f32 * 0.5 * h).sqrt());
    }
    for j in 1..nodes.len() {
        nodes[j] = nodes[j].min(nodes[j - 1]);
    }
    let mut row = CoverRow {
        pieces: Pieces::ZERO,
        segments_per_q: PIECES as f32 / q_end,
    };
    for i in 0..PIECES {
        let (y0, y1, y2) = (nodes[2 * i], nodes[2 * i + 1], nodes[2 * i + 2]);
        let c2 = 2.0 * (y2 - 2.0 * y1 + y0);
        row.pieces.c0[i] = y0;
        row.pieces.c1[i] = y2 - y0 - c2;
        row.pieces.c2[i] = c2;
    }
    row
}

/// The squared distance (σ²) where row `r`'s q form is cut.
fn q_end(r: usize) -> f32 {
    (r as f32 / RHO_STEPS + CUT_SIGMAS).powi(2)
}

/// The row of [`cover_rows`] for a disc of radius `rho` σ: the nearest tabulated one (the widest past it).
#[inline]
pub fn row_index(rho: f32) -> usize {
    // Rounded by adding ½ (the value is never negative): `f32::round` is a library call on x86-64's baseline.
    // Through u32, which vector instructions convert to.
    (rho.clamp(0.0, MAX_RHO) * RHO_STEPS + 0.5) as u32 as usize
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
    fn cover_rows_agree_with_t_rows_and_end_faint() {
        for rho in [0.5f32, 1.0, 2.3, 4.0, 12.0] {
            let (t_row, row) = (profile_row(rho), cover_row(rho));
            for t in [0.0f32, 0.3, 1.0, rho, rho + 1.0, rho + 2.5] {
                let got = row.at(t * t * row.segments_per_q);
                assert!(
                    (got - sample(t_row, t)).abs() < 2e-4,
                    "rho {rho} t {t}: {got} vs {}",
                    sample(t_row, t)
                );
            }
            // Between the nodes too: every 1/16 of a piece.
            for j in 0..PIECES * 16 {
                let u = j as f32 / 16.0;
                let want = sample(t_row, (u / row.segments_per_q).sqrt());
                assert!(
                    (row.at(u) - want).abs() < 2e-4,
                    "rho {rho} u {u}: {} vs {want}",
                    row.at(u)
                );
            }
            assert!(row.at(PIECES as f32 - 1e-3) < 1.4e-3, "rho {rho}");
        }
    }

    #[test]
    fn reach_bounds_the_coverage() {
        for rho in [0.5f32, 2.3, 6.0] {
            let row = cover_row(rho);
            assert!(row.pieces.c0.windows(2).all(|w| w[1] <= w[0]), "rho {rho}: not falling");
            for cover in [2.0f32, 0.5, 0.01, 0.004, 1e-6] {
                let reach = row.reach(cover);
                assert!((0.0..=PIECES as f32).contains(&reach));
                // Fainter than `cover` from the reach on (sampled finely), and not much sooner.
                let mut u = reach;
                while u < PIECES as f32 {
                    assert!(row.at(u) < cover, "rho {rho} cover {cover}: {} at {u}", row.at(u));
                    u += 1.0 / 64.0;
                }
                if reach > 0.05 {
                    assert!(
                        row.at(reach - 0.05) >= cover * 0.99,
                        "rho {rho} cover {cover}: reach too far"
                    );
                }
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
