//! Synthetic consultation photos with known geometry, for the bundled fixture, tests, benchmarks and demos.
//!
//! A head seen from the front and above (tilted about 40°, as clinics photograph the top of the scalp), lit
//! from the upper left, with a shiny bald top, skin texture and pores, a buzz-cut fringe of remaining hair at the
//! sides and back, and a plain backdrop. Geometry is an orthographic sphere, so everything about the photo is
//! known exactly: scale, head outline, where the hair is. Deterministic: the same settings give the same pixels.

use image::{GrayImage, RgbImage};
use rayon::prelude::*;

use crate::colour::{linear_to_srgb, srgb_to_linear};

/// Settings of a synthetic head photo.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticHead {
    /// Image width in pixels. Default: 1600.
    pub width: u32,
    /// Image height in pixels. Default: 1200.
    pub height: u32,
    /// Scale of the head in pixels per mm. Default: 9.
    pub px_per_mm: f32,
    /// Skin colour (sRGB) of the lit scalp. Default: a light-medium skin tone.
    pub skin: [u8; 3],
    /// Colour of the remaining hair (sRGB). Default: dark brown, #2b211c.
    pub hair: [u8; 3],
    /// Seed of the texture noise. Default: 7.
    pub seed: u32,
}

impl Default for SyntheticHead {
    fn default() -> Self {
        SyntheticHead {
            width: 1600,
            height: 1200,
            px_per_mm: 9.0,
            skin: [226, 178, 150],
            hair: [0x2b, 0x21, 0x1c],
            seed: 7,
        }
    }
}

/// Head radius in mm: an adult head is about 150 mm broad.
pub const HEAD_RADIUS_MM: f32 = 75.0;
/// Camera tilt from straight above toward the face, degrees.
const TILT_DEG: f32 = 40.0;

/// What a pixel of the synthetic photo shows.
struct Surface {
    /// Unit normal in camera space (x right, y up, z toward the camera).
    normal: [f32; 3],
    /// Polar angle from the vertex, degrees (0 = top of the head).
    polar: f32,
    /// Azimuth, degrees (0 = the face, ±90 = the ears).
    azimuth: f32,
}

impl SyntheticHead {
    /// Centre of the head outline in pixels.
    pub fn head_centre(&self) -> (f32, f32) {
        (self.width as f32 / 2.0, self.height as f32 * 0.6)
    }

    /// Radius of the head outline in pixels.
    pub fn head_radius_px(&self) -> f32 {
        HEAD_RADIUS_MM * self.px_per_mm
    }

    /// The surface under pixel centre (x, y), or `None` off the head.
    fn surface(&self, x: f32, y: f32) -> Option<Surface> {
        let (cx, cy) = self.head_centre();
        let r = self.head_radius_px();
        let (u, w) = ((x - cx) / r, (y - cy) / r);
        let z2 = 1.0 - u * u - w * w;
        if z2 <= 0.0 {
            return None;
        }
        let normal = [u, -w, z2.sqrt()];
        // Camera axes in head space (x to the head's left as seen, y forward to the face, z up to the vertex).
        let (sb, cb) = TILT_DEG.to_radians().sin_cos();
        let head = [
            -normal[0],
            -normal[1] * cb + normal[2] * sb,
            normal[1] * sb + normal[2] * cb,
        ];
        Some(Surface {
            normal,
            polar: head[2].clamp(-1.0, 1.0).acos().to_degrees(),
            azimuth: head[0].atan2(head[1]).to_degrees(),
        })
    }

    /// Ground truth at pixel centre (x, y), for tests: whether it shows the head, and how much of it (0–1) is
    /// covered by hair strands.
    pub fn truth(&self, x: f32, y: f32) -> (bool, f32) {
        match self.surface(x, y) {
            None => (false, 0.0),
            Some(s) => (true, self.strand_cover(&s, x, y)),
        }
    }

