//! Mask and photo decoding from arbitrary bytes: errors, never a panic, and never an allocation past the limits.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| smpsim::fuzzing::mask(data));
