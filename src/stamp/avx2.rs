//! The 8-bit stamping kernel for AVX2, for the x86-64 CPUs without AVX-512 (most since 2013): eight pixels of
//! one impression's row at a time.
//!
//! The same contract as `avx512.rs`: lane for lane the scalar kernel's operations on the same f32 values in
//! the same order, with the rare lanes that need another branch handed to [`darken_u8`], so all three kernels
//! give the same bytes (the test in `stamp.rs` compares them). AVX2 has no two-register permutes, so the
//! coverage profile's 32-entry tables are read with four eight-entry permutes and three blends (the power of
//! darkening needs one permute: `colour::transmittance_power`). Nor has it byte-masked loads: eight pixels
//! are read and written as 28 or 32 bytes where the row has room (all but the last pixels of a row), spread
//! to one pixel per lane by a byte shuffle, and one by one at the row's end.

use std::arch::x86_64::*;
use std::ops::Range;

use super::{prefetch_band_below, prefetch_record, Prepared, U8Tables, RECORD_LOOKAHEAD};
use crate::colour::{darken_u8, DARK_MAX, OFFSET, POWER_END, POWER_OCTAVES, POWER_POLYNOMIAL};
use crate::field::DensityField;
use crate::pieces;

/// Whether this CPU has AVX2.
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx2")
}

/// Darkens the pixels of `band` (image rows `rows`, `channels` = 3 or 4 interleaved) under each of
/// `impressions` in turn: what `stamp_scalar` does, eight pixels at a time.
///
/// # Safety
/// The CPU must have AVX2 ([`available`]).
#[target_feature(enable = "avx2")]
pub(super) unsafe fn stamp_band<'p>(
    band: &mut [u8],
    channels: usize,
    field: &DensityField,
    rows: Range<usize>,
    impressions: impl Iterator<Item = &'p Prepared> + Clone,
    t: &U8Tables,
) {
    debug_assert!(channels == 3 || channels == 4);
    debug_assert_eq!(band.len(), rows.len() * field.width() as usize * channels);
    // POWER_OCTAVES by the exponent of 1 − x, 127 − k, whose low three bits are 7 − k: [`power`] then
    // permutes by the exponent as it stands.
    // SAFETY: 8 values.
    let octaves = unsafe { _mm256_loadu_ps(POWER_OCTAVES.as_ptr()) };
    let octaves = _mm256_permutevar8x32_ps(octaves, _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0));
    let mut ahead = impressions.clone().skip(RECORD_LOOKAHEAD);
    let w = field.width() as usize;
    for p in impressions {
        prefetch_record(ahead.next());
        let columns = p.columns(w);
        if columns.is_empty() {
            continue;
        }
        // Whether every step's pixels (and levels) can be read and written at once: all but near the right
        // edge. Decided per impression, so that each of the four loops below has one path.
        let last = columns.start + (columns.len() - 1) / 8 * 8;
        let at_once = has_room(w, last, channels);
        let (band, rows) = (&mut *band, rows.clone());
        match (channels, at_once) {
            (3, true) => impression::<3, true>(band, field, rows, p, columns, octaves, t),
            (3, false) => impression::<3, false>(band, field, rows, p, columns, octaves, t),
            (_, true) => impression::<4, true>(band, field, rows, p, columns, octaves, t),
            (_, false) => impression::<4, false>(band, field, rows, p, columns, octaves, t),
        }
    }
}

