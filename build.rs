//! Bakes the ranked blue-noise tile into the binary: generating it takes about half a second, placement
//! afterwards only nanoseconds per point. The generator is the library's own (`src/blue_noise/generate.rs`).

#[path = "src/blue_noise/generate.rs"]
#[allow(dead_code)]
mod generate;

/// Must match `TILE_POINTS` and `TILE_SEED` in `src/blue_noise.rs` (a test checks).
const TILE_POINTS: usize = 32768;
const TILE_SEED: u64 = 0x5EED_B10E;

fn main() {
    println!("cargo::rerun-if-changed=src/blue_noise/generate.rs");
    println!("cargo::rerun-if-changed=build.rs");
    let points = generate::build_ranked_set(TILE_POINTS, TILE_SEED);
    let bytes: Vec<u8> = points
        .iter()
        .flat_map(|p| p[0].to_le_bytes().into_iter().chain(p[1].to_le_bytes()))
        .collect();
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("ranked_tile.bin");
    std::fs::write(out, bytes).unwrap();
}
