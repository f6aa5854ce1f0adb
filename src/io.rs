//! Reading and writing image files: the only module that touches the file system.
//!
//! The rest of the library works on in-memory images; embedders may skip this module entirely.
//!
//! - **Orientation**: photos and masks are turned upright by their EXIF orientation on load, so a mask, a
//!   density map or a design's coordinates refer to the photo as a person sees it.
//! - **Colour**: an embedded ICC profile is read and written back into JPEG, PNG, WebP and TIFF outputs, so
//!   colours do not shift. 16-bit photos stay 16-bit in PNG and TIFF outputs; alpha is kept where the format has it.
//! - **Privacy**: outputs carry no metadata from the input but the colour profile: no EXIF, GPS, camera or
//!   date fields. Nothing here (or anywhere in smpsim) opens a network connection.
//! - **Limits**: the header is read first and a photo over [`DecodeLimits`] is refused before any pixel
//!   memory is allocated (a decompression bomb claims far more than it holds).
//! - **Atomic writes**: outputs go to a temporary file beside the target and are renamed into place, so a
//!   failed or interrupted write never leaves a half-written image, and an existing file is replaced only by
//!   a whole one.

use image::codecs::png::PngEncoder;
use image::codecs::tiff::TiffEncoder;
use image::codecs::webp::WebPEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits, RgbImage};
use rayon::prelude::*;
use std::io::{BufWriter, Cursor, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::field::DensityField;

/// Default JPEG quality for outputs.
pub const DEFAULT_JPEG_QUALITY: u8 = 90;

/// How large an image this tool agrees to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most pixels (width × height). Default: 120 million, above any camera's photo.
    pub max_pixels: u64,
    /// Most bytes of decoded pixels. Default: 1 GiB (a 100 MP 16-bit RGB photo is 600 MB).
    pub max_bytes: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 120_000_000,
            max_bytes: 1 << 30,
        }
    }
}

/// A decoded image, upright, with the colour profile it carried.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The pixels, turned upright by the EXIF orientation.
    pub image: DynamicImage,
    /// The embedded ICC profile, if any, to write back into outputs.
    pub icc: Option<Vec<u8>>,
}

fn image_err(path: &Path, source: image::ImageError) -> Error {
    Error::Image {
        path: path.to_path_buf(),
        source,
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bad_file(path: &Path, reason: impl Into<String>) -> Error {
    Error::BadFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Decodes an image file within the default limits. See [`load_with_limits`].
pub fn load_image(path: &Path) -> Result<DynamicImage> {
    Ok(load_with_limits(path, &DecodeLimits::default())?.image)
}

/// Decodes an image file (JPEG, PNG, WebP or TIFF, recognised by content, not by extension): upright by its
/// EXIF orientation, with its ICC profile, refusing a header over `limits` before allocating its pixels.
pub fn load_with_limits(path: &Path, limits: &DecodeLimits) -> Result<Loaded> {
    let bytes = read_image_file(path)?;
    decode(&bytes, limits, path)
}

/// The bytes of an image file (a directory is an error of its own, not an unreadable file).
fn read_image_file(path: &Path) -> Result<Vec<u8>> {
    if std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false) {
        return Err(bad_file(path, "is a directory, not an image file"));
    }
    std::fs::read(path).map_err(io_err(path))
}

/// Decodes an image held in memory, as [`load_with_limits`] does a file; `name` names it in errors.
pub fn decode(bytes: &[u8], limits: &DecodeLimits, name: &Path) -> Result<Loaded> {
    open(bytes, limits, name)?.decode()
}

/// An image whose header has been read and checked against the limits, its pixels not yet decoded.
struct Opened<'b, D> {
    decoder: D,
    orientation: Orientation,
    icc: Option<Vec<u8>>,
    name: PathBuf,
    /// The file's bytes, if it is a JPEG that decodes band by band ([`crate::jpeg_rows`]): every JPEG the
    /// library reads that can be, so that a photo's pixels are the same whether or not bands were stamped as
    /// they were decoded.
    banded: Option<&'b [u8]>,
}

/// Checks that `bytes` hold a whole image this tool reads, then reads and checks its header (`name` names it
/// in errors).
fn open<'b>(bytes: &'b [u8], limits: &DecodeLimits, name: &Path) -> Result<Opened<'b, impl ImageDecoder + 'b>> {
    check_whole(bytes, name)?;
    open_checked(bytes, limits, name)
}

