//! The whole in-memory job: scale, shade, placement, pigment model, stamping. No files.

use image::{DynamicImage, RgbImage};
use serde::Serialize;
use std::borrow::Cow;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::field::DensityField;
use crate::params::{check_scale, Params, Rgb8};
use crate::pigment::{self, AutoShade, ShadeSpec};
use crate::place::{place_with, Impression};
use crate::scale::estimate_px_per_mm;
use crate::stamp::{stamp, stamp_ready, Channel, Ink, Ready};

/// What a render did, for reports and `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderStats {
    /// Impressions placed and stamped.
    pub impressions: usize,
    /// Scale used, pixels per mm.
    pub px_per_mm: f32,
    /// Whether the scale was estimated from the treated region (rather than given).
    pub px_per_mm_estimated: bool,
    /// Treated scalp area in cm², weighted by density (a grey mask pixel counts by its fraction).
    pub treated_area_cm2: f64,
    /// The shade (or mix) used, as text (`#rrggbb` or `#rrggbb:70,#rrggbb:30`).
    pub shade: String,
    /// What `shade = auto` chose and why.
    pub auto_shade: Option<AutoShade>,
    /// Seconds spent placing impressions.
    pub place_seconds: f64,
    /// Seconds spent stamping them.
    pub stamp_seconds: f64,
}

/// A rendered *after* image with its statistics.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The photo with the treatment applied.
    pub image: RgbImage,
    /// What the render did.
    pub stats: RenderStats,
}

/// Renders the treatment onto a copy of `photo`. See [`render_mut`].
#[must_use = "the rendered image is returned, the photo is left as it was"]
pub fn render(photo: &RgbImage, field: &DensityField, params: &Params) -> Result<Rendered> {
    let mut image = photo.clone();
    let stats = render_mut(&mut image, field, params)?;
    Ok(Rendered { image, stats })
}

/// Renders the treatment onto `photo` in place: places impressions by `field` and `params`, then stamps them.
///
/// `field` must be the photo's size. The photo is unchanged if an error is returned.
pub fn render_mut(photo: &mut RgbImage, field: &DensityField, params: &Params) -> Result<RenderStats> {
    let (params, auto) = resolve_shade(photo, field, params)?;
    let (impressions, stats) = plan(photo.width(), photo.height(), field, &params)?;
    let start = Instant::now();
    stamp_impressions(photo, field, &impressions, &params, stats.px_per_mm)?;
    Ok(RenderStats {
        stamp_seconds: start.elapsed().as_secs_f64(),
        auto_shade: auto,
        ..stats
    })
}

/// Renders the treatment onto any decoded photo, keeping its depth and alpha: 8-bit stays 8-bit, 16-bit stays
/// 16-bit (untouched pixels keep every bit), alpha is carried through unchanged, greyscale becomes RGB (pigment
/// has a colour) and floating point becomes 16-bit.
#[must_use = "the rendered image is returned, the photo is left as it was"]
pub fn render_image(
    photo: &DynamicImage,
    field: &DensityField,
    params: &Params,
) -> Result<(DynamicImage, RenderStats)> {
    let mut image = match photo {
        DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_)
        | DynamicImage::ImageRgb16(_)
        | DynamicImage::ImageRgba16(_) => photo.clone(),
        other => stampable(other),
    };
    let stats = render_image_mut(&mut image, field, params)?;
    Ok((image, stats))
}

/// The photo in a layout stamping works on: 8- or 16-bit RGB or RGBA.
fn stampable(photo: &DynamicImage) -> DynamicImage {
    match photo {
        DynamicImage::ImageLuma8(_) => DynamicImage::ImageRgb8(photo.to_rgb8()),
        DynamicImage::ImageLumaA8(_) => DynamicImage::ImageRgba8(photo.to_rgba8()),
        _ if photo.color().has_alpha() => DynamicImage::ImageRgba16(photo.to_rgba16()),
        _ => DynamicImage::ImageRgb16(photo.to_rgb16()),
    }
}

