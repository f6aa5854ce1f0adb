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
//! The hot loop walks one pixel row of one impression: the squared distance q is a quadratic in x, so it is
//! stepped by two additions per pixel and looks up the coverage in a q-indexed profile row ([`q_row`]).

use rayon::prelude::*;

use crate::colour::{
    decode_table, decode_table_16, encode, encode_table, linear_to_srgb, round_small, srgb_to_linear, EncodeTable,
};
use crate::field::DensityField;
use crate::params::Rgb8;
use crate::place::Impression;
use crate::splat::{q_row, MAX_RHO, Q_COLUMNS};
use crate::stamp_veil::highlight_share;

/// Coverage × absorption below which a pixel is left alone: it would move an 8-bit value by under a quarter of
/// a level, and skipping it saves the conversion of most of each impression's faint rim.
const FAINT: f32 = 1.0 / 512.0;

/// Rows per band: enough bands to share among threads, few enough that an impression rarely spans two.
pub const BAND_ROWS: usize = 16;

/// Optical settings for a stamping pass.
#[derive(Debug, Clone)]
pub struct Ink {
    /// Pigment colours at full opacity, indexed by [`Impression::shade`].
    pub shades: Vec<Rgb8>,
    /// Skin blur of the pigment, σ in pixels (the pixel's own box is added inside).
    pub blur_px: f32,
}

/// An impression ready to draw, in pixel units: its profile row and the quadratic form that indexes it.
struct Prepared {
    cx: f32,
    cy: f32,
    /// Profile column at offset (dx, dy) from the centre: qa·dx² + qb·dx·dy + qc·dy². The impression ends
    /// where this reaches [`Q_COLUMNS`].
    qa: f32,
    qb: f32,
    qc: f32,
    /// Half height of the box around that ellipse.
    half_h: f32,
    profile: &'static [f32; Q_COLUMNS + 2],
    /// Per channel: fraction of light the pigment absorbs at full coverage, times opacity.
    absorb: [f32; 3],
    /// The smallest coverage worth drawing: [`FAINT`] over the strongest absorption.
    min_cover: f32,
    /// 1 / (2·qa), for solving each row's span.
    half_over_qa: f32,
}

