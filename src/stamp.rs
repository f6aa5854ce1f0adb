//! Stamping: pigment absorbs light under each impression, in linear light, band by band in parallel.
//!
//! The image is cut into horizontal bands of [`BAND_ROWS`] rows. Each band takes the impressions whose box
//! touches it, in placement order, and darkens the pixels each one covers: the pixel loses, in linear light,
//! the fraction of light the pigment absorbs there ([`crate::colour::darken_u8`] for 8-bit values). Bands
//! never share pixels and each pixel sees its impressions in the same order, so any number of threads gives
//! the same bytes.
//!
//! Absorption (multiplication) rather than painting keeps the photo's own light: a highlight stays brighter
//! than a shadow under the same impression, skin texture shows through, and a pixel can only get darker.
//!
//! The hot loop walks one pixel row of one impression: the squared distance q (a quadratic in x) gives the
//! coverage through the impression's 32-piece profile ([`cover_row`]), with no square root. An impression
//! ends where its coverage could no longer change a stored value, so its faint rim costs nothing. For 8-bit
//! images on x86-64 the fastest of three kernels ([`Kernel`]) runs: with AVX-512 two rows of eight pixels at
//! a time (`avx512`), with AVX2 eight pixels of a row (`avx2`), otherwise the scalar one. The SIMD kernels
//! do the scalar kernel's arithmetic lane for lane, so every CPU gives the same bytes (a test compares them).

use std::ops::Range;

use rayon::prelude::*;

use crate::colour::{darken_u8, decode_table, decode_table_16, invisible_darkening, linear_to_srgb, srgb_to_linear};
use crate::field::DensityField;
use crate::params::Rgb8;
use crate::place::Impression;
use crate::splat::{cover_row, CoverRow, MAX_RHO};
use crate::stamp_veil::{highlight_share, unveiled_u8, veiled_from};

#[cfg(target_arch = "x86_64")]
#[path = "stamp/avx2.rs"]
mod avx2;
#[cfg(target_arch = "x86_64")]
#[path = "stamp/avx512.rs"]
mod avx512;
#[path = "stamp/prepare.rs"]
mod prepare;

/// Rows per band: enough bands to share among threads, few enough that an impression rarely spans two.
pub const BAND_ROWS: usize = 16;

/// Pixels added on each side of a row's span or box: float rounding of the span (~1e-5 px) must never leave
/// out a pixel whose own u is inside the impression.
const SPARE: f32 = 0.01;

/// Pieces the impressions are prepared in, in parallel.
const PIECES: usize = 16;
/// The fewest impressions worth a piece of their own.
const MIN_PIECE: usize = 4096;

/// Optical settings for a stamping pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Ink {
    /// Pigment colours at full opacity, indexed by [`Impression::shade`].
    pub shades: Vec<Rgb8>,
    /// Skin blur of the pigment, σ in pixels (the pixel's own box is added inside).
    pub blur_px: f32,
}

impl Ink {
    /// The blur a pixel sees, σ in pixels: the skin's plus the pixel's own box (variance 1/12 px²).
    fn pixel_sigma(&self) -> f32 {
        (self.blur_px * self.blur_px + 1.0 / 12.0).sqrt()
    }
}

/// An impression ready to draw, in pixel units: its profile and the quadratic form that indexes it.
pub(crate) struct Prepared {
    cx: f32,
    cy: f32,
    /// Profile position u (q in pieces) at offset (dx, dy) from the centre: qa·dx² + qb·dx·dy + qc·dy².
    qa: f32,
    qb: f32,
    qc: f32,
    /// The u where the impression ends: beyond it no pixel would change ([`CoverRow::reach`]).
    reach: f32,
    cover: &'static CoverRow,
    /// Per channel: fraction of light the pigment absorbs at full coverage, times opacity.
    absorb: [f32; 3],
    /// The smallest coverage that can change a value: the channel type's invisible darkening over the
    /// strongest absorption.
    min_cover: f32,
    /// The pixel box around the ellipse `u < reach` ([`pixel_box`]), not yet clipped to the image's right and
    /// bottom edges: rows `top..bottom`, columns `left..right`.
    top: u32,
    bottom: u32,
    left: u32,
    right: u32,
}

/// The pixels of one image row that an impression may cover: columns `x0..x1`, the first one's offset from
/// the centre, and the row's terms of u (`qxy`·dx and `qy`).
struct Span {
    x0: usize,
    x1: usize,
    dx0: f32,
    qxy: f32,
    qy: f32,
}

