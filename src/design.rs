//! Treatment designs: a front hairline, the treated region behind it, and scars to camouflage.
//!
//! Clinics design a hairline rather than paint a mask. A design file (TOML or JSON) gives the hairline as a
//! few control points, drawn as a smooth curve; the density ramps up behind it across a transition zone whose
//! edge wanders irregularly at the scale of a few millimetres, with a few stray impressions ahead of it, as
//! single hairs stand ahead of a natural hairline. All coordinates refer to the upright photo, as a person sees
//! it. See `fixtures/head.hairline.toml` for a complete, commented example.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::{Error, Result};
use crate::field::DensityField;
use crate::geometry::{self, row_crossings, smooth_curve, Point, Polyline};

/// A finite number (never NaN or infinite), checked while the file is parsed so the error carries its line.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Finite(pub f32);

impl TryFrom<f64> for Finite {
    type Error = String;
    fn try_from(v: f64) -> std::result::Result<Self, String> {
        if v.is_finite() && v.abs() <= f32::MAX as f64 {
            Ok(Finite(v as f32))
        } else {
            Err(format!("{v} is not a finite number"))
        }
    }
}

impl From<Finite> for f64 {
    fn from(v: Finite) -> f64 {
        v.0 as f64
    }
}

/// How coordinates in a design are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    /// Fractions of the upright photo's width (x) and height (y), 0–1: the design survives resizing.
    #[default]
    Fraction,
    /// Pixels of the upright photo.
    Px,
}

/// The look of the front edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HairlineStyle {
    /// What most clients get and what ages well: a wide, irregular transition with strays ahead of it.
    #[default]
    Soft,
    /// The lined-up, edge-up look: a crisp line with a 1–2 mm transition and no strays.
    Sharp,
}

impl std::str::FromStr for HairlineStyle {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "soft" => Ok(HairlineStyle::Soft),
            "sharp" => Ok(HairlineStyle::Sharp),
            _ => Err(Error::param(
                "hairline_style",
                format!("{s:?}"),
                "expected soft or sharp",
            )),
        }
    }
}

impl fmt::Display for HairlineStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HairlineStyle::Soft => "soft",
            HairlineStyle::Sharp => "sharp",
        })
    }
}

/// Which side of the hairline is treated when no region is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Behind {
    /// Toward the top of the photo (a face seen from the front).
    #[default]
    Up,
    /// Toward the bottom.
    Down,
    /// Toward the left.
    Left,
    /// Toward the right.
    Right,
}

/// The front hairline: control points the smooth curve passes through, in order along the line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hairline {
    /// At least 3 points (two would make a ruler-straight line).
    pub points: Vec<[Finite; 2]>,
}

/// Age-appropriate hairline shapes, placed from the brow line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Age {
    /// Low and nearly straight: mid-front 70 mm above the brow line, shallow temple recessions (5 mm).
    Juvenile,
    /// Mid-front 78 mm above the brow line, temple recessions 12 mm.
    Adult,
    /// Mid-front 85 mm above the brow line (1.5 cm above juvenile), deeper recessions (20 mm): ages well.
    Mature,
}

impl Age {
    /// (mid-front height above the brow line, temple recession), mm.
    fn shape_mm(self) -> (f32, f32) {
        match self {
            Age::Juvenile => (70.0, 5.0),
            Age::Adult => (78.0, 12.0),
            Age::Mature => (85.0, 20.0),
        }
    }
}

/// A hairline generated from the brow line instead of clicked point by point: a starting point for a
/// frontal photo, to be adjusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Shape by age.
    pub age: Age,
    /// The brow line: its left and right outer ends, in the design's units.
    pub brow: [[Finite; 2]; 2],
    /// Distance between the brow line's outer ends, mm, which sets the preset's scale. Default: 100 (typical
    /// adult; measure the client for accuracy).
    pub brow_span_mm: Option<Finite>,
}

/// The treated region: a polygon, with the hairline forming its front.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// At least 3 points, not crossing itself.
    pub polygon: Vec<[Finite; 2]>,
    /// Width of the region's soft edge (away from the hairline), mm. Default: 2.
    pub edge_mm: Option<Finite>,
}

/// The head's outline in a design file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadSpec {
    /// Centre of the outline.
    pub centre: [Finite; 2],
    /// Semi-axes of the outline.
    pub radii: [Finite; 2],
    /// Rotation, degrees. Default: 0.
    pub angle_deg: Option<Finite>,
}