/// One impression over its ellipse's box, `columns` (not empty), each pixel decided by its own u (as in
/// `avx512.rs`), `C` channels to a pixel. `AT_ONCE`: every step's pixels and levels are read and written as
/// vectors, the row having room for them ([`has_room`] at the last step), else one by one.
#[inline]
#[target_feature(enable = "avx2")]
fn impression<const C: usize, const AT_ONCE: bool>(
    band: &mut [u8],
    field: &DensityField,
    rows: Range<usize>,
    p: &Prepared,
    columns: Range<usize>,
    octaves: __m256,
    t: &U8Tables,
) {
    let (w, top) = (field.width() as usize, rows.start);
    let cover_pieces = Pieces::new(&p.cover.pieces);
    let (qa, reach, min_cover) = (
        _mm256_set1_ps(p.qa),
        _mm256_set1_ps(p.reach),
        _mm256_set1_ps(p.min_cover),
    );
    let absorb = [
        _mm256_set1_ps(p.absorb[0]),
        _mm256_set1_ps(p.absorb[1]),
        _mm256_set1_ps(p.absorb[2]),
    ];
    let iota = _mm256_setr_ps(0., 1., 2., 3., 4., 5., 6., 7.);
    // The k from which some channel's darkening k·absorb may reach POWER_END (1e-5 below it, for rounding):
    // one comparison of k per step, where the largest of the three darkenings took three operations.
    let k_power = _mm256_set1_ps(POWER_END / p.absorb[0].max(p.absorb[1]).max(p.absorb[2]) * (1.0 - 1e-5));
    // The scalar kernel's dx0 + i, as in `avx512.rs`: exact, being small multiples of cx's last bit.
    let dx0 = _mm256_add_ps(_mm256_set1_ps(columns.start as f32 + 0.5 - p.cx), iota);
    let (eight, width) = (_mm256_set1_ps(8.0), _mm256_set1_ps(columns.len() as f32));
    let steps = columns.len().div_ceil(8);
    // The bytes of a row the steps read and write: the columns, and with `AT_ONCE` the room past the last
    // step's first pixel. Sliced once per row, so each step's reads are within it by construction.
    let (first, bytes) = (
        columns.start * C,
        if AT_ONCE {
            (steps - 1) * 8 * C + room(C)
        } else {
            columns.len() * C
        },
    );
    let level_count = if AT_ONCE { steps * 8 } else { columns.len() };
    let stride = w * C;
    for y in p.rows(rows) {
        let (qxy, qy) = p.row_terms(y);
        let (qxy, qy) = (_mm256_set1_ps(qxy), _mm256_set1_ps(qy));
        let (row_start, levels) = ((y - top) * stride, field.row(y as u32));
        prefetch_band_below(band.as_ptr().wrapping_add(row_start), levels.as_ptr(), &columns, C, w);
        let pixels = &mut band[row_start + first..row_start + first + bytes];
        let levels = &levels[columns.start..columns.start + level_count];
        // The lanes' dx and, for `in_row`, the columns left from each step's first: kept as floats.
        let (mut dx, mut left) = (dx0, width);
        for step in 0..steps {
            let (lane_dx, lane_left) = (dx, left);
            (dx, left) = (_mm256_add_ps(dx, eight), _mm256_sub_ps(left, eight));
            // The step's first pixel, from the columns' first.
            let x = step * 8;
            let n = if AT_ONCE { 8 } else { (columns.len() - x).min(8) };
            let in_row = _mm256_cmp_ps::<_CMP_LT_OQ>(iota, lane_left);
            let u = _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(qa, lane_dx), qxy), lane_dx);
            let u = _mm256_add_ps(u, qy);
            let u = _mm256_max_ps(u, _mm256_setzero_ps());
            // SAFETY (and for the pixels below): with AT_ONCE the row's `levels` and `pixels` were sliced to
            // hold eight levels and `room` bytes at every step's x (x ≤ (steps − 1)·8).
            let lane_levels = unsafe { load_levels::<AT_ONCE>(levels, x, n) };
            let untreated = _mm256_castsi256_ps(_mm256_cmpeq_epi32(lane_levels, _mm256_setzero_si256()));
            // No early exit when no lane is inside (or covered enough): those steps are a few rows at the box's
            // top and bottom, and the branch, mispredicted there, cost more than the step (~5 % of stamping).
            // Lanes outside `ok` are written back as they were read.
            let inside = _mm256_andnot_ps(untreated, _mm256_and_ps(in_row, _mm256_cmp_ps::<_CMP_LT_OQ>(u, reach)));
            let cover = cover_pieces.at(u);
            let ok = _mm256_and_ps(inside, _mm256_cmp_ps::<_CMP_GE_OQ>(cover, min_cover));
            let (raw, lanes) = unsafe { load_pixels::<C, AT_ONCE>(pixels, x, n) };
            let byte = _mm256_set1_epi32(0xff);
            let rgb = [
                _mm256_and_si256(lanes, byte),
                _mm256_and_si256(_mm256_srli_epi32::<8>(lanes), byte),
                _mm256_and_si256(_mm256_srli_epi32::<16>(lanes), byte),
            ];
            // The highlight's veil, from the scalar table, for the lanes bright enough to have one.
            let weakest = _mm256_min_epu32(_mm256_min_epu32(rgb[0], rgb[1]), rgb[2]);
            let bright = _mm256_and_ps(
                ok,
                _mm256_castsi256_ps(_mm256_cmpgt_epi32(weakest, _mm256_set1_epi32(t.veiled_from as i32 - 1))),
            );
            let bright = _mm256_movemask_ps(bright);
            let mut k = cover;
            if bright != 0 {
                let weakest = to_array_u32(weakest);
                let mut veil = [1.0f32; 8];
                for lane in (0..8).filter(|lane| bright >> lane & 1 == 1) {
                    veil[lane] = t.unveiled[weakest[lane] as usize & 255];
                }
                // SAFETY: 8 values.
                k = _mm256_mul_ps(cover, unsafe { _mm256_loadu_ps(veil.as_ptr()) });
            }
            let darkening = [
                _mm256_mul_ps(k, absorb[0]),
                _mm256_mul_ps(k, absorb[1]),
                _mm256_mul_ps(k, absorb[2]),
            ];
            let out = darken::<C, AT_ONCE>(rgb, darkening, ok, _mm256_cmp_ps::<_CMP_GE_OQ>(k, k_power), octaves, t);
            let out = _mm256_or_si256(
                _mm256_or_si256(out[0], _mm256_slli_epi32::<8>(out[1])),
                _mm256_slli_epi32::<16>(out[2]),
            );
            let out = _mm256_blendv_epi8(lanes, out, _mm256_castps_si256(ok));
            unsafe { store_pixels::<C, AT_ONCE>(pixels, x, n, raw, out) };
        }
    }
}

