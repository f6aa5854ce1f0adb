//! Render a treatment on in-memory images, with no file I/O in the library call.
//!
//! `cargo run --release --example render_in_memory` writes `render_in_memory.png` (a before/after) in the
//! current folder, from a synthetic head made on the spot.

use smpsim::{compose, render, synth::SyntheticHead, DensityField, Params};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let head = SyntheticHead {
        width: 800,
        height: 600,
        px_per_mm: 4.5,
        ..SyntheticHead::default()
    };
    let (photo, mask) = head.generate();

    let params = Params {
        density: 110.0,       // impressions per cm² at full mask strength
        dot_size: 0.18,       // mm
        px_per_mm: Some(4.5), // this photo's scale
        ..Params::default()
    };
    let out = render(&photo, &DensityField::from_mask(&mask), &params)?;
    println!(
        "{} impressions over {:.1} cm² (placing {:.1} ms, stamping {:.1} ms)",
        out.stats.impressions,
        out.stats.treated_area_cm2,
        out.stats.place_seconds * 1e3,
        out.stats.stamp_seconds * 1e3
    );
    compose::side_by_side(&photo, &out.image, 8).save("render_in_memory.png")?;
    Ok(())
}