    /// Hair strand coverage at a head pixel.
    fn strand_cover(&self, s: &Surface, x: f32, y: f32) -> f32 {
        let mm = self.px_per_mm;
        let ragged = 3.0 * (value_noise(x / (4.0 * mm), y / (4.0 * mm), self.seed ^ 0x44) - 0.5);
        let into_hair = s.polar - (self.fringe_polar(s.azimuth) + ragged);
        let hair_cover = smoothstep(-2.0, 4.0, into_hair);
        if hair_cover > 0.0 {
            self.stubble(x, y) * hair_cover
        } else {
            0.0
        }
    }

    /// Where a point of the scalp given by polar angle and azimuth (degrees) appears in the photo, if visible.
    pub fn project(&self, polar: f32, azimuth: f32) -> Option<[f32; 2]> {
        let (st, ct) = polar.to_radians().sin_cos();
        let (sa, ca) = azimuth.to_radians().sin_cos();
        let head = [st * sa, st * ca, ct];
        let (sb, cb) = TILT_DEG.to_radians().sin_cos();
        // The camera-from-head rotation is its own inverse (see `surface`).
        let normal = [-head[0], -cb * head[1] + sb * head[2], sb * head[1] + cb * head[2]];
        if normal[2] <= 0.0 {
            return None;
        }
        let (cx, cy) = self.head_centre();
        let r = self.head_radius_px();
        Some([cx + normal[0] * r, cy - normal[1] * r])
    }

    /// The designed front hairline of the fixture's mask, as `n` points in the photo from one temple to the
    /// other (what a clinician would click).
    pub fn hairline_points(&self, n: usize) -> Vec<[f32; 2]> {
        (0..n)
            .filter_map(|k| {
                let azimuth = -70.0 + 140.0 * k as f32 / (n - 1).max(1) as f32;
                self.project(self.hairline_polar(azimuth), azimuth)
            })
            .collect()
    }

    /// Polar angle (degrees) where the remaining hair starts, by azimuth: low at the sides and back (the
    /// horseshoe of advanced hair loss), none on the forehead.
    fn fringe_polar(&self, azimuth: f32) -> f32 {
        let side = (azimuth.abs() / 90.0).min(2.0); // 0 face, 1 ears, 2 back
        if side < 0.55 {
            180.0 // forehead: no hair
        } else {
            62.0 + 30.0 * (0.95 - side).max(0.0) // drops toward the temples
        }
    }

    /// Polar angle (degrees) of the designed front hairline, by azimuth: mid-front lowest, temples recessed.
    fn hairline_polar(&self, azimuth: f32) -> f32 {
        let a = azimuth.to_radians();
        52.0 - 7.0 * (2.0 * a).sin().powi(2) + 10.0 * a.sin().powi(2)
    }

