//! The 8-bit stamping kernel for AVX-512: two rows of eight pixels of one impression at a time.
//!
//! Lane for lane it is the scalar kernel (`stamp_scalar` with [`darken_u8`]): the same operations on the same
//! f32 values in the same order (no fused multiply-adds), with the profile's and the power's 32 quadratic
//! pieces held in registers and read by two-register permutes. The few lanes that need one of the scalar
//! code's other branches — a highlight's veil (a table look-up), sRGB's linear segment or a darkening past
//! the power table — are handed to it. So both kernels give the same bytes (a test in `stamp.rs` compares).
//!
//! Why: the scalar kernel spends ~80 instructions per pixel on look-ups and bookkeeping; here two rows of an
//! impression (about 6 pixels wide at photo scale) are one pass of about 100 vector instructions, and there
//! are no gathers (microcoded and slow on the CPUs that have AVX-512).

use std::arch::x86_64::*;
use std::ops::Range;

use super::{prefetch_band_below, prefetch_record, Prepared, U8Tables, RECORD_LOOKAHEAD};
use crate::colour::{darken_u8, DARK_MAX, KNEE, OFFSET, POWER_END, POWER_OCTAVES, POWER_POLYNOMIAL};
use crate::field::DensityField;
use crate::pieces;

/// Whether this CPU has the AVX-512 subsets the kernel uses (byte permutes are AVX-512 VBMI).
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vbmi")
}

/// Darkens the pixels of `band` (image rows `rows`, `channels` = 3 or 4 interleaved) under each of
/// `impressions` in turn: what `stamp_scalar` does, sixteen pixels (two rows of eight) at a time.
///
/// # Safety
/// The CPU must have the features [`available`] checks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
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
    let shared = Shared::new(t, channels);
    let mut ahead = impressions.clone().skip(RECORD_LOOKAHEAD);
    for p in impressions {
        prefetch_record(ahead.next());
        impression(band, &shared, field, rows.clone(), p);
    }
}

/// Stamps one impression. Every row spans the ellipse's box (lanes are cheap, and each pixel's own u decides
/// as in the scalar kernel, which covers what the scalar kernel's row-by-row spans cover without solving each
/// row), two rows and eight columns to a register.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn impression(band: &mut [u8], shared: &Shared, field: &DensityField, rows: Range<usize>, p: &Prepared) {
    let (w, top) = (field.width() as usize, rows.start);
    let columns = p.columns(w);
    if columns.is_empty() {
        return;
    }
    let kernel = Kernel::new(p, shared);
    let dx0 = _mm512_set1_ps(columns.start as f32 + 0.5 - p.cx);
    let stride = w * shared.channels;
    let mut ys = p.rows(rows);
    while let Some(y) = ys.next() {
        let next = ys.next();
        let first = band.as_mut_ptr().add((y - top) * stride);
        let levels = field.row(y as u32).as_ptr();
        // With an odd number of rows the last register has one; its second half reads and writes nothing.
        let (second, second_levels, second_terms) = match next {
            Some(y2) => (
                first.add((y2 - y) * stride),
                field.row(y2 as u32).as_ptr(),
                p.row_terms(y2),
            ),
            None => (first, levels, (0.0, 0.0)),
        };
        let terms = [p.row_terms(y), second_terms];
        prefetch_band_below(first, levels, &columns, shared.channels, w);
        prefetch_band_below(second, second_levels, &columns, shared.channels, w);
        for offset in (0..columns.len()).step_by(8) {
            // SAFETY: rows y and y2 are different rows of the band and of the field, each `w` pixels long,
            // and columns.end ≤ w.
            kernel.pair(
                [first, second],
                [levels, second_levels],
                columns.start + offset,
                (columns.len() - offset).min(8),
                _mm512_add_ps(dx0, _mm512_set1_ps(offset as f32)),
                terms,
                next.is_some(),
            );
        }
    }
}

