//! Preparing impressions sixteen at a time: [`Prepared::new`]'s arithmetic, one step over all sixteen before
//! the next, so that the compiler turns each step into vector instructions.
//!
//! Why: an impression's preparation is about a dozen divisions, square roots and roundings, each waiting on
//! its unit one impression at a time; over sixteen lanes each is one or two vector instructions. Preparing
//! took a quarter of single-thread stamping. The steps are the same IEEE operations on the same values in the
//! same order (Rust never fuses a multiply and an add by itself, and vector division, square root and
//! rounding are exact as their scalar forms), so every lane is bit for bit what [`Prepared::new`] gives; a
//! test compares them. Between them, the sine and cosine (libm) and the profile row run lane by lane, and
//! the reach's six-step binary search over each lane's row becomes vector gathers. Each impression is also
//! checked to be drawable here, so that stamping reads the list once.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use super::{pixel_box, Prepared};
use crate::place::Impression;
use crate::splat::{cover_rows, row_index, CoverRow, MAX_RHO};

/// Impressions per batch.
const LANES: usize = 16;

/// The linear shade of every possible [`Impression::shade`] index.
pub(super) type ShadeTable = [[f32; 3]; 256];

/// Prepares `impressions` into `out` (as long), in order: what [`Prepared::new`] gives for each. Returns them,
/// and whether every one is [drawable](Impression::is_drawable) (if not, some records are meaningless).
pub(super) fn prepare_into<'a>(
    impressions: &[Impression],
    out: &'a mut [MaybeUninit<Prepared>],
    blur: f32,
    shades: &ShadeTable,
    invisible: f32,
) -> (&'a [Prepared], bool) {
    static WIDEST: OnceLock<Batch> = OnceLock::new();
    let batch = *WIDEST.get_or_init(|| *batches().last().expect("the plain batch at least"));
    let drawable = prepare_with(batch, impressions, out, blur, shades, invisible);
    // SAFETY: `prepare_with` wrote every slot (its batches and the remainder cover `out`, which is as long as
    // `impressions`), and MaybeUninit<T> has T's layout.
    (
        unsafe { &*(out as *const [MaybeUninit<Prepared>] as *const [Prepared]) },
        drawable,
    )
}

/// [`prepare_into`] with the given batch function (the tests try each); whether all were drawable.
fn prepare_with(
    batch: Batch,
    impressions: &[Impression],
    out: &mut [MaybeUninit<Prepared>],
    blur: f32,
    shades: &ShadeTable,
    invisible: f32,
) -> bool {
    assert_eq!(impressions.len(), out.len(), "a slot for each impression");
    let mut drawable = true;
    let mut slots = out.chunks_exact_mut(LANES);
    let mut batches = impressions.chunks_exact(LANES);
    for (chunk, slots) in (&mut batches).zip(&mut slots) {
        let chunk: &[Impression; LANES] = chunk.try_into().expect("chunks_exact");
        drawable &= batch(chunk, slots.try_into().expect("chunks_exact"), blur, shades, invisible);
    }
    for (slot, imp) in slots.into_remainder().iter_mut().zip(batches.remainder()) {
        drawable &= imp.is_drawable();
        slot.write(Prepared::new(imp, blur, shades[imp.shade as usize], invisible));
    }
    drawable
}

/// A batch's preparation: sixteen impressions into their slots, given the blur, the shades and the invisible
/// darkening; whether all sixteen are drawable.
type Batch = fn(&[Impression; LANES], &mut Slots, f32, &ShadeTable, f32) -> bool;

/// Where a batch's prepared impressions go.
type Slots = [MaybeUninit<Prepared>; LANES];

/// The batch compiled for each vector width the CPU has, narrowest first (each gives the same values).
fn batches() -> Vec<Batch> {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut batches: Vec<Batch> = vec![batch];
    #[cfg(target_arch = "x86_64")]
    {
        // Within `SMPSIM_SIMD`, so that a capped run prepares as a CPU without the wider vectors would.
        if is_x86_feature_detected!("avx2") && super::Kernel::Avx2.allowed() {
            // SAFETY (both): the CPU has the features the function is compiled for.
            batches
                .push(|imps, out, blur, shades, invisible| unsafe { batch_avx2(imps, out, blur, shades, invisible) });
        }
        if is_x86_feature_detected!("avx512f") && super::Kernel::Avx512.allowed() {
            batches
                .push(|imps, out, blur, shades, invisible| unsafe { batch_avx512(imps, out, blur, shades, invisible) });
        }
    }
    batches
}

