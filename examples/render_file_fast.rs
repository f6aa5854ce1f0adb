//! Render a photo file the way `smpsim render` does, with each core busy: while one decodes the JPEG, the
//! other reads the mask, builds the density field, places the impressions and prepares them for stamping,
//! and then stamps each band of the photo as soon as it is decoded.
//!
//! `cargo run --release --example render_file_fast [PHOTO MASK OUT]` renders the bundled
//! `fixtures/head.jpg` with `fixtures/head_mask.png` into `render_file_fast.jpg` unless given other files.

use std::path::PathBuf;
use std::time::Instant;

use smpsim::{io, Params};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [photo, mask, out] = match <[PathBuf; 3]>::try_from(args) {
        Ok(files) => files,
        Err(_) => {
            let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
            [
                fixtures.join("head.jpg"),
                fixtures.join("head_mask.png"),
                "render_file_fast.jpg".into(),
            ]
        }
    };
    let params = Params {
        px_per_mm: Some(9.0), // the fixture's scale; leave it None to estimate it from the mask
        ..Params::default()
    };

    let start = Instant::now();
    // Everything in the first closure needs the photo's size, which the header gives, but not its pixels; the
    // second stamps a band with what the first returned (a camera's JPEG decodes band by band).
    let (loaded, beside, stamped) = io::load_photo_beside_stamping(
        &photo,
        &io::DecodeLimits::default(),
        |width, height| {
            let field = io::load_mask(&mask, width, height)?;
            let planned = smpsim::plan_and_prepare(width, height, &field, &params)?;
            Ok::<_, smpsim::Error>((field, planned))
        },
        |beside, band, pixels| match beside {
            Ok((field, planned)) => smpsim::stamp_planned_band(planned, field, &params, band, pixels),
            Err(_) => false,
        },
    )?;
    let (field, planned) = beside?;
    let decoded = start.elapsed();

    let mut image = loaded.image;
    // Another kind of photo (or one turned upright) is stamped now, whole.
    let impressions = planned.impressions().len();
    if !stamped {
        smpsim::render_planned_mut(&mut image, &field, &params, planned)?;
    }
    io::save_image(&out, &image, loaded.icc.as_deref(), io::DEFAULT_JPEG_QUALITY)?;
    println!(
        "{impressions} impressions; decoded (and placed{} beside) in {:.1} ms, {:.1} ms in all → {}",
        if stamped { ", stamped" } else { "" },
        decoded.as_secs_f64() * 1e3,
        start.elapsed().as_secs_f64() * 1e3,
        out.display()
    );
    Ok(())
}