/// How two rows of eight interleaved pixels (the second row's bytes from byte 32) become channel values in
/// 32-bit lanes (lanes 0–7 the first row, 8–15 the second) and back, for 3 and 4 channels. Byte permutes
/// (AVX-512 VBMI) do it in a step per channel each way: one lane of port 5 per step, which the shuffles and
/// conversions they replace needed two or three of.
struct Layout {
    /// Per channel: the byte to put in the low byte of each lane (the other bytes are zeroed: [`LOW_BYTES`]).
    to_lanes: [[u8; 64]; 3],
    /// For each pixel byte, the byte of the red (0–63) or green (64–127) lanes it comes from.
    from_red_green: [u8; 64],
    /// For the blue bytes ([`Layout::blue`]), the byte of the blue lanes.
    from_blue: [u8; 64],
    /// The blue bytes.
    blue: u64,
    /// The bytes kept as they were: alpha.
    alpha: u64,
}

/// The low byte of each 32-bit lane.
const LOW_BYTES: u64 = 0x1111_1111_1111_1111;

static LAYOUTS: [Layout; 2] = [layout(3), layout(4)];

const fn layout(channels: usize) -> Layout {
    let mut l = Layout {
        to_lanes: [[0; 64]; 3],
        from_red_green: [0; 64],
        from_blue: [0; 64],
        blue: 0,
        alpha: 0,
    };
    let mut lane = 0;
    while lane < 16 {
        let mut channel = 0;
        while channel < 3 {
            l.to_lanes[channel][4 * lane] = ((lane / 8) * 32 + (lane % 8) * channels + channel) as u8;
            channel += 1;
        }
        lane += 1;
    }
    let mut b = 0;
    while b < 64 {
        let (half, within) = (b / 32, b % 32);
        if within < 8 * channels {
            let lane = half * 8 + within / channels;
            match within % channels {
                0 => l.from_red_green[b] = (4 * lane) as u8,
                1 => l.from_red_green[b] = (64 + 4 * lane) as u8,
                2 => {
                    l.from_blue[b] = (4 * lane) as u8;
                    l.blue |= 1 << b;
                }
                _ => l.alpha |= 1 << b,
            }
        }
        b += 1;
    }
    l
}

/// 32 f32 values in two registers, read by lane index.
#[derive(Clone, Copy)]
struct Table32 {
    lo: __m512,
    hi: __m512,
}

impl Table32 {
    #[target_feature(enable = "avx512f")]
    fn load(values: &[f32; 32]) -> Self {
        // SAFETY: 32 values are there to read.
        unsafe {
            Table32 {
                lo: _mm512_loadu_ps(values.as_ptr()),
                hi: _mm512_loadu_ps(values.as_ptr().add(16)),
            }
        }
    }

    /// The value at each lane's index (its low five bits).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn get(self, i: __m512i) -> __m512 {
        _mm512_permutex2var_ps(self.lo, i, self.hi)
    }
}

/// A [`pieces::Pieces`] in registers.
struct Pieces {
    c0: Table32,
    c1: Table32,
    c2: Table32,
}

impl Pieces {
    #[target_feature(enable = "avx512f")]
    fn load(p: &pieces::Pieces) -> Self {
        Pieces {
            c0: Table32::load(&p.c0),
            c1: Table32::load(&p.c1),
            c2: Table32::load(&p.c2),
        }
    }

    /// The pieces at `u` (≥ 0): i = min(⌊u⌋, 31), f = u − i, c0 + f·(c1 + f·c2), as [`pieces::Pieces::at`].
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn at(&self, u: __m512) -> __m512 {
        let i = _mm512_min_epi32(_mm512_cvttps_epi32(u), _mm512_set1_epi32(31));
        let f = _mm512_sub_ps(u, _mm512_cvtepi32_ps(i));
        let inner = _mm512_add_ps(self.c1.get(i), _mm512_mul_ps(f, self.c2.get(i)));
        _mm512_add_ps(self.c0.get(i), _mm512_mul_ps(f, inner))
    }
}

/// What every impression of a band shares: the power's octaves and the byte permutes, in registers.
struct Shared<'t> {
    octaves: __m512,
    channels: usize,
    to_lanes: [__m512i; 3],
    from_red_green: __m512i,
    from_blue: __m512i,
    blue: __mmask64,
    alpha: __mmask64,
    t: &'t U8Tables,
}

