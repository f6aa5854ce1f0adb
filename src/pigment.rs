//! The pigment model: which shade each impression carries, how treatment sessions build the result up, how
//! fresh work differs from healed, and how pigment ages over the years.
//!
//! Placement decides *where* impressions can be; this module decides which of them exist after session K of
//! N and how each looks on the day shown. Every choice comes from an impression's own rank and identity, so a
//! later session contains every impression of an earlier one, unchanged in place and shade.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::colour::{linear_to_srgb, srgb_to_linear};
use crate::error::{Error, Result};
use crate::field::DensityField;
use crate::params::{Params, Rgb8};
use crate::place::Impression;

/// The three standard dilutions of carbon pigment, as seen at full opacity through the skin, dark to light.
pub const DILUTIONS: [(&str, Rgb8); 3] = [
    ("dark", Rgb8([0x22, 0x20, 0x25])),
    ("medium", Rgb8([0x3a, 0x37, 0x3d])),
    ("light", Rgb8([0x55, 0x51, 0x57])),
];

/// The pigment plan: `auto` (chosen from the photo), or a mix of 1–3 shades with proportions.
///
/// Written as text: `auto`, `dark`, `medium`, `light`, `#rrggbb`, or a mix such as `dark:70,medium:30`
/// (proportions are relative; `dark,#3a3a3a` mixes equally).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ShadeSpec {
    /// Matched to the client's remaining hair and skin in the photo (see [`auto_shade`]).
    Auto,
    /// Shades and their proportions (proportions sum to 1).
    Mix(Vec<(Rgb8, f32)>),
}

impl ShadeSpec {
    /// One shade, all impressions.
    pub fn single(shade: Rgb8) -> Self {
        ShadeSpec::Mix(vec![(shade, 1.0)])
    }
}

impl Default for ShadeSpec {
    fn default() -> Self {
        ShadeSpec::single(Rgb8([0x26, 0x24, 0x2a]))
    }
}

impl FromStr for ShadeSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(ShadeSpec::Auto);
        }
        let bad = |why: &str| Error::param("shade", format!("{s:?}"), why.to_string());
        let mut mix = Vec::new();
        for part in s.split(',') {
            let (name, weight) = match part.split_once(':') {
                Some((n, w)) => {
                    let w: f32 = w
                        .trim()
                        .parse()
                        .map_err(|_| bad("a proportion after ':' must be a number"))?;
                    (n.trim(), w)
                }
                None => (part.trim(), 1.0),
            };
            if !(w_ok(weight)) {
                return Err(bad("proportions must be positive numbers"));
            }
            let colour = match DILUTIONS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                Some((_, c)) => *c,
                None => name
                    .parse::<Rgb8>()
                    .map_err(|_| bad("expected auto, dark, medium, light, #rrggbb, or a mix like dark:70,medium:30"))?,
            };
            mix.push((colour, weight));
        }
        if mix.is_empty() || mix.len() > 3 {
            return Err(bad("a mix has 1 to 3 shades"));
        }
        let total: f32 = mix.iter().map(|m| m.1).sum();
        Ok(ShadeSpec::Mix(mix.into_iter().map(|(c, w)| (c, w / total)).collect()))
    }
}

fn w_ok(w: f32) -> bool {
    w.is_finite() && w > 0.0
}

impl TryFrom<String> for ShadeSpec {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<ShadeSpec> for String {
    fn from(s: ShadeSpec) -> String {
        s.to_string()
    }
}

impl fmt::Display for ShadeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShadeSpec::Auto => f.write_str("auto"),
            ShadeSpec::Mix(mix) if mix.len() == 1 => write!(f, "{}", mix[0].0),
            ShadeSpec::Mix(mix) => {
                let parts: Vec<String> = mix.iter().map(|(c, w)| format!("{c}:{:.0}", w * 100.0)).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

/// The shade `auto` chose, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutoShade {
    /// The pigment colour chosen.
    pub shade: Rgb8,
    /// The client's hair colour as sampled.
    pub hair: Rgb8,
    /// The skin under the treated region (its median).
    pub skin: Rgb8,
    /// How much the target was lightened toward the skin (0 on medium and dark skin, up to 0.12 on the palest).
    pub lightened: f32,
    /// One sentence for the clinician.
    pub reason: String,
}

/// Linear RGB of an sRGB colour.
fn lin(c: Rgb8) -> [f32; 3] {
    c.0.map(|v| srgb_to_linear(v as f32 / 255.0))
}

fn to_srgb(l: [f32; 3]) -> Rgb8 {
    Rgb8(l.map(|v| (linear_to_srgb(v.clamp(0.0, 1.0)) * 255.0).round() as u8))
}

/// Relative luminance of linear RGB.
fn luminance(l: [f32; 3]) -> f32 {
    0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2]
}