/// Refuses `bytes` that are empty, not an image this tool reads, or a JPEG cut off before its end.
fn check_whole(bytes: &[u8], path: &Path) -> Result<()> {
    if bytes.is_empty() {
        return Err(bad_file(path, "is empty (0 bytes)"));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(io_err(path))?;
    match reader.format() {
        None => Err(bad_file(
            path,
            "is not an image this tool reads (JPEG, PNG, WebP or TIFF)",
        )),
        // The JPEG decoder fills a cut-off image with grey rather than failing.
        Some(ImageFormat::Jpeg) if !jpeg_is_complete(bytes) => Err(bad_file(
            path,
            "truncated JPEG: the image data ends before its end marker",
        )),
        _ => Ok(()),
    }
}

/// [`open`] for bytes [`check_whole`] passed (it scans the whole file, so is done once).
fn open_checked<'b>(bytes: &'b [u8], limits: &DecodeLimits, name: &Path) -> Result<Opened<'b, impl ImageDecoder + 'b>> {
    let path = name;
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(io_err(path))?;
    let banded = (reader.format() == Some(ImageFormat::Jpeg) && crate::jpeg_rows::supported(bytes)).then_some(bytes);
    let mut decoder = reader.into_decoder().map_err(|e| image_err(path, e))?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > limits.max_pixels {
        return Err(bad_file(
            path,
            format!(
                "{w}x{h} pixels is more than the {} this tool decodes",
                limits.max_pixels
            ),
        ));
    }
    if decoder.total_bytes() > limits.max_bytes {
        return Err(bad_file(
            path,
            format!(
                "{w}x{h} pixels would take {} MB to decode, more than the {} MB allowed",
                decoder.total_bytes() >> 20,
                limits.max_bytes >> 20
            ),
        ));
    }
    let mut decoder_limits = Limits::default();
    decoder_limits.max_alloc = Some(limits.max_bytes.saturating_mul(2));
    decoder.set_limits(decoder_limits).map_err(|e| image_err(path, e))?;
    let icc = decoder.icc_profile().unwrap_or(None);
    let orientation = decoder.orientation().map_err(|e| image_err(path, e))?;
    Ok(Opened {
        decoder,
        orientation,
        icc,
        name: path.to_path_buf(),
        banded,
    })
}

impl<D: ImageDecoder> Opened<'_, D> {
    /// The image's size once turned upright.
    fn upright_size(&self) -> (u32, u32) {
        let (w, h) = self.decoder.dimensions();
        match self.orientation {
            Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH => (h, w),
            _ => (w, h),
        }
    }

    /// Decodes the pixels, upright.
    fn decode(self) -> Result<Loaded> {
        let Opened {
            decoder,
            orientation,
            icc,
            name,
            banded,
        } = self;
        let mut image = match banded {
            Some(bytes) => {
                let (width, height) = decoder.dimensions();
                let mut rgb = vec![0u8; width as usize * height as usize * 3];
                decode_bands(bytes, &mut rgb, width, &name, |_, _| {})?;
                DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, rgb).expect("sized for the image"))
            }
            None => DynamicImage::from_decoder(decoder).map_err(|e| image_err(&name, e))?,
        };
        image.apply_orientation(orientation);
        Ok(Loaded { image, icc })
    }
}

