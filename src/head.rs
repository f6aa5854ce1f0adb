//! The head as a curved surface: where the scalp turns away from the camera, the same physical density covers
//! fewer pixels (so it looks denser in the photo) and each impression is foreshortened into an ellipse squeezed
//! toward the silhouette.
//!
//! Model: the head outline is an ellipse in the photo and the scalp the matching half-ellipsoid facing the
//! camera, seen orthographically. At a pixel with normalised ellipse coordinates (u, v) the surface normal's
//! component toward the camera is z = √(1 − u² − v²); a patch of scalp there is squeezed by z along the
//! ellipse's radial direction. Image-space density therefore rises by 1/z and impressions shrink by z radially,
//! both capped at [`MAX_FORESHORTENING`] near the silhouette.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Typical adult head breadth, mm: the scale when it is taken from the head's outline.
pub const HEAD_BREADTH_MM: f32 = 150.0;

/// Largest foreshortening applied (z ≥ 1/4): beyond it, at the very silhouette, the model is least reliable.
pub const MAX_FORESHORTENING: f32 = 4.0;

/// The head's outline in the upright photo: an ellipse, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadModel {
    /// Centre, pixels.
    pub centre: [f32; 2],
    /// Semi-axes along the ellipse's own x and y, pixels.
    pub radii: [f32; 2],
    /// Rotation of the ellipse, degrees (clockwise in the photo). Default: 0.
    #[serde(default)]
    pub angle_deg: f32,
}

/// How the scalp faces the camera at one pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Facing {
    /// Foreshortening factor 1/z, from 1 (facing the camera) to [`MAX_FORESHORTENING`].
    pub factor: f32,
    /// Unit direction (in the photo) along which the surface is squeezed: away from the centre.
    pub radial: [f32; 2],
}

impl HeadModel {
    /// Parses `x,y,rx,ry[,angle]` (pixels, degrees).
    pub fn parse(text: &str) -> Result<HeadModel> {
        let v: Vec<f32> = text
            .split(',')
            .map(|p| p.trim().parse::<f32>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| {
                Error::param(
                    "head",
                    format!("{text:?}"),
                    "expected x,y,rx,ry or x,y,rx,ry,angle in pixels and degrees",
                )
            })?;
        let head = match v[..] {
            [x, y, rx, ry] => HeadModel {
                centre: [x, y],
                radii: [rx, ry],
                angle_deg: 0.0,
            },
            [x, y, rx, ry, a] => HeadModel {
                centre: [x, y],
                radii: [rx, ry],
                angle_deg: a,
            },
            _ => return Err(Error::param("head", format!("{text:?}"), "expected 4 or 5 numbers")),
        };
        head.validate()?;
        Ok(head)
    }

    /// Checks the numbers: finite, radii positive.
    pub fn validate(&self) -> Result<()> {
        let all = [
            self.centre[0],
            self.centre[1],
            self.radii[0],
            self.radii[1],
            self.angle_deg,
        ];
        if all.iter().any(|v| !v.is_finite()) || self.radii[0] <= 0.0 || self.radii[1] <= 0.0 {
            return Err(Error::param(
                "head",
                format!("{self:?}"),
                "needs finite numbers and positive radii",
            ));
        }
        Ok(())
    }

    /// Scale from the head's width against a typical head breadth ([`HEAD_BREADTH_MM`]).
    pub fn px_per_mm(&self) -> f32 {
        let (s, c) = self.angle_deg.to_radians().sin_cos();
        // Horizontal half-width of the rotated ellipse.
        let half = ((self.radii[0] * c).powi(2) + (self.radii[1] * s).powi(2)).sqrt();
        2.0 * half / HEAD_BREADTH_MM
    }