/// # Safety
/// The CPU must have AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn batch_avx512(
    imps: &[Impression; LANES],
    out: &mut Slots,
    blur: f32,
    shades: &ShadeTable,
    invisible: f32,
) -> bool {
    batch(imps, out, blur, shades, invisible)
}

/// # Safety
/// The CPU must have AVX2 (and so SSE4.1's rounding).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn batch_avx2(
    imps: &[Impression; LANES],
    out: &mut Slots,
    blur: f32,
    shades: &ShadeTable,
    invisible: f32,
) -> bool {
    batch(imps, out, blur, shades, invisible)
}

/// [`Prepared::new`] for sixteen impressions, step by step; see it for what each step means. (Loops rather
/// than `array::from_fn`, which is not inlined and so would not be compiled for the caller's vectors.)
#[inline(always)]
fn batch(imps: &[Impression; LANES], out: &mut Slots, blur: f32, shades: &ShadeTable, invisible: f32) -> bool {
    let a = lanes(|i| imps[i].radius_major.max(1e-3));
    let b = lanes(|i| imps[i].radius_minor.max(1e-3));
    let r = lanes(|i| (a[i] * b[i]).sqrt());
    let sigma = lanes(|i| blur.max(r[i] / MAX_RHO));
    let rho = lanes(|i| r[i] / sigma[i]);
    let rows = cover_rows();
    let mut cover: [&'static CoverRow; LANES] = [&rows[0]; LANES];
    let (mut s, mut c) = ([0.0; LANES], [0.0; LANES]);
    for i in 0..LANES {
        cover[i] = &rows[row_index(rho[i])];
        (s[i], c[i]) = imps[i].angle.sin_cos();
    }
    let scale = lanes(|i| cover[i].segments_per_q / (sigma[i] * sigma[i]));
    let ka = lanes(|i| (b[i] / a[i]) * scale[i]);
    let kb = lanes(|i| (a[i] / b[i]) * scale[i]);
    let qa = lanes(|i| ka[i] * c[i] * c[i] + kb[i] * s[i] * s[i]);
    let qb = lanes(|i| 2.0 * (ka[i] - kb[i]) * c[i] * s[i]);
    let qc = lanes(|i| ka[i] * s[i] * s[i] + kb[i] * c[i] * c[i]);
    let absorb_of = |ch: usize| {
        lanes(|i| {
            let pigment = (shades[imps[i].shade as usize][ch] * imps[i].tone).min(1.0);
            imps[i].opacity * (1.0 - pigment)
        })
    };
    let absorb = [absorb_of(0), absorb_of(1), absorb_of(2)];
    let min_cover = lanes(|i| invisible / invisible.max(absorb[0][i]).max(absorb[1][i]).max(absorb[2][i]));
    let mut reach = [0.0; LANES];
    for i in 0..LANES {
        reach[i] = cover[i].reach(min_cover[i]);
    }
    let det = lanes(|i| ka[i] * kb[i]);
    let half_h = lanes(|i| (reach[i] * qa[i] / det[i]).sqrt());
    let half_w = lanes(|i| (reach[i] * qc[i] / det[i]).sqrt());
    let mut boxes = [[0u32; 4]; LANES];
    for i in 0..LANES {
        boxes[i] = pixel_box(imps[i].x, imps[i].y, half_w[i], half_h[i]);
    }
    for (i, slot) in out.iter_mut().enumerate() {
        let [top, bottom, left, right] = boxes[i];
        slot.write(Prepared {
            cx: imps[i].x,
            cy: imps[i].y,
            qa: qa[i],
            qb: qb[i],
            qc: qc[i],
            reach: reach[i],
            cover: cover[i],
            absorb: [absorb[0][i], absorb[1][i], absorb[2][i]],
            min_cover: min_cover[i],
            top,
            bottom,
            left,
            right,
        });
    }
    let mut drawable = true;
    for imp in imps {
        drawable &= imp.is_drawable();
    }
    drawable
}

/// The sixteen values `f` gives for lanes 0–15: a loop the compiler vectorizes.
#[inline(always)]
fn lanes(f: impl Fn(usize) -> f32) -> [f32; LANES] {
    let mut out = [0.0; LANES];
    for (i, v) in out.iter_mut().enumerate() {
        *v = f(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of a prepared impression as bits (the profile row by address).
    fn bits(p: &Prepared) -> Vec<u64> {
        let floats = [
            p.cx,
            p.cy,
            p.qa,
            p.qb,
            p.qc,
            p.reach,
            p.min_cover,
            p.absorb[0],
            p.absorb[1],
            p.absorb[2],
        ];
        let mut bits: Vec<u64> = floats.iter().map(|v| v.to_bits() as u64).collect();
        bits.extend([p.top, p.bottom, p.left, p.right].map(u64::from));
        bits.push(p.cover as *const CoverRow as u64);
        bits
    }

    #[test]
    fn batches_tell_whether_every_impression_is_drawable() {
        let good = Impression {
            x: 10.0,
            y: 10.0,
            radius_major: 2.0,
            radius_minor: 1.5,
            angle: 0.3,
            opacity: 0.8,
            tone: 1.0,
            rank: 0.0,
            threshold: 1.0,
            session: 1,
            shade: 0,
        };
        let shades: ShadeTable = [[0.02; 3]; 256];
        // A bad one inside a batch of sixteen and one among the last few, which go one at a time.
        for at in [0, 5, 15, 16 * 3 + 2] {
            for bad in [
                Impression { y: f32::NAN, ..good },
                Impression {
                    tone: f32::INFINITY,
                    ..good
                },
                Impression { opacity: -0.1, ..good },
            ] {
                let mut imps = vec![good; 16 * 3 + 5];
                imps[at] = bad;
                for (k, &batch) in batches().iter().enumerate() {
                    let mut out: Vec<Prepared> = Vec::with_capacity(imps.len());
                    let slots = &mut out.spare_capacity_mut()[..imps.len()];
                    assert!(
                        !prepare_with(batch, &imps, slots, 0.5, &shades, 0.002),
                        "batch {k}, bad at {at}"
                    );
                    imps[at] = good;
                    let slots = &mut out.spare_capacity_mut()[..imps.len()];
                    assert!(
                        prepare_with(batch, &imps, slots, 0.5, &shades, 0.002),
                        "batch {k}, all good"
                    );
                    imps[at] = bad;
                }
            }
        }
    }

    #[test]
    fn batches_prepare_bit_for_bit_what_one_at_a_time_does() {
        // Scattered impressions with the edge cases mixed in: radii below the floor, discs wider than the
        // profile table, off-image and negative positions, opacity 0 and 1, tones above 1, shade indices
        // past the mix; 16 × 40 + 7, so that the last few go one at a time.
        let imps: Vec<Impression> = (0..16 * 40 + 7)
            .map(|i| {
                let (u, v) = ((i as f32 * 0.618_034).fract(), (i as f32 * 0.754_878).fract());
                let odd = i % 11;
                Impression {
                    x: if odd == 3 { -40.0 * u } else { 5000.0 * u - 200.0 },
                    y: if odd == 4 { 1e7 * v } else { 3000.0 * v - 100.0 },
                    radius_major: if odd == 5 {
                        1e-4
                    } else if odd == 6 {
                        60.0 * u
                    } else {
                        0.5 + 3.0 * v
                    },
                    radius_minor: if odd == 5 { 1e-5 } else { 0.3 + 2.0 * u },
                    angle: 7.0 * u - 3.0,
                    opacity: if odd == 7 {
                        0.0
                    } else if odd == 8 {
                        1.0
                    } else {
                        u
                    },
                    tone: 0.5 + 1.2 * v,
                    rank: 0.0,
                    threshold: 1.0,
                    session: 1,
                    shade: (i % 5) as u8,
                }
            })
            .collect();
        let mut shades: ShadeTable = [[0.02; 3]; 256];
        shades[..3].copy_from_slice(&[[0.01, 0.012, 0.02], [0.3, 0.2, 0.15], [0.9, 0.95, 1.0]]);
        for (blur, invisible) in [(0.4f32, 0.002f32), (2.5, 0.0005)] {
            let want: Vec<Vec<u64>> = imps
                .iter()
                .map(|imp| bits(&Prepared::new(imp, blur, shades[imp.shade as usize], invisible)))
                .collect();
            assert!(
                want.iter().any(|b| b[10] == 0) && want.iter().any(|b| b[11] > 1000),
                "edge cases missing"
            );
            for (k, &batch) in batches().iter().enumerate() {
                let mut out: Vec<Prepared> = Vec::with_capacity(imps.len());
                prepare_with(
                    batch,
                    &imps,
                    &mut out.spare_capacity_mut()[..imps.len()],
                    blur,
                    &shades,
                    invisible,
                );
                // SAFETY: `prepare_with` wrote every slot.
                unsafe { out.set_len(imps.len()) };
                for (i, (p, want)) in out.iter().zip(&want).enumerate() {
                    assert_eq!(&bits(p), want, "batch {k}, impression {i}, blur {blur}");
                }
            }
        }
    }
}
