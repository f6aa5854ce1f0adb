//! Hairline designs and composed density fields, measured on the fields and the placed impressions.

use smpsim::design::{Design, DesignFormat, HairlineStyle, ResolvedDesign};
use smpsim::geometry::Polyline;
use smpsim::treatment::FieldSources;
use smpsim::{plan, DensityField, Params};

const W: u32 = 1000;
const H: u32 = 800;
const SCALE: f32 = 10.0; // px per mm

/// A gently curved front hairline across the photo, treated above (no region).
fn design(style: &str, extra: &str) -> ResolvedDesign {
    let text = format!(
        "units = \"px\"\nstyle = \"{style}\"\n{extra}\n[hairline]\npoints = [[50, 500], [300, 520], [500, 530], [700, 520], [950, 500]]\n"
    );
    Design::parse(&text, DesignFormat::Toml, "test.toml")
        .unwrap()
        .resolve(W, H, "test.toml")
        .unwrap()
}

/// For each column, the row (from the front, i.e. from the bottom up) where the field first reaches `level`.
fn first_row_reaching(field: &DensityField, x: u32, level: f32) -> f32 {
    (0..H)
        .rev()
        .find(|&y| field.get(x, y) >= level)
        .map_or(f32::NAN, |y| y as f32 + 0.5)
}

/// The smooth curve's row at column `x` (the curve runs left to right).
fn curve_row(d: &ResolvedDesign, x: f32) -> f32 {
    let c = d.hairline_curve().unwrap();
    // Beyond the ends the line runs straight on: extrapolate from the end segments.
    let i = c.iter().position(|p| p[0] >= x).unwrap_or(c.len() - 1).max(1);
    let (a, b) = (c[i - 1], c[i]);
    a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0])
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// Median depth (px) over which the field climbs from 10% to 90%.
fn ramp_width(field: &DensityField) -> f32 {
    median(
        (200..800)
            .step_by(5)
            .map(|x| first_row_reaching(field, x, 0.1) - first_row_reaching(field, x, 0.9))
            .collect(),
    )
}

#[test]
fn ramp_width_matches_the_requested_transition() {
    for transition in [5.0f32, 8.0, 10.0] {
        let d = design("soft", &format!("transition_mm = {transition}\nstrays = 0"));
        let field = d.field(SCALE, 1).unwrap();
        // A linear ramp climbs from 10% to 90% over 80% of its depth.
        let want = 0.8 * transition * SCALE;
        let got = ramp_width(&field);
        assert!(
            (got / want - 1.0).abs() <= 0.2,
            "transition {transition} mm: ramp {got:.1} px, want {want:.1}"
        );
    }
}

#[test]
fn sharp_is_measurably_crisper_than_soft() {
    let soft = ramp_width(&design("soft", "").field(SCALE, 1).unwrap());
    let sharp = ramp_width(&design("sharp", "").field(SCALE, 1).unwrap());
    assert!(sharp * 3.0 < soft, "sharp ramp {sharp} px vs soft {soft} px");
    assert!(
        (sharp / (0.8 * 1.5 * SCALE) - 1.0).abs() <= 0.3,
        "sharp ramp {sharp} px for 1.5 mm"
    );
}

#[test]
fn the_edge_is_irregular_at_millimetre_scale_with_the_requested_amplitude() {
    for amplitude in [1.0f32, 2.0] {
        let d = design(
            "soft",
            &format!("irregularity_mm = {amplitude}\nstrays = 0\ntransition_mm = 6"),
        );
        let field = d.field(SCALE, 3).unwrap();
        // Offset of the half-density line from where a smooth ramp would put it (3 mm behind the curve).
        let offsets: Vec<f32> = (100..900)
            .map(|x| {
                let half = first_row_reaching(&field, x, 0.5);
                (curve_row(&d, x as f32 + 0.5) - 3.0 * SCALE - half) / SCALE
            })
            .collect();
        let max = offsets.iter().fold(0f32, |m, e| m.max(e.abs()));
        let mean = offsets.iter().sum::<f32>() / offsets.len() as f32;
        let sd = (offsets.iter().map(|e| (e - mean).powi(2)).sum::<f32>() / offsets.len() as f32).sqrt();
        assert!(
            max <= amplitude * 1.1 + 0.15,
            "amplitude {amplitude}: edge strays {max:.2} mm"
        );
        assert!(
            max >= amplitude * 0.5,
            "amplitude {amplitude}: edge only wanders {max:.2} mm"
        );
        assert!(sd >= amplitude * 0.2, "amplitude {amplitude}: sd {sd:.2} mm");
        // Not pixel noise: neighbouring columns (0.1 mm apart) move together.
        let jitter = offsets.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f32>() / (offsets.len() - 1) as f32;
        assert!(
            jitter < 0.1 * amplitude,
            "amplitude {amplitude}: column-to-column jitter {jitter:.3} mm"
        );
    }
}