/// `darken_u8(v, x)` for each channel's values `v` and darkenings `x`, in the lanes of `ok` (any value in the
/// others); `past_power` holds the lanes where some darkening may be past the power's octaves.
///
/// Generic only over its caller's constants, so that each of the four `impression`s calls its own copy: LLVM
/// inlines a private function into its only caller whatever its size, and a shared `darken` (four callers)
/// was left out of line, costing each step a call and its arguments through memory (+8 % instructions).
#[inline]
#[target_feature(enable = "avx2")]
fn darken<const C: usize, const AT_ONCE: bool>(
    v: [__m256i; 3],
    x: [__m256; 3],
    ok: __m256,
    past_power: __m256,
    octaves: __m256,
    t: &U8Tables,
) -> [__m256i; 3] {
    let offset = _mm256_set1_ps(OFFSET);
    // (Written out rather than mapped: a closure would not inherit the target features.)
    let s = [
        _mm256_sub_ps(
            _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(v[0]), offset), power(x[0], octaves)),
            offset,
        ),
        _mm256_sub_ps(
            _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(v[1]), offset), power(x[1], octaves)),
            offset,
        ),
        _mm256_sub_ps(
            _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(v[2]), offset), power(x[2], octaves)),
            offset,
        ),
    ];
    // Nearest, ties to even, as `round_small`; never lighter.
    let mut out = [
        _mm256_min_epi32(_mm256_cvtps_epi32(s[0]), v[0]),
        _mm256_min_epi32(_mm256_cvtps_epi32(s[1]), v[1]),
        _mm256_min_epi32(_mm256_cvtps_epi32(s[2]), v[2]),
    ];
    // Lanes where any channel may need another branch of `darken_u8`: past the power's octaves, or the value
    // or the result on sRGB's linear segment (v ≤ DARK_MAX or s < KNEE; either leaves a result ≤ DARK_MAX, so
    // a result ≤ DARK_MAX + 1 takes both, and a few lanes more). All three channels of those lanes go through
    // it (for the others it gives what was computed here), as in `avx512.rs`.
    let weakest_out = _mm256_min_epi32(_mm256_min_epi32(out[0], out[1]), out[2]);
    let dark = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(DARK_MAX as i32 + 2), weakest_out));
    let slow = _mm256_movemask_ps(_mm256_and_ps(ok, _mm256_or_ps(past_power, dark)));
    if slow != 0 {
        // SAFETY: the caller's (AVX2).
        unsafe { darken_lanes(&v, &x, &mut out, slow, t.decode) };
    }
    out
}

