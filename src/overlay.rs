//! The design drawn over the photo, so a clinician can check it before rendering: the density tinted green,
//! the hairline in yellow with its control points in red, the line where full density begins dashed, the
//! region in cyan and scars in magenta.

use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_hollow_circle_mut, draw_line_segment_mut};

use crate::design::ResolvedDesign;
use crate::field::DensityField;
use crate::geometry::{smooth_curve, Point};

const TINT: [f32; 3] = [40.0, 220.0, 90.0];
const HAIRLINE: Rgb<u8> = Rgb([255, 220, 0]);
const CONTROL: Rgb<u8> = Rgb([230, 30, 30]);
const FULL_DENSITY: Rgb<u8> = Rgb([255, 255, 255]);
const REGION: Rgb<u8> = Rgb([0, 220, 255]);
const SCAR: Rgb<u8> = Rgb([255, 40, 220]);

/// The photo with `field` tinted over it and `design`'s lines drawn on top.
#[must_use]
pub fn overlay(photo: &RgbImage, field: &DensityField, design: Option<&ResolvedDesign>, px_per_mm: f32) -> RgbImage {
    let mut out = photo.clone();
    for (x, y, p) in out.enumerate_pixels_mut() {
        let a = 0.4 * field.get(x, y);
        for (v, t) in p.0.iter_mut().zip(TINT) {
            *v = (*v as f32 * (1.0 - a) + t * a).round() as u8;
        }
    }
    let Some(d) = design else { return out };
    let thick = (photo.width().max(photo.height()) as f32 / 900.0).max(1.0);
    if let Some(region) = &d.region {
        let mut closed = region.clone();
        closed.push(region[0]);
        polyline(&mut out, &closed, thick, REGION, false);
    }
    for scar in &d.scars {
        let path = if scar.points.len() >= 3 {
            smooth_curve(&scar.points, 2.0)
        } else {
            scar.points.clone()
        };
        let half = scar.width_mm * px_per_mm / 2.0;
        for side in [-1.0, 1.0] {
            polyline(&mut out, &offset(&path, side * half), thick, SCAR, false);
        }
    }
    if let (Some(control), Some(curve)) = (&d.hairline, d.hairline_curve()) {
        // Where full density begins: the curve moved by the transition width toward the treated side.
        let depth = d.edge.transition_mm * px_per_mm;
        let toward = |side: f32| {
            let o = offset(&curve, side * depth);
            let m = o[o.len() / 2];
            let (x, y) = (
                m[0].clamp(0.0, field.width() as f32 - 1.0),
                m[1].clamp(0.0, field.height() as f32 - 1.0),
            );
            (field.get(x as u32, y as u32), o)
        };
        let (a, b) = (toward(1.0), toward(-1.0));
        polyline(&mut out, &if a.0 >= b.0 { a.1 } else { b.1 }, thick, FULL_DENSITY, true);
        polyline(&mut out, &curve, thick, HAIRLINE, false);
        for p in control {
            for r in 0..thick.ceil() as i32 {
                draw_hollow_circle_mut(&mut out, (p[0] as i32, p[1] as i32), (3.0 * thick) as i32 + r, CONTROL);
            }
        }
    }
    out
}

/// The polyline moved sideways by `by` pixels (positive = left of the direction of travel, y down).
fn offset(points: &[Point], by: f32) -> Vec<Point> {
    (0..points.len())
        .map(|i| {
            let (a, b) = (points[i.saturating_sub(1)], points[(i + 1).min(points.len() - 1)]);
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let len = (dx * dx + dy * dy).sqrt().max(1e-6);
            [points[i][0] + dy / len * by, points[i][1] - dx / len * by]
        })
        .collect()
}

fn polyline(img: &mut RgbImage, points: &[Point], thick: f32, colour: Rgb<u8>, dashed: bool) {
    let mut run = 0.0;
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        run += crate::geometry::dist(a, b);
        if dashed && (run / (8.0 * thick)) as u32 % 2 == 1 {
            continue;
        }
        let n = thick.ceil() as i32;
        for ox in 0..n {
            for oy in 0..n {
                let (fx, fy) = (ox as f32 - (n - 1) as f32 / 2.0, oy as f32 - (n - 1) as f32 / 2.0);
                draw_line_segment_mut(img, (a[0] + fx, a[1] + fy), (b[0] + fx, b[1] + fy), colour);
            }
        }
    }
}
