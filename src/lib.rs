//! # smpsim — scalp micropigmentation previews
//!
//! Shows what scalp micropigmentation (SMP) would look like on a client's own photo: thousands of
//! follicle-sized pigment impressions, placed with blue-noise spacing by a density field, drawn as soft,
//! sub-pixel, slightly irregular dots that absorb light under the skin.
//!
//! The data moves one way: a **density field** (from a mask image) and **parameters** in physical units →
//! [`place`](place::place) → a list of [`Impression`]s → [`stamp`](render::stamp_impressions) onto the photo.
//! [`render()`] does all of it on in-memory images; only [`io`], [`config`] and [`batch`] touch files.
//!
//! Same inputs and seed give byte-identical output on any number of threads.
//!
//! ```
//! use smpsim::{render, DensityField, Params};
//! use image::{Rgb, RgbImage};
//!
//! // A plain skin-toned "photo" and a mask treating its middle third.
//! let photo = RgbImage::from_pixel(300, 200, Rgb([220, 180, 150]));
//! let field = DensityField::from_fn(300, 200, |x, _y| if (100.0..200.0).contains(&x) { 1.0 } else { 0.0 });
//! let params = Params { px_per_mm: Some(8.0), ..Params::default() };
//!
//! let out = render(&photo, &field, &params)?;
//! // 100×200 px at 8 px/mm is 3.125 cm²; at 100 impressions per cm² about 312 impressions.
//! assert!((out.stats.impressions as f64 - 312.0).abs() < 16.0);
//! assert_eq!(out.image.get_pixel(10, 10), photo.get_pixel(10, 10)); // untreated pixels are untouched
//! # Ok::<(), smpsim::Error>(())
//! ```

pub mod affinity;
pub mod batch;
mod blue_noise;
mod colour;
pub mod compose;
pub mod config;
pub mod design;
mod error;
pub mod field;
#[doc(hidden)]
pub mod fuzzing;
pub mod geometry;
pub mod head;
mod huge_pages;
pub mod io;
mod jpeg_rows;
#[cfg(not(feature = "turbojpeg"))]
mod jpeg_strips;
pub mod overlay;
pub mod params;
mod pieces;
pub mod pigment;
pub mod place;
mod render;
pub mod scale;
#[cfg(feature = "serve")]
pub mod serve;
pub mod skin;
mod splat;
mod stamp;
mod stamp_veil;
pub mod synth;
mod text;
pub mod treatment;

pub use error::{Error, Result};
pub use field::DensityField;
pub use params::{Params, Rgb8};
pub use place::Impression;
pub use render::{
    plan, plan_and_prepare, render, render_image, render_image_mut, render_mut, render_planned_mut, resolve_shade,
    stamp_impressions, stamp_planned_band, Planned, RenderStats, Rendered,
};
pub use stamp::SIMD_ENV;