/// `darken_u8` for the lanes set in `slow`, into `out`: out of line, so that the rare lanes' scalar code and
/// its calls do not crowd the registers of the step around it.
///
/// # Safety
/// The CPU must have AVX2 ([`available`]).
#[cold]
#[inline(never)]
#[target_feature(enable = "avx2")]
unsafe fn darken_lanes(v: &[__m256i; 3], x: &[__m256; 3], out: &mut [__m256i; 3], slow: i32, decode: &[f32; 256]) {
    for ch in 0..3 {
        let (vs, xs, mut outs) = (to_array_u32(v[ch]), to_array_f32(x[ch]), to_array_u32(out[ch]));
        for lane in (0..8).filter(|lane| slow >> lane & 1 == 1) {
            outs[lane] = darken_u8(vs[lane] as u8, xs[lane], decode) as u32;
        }
        out[ch] = load_u32(&outs);
    }
}

/// [`crate::colour::transmittance_power`] in every lane, `octaves` being [`POWER_OCTAVES`] in reverse order
/// (the permute reads an index's low three bits: those of the exponent 127 − k are 7 − k).
#[inline]
#[target_feature(enable = "avx2")]
fn power(x: __m256, octaves: __m256) -> __m256 {
    let bits = _mm256_castps_si256(_mm256_sub_ps(_mm256_set1_ps(1.0), x));
    let exponent = _mm256_srli_epi32::<23>(bits);
    let mantissa = _mm256_and_si256(bits, _mm256_set1_epi32(0x007F_FFFF));
    let t = _mm256_sub_ps(
        _mm256_castsi256_ps(_mm256_or_si256(mantissa, _mm256_set1_epi32(0x3F80_0000))),
        _mm256_set1_ps(1.0),
    );
    // Horner's rule, 1 + t·(c₁ + t·(c₂ + t·c₃)), in the scalar order.
    let c = POWER_POLYNOMIAL;
    let p = _mm256_add_ps(_mm256_set1_ps(c[1]), _mm256_mul_ps(t, _mm256_set1_ps(c[2])));
    let p = _mm256_add_ps(_mm256_set1_ps(c[0]), _mm256_mul_ps(t, p));
    let p = _mm256_add_ps(_mm256_set1_ps(1.0), _mm256_mul_ps(t, p));
    _mm256_mul_ps(_mm256_permutevar8x32_ps(octaves, exponent), p)
}

/// The levels at `x..x + n` (n ≤ 8) of a row's `levels`, one per lane (0 past n).
///
/// # Safety
/// With `AT_ONCE`, n is 8 and `levels` must hold eight at x (read unchecked).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_levels<const AT_ONCE: bool>(levels: &[u8], x: usize, n: usize) -> __m256i {
    if AT_ONCE {
        debug_assert!(x + 8 <= levels.len());
        // SAFETY: the caller's.
        return _mm256_cvtepu8_epi32(unsafe { _mm_loadl_epi64(levels.as_ptr().add(x).cast()) });
    }
    let mut lanes = [0u32; 8];
    for (l, &v) in lanes.iter_mut().zip(&levels[x..x + n]) {
        *l = v as u32;
    }
    load_u32(&lanes)
}

