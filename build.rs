//! Bakes two tables into the binary with the library's own code: the ranked blue-noise tile
//! (`src/blue_noise/generate.rs`, half a second to generate) and the blurred-disc coverage profile
//! (`src/splat/profile.rs`, ~25 ms to integrate). Placement and stamping then only look them up.

#[path = "src/blue_noise/generate.rs"]
#[allow(dead_code)]
mod generate;

#[path = "src/splat/profile.rs"]
#[allow(dead_code)]
mod profile;

/// Must match `TILE_POINTS` and `TILE_SEED` in `src/blue_noise.rs` (a test checks).
const TILE_POINTS: usize = 32768;
const TILE_SEED: u64 = 0x5EED_B10E;

fn main() {
    println!("cargo::rerun-if-changed=src/blue_noise/generate.rs");
    println!("cargo::rerun-if-changed=src/splat/profile.rs");
    println!("cargo::rerun-if-changed=build.rs");
    let points = generate::build_ranked_set(TILE_POINTS, TILE_SEED);
    let bytes: Vec<u8> = points
        .iter()
        .flat_map(|p| p[0].to_le_bytes().into_iter().chain(p[1].to_le_bytes()))
        .collect();
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out_dir.join("ranked_tile.bin"), bytes).unwrap();
    let table: Vec<u8> = profile::build_table().iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(out_dir.join("profile_table.bin"), table).unwrap();
}