impl Prepared {
    /// `blur` is the skin blur plus the pixel's box: σ = √(blur_px² + 1/12) ([`Ink::pixel_sigma`]).
    fn new(imp: &Impression, blur: f32, shade_linear: [f32; 3], invisible: f32) -> Self {
        let (a, b) = (imp.radius_major.max(1e-3), imp.radius_minor.max(1e-3));
        let r = (a * b).sqrt();
        // Never sharper than the table's widest disc.
        let sigma = blur.max(r / MAX_RHO);
        let cover = cover_row(r / sigma);
        let (s, c) = imp.angle.sin_cos();
        // Stretch the ellipse into a circle of radius r: along the major axis by b/a, across by a/b.
        let scale = cover.segments_per_q / (sigma * sigma);
        let (ka, kb) = ((b / a) * scale, (a / b) * scale);
        let (qa, qb, qc) = (
            ka * c * c + kb * s * s,
            2.0 * (ka - kb) * c * s,
            ka * s * s + kb * c * c,
        );
        let absorb = std::array::from_fn(|ch| {
            let pigment = (shade_linear[ch] * imp.tone).min(1.0);
            imp.opacity * (1.0 - pigment)
        });
        // Where cover × absorption falls below what can change a value, the impression has ended: for a
        // 0.15 mm impression at photo scale that is about a fifth of its pixels sooner than the profile's cut.
        let min_cover = invisible / absorb.iter().fold(invisible, |m: f32, &v| m.max(v));
        let reach = cover.reach(min_cover);
        // The ellipse u < reach reaches √(reach·qa/det) above and below its centre and √(reach·qc/det) to
        // either side, det = qa·qc − qb²/4 = ka·kb.
        let det = ka * kb;
        let (half_h, half_w) = ((reach * qa / det).sqrt(), (reach * qc / det).sqrt());
        let [top, bottom, left, right] = pixel_box(imp.x, imp.y, half_w, half_h);
        Prepared {
            cx: imp.x,
            cy: imp.y,
            qa,
            qb,
            qc,
            reach,
            cover,
            min_cover,
            absorb,
            top,
            bottom,
            left,
            right,
        }
    }

    /// The image rows (pixel centres) inside the ellipse, clipped to `rows`.
    #[inline]
    fn rows(&self, rows: Range<usize>) -> Range<usize> {
        let (y0, y1) = (
            (self.top as usize).max(rows.start),
            (self.bottom as usize).min(rows.end),
        );
        y0..y1.max(y0)
    }

    /// The terms of u along image row `y`: u = (qa·dx + qxy)·dx + qy at offset dx from the centre.
    #[inline]
    fn row_terms(&self, y: usize) -> (f32, f32) {
        let dy = y as f32 + 0.5 - self.cy;
        (self.qb * dy, self.qc * dy * dy)
    }

    /// The pixel columns of image row `y` inside the ellipse u < reach, clipped to a row `w` pixels wide, with
    /// [`SPARE`] on each side (so that rounding never leaves out a pixel whose own u is inside: every kernel
    /// decides each pixel by its u).
    #[inline]
    fn span(&self, y: usize, w: usize) -> Option<Span> {
        let (qxy, qy) = self.row_terms(y);
        // qa·dx² + qxy·dx + qy < reach.
        let disc = qxy * qxy - 4.0 * self.qa * (qy - self.reach);
        if disc < 0.0 {
            return None;
        }
        let root = disc.sqrt();
        let half_over_qa = 0.5 / self.qa;
        let (lo, hi) = ((-qxy - root) * half_over_qa, (-qxy + root) * half_over_qa);
        let x0 = ceil(self.cx + lo - 0.5 - SPARE).max(0) as usize;
        let x1 = ((floor(self.cx + hi - 0.5 + SPARE) + 1).max(0) as usize).min(w);
        (x0 < x1).then_some(Span {
            x0,
            x1,
            dx0: x0 as f32 + 0.5 - self.cx,
            qxy,
            qy,
        })
    }

    /// The pixel columns of the box around the ellipse, clipped to a row `w` pixels wide: the SIMD kernels'
    /// span on every row (cheaper than solving each row's own).
    #[inline]
    fn columns(&self, w: usize) -> Range<usize> {
        let (x0, x1) = (self.left as usize, (self.right as usize).min(w));
        x0..x1.max(x0)
    }

    /// The coverage `i` pixels into `span`, or `None` outside the impression or where it is too faint to
    /// change a value. The SIMD kernels compute the same, in the same order.
    #[inline]
    fn coverage(&self, span: &Span, i: usize) -> Option<f32> {
        let dx = span.dx0 + i as f32;
        let u = (self.qa * dx + span.qxy) * dx + span.qy;
        // u ≥ 0 up to float rounding; plain comparisons, as f32::clamp's NaN handling costs more than the rest.
        let u = if u > 0.0 { u } else { 0.0 };
        if u >= self.reach {
            return None;
        }
        let cover = self.cover.at(u);
        (cover >= self.min_cover).then_some(cover)
    }
}