/// Chooses the pigment from the photo: the client's hair and the skin under the treated region.
///
/// The hair is sampled from `hair_sample` (a field marking where the hair is) or, without one, found as the
/// darkest, most textured pixels in a band around the treated region. The skin is the median of the treated
/// region's pixels. The pigment at full strength is then the hair's own colour — lightened toward the skin on
/// pale skin (a lighter dilution, as practitioners use there, up to 12%) and not at all on dark skin — so the
/// impressions take the hair's hue and depth, and darker hair gets darker pigment.
pub fn auto_shade(
    photo: &image::RgbImage,
    field: &DensityField,
    hair_sample: Option<&DensityField>,
) -> Result<AutoShade> {
    let (w, h) = photo.dimensions();
    let pixel = |x: u32, y: u32| lin(Rgb8(photo.get_pixel(x, y).0));
    let mut skin: Vec<[f32; 3]> = Vec::new();
    let step = ((w as u64 * h as u64 / 400_000) as f64).sqrt().max(1.0) as u32;
    for y in (0..h).step_by(step as usize) {
        for x in (0..w).step_by(step as usize) {
            if field.get(x, y) > 0.5 {
                skin.push(pixel(x, y));
            }
        }
    }
    if skin.is_empty() {
        return Err(Error::EmptyField);
    }
    let skin = median_colour(&mut skin);
    let hair = match hair_sample {
        Some(sample) => {
            let mut px: Vec<[f32; 3]> = Vec::new();
            for y in (0..h).step_by(step as usize) {
                for x in (0..w).step_by(step as usize) {
                    if sample.get(x, y) > 0.5 {
                        px.push(pixel(x, y));
                    }
                }
            }
            if px.is_empty() {
                return Err(Error::param("hair_sample", "empty", "the hair sample marks no pixel"));
            }
            darkest_quarter(&mut px)
        }
        None => find_hair(photo, field)?,
    };
    // Lighter dilution on pale skin: mix the target toward the skin, up to 12% on the palest.
    let skin_y = luminance(skin);
    let lightened = (0.12 * ((skin_y - 0.35) / 0.3)).clamp(0.0, 0.12);
    let target: [f32; 3] = std::array::from_fn(|c| hair[c] + (skin[c] - hair[c]) * lightened);
    let shade = target;
    let (hair, skin, shade) = (to_srgb(hair), to_srgb(skin), to_srgb(shade));
    let reason = format!(
        "hair {hair} on skin {skin}: pigment {shade}, the hair's own colour{}",
        if lightened > 0.01 {
            format!(
                ", lightened {:.0}% toward the skin for a pale complexion",
                lightened * 100.0
            )
        } else {
            String::new()
        }
    );
    Ok(AutoShade {
        shade,
        hair,
        skin,
        lightened,
        reason,
    })
}

fn median_colour(px: &mut [[f32; 3]]) -> [f32; 3] {
    px.sort_by(|a, b| luminance(*a).total_cmp(&luminance(*b)));
    px[px.len() / 2]
}

/// Mean colour of the darkest quarter of `px` (hair strands, not the skin between them).
fn darkest_quarter(px: &mut [[f32; 3]]) -> [f32; 3] {
    px.sort_by(|a, b| luminance(*a).total_cmp(&luminance(*b)));
    let n = (px.len() / 4).max(1);
    let sum = px[..n]
        .iter()
        .fold([0.0; 3], |s, p| [s[0] + p[0], s[1] + p[1], s[2] + p[2]]);
    sum.map(|v| v / n as f32)
}

