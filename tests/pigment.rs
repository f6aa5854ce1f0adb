//! The pigment model: auto shade, sessions, fresh versus healed, ageing and highlights, measured.

use image::{Rgb, RgbImage};
use smpsim::pigment::{auto_shade, ShadeSpec};
use smpsim::synth::SyntheticHead;
use smpsim::{plan, render, DensityField, Params, Rgb8};

const SCALE: f32 = 10.0;

fn params() -> Params {
    Params {
        px_per_mm: Some(SCALE),
        ..Params::default()
    }
}

/// CIE L*a*b* (D65) of an sRGB colour.
fn lab(c: [u8; 3]) -> [f32; 3] {
    let l = c.map(|v| {
        let v = v as f32 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    });
    let x = (0.4124 * l[0] + 0.3576 * l[1] + 0.1805 * l[2]) / 0.95047;
    let y = 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
    let z = (0.0193 * l[0] + 0.1192 * l[1] + 0.9505 * l[2]) / 1.08883;
    let f = |t: f32| {
        if t > 0.008856 {
            t.cbrt()
        } else {
            7.787 * t + 16.0 / 116.0
        }
    };
    [116.0 * f(y) - 16.0, 500.0 * (f(x) - f(y)), 200.0 * (f(y) - f(z))]
}

fn delta_e(a: [u8; 3], b: [u8; 3]) -> f32 {
    let (p, q) = (lab(a), lab(b));
    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
}

/// Mean colour of the darkest 2% of the hair fringe (strand cores), found from the synthetic head's known geometry:
/// the strands at the sides, well away from the treatment.
fn true_hair(photo: &RgbImage, mask: &image::GrayImage) -> [u8; 3] {
    let mut px: Vec<[u8; 3]> = Vec::new();
    for (x, y, p) in photo.enumerate_pixels() {
        let side = x < photo.width() / 8 || x > photo.width() * 7 / 8;
        if side
            && y > photo.height() / 3
            && mask.get_pixel(x, y).0[0] == 0
            && p.0.iter().map(|&v| v as u32).sum::<u32>() > 30
        {
            px.push(p.0);
        }
    }
    px.sort_by_key(|p| p.iter().map(|&v| v as u32).sum::<u32>());
    let n = (px.len() / 50).max(1);
    let sum = px[..n].iter().fold([0u32; 3], |s, p| {
        [s[0] + p[0] as u32, s[1] + p[1] as u32, s[2] + p[2] as u32]
    });
    sum.map(|v| (v / n as u32) as u8)
}

/// Threshold for "near the hair colour": ΔE76 ≤ 12, a difference a clinician notices side by side but which
/// reads as the same hair colour (a different hair colour is 25+ away).
const HAIR_DELTA_E: f32 = 12.0;

#[test]
fn auto_shade_finds_the_hair_colour_and_follows_it() {
    let mut lightness = Vec::new();
    for hair in [[0x12, 0x10, 0x10], [0x2b, 0x21, 0x1c], [0x6a, 0x4c, 0x36]] {
        let head = SyntheticHead {
            hair,
            ..SyntheticHead::default()
        };
        let (photo, mask) = head.generate();
        let field = DensityField::from_mask(&mask);
        let auto = auto_shade(&photo, &field, None).unwrap();
        let truth = true_hair(&photo, &mask);
        let de = delta_e(auto.hair.0, truth);
        assert!(
            de <= HAIR_DELTA_E,
            "hair {hair:?}: found {} vs {truth:?} (ΔE {de:.1})",
            auto.hair
        );
        lightness.push(lab(auto.shade.0)[0]);
        assert!(auto.reason.contains(&auto.shade.to_string()));
    }
    // Lighter hair gives a lighter pigment (the two darkest may both need the darkest pigment there is).
    assert!(lightness.windows(2).all(|w| w[1] >= w[0]), "{lightness:?}");
    assert!(lightness[2] > lightness[0] + 8.0, "{lightness:?}");
}

#[test]
fn pale_skin_gets_a_lighter_dilution_than_dark_skin() {
    let run = |skin: [u8; 3]| {
        let head = SyntheticHead {
            width: 800,
            height: 600,
            px_per_mm: 4.5,
            skin,
            ..SyntheticHead::default()
        };
        let (photo, mask) = head.generate();
        auto_shade(&photo, &DensityField::from_mask(&mask), None).unwrap()
    };
    let (pale, dark) = (run([245, 215, 195]), run([125, 85, 62]));
    assert!(pale.lightened > 0.08, "pale skin lightened {}", pale.lightened);
    assert_eq!(dark.lightened, 0.0);
}

#[test]
fn each_session_keeps_every_earlier_impression_and_adds_more() {
    let field = DensityField::from_fn(600, 400, |x, _| 0.3 + 0.7 * x / 600.0);
    let at = |k: u8| {
        plan(
            600,
            400,
            &field,
            &Params {
                session: Some(k),
                ..params()
            },
        )
        .unwrap()
        .0
    };
    let (s1, s2, s3) = (at(1), at(2), at(3));
    assert!(s1.len() < s2.len() && s2.len() < s3.len());
    let share = s1.len() as f32 / s3.len() as f32;
    assert!(
        (0.3..0.5).contains(&share),
        "the first session lays {share:.2} of the final count"
    );
    assert!(
        s1.iter().all(|i| s2.contains(i)),
        "session 2 lost or changed a session-1 impression"
    );
    assert!(
        s2.iter().all(|i| s3.contains(i)),
        "session 3 lost or changed a session-2 impression"
    );
    // The first session is lighter.
    let mean_opacity = |v: &[smpsim::Impression], j: u8| {
        let o: Vec<f32> = v.iter().filter(|i| i.session == j).map(|i| i.opacity).collect();
        o.iter().sum::<f32>() / o.len() as f32
    };
    assert!(mean_opacity(&s3, 1) < mean_opacity(&s3, 3) * 0.9);
}