/// A scar to camouflage: a polyline with a width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scar {
    /// At least 2 points along the scar.
    pub points: Vec<[Finite; 2]>,
    /// Scar width, mm (FUE dots about 1 mm, FUT strips a few mm).
    pub width_mm: Finite,
    /// Density over the scar as a fraction of full density. Default: 1, the surrounding density.
    pub density: Option<Finite>,
    /// How far the pattern is feathered beyond the scar's edges so it blends, mm. Default: 3.
    pub blend_mm: Option<Finite>,
}

/// A treatment design, as read from a design file. Unset numbers take their style's defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Design {
    /// Units of every coordinate. Default: fractions of width and height.
    #[serde(default)]
    pub units: Units,
    /// Edge style. Default: soft.
    #[serde(default)]
    pub style: HairlineStyle,
    /// Width of the zone where density ramps from none to full, mm. Default: soft 7, sharp 1.5.
    pub transition_mm: Option<Finite>,
    /// How far the edge wanders from the smooth curve, at most, mm. Default: soft 1.5, sharp 0.3.
    pub irregularity_mm: Option<Finite>,
    /// Typical length of one wave of the irregular edge along the line, mm. Default: 4.
    pub irregularity_scale_mm: Option<Finite>,
    /// Density of stray impressions ahead of the line, as a fraction of full density. Default: soft 0.05, sharp 0.
    pub strays: Option<Finite>,
    /// How far ahead of the line strays reach, mm. Default: soft 4, sharp 0.
    pub stray_distance_mm: Option<Finite>,
    /// Treated side of the hairline when there is no region. Default: up.
    #[serde(default)]
    pub behind: Behind,
    /// The front hairline.
    pub hairline: Option<Hairline>,
    /// A hairline generated by age from the brow line, when no `hairline` is given.
    pub preset: Option<Preset>,
    /// The treated region; the hairline's treated side is the one holding the region.
    pub region: Option<Region>,
    /// The head's outline, for the curved-scalp model (see `smpsim::head`): centre and radii in the design's
    /// units (fractions: of the width for x and radii\[0\], of the height for y and radii\[1\]).
    pub head: Option<HeadSpec>,
    /// Scars to camouflage (`[[scar]]` tables in TOML, a `scar` array in JSON).
    #[serde(default, rename = "scar")]
    pub scars: Vec<Scar>,
}

/// Most points in one line or polygon, and most scars.
pub const MAX_POINTS: usize = 2000;

/// A design's numbers with the style's defaults filled in, in mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdgeSettings {
    /// Transition width, mm.
    pub transition_mm: f32,
    /// Largest distance of the edge from the smooth curve, mm.
    pub irregularity_mm: f32,
    /// Wavelength of the irregularity, mm.
    pub irregularity_scale_mm: f32,
    /// Stray density fraction ahead of the line.
    pub strays: f32,
    /// Reach of strays ahead of the line, mm.
    pub stray_distance_mm: f32,
}

/// Design-file syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DesignFormat {
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

impl Design {
    /// Parses a design; `name` (usually the file name) starts every error message.
    /// Unknown keys, missing values and non-finite numbers are errors with their line.
    pub fn parse(text: &str, format: DesignFormat, name: &str) -> Result<Design> {
        let bad = |reason: String| Error::Design {
            name: name.to_string(),
            reason,
        };
        let design: Design = match format {
            DesignFormat::Toml => toml::from_str(text).map_err(|e| bad(e.to_string().trim_end().to_string()))?,
            DesignFormat::Json => serde_json::from_str(text).map_err(|e| bad(e.to_string()))?,
        };
        design.check_numbers().map_err(bad)?;
        Ok(design)
    }

    /// The same design in another style: the style's own edge numbers replace any the file set, so
    /// "this design, sharp" looks sharp (the irregularity's wavelength is kept).
    pub fn with_style(mut self, style: HairlineStyle) -> Design {
        self.style = style;
        self.transition_mm = None;
        self.irregularity_mm = None;
        self.strays = None;
        self.stray_distance_mm = None;
        self
    }

    /// The edge settings: explicit values, else the style's defaults.
    pub fn edge(&self) -> EdgeSettings {
        let (t, i, st, sd) = match self.style {
            HairlineStyle::Soft => (7.0, 1.5, 0.05, 4.0),
            HairlineStyle::Sharp => (1.5, 0.3, 0.0, 0.0),
        };
        let or = |v: Option<Finite>, d: f32| v.map_or(d, |f| f.0);
        EdgeSettings {
            transition_mm: or(self.transition_mm, t),
            irregularity_mm: or(self.irregularity_mm, i),
            irregularity_scale_mm: or(self.irregularity_scale_mm, 4.0),
            strays: or(self.strays, st),
            stray_distance_mm: or(self.stray_distance_mm, sd),
        }
    }

