//! One open photo: the decoded original, its preview, the masks painted on it, and the jobs that render them.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use image::{GrayImage, ImageFormat, RgbImage};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::io::{self, DecodeLimits, Loaded};

/// A photo open in the designer. It lives only in memory and is dropped with its session.
pub struct Session {
    /// File stem for downloads (letters, digits, `.`, `_`, `-` only).
    pub name: String,
    /// Extension of the after image's download: `jpg` for a JPEG upload, `png` for anything else.
    pub after_ext: &'static str,
    /// The photo as decoded (upright, with its colour profile).
    pub photo: Arc<Loaded>,
    /// The photo scaled to the preview's size.
    pub preview: Arc<RgbImage>,
    /// `preview` as JPEG, for the page's "before".
    pub before_jpeg: Vec<u8>,
    /// Painted density (white = full) at the preview's size.
    pub density: Option<Arc<GrayImage>>,
    /// Painted exclusions (white = none) at the preview's size.
    pub exclude: Option<Arc<GrayImage>>,
    /// Last request that used it.
    pub last_used: Instant,
}

/// Which painted mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brush {
    /// The density map (white = full density).
    Density,
    /// The exclusion mask (white = no impressions).
    Exclude,
}

impl Brush {
    /// `density` or `exclude`.
    pub fn parse(s: &str) -> Option<Brush> {
        match s {
            "density" => Some(Brush::Density),
            "exclude" => Some(Brush::Exclude),
            _ => None,
        }
    }
}

/// What the page learns about a photo it opened.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Session id: the photo's only handle.
    pub id: String,
    /// Download name stem.
    pub name: String,
    /// Full size.
    pub width: u32,
    /// Full size.
    pub height: u32,
    /// Preview size.
    pub preview_width: u32,
    /// Preview size.
    pub preview_height: u32,
    /// Extension of the after image's download.
    pub after_ext: &'static str,
}

impl Session {
    /// Decodes an uploaded photo (JPEG, PNG, WebP or TIFF by content; anything else is refused) and makes its
    /// preview, at most `preview_side` pixels on its longer side.
    pub fn open(bytes: &[u8], file_name: &str, preview_side: u32) -> Result<Session> {
        let loaded = io::decode(bytes, &DecodeLimits::default(), Path::new(file_name))?;
        let after_ext = match image::guess_format(bytes) {
            Ok(ImageFormat::Jpeg) => "jpg",
            _ => "png",
        };
        let rgb = loaded.image.to_rgb8();
        let (w, h) = rgb.dimensions();
        let preview = if w.max(h) > preview_side {
            let scale = preview_side as f64 / w.max(h) as f64;
            let (pw, ph) = (
                ((w as f64 * scale).round() as u32).max(1),
                ((h as f64 * scale).round() as u32).max(1),
            );
            image::imageops::thumbnail(&rgb, pw, ph)
        } else {
            rgb
        };
        let before_jpeg = io::encode_jpeg(&preview, 88)?;
        Ok(Session {
            name: safe_stem(file_name),
            after_ext,
            photo: Arc::new(loaded),
            preview: Arc::new(preview),
            before_jpeg,
            density: None,
            exclude: None,
            last_used: Instant::now(),
        })
    }

    /// What the page is told about this photo.
    pub fn summary(&self, id: &str) -> Summary {
        Summary {
            id: id.to_string(),
            name: self.name.clone(),
            width: self.photo.image.width(),
            height: self.photo.image.height(),
            preview_width: self.preview.width(),
            preview_height: self.preview.height(),
            after_ext: self.after_ext,
        }
    }

    /// Stores a painted mask sent as an image of the preview's size.
    pub fn set_brush(&mut self, which: Brush, bytes: &[u8]) -> Result<()> {
        let name = match which {
            Brush::Density => "the painted density",
            Brush::Exclude => "the painted exclusions",
        };
        let mask = io::decode(bytes, &DecodeLimits::default(), Path::new(name))?
            .image
            .into_luma8();
        if mask.dimensions() != self.preview.dimensions() {
            return Err(Error::SizeMismatch {
                what: name.into(),
                expected_w: self.preview.width(),
                expected_h: self.preview.height(),
                found_w: mask.width(),
                found_h: mask.height(),
            });
        }
        let slot = match which {
            Brush::Density => &mut self.density,
            Brush::Exclude => &mut self.exclude,
        };
        *slot = Some(Arc::new(mask));
        Ok(())
    }

    /// Forgets a painted mask.
    pub fn clear_brush(&mut self, which: Brush) {
        match which {
            Brush::Density => self.density = None,
            Brush::Exclude => self.exclude = None,
        }
    }

    /// What a preview render needs, cloned out so the session is not locked while it runs.
    pub fn preview_job(&self) -> super::state::PreviewJob {
        super::state::PreviewJob {
            name: self.name.clone(),
            preview: self.preview.clone(),
            before_jpeg: self.before_jpeg.clone(),
            density: self.density.clone(),
            exclude: self.exclude.clone(),
        }
    }

    /// What an export needs.
    pub fn export_job(&self) -> super::state::ExportJob {
        super::state::ExportJob {
            name: self.name.clone(),
            after_ext: self.after_ext,
            photo: self.photo.clone(),
            density: self.density.clone(),
            exclude: self.exclude.clone(),
        }
    }
}

/// A new session id: 128 bits from the operating system's generator, as hex.
pub fn new_id() -> std::result::Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random numbers for a session id: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A file name's stem, safe in a download name and a shell command: letters, digits, `.`, `_` and `-`.
pub fn safe_stem(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or("");
    let stem = Path::new(base).file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let clean = clean.trim_start_matches(['.', '-']).to_string();
    if clean.is_empty() {
        "photo".into()
    } else {
        clean
    }
}

/// Decodes `%XX` escapes (the page percent-encodes file names to fit them in a header).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_are_tame() {
        assert_eq!(safe_stem("client 12.jpg"), "client_12");
        assert_eq!(safe_stem("../../etc/passwd"), "passwd");
        assert_eq!(safe_stem("C:\\photos\\Müller.JPG"), "M_ller");
        assert_eq!(safe_stem(".hidden"), "hidden");
        assert_eq!(safe_stem(""), "photo");
        assert_eq!(safe_stem("a\"b;rm -rf.png"), "a_b_rm_-rf");
        assert_eq!(percent_decode("M%C3%BCller%20x.jpg"), "Müller x.jpg");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn session_ids_are_long_and_different() {
        let (a, b) = (new_id().unwrap(), new_id().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
