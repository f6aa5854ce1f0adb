//! Properties of a render, measured on in-memory images through the public library API.

use image::{Rgb, RgbImage};
use smpsim::{plan, render, stamp_impressions, DensityField, Impression, Params};

const SCALE: f32 = 10.0; // px per mm

fn params() -> Params {
    Params {
        px_per_mm: Some(SCALE),
        ..Params::default()
    }
}

/// A skin-toned photo with a gentle gradient and per-pixel texture, so blending is tested on varied pixels.
fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let t = ((x * 7 + y * 13) % 23) as u8;
        Rgb([190 + t, 150 + t / 2, 130 + (x % 5) as u8])
    })
}

/// A disc-shaped treatment region with a soft edge.
fn disc_field(w: u32, h: u32, radius: f32) -> DensityField {
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    DensityField::from_fn(w, h, move |x, y| {
        let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
        ((radius - d) / 20.0).clamp(0.0, 1.0)
    })
}

#[test]
fn count_in_a_full_region_is_density_times_area() {
    // 500×400 px at 10 px/mm = 20 cm².
    let field = DensityField::uniform(500, 400, 1.0);
    for density in [40.0, 100.0, 180.0] {
        let p = Params { density, ..params() };
        let (imps, stats) = plan(500, 400, &field, &p).unwrap();
        let want = density as f64 * 20.0;
        assert!(
            (imps.len() as f64 / want - 1.0).abs() <= 0.05,
            "{} vs {want}",
            imps.len()
        );
        assert!((stats.treated_area_cm2 - 20.0).abs() < 1e-6);
    }
}

#[test]
fn no_impression_and_no_pigment_where_the_mask_is_black() {
    let (w, h) = (600, 450);
    let field = disc_field(w, h, 180.0);
    let before = photo(w, h);
    let out = render(&before, &field, &params()).unwrap();
    let (imps, _) = plan(w, h, &field, &params()).unwrap();
    assert_eq!(imps.len(), out.stats.impressions);
    assert!(imps.iter().all(|i| field.level(i.x as u32, i.y as u32) > 0));
    let mut touched_inside = 0;
    for (x, y, p) in out.image.enumerate_pixels() {
        let q = before.get_pixel(x, y);
        if field.level(x, y) == 0 {
            assert_eq!(p, q, "pixel ({x},{y}) outside the mask changed");
        } else if p != q {
            touched_inside += 1;
        }
        // Pigment only absorbs: never a lighter channel.
        assert!(p.0.iter().zip(q.0).all(|(a, b)| *a <= b), "pixel ({x},{y}) got lighter");
    }
    assert!(touched_inside > 1000, "only {touched_inside} pixels darkened");
}

/// Nearest-neighbour distances of the impressions whose centres lie inside `keep`.
fn nearest_distances(imps: &[Impression], keep: impl Fn(&Impression) -> bool) -> Vec<f32> {
    imps.iter()
        .filter(|i| keep(i))
        .map(|a| {
            imps.iter()
                .filter(|b| !std::ptr::eq(*b, a))
                .map(|b| ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt())
                .fold(f32::MAX, f32::min)
        })
        .collect()
}

#[test]
fn spacing_is_blue_noise_no_clumps_no_grid() {
    for density in [60.0, 100.0] {
        let p = Params { density, ..params() };
        let field = DensityField::uniform(500, 500, 1.0);
        let (imps, _) = plan(500, 500, &field, &p).unwrap();
        let inner = |i: &Impression| (50.0..450.0).contains(&i.x) && (50.0..450.0).contains(&i.y);
        let d = nearest_distances(&imps, inner);
        let mean = d.iter().sum::<f32>() / d.len() as f32;
        let cv = (d.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / d.len() as f32).sqrt() / mean;
        // Spacing of a hexagonal packing at this density, in px.
        let hex = (2.0 / (3f32.sqrt() * density / 100.0)).sqrt() * SCALE;
        let min = d.iter().cloned().fold(f32::MAX, f32::min);
        assert!(cv <= 0.2, "density {density}: nearest-neighbour CV {cv:.3}");
        assert!(
            min >= 0.5 * hex,
            "density {density}: two impressions {min:.2} px apart (hex {hex:.2})"
        );
        // A grid would show one dominant distance; blue noise has a spread.
        assert!(cv >= 0.03, "density {density}: suspiciously regular, CV {cv:.3}");
    }
}

