//! Scenes shared by the benchmarks: a synthetic 12 MP consultation photo with its mask, a smooth density
//! gradient, and parameters that ask for a chosen number of impressions.
//!
//! Each bench uses only part of this module.
#![allow(dead_code)]

use image::{GrayImage, RgbImage};
use smpsim::synth::SyntheticHead;
use smpsim::{DensityField, Params};

/// 12 MP, the size the targets are set at.
pub const WIDTH: u32 = 4000;
/// 12 MP, the size the targets are set at.
pub const HEIGHT: u32 = 3000;

/// Scale of the synthetic head at 4000×3000: the default head (9 px/mm at 1600×1200) scaled with the frame, so
/// the head fills the photo as in a clinic's shot. A 0.15 mm impression is then about 3.4 px wide.
pub const HEAD_PX_PER_MM: f32 = 22.5;

/// A synthetic photo, its treatment mask and the density field made from it.
pub struct HeadScene {
    pub photo: RgbImage,
    pub mask: GrayImage,
    pub field: DensityField,
    pub px_per_mm: f32,
}

/// The synthetic head at `width`×`height`, scaled with the frame (22.5 px/mm at 4000 px wide), with a camera's
/// grain ([`add_grain`]).
pub fn head_scene(width: u32, height: u32) -> HeadScene {
    let px_per_mm = HEAD_PX_PER_MM * width as f32 / WIDTH as f32;
    let (mut photo, mask) = SyntheticHead {
        width,
        height,
        px_per_mm,
        ..Default::default()
    }
    .generate();
    add_grain(&mut photo);
    let field = DensityField::from_mask(&mask);
    HeadScene {
        photo,
        mask,
        field,
        px_per_mm,
    }
}

/// Adds a camera sensor's grain: the same noise on all three channels, about 3 levels (σ), different at every
/// pixel, as the peers' reference photo has (`../shared/peers/make_photo.py`: `3.0 * n_fine`).
///
/// Without it the synthetic head has no detail finer than a couple of pixels and its 12 MP JPEG (q90, 4:2:0)
/// is 0.75 MB, where a camera's is 2–5 MB and the peers' photo 1.9 MB: a photo that smooth decodes and encodes
/// faster than any real one, and the impressions stamped on it are most of what its encoder has to code.
/// With the grain the JPEG is about 2 MB. Deterministic (a hash of the pixel's position).
pub fn add_grain(photo: &mut RgbImage) {
    let width = photo.width() as usize;
    for (i, pixel) in photo.as_mut().chunks_exact_mut(3).enumerate() {
        // Two uniforms from a 64-bit mix of the position (splitmix64's finaliser); their difference is
        // triangular, σ = 1/√6 of the span.
        let (y, x) = ((i / width) as u64, (i % width) as u64);
        let mut z = y.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ x.wrapping_mul(0xD1B5_4A32_D192_ED03);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let (a, b) = ((z & 0xFFFF) as f32, ((z >> 16) & 0xFFFF) as f32);
        let noise = (a - b) / 65535.0 * 3.0 * 6f32.sqrt();
        for v in pixel.iter_mut() {
            *v = (*v as f32 + noise).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// A smooth, everywhere-varying density (0.2–1.0) over the whole frame: rises left to right, bulges in the
/// middle rows. Scale-free, so a bigger frame holds the same pattern with proportionally more impressions.
pub fn gradient_field(width: u32, height: u32) -> DensityField {
    let (w, h) = (width as f32, height as f32);
    DensityField::from_fn(width, height, move |x, y| {
        0.2 + 0.8 * (x / w) * (0.6 + 0.4 * (std::f32::consts::PI * y / h).sin())
    })
}

/// Treated area of `field` at `px_per_mm`, in cm² (density-weighted).
pub fn treated_cm2(field: &DensityField, px_per_mm: f32) -> f64 {
    field.weighted_area_px() / (px_per_mm as f64 * px_per_mm as f64) / 100.0
}

/// Default parameters at `px_per_mm`, with the density (per cm²) that places about `target` impressions
/// over `field`. Panics if that density is beyond what `Params` accepts.
pub fn params_for(field: &DensityField, px_per_mm: f32, target: usize) -> Params {
    let density = (target as f64 / treated_cm2(field, px_per_mm)) as f32;
    assert!(
        density <= Params::MAX_DENSITY,
        "{target} impressions need {density:.0} per cm², above the {} allowed",
        Params::MAX_DENSITY
    );
    Params {
        density,
        px_per_mm: Some(px_per_mm),
        ..Params::default()
    }
}

/// Parameters for about `target` impressions over `field` with impressions as large in pixels as `Params`
/// allows: the highest density accepted ([`Params::MAX_DENSITY`], 1000 per cm²) and the scale that gives
/// `target` at it, with the default 0.15 mm impressions.
///
/// 100k impressions is a stress case (a real treatment of the top of a head is 20–30k): at the synthetic head's
/// own 22.5 px/mm it would take about 1100 per cm², past the cap, so the scale is lowered a little instead
/// (about 21 px/mm, impressions about 3.2 px wide).
pub fn params_at_cap(field: &DensityField, target: usize) -> Params {
    let density = Params::MAX_DENSITY;
    // target = density/cm² ÷ 100 × area_px ÷ px_per_mm²
    let px_per_mm = (density as f64 / 100.0 * field.weighted_area_px() / target as f64).sqrt() as f32;
    Params {
        density,
        px_per_mm: Some(px_per_mm),
        ..Params::default()
    }
}

/// Default parameters (100 per cm²) with the scale that places about `target` impressions over `field`.
pub fn params_by_scale(field: &DensityField, target: usize) -> Params {
    let p = Params::default();
    // target = density/cm² × area_px / (px_per_mm² × 100)
    let px_per_mm = (p.density as f64 * field.weighted_area_px() / 100.0 / target as f64).sqrt() as f32;
    Params {
        px_per_mm: Some(px_per_mm),
        ..p
    }
}

/// A rayon pool of `threads` threads, pinned one to a CPU as the `smpsim` binary pins its own.
pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .start_handler(smpsim::affinity::pin_worker)
        .build()
        .expect("thread pool")
}

/// Builds rayon's global pool as the `smpsim` binary does (one CPU per worker), if nothing has yet.
pub fn pin_global_pool() {
    let _ = rayon::ThreadPoolBuilder::new()
        .start_handler(smpsim::affinity::pin_worker)
        .build_global();
}

/// Logical CPUs available to this process.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