    /// Ranges and counts that do not depend on the photo.
    fn check_numbers(&self) -> std::result::Result<(), String> {
        let e = self.edge();
        let range = |key: &str, v: f32, lo: f32, hi: f32, lo_open: bool| {
            if v > hi || v < lo || (lo_open && v == lo) {
                let low = if lo_open { "more than" } else { "at least" };
                Err(format!("`{key}` = {v}: must be {low} {lo} and at most {hi}"))
            } else {
                Ok(())
            }
        };
        range("transition_mm", e.transition_mm, 0.0, 50.0, true)?;
        range("irregularity_mm", e.irregularity_mm, 0.0, 20.0, false)?;
        range("irregularity_scale_mm", e.irregularity_scale_mm, 0.5, 100.0, false)?;
        range("strays", e.strays, 0.0, 1.0, false)?;
        range("stray_distance_mm", e.stray_distance_mm, 0.0, 30.0, false)?;
        // Bounds that keep every check fast (the self-crossing test is quadratic); real designs use dozens.
        let counts = [
            ("hairline.points", self.hairline.as_ref().map_or(0, |h| h.points.len())),
            ("region.polygon", self.region.as_ref().map_or(0, |r| r.polygon.len())),
            ("scar", self.scars.len()),
        ];
        for (key, n) in counts
            .into_iter()
            .chain(self.scars.iter().map(|s| ("scar.points", s.points.len())))
        {
            if n > MAX_POINTS {
                return Err(format!("`{key}` has {n} entries; at most {MAX_POINTS} are accepted"));
            }
        }
        if self.hairline.is_some() && self.preset.is_some() {
            return Err("give either `hairline` or `preset`, not both".into());
        }
        if let Some(span) = self.preset.as_ref().and_then(|p| p.brow_span_mm) {
            range("preset.brow_span_mm", span.0, 20.0, 300.0, false)?;
        }
        if self.hairline.is_none() && self.preset.is_none() && self.region.is_none() && self.scars.is_empty() {
            return Err("the design has no hairline, region or scar: nothing to treat".into());
        }
        if let Some(h) = &self.hairline {
            if h.points.len() < 3 {
                return Err(format!(
                    "`hairline.points` has {} point(s): a hairline needs at least 3 (two make a ruler-straight line)",
                    h.points.len()
                ));
            }
        }
        if let Some(r) = &self.region {
            if r.polygon.len() < 3 {
                return Err(format!(
                    "`region.polygon` has {} point(s): at least 3 are needed",
                    r.polygon.len()
                ));
            }
            if let Some(edge) = r.edge_mm {
                range("region.edge_mm", edge.0, 0.0, 50.0, false)?;
            }
        }
        for (k, s) in self.scars.iter().enumerate() {
            if s.points.len() < 2 {
                return Err(format!(
                    "`scar[{k}].points` has {} point(s): at least 2 are needed",
                    s.points.len()
                ));
            }
            range(&format!("scar[{k}].width_mm"), s.width_mm.0, 0.0, 50.0, true)?;
            if let Some(d) = s.density {
                range(&format!("scar[{k}].density"), d.0, 0.0, 1.0, false)?;
            }
            if let Some(b) = s.blend_mm {
                range(&format!("scar[{k}].blend_mm"), b.0, 0.0, 30.0, false)?;
            }
        }
        Ok(())
    }

