//! The page's design, turned into the files it exports, and every render made from those files.
//!
//! Preview and export both parse the exported text (and masks) exactly as `smpsim render --hairline
//! NAME.hairline.toml --config NAME.toml [--density-map NAME.density.png] [--exclude NAME.exclude.png]` does,
//! so what the page shows is what the command line makes, and an exported design re-runs to the same bytes.

use std::path::Path;
use std::sync::Arc;

use image::{DynamicImage, GrayImage, RgbImage};
use serde::Deserialize;

use crate::design::{Design, DesignFormat, HairlineStyle};
use crate::error::{Error, Result};
use crate::field::DensityField;
use crate::io::{self, Loaded};
use crate::params::Params;
use crate::treatment::FieldSources;

/// The design as the page holds it (JSON). Coordinates are fractions of the photo's width and height.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignState {
    /// Hairline control points, in order along the line.
    pub hairline: Vec<[f64; 2]>,
    /// Treated region polygon (optional: fewer than 3 points means none).
    #[serde(default)]
    pub region: Vec<[f64; 2]>,
    /// `soft` or `sharp`.
    pub style: String,
    /// Transition width, mm (none: the style's default).
    pub transition_mm: Option<f64>,
    /// Impressions per cm².
    pub density: f64,
    /// Impression diameter, mm.
    pub dot_size: f64,
    /// Shade as `--shade` takes it (`auto`, `dark`, `#rrggbb`, …).
    pub shade: String,
    /// Sessions in the plan.
    pub sessions: u8,
    /// Session shown.
    pub session: u8,
    /// Years after treatment.
    pub years: f64,
    /// Fresh (the day of the session) instead of healed.
    #[serde(default)]
    pub fresh: bool,
    /// Placement seed.
    pub seed: u64,
}

impl DesignState {
    /// Whether there is anything to render: a hairline or a region of at least 3 points.
    pub fn has_design(&self) -> bool {
        self.hairline.len() >= 3 || self.region.len() >= 3
    }

    /// The design file (`NAME.hairline.toml`).
    pub fn design_toml(&self, name: &str) -> Result<String> {
        let style: HairlineStyle = self.style.parse()?;
        let mut t = toml::Table::new();
        t.insert("units".into(), "fraction".into());
        t.insert(
            "style".into(),
            match style {
                HairlineStyle::Soft => "soft",
                HairlineStyle::Sharp => "sharp",
            }
            .into(),
        );
        if let Some(w) = self.transition_mm {
            t.insert("transition_mm".into(), w.into());
        }
        let points = |pts: &[[f64; 2]]| -> toml::Value {
            toml::Value::Array(
                pts.iter()
                    .map(|p| toml::Value::Array(vec![p[0].into(), p[1].into()]))
                    .collect(),
            )
        };
        if self.hairline.len() >= 3 {
            let mut h = toml::Table::new();
            h.insert("points".into(), points(&self.hairline));
            t.insert("hairline".into(), h.into());
        }
        if self.region.len() >= 3 {
            let mut r = toml::Table::new();
            r.insert("polygon".into(), points(&self.region));
            t.insert("region".into(), r.into());
        }
        let body = toml::to_string(&t).map_err(|e| bad(name, e.to_string()))?;
        Ok(format!(
            "# Hairline design for {name}, made in `smpsim serve`. Re-run it with\n\
             # smpsim render PHOTO --hairline {name}.hairline.toml --config {name}.toml -o {name}.after.jpg\n{body}"
        ))
    }

    /// The settings file (`NAME.toml`, the `[treatment]` table `render --config` and `batch` read).
    pub fn settings_toml(&self, name: &str) -> Result<String> {
        let seed = i64::try_from(self.seed).map_err(|_| bad(name, format!("seed {} is too large", self.seed)))?;
        let mut t = toml::Table::new();
        t.insert("density".into(), self.density.into());
        t.insert("dot_size".into(), self.dot_size.into());
        t.insert("shade".into(), self.shade.clone().into());
        t.insert("sessions".into(), i64::from(self.sessions).into());
        t.insert("session".into(), i64::from(self.session).into());
        t.insert("years".into(), self.years.into());
        t.insert("fresh".into(), self.fresh.into());
        t.insert("seed".into(), seed.into());
        let mut root = toml::Table::new();
        root.insert("treatment".into(), t.into());
        let body = toml::to_string(&root).map_err(|e| bad(name, e.to_string()))?;
        Ok(format!(
            "# Treatment settings for {name}, made in `smpsim serve`.\n{body}"
        ))
    }
}