/// Decodes a JPEG [`crate::jpeg_rows`] reads into `rgb` (8-bit RGB, `width` pixels a row), handing each band of
/// [`crate::jpeg_rows::BAND_ROWS`] rows to `on_band` as soon as it is decoded; `name` names it in errors.
fn decode_bands<'a>(
    bytes: &[u8],
    rgb: &'a mut [u8],
    width: u32,
    name: &Path,
    on_band: impl FnMut(usize, &'a mut [u8]),
) -> Result<()> {
    let band_bytes = width as usize * 3 * crate::jpeg_rows::BAND_ROWS;
    crate::jpeg_rows::decode_bands(bytes, rgb.chunks_mut(band_bytes.max(1)), on_band)
        .map_err(|reason| bad_file(name, format!("corrupt JPEG: {reason}")))
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

/// Loads a greyscale mask, density map or exclusion mask (white = 1), upright by its own EXIF orientation,
/// and checks it is `width`×`height`, the upright photo's size.
pub fn load_mask(path: &Path, width: u32, height: u32) -> Result<DensityField> {
    mask_field(load_image(path)?, width, height, path)
}

/// A mask held in memory (any image format this tool reads) as a density field for a `width`×`height` photo,
/// exactly as [`load_mask`] reads it from a file; `name` names it in errors.
pub fn decode_mask(bytes: &[u8], width: u32, height: u32, name: &Path) -> Result<DensityField> {
    mask_field(
        decode(bytes, &DecodeLimits::default(), name)?.image,
        width,
        height,
        name,
    )
}

fn mask_field(image: DynamicImage, width: u32, height: u32, name: &Path) -> Result<DensityField> {
    let mask: GrayImage = image.into_luma8();
    if mask.dimensions() != (width, height) {
        return DensityField::from_mask_sized(&mask, width, height, &name.display().to_string());
    }
    Ok(DensityField::from_mask_owned(mask))
}

/// Reads a design (hairline) file: TOML, or JSON when the extension is `.json`. Errors name the file.
pub fn load_design(path: &Path) -> Result<crate::design::Design> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let format = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => crate::design::DesignFormat::Json,
        _ => crate::design::DesignFormat::Toml,
    };
    crate::design::Design::parse(&text, format, &path.display().to_string())
}

/// The files a photo's density field is made from; every one optional.
#[derive(Debug, Clone, Default)]
pub struct SourceFiles<'a> {
    /// A design (hairline) file.
    pub hairline: Option<&'a Path>,
    /// A style replacing the design's own (and its edge numbers).
    pub hairline_style: Option<crate::design::HairlineStyle>,
    /// A treatment mask.
    pub mask: Option<&'a Path>,
    /// A density map multiplied in.
    pub density_map: Option<&'a Path>,
    /// Exclusion masks (white = no impressions).
    pub exclusions: Vec<&'a Path>,
}

/// Reads every file of `files` for a `width`×`height` photo (checking each mask's size) into field sources.
/// The mask files are decoded in parallel.
pub fn load_sources(files: &SourceFiles, width: u32, height: u32) -> Result<crate::treatment::FieldSources> {
    files.read()?.for_photo(files, width, height)
}

/// Decodes a photo, as [`load_with_limits`] does, and reads `files` for it, as [`load_sources`] does, while
/// the photo decodes (a 12 MP mask PNG takes ~40 ms, a third of the photo's JPEG). An error in the photo is
/// reported before one in the other files.
pub fn load_photo_with_sources(
    photo: &Path,
    limits: &DecodeLimits,
    files: &SourceFiles,
) -> Result<(Loaded, crate::treatment::FieldSources)> {
    let (loaded, sources) = load_photo_beside(photo, limits, |width, height| load_sources(files, width, height))?;
    Ok((loaded, sources?))
}

/// Decodes a photo, as [`load_with_limits`] does, and meanwhile, on another thread, runs `beside` with the
/// photo's upright width and height (read from its header): work that needs the photo's size but not its
/// pixels, such as reading its masks, building the density field and placing the impressions
/// ([`crate::plan`], or [`crate::plan_and_prepare`] to prepare them for stamping too). A JPEG decodes on one
/// core; this puts the other to use.
///
/// `beside` does not run if the photo's header is bad; if the pixels then fail to decode, that error is
/// returned (whatever `beside` returned is dropped).
pub fn load_photo_beside<R: Send>(
    photo: &Path,
    limits: &DecodeLimits,
    beside: impl FnOnce(u32, u32) -> R + Send,
) -> Result<(Loaded, R)> {
    let bytes = read_image_file(photo)?;
    let size = open(&bytes, limits, photo)?.upright_size();
    decode_beside(&bytes, limits, photo, size, beside)
}

/// [`load_photo_beside`] once the file is read and its header checked: the photo upright `size`.
fn decode_beside<R: Send>(
    bytes: &[u8],
    limits: &DecodeLimits,
    photo: &Path,
    (width, height): (u32, u32),
    beside: impl FnOnce(u32, u32) -> R + Send,
) -> Result<(Loaded, R)> {
    // The header is read a second time in the task that decodes (a decoder cannot move between threads), so
    // that both halves run as rayon tasks: a decode on the calling thread beside the pool's workers would put
    // three threads on two cores (measured: the decode then took 20–45 ms longer).
    let (loaded, r) = rayon::join(
        || open_checked(bytes, limits, photo)?.decode(),
        || beside(width, height),
    );
    let loaded = loaded?;
    debug_assert_eq!((loaded.image.width(), loaded.image.height()), (width, height));
    Ok((loaded, r))
}