    /// The design in pixels of a `width`×`height` photo, checked against it: points inside the photo, a
    /// region that does not cross itself. `name` starts error messages.
    pub fn resolve(&self, width: u32, height: u32, name: &str) -> Result<ResolvedDesign> {
        let bad = |reason: String| Error::Design {
            name: name.to_string(),
            reason,
        };
        self.check_numbers().map_err(bad)?;
        let (w, h) = (width as f32, height as f32);
        let to_px = |key: &str, pts: &[[Finite; 2]]| -> Result<Vec<Point>> {
            pts.iter()
                .enumerate()
                .map(|(i, [x, y])| {
                    let (x, y) = (x.0, y.0);
                    let (px, py, limit) = match self.units {
                        Units::Fraction => (x * w, y * h, "fractions must be 0–1".to_string()),
                        Units::Px => (x, y, format!("the photo is {width}x{height} pixels")),
                    };
                    if !(0.0..=w).contains(&px) || !(0.0..=h).contains(&py) {
                        return Err(bad(format!("`{key}[{i}]` = [{x}, {y}] is outside the photo ({limit})")));
                    }
                    Ok([px, py])
                })
                .collect()
        };
        let hairline = match (&self.hairline, &self.preset) {
            (Some(hl), _) => Some(to_px("hairline.points", &hl.points)?),
            (None, Some(p)) => {
                let brow = to_px("preset.brow", &p.brow)?;
                if geometry::dist(brow[0], brow[1]) < 4.0 {
                    return Err(bad("`preset.brow` ends are the same point".into()));
                }
                Some(preset_hairline(p, brow[0], brow[1]))
            }
            (None, None) => None,
        };
        let region = match &self.region {
            Some(r) => {
                let poly = to_px("region.polygon", &r.polygon)?;
                if let Some((a, b)) = geometry::self_intersection(&poly) {
                    return Err(bad(format!("`region.polygon` crosses itself (edges {a} and {b})")));
                }
                Some(poly)
            }
            None => None,
        };
        let mut scars = Vec::new();
        for (k, s) in self.scars.iter().enumerate() {
            scars.push(ResolvedScar {
                points: to_px(&format!("scar[{k}].points"), &s.points)?,
                width_mm: s.width_mm.0,
                density: s.density.map_or(1.0, |d| d.0),
                blend_mm: s.blend_mm.map_or(3.0, |b| b.0),
            });
        }
        Ok(ResolvedDesign {
            width,
            height,
            edge: self.edge(),
            behind: self.behind,
            hairline,
            region,
            region_edge_mm: self.region.as_ref().and_then(|r| r.edge_mm).map_or(2.0, |e| e.0),
            scars,
            head: match &self.head {
                None => None,
                Some(spec) => {
                    let (sx, sy) = match self.units {
                        Units::Fraction => (w, h),
                        Units::Px => (1.0, 1.0),
                    };
                    let model = crate::head::HeadModel {
                        centre: [spec.centre[0].0 * sx, spec.centre[1].0 * sy],
                        radii: [spec.radii[0].0 * sx, spec.radii[1].0 * sy],
                        angle_deg: spec.angle_deg.map_or(0.0, |a| a.0),
                    };
                    model.validate().map_err(|e| bad(format!("`head`: {e}")))?;
                    Some(model)
                }
            },
        })
    }
}

/// Control points of an age preset's hairline, in pixels, from the brow line's ends (either order).
///
/// Built in a frame on the brow line: lateral axis along it, "up" perpendicular to it toward the top of the
/// photo, millimetres scaled by the brow span. Temple points sit higher by the recession and the line turns
/// down toward the sideburns at the sides; the client's left side sits 1 mm higher (natural asymmetry is up
/// to about 2 mm).
fn preset_hairline(p: &Preset, a: Point, b: Point) -> Vec<Point> {
    let (left, right) = if a[0] <= b[0] { (a, b) } else { (b, a) };
    let span_px = geometry::dist(left, right);
    let mm = span_px / p.brow_span_mm.map_or(100.0, |s| s.0);
    let lateral = [(right[0] - left[0]) / span_px, (right[1] - left[1]) / span_px];
    // Perpendicular to the brow line, pointing up the photo.
    let up = if lateral[0] >= 0.0 {
        [lateral[1], -lateral[0]]
    } else {
        [-lateral[1], lateral[0]]
    };
    let mid = [(left[0] + right[0]) / 2.0, (left[1] + right[1]) / 2.0];
    let (height, recession) = p.age.shape_mm();
    let half = 50.0; // mm from the midline to the temple region
                     // (lateral mm, height mm): the outline of the front and temple hairline.
    let outline = [
        (-half, height + recession - 12.0),
        (-0.78 * half, height + recession),
        (-0.38 * half, height + 0.25 * recession),
        (0.0, height),
        (0.38 * half, height + 0.25 * recession),
        (0.78 * half, height + recession),
        (half, height + recession - 12.0),
    ];
    outline
        .iter()
        .map(|&(x, h)| {
            let h = if x > 0.0 { h + 1.0 } else { h };
            [
                mid[0] + (lateral[0] * x + up[0] * h) * mm,
                mid[1] + (lateral[1] * x + up[1] * h) * mm,
            ]
        })
        .collect()
}