/// The pixels whose centres lie in the box `half_w` to either side and `half_h` above and below (cx, cy), as
/// `[top, bottom, left, right]`: rows `top..bottom`, columns `left..right`, with [`SPARE`] on each side across
/// (rounding must never leave out a pixel whose own u is inside: every kernel decides each pixel by its u).
/// Negative ends are 0; the far ends are clipped by the user, to the image. Float rounding functions, so that
/// a batch of them compiles to vector instructions ([`prepare`]).
#[inline(always)]
fn pixel_box(cx: f32, cy: f32, half_w: f32, half_h: f32) -> [u32; 4] {
    // Pixel centres are at +0.5, hence the −0.5.
    let index = |v: f32| {
        // Clamped in floating point, where it vectorizes (Rust's saturating `as` stays one lane at a time), to
        // 0..=MAX_INDEX: past any image side that f32 coordinates still tell apart (2²⁴ pixels).
        #[allow(clippy::manual_clamp)] // clamp would keep a NaN, which the conversion below must never see
        let v = v.max(0.0).min(MAX_INDEX);
        // SAFETY: `max` gives 0 for NaN, so v is a whole number in 0..=MAX_INDEX, which i32 holds.
        unsafe { v.to_int_unchecked::<i32>() as u32 }
    };
    /// The largest f32 below 2³¹.
    const MAX_INDEX: f32 = 2_147_483_520.0;
    [
        index((cy - half_h - 0.5).ceil()),
        index((cy + half_h - 0.5).floor() + 1.0),
        index((cx - half_w - 0.5 - SPARE).ceil()),
        index((cx + half_w - 0.5 + SPARE).floor() + 1.0),
    ]
}

/// A channel value of an sRGB image: 8 or 16 bits, with the lookup tables it converts through.
pub trait Channel: Copy + Ord + Send + Sync {
    /// The conversion tables, fetched once per pass rather than per pixel.
    type Tables: Copy + Send + Sync;
    /// The tables.
    fn tables() -> Self::Tables;
    /// The largest fraction of light a value can lose and still be stored as itself: darkening below it is
    /// skipped.
    fn invisible() -> f32;
    /// The share of a pixel's light that pigment can darken: all but the highlight's surface reflection
    /// ([`highlight_share`]).
    fn unveiled(rgb: [Self; 3], t: Self::Tables) -> f32;
    /// The value after its linear light loses the fraction `x` (0–1); never lighter than `self`.
    fn darken(self, x: f32, t: Self::Tables) -> Self;
    /// Darkens the pixels of `band` (rows `rows` of the image, interleaved) under each of `impressions` in
    /// turn. The scalar kernel; 8-bit values take a SIMD one where the CPU has it.
    fn stamp_band<'p>(
        band: &mut [Self],
        channels: usize,
        field: &DensityField,
        rows: Range<usize>,
        impressions: impl Iterator<Item = &'p Prepared> + Clone,
        t: Self::Tables,
    ) {
        stamp_band_scalar(band, channels, field, rows, impressions, t);
    }
}

/// The environment variable that caps the vector width of stamping: `avx2` makes this CPU stamp as one
/// without AVX-512 does, `scalar` as one without AVX2; unset (or anything else), the fastest the CPU has.
/// The bytes are the same either way; it is there to measure what other CPUs get, e.g.
/// `SMPSIM_SIMD=avx2 cargo bench --bench ratios`. Read once per process.
pub const SIMD_ENV: &str = "SMPSIM_SIMD";

/// The widest kernel [`SIMD_ENV`]'s value allows.
fn simd_ceiling() -> Kernel {
    static CEILING: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
    *CEILING.get_or_init(|| Kernel::ceiling(std::env::var(SIMD_ENV).ok().as_deref()))
}

/// The 8-bit kernels, narrowest first. All give the same bytes; the fastest the CPU has is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kernel {
    /// Plain Rust, on any CPU.
    Scalar,
    /// Eight pixels at a time (x86-64 with AVX2).
    Avx2,
    /// Two rows of eight pixels at a time (x86-64 with AVX-512 F, BW, VL and VBMI).
    Avx512,
}

impl Kernel {
    /// Every kernel, slowest first.
    const ALL: [Kernel; 3] = [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512];

    /// The fastest kernel this CPU runs, within [`SIMD_ENV`].
    fn best() -> Self {
        Kernel::best_within(simd_ceiling())
    }

    /// The fastest kernel this CPU runs that is no wider than `ceiling`.
    fn best_within(ceiling: Kernel) -> Self {
        Kernel::ALL
            .into_iter()
            .rev()
            .find(|&k| k <= ceiling && k.available())
            .unwrap_or(Kernel::Scalar)
    }