/// Signed distance (mm) of each impression behind the smooth curve (negative = ahead of it).
fn behind_distances(d: &ResolvedDesign, params: &Params) -> Vec<f32> {
    let field = d.field(SCALE, params.seed).unwrap();
    let (imps, _) = plan(W, H, &field, params).unwrap();
    let line = Polyline::new(&d.hairline_curve().unwrap(), false, 1e4);
    imps.iter()
        .map(|i| {
            let n = line.nearest([i.x, i.y]).unwrap();
            let ahead = i.y > curve_row(d, i.x);
            if ahead {
                -n.distance / SCALE
            } else {
                n.distance / SCALE
            }
        })
        .collect()
}

#[test]
fn strays_stand_ahead_of_the_line_but_never_beyond_their_reach() {
    let params = Params {
        px_per_mm: Some(SCALE),
        density: 150.0,
        ..Params::default()
    };
    let d = design("soft", "stray_distance_mm = 4\nirregularity_mm = 1.5");
    let dist = behind_distances(&d, &params);
    let furthest = dist.iter().cloned().fold(f32::MAX, f32::min);
    assert!(
        furthest >= -(4.0 + 1.5) - 0.05,
        "an impression {:.2} mm ahead of the line",
        -furthest
    );
    let strays = dist.iter().filter(|&&x| x < -1.5).count();
    assert!(
        (3..200).contains(&strays),
        "{strays} stray impressions clearly ahead of the line"
    );
    // Sharp: nothing ahead of the line beyond its small irregularity.
    let sharp = behind_distances(&design("sharp", ""), &params);
    let furthest = sharp.iter().cloned().fold(f32::MAX, f32::min);
    assert!(
        furthest >= -0.3 - 0.05,
        "sharp: an impression {:.2} mm ahead",
        -furthest
    );
}

#[test]
fn exclusions_get_no_impressions() {
    let d = design("soft", "");
    let (cx, cy, r) = (500.0, 250.0, 60.0);
    let mole = DensityField::from_fn(W, H, |x, y| ((x - cx).hypot(y - cy) < r) as u8 as f32);
    let sources = FieldSources {
        design: Some(d),
        exclusions: vec![mole],
        ..Default::default()
    };
    let (field, _) = sources.build(W, H, Some(SCALE), 1).unwrap();
    let (imps, _) = plan(
        W,
        H,
        &field,
        &Params {
            px_per_mm: Some(SCALE),
            ..Params::default()
        },
    )
    .unwrap();
    assert!(imps.len() > 1000);
    assert!(
        imps.iter().all(|i| (i.x - cx).hypot(i.y - cy) >= r - 1.0),
        "an impression inside the exclusion"
    );
    // Around it, full density carries on.
    assert_eq!(field.get(500, 100), 1.0);
}

#[test]
fn a_scar_reaches_the_surrounding_density() {
    // Treated region: the left half. A 6 mm wide strip scar runs down the untreated right half.
    let text = "units = \"px\"\n[region]\nedge_mm = 0.5\npolygon = [[0, 0], [480, 0], [480, 800], [0, 800]]\n\
                [[scar]]\npoints = [[750, 80], [752, 400], [748, 720]]\nwidth_mm = 6\nblend_mm = 3\n";
    let d = Design::parse(text, DesignFormat::Toml, "scar.toml")
        .unwrap()
        .resolve(W, H, "scar.toml")
        .unwrap();
    let field = d.field(SCALE, 1).unwrap();
    let params = Params {
        px_per_mm: Some(SCALE),
        density: 120.0,
        ..Params::default()
    };
    let (imps, _) = plan(W, H, &field, &params).unwrap();
    // Impressions per cm² in the scar's core (2.5 mm either side of its line, away from its ends) and in the region.
    let core = imps
        .iter()
        .filter(|i| (i.x - 750.0).abs() < 25.0 && (120.0..680.0).contains(&i.y))
        .count();
    let core_cm2 = 5.0 * 56.0 / 100.0;
    let region = imps
        .iter()
        .filter(|i| (40.0..440.0).contains(&i.x) && (40.0..760.0).contains(&i.y))
        .count();
    let region_cm2 = 40.0 * 72.0 / 100.0;
    let (scar_density, region_density) = (core as f32 / core_cm2, region as f32 / region_cm2);
    assert!(
        (scar_density / region_density - 1.0).abs() <= 0.1,
        "scar {scar_density:.1}/cm² vs surroundings {region_density:.1}/cm²"
    );
    // Feathered beyond the edge, nothing far from it.
    assert!(field.get(750 + 35, 400) > 0.0 && field.get(750 + 35, 400) < 1.0);
    assert!(imps
        .iter()
        .filter(|i| i.x > 480.0)
        .all(|i| (i.x - 750.0).abs() < 30.0 + 30.0));
}

#[test]
fn the_treated_side_follows_the_region() {
    // The same line, a region below it: treated below, not above.
    let text = "units = \"px\"\n[hairline]\npoints = [[50, 300], [500, 320], [950, 300]]\n\
                [region]\npolygon = [[0, 250], [1000, 250], [1000, 800], [0, 800]]\n";
    let d = Design::parse(text, DesignFormat::Toml, "t.toml")
        .unwrap()
        .resolve(W, H, "t.toml")
        .unwrap();
    let field = d.field(SCALE, 1).unwrap();
    assert_eq!(field.get(500, 600), 1.0);
    assert_eq!(field.get(500, 100), 0.0);
}