impl<'t> Shared<'t> {
    #[target_feature(enable = "avx512f")]
    fn new(t: &'t U8Tables, channels: usize) -> Self {
        let layout = &LAYOUTS[(channels == 4) as usize];
        Shared {
            // Indices 8–15 (zero here) are never used: those lanes are past `POWER_END`, handed to `darken_u8`.
            // SAFETY: 8 values.
            octaves: _mm512_zextps256_ps512(unsafe { _mm256_loadu_ps(POWER_OCTAVES.as_ptr()) }),
            channels,
            to_lanes: [
                load_bytes(&layout.to_lanes[0]),
                load_bytes(&layout.to_lanes[1]),
                load_bytes(&layout.to_lanes[2]),
            ],
            from_red_green: load_bytes(&layout.from_red_green),
            from_blue: load_bytes(&layout.from_blue),
            blue: layout.blue,
            alpha: layout.alpha,
            t,
        }
    }
}

/// One impression's constants in registers.
struct Kernel<'s, 't> {
    shared: &'s Shared<'t>,
    cover: Pieces,
    qa: __m512,
    reach: __m512,
    min_cover: __m512,
    absorb: [__m512; 3],
}

impl<'s, 't> Kernel<'s, 't> {
    #[target_feature(enable = "avx512f")]
    fn new(p: &Prepared, shared: &'s Shared<'t>) -> Self {
        Kernel {
            shared,
            cover: Pieces::load(&p.cover.pieces),
            qa: _mm512_set1_ps(p.qa),
            reach: _mm512_set1_ps(p.reach),
            min_cover: _mm512_set1_ps(p.min_cover),
            absorb: [
                _mm512_set1_ps(p.absorb[0]),
                _mm512_set1_ps(p.absorb[1]),
                _mm512_set1_ps(p.absorb[2]),
            ],
        }
    }