fn bad(name: &str, reason: String) -> Error {
    Error::Design {
        name: name.to_string(),
        reason,
    }
}

/// The files a design exports, as bytes, for a photo of one size.
struct Files {
    design: String,
    settings: String,
    density: Option<Vec<u8>>,
    exclude: Option<Vec<u8>>,
}

/// The density field and parameters `smpsim render` builds from `files` for a `width`×`height` photo:
/// the same parsing, the same scale estimate, the same order.
fn treatment(files: &Files, name: &str, width: u32, height: u32) -> Result<(DensityField, Params)> {
    let settings_name = format!("{name}.toml");
    let table = crate::config::parse_table(&files.settings, &settings_name)?;
    let mut params = crate::config::from_layers(&[&table], &settings_name)?.treatment;
    params.validate()?;
    let design_name = format!("{name}.hairline.toml");
    let design = Design::parse(&files.design, DesignFormat::Toml, &design_name)?;
    let mut sources = FieldSources {
        design: Some(design.resolve(width, height, &design_name)?),
        ..FieldSources::default()
    };
    if let Some(png) = &files.density {
        sources.density_map = Some(io::decode_mask(
            png,
            width,
            height,
            Path::new(&format!("{name}.density.png")),
        )?);
    }
    if let Some(png) = &files.exclude {
        let mask = io::decode_mask(png, width, height, Path::new(&format!("{name}.exclude.png")))?;
        sources.exclusions.push(mask);
    }
    let (field, scale) = sources.build(width, height, params.px_per_mm, params.seed)?;
    params.px_per_mm = Some(scale.px_per_mm);
    Ok((field, params))
}

/// A grey mask as PNG bytes, resized to `width`×`height` when it is another size.
fn mask_png(mask: &GrayImage, width: u32, height: u32) -> Result<Vec<u8>> {
    let sized;
    let mask = if mask.dimensions() == (width, height) {
        mask
    } else {
        sized = image::imageops::resize(mask, width, height, image::imageops::FilterType::Triangle);
        &sized
    };
    io::encode_image(
        Path::new("mask.png"),
        &DynamicImage::ImageLuma8(mask.clone()),
        None,
        100,
    )
}

/// A live preview: the design on the preview-sized photo.
pub struct PreviewJob {
    pub(super) name: String,
    pub(super) preview: Arc<RgbImage>,
    pub(super) before_jpeg: Vec<u8>,
    pub(super) density: Option<Arc<GrayImage>>,
    pub(super) exclude: Option<Arc<GrayImage>>,
}

impl PreviewJob {
    /// The after preview as JPEG, and the render's figures as a JSON line. Without a design yet, the photo.
    pub fn run(&self, state: &DesignState) -> Result<(Vec<u8>, String)> {
        if !state.has_design() {
            let note = serde_json::json!({ "impressions": 0, "note": "click three or more hairline points" });
            return Ok((self.before_jpeg.clone(), note.to_string()));
        }
        let (w, h) = self.preview.dimensions();
        let files = Files {
            design: state.design_toml(&self.name)?,
            settings: state.settings_toml(&self.name)?,
            density: self.density.as_deref().map(|m| mask_png(m, w, h)).transpose()?,
            exclude: self.exclude.as_deref().map(|m| mask_png(m, w, h)).transpose()?,
        };
        let (field, params) = treatment(&files, &self.name, w, h)?;
        let rendered = crate::render(&self.preview, &field, &params)?;
        let stats = serde_json::json!({
            "impressions": rendered.stats.impressions,
            "area_cm2": rendered.stats.treated_area_cm2,
            "px_per_mm": rendered.stats.px_per_mm,
            "shade": rendered.stats.auto_shade.as_ref().map_or(rendered.stats.shade.clone(), |a| a.shade.to_string()),
        });
        Ok((io::encode_jpeg(&rendered.image, 88)?, stats.to_string()))
    }
}

/// What the page can download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// The after image at full resolution (`NAME.after.jpg`, or `.png` for a non-JPEG photo).
    After,
    /// Before and after side by side, labelled (`NAME.compare.jpg`).
    Compare,
    /// The self-contained slider page (`NAME.slider.html`).
    Slider,
    /// The design file (`NAME.hairline.toml`).
    Design,
    /// The settings file (`NAME.toml`).
    Settings,
    /// The painted density map at full size (`NAME.density.png`).
    Density,
    /// The painted exclusions at full size (`NAME.exclude.png`).
    Exclude,
}

