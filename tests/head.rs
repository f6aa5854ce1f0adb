//! Head geometry: on a sphere-like head of known outline, image-space density and impression shapes follow
//! the foreshortening; without a head model the photo is flat.

use smpsim::head::HeadModel;
use smpsim::synth::SyntheticHead;
use smpsim::{plan, DensityField, Impression, Params};

fn setup() -> (SyntheticHead, HeadModel, DensityField) {
    let synth = SyntheticHead::default();
    let (cx, cy) = synth.head_centre();
    let r = synth.head_radius_px();
    let head = HeadModel {
        centre: [cx, cy],
        radii: [r, r],
        angle_deg: 0.0,
    };
    // Treat the whole visible head out to 95% of its radius, uniformly.
    let field = DensityField::from_fn(synth.width, synth.height, |x, y| {
        ((x - cx).hypot(y - cy) < 0.95 * r) as u8 as f32
    });
    (synth, head, field)
}

/// Impressions per image pixel and mean minor/major ratio in the annulus r0..r1 (fractions of the radius),
/// over the part of the annulus inside the photo.
fn annulus(imps: &[Impression], synth: &SyntheticHead, r0: f32, r1: f32) -> (f64, f64) {
    let (cx, cy) = synth.head_centre();
    let r = synth.head_radius_px();
    let mut area = 0u64;
    for y in 0..synth.height {
        for x in 0..synth.width {
            let d = (x as f32 + 0.5 - cx).hypot(y as f32 + 0.5 - cy) / r;
            area += (d >= r0 && d < r1) as u64;
        }
    }
    let inside: Vec<&Impression> = imps
        .iter()
        .filter(|i| {
            let d = (i.x - cx).hypot(i.y - cy) / r;
            d >= r0 && d < r1
        })
        .collect();
    let aspect = inside
        .iter()
        .map(|i| (i.radius_minor / i.radius_major) as f64)
        .sum::<f64>()
        / inside.len() as f64;
    (inside.len() as f64 / area as f64, aspect)
}

#[test]
fn density_and_shape_follow_the_foreshortening() {
    let (synth, head, field) = setup();
    let params = Params {
        px_per_mm: Some(synth.px_per_mm),
        max_elongation: 1.0,
        density: 60.0,
        head: Some(head),
        ..Params::default()
    };
    let (imps, _) = plan(synth.width, synth.height, &field, &params).unwrap();
    let flat_density = 60.0 / 100.0 / (synth.px_per_mm as f64).powi(2);
    for (r0, r1) in [(0.0, 0.3), (0.45, 0.55), (0.65, 0.75), (0.8, 0.85), (0.88, 0.92)] {
        let (measured, aspect) = annulus(&imps, &synth, r0, r1);
        // The mean foreshortening over the annulus (by area).
        let n = 200;
        let (mut f_sum, mut z_sum, mut w_sum) = (0.0, 0.0, 0.0);
        for k in 0..n {
            let r = r0 as f64 + (r1 - r0) as f64 * (k as f64 + 0.5) / n as f64;
            let z = (1.0 - r * r).sqrt().max(0.25);
            f_sum += r / z;
            z_sum += r * z;
            w_sum += r;
        }
        let (factor, z) = (f_sum / w_sum, z_sum / w_sum);
        let want = flat_density * factor;
        assert!(
            (measured / want - 1.0).abs() < 0.1,
            "r {r0}–{r1}: {measured:.5} per px² vs {want:.5} (×{factor:.2})"
        );
        assert!(
            (aspect / z - 1.0).abs() < 0.1,
            "r {r0}–{r1}: aspect {aspect:.3} vs z {z:.3}"
        );
    }
}

#[test]
fn without_a_head_the_photo_is_flat() {
    let (synth, _, field) = setup();
    let params = Params {
        px_per_mm: Some(synth.px_per_mm),
        density: 60.0,
        ..Params::default()
    };
    let (imps, _) = plan(synth.width, synth.height, &field, &params).unwrap();
    let flat_density = 60.0 / 100.0 / (synth.px_per_mm as f64).powi(2);
    for (r0, r1) in [(0.0, 0.3), (0.65, 0.75), (0.88, 0.92)] {
        let (measured, _) = annulus(&imps, &synth, r0, r1);
        assert!(
            (measured / flat_density - 1.0).abs() < 0.1,
            "r {r0}–{r1}: {measured:.5} vs {flat_density:.5}"
        );
    }
}

