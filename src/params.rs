//! Treatment parameters: what a practitioner would choose, in physical units.
//!
//! One plain struct, used by the library, `smpsim render` and (later) config files, so a design means the same
//! thing wherever it is written down. Defaults are grounded in SMP practice; see each field.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// An sRGB colour, written `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rgb8(pub [u8; 3]);

impl FromStr for Rgb8 {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let hex = s.trim().strip_prefix('#').unwrap_or(s.trim());
        let bad = || Error::param("shade", format!("{s:?}"), "expected a colour written #rrggbb");
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        Ok(Rgb8([channel(0)?, channel(2)?, channel(4)?]))
    }
}

impl TryFrom<String> for Rgb8 {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Rgb8> for String {
    fn from(c: Rgb8) -> String {
        c.to_string()
    }
}

impl fmt::Display for Rgb8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

/// Everything that shapes a treatment, in physical units.
///
/// Build with `Params::default()` and change fields, then call [`Params::validate`] (the render functions do).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Impressions per cm² of scalp where the density field is 1 (white mask).
    /// Finished SMP aims at about half of natural density, which reads as a fresh shave: a scalp has 80–100
    /// follicular units per cm² of 1–4 hairs each (about 220 hairs per cm²), and on a shaved head every hair
    /// shows as its own dot, so half is about 110 dots per cm², matching practitioners' "under 1 mm apart".
    /// Default: 100 per cm².
    pub density: f32,
    /// Mean impression diameter in mm. Needles are 0.15–0.25 mm; healed impressions shrink to about
    /// 0.1–0.15 mm, fresh ones look up to 0.25 mm. Default: 0.15 mm (healed).
    pub dot_size: f32,
    /// Spread of impression diameters, as a fraction of the mean (log-normal). Default: 0.2.
    pub size_variation: f32,
    /// Largest ratio of an impression's long to short axis; each impression draws its own between 1 and this,
    /// at a random angle. Default: 1.35.
    pub max_elongation: f32,
    /// How far pigment under the skin is blurred, as a Gaussian standard deviation in mm. Default: 0.03 mm.
    pub edge_softness: f32,
    /// Mean opacity of one impression's pigment (0–1): how much light it absorbs at its centre. Default: 0.75.
    pub opacity: f32,
    /// Spread of opacities between impressions, as a fraction of the mean. Default: 0.15.
    pub opacity_variation: f32,
    /// Spread of tone (pigment dilution) between impressions, as a fraction. Default: 0.1.
    pub tone_variation: f32,
    /// Pigment: `auto` (matched to the photo's hair and skin), a named dilution (`dark`, `medium`, `light`),
    /// `#rrggbb` as seen at full opacity through the skin, or a mix such as `dark:70,medium:30`.
    /// Default: #26242a, a dark, slightly cool neutral.
    pub shade: crate::pigment::ShadeSpec,
    /// Treatment sessions in the plan (real treatment takes 3–4, a week or two apart). Default: 3.
    pub sessions: u8,
    /// Which session's result to show, 1 to `sessions`; `None` shows the finished treatment. Default: `None`.
    pub session: Option<u8>,
    /// Show the day of the session: its impressions larger and darker, before they heal and shrink (earlier
    /// sessions' impressions are healed). Default: false (healed).
    pub fresh: bool,
    /// Years after treatment: pigment fades (half-life 6 years), softens and spreads slightly, and drifts
    /// toward a cool blue-grey. An approximation of typical carbon pigment; touch-ups come every 3–6 years.
    /// Default: 0.
    pub years: f32,
    /// Where the client's remaining hair is, for `shade = auto`: a pixel box `[x, y, width, height]` of the
    /// upright photo. `None` finds it near the treated region. Default: `None`.
    pub hair_sample: Option<[u32; 4]>,
    /// Photo scale in pixels per mm. `None` estimates it from the treated region's width. Default: `None`.
    pub px_per_mm: Option<f32>,
    /// Seed for placement and per-impression variation. Same seed, same output. Default: 1.
    pub seed: u64,
    /// The head's outline in the photo (an ellipse, pixels). When given, placement follows the curved scalp:
    /// image-space density rises and impressions are foreshortened toward the silhouette, and without
    /// `px_per_mm` the scale comes from the head's width. `None` treats the photo as flat. Default: `None`.
    pub head: Option<crate::head::HeadModel>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            density: 100.0,
            dot_size: 0.15,
            size_variation: 0.2,
            max_elongation: 1.35,
            edge_softness: 0.03,
            opacity: 0.75,
            opacity_variation: 0.15,
            tone_variation: 0.1,
            shade: crate::pigment::ShadeSpec::default(),
            sessions: 3,
            session: None,
            fresh: false,
            years: 0.0,
            hair_sample: None,
            px_per_mm: None,
            seed: 1,
            head: None,
        }
    }
}