/// Like [`render_image`], but in place: an 8- or 16-bit RGB or RGBA photo is stamped without a copy (other
/// kinds are converted first). The photo is unchanged if an error is returned.
pub fn render_image_mut(photo: &mut DynamicImage, field: &DensityField, params: &Params) -> Result<RenderStats> {
    let (params, auto) = match (&params.shade, &*photo) {
        (ShadeSpec::Auto, DynamicImage::ImageRgb8(rgb)) => resolve_shade(rgb, field, params)?,
        (ShadeSpec::Auto, other) => resolve_shade(&other.to_rgb8(), field, params)?,
        _ => (Cow::Borrowed(params), None),
    };
    let planned = plan(photo.width(), photo.height(), field, &params)?;
    let stats = render_planned_mut(photo, field, &params, planned)?;
    Ok(RenderStats {
        auto_shade: auto,
        ..stats
    })
}

/// [`render_image_mut`] with the impressions already placed: `planned` is what [`plan`] (or
/// [`plan_and_prepare`]) gave for this photo's size, `field` and `params` — placed, say, while the photo was
/// still decoding ([`crate::io::load_photo_beside`]), which is what `smpsim render` does. `params.shade` must
/// be resolved (not `auto`, which is chosen from the photo's pixels: see [`resolve_shade`]).
///
/// The photo is unchanged if an error is returned.
pub fn render_planned_mut(
    photo: &mut DynamicImage,
    field: &DensityField,
    params: &Params,
    planned: impl Into<Planned>,
) -> Result<RenderStats> {
    let Planned {
        impressions,
        stats,
        ready,
    } = planned.into();
    if params.shade == ShadeSpec::Auto {
        return Err(Error::param(
            "shade",
            "auto",
            "needs the photo: render with render_image_mut(), or call resolve_shade() first",
        ));
    }
    check_field_size(field, photo.width(), photo.height())?;
    let start = Instant::now();
    let ink = ink(params, stats.px_per_mm);
    if !matches!(
        photo,
        DynamicImage::ImageRgb8(_)
            | DynamicImage::ImageRgba8(_)
            | DynamicImage::ImageRgb16(_)
            | DynamicImage::ImageRgba16(_)
    ) {
        if !impressions.iter().all(Impression::is_drawable) {
            return Err(undrawable(&impressions));
        }
        *photo = stampable(photo);
    }
    // Impressions prepared ahead for an 8-bit photo of this height and this ink are stamped as they are.
    let ready = ready.filter(|r| r.fits::<u8>(&ink, photo.height()));
    let stamped = match (photo, &ready) {
        (DynamicImage::ImageRgb8(img), Some(ready)) => {
            stamp_ready(img, 3, field, ready, u8::tables());
            Ok(())
        }
        (DynamicImage::ImageRgba8(img), Some(ready)) => {
            stamp_ready(img, 4, field, ready, u8::tables());
            Ok(())
        }
        (DynamicImage::ImageRgb8(img), None) => stamp(img, 3, field, &impressions, &ink),
        (DynamicImage::ImageRgba8(img), None) => stamp(img, 4, field, &impressions, &ink),
        (DynamicImage::ImageRgb16(img), _) => stamp(img, 3, field, &impressions, &ink),
        (DynamicImage::ImageRgba16(img), _) => stamp(img, 4, field, &impressions, &ink),
        _ => unreachable!("made stampable above"),
    };
    // Stamping checks every impression before it changes a pixel (and a photo that needed converting had
    // them checked above; prepared ones were checked when prepared), so the photo is unchanged on this error.
    stamped.map_err(|_| undrawable(&impressions))?;
    Ok(RenderStats {
        stamp_seconds: start.elapsed().as_secs_f64(),
        ..stats
    })
}