/// The `C`-channel pixels at `x..x + n` (n ≤ 8) of a row's `pixels`: the bytes as read, which
/// [`store_pixels`] needs back, and one pixel per 32-bit lane (R in the low byte, then G, B and, with 4
/// channels, alpha).
///
/// With `AT_ONCE`, 32 bytes (4 channels) or two overlapping 16 (3 channels: pixels 0–3 at x, 4–7 at x + 4,
/// which reads up to pixel 9) are loaded and spread to one pixel per lane by a byte shuffle; otherwise (near
/// the row's end), one pixel at a time.
///
/// # Safety
/// With `AT_ONCE`, n is 8 and `pixels` must hold the [`room`] bytes at pixel x (read unchecked).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_pixels<const C: usize, const AT_ONCE: bool>(pixels: &[u8], x: usize, n: usize) -> (__m256i, __m256i) {
    if AT_ONCE {
        debug_assert!(x * C + room(C) <= pixels.len());
        // SAFETY: the caller's: `room` bytes at x, 32, or 28 read as the 16 at 0 and the 16 at 12.
        let raw = unsafe {
            let p = pixels.as_ptr().add(x * C);
            if C == 4 {
                _mm256_loadu_si256(p.cast())
            } else {
                _mm256_loadu2_m128i(p.add(12).cast(), p.cast())
            }
        };
        let lanes = if C == 4 {
            raw
        } else {
            _mm256_shuffle_epi8(raw, RGB_TO_LANES.get())
        };
        return (raw, lanes);
    }
    let mut lanes = [0u32; 8];
    for (l, px) in lanes.iter_mut().zip(pixels[x * C..(x + n) * C].chunks_exact(C)) {
        *l = u32::from_le_bytes([px[0], px[1], px[2], 0]);
    }
    (_mm256_setzero_si256(), load_u32(&lanes))
}

/// Writes `lanes`, one pixel each as [`load_pixels`] gives them (the alpha kept from `raw`), over the pixels
/// it read as `raw`.
///
/// # Safety
/// As [`load_pixels`]: with `AT_ONCE`, `pixels` must hold the [`room`] bytes at pixel x (written unchecked).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_pixels<const C: usize, const AT_ONCE: bool>(
    pixels: &mut [u8],
    x: usize,
    n: usize,
    raw: __m256i,
    lanes: __m256i,
) {
    if !AT_ONCE {
        for (l, px) in to_array_u32(lanes)
            .iter()
            .zip(pixels[x * C..(x + n) * C].chunks_exact_mut(C))
        {
            px[..3].copy_from_slice(&l.to_le_bytes()[..3]);
        }
        return;
    }
    debug_assert!(x * C + room(C) <= pixels.len());
    // SAFETY (both): the caller's.
    let p = unsafe { pixels.as_mut_ptr().add(x * C) };
    if C == 4 {
        let alpha = _mm256_and_si256(raw, _mm256_set1_epi32(0xff00_0000u32 as i32));
        unsafe { _mm256_storeu_si256(p.cast(), _mm256_or_si256(lanes, alpha)) };
    } else {
        // Each half's four pixels back to 12 bytes; its last four bytes as read (pixels 8–9 in the high half;
        // in the low half pixels 4–5, which the high half's store then writes).
        let bytes = _mm256_shuffle_epi8(lanes, LANES_TO_RGB.get());
        let bytes = _mm256_blendv_epi8(bytes, raw, _mm256_setr_epi32(0, 0, 0, -1, 0, 0, 0, -1));
        unsafe {
            _mm_storeu_si128(p.cast(), _mm256_castsi256_si128(bytes));
            _mm_storeu_si128(p.add(12).cast(), _mm256_extracti128_si256::<1>(bytes));
        }
    }
}

/// The bytes [`load_pixels`] reads at once: eight pixels, or with 3 channels two overlapping 16 (28 bytes).
#[inline]
fn room(channels: usize) -> usize {
    if channels == 4 {
        32
    } else {
        28
    }
}

/// Whether a row `w` pixels wide holds the [`room`] bytes at column `x` (and with them the eight levels
/// [`load_levels`] reads).
#[inline]
fn has_room(w: usize, x: usize, channels: usize) -> bool {
    x * channels + room(channels) <= w * channels
}