    /// The widest kernel a value of [`SIMD_ENV`] allows.
    fn ceiling(value: Option<&str>) -> Kernel {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("scalar") => Kernel::Scalar,
            Some("avx2") => Kernel::Avx2,
            _ => Kernel::Avx512,
        }
    }

    /// Whether preparing may use vectors this wide (the same ceiling as the kernels).
    pub(crate) fn allowed(self) -> bool {
        self <= simd_ceiling()
    }

    /// Whether this CPU runs it.
    fn available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => avx2::available(),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => avx512::available(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// The tables 8-bit stamping reads, and the kernel it runs.
#[derive(Clone, Copy)]
pub struct U8Tables {
    decode: &'static [f32; 256],
    unveiled: &'static [f32; 256],
    /// The darkest weakest channel a highlight veils ([`veiled_from`]).
    veiled_from: u8,
    kernel: Kernel,
}

impl U8Tables {
    /// The tables, to be used with `kernel` (which the CPU must run).
    fn with_kernel(kernel: Kernel) -> Self {
        assert!(kernel.available(), "{kernel:?} does not run on this CPU");
        U8Tables {
            decode: decode_table(),
            unveiled: unveiled_u8(),
            veiled_from: veiled_from(),
            kernel,
        }
    }
}

impl Channel for u8 {
    type Tables = U8Tables;
    fn tables() -> U8Tables {
        static BEST: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        U8Tables::with_kernel(*BEST.get_or_init(Kernel::best))
    }
    fn invisible() -> f32 {
        invisible_darkening()
    }
    #[inline]
    fn unveiled(rgb: [u8; 3], t: U8Tables) -> f32 {
        t.unveiled[rgb[0].min(rgb[1]).min(rgb[2]) as usize]
    }
    #[inline]
    fn darken(self, x: f32, t: U8Tables) -> u8 {
        darken_u8(self, x, t.decode)
    }
    fn stamp_band<'p>(
        band: &mut [u8],
        channels: usize,
        field: &DensityField,
        rows: Range<usize>,
        impressions: impl Iterator<Item = &'p Prepared> + Clone,
        t: U8Tables,
    ) {
        #[cfg(target_arch = "x86_64")]
        if channels == 3 || channels == 4 {
            // SAFETY: `U8Tables::with_kernel` checked that the CPU runs the kernel.
            match t.kernel {
                Kernel::Avx512 => return unsafe { avx512::stamp_band(band, channels, field, rows, impressions, &t) },
                Kernel::Avx2 => return unsafe { avx2::stamp_band(band, channels, field, rows, impressions, &t) },
                Kernel::Scalar => {}
            }
        }
        stamp_band_scalar(band, channels, field, rows, impressions, t);
    }
}

impl Channel for u16 {
    type Tables = &'static [f32];
    fn tables() -> Self::Tables {
        decode_table_16()
    }
    fn invisible() -> f32 {
        // A quarter of an 8-bit level: 16-bit output is viewed at 8 bits, and skipping the faint rim saves
        // converting most of it.
        1.0 / 512.0
    }
    #[inline]
    fn unveiled(rgb: [u16; 3], t: Self::Tables) -> f32 {
        1.0 - highlight_share(rgb.map(|v| t[v as usize]))
    }
    #[inline]
    fn darken(self, x: f32, t: Self::Tables) -> u16 {
        // Exact: only pixels under pigment get here, a few percent of the image. min() keeps "never
        // lighter" whatever powf's last bit does.
        let l = (t[self as usize] * (1.0 - x)).clamp(0.0, 1.0);
        self.min((linear_to_srgb(l) * 65535.0 + 0.5) as u16)
    }
}

/// Some impression of a stamping pass is not [drawable](Impression::is_drawable): nothing was stamped.
#[derive(Debug)]
pub struct Undrawable;

/// Darkens an interleaved image (`channels` = 3 for RGB, 4 for RGBA, whose alpha is left alone) under every
/// impression; pixels where `field` is 0 are never touched. If any impression is not drawable, nothing is.
///
/// `data` holds `width × height × channels` values, the field's size (the render functions check).
pub fn stamp<T: Channel>(
    data: &mut [T],
    channels: usize,
    field: &DensityField,
    impressions: &[Impression],
    ink: &Ink,
) -> Result<(), Undrawable> {
    stamp_with(data, channels, field, impressions, ink, T::tables())
}

/// [`stamp`] with the given tables (the tests choose the kernel through them).
fn stamp_with<T: Channel>(
    data: &mut [T],
    channels: usize,
    field: &DensityField,
    impressions: &[Impression],
    ink: &Ink,
    tables: T::Tables,
) -> Result<(), Undrawable> {
    let ready = Ready::new(impressions, ink, field.height(), T::invisible())?;
    stamp_ready(data, channels, field, &ready, tables);
    Ok(())
}

/// Impressions made ready to stamp with one ink on images of one height and channel type: each one prepared
/// (its box and the terms of its coverage) and listed in the bands of rows it touches. This is the part of
/// stamping that reads no pixels, so it can run before the photo is decoded ([`crate::plan_and_prepare`]).
pub(crate) struct Ready {
    prepared: Vec<Prepared>,
    /// Per piece of `per_piece` impressions (the last may be short), its impressions band by band.
    bands: Vec<Bands>,
    per_piece: usize,
    height: u32,
    ink: Ink,
    invisible: f32,
}