/// Stamps one band of a photo — rows `band·16` to `band·16 + 16` (fewer at the bottom), all of them in
/// `pixels` as 8-bit RGB, `field`'s width — with impressions [`plan_and_prepare`] placed and prepared for it
/// with `field` and `params`: what [`render_planned_mut`] does to those rows. Bands are independent, so they
/// can be stamped in any order, each as soon as it is decoded ([`crate::io::load_photo_beside_stamping`]);
/// stamping every band once gives the bytes of [`render_planned_mut`].
///
/// Returns false, stamping nothing, if the impressions were not prepared (placed with [`plan`]), not for
/// this ink or this field's height, or `pixels` is not that band.
pub fn stamp_planned_band(
    planned: &Planned,
    field: &DensityField,
    params: &Params,
    band: usize,
    pixels: &mut [u8],
) -> bool {
    const BAND_ROWS: usize = crate::stamp::BAND_ROWS;
    let (w, h) = (field.width() as usize, field.height() as usize);
    let rows = h.saturating_sub(band * BAND_ROWS).min(BAND_ROWS);
    if rows == 0 || pixels.len() != rows * w * 3 || params.shade == ShadeSpec::Auto {
        return false;
    }
    let ink = ink(params, planned.stats.px_per_mm);
    match &planned.ready {
        Some(ready) if ready.fits::<u8>(&ink, field.height()) => {
            crate::stamp::stamp_ready_band(pixels, band, ready, 3, field, u8::tables());
            true
        }
        _ => false,
    }
}

/// Impressions placed for a photo, to stamp with [`render_planned_mut`]: what [`plan_and_prepare`] gives, or
/// [`plan`]'s impressions and statistics (`(impressions, stats).into()`).
pub struct Planned {
    impressions: Vec<Impression>,
    stats: RenderStats,
    /// The impressions prepared for stamping an 8-bit photo, if they were.
    ready: Option<Ready>,
}

impl Planned {
    /// The impressions, in placement order.
    pub fn impressions(&self) -> &[Impression] {
        &self.impressions
    }

    /// What placement did (`stamp_seconds` is 0).
    pub fn stats(&self) -> &RenderStats {
        &self.stats
    }

    /// The impressions and statistics, as [`plan`] gives them.
    pub fn into_parts(self) -> (Vec<Impression>, RenderStats) {
        (self.impressions, self.stats)
    }
}

impl From<(Vec<Impression>, RenderStats)> for Planned {
    fn from((impressions, stats): (Vec<Impression>, RenderStats)) -> Self {
        Planned {
            impressions,
            stats,
            ready: None,
        }
    }
}

impl std::fmt::Debug for Planned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planned")
            .field("impressions", &self.impressions.len())
            .field("stats", &self.stats)
            .field("prepared", &self.ready.is_some())
            .finish()
    }
}

/// [`plan`], and then the part of stamping that reads no pixels, done for an 8-bit photo (what every JPEG
/// decodes to): each impression's box and coverage terms, sorted into the bands of rows that stamping walks.
/// Run while the photo decodes ([`crate::io::load_photo_beside`], as `smpsim render` does), that part is off
/// the render's critical path: ~3 ms of a 100k-impression 12 MP render on two cores.
///
/// [`render_planned_mut`] stamps the prepared impressions onto an 8-bit RGB or RGBA photo of `height` rows
/// with the ink of the `params` given here; any other photo, or other `params`, has them prepared again
/// (same bytes either way).
pub fn plan_and_prepare(width: u32, height: u32, field: &DensityField, params: &Params) -> Result<Planned> {
    let (impressions, stats) = plan(width, height, field, params)?;
    // An impression that cannot be drawn is reported by the render, as for a plain plan.
    let ready = Ready::new(&impressions, &ink(params, stats.px_per_mm), height, u8::invisible()).ok();
    Ok(Planned {
        impressions,
        stats,
        ready,
    })
}

/// `params` with `shade = auto` replaced by the shade chosen from `photo` (and the choice), or as they are.
pub fn resolve_shade<'a>(
    photo: &RgbImage,
    field: &DensityField,
    params: &'a Params,
) -> Result<(Cow<'a, Params>, Option<AutoShade>)> {
    if params.shade != ShadeSpec::Auto {
        return Ok((Cow::Borrowed(params), None));
    }
    check_field_size(field, photo.width(), photo.height())?;
    let sample = params.hair_sample.map(|[x, y, w, h]| {
        DensityField::from_fn(photo.width(), photo.height(), |px, py| {
            let inside = px >= x as f32 && py >= y as f32 && px < (x + w) as f32 && py < (y + h) as f32;
            inside as u8 as f32
        })
    });
    let auto = pigment::auto_shade(photo, field, sample.as_ref())?;
    let resolved = Params {
        shade: ShadeSpec::single(auto.shade),
        ..params.clone()
    };
    Ok((Cow::Owned(resolved), Some(auto)))
}