impl Prepared {
    fn new(imp: &Impression, ink: &Ink, shade_linear: [f32; 3]) -> Self {
        let (a, b) = (imp.radius_major.max(1e-3), imp.radius_minor.max(1e-3));
        let r = (a * b).sqrt();
        // Skin blur plus the pixel's box (variance 1/12 px²); never sharper than the table's widest disc.
        let sigma = (ink.blur_px * ink.blur_px + 1.0 / 12.0).sqrt().max(r / MAX_RHO);
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
        // The ellipse q ≤ Q reaches √(Q·qa/det) above and below its centre, det = qa·qc − qb²/4 = ka·kb.
        let det = ka * kb;
        let absorb = std::array::from_fn(|ch| {
            let pigment = (shade_linear[ch] * imp.tone).min(1.0);
            imp.opacity * (1.0 - pigment)
        });
        Prepared {
            cx: imp.x,
            cy: imp.y,
            qa,
            qb,
            qc,
            half_h: (Q_COLUMNS as f32 * qa / det).sqrt(),
            profile: row.values,
            min_cover: FAINT / absorb[0].max(absorb[1]).max(absorb[2]).max(FAINT),
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
    /// Linear light, 0–1.
    fn to_linear(self, t: Self::Tables) -> f32;
    /// Back to the channel's sRGB encoding.
    fn from_linear(l: f32, t: Self::Tables) -> Self;
}

impl Channel for u8 {
    type Tables = (&'static [f32; 256], &'static EncodeTable);
    fn tables() -> Self::Tables {
        (decode_table(), encode_table())
    }
    #[inline]
    fn to_linear(self, t: Self::Tables) -> f32 {
        t.0[self as usize]
    }
    #[inline]
    fn from_linear(l: f32, t: Self::Tables) -> Self {
        encode(l, t.1)
    }
}

impl Channel for u16 {
    type Tables = &'static [f32];
    fn tables() -> Self::Tables {
        decode_table_16()
    }
    #[inline]
    fn to_linear(self, t: Self::Tables) -> f32 {
        t[self as usize]
    }
    #[inline]
    fn from_linear(l: f32, _: Self::Tables) -> Self {
        // Exact: only pixels under pigment get here, a few percent of the image.
        (linear_to_srgb(l.clamp(0.0, 1.0)) * 65535.0 + 0.5) as u16
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
    let prepared: Vec<Prepared> = impressions
        .par_iter()
        .map(|imp| {
            let shade = shades_linear.get(imp.shade as usize).or(shades_linear.first()).copied();
            Prepared::new(imp, ink, shade.unwrap_or([0.02; 3]))
        })
        .collect();
    let bands = h.div_ceil(BAND_ROWS);
    let mut by_band: Vec<Vec<u32>> = vec![Vec::new(); bands];
    for (i, p) in prepared.iter().enumerate() {
        let rows = p.rows(0..h);
        if !rows.is_empty() {
            for band in &mut by_band[rows.start / BAND_ROWS..=(rows.end - 1) / BAND_ROWS] {
                band.push(i as u32);
            }
        }
    }
    let tables = T::tables();
    data.par_chunks_mut(w * channels * BAND_ROWS)
        .zip(by_band.par_iter())
        .enumerate()
        .for_each(|(band, (pixels, list))| {
            let top = band * BAND_ROWS;
            let rows = top..top + pixels.len() / (w * channels);
            for &i in list {
                let p = &prepared[i as usize];
                for y in p.rows(rows.clone()) {
                    let row = &mut pixels[(y - top) * w * channels..(y - top + 1) * w * channels];
                    stamp_row(row, channels, field.row(y as u32), y, p, tables);
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
    // The pixel centres inside the ellipse: qa·dx² + qxy·dx + qy ≤ Q.
    let disc = qxy * qxy - 4.0 * p.qa * (qy - Q_COLUMNS as f32);
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
    // q and its first and second differences along the row.
    let dx = x0 as f32 + 0.5 - p.cx;
    let mut q = (p.qa * dx + qxy) * dx + qy;
    let mut step = p.qa * (2.0 * dx + 1.0) + qxy;
    let curve = 2.0 * p.qa;
    let limit = Q_COLUMNS as f32;
    for (px, &level) in row[x0 * channels..x1 * channels]
        .chunks_exact_mut(channels)
        .zip(&field_row[x0..x1])
    {
        // Float rounding in the stepping can leave q a hair outside 0..=Q; plain comparisons, as f32::clamp's
        // NaN handling costs more than the rest of this line.
        let column = if q > 0.0 { q } else { 0.0 };
        let column = if column < limit { column } else { limit };
        q += step;
        step += curve;
        if level == 0 {
            continue;
        }
        // ⌊column⌋ (column ≥ 0): rounding column − ½ gives it, or the integer below when column is whole.
        let i = round_small(column - 0.5) as usize;
        let cover = p.profile[i] + (p.profile[i + 1] - p.profile[i]) * (column - i as f32);
        if cover < p.min_cover {
            continue;
        }
        let linear = [
            px[0].to_linear(tables),
            px[1].to_linear(tables),
            px[2].to_linear(tables),
        ];
        // Pigment lies under the skin: a specular highlight is reflected above it and veils it.
        let veil = highlight_share(linear);
        for ch in 0..3 {
            let t = 1.0 - cover * p.absorb[ch] * (1.0 - veil);
            // Every value round-trips through linear light, so this never lightens; min() guarantees it.
            px[ch] = px[ch].min(T::from_linear(linear[ch] * t, tables));
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