#[test]
fn the_scale_comes_from_the_head_width() {
    let (synth, head, field) = setup();
    let params = Params {
        head: Some(head),
        ..Params::default()
    };
    let (_, stats) = plan(synth.width, synth.height, &field, &params).unwrap();
    assert!(stats.px_per_mm_estimated);
    assert!(
        (stats.px_per_mm / synth.px_per_mm - 1.0).abs() < 0.1,
        "{} vs {}",
        stats.px_per_mm,
        synth.px_per_mm
    );
    assert!(HeadModel::parse("1,2,3").is_err() && HeadModel::parse("1,2,3,-4").is_err());
    assert_eq!(HeadModel::parse("800,720,675,700,5").unwrap().angle_deg, 5.0);
}

#[test]
fn the_fitted_head_outline_is_within_a_few_percent() {
    let synth = SyntheticHead::default();
    let (photo, _) = synth.generate();
    let fit = smpsim::skin::fit_head(&photo).unwrap();
    let (cx, cy) = synth.head_centre();
    let r = synth.head_radius_px();
    for (got, want, what) in [
        (fit.centre[0], cx, "cx"),
        (fit.centre[1], cy, "cy"),
        (fit.radii[0], r, "rx"),
        (fit.radii[1], r, "ry"),
    ] {
        assert!((got - want).abs() < 0.03 * r, "{what}: fitted {got:.1}, true {want:.1}");
    }
    // And so the scale from it: within 10% of the true 9 px/mm.
    assert!((fit.px_per_mm() / synth.px_per_mm - 1.0).abs() < 0.1);
}

/// Intersection over union of two boolean maps.
fn iou(a: &[bool], b: &[bool]) -> f64 {
    let inter = a.iter().zip(b).filter(|(x, y)| **x && **y).count() as f64;
    let union = a.iter().zip(b).filter(|(x, y)| **x || **y).count() as f64;
    inter / union
}

/// Documented overlap of the skin classifier with the synthetic head's bare skin.
const SKIN_IOU: f64 = 0.9;

#[test]
fn the_skin_map_finds_the_bare_scalp_and_skin_only_avoids_hair() {
    let synth = SyntheticHead::default();
    let (photo, mask) = synth.generate();
    let skin = smpsim::skin::skin_field(&photo);
    let (w, h) = (synth.width, synth.height);
    let mut truth_skin = Vec::with_capacity((w * h) as usize);
    let mut found = Vec::with_capacity((w * h) as usize);
    let mut hair_pixels = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let (on_head, hair) = synth.truth(x as f32 + 0.5, y as f32 + 0.5);
            truth_skin.push(on_head && hair < 0.05);
            found.push(skin.level(x, y) > 0);
            if hair > 0.5 {
                hair_pixels.push((x, y));
            }
        }
    }
    let overlap = iou(&truth_skin, &found);
    assert!(overlap >= SKIN_IOU, "skin IoU {overlap:.3} < {SKIN_IOU}");
    assert!(hair_pixels.len() > 1000);
    // Skin only: a treatment over the whole head (side hair included) times the skin map never centres an
    // impression on a hair pixel.
    let mut field = DensityField::from_fn(w, h, |x, y| synth.truth(x, y).0 as u8 as f32);
    field.multiply(&skin).unwrap();
    let params = Params {
        px_per_mm: Some(synth.px_per_mm),
        density: 150.0,
        ..Params::default()
    };
    let (imps, _) = plan(w, h, &field, &params).unwrap();
    let hair: std::collections::HashSet<(u32, u32)> = hair_pixels.into_iter().collect();
    let on_hair = imps.iter().filter(|i| hair.contains(&(i.x as u32, i.y as u32))).count();
    assert_eq!(on_hair, 0, "{on_hair} impressions centred on hair pixels");
    assert!(imps.len() > 5000);
    // The painted treatment mask itself is bare skin almost everywhere.
    let treated = mask.pixels().filter(|p| p.0[0] == 255).count();
    let treated_skin = mask
        .enumerate_pixels()
        .filter(|(x, y, p)| p.0[0] == 255 && skin.level(*x, *y) > 0)
        .count();
    assert!(treated_skin as f64 > 0.95 * treated as f64);
}