/// A byte shuffle, the same in both halves of a register.
struct Shuffle([i8; 16]);

impl Shuffle {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn get(&self) -> __m256i {
        let p = self.0.as_ptr().cast();
        // SAFETY: 16 bytes, read twice.
        unsafe { _mm256_loadu2_m128i(p, p) }
    }
}

const Z: i8 = -128;
/// Each half's 12 bytes of four RGB pixels to one pixel per 32-bit lane, the top byte 0.
const RGB_TO_LANES: Shuffle = Shuffle([0, 1, 2, Z, 3, 4, 5, Z, 6, 7, 8, Z, 9, 10, 11, Z]);
/// The inverse: each half's four pixels to its first 12 bytes.
const LANES_TO_RGB: Shuffle = Shuffle([0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, Z, Z, Z, Z]);

/// 32 f32 values, read by lane index with four eight-entry permutes. The permutes read the values from
/// memory (where the profile's table is), rather than each impression copying them to the stack: there are
/// more of them than registers.
struct Table32<'a>(&'a [f32; 32]);

impl Table32<'_> {
    /// The value at each lane's index (0–31; any other reads some entry).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn get(&self, i: __m256i) -> __m256 {
        let v = self.0.as_ptr();
        // SAFETY: 32 values, read as four eight.
        let [a, b, c, d] = unsafe {
            [
                _mm256_loadu_ps(v),
                _mm256_loadu_ps(v.add(8)),
                _mm256_loadu_ps(v.add(16)),
                _mm256_loadu_ps(v.add(24)),
            ]
        };
        // (Written out rather than mapped: a closure would not inherit the target features.)
        let a = _mm256_permutevar8x32_ps(a, i);
        let b = _mm256_permutevar8x32_ps(b, i);
        let c = _mm256_permutevar8x32_ps(c, i);
        let d = _mm256_permutevar8x32_ps(d, i);
        // Index bits 3 and 4 moved to the sign bit, which is what blendv reads.
        let bit3 = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(i));
        let bit4 = _mm256_castsi256_ps(_mm256_slli_epi32::<27>(i));
        _mm256_blendv_ps(_mm256_blendv_ps(a, b, bit3), _mm256_blendv_ps(c, d, bit3), bit4)
    }
}

/// A [`pieces::Pieces`], read by lane.
struct Pieces<'a> {
    c0: Table32<'a>,
    c1: Table32<'a>,
    c2: Table32<'a>,
}

impl<'a> Pieces<'a> {
    fn new(p: &'a pieces::Pieces) -> Self {
        Pieces {
            c0: Table32(&p.c0),
            c1: Table32(&p.c1),
            c2: Table32(&p.c2),
        }
    }

    /// The pieces at `u` (≥ 0): i = min(⌊u⌋, 31), f = u − i, c0 + f·(c1 + f·c2), as [`pieces::Pieces::at`].
    #[inline]
    #[target_feature(enable = "avx2")]
    fn at(&self, u: __m256) -> __m256 {
        let i = _mm256_min_epi32(_mm256_cvttps_epi32(u), _mm256_set1_epi32(31));
        let f = _mm256_sub_ps(u, _mm256_cvtepi32_ps(i));
        let inner = _mm256_add_ps(self.c1.get(i), _mm256_mul_ps(f, self.c2.get(i)));
        _mm256_add_ps(self.c0.get(i), _mm256_mul_ps(f, inner))
    }
}

#[inline]
#[target_feature(enable = "avx2")]
fn load_u32(a: &[u32; 8]) -> __m256i {
    // SAFETY: 8 values.
    unsafe { _mm256_loadu_si256(a.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn to_array_u32(v: __m256i) -> [u32; 8] {
    let mut a = [0u32; 8];
    // SAFETY: 8 values.
    unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), v) };
    a
}

#[inline]
#[target_feature(enable = "avx2")]
fn to_array_f32(v: __m256) -> [f32; 8] {
    let mut a = [0f32; 8];
    // SAFETY: 8 values.
    unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) };
    a
}
