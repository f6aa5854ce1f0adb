//! A density field computed in code instead of painted: denser at the crown, fading toward the temples, with
//! a round exclusion (a mole) left untouched.
//!
//! `cargo run --release --example custom_density` writes `custom_density.png`.

use smpsim::{render, synth::SyntheticHead, DensityField, Params};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let head = SyntheticHead::default();
    let (photo, mask) = head.generate();
    let (w, h) = (photo.width(), photo.height());
    let (cx, cy) = head.head_centre();
    let r = head.head_radius_px();

    // Density: 1.0 at the crown, 0.6 toward the sides; nothing inside the mole.
    let mole = (cx + 0.25 * r, cy - 0.5 * r, 12.0);
    let mut field = DensityField::from_fn(w, h, |x, y| {
        let side = ((x - cx) / r).abs();
        let in_mole = (x - mole.0).hypot(y - mole.1) < mole.2;
        if in_mole {
            0.0
        } else {
            1.0 - 0.4 * side.min(1.0)
        }
    });
    // Keep it inside the treatment region of the photo's own mask.
    field.multiply(&DensityField::from_mask(&mask))?;

    let params = Params {
        px_per_mm: Some(head.px_per_mm),
        ..Params::default()
    };
    let out = render(&photo, &field, &params)?;
    println!("{} impressions", out.stats.impressions);
    out.image.save("custom_density.png")?;
    Ok(())
}
