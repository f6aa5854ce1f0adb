//! Stamping: pigment absorbs light under each impression, in linear light, band by band in parallel.
//!
//! The image is cut into horizontal bands of [`BAND_ROWS`] rows. Each band takes the impressions whose box
//! touches it, in placement order, and darkens the pixels each one covers: the pixel goes to linear light, loses
//! the fraction of light the pigment absorbs there, and goes back. Bands never share pixels and each pixel sees
//! its impressions in the same order, so any number of threads gives the same bytes.
//!
//! Absorption (multiplication) rather than painting keeps the photo's own light: a highlight stays brighter
//! than a shadow under the same impression, skin texture shows through, and a pixel can only get darker.
//!
//! The hot loop walks one pixel row of one impression: the squared distance q (a quadratic in x) indexes the
//! coverage in a q-ordered profile row ([`q_row`]), with no square root. An impression ends where its
//! coverage could no longer change a stored value, so its faint rim costs nothing.

use rayon::prelude::*;

use crate::colour::{
    decode_table_16, encode_index_table, encode_table, invisible_darkening, linear_to_srgb, round_small,
    srgb_to_linear, EncodeTable,
};
use crate::field::DensityField;
use crate::params::Rgb8;
use crate::place::Impression;
use crate::splat::{q_row, MAX_RHO, Q_COLUMNS};
use crate::stamp_veil::{highlight_share, unveiled_u8};

/// Rows per band: enough bands to share among threads, few enough that an impression rarely spans two.
pub const BAND_ROWS: usize = 16;

/// Pieces the impressions are prepared in, in parallel.
const PIECES: usize = 16;
/// The fewest impressions worth a piece of their own.
const MIN_PIECE: usize = 4096;

/// Optical settings for a stamping pass.
#[derive(Debug, Clone)]
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

/// An impression ready to draw, in pixel units: its profile row and the quadratic form that indexes it.
struct Prepared {
    cx: f32,
    cy: f32,
    /// Profile column at offset (dx, dy) from the centre: qa·dx² + qb·dx·dy + qc·dy².
    qa: f32,
    qb: f32,
    qc: f32,
    /// The column where the impression ends: beyond it no pixel would change ([`crate::splat::QRow::reach`]).
    reach: f32,
    /// Half height of the box around the ellipse `q < reach`.
    half_h: f32,
    profile: &'static [f32; Q_COLUMNS + 2],
    /// Per channel: fraction of light the pigment absorbs at full coverage, times opacity.
    absorb: [f32; 3],
    /// The smallest coverage that can change a value: the channel type's invisible darkening over the
    /// strongest absorption.
    min_cover: f32,
    /// 1 / (2·qa), for solving each row's span.
    half_over_qa: f32,
}

impl Prepared {
    /// `blur` is the skin blur plus the pixel's box: σ = √(blur_px² + 1/12) ([`Ink::pixel_sigma`]).
    fn new(imp: &Impression, blur: f32, shade_linear: [f32; 3], invisible: f32) -> Self {
        let (a, b) = (imp.radius_major.max(1e-3), imp.radius_minor.max(1e-3));
        let r = (a * b).sqrt();
        // Never sharper than the table's widest disc.
        let sigma = blur.max(r / MAX_RHO);
        let row = q_row(r / sigma);
        let (s, c) = imp.angle.sin_cos();
        // Stretch the ellipse into a circle of radius r: along the major axis by b/a, across by a/b.
        let scale = row.columns_per_q / (sigma * sigma);
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
        // 0.15 mm impression at photo scale that is about a fifth of its pixels sooner than the table's cut.
        let min_cover = invisible / absorb.iter().fold(invisible, |m: f32, &v| m.max(v));
        let reach = row.reach(min_cover);
        // The ellipse q < reach reaches √(reach·qa/det) above and below its centre, det = qa·qc − qb²/4 = ka·kb.
        let det = ka * kb;
        Prepared {
            cx: imp.x,
            cy: imp.y,
            qa,
            qb,
            qc,
            reach,
            half_h: (reach * qa / det).sqrt(),
            profile: row.values,
            min_cover,
            absorb,
            half_over_qa: 0.5 / qa,
        }
    }

