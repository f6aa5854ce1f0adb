//! Baseline JPEG encoding of an RGB image in horizontal strips, in parallel, joined into one file by restart
//! markers.
//!
//! `jpeg-encoder` encodes on one thread, and at 12 MP it was half of a render's time. A baseline JPEG with a
//! restart interval of whole MCU rows is a sequence of independent pieces (the DC predictions start again
//! after each marker), so each strip of rows can be encoded on its own and the pieces joined in order: the
//! result is byte for byte what `jpeg-encoder` writes for the whole image with that restart interval (a test
//! holds it to that). The strips depend only on the image's size, never on the number of threads.

use jpeg_encoder::{ColorType, Encoder, EncodingError, SamplingFactor};
use rayon::prelude::*;

/// Rows of one MCU at 4:2:0.
const MCU_ROWS: usize = 16;
/// MCU rows per strip, at most: 256 pixel rows, about 12 strips at 12 MP (enough for either of several
/// threads to take the next one) at 2 bytes of marker and a few of reset predictions each.
const STRIP_MCU_ROWS: usize = 16;

/// The JPEG (8-bit RGB `rgb`, `width`×`height`, at `quality`, 4:2:0, with `icc` embedded when given), as the
/// pieces to write one after the other.
pub(crate) fn encode(
    rgb: &[u8],
    width: u16,
    height: u16,
    quality: u8,
    icc: Option<&[u8]>,
) -> Result<Vec<Vec<u8>>, EncodingError> {
    let (w, h) = (width as usize, height as usize);
    if rgb.len() < w * h * 3 {
        return Err(EncodingError::BadImageData {
            length: rgb.len(),
            required: w * h * 3,
        });
    }
    if w == 0 || h == 0 {
        return Err(EncodingError::ZeroImageDimensions { width, height });
    }
    let (interval, strip_rows) = strip_size(w);
    let strips: Vec<&[u8]> = rgb[..w * h * 3].chunks(strip_rows * w * 3).collect();
    let encoded: Vec<Vec<u8>> = strips
        .par_iter()
        .enumerate()
        .with_max_len(1)
        .map(|(i, strip)| {
            let mut bytes = Vec::new();
            let mut encoder = Encoder::new(&mut bytes, quality);
            encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
            encoder.set_restart_interval(interval);
            // Only the first strip's headers are kept.
            if let (0, Some(icc)) = (i, icc) {
                encoder.add_icc_profile(icc)?;
            }
            let rows = strip.len() / (w * 3);
            encoder.encode(strip, width, rows as u16, ColorType::Rgb)?;
            Ok(bytes)
        })
        .collect::<Result<_, EncodingError>>()?;
    join(encoded, height)
}

/// The restart interval (MCUs) and strip height (rows) for an image `w` pixels wide: whole MCU rows, as many
/// as [`STRIP_MCU_ROWS`] and the interval's 16 bits allow (at least 15 at JPEG's widest, 4096 MCUs).
fn strip_size(w: usize) -> (u16, usize) {
    let mcus_per_row = w.div_ceil(MCU_ROWS).max(1);
    let strip_mcu_rows = (u16::MAX as usize / mcus_per_row).min(STRIP_MCU_ROWS);
    ((strip_mcu_rows * mcus_per_row) as u16, strip_mcu_rows * MCU_ROWS)
}