/// [`load_photo_beside`], and then, where the photo decodes band by band and is upright (a baseline 4:2:0
/// JPEG with no EXIF turn, as a camera writes it), `stamp` runs on the other thread on each band of
/// [`crate::jpeg_rows::BAND_ROWS`] rows as soon as it is decoded, with what `beside` returned: the band's
/// index and its 8-bit RGB pixels. The decode uses one core; the field, the placement and the stamping can
/// then all fit on the other, and a render costs little more than the decode and the encode.
///
/// `stamp` returns whether it stamped the band; it must answer the same for every band of a photo (it is
/// given the same `R`). Returns the photo (its bands stamped), what `beside` returned, and whether `stamp`
/// stamped every band: if not (another kind of image, a turned photo, or `stamp` declined), the photo is
/// decoded as [`load_photo_beside`] does and nothing is stamped.
pub fn load_photo_beside_stamping<R: Send + Sync>(
    photo: &Path,
    limits: &DecodeLimits,
    beside: impl FnOnce(u32, u32) -> R + Send,
    stamp: impl Fn(&R, usize, &mut [u8]) -> bool + Sync,
) -> Result<(Loaded, R, bool)> {
    let bytes = read_image_file(photo)?;
    let opened = open(&bytes, limits, photo)?;
    if opened.banded.is_some() && opened.orientation == Orientation::NoTransforms {
        return decode_stamping(opened, beside, stamp);
    }
    let size = opened.upright_size();
    drop(opened);
    let (loaded, r) = decode_beside(&bytes, limits, photo, size, beside)?;
    Ok((loaded, r, false))
}

/// [`load_photo_beside_stamping`] for a banded, upright photo: the bands go, as they are decoded, through a
/// queue that the other thread empties once `beside` has returned, and that the decoding thread helps empty
/// once it has finished.
fn decode_stamping<R: Send + Sync, D: ImageDecoder>(
    opened: Opened<'_, D>,
    beside: impl FnOnce(u32, u32) -> R + Send,
    stamp: impl Fn(&R, usize, &mut [u8]) -> bool + Sync,
) -> Result<(Loaded, R, bool)> {
    let bytes = opened.banded.expect("a banded photo");
    let (width, height) = opened.decoder.dimensions();
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    let ready = std::sync::OnceLock::new();
    let stamped_all = std::sync::atomic::AtomicBool::new(true);
    let decoded = {
        let (queue, bands) = std::sync::mpsc::channel::<(usize, &mut [u8])>();
        let bands = std::sync::Mutex::new(bands);
        // Stamps queued bands until the queue is empty and (with `wait`) closed.
        let drain = |wait: bool| {
            let r = ready.get().expect("beside has returned");
            loop {
                let next = {
                    let bands = bands.lock().expect("no stamping panicked");
                    if wait {
                        bands.recv().ok()
                    } else {
                        bands.try_recv().ok()
                    }
                };
                let Some((index, band)) = next else { break };
                if !stamp(r, index, band) {
                    stamped_all.store(false, std::sync::atomic::Ordering::Relaxed);
                }
            }
        };
        let (decoded, ()) = rayon::join(
            || {
                let decoded = decode_bands(bytes, &mut rgb, width, &opened.name, |index, band| {
                    // The receiver lives until both halves return.
                    queue.send((index, band)).expect("the queue is open")
                });
                drop(queue);
                if ready.get().is_some() {
                    drain(false);
                }
                decoded
            },
            || {
                let _ = ready.set(beside(width, height));
                drain(true);
            },
        );
        decoded
    };
    decoded?;
    let r = ready.into_inner().expect("beside has returned");
    // Upright already: only an upright photo comes here.
    let image = DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, rgb).expect("sized for the image"));
    Ok((Loaded { image, icc: opened.icc }, r, stamped_all.into_inner()))
}

/// The files of a [`SourceFiles`] read and decoded, before they meet the photo.
struct ReadSources {
    design: Option<crate::design::Design>,
    mask: Option<DynamicImage>,
    density_map: Option<DynamicImage>,
    exclusions: Vec<DynamicImage>,
}