/// Checks that `value` is finite and within `[lo, hi]`.
fn check_range(name: &'static str, value: f32, lo: f32, hi: f32, unit: &str) -> Result<()> {
    if !value.is_finite() || value < lo || value > hi {
        return Err(Error::param(
            name,
            value,
            format!("must be a number from {lo} to {hi}{unit}"),
        ));
    }
    Ok(())
}

impl Params {
    /// Largest density accepted, per cm²: well past natural hair density (about 220 hairs per cm²).
    pub const MAX_DENSITY: f32 = 1000.0;

    /// Checks every field; the error names the first field at fault and its value.
    pub fn validate(&self) -> Result<()> {
        if !self.density.is_finite() || self.density <= 0.0 || self.density > Self::MAX_DENSITY {
            return Err(Error::param(
                "density",
                self.density,
                format!(
                    "must be more than 0 and at most {} impressions per cm²",
                    Self::MAX_DENSITY
                ),
            ));
        }
        if !self.dot_size.is_finite() || self.dot_size <= 0.0 || self.dot_size > 2.0 {
            return Err(Error::param(
                "dot_size",
                self.dot_size,
                "must be more than 0 and at most 2 mm",
            ));
        }
        check_range("size_variation", self.size_variation, 0.0, 1.0, "")?;
        check_range("max_elongation", self.max_elongation, 1.0, 3.0, "")?;
        check_range("edge_softness", self.edge_softness, 0.0, 1.0, " mm")?;
        check_range("opacity", self.opacity, 0.0, 1.0, "")?;
        check_range("opacity_variation", self.opacity_variation, 0.0, 1.0, "")?;
        check_range("tone_variation", self.tone_variation, 0.0, 1.0, "")?;
        if let Some(s) = self.px_per_mm {
            check_scale(s)?;
        }
        if !(1..=8).contains(&self.sessions) {
            return Err(Error::param("sessions", self.sessions, "must be from 1 to 8"));
        }
        if let Some(k) = self.session {
            if k == 0 || k > self.sessions {
                return Err(Error::param(
                    "session",
                    k,
                    format!("must be from 1 to sessions ({})", self.sessions),
                ));
            }
        }
        check_range("years", self.years, 0.0, 30.0, " years")?;
        if let Some(h) = &self.head {
            h.validate()?;
        }
        if let Some([_, _, w, h]) = self.hair_sample {
            if w == 0 || h == 0 {
                return Err(Error::param(
                    "hair_sample",
                    format!("{w}x{h}"),
                    "the box must not be empty",
                ));
            }
        }
        Ok(())
    }

    /// The session whose result is shown: `session`, or the last one.
    pub fn session_shown(&self) -> u8 {
        self.session.unwrap_or(self.sessions)
    }
}

/// Checks a photo scale in pixels per mm: finite, positive, and not absurd.
pub(crate) fn check_scale(px_per_mm: f32) -> Result<()> {
    if !px_per_mm.is_finite() || px_per_mm <= 0.0 || px_per_mm > 500.0 {
        return Err(Error::param(
            "px_per_mm",
            px_per_mm,
            "must be more than 0 and at most 500 pixels per mm",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Params::default().validate().unwrap();
    }

    #[test]
    fn rejects_bad_numbers_naming_the_field() {
        type Spoil = fn(&mut Params);
        let cases: [(Spoil, &str); 6] = [
            (|p| p.density = -3.0, "density"),
            (|p| p.density = f32::NAN, "density"),
            (|p| p.dot_size = 0.0, "dot_size"),
            (|p| p.opacity = 1.5, "opacity"),
            (|p| p.px_per_mm = Some(0.0), "px_per_mm"),
            (|p| p.edge_softness = f32::INFINITY, "edge_softness"),
        ];
        for (spoil, name) in cases {
            let mut p = Params::default();
            spoil(&mut p);
            let err = p.validate().unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn shade_parses_and_prints() {
        let c: Rgb8 = "#1A2b3c".parse().unwrap();
        assert_eq!(c.0, [0x1a, 0x2b, 0x3c]);
        assert_eq!(c.to_string(), "#1a2b3c");
        assert!("#12345".parse::<Rgb8>().is_err());
        assert!("#12345g".parse::<Rgb8>().is_err());
    }
}