    /// The image rows (pixel centres) inside the ellipse, clipped to `rows`.
    fn rows(&self, rows: std::ops::Range<usize>) -> std::ops::Range<usize> {
        let y0 = (ceil(self.cy - self.half_h - 0.5).max(0) as usize).max(rows.start);
        let y1 = ((floor(self.cy + self.half_h - 0.5) + 1).max(0) as usize).min(rows.end);
        y0..y1.max(y0)
    }
}

/// A channel value of an sRGB image: 8 or 16 bits, with the lookup tables it converts through.
pub trait Channel: Copy + Ord + Send + Sync {
    /// The conversion tables, fetched once per band rather than per pixel.
    type Tables: Copy + Send + Sync;
    /// The tables.
    fn tables() -> Self::Tables;
    /// The largest fraction of light a value can lose and still be stored as itself: darkening below it is
    /// skipped.
    fn invisible() -> f32;
    /// The share of a pixel's light that pigment can darken: all but the highlight's surface reflection
    /// ([`highlight_share`]).
    fn unveiled(rgb: [Self; 3], t: Self::Tables) -> f32;
    /// The value after its linear light is multiplied by `transmit` (0–1); never lighter than `self`.
    fn transmit(self, transmit: f32, t: Self::Tables) -> Self;
}

/// The tables 8-bit stamping reads: each value's light in encode-table units, the encode table, and the
/// unveiled share by weakest channel.
#[derive(Clone, Copy)]
pub struct U8Tables {
    index: &'static [f32; 256],
    encode: &'static EncodeTable,
    unveiled: &'static [f32; 256],
}

