//! 32 quadratic pieces: the table form of the impressions' coverage profile (`splat::CoverRow`). Small
//! enough to sit in SIMD registers (one AVX-512 two-register permute per coefficient), and [`Pieces::at`] is
//! what the SIMD stamping kernels do lane for lane.

/// Pieces in a table.
pub const PIECES: usize = 32;

/// A function on [0, 32) in 32 quadratic pieces: at u, with i = ⌊u⌋ and f = u − i, the value is
/// `c0[i] + f·(c1[i] + f·c2[i])`.
#[derive(Debug)]
pub struct Pieces {
    /// Value at the start of each piece.
    pub c0: [f32; PIECES],
    /// Linear term of each piece.
    pub c1: [f32; PIECES],
    /// Quadratic term of each piece.
    pub c2: [f32; PIECES],
}

impl Pieces {
    /// All coefficients zero, to be filled in.
    pub const ZERO: Pieces = Pieces {
        c0: [0.0; PIECES],
        c1: [0.0; PIECES],
        c2: [0.0; PIECES],
    };

    /// The value at `u` (≥ 0; from 32 on, the last piece goes on).
    #[inline]
    pub fn at(&self, u: f32) -> f32 {
        // Truncation is ⌊u⌋ for u ≥ 0 (to i32: the conversion to usize costs twice the instructions); clamped,
        // so the compiler drops the bounds checks.
        let i = (u as i32).clamp(0, PIECES as i32 - 1) as usize;
        let f = u - i as f32;
        self.c0[i] + f * (self.c1[i] + f * self.c2[i])
    }
}