impl Ready {
    /// `impressions` prepared for `ink` on images `height` rows high whose channel type's invisible darkening
    /// ([`Channel::invisible`]) is `invisible`; an error if any of them is not drawable.
    pub(crate) fn new(impressions: &[Impression], ink: &Ink, height: u32, invisible: f32) -> Result<Self, Undrawable> {
        let shades_linear: Vec<[f32; 3]> = ink
            .shades
            .iter()
            .map(|s| s.0.map(|v| srgb_to_linear(v as f32 / 255.0)))
            .collect();
        // An index past the mix takes its first shade; a near-black if there is none.
        let shades: Box<prepare::ShadeTable> = Box::new(std::array::from_fn(|i| {
            shades_linear
                .get(i)
                .or(shades_linear.first())
                .copied()
                .unwrap_or([0.02; 3])
        }));
        let (blur, h) = (ink.pixel_sigma(), height as usize);
        // Impressions are prepared and sorted into bands in parallel pieces (how many follows the list's
        // length alone, so the work never depends on the thread count); a band then walks the pieces in
        // order, so each pixel still sees its impressions in placement order. Done serially, sorting into
        // bands held up the second thread. The prepared impressions go straight into one list (64 bytes
        // each) on 2 MB pages: in 4 kB pages, its page faults took ~3 ms of a 100k render's single-thread
        // stamping.
        let per_piece = impressions.len().div_ceil(PIECES).max(MIN_PIECE);
        let mut prepared: Vec<Prepared> = Vec::with_capacity(impressions.len());
        crate::huge_pages::prefer_huge_pages(prepared.spare_capacity_mut());
        // Each piece is checked as it is prepared (reading the impressions once), and sorted into bands right
        // after, while its records are still in L2.
        let bands: Vec<(Bands, bool)> = prepared.spare_capacity_mut()[..impressions.len()]
            .par_chunks_mut(per_piece)
            .zip(impressions.par_chunks(per_piece))
            .with_max_len(1) // one task a piece, so either thread can take any (see `stamp_ready`)
            .map(|(slots, piece)| {
                let (prepared, drawable) = prepare::prepare_into(piece, slots, blur, &shades, invisible);
                (Bands::new(prepared, h), drawable)
            })
            .collect();
        if !bands.iter().all(|&(_, drawable)| drawable) {
            return Err(Undrawable);
        }
        // SAFETY: the chunks cover the first `impressions.len()` slots, and `prepare_into` writes every slot
        // of its chunk.
        unsafe { prepared.set_len(impressions.len()) };
        Ok(Ready {
            prepared,
            bands: bands.into_iter().map(|(bands, _)| bands).collect(),
            per_piece,
            height,
            ink: ink.clone(),
            invisible,
        })
    }

    /// Whether these are ready for stamping with `ink` an image `height` rows high of channel type `T`.
    pub(crate) fn fits<T: Channel>(&self, ink: &Ink, height: u32) -> bool {
        self.height == height && self.invisible == T::invisible() && self.ink == *ink
    }
}

/// Stamps `ready` onto `data` (see [`stamp`]); `ready` [fits](Ready::fits) the image.
pub(crate) fn stamp_ready<T: Channel>(
    data: &mut [T],
    channels: usize,
    field: &DensityField,
    ready: &Ready,
    tables: T::Tables,
) {
    let (w, h) = (field.width() as usize, field.height() as usize);
    debug_assert_eq!(data.len(), w * h * channels);
    debug_assert_eq!(ready.height as usize, h);
    if w == 0 || h == 0 || ready.prepared.is_empty() {
        return;
    }
    // One rayon task per band. Left to itself, rayon splits an indexed loop into about four pieces on two
    // threads and splits further only when a thread steals; a photo's bands carry very uneven work (the
    // head against the backdrop), and in about half of a 100k render's runs one thread finished its
    // pieces while the other still held a quarter of the image it could not share, idle for ~18 of ~27 ms.
    // The same holds for every parallel loop over uneven work here (placement's tasks, stamping's pieces).
    data.par_chunks_mut(w * channels * BAND_ROWS)
        .with_max_len(1)
        .enumerate()
        .for_each(|(band, pixels)| stamp_ready_band(pixels, band, ready, channels, field, tables));
}

/// Stamps band `band` (rows `band·BAND_ROWS..`, all of them in `pixels`) of an image with `ready`: bands are
/// independent, so they may be stamped in any order, e.g. as they are decoded.
pub(crate) fn stamp_ready_band<T: Channel>(
    pixels: &mut [T],
    band: usize,
    ready: &Ready,
    channels: usize,
    field: &DensityField,
    tables: T::Tables,
) {
    let w = field.width() as usize;
    let top = band * BAND_ROWS;
    let rows = top..top + pixels.len() / (w * channels);
    // Piece by piece, each piece's impressions in this band.
    let impressions = ready
        .prepared
        .chunks(ready.per_piece)
        .zip(&ready.bands)
        .flat_map(|(prepared, bands)| bands.of(band).iter().map(|&i| &prepared[i as usize]));
    T::stamp_band(pixels, channels, field, rows, impressions, tables);
}