impl SourceFiles<'_> {
    /// Reads the design and decodes every mask, the masks in parallel; errors name the first failing file in
    /// the order design, mask, density map, exclusions.
    fn read(&self) -> Result<ReadSources> {
        let design = self.hairline.map(load_design).transpose()?;
        let images: Vec<&Path> = self
            .mask
            .iter()
            .chain(&self.density_map)
            .chain(&self.exclusions)
            .copied()
            .collect();
        // Every result kept, so that the error reported is the first in order whichever finished first.
        let decoded: Vec<Result<DynamicImage>> =
            images.par_iter().with_max_len(1).map(|path| load_image(path)).collect();
        let mut decoded = decoded.into_iter().collect::<Result<Vec<_>>>()?.into_iter();
        Ok(ReadSources {
            design,
            mask: self.mask.and_then(|_| decoded.next()),
            density_map: self.density_map.and_then(|_| decoded.next()),
            exclusions: decoded.collect(),
        })
    }
}

impl ReadSources {
    /// The field sources for a `width`×`height` photo: the design resolved against it, each mask checked
    /// against its size.
    fn for_photo(self, files: &SourceFiles, width: u32, height: u32) -> Result<crate::treatment::FieldSources> {
        let mut sources = crate::treatment::FieldSources::default();
        if let (Some(mut design), Some(path)) = (self.design, files.hairline) {
            if let Some(style) = files.hairline_style {
                design = design.with_style(style);
            }
            sources.design = Some(design.resolve(width, height, &path.display().to_string())?);
        }
        let field = |image: DynamicImage, path: &Path| mask_field(image, width, height, path);
        if let (Some(image), Some(path)) = (self.mask, files.mask) {
            sources.mask = Some(field(image, path)?);
        }
        if let (Some(image), Some(path)) = (self.density_map, files.density_map) {
            sources.density_map = Some(field(image, path)?);
        }
        for (image, path) in self.exclusions.into_iter().zip(&files.exclusions) {
            sources.exclusions.push(field(image, path)?);
        }
        Ok(sources)
    }
}

/// Output formats, by file extension.
fn format_of(path: &Path) -> Result<ImageFormat> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => Ok(ImageFormat::Jpeg),
        "png" => Ok(ImageFormat::Png),
        "webp" => Ok(ImageFormat::WebP),
        "tif" | "tiff" => Ok(ImageFormat::Tiff),
        _ => Err(bad_file(
            path,
            format!("unknown output format {ext:?}: use .jpg, .png, .webp or .tif"),
        )),
    }
}

/// Writes an 8-bit RGB image; see [`save_image`].
pub fn save_rgb(path: &Path, image: &RgbImage, jpeg_quality: u8) -> Result<()> {
    match format_of(path)? {
        // The common case, without wrapping (copying) the pixels into a `DynamicImage`.
        ImageFormat::Jpeg => {
            check_quality(jpeg_quality)?;
            write_atomically(path, |file| {
                let mut out = BufWriter::new(file);
                write_jpeg(&mut out, image, None, jpeg_quality, path)?;
                out.flush().map_err(io_err(path))
            })
        }
        _ => save_image(path, &DynamicImage::ImageRgb8(image.clone()), None, jpeg_quality),
    }
}

fn check_quality(q: u8) -> Result<()> {
    if !(1..=100).contains(&q) {
        return Err(Error::param("quality", q, "must be from 1 to 100"));
    }
    Ok(())
}

/// JPEG bytes in memory, as [`save_rgb`] writes them (8-bit, 4:2:0, at `quality`): for embedding, e.g. in the
/// slider page.
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    check_quality(quality)?;
    let mut bytes = Vec::new();
    write_jpeg(&mut bytes, image, None, quality, Path::new("(in memory)"))?;
    Ok(bytes)
}