/// One JPEG from the strips' own: the first strip's headers (with the whole image's height) and scan, then
/// each further strip's scan after a restart marker, then the end of image.
fn join(strips: Vec<Vec<u8>>, height: u16) -> Result<Vec<Vec<u8>>, EncodingError> {
    let malformed = || EncodingError::IoError(std::io::Error::other("jpeg-encoder wrote an unexpected stream"));
    let mut pieces = Vec::with_capacity(strips.len() * 2);
    for (i, mut strip) in strips.into_iter().enumerate() {
        let scan_start = scan_start(&strip).ok_or_else(malformed)?;
        if !strip.ends_with(&[0xFF, EOI]) {
            return Err(malformed());
        }
        strip.truncate(strip.len() - 2);
        if i == 0 {
            let sof = find_segment(&strip[..scan_start], SOF0).ok_or_else(malformed)?;
            // Marker (2), length (2), precision (1), then the height.
            strip[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
        } else {
            let marker = RST0 + ((i - 1) % 8) as u8;
            pieces.push(vec![0xFF, marker]);
            strip.drain(..scan_start);
        }
        pieces.push(strip);
    }
    pieces.push(vec![0xFF, EOI]);
    Ok(pieces)
}

const SOF0: u8 = 0xC0;
const SOS: u8 = 0xDA;
const EOI: u8 = 0xD9;
const RST0: u8 = 0xD0;

/// Where the entropy-coded data of a JPEG's first scan starts: just past its start-of-scan segment.
fn scan_start(jpeg: &[u8]) -> Option<usize> {
    let sos = find_segment(jpeg, SOS)?;
    let length = u16::from_be_bytes([*jpeg.get(sos + 2)?, *jpeg.get(sos + 3)?]) as usize;
    Some(sos + 2 + length)
}

/// Where the first segment with `marker` starts (at its 0xFF), walking the segments from the start of image.
fn find_segment(jpeg: &[u8], marker: u8) -> Option<usize> {
    let mut at = 2; // past SOI
    loop {
        let (&ff, &kind) = (jpeg.get(at)?, jpeg.get(at + 1)?);
        if ff != 0xFF {
            return None;
        }
        if kind == marker {
            return Some(at);
        }
        if kind == SOS {
            return None; // data follows: no more segments to walk
        }
        let length = u16::from_be_bytes([*jpeg.get(at + 2)?, *jpeg.get(at + 3)?]) as usize;
        at += 2 + length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noisy test image (`seed` varies it), so that every block codes differently.
    fn image(w: usize, h: usize, seed: u32) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9) | 1;
        (0..w * h * 3)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let smooth = ((i / 3 % w) * 255 / w.max(1)) as u32;
                ((smooth + (state & 63)) & 0xFF) as u8
            })
            .collect()
    }

    /// What jpeg-encoder writes for the whole image with the restart interval the strips use.
    fn whole(rgb: &[u8], w: u16, h: u16, quality: u8, icc: Option<&[u8]>) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = Encoder::new(&mut bytes, quality);
        encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
        encoder.set_restart_interval(strip_size(w as usize).0);
        if let Some(icc) = icc {
            encoder.add_icc_profile(icc).unwrap();
        }
        encoder.encode(rgb, w, h, ColorType::Rgb).unwrap();
        bytes
    }

    #[test]
    fn strips_joined_are_the_whole_image_encoding_byte_for_byte() {
        // A profile of two APP2 chunks.
        let icc = vec![7u8; 70_000];
        // One strip, exactly two, two and a ragged one, many (more than eight restart markers), an odd width.
        for (w, h) in [(40, 30), (64, 512), (33, 600), (50, 2500), (1, 1)] {
            for icc in [None, Some(icc.as_slice())] {
                let rgb = image(w, h, (w * h) as u32);
                let joined = encode(&rgb, w as u16, h as u16, 85, icc).unwrap().concat();
                let expected = whole(&rgb, w as u16, h as u16, 85, icc);
                assert!(
                    joined == expected,
                    "{w}×{h}, icc {}: {} vs {} bytes",
                    icc.is_some(),
                    joined.len(),
                    expected.len()
                );
            }
        }
    }

    #[test]
    fn very_wide_images_keep_the_restart_interval_in_16_bits() {
        // 4096 MCUs a row: 15 MCU rows (240 pixel rows) a strip, since 16 would take 65,536 MCUs.
        assert_eq!(strip_size(65_535), (61_440, 240));
        assert_eq!(strip_size(4000), (4000, 256));
        let (w, h) = (65_535, 250);
        let rgb = image(w, h, 3);
        let joined = encode(&rgb, w as u16, h as u16, 75, None).unwrap().concat();
        assert!(joined == whole(&rgb, w as u16, h as u16, 75, None));
        let decoded = image::load_from_memory(&joined).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (w as u32, h as u32));
    }

    #[test]
    fn the_joined_file_decodes_to_the_pixels_of_a_plain_encoding() {
        // Restart markers change how the DC terms are coded, not what they are: a decoder sees the same
        // coefficients as in jpeg-encoder's plain output (no restarts), so the same pixels, in every strip.
        let (w, h) = (300, 1000);
        let rgb = image(w, h, 11);
        let joined = encode(&rgb, w as u16, h as u16, 90, None).unwrap().concat();
        let mut plain = Vec::new();
        let mut encoder = Encoder::new(&mut plain, 90);
        encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
        encoder.encode(&rgb, w as u16, h as u16, ColorType::Rgb).unwrap();
        assert_ne!(joined, plain);
        let decode = |bytes: &[u8]| image::load_from_memory(bytes).unwrap().into_rgb8();
        let (from_joined, from_plain) = (decode(&joined), decode(&plain));
        assert_eq!(from_joined.dimensions(), (w as u32, h as u32));
        assert!(from_joined == from_plain);
    }

    #[test]
    fn short_data_and_empty_images_are_errors() {
        assert!(matches!(
            encode(&[0; 10], 4, 4, 90, None),
            Err(EncodingError::BadImageData { .. })
        ));
        for (w, h) in [(0, 5), (5, 0), (0, 0)] {
            assert!(matches!(
                encode(&[], w, h, 90, None),
                Err(EncodingError::ZeroImageDimensions { .. })
            ));
        }
    }
}
