//! Replays every input kept in `fuzz/regressions/` (crashes the fuzzers once found, named `design-*` or
//! `mask-*`) through the same entry points as the fuzz targets: each must now be handled without a panic.

use std::path::Path;

#[test]
fn kept_fuzz_inputs_no_longer_crash() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        if name.starts_with("design-") {
            smpsim::fuzzing::design(&data);
        } else if name.starts_with("mask-") {
            smpsim::fuzzing::mask(&data);
        } else {
            continue;
        }
        replayed += 1;
    }
    assert!(replayed > 0, "no regression inputs in {}", dir.display());
}