/// A scar in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedScar {
    /// Points along the scar, pixels.
    pub points: Vec<Point>,
    /// Width, mm.
    pub width_mm: f32,
    /// Density fraction over the scar.
    pub density: f32,
    /// Feathering beyond the scar's edges, mm.
    pub blend_mm: f32,
}

/// A design checked against a photo, in its pixels: what the density field and the overlay are drawn from.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedDesign {
    /// Photo width.
    pub width: u32,
    /// Photo height.
    pub height: u32,
    /// Edge settings, mm.
    pub edge: EdgeSettings,
    /// Treated side when there is no region.
    pub behind: Behind,
    /// Hairline control points, pixels.
    pub hairline: Option<Vec<Point>>,
    /// Region polygon, pixels.
    pub region: Option<Vec<Point>>,
    /// Soft edge of the region, mm.
    pub region_edge_mm: f32,
    /// Scars.
    pub scars: Vec<ResolvedScar>,
    /// The head's outline in pixels, if the design gives one.
    pub head: Option<crate::head::HeadModel>,
}

/// The hairline prepared for per-pixel queries.
struct PreparedLine {
    line: Polyline,
    /// The extended curve closed on the treated side: inside = behind the line.
    behind: Vec<Point>,
}

impl ResolvedDesign {
    /// The smooth hairline curve in pixels (points about 2 px apart), if there is a hairline.
    pub fn hairline_curve(&self) -> Option<Vec<Point>> {
        self.hairline.as_ref().map(|c| smooth_curve(c, 2.0))
    }

    /// Rough scale for when none is given: the design's width taken as a typical treated width.
    pub fn rough_px_per_mm(&self) -> f32 {
        let xs = self
            .hairline
            .iter()
            .chain(self.region.iter())
            .flatten()
            .chain(self.scars.iter().flat_map(|s| s.points.iter()))
            .map(|p| p[0]);
        let (lo, hi) = xs.fold((f32::MAX, f32::MIN), |(a, b), x| (a.min(x), b.max(x)));
        ((hi - lo) / crate::scale::TYPICAL_TREATED_WIDTH_MM).max(0.5)
    }

    fn prepare_line(&self, curve: &[Point], reach: f32) -> PreparedLine {
        let far = 3.0 * (self.width + self.height) as f32;
        let (first, last) = (curve[0], curve[curve.len() - 1]);
        let unit = |a: Point, b: Point| {
            let d = geometry::dist(a, b).max(1e-6);
            [(b[0] - a[0]) / d, (b[1] - a[1]) / d]
        };
        // Extend both ends straight on, far past the photo, so the line divides the whole plane.
        let start_dir = unit(curve[1], first);
        let end_dir = unit(curve[curve.len() - 2], last);
        let mut extended = vec![[first[0] + start_dir[0] * far, first[1] + start_dir[1] * far]];
        extended.extend_from_slice(curve);
        extended.push([last[0] + end_dir[0] * far, last[1] + end_dir[1] * far]);
        // Close it through a point very far to one side of the chord; pick the side the region (or `behind`) is on.
        let chord = unit(first, last);
        let normal = [-chord[1], chord[0]];
        let mid = [(first[0] + last[0]) / 2.0, (first[1] + last[1]) / 2.0];
        let closed_toward = |sign: f32| {
            let mut poly = extended.clone();
            poly.push([
                mid[0] + sign * normal[0] * 10.0 * far,
                mid[1] + sign * normal[1] * 10.0 * far,
            ]);
            poly
        };
        let plus = closed_toward(1.0);
        let behind = match &self.region {
            Some(region) => {
                if geometry::contains(&plus, geometry::centroid(region)) {
                    plus
                } else {
                    closed_toward(-1.0)
                }
            }
            None => {
                let dir = match self.behind {
                    Behind::Up => [0.0, -1.0],
                    Behind::Down => [0.0, 1.0],
                    Behind::Left => [-1.0, 0.0],
                    Behind::Right => [1.0, 0.0],
                };
                if normal[0] * dir[0] + normal[1] * dir[1] >= 0.0 {
                    plus
                } else {
                    closed_toward(-1.0)
                }
            }
        };
        PreparedLine {
            line: Polyline::new(&extended, false, reach),
            behind,
        }
    }

