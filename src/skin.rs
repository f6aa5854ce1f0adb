//! Seeing the head in the photo with classical colour statistics (no downloaded model): which pixels are bare
//! skin, and where the head's outline is.
//!
//! Skin: the classic YCbCr skin cluster (Chai & Ngan: Cb 77–127, Cr 133–173), brighter than Y 45 so that dark
//! hair strands and deep shadow are not skin. Backdrops (low chroma) and hair fall outside it. The map is eroded
//! by one pixel, so a pixel next to a hair strand is not counted as bare skin either: `--skin-only` puts
//! pigment only between the remaining hairs. The head: an axis-aligned ellipse fitted by least squares to the
//! boundary between head (skin or dark hair) and backdrop, leaving out the photo's own edges, where the head
//! is cut off rather than outlined.

use image::RgbImage;

use crate::error::{Error, Result};
use crate::field::DensityField;
use crate::head::HeadModel;

fn ycbcr(p: [u8; 3]) -> (f32, f32, f32) {
    let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
    let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
    (y, cb, cr)
}

/// Whether a pixel's colour is in the skin cluster.
pub fn is_skin(p: [u8; 3]) -> bool {
    let (y, cb, cr) = ycbcr(p);
    y > 45.0 && (77.0..=127.0).contains(&cb) && (133.0..=173.0).contains(&cr)
}

/// Whether a pixel looks like part of the head: skin, or dark hair (dark and not bluish).
fn is_head(p: [u8; 3]) -> bool {
    let (y, cb, _) = ycbcr(p);
    is_skin(p) || (y < 90.0 && cb < 132.0)
}

/// Bare skin as a field (1 = skin), eroded by one pixel so hair strands keep a margin. A pixel clearly darker
/// than its 7×7 neighbourhood (a hair strand over skin, mixed into a skin-coloured pixel) is not bare skin.
pub fn skin_field(photo: &RgbImage) -> DensityField {
    let (w, h) = photo.dimensions();
    let luma = image::imageops::grayscale(photo);
    let local = imageproc::filter::box_filter(&luma, 3, 3);
    let raw: Vec<bool> = photo
        .pixels()
        .zip(luma.pixels().zip(local.pixels()))
        .map(|(p, (l, m))| is_skin(p.0) && (l.0[0] as f32) >= 0.88 * m.0[0] as f32)
        .collect();
    let at = |x: i64, y: i64| x >= 0 && y >= 0 && x < w as i64 && y < h as i64 && raw[(y * w as i64 + x) as usize];
    DensityField::from_row_fn(w, h, |y, row| {
        for (x, v) in row.iter_mut().enumerate() {
            let (x, y) = (x as i64, y as i64);
            let all = (-1..=1).all(|dy| (-1..=1).all(|dx| at(x + dx, y + dy)));
            *v = all as u8 as f32;
        }
    })
}

/// Bare scalp: [`skin_field`] limited to inside the head's outline when it is known, so skin-coloured ears,
/// neck or hands beyond the outline get nothing either.
pub fn scalp_field(photo: &RgbImage, head: Option<&HeadModel>) -> DensityField {
    let skin = skin_field(photo);
    match head {
        None => skin,
        Some(h) => {
            let inside = DensityField::from_fn(photo.width(), photo.height(), |x, y| {
                let (s, c) = h.angle_deg.to_radians().sin_cos();
                let (dx, dy) = (x - h.centre[0], y - h.centre[1]);
                let u = (dx * c + dy * s) / h.radii[0];
                let v = (-dx * s + dy * c) / h.radii[1];
                (u * u + v * v < 1.0) as u8 as f32
            });
            let mut out = skin;
            out.multiply(&inside).expect("same size");
            out
        }
    }
}