/// JPEG at `quality`, 4:2:0, with `icc` embedded.
fn write_jpeg(out: &mut impl Write, rgb: &RgbImage, icc: Option<&[u8]>, quality: u8, path: &Path) -> Result<()> {
    let (w, h) = rgb.dimensions();
    if w > u16::MAX as u32 || h > u16::MAX as u32 {
        return Err(bad_file(
            path,
            format!("{w}x{h} is larger than JPEG allows (65535 a side)"),
        ));
    }
    #[cfg(feature = "turbojpeg")]
    return turbo::write_jpeg(out, rgb, icc, quality, path);
    #[cfg(not(feature = "turbojpeg"))]
    {
        // In strips on all threads (`jpeg_strips`), written in order.
        let pieces =
            crate::jpeg_strips::encode(rgb.as_raw(), w as u16, h as u16, quality, icc).map_err(|e| match e {
                jpeg_encoder::EncodingError::IccTooLarge(_) => {
                    bad_file(path, format!("cannot embed the colour profile: {e}"))
                }
                e => bad_file(path, format!("JPEG encoding failed: {e}")),
            })?;
        pieces
            .iter()
            .try_for_each(|piece| out.write_all(piece))
            .map_err(io_err(path))
    }
}

/// JPEG encoding through libjpeg-turbo (feature `turbojpeg`).
#[cfg(feature = "turbojpeg")]
mod turbo {
    use super::*;

    /// Payload bytes per ICC segment: a segment holds at most 65533 bytes after its length, less the
    /// 14-byte `ICC_PROFILE\0` header with its sequence number and count.
    const ICC_CHUNK: usize = 65_519;

    /// As the jpeg-encoder path: `quality`, 4:2:0 chroma, `icc` in APP2 segments.
    pub(super) fn write_jpeg(
        out: &mut impl Write,
        rgb: &RgbImage,
        icc: Option<&[u8]>,
        quality: u8,
        path: &Path,
    ) -> Result<()> {
        let failed = |e: turbojpeg::Error| bad_file(path, format!("JPEG encoding failed: {e}"));
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        let mut compressor = turbojpeg::Compressor::new().map_err(failed)?;
        compressor.set_quality(quality as i32).map_err(failed)?;
        compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).map_err(failed)?;
        let image = turbojpeg::Image {
            pixels: rgb.as_raw().as_slice(),
            width: w,
            pitch: w * 3,
            height: h,
            format: turbojpeg::PixelFormat::RGB,
        };
        let jpeg = compressor.compress_to_owned(image).map_err(failed)?;
        let write = |out: &mut dyn Write, bytes: &[u8]| out.write_all(bytes).map_err(io_err(path));
        // libjpeg-turbo's TurboJPEG API writes no ICC profile: the APP2 segments go in after SOI and the
        // JFIF APP0 segment, where other encoders put them.
        let head = match jpeg.get(2..6) {
            Some(&[0xFF, 0xE0, high, low]) => (4 + u16::from_be_bytes([high, low]) as usize).min(jpeg.len()),
            _ => 2.min(jpeg.len()),
        };
        write(out, &jpeg[..head])?;
        if let Some(icc) = icc.filter(|icc| !icc.is_empty()) {
            let chunks = icc.len().div_ceil(ICC_CHUNK);
            if chunks > 255 {
                return Err(bad_file(
                    path,
                    "cannot embed the colour profile: larger than JPEG allows",
                ));
            }
            for (i, chunk) in icc.chunks(ICC_CHUNK).enumerate() {
                let length = (2 + 14 + chunk.len()) as u16;
                write(out, &[0xFF, 0xE2])?;
                write(out, &length.to_be_bytes())?;
                write(out, b"ICC_PROFILE\0")?;
                write(out, &[i as u8 + 1, chunks as u8])?;
                write(out, chunk)?;
            }
        }
        write(out, &jpeg[head..])
    }
}

/// Writes `image` to `path` in the format its extension names (jpg/jpeg, png, webp, tif/tiff), atomically,
/// with `icc` embedded when given. JPEG is 8-bit at `jpeg_quality` with 4:2:0 chroma, as cameras and phones
/// write it (alpha is dropped); PNG and TIFF keep 16 bits and alpha; WebP is lossless 8-bit.
pub fn save_image(path: &Path, image: &DynamicImage, icc: Option<&[u8]>, jpeg_quality: u8) -> Result<()> {
    let format = format_of(path)?;
    check_quality(jpeg_quality)?;
    write_atomically(path, |file| {
        let mut out = BufWriter::new(file);
        write_image(&mut out, format, image, icc, jpeg_quality, path)?;
        out.flush().map_err(io_err(path))
    })
}

