//! The bundled fixture is what the generator makes: `REGENERATE=1 cargo test --test fixtures` rewrites it.

use smpsim::synth::SyntheticHead;
use std::path::Path;

const PHOTO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/head.jpg");
const MASK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/head_mask.png");
/// JPEG quality of the committed photo: high, as a clinic camera writes.
const QUALITY: u8 = 92;

#[test]
fn bundled_fixture_matches_its_generator() {
    let (photo, mask) = SyntheticHead::default().generate();
    if std::env::var_os("REGENERATE").is_some() {
        smpsim::io::save_rgb(Path::new(PHOTO), &photo, QUALITY).unwrap();
        mask.save(MASK).unwrap();
    }
    let stored_mask = image::open(MASK).unwrap().into_luma8();
    assert!(
        stored_mask == mask,
        "fixtures/head_mask.png differs from the generator; REGENERATE=1 to rewrite"
    );
    let stored = image::open(PHOTO).unwrap().into_rgb8();
    assert_eq!(stored.dimensions(), photo.dimensions());
    // JPEG is lossy: compare the mean absolute difference.
    let diff: u64 = stored
        .as_raw()
        .iter()
        .zip(photo.as_raw())
        .map(|(a, b)| a.abs_diff(*b) as u64)
        .sum();
    let mean = diff as f64 / photo.as_raw().len() as f64;
    assert!(
        mean < 2.0,
        "fixtures/head.jpg differs from the generator by {mean:.2} per channel"
    );
}