/// Places the impressions for a photo of `width`×`height` without drawing them: the scale and the list after
/// the pigment model (session, fresh/healed, years), with statistics (`stamp_seconds` is 0). Useful to
/// inspect or edit impressions before [`stamp_impressions`]. `shade = auto` must be resolved first
/// ([`resolve_shade`]), since it needs the photo.
pub fn plan(width: u32, height: u32, field: &DensityField, params: &Params) -> Result<(Vec<Impression>, RenderStats)> {
    params.validate()?;
    check_field_size(field, width, height)?;
    let mix = shade_mix(params)?;
    let (px_per_mm, estimated) = match (params.px_per_mm, params.head) {
        (Some(s), _) => (s, false),
        // A head outline gives the scale from the head's width (a typical 150 mm breadth).
        (None, Some(head)) => (head.px_per_mm(), true),
        (None, None) => (estimate_px_per_mm(field)?, true),
    };
    check_scale(px_per_mm)?;
    let start = Instant::now();
    let (impressions, area_px) = place_with(field, params, px_per_mm, Some(&pigment::Sessions::new(params, mix)))?;
    let stats = RenderStats {
        impressions: impressions.len(),
        px_per_mm,
        px_per_mm_estimated: estimated,
        treated_area_cm2: area_px / (px_per_mm as f64 * px_per_mm as f64) / 100.0,
        shade: params.shade.to_string(),
        auto_shade: None,
        place_seconds: start.elapsed().as_secs_f64(),
        stamp_seconds: 0.0,
    };
    Ok((impressions, stats))
}

fn shade_mix(params: &Params) -> Result<&[(Rgb8, f32)]> {
    match &params.shade {
        ShadeSpec::Mix(mix) => Ok(mix),
        ShadeSpec::Auto => Err(Error::param(
            "shade",
            "auto",
            "needs the photo: render with render()/render_image(), or call resolve_shade() first",
        )),
    }
}

/// Stamps already placed impressions onto `photo` with the pigment of `params` at `px_per_mm`.
/// Pixels where `field` is 0 are left untouched.
///
/// The impressions may come from [`plan`] or be edited or made by the caller; one with a coordinate, size or
/// angle that is not a finite number, or an opacity outside 0–1, is an error naming it, and the photo is
/// then left as it was.
pub fn stamp_impressions(
    photo: &mut RgbImage,
    field: &DensityField,
    impressions: &[Impression],
    params: &Params,
    px_per_mm: f32,
) -> Result<()> {
    params.validate()?;
    shade_mix(params)?;
    check_scale(px_per_mm)?;
    check_field_size(field, photo.width(), photo.height())?;
    // Each impression is checked as it is prepared, before any pixel changes.
    stamp(photo, 3, field, impressions, &ink(params, px_per_mm)).map_err(|_| undrawable(impressions))
}

/// The optical settings of a render, aged by `params.years`.
fn ink(params: &Params, px_per_mm: f32) -> Ink {
    let mix = match &params.shade {
        ShadeSpec::Mix(mix) => mix.as_slice(),
        ShadeSpec::Auto => &[],
    };
    Ink {
        shades: pigment::aged_shades(mix, params.years),
        blur_px: pigment::aged_blur_mm(params.edge_softness, params.years) * px_per_mm,
    }
}

/// The error for a list holding an impression that is not [drawable](Impression::is_drawable), naming the
/// first such one.
fn undrawable(impressions: &[Impression]) -> Error {
    let fault = impressions
        .iter()
        .enumerate()
        .find_map(|(i, imp)| Some((i, imp.fault()?)));
    match fault {
        Some((i, (name, value, why))) => Error::param("impressions", format!("#{i} {name} = {value}"), why),
        // Unreachable: `fault` and `is_drawable` read the same fields and range.
        None => Error::param("impressions", "one", "cannot be drawn"),
    }
}

fn check_field_size(field: &DensityField, width: u32, height: u32) -> Result<()> {
    if (field.width(), field.height()) != (width, height) {
        return Err(Error::SizeMismatch {
            what: "density field".into(),
            expected_w: width,
            expected_h: height,
            found_w: field.width(),
            found_h: field.height(),
        });
    }
    Ok(())
}