/// The bytes [`save_image`] would write to a file named `name` (whose extension picks the format).
pub fn encode_image(name: &Path, image: &DynamicImage, icc: Option<&[u8]>, jpeg_quality: u8) -> Result<Vec<u8>> {
    let format = format_of(name)?;
    check_quality(jpeg_quality)?;
    let mut bytes = Cursor::new(Vec::new());
    write_image(&mut bytes, format, image, icc, jpeg_quality, name)?;
    Ok(bytes.into_inner())
}

/// Encodes `image` as `format` into `out`.
fn write_image<W: Write + std::io::Seek>(
    out: &mut W,
    format: ImageFormat,
    image: &DynamicImage,
    icc: Option<&[u8]>,
    jpeg_quality: u8,
    path: &Path,
) -> Result<()> {
    match format {
        ImageFormat::Jpeg => {
            // Borrow an 8-bit RGB photo as it is; convert anything else (a copy, but only then).
            let converted;
            let rgb: &RgbImage = match image.as_rgb8() {
                Some(rgb) => rgb,
                None => {
                    converted = image.to_rgb8();
                    &converted
                }
            };
            write_jpeg(out, rgb, icc, jpeg_quality, path)
        }
        ImageFormat::Png => write_with(PngEncoder::new(out), image, icc, path),
        ImageFormat::Tiff => write_with(TiffEncoder::new(out), image, icc, path),
        _ => {
            let eight_bit = if image.color().has_alpha() {
                DynamicImage::ImageRgba8(image.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(image.to_rgb8())
            };
            write_with(WebPEncoder::new_lossless(out), &eight_bit, icc, path)
        }
    }
}

/// Encodes with `encoder`, embedding `icc` where the format supports it.
fn write_with(mut encoder: impl ImageEncoder, image: &DynamicImage, icc: Option<&[u8]>, path: &Path) -> Result<()> {
    if let Some(icc) = icc {
        // TIFF in this version of `image` cannot carry a profile; the pixels are still right.
        let _ = encoder.set_icc_profile(icc.to_vec());
    }
    image.write_with_encoder(encoder).map_err(|e| image_err(path, e))
}

/// Writes a greyscale image (a mask or density field) losslessly: PNG or TIFF by extension, atomically.
pub fn save_gray(path: &Path, image: &GrayImage) -> Result<()> {
    match format_of(path)? {
        ImageFormat::Png | ImageFormat::Tiff => save_image(path, &DynamicImage::ImageLuma8(image.clone()), None, 100),
        _ => Err(bad_file(path, "a mask is written losslessly: use .png or .tif")),
    }
}

/// Prefix of this process's temporary files: `.smpsim-HOST-PID-`, so a later run can tell the leftovers of
/// a killed process on this machine from files another process (or machine) is still writing.
fn temp_prefix() -> String {
    format!(".smpsim-{}-{}-", host_name(), std::process::id())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().replace(['-', '/'], "_"))
        .unwrap_or_else(|_| "host".into())
}

/// Removes, under `dir` (recursively), the temporary files that processes on this machine which no longer
/// run left behind when they were killed mid-write. Returns how many were removed.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let host = host_name();
    let mut removed = 0;
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            removed += remove_stale_temporaries(&path);
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(".smpsim-").filter(|_| name.ends_with(".part")) else {
            continue;
        };
        let mut parts = rest.splitn(3, '-');
        let (Some(h), Some(pid)) = (parts.next(), parts.next()) else {
            continue;
        };
        let alive = Path::new("/proc").join(pid).exists();
        if h == host && !alive && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Writes `bytes` (a report, a page) to `path` atomically.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |f| f.write_all(bytes).map_err(io_err(path)))
}

/// Runs `write` on a temporary file beside `path`, then renames it over `path`. On any error the temporary
/// file is removed and `path` is left as it was.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut std::fs::File) -> Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(bad_file(
            path,
            format!("the output folder {} does not exist", dir.display()),
        ));
    }
    let mut builder = tempfile::Builder::new();
    let prefix = temp_prefix();
    builder.prefix(&prefix).suffix(".part");
    // Like any new file: 0666 less the umask (tempfile's own default, 0600, would surprise a clinic's sharing).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder.tempfile_in(dir).map_err(io_err(path))?;
    write(tmp.as_file_mut())?;
    tmp.as_file_mut().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| io_err(path)(e.error))?;
    Ok(())
}
