//! Reading and writing image files: the only module that touches the file system.
//!
//! The rest of the library works on in-memory images; embedders may skip this module entirely.
//! Photos are turned upright by their EXIF orientation on load, so masks refer to the photo as a person sees it.
//! Outputs are written to a temporary file beside the target and renamed into place, so a failed or
//! interrupted write never leaves a half-written image, and an existing file is replaced only by a whole one.

use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use std::io::{BufWriter, Cursor, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::field::DensityField;

/// Largest photo accepted, in pixels (a decompression bomb claims far more). 150 MP allows any camera's photo.
pub const MAX_PIXELS: u64 = 150_000_000;

/// Default JPEG quality for outputs.
pub const DEFAULT_JPEG_QUALITY: u8 = 90;

fn image_err(path: &Path, source: image::ImageError) -> Error {
    Error::Image {
        path: path.to_path_buf(),
        source,
    }
}

/// Decodes an image file, upright by its EXIF orientation, refusing oversized headers before allocating.
pub fn load_image(path: &Path) -> Result<DynamicImage> {
    let bad = |reason: &str| Error::BadFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false) {
        return Err(bad("is a directory, not an image file"));
    }
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.is_empty() {
        return Err(bad("is empty (0 bytes)"));
    }
    let reader = ImageReader::new(Cursor::new(&bytes[..]))
        .with_guessed_format()
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if reader.format() == Some(ImageFormat::Jpeg) && !jpeg_is_complete(&bytes) {
        // The JPEG decoder fills a cut-off image with grey rather than failing.
        return Err(bad("truncated JPEG: the image data ends before its end marker"));
    }
    let mut decoder = reader.into_decoder().map_err(|e| image_err(path, e))?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > MAX_PIXELS {
        return Err(bad(&format!(
            "{w}x{h} pixels is more than the {MAX_PIXELS} this tool decodes"
        )));
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(decoder.total_bytes().saturating_mul(2).max(64 << 20));
    decoder.set_limits(limits).map_err(|e| image_err(path, e))?;
    let orientation = decoder.orientation().map_err(|e| image_err(path, e))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| image_err(path, e))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Whether a JPEG's last scan is followed by an end-of-image marker. Entropy-coded data never holds the bytes
/// FF D9 or FF DA (an FF there is always followed by 00 or a restart marker), so this finds a cut-off file
/// even when an embedded thumbnail has markers of its own.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_scan {
        Some(s) => bytes[s..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

/// Loads a photo as 8-bit RGB, upright.
pub fn load_photo(path: &Path) -> Result<RgbImage> {
    Ok(load_image(path)?.into_rgb8())
}

/// Loads a greyscale mask, density map or exclusion mask (white = 1) and checks it is `width`×`height`, the upright photo's size.
pub fn load_mask(path: &Path, width: u32, height: u32) -> Result<DensityField> {
    let mask: GrayImage = load_image(path)?.into_luma8();
    DensityField::from_mask_sized(&mask, width, height, &path.display().to_string())
}

/// Reads a design (hairline) file: TOML, or JSON when the extension is `.json`. Errors name the file.
pub fn load_design(path: &Path) -> Result<crate::design::Design> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let format = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => crate::design::DesignFormat::Json,
        _ => crate::design::DesignFormat::Toml,
    };
    crate::design::Design::parse(&text, format, &path.display().to_string())
}

/// Writes `image` to `path` in the format its extension names (jpg/jpeg, png, webp, tif/tiff), atomically.
/// JPEG is written at `jpeg_quality` with 4:2:0 chroma, as cameras and phones do.
pub fn save_rgb(path: &Path, image: &RgbImage, jpeg_quality: u8) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let bad = |reason: String| Error::BadFile {
        path: path.to_path_buf(),
        reason,
    };
    let format = match ext.as_str() {
        "jpg" | "jpeg" => None,
        "png" => Some(ImageFormat::Png),
        "webp" => Some(ImageFormat::WebP),
        "tif" | "tiff" => Some(ImageFormat::Tiff),
        _ => {
            return Err(bad(format!(
                "unknown output format {ext:?}: use .jpg, .png, .webp or .tif"
            )))
        }
    };
    if !(1..=100).contains(&jpeg_quality) {
        return Err(Error::param("quality", jpeg_quality, "must be from 1 to 100"));
    }
    write_atomically(path, |file| match format {
        None => {
            let mut encoder = jpeg_encoder::Encoder::new(file, jpeg_quality);
            encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
            let (w, h) = (image.width(), image.height());
            if w > u16::MAX as u32 || h > u16::MAX as u32 {
                return Err(bad(format!("{w}x{h} is larger than JPEG allows (65535 a side)")));
            }
            encoder
                .encode(image.as_raw(), w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| bad(format!("JPEG encoding failed: {e}")))
        }
        Some(f) => {
            let mut buf = BufWriter::new(file);
            image.write_to(&mut buf, f).map_err(|e| image_err(path, e))?;
            buf.flush().map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    })
}

/// Writes a greyscale image (a mask or density field) losslessly: PNG or TIFF by extension, atomically.
pub fn save_gray(path: &Path, image: &GrayImage) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let format = match ext.as_str() {
        "png" => ImageFormat::Png,
        "tif" | "tiff" => ImageFormat::Tiff,
        _ => {
            return Err(Error::BadFile {
                path: path.to_path_buf(),
                reason: format!("a mask is written losslessly: use .png or .tif, not {ext:?}"),
            })
        }
    };
    write_atomically(path, |file| {
        let mut buf = BufWriter::new(file);
        image.write_to(&mut buf, format).map_err(|e| image_err(path, e))?;
        buf.flush().map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Runs `write` on a temporary file beside `path`, then renames it over `path`. On any error the temporary
/// file is removed and `path` is left as it was.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut std::fs::File) -> Result<()>) -> Result<()> {
    let io_err = |source: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".smpsim-").suffix(".part");
    // Like any new file: 0666 less the umask (tempfile's own default, 0600, would surprise a clinic's sharing).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder.tempfile_in(dir).map_err(io_err)?;
    write(tmp.as_file_mut())?;
    tmp.as_file_mut().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}