impl Export {
    /// `after`, `compare`, `slider`, `design`, `settings`, `density` or `exclude`.
    pub fn parse(s: &str) -> Option<Export> {
        Some(match s {
            "after" => Export::After,
            "compare" => Export::Compare,
            "slider" => Export::Slider,
            "design" => Export::Design,
            "settings" => Export::Settings,
            "density" => Export::Density,
            "exclude" => Export::Exclude,
            _ => return None,
        })
    }
}

/// A download: its file name, type and bytes.
pub struct Exported {
    /// File name.
    pub name: String,
    /// MIME type.
    pub mime: &'static str,
    /// Content.
    pub bytes: Vec<u8>,
}

/// An export at full resolution.
pub struct ExportJob {
    pub(super) name: String,
    pub(super) after_ext: &'static str,
    pub(super) photo: Arc<Loaded>,
    pub(super) density: Option<Arc<GrayImage>>,
    pub(super) exclude: Option<Arc<GrayImage>>,
}

impl ExportJob {
    fn files(&self, state: &DesignState) -> Result<Files> {
        let (w, h) = (self.photo.image.width(), self.photo.image.height());
        Ok(Files {
            design: state.design_toml(&self.name)?,
            settings: state.settings_toml(&self.name)?,
            density: self.density.as_deref().map(|m| mask_png(m, w, h)).transpose()?,
            exclude: self.exclude.as_deref().map(|m| mask_png(m, w, h)).transpose()?,
        })
    }

    /// Renders the after image at full size from the exported files, as `smpsim render` does.
    fn after(&self, files: &Files) -> Result<DynamicImage> {
        let (w, h) = (self.photo.image.width(), self.photo.image.height());
        let (field, params) = treatment(files, &self.name, w, h)?;
        let mut image = self.photo.image.clone();
        crate::render_image_mut(&mut image, &field, &params)?;
        Ok(image)
    }

    /// Makes one download.
    pub fn run(&self, state: &DesignState, what: Export) -> Result<Exported> {
        let name = &self.name;
        let nothing_painted = |what: &str| bad(name, format!("nothing is painted with the {what} brush"));
        let files = self.files(state)?;
        if matches!(what, Export::After | Export::Compare | Export::Slider) && !state.has_design() {
            return Err(bad(name, "click three or more hairline points first".into()));
        }
        let icc = self.photo.icc.as_deref();
        Ok(match what {
            Export::Design => Exported {
                name: format!("{name}.hairline.toml"),
                mime: "application/toml",
                bytes: files.design.into_bytes(),
            },
            Export::Settings => Exported {
                name: format!("{name}.toml"),
                mime: "application/toml",
                bytes: files.settings.into_bytes(),
            },
            Export::Density => Exported {
                name: format!("{name}.density.png"),
                mime: "image/png",
                bytes: files.density.ok_or_else(|| nothing_painted("density"))?,
            },
            Export::Exclude => Exported {
                name: format!("{name}.exclude.png"),
                mime: "image/png",
                bytes: files.exclude.ok_or_else(|| nothing_painted("exclusion"))?,
            },
            Export::After => {
                let file = format!("{name}.after.{}", self.after_ext);
                let after = self.after(&files)?;
                Exported {
                    bytes: io::encode_image(Path::new(&file), &after, icc, io::DEFAULT_JPEG_QUALITY)?,
                    name: file,
                    mime: if self.after_ext == "jpg" {
                        "image/jpeg"
                    } else {
                        "image/png"
                    },
                }
            }
            Export::Compare => {
                let (before, after) = (self.photo.image.to_rgb8(), self.after(&files)?.to_rgb8());
                let pair = crate::compose::compare(&before, &after, &crate::compose::CompareOptions::new());
                let file = format!("{name}.compare.jpg");
                Exported {
                    bytes: io::encode_image(
                        Path::new(&file),
                        &DynamicImage::ImageRgb8(pair),
                        icc,
                        io::DEFAULT_JPEG_QUALITY,
                    )?,
                    name: file,
                    mime: "image/jpeg",
                }
            }
            Export::Slider => {
                let (before, after) = (self.photo.image.to_rgb8(), self.after(&files)?.to_rgb8());
                let labels = ["Before".to_string(), "After".to_string()];
                let page =
                    crate::compose::slider_page(&before, &after, &labels, "Scalp micropigmentation preview", 2400)?;
                Exported {
                    name: format!("{name}.slider.html"),
                    mime: "text/html; charset=utf-8",
                    bytes: page.into_bytes(),
                }
            }
        })
    }
}