impl Channel for u8 {
    type Tables = U8Tables;
    fn tables() -> U8Tables {
        U8Tables {
            index: encode_index_table(),
            encode: encode_table(),
            unveiled: unveiled_u8(),
        }
    }
    fn invisible() -> f32 {
        invisible_darkening()
    }
    #[inline]
    fn unveiled(rgb: [u8; 3], t: U8Tables) -> f32 {
        t.unveiled[rgb[0].min(rgb[1]).min(rgb[2]) as usize]
    }
    #[inline]
    fn transmit(self, transmit: f32, t: U8Tables) -> u8 {
        // The encode table is increasing and every value round-trips, so with transmit ≤ 1 this is never
        // lighter than self (colour.rs tests both).
        t.encode[round_small(t.index[self as usize] * transmit) as usize & (t.encode.len() - 1)]
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
    fn transmit(self, transmit: f32, t: Self::Tables) -> u16 {
        // Exact: only pixels under pigment get here, a few percent of the image. min() keeps "never
        // lighter" whatever powf's last bit does.
        let l = (t[self as usize] * transmit).clamp(0.0, 1.0);
        self.min((linear_to_srgb(l) * 65535.0 + 0.5) as u16)
    }
}

/// Darkens an interleaved image (`channels` = 3 for RGB, 4 for RGBA, whose alpha is left alone) under every
/// impression; pixels where `field` is 0 are never touched.
///
/// `data` holds `width × height × channels` values, the field's size (the render functions check).
pub fn stamp<T: Channel>(data: &mut [T], channels: usize, field: &DensityField, impressions: &[Impression], ink: &Ink) {
    let (w, h) = (field.width() as usize, field.height() as usize);
    debug_assert_eq!(data.len(), w * h * channels);
    if w == 0 || h == 0 || impressions.is_empty() {
        return;
    }
    let shades_linear: Vec<[f32; 3]> = ink
        .shades
        .iter()
        .map(|s| s.0.map(|v| srgb_to_linear(v as f32 / 255.0)))
        .collect();
    let invisible = T::invisible();
    let blur = ink.pixel_sigma();
    let bands = h.div_ceil(BAND_ROWS);
    // Impressions are prepared and sorted into bands in parallel pieces (a fixed number, so the work never
    // depends on the thread count); a band then walks the pieces in order, so each pixel still sees its
    // impressions in placement order. Done serially, sorting into bands held up the second thread.
    let per_piece = impressions.len().div_ceil(PIECES).max(MIN_PIECE);
    let pieces: Vec<(Vec<Prepared>, Vec<Vec<u32>>)> = impressions
        .par_chunks(per_piece)
        .map(|chunk| {
            let prepared: Vec<Prepared> = chunk
                .iter()
                .map(|imp| {
                    let shade = shades_linear.get(imp.shade as usize).or(shades_linear.first()).copied();
                    Prepared::new(imp, blur, shade.unwrap_or([0.02; 3]), invisible)
                })
                .collect();
            let mut by_band: Vec<Vec<u32>> = vec![Vec::new(); bands];
            for (i, p) in prepared.iter().enumerate() {
                let rows = p.rows(0..h);
                if !rows.is_empty() {
                    for band in &mut by_band[rows.start / BAND_ROWS..=(rows.end - 1) / BAND_ROWS] {
                        band.push(i as u32);
                    }
                }
            }
            (prepared, by_band)
        })
        .collect();
    let tables = T::tables();
    data.par_chunks_mut(w * channels * BAND_ROWS)
        .enumerate()
        .for_each(|(band, pixels)| {
            let top = band * BAND_ROWS;
            let rows = top..top + pixels.len() / (w * channels);
            for (prepared, by_band) in &pieces {
                for &i in &by_band[band] {
                    let p = &prepared[i as usize];
                    for y in p.rows(rows.clone()) {
                        let row = &mut pixels[(y - top) * w * channels..(y - top + 1) * w * channels];
                        stamp_row(row, channels, field.row(y as u32), y, p, tables);
                    }
                }
            }
        });
}

/// Darkens the pixels of image row `y` (`row`, interleaved) that impression `p` covers.
#[inline]
fn stamp_row<T: Channel>(row: &mut [T], channels: usize, field_row: &[u8], y: usize, p: &Prepared, tables: T::Tables) {
    let w = field_row.len();
    let dy = y as f32 + 0.5 - p.cy;
    let (qy, qxy) = (p.qc * dy * dy, p.qb * dy);
    // The pixel centres inside the ellipse, qa·dx² + qxy·dx + qy < reach.
    let disc = qxy * qxy - 4.0 * p.qa * (qy - p.reach);
    if disc < 0.0 {
        return;
    }
    let root = disc.sqrt();
    let (lo, hi) = ((-qxy - root) * p.half_over_qa, (-qxy + root) * p.half_over_qa);
    let x0 = ceil(p.cx + lo - 0.5).max(0) as usize;
    let x1 = ((floor(p.cx + hi - 0.5) + 1).max(0) as usize).min(w);
    if x0 >= x1 {
        return;
    }
    // The pixel centre's offset from the impression's, stepped by 1.0 rather than converted from x per pixel.
    let mut dx = x0 as f32 + 0.5 - p.cx;
    for (px, &level) in row[x0 * channels..x1 * channels]
        .chunks_exact_mut(channels)
        .zip(&field_row[x0..x1])
    {
        let here = dx;
        dx += 1.0;
        if level == 0 {
            continue;
        }
        let Some(cover) = coverage(p, here, qxy, qy) else {
            continue;
        };
        let rgb = [px[0], px[1], px[2]];
        // Pigment lies under the skin: a specular highlight is reflected above it and veils it.
        let k = cover * T::unveiled(rgb, tables);
        for ch in 0..3 {
            px[ch] = rgb[ch].transmit(1.0 - k * p.absorb[ch], tables);
        }
    }
}

/// The coverage of impression `p` at horizontal offset `dx` from its centre on a row whose terms of q are
/// `qxy` (·dx) and `qy`, or `None` where it is too faint to change a value.
#[inline]
fn coverage(p: &Prepared, dx: f32, qxy: f32, qy: f32) -> Option<f32> {
    let q = (p.qa * dx + qxy) * dx + qy;
    // q ≥ 0 up to float rounding; plain comparisons, as f32::clamp's NaN handling costs more than the rest.
    let column = if q > 0.0 { q } else { 0.0 };
    if column >= p.reach {
        return None;
    }
    // The nearest column: the table is fine enough (1024 columns) that interpolating between two would change
    // the cover by under 0.1%, and costs a sixth of stamping. (Clamped so that the compiler drops the bounds
    // check.)
    let cover = p.profile[(round_small(column) as usize).min(Q_COLUMNS)];
    (cover >= p.min_cover).then_some(cover)
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
        stamp(&mut together, 3, &field, &imps, &ink);
        let mut one_by_one = start.clone();
        for imp in &imps {
            stamp(&mut one_by_one, 3, &field, std::slice::from_ref(imp), &ink);
        }
        assert!(together == one_by_one, "stamping in pieces changed the order");
        assert!(together.iter().zip(&start).filter(|(a, b)| a != b).count() > (w * h * 3 / 2) as usize);
    }
}
