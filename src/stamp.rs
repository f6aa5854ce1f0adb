//! Stamping: pigment absorbs light under each impression, in linear light, band by band in parallel.
//!
//! The image is cut into horizontal bands of [`BAND_ROWS`] rows. Each band collects the impressions whose box
//! touches it (in placement order), multiplies their transmittance into a small per-band buffer, then turns
//! the photo's pixels into linear light, multiplies, and back — only where pigment landed. Bands never share
//! pixels and each pixel's product is taken in the same order, so any number of threads gives the same bytes.
//!
//! Absorption (multiplication) rather than painting keeps the photo's own light: a highlight stays brighter
//! than a shadow under the same impression, skin texture shows through, and a pixel can only get darker.

use rayon::prelude::*;

use crate::colour::{decode_table, decode_table_16, encode_index, encode_table, linear_to_srgb, srgb_to_linear};
use crate::field::DensityField;
use crate::params::Rgb8;
use crate::place::Impression;
use crate::splat::{profile_row, sample, MAX_RHO};
use crate::stamp_veil::highlight_share;

/// How far past an impression's edge its box reaches, in blur σ: beyond 3.5σ the coverage is under 3e-4,
/// less than a thousandth of a level after any opacity.
const REACH_SIGMAS: f32 = 3.5;

/// Smallest coverage stamped: 1/2048, under a tenth of an 8-bit level at any opacity.
const MIN_COVER: f32 = 1.0 / 2048.0;

/// Rows per band: small enough that a band's buffer stays in cache, large enough to amortise the set-up.
pub const BAND_ROWS: usize = 16;

/// Optical settings for a stamping pass.
#[derive(Debug, Clone)]
pub struct Ink {
    /// Pigment colours at full opacity, indexed by [`Impression::shade`].
    pub shades: Vec<Rgb8>,
    /// Skin blur of the pigment, σ in pixels (the pixel's own box is added inside).
    pub blur_px: f32,
}

/// An impression ready to draw: its quadratic form, reach and colour, in pixel units.
struct Prepared<'a> {
    cx: f32,
    cy: f32,
    /// d²/σ² = a·dx² + b·dx·dy + c·dy²
    qa: f32,
    qb: f32,
    qc: f32,
    reach: f32,
    /// Largest d²/σ² with visible coverage: (r/σ + REACH_SIGMAS)².
    q_max: f32,
    row: &'a [f32],
    /// Per channel: fraction of light the pigment absorbs at full coverage, times opacity.
    absorb: [f32; 3],
}