/// Hair near the treated region: in a band around it, pixels much darker than their surroundings are hair
/// strands (textured); the darkest quarter of those is the hair colour.
fn find_hair(photo: &image::RgbImage, field: &DensityField) -> Result<[f32; 3]> {
    let bbox = field.bounding_box().ok_or(Error::EmptyField)?;
    let (w, h) = photo.dimensions();
    let margin = (bbox.width().max(bbox.height()) / 6).max(8);
    let (x0, y0) = (bbox.x0.saturating_sub(margin), bbox.y0.saturating_sub(margin));
    let (x1, y1) = ((bbox.x1 + margin).min(w - 1), (bbox.y1 + margin).min(h - 1));
    let luma = |x: u32, y: u32| luminance(lin(Rgb8(photo.get_pixel(x, y).0)));
    let mut strands: Vec<[f32; 3]> = Vec::new();
    let r = 3u32;
    for y in (y0 + r..y1.saturating_sub(r)).step_by(2) {
        for x in (x0 + r..x1.saturating_sub(r)).step_by(2) {
            // Outside the treatment, but near it.
            if field.level(x, y) > 0 {
                continue;
            }
            let centre = luma(x, y);
            let around = (luma(x - r, y) + luma(x + r, y) + luma(x, y - r) + luma(x, y + r)) / 4.0;
            if centre < 0.6 * around && around > 0.02 {
                strands.push(lin(Rgb8(photo.get_pixel(x, y).0)));
            }
        }
    }
    if strands.len() < 50 {
        return Err(Error::param(
            "shade",
            "auto",
            "no hair found near the treated region; give --hair-sample or a shade",
        ));
    }
    Ok(darkest_quarter(&mut strands))
}

/// Fraction of the final density present after session `k` of `n`: the first session lays about 40%, later
/// ones fill the gaps (1 − (1 − k/n)^1.3).
pub fn session_fraction(k: u8, n: u8) -> f32 {
    let t = (k.min(n) as f32 / n.max(1) as f32).clamp(0.0, 1.0);
    1.0 - (1.0 - t).powf(1.3)
}

/// Opacity of impressions laid in session `j` (1-based): the first session uses a lighter hand.
fn session_tone(j: u8) -> f32 {
    match j {
        1 => 0.8,
        2 => 0.92,
        _ => 1.0,
    }
}

/// How much fresh impressions (on the day of their session) are larger and darker than healed ones: holes
/// shrink by about half as they heal.
pub const FRESH_SIZE: f32 = 1.7;
/// Opacity factor of fresh impressions.
pub const FRESH_OPACITY: f32 = 1.2;
/// Years for healed pigment to lose half its strength (touch-ups come every 3–6 years).
pub const FADE_HALF_LIFE_YEARS: f32 = 6.0;
/// Spread of an impression's radius per year, as a fraction (capped at +50%).
pub const SPREAD_PER_YEAR: f32 = 0.04;
/// Growth of the skin blur per year, mm (added in quadrature).
pub const BLUR_PER_YEAR_MM: f32 = 0.012;
/// The cool blue-grey carbon drifts toward under the skin.
pub const AGED_TINT: Rgb8 = Rgb8([0x46, 0x58, 0x6e]);
/// Fraction of the way to [`AGED_TINT`] per year (capped at 60%).
pub const TINT_PER_YEAR: f32 = 0.08;

/// Keeps the impressions that exist after session `params.session` of `params.sessions`, and sets each one's
/// session, shade and look for the day shown (fresh or healed, `params.years` later); `mix` is the shade
/// proportions (index = shade).
pub fn apply(impressions: &mut Vec<Impression>, params: &Params, mix: &[(Rgb8, f32)]) {
    let sessions = Sessions::new(params, mix);
    impressions.retain(|imp| sessions.exists(imp.rank, imp.threshold));
    impressions
        .par_iter_mut()
        .with_min_len(4096)
        .for_each(|imp| sessions.finish(imp));
}

/// Which impressions exist by the session shown, and how each looks on that day ([`apply`], one impression
/// at a time, so that placement can do it as it draws them).
pub(crate) struct Sessions<'a> {
    /// Share of the final impressions laid by the end of each session.
    cumulative: Vec<f32>,
    /// The session shown (1-based) and its share.
    shown: u8,
    keep: f32,
    fresh: bool,
    /// Opacity left after `years` of fading, and the growth of the radius.
    fade: f32,
    spread: f32,
    mix: &'a [(Rgb8, f32)],
}

impl<'a> Sessions<'a> {
    pub(crate) fn new(params: &Params, mix: &'a [(Rgb8, f32)]) -> Self {
        let (n, k) = (params.sessions, params.session_shown());
        let cumulative: Vec<f32> = (1..=n).map(|j| session_fraction(j, n)).collect();
        let keep = cumulative[(k - 1) as usize];
        Sessions {
            cumulative,
            shown: k,
            keep,
            fresh: params.fresh,
            fade: 0.5f32.powf(params.years / FADE_HALF_LIFE_YEARS),
            spread: (1.0 + SPREAD_PER_YEAR * params.years).min(1.5),
            mix,
        }
    }