#[test]
fn grey_mask_gives_proportional_density_continuously() {
    // Density ramps left to right; counts per vertical strip follow the ramp.
    let field = DensityField::from_fn(1000, 300, |x, _| x / 1000.0);
    let (imps, _) = plan(
        1000,
        300,
        &field,
        &Params {
            density: 150.0,
            ..params()
        },
    )
    .unwrap();
    let full_strip = 150.0 / 100.0 * (200.0 * 300.0) / (SCALE * SCALE); // impressions in a 200 px strip at 1.0
    for k in 0..5 {
        let (lo, hi) = (k as f32 * 200.0, (k + 1) as f32 * 200.0);
        let n = imps.iter().filter(|i| (lo..hi).contains(&i.x)).count() as f32;
        let want = full_strip * (lo + hi) / 2.0 / 1000.0;
        assert!((n - want).abs() <= 0.1 * want + 5.0, "strip {k}: {n} vs {want}");
    }
}

#[test]
fn same_seed_same_bytes_on_any_thread_count() {
    let (w, h) = (700, 500);
    let field = disc_field(w, h, 220.0);
    let before = photo(w, h);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| render(&before, &field, &params()).unwrap().image)
    };
    let one = run(1);
    assert!(one == run(2), "1 vs 2 threads differ");
    assert!(one == run(8), "1 vs 8 threads differ");
    let other_seed = render(&before, &field, &Params { seed: 2, ..params() }).unwrap().image;
    assert!(one != other_seed, "the seed changes nothing");
}

/// A round impression of `radius` px at (x, y), opacity 0.8, as a caller of `stamp_impressions` might make.
fn round_impression(x: f32, y: f32, radius: f32) -> Impression {
    Impression {
        x,
        y,
        radius_major: radius,
        radius_minor: radius,
        angle: 0.0,
        opacity: 0.8,
        tone: 1.0,
        rank: 0.0,
        threshold: 1.0,
        session: 1,
        shade: 0,
    }
}

/// Linear-light darkening of one impression stamped at a sub-pixel offset on a flat grey photo.
fn stamp_one(dx: f32, dy: f32, radius: f32, grey: u8) -> (f64, f64, f64) {
    let mut img = RgbImage::from_pixel(40, 40, Rgb([grey; 3]));
    let field = DensityField::uniform(40, 40, 1.0);
    let imp = round_impression(20.0 + dx, 20.0 + dy, radius);
    stamp_impressions(&mut img, &field, &[imp], &params(), SCALE).unwrap();
    let lin = |v: u8| smpsim_lin(v);
    let base = lin(grey);
    let (mut ink, mut mx, mut my) = (0.0, 0.0, 0.0);
    for (x, y, p) in img.enumerate_pixels() {
        let a = 1.0 - lin(p.0[1]) / base;
        ink += a;
        mx += a * (x as f64 + 0.5);
        my += a * (y as f64 + 0.5);
    }
    (ink, mx / ink, my / ink)
}