/// A piece's impressions listed band by band, each band's in their order: a counting sort into one list.
struct Bands {
    /// Where each band's list starts in `members`; one more entry than there are bands.
    starts: Vec<u32>,
    /// Indices into the piece's impressions.
    members: Vec<u32>,
}

impl Bands {
    /// The bands of an image `h` rows high that each of `prepared` touches.
    ///
    /// An impression touches one band or two (it is shorter than a band at photo scale); those two are
    /// counted and listed without a branch, as a loop of one or two turns mispredicted about every other
    /// impression (~1 ms of a 100k render's single-thread stamping). Taller ones take a loop for the rest.
    fn new(prepared: &[Prepared], h: usize) -> Self {
        let bands = h.div_ceil(BAND_ROWS);
        // First band and how many, per impression (none outside the image's rows).
        let spans: Vec<(usize, usize)> = prepared
            .iter()
            .map(|p| {
                let rows = p.rows(0..h);
                if rows.is_empty() {
                    return (0, 0);
                }
                let first = rows.start / BAND_ROWS;
                (first, rows.end.div_ceil(BAND_ROWS) - first)
            })
            .collect();
        // Counts go one entry ahead of their band (`starts` ends as the prefix sum); a second band's count
        // (0 or 1) may land past the last band, in a spare entry dropped below.
        let mut starts = vec![0u32; bands + 2];
        for &(first, n) in &spans {
            starts[first + 1] += (n >= 1) as u32;
            starts[first + 2] += (n >= 2) as u32;
            for band in first + 2..first + n {
                starts[band + 1] += 1;
            }
        }
        starts.truncate(bands + 1);
        for band in 1..starts.len() {
            starts[band] += starts[band - 1];
        }
        let total = starts[bands] as usize;
        // Each band's next free slot; an impression not in a band writes to the spare slot at `total`.
        let mut next = starts.clone();
        next.push(total as u32);
        let mut members = vec![0u32; total + 1];
        for (i, &(first, n)) in spans.iter().enumerate() {
            for (band, listed) in [(first, n >= 1), (first + 1, n >= 2)] {
                let slot = if listed { next[band] as usize } else { total };
                members[slot] = i as u32;
                next[band] += listed as u32;
            }
            for band in first + 2..first + n {
                members[next[band] as usize] = i as u32;
                next[band] += 1;
            }
        }
        members.truncate(total);
        Bands { starts, members }
    }

    /// The impressions touching band `band`, in order.
    fn of(&self, band: usize) -> &[u32] {
        &self.members[self.starts[band] as usize..self.starts[band + 1] as usize]
    }
}

/// Asks for the lines of image row `row` + [`BAND_ROWS`] (and of its levels) under `columns`, for the SIMD
/// kernels: the next band's impressions touch about the same columns a band further down, and a band
/// (~0.1 ms) ahead their first touches then find the lines in L2 instead of waiting on memory. That took
/// 7–10 % off single-thread stamping with AVX-512; two bands ahead or into L1 did no better. Prefetches never
/// fault, so the addresses may run past the image.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch_band_below(row: *const u8, levels: *const u8, columns: &Range<usize>, channels: usize, w: usize) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
    let start = row.wrapping_add(BAND_ROWS * w * channels + columns.start * channels);
    let end = start.wrapping_add(columns.len() * channels - 1);
    // SAFETY: SSE is part of x86-64, and a prefetch reads nothing the program sees.
    unsafe {
        _mm_prefetch::<_MM_HINT_T1>(start.cast());
        _mm_prefetch::<_MM_HINT_T1>(end.cast());
        _mm_prefetch::<_MM_HINT_T1>(levels.wrapping_add(BAND_ROWS * w + columns.start).cast());
    }
}

/// How many impressions ahead of the one it stamps a SIMD kernel asks for a record ([`prefetch_record`]).
#[cfg(target_arch = "x86_64")]
const RECORD_LOOKAHEAD: usize = 8;

/// Asks for the record of an impression a band will stamp soon, for the SIMD kernels: a band's records lie
/// scattered through the list (it takes a slice of each tile cell's), and waiting for each one's first read
/// was ~5 % of the AVX-512 kernel's profile. Alternating with and without in one process (1 thread, 30
/// pairs, three runs): 4–8 % off single-thread stamping, faster in 20–22 of 30; 4 or 16 ahead did no better.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch_record(p: Option<&Prepared>) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    if let Some(p) = p {
        let start: *const i8 = (p as *const Prepared).cast();
        // SAFETY: SSE is part of x86-64, and a prefetch reads nothing the program sees. The record is 64
        // bytes, so at most two lines.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(start);
            _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(std::mem::size_of::<Prepared>() - 1));
        }
    }
}

/// The scalar kernel over a band: [`stamp_scalar`] for each of `impressions` in turn.
fn stamp_band_scalar<'p, T: Channel>(
    band: &mut [T],
    channels: usize,
    field: &DensityField,
    rows: Range<usize>,
    impressions: impl Iterator<Item = &'p Prepared>,
    t: T::Tables,
) {
    for p in impressions {
        stamp_scalar(band, channels, field, rows.clone(), p, t);
    }
}