    /// Whether the impression of `rank` where the local threshold is `threshold` has been laid by the session
    /// shown: its rank relative to the local density is below that session's share.
    pub(crate) fn exists(&self, rank: f32, threshold: f32) -> bool {
        relative_rank(rank, threshold) < self.keep
    }

    /// Sets the session, shade and look of an impression that [exists](Self::exists).
    pub(crate) fn finish(&self, imp: &mut Impression) {
        let relative = relative_rank(imp.rank, imp.threshold);
        let last = self.cumulative.len() - 1;
        let j = self.cumulative.iter().position(|&c| relative < c).unwrap_or(last) as u8 + 1;
        imp.session = j;
        imp.shade = pick_shade(imp.rank, self.mix);
        imp.opacity *= session_tone(j) * self.fade;
        if self.fresh && j == self.shown {
            imp.radius_major *= FRESH_SIZE;
            imp.radius_minor *= FRESH_SIZE;
            imp.opacity *= FRESH_OPACITY;
        }
        imp.radius_major *= self.spread;
        imp.radius_minor *= self.spread;
        imp.opacity = imp.opacity.min(1.0);
    }
}

/// An impression's rank relative to the local density where it sits: the share of the final impressions
/// there that come before it, which decides the session that lays it.
fn relative_rank(rank: f32, threshold: f32) -> f32 {
    rank / threshold.max(1e-6)
}

/// The shade index for an impression: by a hash of its rank against the cumulative proportions, so the
/// choice is fixed per impression and the proportions hold over any region.
fn pick_shade(rank: f32, mix: &[(Rgb8, f32)]) -> u8 {
    if mix.len() <= 1 {
        return 0;
    }
    let mut z = (rank.to_bits() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z ^= z >> 29;
    z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 32;
    let u = (z >> 40) as f32 / (1u64 << 24) as f32;
    let mut acc = 0.0;
    for (i, (_, w)) in mix.iter().enumerate() {
        acc += w;
        if u < acc {
            return i as u8;
        }
    }
    (mix.len() - 1) as u8
}

/// The shades as they look `years` after treatment: drifted toward a cool blue-grey.
pub fn aged_shades(mix: &[(Rgb8, f32)], years: f32) -> Vec<Rgb8> {
    let t = (TINT_PER_YEAR * years).clamp(0.0, 0.6);
    let tint = lin(AGED_TINT);
    mix.iter()
        .map(|(c, _)| {
            let l = lin(*c);
            to_srgb(std::array::from_fn(|i| l[i] + (tint[i] - l[i]) * t))
        })
        .collect()
}

/// Skin blur (mm) `years` after treatment.
pub fn aged_blur_mm(blur_mm: f32, years: f32) -> f32 {
    (blur_mm * blur_mm + (BLUR_PER_YEAR_MM * years).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shade_specs_parse_and_print() {
        assert_eq!("auto".parse::<ShadeSpec>().unwrap(), ShadeSpec::Auto);
        assert_eq!(
            "medium".parse::<ShadeSpec>().unwrap(),
            ShadeSpec::single(DILUTIONS[1].1)
        );
        let mix: ShadeSpec = "dark:70,#404040:30".parse().unwrap();
        assert_eq!(mix.to_string(), "#222025:70,#404040:30");
        assert!("dark:0".parse::<ShadeSpec>().is_err());
        assert!("a,b,c,d".parse::<ShadeSpec>().is_err());
        assert!("#12".parse::<ShadeSpec>().is_err());
    }

    #[test]
    fn sessions_build_up_monotonically() {
        let f: Vec<f32> = (1..=3).map(|k| session_fraction(k, 3)).collect();
        assert!(f[0] > 0.3 && f[0] < 0.5 && f[0] < f[1] && f[1] < f[2] && (f[2] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn shade_picks_follow_the_proportions() {
        let mix = [(Rgb8([0; 3]), 0.7), (Rgb8([9; 3]), 0.3)];
        let n = 20_000;
        let first = (0..n)
            .filter(|i| pick_shade((*i as f32 + 0.5) / n as f32, &mix) == 0)
            .count();
        assert!((first as f32 / n as f32 - 0.7).abs() < 0.02, "{first}");
    }
}