fn smpsim_lin(v: u8) -> f64 {
    let c = v as f64 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

#[test]
fn impressions_are_drawn_at_subpixel_positions_with_constant_ink() {
    let (ink0, x0, y0) = stamp_one(0.0, 0.0, 0.8, 200);
    for (dx, dy) in [(0.25, 0.0), (0.5, 0.5), (0.1, 0.7)] {
        let (ink, x, y) = stamp_one(dx, dy, 0.8, 200);
        assert!(
            (ink / ink0 - 1.0).abs() < 0.04,
            "ink {ink} vs {ink0} at offset ({dx},{dy})"
        );
        assert!(
            (x - x0 - dx as f64).abs() < 0.08,
            "centroid x moved {} for {dx}",
            x - x0
        );
        assert!(
            (y - y0 - dy as f64).abs() < 0.08,
            "centroid y moved {} for {dy}",
            y - y0
        );
    }
    // A larger impression holds proportionally more pigment (area, not a pixel-snapped blob).
    let (ink_big, _, _) = stamp_one(0.0, 0.0, 1.6, 200);
    assert!((ink_big / ink0 - 4.0).abs() < 0.6, "ink ratio {}", ink_big / ink0);
}

#[test]
fn pigment_absorbs_so_light_and_shadow_keep_their_ratio() {
    // The same impression on a lit and on a shadowed patch of matte skin removes the same fraction of light
    // (near-white highlights are veiled instead: see tests/pigment.rs).
    let (ink_bright, _, _) = stamp_one(0.3, 0.3, 1.5, 170);
    let (ink_dark, _, _) = stamp_one(0.3, 0.3, 1.5, 85);
    assert!((ink_bright / ink_dark - 1.0).abs() < 0.05, "{ink_bright} vs {ink_dark}");
}

#[test]
fn impressions_differ_from_each_other() {
    let (imps, _) = plan(400, 400, &DensityField::uniform(400, 400, 1.0), &params()).unwrap();
    let spread = |f: fn(&Impression) -> f32| {
        let v: Vec<f32> = imps.iter().map(f).collect();
        let m = v.iter().sum::<f32>() / v.len() as f32;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / v.len() as f32).sqrt() / m
    };
    assert!(spread(|i| i.radius_major * i.radius_minor) > 0.2, "sizes all alike");
    assert!(spread(|i| i.opacity) > 0.08, "opacities all alike");
    assert!(spread(|i| i.tone) > 0.05, "tones all alike");
    assert!(spread(|i| i.angle) > 0.3, "angles all alike");
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let img = photo(50, 40);
    let err = render(&img, &DensityField::uniform(40, 50, 1.0), &params()).unwrap_err();
    assert!(err.to_string().contains("50x40"), "{err}");
    let err = render(
        &img,
        &DensityField::uniform(50, 40, 1.0),
        &Params {
            density: f32::NAN,
            ..params()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("density"), "{err}");
    let err = render(
        &img,
        &DensityField::uniform(50, 40, 1.0),
        &Params {
            px_per_mm: Some(-1.0),
            ..params()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("px_per_mm"), "{err}");
    // No scale given and nothing to estimate it from.
    let err = render(&img, &DensityField::uniform(50, 40, 0.0), &Params::default()).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    // A scale that would put millions of impressions on each pixel is refused before allocating.
    let err = render(
        &img,
        &DensityField::uniform(50, 40, 1.0),
        &Params {
            density: 1000.0,
            px_per_mm: Some(0.001),
            ..params()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("check the scale"), "{err}");
}

/// Impressions handed to `stamp_impressions` by a caller are checked: a NaN or infinite number, or an opacity
/// outside 0–1, is an error naming the impression and the field, and the photo is untouched.
#[test]
fn impressions_that_cannot_be_drawn_are_errors_naming_them() {
    let photo = RgbImage::from_pixel(40, 40, Rgb([180, 140, 120]));
    let field = DensityField::uniform(40, 40, 1.0);
    let good = round_impression(20.0, 20.0, 1.5);
    let cases = [
        (Impression { x: f32::NAN, ..good }, "#1 x = NaN"),
        (
            Impression {
                radius_minor: f32::INFINITY,
                ..good
            },
            "#1 radius_minor = inf",
        ),
        (
            Impression {
                angle: f32::NEG_INFINITY,
                ..good
            },
            "#1 angle = -inf",
        ),
        (Impression { opacity: 1.5, ..good }, "#1 opacity = 1.5"),
    ];
    assert!(good.is_drawable());
    for (bad, named) in cases {
        assert!(!bad.is_drawable(), "{named}");
        let mut img = photo.clone();
        let err = stamp_impressions(&mut img, &field, &[good, bad], &params(), SCALE).unwrap_err();
        assert!(err.to_string().contains(named), "{err}");
        assert!(img == photo, "the photo changed on {named}");
        // In a longer list (prepared sixteen at a time) the first bad one is named.
        let mut many = vec![good; 40];
        (many[21], many[33]) = (bad, bad);
        let err = stamp_impressions(&mut img, &field, &many, &params(), SCALE).unwrap_err();
        let named_21 = named.replace("#1", "#21");
        assert!(err.to_string().contains(&named_21), "{err}");
        assert!(img == photo, "the photo changed on {named_21}");
    }
    let mut img = photo.clone();
    stamp_impressions(&mut img, &field, &[good], &params(), SCALE).unwrap();
    assert!(img != photo, "a good impression drew nothing");
}

/// The scene of the planned-ahead tests: a disc of treatment on a 160×120 photo, dense enough for 100+ impressions.
fn planning_scene() -> (u32, u32, DensityField, Params, RgbImage) {
    let (w, h) = (160, 120);
    let p = Params {
        density: 400.0,
        ..params()
    };
    (w, h, disc_field(w, h, 50.0), p, photo(w, h))
}

/// Placing first (as `smpsim render` does while the photo decodes) and stamping later gives the bytes of a
/// render in one call, for 8-bit and 16-bit, RGB, RGBA and greyscale photos, whether the impressions were only
/// placed (`plan`) or also prepared for stamping (`plan_and_prepare`: used as they are on 8-bit RGB and RGBA,
/// prepared again on the others); `shade = auto` must be resolved first, and bad impressions leave even a
/// photo that needs converting unchanged.
#[test]
fn a_render_planned_ahead_is_the_same_render() {
    use image::DynamicImage;
    let (w, h, field, p, rgb) = planning_scene();
    for photo in [
        DynamicImage::ImageRgb8(rgb.clone()),
        DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(rgb.clone()).to_rgba8()),
        DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(rgb.clone()).to_rgb16()),
        DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(rgb.clone()).to_luma8()),
    ] {
        let mut at_once = photo.clone();
        let once = smpsim::render_image_mut(&mut at_once, &field, &p).unwrap();
        assert!(at_once != photo, "nothing drawn on {:?}", photo.color());
        assert!(at_once != photo.clone().into_rgb16().into(), "nothing drawn");
        let placed = plan(w, h, &field, &p).unwrap();
        assert!(placed.0.len() > 100, "{} impressions", placed.0.len());
        let prepared = smpsim::plan_and_prepare(w, h, &field, &p).unwrap();
        assert_eq!(prepared.impressions(), placed.0.as_slice());
        assert!(format!("{prepared:?}").contains("prepared: true"), "{prepared:?}");
        for planned in [smpsim::Planned::from(placed), prepared] {
            let mut ahead = photo.clone();
            let later = smpsim::render_planned_mut(&mut ahead, &field, &p, planned).unwrap();
            assert!(at_once == ahead, "{:?}", photo.color());
            assert_eq!(once.impressions, later.impressions);
        }
    }

    let auto = Params {
        shade: smpsim::pigment::ShadeSpec::Auto,
        ..p.clone()
    };
    let mut img = DynamicImage::ImageRgb8(rgb.clone());
    // (Placement refuses it too; here a plan made with a resolved shade meets an unresolved one.)
    assert!(plan(w, h, &field, &auto).is_err());
    let planned = plan(w, h, &field, &p).unwrap();
    let err = smpsim::render_planned_mut(&mut img, &field, &auto, planned).unwrap_err();
    assert!(err.to_string().contains("shade"), "{err}");
    assert!(img == DynamicImage::ImageRgb8(rgb.clone()));

    let grey = DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(rgb).to_luma8());
    let mut img = grey.clone();
    let bad = Impression {
        opacity: 1.5,
        ..round_impression(80.0, 60.0, 2.0)
    };
    let planned = (vec![bad], plan(w, h, &field, &p).unwrap().1);
    let err = smpsim::render_planned_mut(&mut img, &field, &p, planned).unwrap_err();
    assert!(err.to_string().contains("#0 opacity = 1.5"), "{err}");
    assert!(img == grey, "the photo changed");
}