/// The scalar kernel: darkens the pixels of `band` that `p` covers within image rows `rows`.
fn stamp_scalar<T: Channel>(
    band: &mut [T],
    channels: usize,
    field: &DensityField,
    rows: Range<usize>,
    p: &Prepared,
    t: T::Tables,
) {
    let (w, top) = (field.width() as usize, rows.start);
    for y in p.rows(rows) {
        let Some(span) = p.span(y, w) else { continue };
        let row = &mut band[(y - top) * w * channels..(y - top + 1) * w * channels];
        let field_row = field.row(y as u32);
        for (i, (px, &level)) in row[span.x0 * channels..span.x1 * channels]
            .chunks_exact_mut(channels)
            .zip(&field_row[span.x0..span.x1])
            .enumerate()
        {
            if level == 0 {
                continue;
            }
            let Some(cover) = p.coverage(&span, i) else {
                continue;
            };
            let rgb = [px[0], px[1], px[2]];
            // Pigment lies under the skin: a specular highlight is reflected above it and veils it.
            let k = cover * T::unveiled(rgb, t);
            for ch in 0..3 {
                px[ch] = rgb[ch].darken(k * p.absorb[ch], t);
            }
        }
    }
}

/// ⌊x⌋ without a libm call (x86-64's baseline has no rounding instruction); |x| is far below 2⁶³ here.
#[inline]
fn floor(x: f32) -> i64 {
    let t = x as i64;
    t - (x < t as f32) as i64
}

