//! A ranked (progressive) blue-noise point set on the unit torus, built once per process.
//!
//! Why ranked: placement keeps a point where its rank falls below the local density, so one precomputed set
//! serves every density, a density *field* costs one comparison per point, and a later treatment session
//! (a higher threshold) keeps every earlier impression. Why precomputed: a textbook Poisson-disk sampler costs
//! microseconds per point; thinning this set costs nanoseconds.
//!
//! Built by progressive weighted sample elimination (Yuksel 2015, "Sample Elimination for Generating Poisson
//! Disk Sample Sets"): from 5N random candidates the most crowded point is removed until N remain; then the
//! same again from N to N/2, N/2 to N/4, …, and points removed later get lower ranks. Every prefix of the
//! ranked list is therefore itself well spaced. Deterministic: a fixed seed and plain `f64` arithmetic.

use std::sync::OnceLock;

#[cfg(test)]
#[path = "blue_noise/generate.rs"]
mod generate;

/// Points in the shared tile. At the default 100 impressions per cm² the tile spans 18 cm, wider than a head,
/// so its period never shows.
pub const TILE_POINTS: usize = 32768;

/// Seed of the baked tile (set in `build.rs`; the tests regenerate the tile from it).
#[cfg_attr(not(test), allow(dead_code))]
pub const TILE_SEED: u64 = 0x5EED_B10E;

/// Points in rank order (index = rank), each in `[0, 1)²`.
///
/// Generating the set takes about half a second, so `build.rs` bakes it into the binary (as little-endian
/// `f32` pairs) and this only unpacks it.
pub fn ranked_tile() -> &'static [[f32; 2]] {
    static TILE: OnceLock<Vec<[f32; 2]>> = OnceLock::new();
    TILE.get_or_init(|| {
        let bytes: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ranked_tile.bin"));
        let f = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        bytes.chunks_exact(8).map(|p| [f(&p[..4]), f(&p[4..])]).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::generate::{build_ranked_set, torus_distance};
    use super::*;

    /// Nearest-neighbour distances (toroidal, brute force over a grid-free small set) of a prefix.
    fn nn_stats(points: &[[f32; 2]]) -> (f64, f64, f64) {
        let p: Vec<[f64; 2]> = points.iter().map(|q| [q[0] as f64, q[1] as f64]).collect();
        let d: Vec<f64> = (0..p.len())
            .map(|i| {
                (0..p.len())
                    .filter(|&j| j != i)
                    .map(|j| torus_distance(p[i], p[j]))
                    .fold(f64::MAX, f64::min)
            })
            .collect();
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / d.len() as f64;
        let min = d.iter().cloned().fold(f64::MAX, f64::min);
        (mean, var.sqrt() / mean, min)
    }

    #[test]
    fn every_prefix_is_blue_noise() {
        let set = build_ranked_set(2048, 7);
        assert_eq!(set.len(), 2048);
        for k in [2048, 1500, 1024, 600, 256] {
            let (mean, cv, min) = nn_stats(&set[..k]);
            // Mean spacing of a hexagonal packing of k points on unit area.
            let hex = (2.0 / (3f64.sqrt() * k as f64)).sqrt();
            assert!(cv <= 0.15, "prefix {k}: nearest-neighbour CV {cv:.3} > 0.15");
            assert!(
                mean > 0.7 * hex,
                "prefix {k}: mean spacing {mean:.4} vs hexagonal {hex:.4}"
            );
            assert!(
                min > 0.5 * hex,
                "prefix {k}: two points {min:.4} apart (hexagonal {hex:.4})"
            );
        }
    }

    #[test]
    fn baked_tile_is_the_generated_one() {
        let tile = ranked_tile();
        assert_eq!(tile.len(), TILE_POINTS);
        let fresh = build_ranked_set(TILE_POINTS, TILE_SEED);
        assert!(tile == fresh.as_slice(), "build.rs and the generator disagree");
    }

    #[test]
    fn deterministic_and_in_unit_square() {
        let a = build_ranked_set(512, 3);
        assert_eq!(a, build_ranked_set(512, 3));
        assert!(a
            .iter()
            .all(|p| (0.0..1.0).contains(&p[0]) && (0.0..1.0).contains(&p[1])));
        let mut sorted: Vec<_> = a.iter().map(|p| (p[0].to_bits(), p[1].to_bits())).collect();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 512, "no point appears twice");
    }
}