/// Impressions prepared with one ink and stamped with another get the other ink; a photo of another size than
/// the field is refused.
#[test]
fn impressions_prepared_ahead_follow_the_ink_and_size_they_meet() {
    use image::DynamicImage;
    let (w, h, field, p, rgb) = planning_scene();
    // Prepared with one ink, stamped with another (an older treatment, another shade): the other ink's bytes.
    let other = Params {
        shade: "#5a3020".parse().unwrap(),
        years: 6.0,
        ..p.clone()
    };
    let (impressions, stats) = plan(w, h, &field, &p).unwrap();
    let mut expected = DynamicImage::ImageRgb8(rgb.clone());
    smpsim::render_planned_mut(&mut expected, &field, &other, (impressions, stats)).unwrap();
    let mut img = DynamicImage::ImageRgb8(rgb.clone());
    let planned = smpsim::plan_and_prepare(w, h, &field, &p).unwrap();
    smpsim::render_planned_mut(&mut img, &field, &other, planned).unwrap();
    assert!(img == expected);
    let mut with_p = DynamicImage::ImageRgb8(rgb.clone());
    smpsim::render_image_mut(&mut with_p, &field, &p).unwrap();
    assert!(img != with_p, "the ink made no difference");

    // A photo of another size than the field is an error, and the photo is left as it was.
    let taller = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h + 16, image::Rgb([200, 160, 140])));
    let mut img = taller.clone();
    let planned = smpsim::plan_and_prepare(w, h, &field, &p).unwrap();
    let err = smpsim::render_planned_mut(&mut img, &field, &p, planned).unwrap_err();
    assert!(err.to_string().contains("density field"), "{err}");
    assert!(img == taller);
}