    /// Renders the photo and its treatment mask (white = treat, soft edges).
    pub fn generate(&self) -> (RgbImage, GrayImage) {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut photo = vec![0u8; w * h * 3];
        let mut mask = vec![0u8; w * h];
        let skin = self.skin.map(|v| srgb_to_linear(v as f32 / 255.0));
        let hair = self.hair.map(|v| srgb_to_linear(v as f32 / 255.0));
        photo
            .par_chunks_mut(w * 3)
            .zip(mask.par_chunks_mut(w))
            .enumerate()
            .for_each(|(y, (prow, mrow))| {
                for x in 0..w {
                    let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                    let (rgb, m) = match self.surface(fx, fy) {
                        None => (self.backdrop(fx, fy), 0.0),
                        Some(s) => self.scalp(&s, fx, fy, skin, hair),
                    };
                    for c in 0..3 {
                        prow[x * 3 + c] = (linear_to_srgb(rgb[c].clamp(0.0, 1.0)) * 255.0).round() as u8;
                    }
                    mrow[x] = (m.clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            });
        (
            RgbImage::from_raw(self.width, self.height, photo).expect("size"),
            GrayImage::from_raw(self.width, self.height, mask).expect("size"),
        )
    }

    fn backdrop(&self, x: f32, y: f32) -> [f32; 3] {
        let t = y / self.height as f32;
        let n = 1.0 + 0.02 * (value_noise(x / 3.0, y / 3.0, self.seed ^ 0xBAC) - 0.5);
        [0.30 - 0.08 * t, 0.33 - 0.08 * t, 0.37 - 0.08 * t].map(|v| v * n)
    }

    /// Linear colour and mask value of a head pixel.
    fn scalp(&self, s: &Surface, x: f32, y: f32, skin: [f32; 3], hair: [f32; 3]) -> ([f32; 3], f32) {
        let seed = self.seed;
        let n = s.normal;
        // Light from the upper left and in front; half vector toward the camera for the highlight.
        let light = normalize([-0.35, 0.55, 0.76]);
        let half = normalize([light[0], light[1], light[2] + 1.0]);
        let diffuse = dot(n, light).max(0.0);
        let rim = n[2].powf(0.35); // darker toward the silhouette
        let shine = dot(n, half).max(0.0).powf(28.0) * 0.22;
        // Skin texture: blotchy tone at a few mm, grain at a fraction of a mm, sparse round pores.
        let mm = self.px_per_mm;
        let blotch = value_noise(x / (6.0 * mm), y / (6.0 * mm), seed) - 0.5;
        let grain_scale = (0.4 * mm).max(2.0);
        let grain = value_noise(x / grain_scale, y / grain_scale, seed ^ 0x51) - 0.5;
        let pore = self.pores(x, y);
        let tone = (1.0 + 0.08 * blotch + 0.06 * grain) * (1.0 - 0.12 * pore) * (0.28 + 0.72 * diffuse) * rim;
        let redness = 1.0 + 0.05 * blotch;
        let mut rgb = [
            skin[0] * tone * redness,
            skin[1] * tone,
            skin[2] * tone / redness.sqrt(),
        ];
        // Remaining hair: a ragged fringe boundary (a few mm), buzz-cut stubble beyond it.
        let ragged = 3.0 * (value_noise(x / (4.0 * self.px_per_mm), y / (4.0 * self.px_per_mm), seed ^ 0x44) - 0.5);
        let into_hair = s.polar - (self.fringe_polar(s.azimuth) + ragged);
        let strands = self.strand_cover(s, x, y);
        if strands > 0.0 {
            let lit = 0.45 + 0.55 * diffuse;
            for c in 0..3 {
                rgb[c] = rgb[c] * (1.0 - 0.85 * strands) + hair[c] * lit * 0.85 * strands;
            }
        }
        for v in rgb.iter_mut() {
            *v += shine;
        }
        // Treatment: behind the designed hairline, blending a few degrees into the remaining hair.
        let behind_line = smoothstep(3.5, -1.5, s.polar - self.hairline_polar(s.azimuth));
        let above_fringe = smoothstep(4.0, -1.0, into_hair);
        let inside_outline = smoothstep(0.0, 0.08, n[2]);
        (rgb, behind_line * above_fringe * inside_outline)
    }
}

impl SyntheticHead {
    /// Pores: one in about a third of the 0.7 mm cells, a soft dot about 0.1 mm wide; 0–1 darkness.
    fn pores(&self, x: f32, y: f32) -> f32 {
        let cell = 0.7 * self.px_per_mm;
        let radius = 0.05 * self.px_per_mm;
        let mut dark: f32 = 0.0;
        for_nearby_cells(x, y, cell, |i, j| {
            if lattice(i, j, self.seed ^ 0x90) < 0.35 {
                let px = (i as f32 + lattice(i, j, self.seed ^ 0x91)) * cell;
                let py = (j as f32 + lattice(i, j, self.seed ^ 0x92)) * cell;
                let d2 = (x - px).powi(2) + (y - py).powi(2);
                dark = dark.max((-d2 / (2.0 * radius * radius + 0.3)).exp());
            }
        });
        dark
    }

    /// Buzz-cut stubble: in every 0.55 mm cell a hair shaft 0.07 mm thick and 0.5–0.9 mm long, leaning
    /// outward and down; 0–1 coverage.
    fn stubble(&self, x: f32, y: f32) -> f32 {
        let cell = 0.55 * self.px_per_mm;
        let half_width = 0.035 * self.px_per_mm;
        let mut cover: f32 = 0.0;
        let (cx, _) = self.head_centre();
        for_nearby_cells(x, y, cell, |i, j| {
            let s = self.seed ^ 0x77;
            let px = (i as f32 + lattice(i, j, s)) * cell;
            let py = (j as f32 + lattice(i, j, s ^ 1)) * cell;
            let len = (0.5 + 0.4 * lattice(i, j, s ^ 2)) * self.px_per_mm;
            let outward = if px < cx { -1.0 } else { 1.0 };
            let angle = 1.2 + 0.6 * lattice(i, j, s ^ 3);
            let (dx, dy) = (outward * angle.cos(), angle.sin());
            // Distance from (x, y) to the segment from the follicle along (dx, dy).
            let t = ((x - px) * dx + (y - py) * dy).clamp(0.0, len);
            let d = ((x - px - t * dx).powi(2) + (y - py - t * dy).powi(2)).sqrt();
            cover = cover.max(smoothstep(half_width + 0.6, (half_width - 0.6).max(0.0), d));
        });
        cover
    }
}

/// Calls `f` for the cell containing (x, y) and its 8 neighbours, on a grid of `cell`-pixel squares.
fn for_nearby_cells(x: f32, y: f32, cell: f32, mut f: impl FnMut(i32, i32)) {
    let (ci, cj) = ((x / cell).floor() as i32, (y / cell).floor() as i32);
    for j in cj - 1..=cj + 1 {
        for i in ci - 1..=ci + 1 {
            f(i, j);
        }
    }
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalize(v: [f32; 3]) -> [f32; 3] {
    let l = dot(v, v).sqrt();
    v.map(|c| c / l)
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Smooth value noise in 0–1 on an integer lattice.
fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (xi, yi) = (x.floor(), y.floor());
    let (fx, fy) = (x - xi, y - yi);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (i, j) = (xi as i32, yi as i32);
    let a = lattice(i, j, seed);
    let b = lattice(i + 1, j, seed);
    let c = lattice(i, j + 1, seed);
    let d = lattice(i + 1, j + 1, seed);
    a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy
}

fn lattice(i: i32, j: i32, seed: u32) -> f32 {
    let mut h =
        (i as u32).wrapping_mul(0x8DA6_B343) ^ (j as u32).wrapping_mul(0xD816_3841) ^ seed.wrapping_mul(0xCB1A_B31F);
    h ^= h >> 13;
    h = h.wrapping_mul(0x5BD1_E995);
    h ^= h >> 15;
    (h >> 8) as f32 / (1u32 << 24) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_with_a_real_mask() {
        let head = SyntheticHead {
            width: 400,
            height: 300,
            px_per_mm: 2.25,
            ..Default::default()
        };
        let (a, m) = head.generate();
        let (b, _) = head.generate();
        assert_eq!(a, b);
        let treated = m.pixels().filter(|p| p.0[0] == 255).count();
        let frac = treated as f32 / (400.0 * 300.0);
        assert!((0.1..0.6).contains(&frac), "treated fraction {frac}");
        // The backdrop corner is untreated.
        assert_eq!(m.get_pixel(2, 2).0[0], 0);
    }
}

#[cfg(test)]
mod projection_tests {
    use super::*;

    #[test]
    fn projection_inverts_the_surface_lookup() {
        let head = SyntheticHead::default();
        for (polar, azimuth) in [(30.0, 0.0), (52.0, 20.0), (60.0, -45.0)] {
            let p = head.project(polar, azimuth).unwrap();
            let s = head.surface(p[0], p[1]).unwrap();
            assert!((s.polar - polar).abs() < 0.01 && (s.azimuth - azimuth).abs() < 0.01);
        }
    }
}
