//! Composing a density field from every source a treatment may have.
//!
//! The density at a pixel is the product of: the design (hairline ramp and region, with scars filled in), a
//! painted mask, a density map (e.g. denser at the crown), and one minus each exclusion mask (ears, long hair,
//! moles). Every source is optional; at least one of design and mask must be given.

use crate::design::ResolvedDesign;
use crate::error::{Error, Result};
use crate::field::DensityField;
use crate::scale::estimate_px_per_mm;

/// The sources of one photo's density field, all the photo's size.
#[derive(Debug, Clone, Default)]
pub struct FieldSources {
    /// A hairline design, resolved against the photo.
    pub design: Option<ResolvedDesign>,
    /// A painted treatment mask.
    pub mask: Option<DensityField>,
    /// A density map multiplied in.
    pub density_map: Option<DensityField>,
    /// Exclusion masks: white = no impressions.
    pub exclusions: Vec<DensityField>,
}

/// The scale a field was built at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Pixels per mm.
    pub px_per_mm: f32,
    /// Whether it was estimated from the treated region (rather than given).
    pub estimated: bool,
}

impl FieldSources {
    /// Builds the field for a `width`×`height` photo. A design needs a scale for its millimetres: when
    /// `px_per_mm` is `None` it is estimated from the treated region's width, as for a mask.
    pub fn build(&self, width: u32, height: u32, px_per_mm: Option<f32>, seed: u64) -> Result<(DensityField, Scale)> {
        if self.design.is_none() && self.mask.is_none() {
            return Err(Error::param(
                "design",
                "none",
                "give a hairline design or a treatment mask (or both)",
            ));
        }
        let compose = |scale: f32| -> Result<DensityField> {
            let mut field = match (&self.design, &self.mask) {
                (Some(d), Some(m)) => {
                    let mut f = d.field(scale, seed)?;
                    f.multiply(m)?;
                    f
                }
                (Some(d), None) => d.field(scale, seed)?,
                (None, Some(m)) => m.clone(),
                (None, None) => unreachable!("checked above"),
            };
            if (field.width(), field.height()) != (width, height) {
                return Err(Error::SizeMismatch {
                    what: "the treatment".into(),
                    expected_w: width,
                    expected_h: height,
                    found_w: field.width(),
                    found_h: field.height(),
                });
            }
            if let Some(map) = &self.density_map {
                field.multiply(map)?;
            }
            for ex in &self.exclusions {
                field.exclude(ex)?;
            }
            Ok(field)
        };
        if let Some(s) = px_per_mm {
            crate::params::check_scale(s)?;
            return Ok((
                compose(s)?,
                Scale {
                    px_per_mm: s,
                    estimated: false,
                },
            ));
        }
        let provisional = self.design.as_ref().map_or(1.0, |d| d.rough_px_per_mm());
        let field = compose(provisional)?;
        let estimated = estimate_px_per_mm(&field)?;
        // A design's ramps are in mm: redraw it at the estimated scale (a mask alone does not depend on it).
        let field = if self.design.is_some() && (estimated / provisional - 1.0).abs() > 1e-3 {
            compose(estimated)?
        } else {
            field
        };
        Ok((
            field,
            Scale {
                px_per_mm: estimated,
                estimated: true,
            },
        ))
    }
}