    /// The density field of this design at `px_per_mm`: the hairline ramp (with its irregular edge and
    /// strays) times the region, and scars filled to their density. `seed` shapes the irregularity.
    pub fn field(&self, px_per_mm: f32, seed: u64) -> Result<DensityField> {
        crate::params::check_scale(px_per_mm)?;
        let mm = px_per_mm;
        let e = self.edge;
        let (transition, amplitude) = (e.transition_mm * mm, e.irregularity_mm * mm);
        let (stray_reach, wave) = (e.stray_distance_mm * mm, (e.irregularity_scale_mm * mm).max(1.0));
        let reach = transition.max(stray_reach) + amplitude + 2.0;
        let line = self.hairline_curve().map(|curve| self.prepare_line(&curve, reach));
        let region_edge = (self.region_edge_mm * mm).max(0.5);
        let region = self
            .region
            .as_ref()
            .map(|poly| (poly.clone(), Polyline::new(poly, true, region_edge)));
        let scars: Vec<(Polyline, f32, f32, f32)> = self
            .scars
            .iter()
            .map(|s| {
                let half = s.width_mm * mm / 2.0;
                let blend = (s.blend_mm * mm).max(0.5);
                let path = if s.points.len() >= 3 {
                    smooth_curve(&s.points, 2.0)
                } else {
                    s.points.clone()
                };
                (Polyline::new(&path, false, half + blend), half, blend, s.density)
            })
            .collect();
        let noise_seed = seed ^ 0x4A11_71AE;
        let has_front = line.is_some() || region.is_some();

        Ok(DensityField::from_row_fn(self.width, self.height, |y, row| {
            let fy = y as f32 + 0.5;
            let mut behind_x = Vec::new();
            let mut region_x = Vec::new();
            if let Some(l) = &line {
                row_crossings(&l.behind, fy, &mut behind_x);
            }
            if let Some((poly, _)) = &region {
                row_crossings(poly, fy, &mut region_x);
            }
            let (mut bi, mut ri) = (0, 0);
            for (x, out) in row.iter_mut().enumerate() {
                let fx = x as f32 + 0.5;
                while bi < behind_x.len() && behind_x[bi] < fx {
                    bi += 1;
                }
                while ri < region_x.len() && region_x[ri] < fx {
                    ri += 1;
                }
                let mut density = if has_front { 1.0 } else { 0.0 };
                if let Some(l) = &line {
                    let behind = bi % 2 == 1;
                    density *= match l.line.nearest([fx, fy]) {
                        None => behind as u8 as f32,
                        Some(n) => {
                            let signed = if behind { n.distance } else { -n.distance };
                            let d = signed + amplitude * edge_noise(n.arc / wave, noise_seed);
                            edge_profile(d, transition, e.strays, stray_reach)
                        }
                    };
                }
                if let Some((_, outline)) = &region {
                    let inside = ri % 2 == 1;
                    density *= match (inside, outline.nearest([fx, fy])) {
                        (false, _) => 0.0,
                        (true, None) => 1.0,
                        (true, Some(n)) => (n.distance / region_edge).min(1.0),
                    };
                }
                for (path, half, blend, scar_density) in &scars {
                    if let Some(n) = path.nearest([fx, fy]) {
                        let cover = 1.0 - ((n.distance - half) / blend).clamp(0.0, 1.0);
                        density = density.max(cover * scar_density);
                    }
                }
                *out = density;
            }
        }))
    }
}

/// Density at signed distance `d` behind the (irregular) edge, pixels: a linear ramp over `transition`, and
/// tapering strays up to `stray_reach` ahead of it.
fn edge_profile(d: f32, transition: f32, strays: f32, stray_reach: f32) -> f32 {
    if d >= transition {
        1.0
    } else if d >= 0.0 {
        (d / transition).max(strays)
    } else if stray_reach > 0.0 && d > -stray_reach {
        strays * (1.0 + d / stray_reach)
    } else {
        0.0
    }
}

/// Smooth noise along the line in −1…1, with waves about one unit of `s` long: two octaves of value noise.
/// Bounded, so the edge never strays further than the irregularity amplitude.
fn edge_noise(s: f32, seed: u64) -> f32 {
    let octave = |s: f32, salt: u64| {
        let i = s.floor();
        let f = s - i;
        let f = f * f * (3.0 - 2.0 * f);
        let a = lattice_1d(i as i64, seed ^ salt);
        let b = lattice_1d(i as i64 + 1, seed ^ salt);
        a + (b - a) * f
    };
    0.7 * octave(s, 0) + 0.3 * octave(s * 2.7, 0x9E37)
}

/// A hash of a lattice index to −1…1.
fn lattice_1d(i: i64, seed: u64) -> f32 {
    let mut z = (i as u64).wrapping_add(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
}