/// ⌈x⌉ without a libm call.
#[inline]
fn ceil(x: f32) -> i64 {
    let t = x as i64;
    t + (x > t as f32) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Overlapping impressions of two shades, deterministic but scattered.
    fn crowd(n: usize, w: f32, h: f32) -> Vec<Impression> {
        (0..n)
            .map(|i| {
                let (u, v) = ((i as f32 * 0.618_034).fract(), (i as f32 * 0.754_878).fract());
                Impression {
                    x: u * w,
                    y: v * h,
                    radius_major: 1.5 + 2.0 * v,
                    radius_minor: 1.2 + u,
                    angle: 3.0 * u,
                    opacity: 0.5 + 0.4 * u,
                    tone: 1.0,
                    rank: 0.0,
                    threshold: 1.0,
                    session: 1,
                    shade: (i % 2) as u8,
                }
            })
            .collect()
    }

    #[test]
    fn bands_list_exactly_the_impressions_touching_them_in_order() {
        // Impressions from above the image to below it, a pixel to 40 px across (spanning up to six bands),
        // against a brute-force list per band.
        let (w, h) = (64usize, 100usize);
        let ink_blur = 0.6f32;
        let imps: Vec<Impression> = (0..700)
            .map(|i| {
                let (u, v) = ((i as f32 * 0.618_034).fract(), (i as f32 * 0.754_878).fract());
                Impression {
                    x: u * w as f32,
                    y: v * (h as f32 + 80.0) - 40.0,
                    radius_major: if i % 9 == 0 { 20.0 * u + 8.0 } else { 0.5 + 2.0 * v },
                    radius_minor: 0.5 + 1.5 * u,
                    angle: 3.0 * u,
                    opacity: 0.9,
                    tone: 1.0,
                    rank: 0.0,
                    threshold: 1.0,
                    session: 1,
                    shade: 0,
                }
            })
            .collect();
        let prepared: Vec<Prepared> = imps
            .iter()
            .map(|imp| Prepared::new(imp, ink_blur, [0.02; 3], invisible_darkening()))
            .collect();
        let bands = Bands::new(&prepared, h);
        let mut spans = [0usize; 8];
        for band in 0..h.div_ceil(BAND_ROWS) {
            let rows = band * BAND_ROWS..((band + 1) * BAND_ROWS).min(h);
            let want: Vec<u32> = (0..prepared.len() as u32)
                .filter(|&i| !prepared[i as usize].rows(rows.clone()).is_empty())
                .collect();
            assert_eq!(bands.of(band), want.as_slice(), "band {band}");
        }
        for p in &prepared {
            let rows = p.rows(0..h);
            if !rows.is_empty() {
                spans[(rows.end.div_ceil(BAND_ROWS) - rows.start / BAND_ROWS).min(7)] += 1;
            }
        }
        assert!(
            spans[1] > 100 && spans[2] > 100 && spans[3..].iter().sum::<usize>() > 20,
            "{spans:?}"
        );
        assert!(
            prepared.iter().any(|p| p.rows(0..h).is_empty()),
            "none outside the image"
        );
    }

    #[test]
    fn pieces_and_bands_keep_each_pixels_impressions_in_order() {
        // More impressions than one piece holds, crowded so that most pixels are under several of them
        // (darkening is not commutative once values round, so a changed order changes bytes).
        let (w, h) = (120u32, 90u32);
        let imps = crowd(3 * MIN_PIECE + 100, w as f32, h as f32);
        let field = DensityField::uniform(w, h, 1.0);
        let ink = Ink {
            shades: vec![Rgb8([40, 38, 42]), Rgb8([90, 70, 60])],
            blur_px: 0.6,
        };
        let start: Vec<u8> = (0..w * h * 3).map(|i| (120 + i % 97) as u8).collect();
        let mut together = start.clone();
        stamp(&mut together, 3, &field, &imps, &ink).unwrap();
        let mut one_by_one = start.clone();
        for imp in &imps {
            stamp(&mut one_by_one, 3, &field, std::slice::from_ref(imp), &ink).unwrap();
        }
        assert!(together == one_by_one, "stamping in pieces changed the order");
        assert!(together.iter().zip(&start).filter(|(a, b)| a != b).count() > (w * h * 3 / 2) as usize);
    }

    #[test]
    fn smpsim_simd_caps_the_kernel() {
        assert_eq!(Kernel::ceiling(None), Kernel::Avx512);
        assert_eq!(Kernel::ceiling(Some("avx2")), Kernel::Avx2);
        assert_eq!(Kernel::ceiling(Some(" AVX2 ")), Kernel::Avx2);
        assert_eq!(Kernel::ceiling(Some("scalar")), Kernel::Scalar);
        assert_eq!(Kernel::ceiling(Some("avx512")), Kernel::Avx512);
        assert_eq!(
            Kernel::ceiling(Some("sse9")),
            Kernel::Avx512,
            "unknown values cap nothing"
        );
        assert_eq!(Kernel::best_within(Kernel::Scalar), Kernel::Scalar);
        let avx2 = if Kernel::Avx2.available() {
            Kernel::Avx2
        } else {
            Kernel::Scalar
        };
        assert_eq!(Kernel::best_within(Kernel::Avx2), avx2);
        let widest = Kernel::ALL.into_iter().rev().find(|k| k.available()).unwrap();
        assert_eq!(Kernel::best_within(Kernel::Avx512), widest);
    }

    #[test]
    fn every_kernel_gives_the_same_bytes() {
        let kernels: Vec<Kernel> = Kernel::ALL.into_iter().filter(|k| k.available()).collect();
        if kernels.len() < 2 {
            eprintln!("this CPU has no SIMD kernel: only the scalar kernel runs here");
        }
        // Every branch: black pigment at full opacity on wide impressions (darkening past the power's octaves),
        // sRGB's linear segment (values up to 10, and results that fall into it), highlights (veiled), rows
        // wider than eight pixels, impressions cut by the image's edges, and zero levels in the field.
        let (w, h) = (157u32, 61u32);
        let mut imps = crowd(2500, w as f32, h as f32);
        for (i, imp) in imps.iter_mut().enumerate() {
            match i % 7 {
                0 => (imp.radius_major, imp.radius_minor, imp.opacity) = (9.0, 6.5, 1.0),
                1 => imp.opacity = 1.0,
                _ => {}
            }
            imp.shade = (i % 3) as u8;
        }
        let ink = Ink {
            shades: vec![Rgb8([0, 0, 0]), Rgb8([90, 70, 60]), Rgb8([30, 28, 34])],
            blur_px: 0.6,
        };
        let field = DensityField::from_fn(w, h, |x, y| {
            if (x as u32 + 3 * y as u32).is_multiple_of(29) {
                0.0
            } else {
                0.7
            }
        });
        for channels in [3usize, 4] {
            let start: Vec<u8> = (0..(w * h) as usize * channels)
                .map(|i| {
                    let pixel = i / channels;
                    match pixel % 5 {
                        0 => (i * 7 % 11) as u8,                    // linear segment
                        1 => (200 + i * 13 % 56) as u8,             // highlight
                        _ => ((i * 2_654_435_761usize) >> 7) as u8, // anything
                    }
                })
                .collect();
            let mut scalar = start.clone();
            stamp_with(
                &mut scalar,
                channels,
                &field,
                &imps,
                &ink,
                U8Tables::with_kernel(Kernel::Scalar),
            )
            .unwrap();
            for &kernel in &kernels[1..] {
                let mut simd = start.clone();
                stamp_with(&mut simd, channels, &field, &imps, &ink, U8Tables::with_kernel(kernel)).unwrap();
                let differ = scalar.iter().zip(&simd).filter(|(a, b)| a != b).count();
                assert_eq!(differ, 0, "{kernel:?}, {channels} channels: {differ} bytes differ");
            }
            let changed = scalar.iter().zip(&start).filter(|(a, b)| a != b).count();
            assert!(changed > start.len() / 2, "{channels} channels: only {changed} changed");
            assert!(scalar.iter().filter(|&&v| v == 0).count() > 1000, "nothing went black");
            if channels == 4 {
                assert!(
                    scalar.iter().zip(&start).skip(3).step_by(4).all(|(a, b)| a == b),
                    "alpha changed"
                );
            }
        }
    }
}
