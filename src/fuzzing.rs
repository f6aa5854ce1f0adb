//! Entry points shared by the fuzz targets (`fuzz/`) and the replay of the crashes they found
//! (`tests/fuzz_regressions.rs`). Each takes arbitrary bytes and must never panic.

use crate::design::{Design, DesignFormat};
use crate::io::{decode, DecodeLimits};
use std::path::Path;

/// Parses `data` as a TOML and as a JSON design; whatever parses is resolved against a small photo and drawn.
pub fn design(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for format in [DesignFormat::Toml, DesignFormat::Json] {
        if let Ok(design) = Design::parse(text, format, "fuzz") {
            if let Ok(resolved) = design.resolve(64, 48, "fuzz") {
                let _ = resolved.field(2.0, 1);
            }
        }
    }
}

/// Decodes `data` as an image under tight limits and, if it decodes, uses it as a mask for a photo its size.
pub fn mask(data: &[u8]) {
    let limits = DecodeLimits {
        max_pixels: 4_000_000,
        max_bytes: 64 << 20,
    };
    if let Ok(loaded) = decode(data, &limits, Path::new("fuzz")) {
        let mask = loaded.image.into_luma8();
        let (w, h) = mask.dimensions();
        if let Ok(field) = crate::DensityField::from_mask_sized(&mask, w, h, "fuzz") {
            let _ = field.bounding_box();
        }
    }
}
