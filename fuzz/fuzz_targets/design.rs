//! Design files (TOML and JSON) from arbitrary bytes: parsing, resolving against a photo and drawing the
//! field must return errors, never panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| smpsim::fuzzing::design(data));