fn parse_err(text: &str, format: DesignFormat) -> String {
    match Design::parse(text, format, "bad.hairline") {
        Err(e) => e.to_string(),
        Ok(d) => d.resolve(W, H, "bad.hairline").unwrap_err().to_string(),
    }
}

#[test]
fn bad_design_files_name_the_file_and_the_problem() {
    use DesignFormat::{Json, Toml};
    let cases: [(&str, DesignFormat, &[&str]); 8] = [
        (
            "[hairline]\npoints = [[0.1, 0.5], [0.9, 0.5]]\n",
            Toml,
            &["hairline.points", "at least 3"],
        ),
        (
            "[hairline]\npoints = [[0.1, 0.5], [0.5, 0.6], [1.2, 0.5]]\n",
            Toml,
            &["hairline.points[2]", "outside"],
        ),
        (
            "[region]\npolygon = [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]\n",
            Toml,
            &["region.polygon", "crosses itself"],
        ),
        (
            "colour = \"red\"\n[hairline]\npoints = [[0.1, 0.5], [0.5, 0.6], [0.9, 0.5]]\n",
            Toml,
            &["colour", "line 1"],
        ),
        (
            "transition_mm = nan\n[hairline]\npoints = [[0.1, 0.5], [0.5, 0.6], [0.9, 0.5]]\n",
            Toml,
            &["line 1", "finite"],
        ),
        (
            "transition_mm = -2\n[hairline]\npoints = [[0.1, 0.5], [0.5, 0.6], [0.9, 0.5]]\n",
            Toml,
            &["transition_mm", "-2"],
        ),
        (
            "{\"hairline\": {\"points\": [[0.1, 0.5], [0.5, 0.6], [0.9, 0.5]]}, \"foo\": 1}",
            Json,
            &["foo", "line 1"],
        ),
        ("style = \"soft\"\n", Toml, &["nothing to treat"]),
    ];
    for (text, format, needles) in cases {
        let err = parse_err(text, format);
        assert!(err.starts_with("bad.hairline: "), "{err}");
        for n in needles {
            assert!(err.contains(n), "expected {n:?} in: {err}");
        }
    }
}

#[test]
fn the_bundled_design_fits_the_fixture_photo() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/head.hairline.toml");
    let design = smpsim::io::load_design(std::path::Path::new(path)).unwrap();
    assert_eq!(design.style, HairlineStyle::Soft);
    let resolved = design.resolve(1600, 1200, path).unwrap();
    let field = resolved.field(9.0, 1).unwrap();
    // Treated on the crown, untreated on the forehead and the backdrop.
    assert_eq!(field.get(800, 300), 1.0);
    assert_eq!(field.get(800, 1000), 0.0);
    assert_eq!(field.get(20, 20), 0.0);
}

#[test]
fn age_presets_place_the_hairline_from_the_brow_line() {
    // Brow line ends 400 px apart = 100 mm: 4 px per mm.
    let preset = |age: &str| {
        let text = format!("units = \"px\"\nstrays = 0\n[preset]\nage = \"{age}\"\nbrow = [[300, 780], [700, 780]]\n");
        let d = Design::parse(&text, DesignFormat::Toml, "p.toml")
            .unwrap()
            .resolve(W, H, "p.toml")
            .unwrap();
        let field = d.field(4.0, 1).unwrap();
        let control = d.hairline.clone().unwrap();
        (first_row_reaching(&field, 500, 0.5), control)
    };
    let (juvenile, jc) = preset("juvenile");
    let (mature, mc) = preset("mature");
    // Mid-front point: 70 mm and 85 mm above the brow line.
    assert!((jc[3][1] - (780.0 - 70.0 * 4.0)).abs() < 0.5, "{:?}", jc[3]);
    assert!((mc[3][1] - (780.0 - 85.0 * 4.0)).abs() < 0.5, "{:?}", mc[3]);
    // The rendered edge follows: the mature line is 1.5 cm higher, within the irregularity.
    let shift_mm = (juvenile - mature) / 4.0;
    assert!(
        (shift_mm - 15.0).abs() < 2.0 * 1.5,
        "mature edge {shift_mm:.1} mm above juvenile"
    );
    // Temple points are recessed above the mid-front point, and the two sides differ a little.
    assert!(mc[1][1] < mc[3][1] - 15.0 * 4.0 && mc[5][1] < mc[3][1] - 15.0 * 4.0);
    assert!((mc[1][1] - mc[5][1]).abs() > 1.0 && (mc[1][1] - mc[5][1]).abs() < 2.5 * 4.0);
    // Both a hairline and a preset is ambiguous.
    let both = "[hairline]\npoints = [[0.1, 0.5], [0.5, 0.6], [0.9, 0.5]]\n[preset]\nage = \"adult\"\nbrow = [[0.3, 0.9], [0.7, 0.9]]\n";
    let err = Design::parse(both, DesignFormat::Toml, "both.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not both"), "{err}");
}