/// Fits the head's outline: an axis-aligned ellipse through the head/backdrop boundary (see the module doc).
pub fn fit_head(photo: &RgbImage) -> Result<HeadModel> {
    let (w, h) = photo.dimensions();
    let head: Vec<bool> = photo.pixels().map(|p| is_head(p.0)).collect();
    let at = |x: u32, y: u32| head[(y * w + x) as usize];
    // Outline points: the first and last head pixel of each row and the first of each column (the top of the
    // head), so holes inside the head (a bright highlight) do not count; points on the photo's edges do not.
    let inner = |x: u32, y: u32| x > 1 && y > 1 && x + 2 < w && y + 2 < h;
    let mut points: Vec<(f64, f64)> = Vec::new();
    for y in 0..h {
        let first = (0..w).find(|&x| at(x, y));
        let last = (0..w).rev().find(|&x| at(x, y));
        for x in first.into_iter().chain(last) {
            if inner(x, y) {
                points.push((x as f64 + 0.5, y as f64 + 0.5));
            }
        }
    }
    for x in 0..w {
        if let Some(y) = (0..h).find(|&y| at(x, y)) {
            if inner(x, y) {
                points.push((x as f64 + 0.5, y as f64 + 0.5));
            }
        }
    }
    if points.len() < 50 {
        return Err(Error::param(
            "head",
            "auto",
            "no head outline found in the photo; give --head x,y,rx,ry",
        ));
    }
    // Least squares for A·x² + C·y² + D·x + E·y = 1, in coordinates scaled to about 1 for conditioning.
    let s = w.max(h) as f64;
    let mut m = [[0f64; 5]; 4];
    for &(x, y) in &points {
        let (x, y) = (x / s, y / s);
        let row = [x * x, y * y, x, y];
        for i in 0..4 {
            for j in 0..4 {
                m[i][j] += row[i] * row[j];
            }
            m[i][4] += row[i];
        }
    }
    let sol = solve4(m).ok_or_else(|| Error::param("head", "auto", "the head outline is degenerate"))?;
    let [a, c, d, e] = sol;
    // A(x − cx)² + C(y − cy)² = f: an ellipse when f/A and f/C are both positive.
    let (cx, cy) = (-d / (2.0 * a), -e / (2.0 * c));
    let f = 1.0 + d * d / (4.0 * a) + e * e / (4.0 * c);
    if !(f / a > 0.0 && f / c > 0.0) {
        return Err(Error::param("head", "auto", "the head outline is not an ellipse"));
    }
    let (rx, ry) = ((f / a).sqrt(), (f / c).sqrt());
    let model = HeadModel {
        centre: [(cx * s) as f32, (cy * s) as f32],
        radii: [(rx * s) as f32, (ry * s) as f32],
        angle_deg: 0.0,
    };
    model.validate()?;
    Ok(model)
}

/// Solves a 4×4 linear system given as an augmented matrix, by Gaussian elimination with partial pivoting.
fn solve4(mut m: [[f64; 5]; 4]) -> Option<[f64; 4]> {
    for col in 0..4 {
        let pivot = (col..4).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col];
        for (row, r) in m.iter_mut().enumerate() {
            if row != col {
                let k = r[col] / pivot_row[col];
                for (x, p) in r.iter_mut().zip(pivot_row).skip(col) {
                    *x -= k * p;
                }
            }
        }
    }
    Some(std::array::from_fn(|i| m[i][4] / m[i][i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skin_beyond_the_head_outline_is_not_scalp() {
        // A skin-coloured "ear" left of a head outline centred on the right.
        let photo = RgbImage::from_pixel(200, 100, image::Rgb([226, 178, 150]));
        let head = HeadModel {
            centre: [150.0, 50.0],
            radii: [45.0, 45.0],
            angle_deg: 0.0,
        };
        let scalp = scalp_field(&photo, Some(&head));
        assert_eq!(scalp.get(20, 50), 0.0, "the ear");
        assert_eq!(scalp.get(150, 50), 1.0, "the scalp");
        assert_eq!(scalp_field(&photo, None).get(20, 50), 1.0);
    }

    #[test]
    fn skin_cluster() {
        assert!(is_skin([226, 178, 150]));
        assert!(is_skin([125, 85, 62]));
        assert!(!is_skin([149, 155, 163]), "grey-blue backdrop");
        assert!(!is_skin([43, 33, 28]), "dark hair");
    }
}