    /// How the scalp faces the camera at pixel (x, y); outside the outline, as at its edge.
    #[inline]
    pub fn facing(&self, x: f32, y: f32) -> Facing {
        let (s, c) = self.angle_deg.to_radians().sin_cos();
        let (dx, dy) = (x - self.centre[0], y - self.centre[1]);
        // Into the ellipse's frame, normalised by its radii.
        let u = (dx * c + dy * s) / self.radii[0];
        let v = (-dx * s + dy * c) / self.radii[1];
        let r2 = u * u + v * v;
        let z = (1.0 - r2).max(0.0).sqrt().max(1.0 / MAX_FORESHORTENING);
        // The squeeze direction: the gradient of r² in the photo (normal to the ellipse's level curves).
        let (gu, gv) = (u / self.radii[0], v / self.radii[1]);
        let (gx, gy) = (gu * c - gv * s, gu * s + gv * c);
        let len = (gx * gx + gy * gy).sqrt();
        let radial = if len > 1e-9 { [gx / len, gy / len] } else { [1.0, 0.0] };
        Facing {
            factor: 1.0 / z,
            radial,
        }
    }
}

/// The semi-axes and angle of an ellipse (a, b, θ) after squeezing the plane by `z` along `radial`.
pub fn squeeze(a: f32, b: f32, angle: f32, z: f32, radial: [f32; 2]) -> (f32, f32, f32) {
    // M = S · R(θ) · diag(a, b), with S = I + (z − 1)·r·rᵀ; the new ellipse's axes are M's singular values.
    let (s, c) = angle.sin_cos();
    let m = [[c * a, -s * b], [s * a, c * b]];
    let k = z - 1.0;
    let (rx, ry) = (radial[0], radial[1]);
    let sm = [[1.0 + k * rx * rx, k * rx * ry], [k * rx * ry, 1.0 + k * ry * ry]];
    let p = [
        [
            sm[0][0] * m[0][0] + sm[0][1] * m[1][0],
            sm[0][0] * m[0][1] + sm[0][1] * m[1][1],
        ],
        [
            sm[1][0] * m[0][0] + sm[1][1] * m[1][0],
            sm[1][0] * m[0][1] + sm[1][1] * m[1][1],
        ],
    ];
    // Singular values and left vector of a 2×2 matrix, in closed form.
    let e = (p[0][0] + p[1][1]) / 2.0;
    let f = (p[0][0] - p[1][1]) / 2.0;
    let g = (p[1][0] + p[0][1]) / 2.0;
    let h = (p[1][0] - p[0][1]) / 2.0;
    let q = (e * e + h * h).sqrt();
    let r = (f * f + g * g).sqrt();
    let (major, minor) = (q + r, (q - r).abs());
    let a1 = g.atan2(f);
    let a2 = h.atan2(e);
    let theta = (a2 + a1) / 2.0;
    (major, minor.max(1e-4), theta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facing_is_frontal_at_the_centre_and_capped_at_the_edge() {
        let head = HeadModel {
            centre: [500.0, 400.0],
            radii: [300.0, 350.0],
            angle_deg: 0.0,
        };
        assert!((head.facing(500.0, 400.0).factor - 1.0).abs() < 1e-6);
        let half = head.facing(500.0 + 0.6 * 300.0, 400.0);
        assert!((half.factor - 1.25).abs() < 1e-4, "{half:?}"); // z = 0.8
        assert!((half.radial[0] - 1.0).abs() < 1e-5);
        assert_eq!(head.facing(2000.0, 400.0).factor, MAX_FORESHORTENING);
        assert!((head.px_per_mm() - 600.0 / 150.0).abs() < 1e-5);
    }

    #[test]
    fn squeezing_a_circle_radially_gives_an_ellipse_across_it() {
        let (a, b, theta) = squeeze(2.0, 2.0, 0.3, 0.5, [1.0, 0.0]);
        assert!((a - 2.0).abs() < 1e-4 && (b - 1.0).abs() < 1e-4, "{a} {b}");
        // The long axis is vertical, across the radial (horizontal) direction.
        assert!((theta.sin().abs() - 1.0).abs() < 1e-3, "{theta}");
    }
}