    /// Pixels `x..x + n` (n ≤ 8) of two rows at once (`rows[1]` only if `both`), pixel row pointers and level
    /// row pointers given, each row's u terms (qxy, qy) in `terms`; `dx` is pixel x's offset from the centre
    /// (in every lane, as the scalar kernel's dx0 + i: exact small integers apart).
    ///
    /// # Safety
    /// The pointers must be rows of the band and the field, at least x + n pixels long.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
    unsafe fn pair(
        &self,
        rows: [*mut u8; 2],
        levels: [*const u8; 2],
        x: usize,
        n: usize,
        dx: __m512,
        terms: [(f32, f32); 2],
        both: bool,
    ) {
        let eight = ((1u32 << n) - 1) as __mmask16;
        let lanes = if both { eight | eight << 8 } else { eight };
        let iota = _mm512_setr_ps(0., 1., 2., 3., 4., 5., 6., 7., 0., 1., 2., 3., 4., 5., 6., 7.);
        let dx = _mm512_add_ps(dx, iota);
        let qxy = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(terms[0].0), _mm512_set1_ps(terms[1].0));
        let qy = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(terms[0].1), _mm512_set1_ps(terms[1].1));
        // (Loads written out: closures would not inherit the target features.)
        let first_levels = _mm_maskz_loadu_epi8(eight, levels[0].add(x).cast());
        let second_levels = if both {
            _mm_maskz_loadu_epi8(eight, levels[1].add(x).cast())
        } else {
            _mm_setzero_si128()
        };
        let levels = _mm_unpacklo_epi64(first_levels, second_levels);
        let Some((cover, ok)) = self.cover(dx, qxy, qy, lanes, levels) else {
            return;
        };
        let c = self.shared.channels;
        let bytes = ((1u64 << (n * c)) - 1) as __mmask32;
        let first = _mm256_maskz_loadu_epi8(bytes, rows[0].add(x * c).cast());
        let second = if both {
            _mm256_maskz_loadu_epi8(bytes, rows[1].add(x * c).cast())
        } else {
            _mm256_setzero_si256()
        };
        let raw = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(first), second);
        let to_lanes = &self.shared.to_lanes;
        let rgb = [
            _mm512_maskz_permutexvar_epi8(LOW_BYTES, to_lanes[0], raw),
            _mm512_maskz_permutexvar_epi8(LOW_BYTES, to_lanes[1], raw),
            _mm512_maskz_permutexvar_epi8(LOW_BYTES, to_lanes[2], raw),
        ];
        let [red, green, blue] = self.shade(rgb, cover, ok);
        let red_green = _mm512_permutex2var_epi8(red, self.shared.from_red_green, green);
        let out = _mm512_mask_permutexvar_epi8(red_green, self.shared.blue, self.shared.from_blue, blue);
        let out = _mm512_mask_mov_epi8(out, self.shared.alpha, raw);
        _mm256_mask_storeu_epi8(rows[0].add(x * c).cast(), bytes, _mm512_castsi512_si256(out));
        if both {
            _mm256_mask_storeu_epi8(rows[1].add(x * c).cast(), bytes, _mm512_extracti64x4_epi64::<1>(out));
        }
    }

    /// The coverage of the lanes at offsets `dx` on rows with terms `qxy`, `qy`, and the lanes it darkens: in
    /// `lanes`, with a non-zero level (`levels`, a byte per lane), inside the impression and not too faint.
    /// `None` if there are none.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    fn cover(
        &self,
        dx: __m512,
        qxy: __m512,
        qy: __m512,
        lanes: __mmask16,
        levels: __m128i,
    ) -> Option<(__m512, __mmask16)> {
        let u = _mm512_add_ps(_mm512_mul_ps(_mm512_add_ps(_mm512_mul_ps(self.qa, dx), qxy), dx), qy);
        let u = _mm512_max_ps(u, _mm512_setzero_ps());
        let inside = _mm512_mask_cmp_ps_mask::<_CMP_LT_OQ>(lanes, u, self.reach);
        let inside = _mm_mask_test_epi8_mask(inside, levels, levels);
        if inside == 0 {
            return None;
        }
        let cover = self.cover.at(u);
        let ok = _mm512_mask_cmp_ps_mask::<_CMP_GE_OQ>(inside, cover, self.min_cover);
        (ok != 0).then_some((cover, ok))
    }

    /// The channel values `rgb` (one per lane) darkened under `cover` in the lanes `ok`, as they were in the
    /// others.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    fn shade(&self, rgb: [__m512i; 3], cover: __m512, ok: __mmask16) -> [__m512i; 3] {
        // The highlight's veil, from the scalar table, for the lanes bright enough to have one.
        let weakest = _mm512_min_epu32(_mm512_min_epu32(rgb[0], rgb[1]), rgb[2]);
        let bright = _mm512_mask_cmpge_epu32_mask(ok, weakest, _mm512_set1_epi32(self.shared.t.veiled_from as i32));
        let mut k = cover;
        if bright != 0 {
            let weakest = to_array_u32(weakest);
            let mut veil = [1.0f32; 16];
            for lane in (0..16).filter(|lane| bright >> lane & 1 == 1) {
                veil[lane] = self.shared.t.unveiled[weakest[lane] as usize & 255];
            }
            // SAFETY: 16 values.
            k = _mm512_mul_ps(cover, unsafe { _mm512_loadu_ps(veil.as_ptr()) });
        }
        // (Written out rather than mapped: a closure would not inherit the target features, nor be inlined.)
        let x = [
            _mm512_mul_ps(k, self.absorb[0]),
            _mm512_mul_ps(k, self.absorb[1]),
            _mm512_mul_ps(k, self.absorb[2]),
        ];
        let (out_r, s_r) = self.darken(rgb[0], x[0]);
        let (out_g, s_g) = self.darken(rgb[1], x[1]);
        let (out_b, s_b) = self.darken(rgb[2], x[2]);
        let mut out = [out_r, out_g, out_b];
        // Lanes where any channel needs another branch of `darken_u8`: past the power table, or the value or
        // the result on sRGB's linear segment. All three channels of those lanes go through it (for the
        // others it gives what was computed here).
        let slow = _mm512_mask_cmp_ps_mask::<_CMP_GE_OQ>(
            ok,
            _mm512_max_ps(_mm512_max_ps(x[0], x[1]), x[2]),
            _mm512_set1_ps(POWER_END),
        ) | _mm512_mask_cmple_epu32_mask(ok, weakest, _mm512_set1_epi32(DARK_MAX as i32))
            | _mm512_mask_cmp_ps_mask::<_CMP_LT_OQ>(
                ok,
                _mm512_min_ps(_mm512_min_ps(s_r, s_g), s_b),
                _mm512_set1_ps(KNEE),
            );
        if slow != 0 {
            let t = self.shared.t;
            for ch in 0..3 {
                let (vs, xs, mut outs) = (to_array_u32(rgb[ch]), to_array_f32(x[ch]), to_array_u32(out[ch]));
                for lane in (0..16).filter(|lane| slow >> lane & 1 == 1) {
                    outs[lane] = darken_u8(vs[lane] as u8, xs[lane], t.decode) as u32;
                }
                // SAFETY: 16 values.
                out[ch] = unsafe { _mm512_loadu_si512(outs.as_ptr().cast()) };
            }
        }
        [
            _mm512_mask_blend_epi32(ok, rgb[0], out[0]),
            _mm512_mask_blend_epi32(ok, rgb[1], out[1]),
            _mm512_mask_blend_epi32(ok, rgb[2], out[2]),
        ]
    }

    /// [`crate::colour::transmittance_power`] in every lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn power(&self, x: __m512) -> __m512 {
        let bits = _mm512_castps_si512(_mm512_sub_ps(_mm512_set1_ps(1.0), x));
        let octave = _mm512_sub_epi32(_mm512_set1_epi32(127), _mm512_srli_epi32::<23>(bits));
        let mantissa = _mm512_and_si512(bits, _mm512_set1_epi32(0x007F_FFFF));
        let t = _mm512_sub_ps(
            _mm512_castsi512_ps(_mm512_or_si512(mantissa, _mm512_set1_epi32(0x3F80_0000))),
            _mm512_set1_ps(1.0),
        );
        // Horner's rule, 1 + t·(c₁ + t·(c₂ + t·c₃)), in the scalar order.
        let c = POWER_POLYNOMIAL;
        let p = _mm512_add_ps(_mm512_set1_ps(c[1]), _mm512_mul_ps(t, _mm512_set1_ps(c[2])));
        let p = _mm512_add_ps(_mm512_set1_ps(c[0]), _mm512_mul_ps(t, p));
        let p = _mm512_add_ps(_mm512_set1_ps(1.0), _mm512_mul_ps(t, p));
        _mm512_mul_ps(_mm512_permutexvar_ps(octave, self.shared.octaves), p)
    }

    /// `darken_u8(v, x)` on its power segment for every lane, never lighter than `v`, and the unrounded
    /// result there (which says whether the lane belongs on the linear segment instead).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn darken(&self, v: __m512i, x: __m512) -> (__m512i, __m512) {
        let g = self.power(x);
        let offset = _mm512_set1_ps(OFFSET);
        let s = _mm512_sub_ps(_mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(v), offset), g), offset);
        // Nearest, ties to even, as `round_small`; never lighter.
        (_mm512_min_epi32(_mm512_cvtps_epi32(s), v), s)
    }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn load_bytes(bytes: &[u8; 64]) -> __m512i {
    // SAFETY: 64 bytes.
    unsafe { _mm512_loadu_si512(bytes.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn to_array_u32(v: __m512i) -> [u32; 16] {
    let mut a = [0u32; 16];
    // SAFETY: 16 values.
    unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), v) };
    a
}

#[inline]
#[target_feature(enable = "avx512f")]
fn to_array_f32(v: __m512) -> [f32; 16] {
    let mut a = [0f32; 16];
    // SAFETY: 16 values.
    unsafe { _mm512_storeu_ps(a.as_mut_ptr(), v) };
    a
}
