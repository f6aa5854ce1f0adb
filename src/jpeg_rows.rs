//! A camera's JPEG decoded band by band: one iMCU row (16 image rows of a baseline 4:2:0 JPEG) at a time,
//! each band handed over as soon as it is decoded, so that work on it — stamping — can run on the other core
//! while the decode goes on ([`crate::io::load_photo_beside_stamping`]).
//!
//! zune-jpeg (the decoder `image` uses, in a newer version) gives each iMCU row as Y, Cb and Cr planes; the
//! `yuv` crate turns them into RGB rows of the final image (full range, BT.601, as JPEG defines; chroma
//! upsampled by repeating each sample, so the result differs from `image`'s by about 0.1 of a level on
//! average, up to ~16 at sharp colour edges). Every other kind of JPEG is left to `image`.

use yuv::{YuvPlanarImage, YuvRange, YuvStandardMatrix};
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::{JpegDecoder, RawImcuRowStatus};

/// Rows per band: one iMCU row at 4:2:0, and one stamping band.
pub const BAND_ROWS: usize = 16;
const _: () = assert!(BAND_ROWS == crate::stamp::BAND_ROWS);

/// Whether this module decodes the JPEG: YCbCr, three components sampled 2×2, 1×1, 1×1.
pub fn supported(bytes: &[u8]) -> bool {
    let mut dec = JpegDecoder::new(ZCursor::new(bytes));
    if dec.decode_headers().is_err() || dec.input_colorspace() != Some(ColorSpace::YCbCr) {
        return false;
    }
    let raw = dec.raw_output();
    let (Some(layout), Some(3)) = (raw.layout(), raw.num_components()) else {
        return false;
    };
    layout[0].horizontal_sampling_factor == 2
        && layout[0].vertical_sampling_factor == 2
        && (1..3).all(|i| layout[i].horizontal_sampling_factor == 1 && layout[i].vertical_sampling_factor == 1)
}

/// Decodes `bytes` (which [`supported`] accepted) into `bands` (the RGB image's rows, [`BAND_ROWS`] to a band,
/// in order), handing each band to `on_band` with its index as soon as it is decoded. The error says what was
/// wrong with the data.
pub fn decode_bands<'a>(
    bytes: &[u8],
    bands: impl IntoIterator<Item = &'a mut [u8]>,
    mut on_band: impl FnMut(usize, &'a mut [u8]),
) -> Result<(), String> {
    let mut dec = JpegDecoder::new(ZCursor::new(bytes));
    dec.decode_headers().map_err(|e| e.to_string())?;
    let w = dec.info().ok_or("no header")?.width as usize;
    let mut raw = dec.raw_output();
    let layout = raw.layout().ok_or("no layout")?;
    let strides: Vec<usize> = layout[..3].iter().map(|p| p.stride).collect();
    let mut storage: Vec<Vec<u8>> = layout[..3]
        .iter()
        .map(|p| vec![0; p.stride * p.vertical_sampling_factor * 8])
        .collect();
    for (index, band) in bands.into_iter().enumerate() {
        let status = {
            let mut planes: Vec<&mut [u8]> = storage.iter_mut().map(|v| v.as_mut_slice()).collect();
            raw.decode_next_imcu_row(&mut planes, &strides)
                .map_err(|e| e.to_string())?
        };
        let RawImcuRowStatus::RowReady { rows_written } = status else {
            return Err("the image data ends early".into());
        };
        let rows = rows_written[0];
        if rows * w * 3 != band.len() {
            return Err(format!("band {index}: {rows} rows decoded for {} bytes", band.len()));
        }
        let image = YuvPlanarImage {
            y_plane: &storage[0],
            y_stride: strides[0] as u32,
            u_plane: &storage[1],
            u_stride: strides[1] as u32,
            v_plane: &storage[2],
            v_stride: strides[2] as u32,
            width: w as u32,
            height: rows as u32,
        };
        yuv::yuv420_to_rgb(&image, band, (w * 3) as u32, YuvRange::Full, YuvStandardMatrix::Bt601)
            .map_err(|e| e.to_string())?;
        on_band(index, band);
    }
    Ok(())
}