impl<'a> Prepared<'a> {
    fn new(imp: &Impression, ink: &Ink, shade_linear: [f32; 3]) -> Self {
        let (a, b) = (imp.radius_major.max(1e-3), imp.radius_minor.max(1e-3));
        let r = (a * b).sqrt();
        // Skin blur plus the pixel's box (variance 1/12 px²); never sharper than the table's widest disc.
        let sigma = (ink.blur_px * ink.blur_px + 1.0 / 12.0).sqrt().max(r / MAX_RHO);
        let (s, c) = imp.angle.sin_cos();
        // Stretch the ellipse into a circle of radius r: along the major axis by b/a, across by a/b.
        let (ka, kb) = ((b / a) / (sigma * sigma), (a / b) / (sigma * sigma));
        let absorb = std::array::from_fn(|ch| {
            let pigment = (shade_linear[ch] * imp.tone).min(1.0);
            imp.opacity * (1.0 - pigment)
        });
        Prepared {
            cx: imp.x,
            cy: imp.y,
            qa: ka * c * c + kb * s * s,
            qb: 2.0 * (ka - kb) * c * s,
            qc: ka * s * s + kb * c * c,
            reach: a + REACH_SIGMAS * sigma,
            q_max: (r / sigma + REACH_SIGMAS).powi(2),
            row: profile_row(r / sigma),
            absorb,
        }
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
    type Tables = (&'static [f32; 256], &'static [u8]);
    fn tables() -> Self::Tables {
        (decode_table(), encode_table())
    }
    #[inline]
    fn to_linear(self, t: Self::Tables) -> f32 {
        t.0[self as usize]
    }
    #[inline]
    fn from_linear(l: f32, t: Self::Tables) -> Self {
        t.1[encode_index(l)]
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
        let y0 = (p.cy - p.reach).floor().max(0.0) as usize;
        let y1 = ((p.cy + p.reach).ceil().max(0.0) as usize).min(h - 1);
        for band in by_band.iter_mut().take(y1 / BAND_ROWS + 1).skip(y0 / BAND_ROWS) {
            band.push(i as u32);
        }
    }
    data.par_chunks_mut(w * channels * BAND_ROWS)
        .zip(by_band.par_iter())
        .enumerate()
        // One transmittance buffer per worker, reused band after band (fresh allocations page-faulted).
        .for_each_init(Vec::new, |transmit, (band, (pixels, list))| {
            if !list.is_empty() {
                stamp_band(pixels, channels, w, band * BAND_ROWS, field, &prepared, list, transmit);
            }
        });
}

/// Stamps the impressions `list` into one band of rows starting at image row `top`.
#[allow(clippy::too_many_arguments)]
fn stamp_band<T: Channel>(
    pixels: &mut [T],
    channels: usize,
    w: usize,
    top: usize,
    field: &DensityField,
    all: &[Prepared],
    list: &[u32],
    transmit: &mut Vec<f32>,
) {
    let rows = pixels.len() / (w * channels);
    // The band's transmittance only spans the columns its impressions reach.
    let (mut x_lo, mut x_hi) = (w, 0usize);
    for &i in list {
        let p = &all[i as usize];
        x_lo = x_lo.min((p.cx - p.reach).floor().max(0.0) as usize);
        x_hi = x_hi.max(((p.cx + p.reach).ceil().max(0.0) as usize + 1).min(w));
    }
    if x_lo >= x_hi {
        return;
    }
    let span = x_hi - x_lo;
    transmit.clear();
    transmit.resize(span * rows * 3, 1.0);
    for &i in list {
        let p = &all[i as usize];
        let x0 = ((p.cx - p.reach).floor().max(x_lo as f32) as usize).max(x_lo);
        let x1 = ((p.cx + p.reach).ceil() as usize + 1).min(x_hi);
        let y0 = ((p.cy - p.reach).floor().max(top as f32) as usize).max(top);
        let y1 = ((p.cy + p.reach).ceil() as usize + 1).min(top + rows);
        for y in y0..y1 {
            let dy = y as f32 + 0.5 - p.cy;
            let (qy, qxy) = (p.qc * dy * dy, p.qb * dy);
            // Only the columns inside the ellipse q ≤ q_max: solve qa·dx² + qxy·dx + qy = q_max.
            let disc = qxy * qxy - 4.0 * p.qa * (qy - p.q_max);
            if disc < 0.0 {
                continue;
            }
            let root = disc.sqrt();
            let (lo, hi) = ((-qxy - root) / (2.0 * p.qa), (-qxy + root) / (2.0 * p.qa));
            let rx0 = ((p.cx + lo - 0.5).floor().max(x0 as f32) as usize).max(x0);
            let rx1 = ((p.cx + hi + 0.5).ceil().max(0.0) as usize + 1).min(x1);
            if rx0 >= rx1 {
                continue;
            }
            let field_row = &field.row(y as u32)[rx0..rx1];
            let t_row = &mut transmit[((y - top) * span + (rx0 - x_lo)) * 3..((y - top) * span + (rx1 - x_lo)) * 3];
            for (k, (t, &level)) in t_row.chunks_exact_mut(3).zip(field_row).enumerate() {
                if level == 0 {
                    continue;
                }
                let dx = (rx0 + k) as f32 + 0.5 - p.cx;
                let q = p.qa * dx * dx + qxy * dx + qy;
                let cover = sample(p.row, q.max(0.0).sqrt());
                // Below this no channel can move by a level: leave the pixel exactly untouched (and unconverted).
                if cover > MIN_COVER {
                    t[0] *= 1.0 - cover * p.absorb[0];
                    t[1] *= 1.0 - cover * p.absorb[1];
                    t[2] *= 1.0 - cover * p.absorb[2];
                }
            }
        }
    }
    let tables = T::tables();
    for y in 0..rows {
        let px = &mut pixels[(y * w + x_lo) * channels..(y * w + x_hi) * channels];
        let tr = &transmit[y * span * 3..(y + 1) * span * 3];
        for (p, t) in px.chunks_exact_mut(channels).zip(tr.chunks_exact(3)) {
            if t[0] < 1.0 || t[1] < 1.0 || t[2] < 1.0 {
                let linear = [p[0].to_linear(tables), p[1].to_linear(tables), p[2].to_linear(tables)];
                // Pigment lies under the skin: a specular highlight is reflected above it and veils it.
                let veil = highlight_share(linear);
                for ((v, &t), l) in p.iter_mut().zip(t).zip(linear) {
                    let t = t + veil * (1.0 - t);
                    // Every value round-trips through linear light, so this never lightens; min() guarantees it.
                    *v = (*v).min(T::from_linear(l * t, tables));
                }
            }
        }
    }
}