#[test]
fn fresh_impressions_are_larger_and_darker_than_healed() {
    let field = DensityField::uniform(400, 400, 1.0);
    let healed = plan(
        400,
        400,
        &field,
        &Params {
            session: Some(2),
            ..params()
        },
    )
    .unwrap()
    .0;
    let fresh = plan(
        400,
        400,
        &field,
        &Params {
            session: Some(2),
            fresh: true,
            ..params()
        },
    )
    .unwrap()
    .0;
    assert_eq!(healed.len(), fresh.len());
    for (h, f) in healed.iter().zip(&fresh) {
        if h.session == 2 {
            assert!((f.radius_major / h.radius_major - 1.7).abs() < 1e-4);
            assert!(f.opacity >= h.opacity);
        } else {
            assert_eq!(h, f, "an earlier session's impression is shown fresh");
        }
    }
}

/// On a flat grey photo: (mean linear darkening per impression, darkened pixels per impression,
/// red darkening over blue darkening: above 1, the pigment looks bluer).
fn age_measures(years: f32) -> (f64, f64, f64) {
    let grey = 180u8;
    let photo = RgbImage::from_pixel(400, 400, Rgb([grey; 3]));
    let field = DensityField::uniform(400, 400, 1.0);
    let p = Params {
        years,
        density: 60.0,
        ..params()
    };
    let out = render(&photo, &field, &p).unwrap();
    let lin = |v: u8| ((v as f64 / 255.0 + 0.055) / 1.055).powf(2.4);
    let (mut ink, mut touched, mut red, mut blue) = (0.0, 0.0, 0.0, 0.0);
    for px in out.image.pixels() {
        let d: Vec<f64> = px.0.iter().map(|&v| 1.0 - lin(v) / lin(grey)).collect();
        let mean = (d[0] + d[1] + d[2]) / 3.0;
        if mean > 0.0 {
            ink += mean;
            touched += 1.0;
            red += d[0];
            blue += d[2];
        }
    }
    let n = out.stats.impressions as f64;
    (ink / n, touched / n, red / blue)
}

#[test]
fn ageing_fades_softens_spreads_and_turns_blue_grey_monotonically() {
    let ages = [0.0, 2.0, 5.0, 10.0];
    let m: Vec<(f64, f64, f64)> = ages.iter().map(|&y| age_measures(y)).collect();
    for w in m.windows(2) {
        let ((ink0, area0, _), (ink1, area1, _)) = (w[0], w[1]);
        // Contrast: peak darkening per pixel falls.
        assert!(ink1 / area1 < ink0 / area0, "contrast did not fall: {m:?}");
        assert!(area1 > area0, "spread did not grow: {m:?}");
    }
    // Hue: red is absorbed more than blue as years pass: the impressions turn bluer.
    assert!(
        m.windows(2).all(|w| w[1].2 >= w[0].2),
        "hue did not drift steadily: {m:?}"
    );
    assert!(m[3].2 > m[0].2 + 0.03, "{m:?}");
}

#[test]
fn highlights_veil_pigment() {
    // Left: matte skin. Right: the same skin with a near-white specular highlight added on top.
    let photo = RgbImage::from_fn(400, 200, |x, _| {
        if x < 200 {
            Rgb([200, 160, 140])
        } else {
            Rgb([250, 242, 236])
        }
    });
    let field = DensityField::uniform(400, 200, 1.0);
    let out = render(
        &photo,
        &field,
        &Params {
            density: 150.0,
            ..params()
        },
    )
    .unwrap();
    let lin = |v: u8| ((v as f64 / 255.0 + 0.055) / 1.055).powf(2.4);
    let darkening = |x0: u32| {
        let mut worst = 0.0f64;
        let mut sum = 0.0;
        for y in 0..200 {
            for x in x0 + 10..x0 + 190 {
                let (a, b) = (out.image.get_pixel(x, y).0[1], photo.get_pixel(x, y).0[1]);
                let d = 1.0 - lin(a) / lin(b);
                worst = worst.max(d);
                sum += d;
            }
        }
        (worst, sum)
    };
    let ((matte_peak, matte_sum), (shine_peak, shine_sum)) = (darkening(0), darkening(200));
    assert!(
        shine_peak < 0.6 * matte_peak,
        "peak contrast {shine_peak:.3} in the highlight vs {matte_peak:.3}"
    );
    assert!(shine_sum < 0.6 * matte_sum);
}

#[test]
fn a_shade_mix_uses_each_shade_in_proportion() {
    let spec: ShadeSpec = "dark:70,light:30".parse().unwrap();
    let p = Params {
        shade: spec,
        ..params()
    };
    let (imps, stats) = plan(500, 500, &DensityField::uniform(500, 500, 1.0), &p).unwrap();
    let light = imps.iter().filter(|i| i.shade == 1).count() as f32 / imps.len() as f32;
    assert!((light - 0.3).abs() < 0.03, "{light}");
    assert_eq!(stats.shade, "#222025:70,#555157:30");
    // Auto needs the photo.
    let err = plan(
        50,
        50,
        &DensityField::uniform(50, 50, 1.0),
        &Params {
            shade: ShadeSpec::Auto,
            ..params()
        },
    );
    assert!(err.unwrap_err().to_string().contains("needs the photo"));
    let _ = Rgb8([0; 3]);
}
