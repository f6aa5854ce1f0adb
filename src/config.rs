//! Configuration files: `smpsim.toml` for a folder, `NAME.toml` beside a photo.
//!
//! ```toml
//! [treatment]          # any field of `smpsim::Params`, e.g.
//! density = 100        # impressions per cm² at full strength
//! shade = "auto"
//! sessions = 3
//!
//! [output]
//! format = "jpg"       # jpg, png, webp or tif
//! quality = 90         # JPEG quality, 1–100
//! compare = true       # also write NAME.compare.jpg: before and after side by side
//! ```
//!
//! A photo's own `NAME.toml` overrides the folder's file key by key, which overrides the built-in defaults.
//! Unknown keys and values out of range are errors naming the file, the key and the line.

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::error::{Error, Result};
use crate::params::Params;

/// What to write for each photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputOptions {
    /// Image format of the outputs: `jpg`, `png`, `webp` or `tif`. Default: jpg.
    pub format: String,
    /// JPEG quality, 1–100. Default: 90.
    pub quality: u8,
    /// Also write `NAME.compare.EXT`, before and after side by side. Default: false.
    pub compare: bool,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            format: "jpg".into(),
            quality: crate::io::DEFAULT_JPEG_QUALITY,
            compare: false,
        }
    }
}

/// A whole configuration: treatment parameters and output options.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The treatment: every field of [`Params`], each optional.
    pub treatment: Params,
    /// What to write.
    pub output: OutputOptions,
}

impl Config {
    /// Checks every value; errors name `name` and the key.
    pub fn validate(&self, name: &str) -> Result<()> {
        let bad = |reason: String| Error::Design {
            name: name.to_string(),
            reason,
        };
        self.treatment.validate().map_err(|e| bad(format!("[treatment] {e}")))?;
        if !["jpg", "jpeg", "png", "webp", "tif", "tiff"].contains(&self.output.format.as_str()) {
            return Err(bad(format!(
                "[output] format = {:?}: expected jpg, png, webp or tif",
                self.output.format
            )));
        }
        if !(1..=100).contains(&self.output.quality) {
            return Err(bad(format!(
                "[output] quality = {}: must be from 1 to 100",
                self.output.quality
            )));
        }
        Ok(())
    }
}

/// Reads a TOML table from `path`, checking on its own that it is a valid (partial) configuration, so an
/// error carries this file's name and line.
pub fn read_table(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_table(&text, &path.display().to_string())
}

/// [`read_table`] for configuration text held in memory; `name` names it in errors.
pub fn parse_table(text: &str, name: &str) -> Result<toml::Table> {
    let bad = |e: toml::de::Error| Error::Design {
        name: name.to_string(),
        reason: e.to_string().trim_end().to_string(),
    };
    let config: Config = toml::from_str(text).map_err(bad)?;
    config.validate(name)?;
    toml::from_str(text).map_err(bad)
}

/// Merges `over` into `base`, key by key (tables recursively).
pub fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The configuration from layered tables (later ones override earlier ones).
pub fn from_layers(layers: &[&toml::Table], name: &str) -> Result<Config> {
    let mut merged = toml::Table::new();
    for layer in layers {
        merge(&mut merged, layer);
    }
    let config: Config = merged.try_into().map_err(|e: toml::de::Error| Error::Design {
        name: name.to_string(),
        reason: e.to_string(),
    })?;
    config.validate(name)?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_override_key_by_key_and_errors_carry_the_line() {
        let folder: toml::Table =
            toml::from_str("[treatment]\ndensity = 80\nseed = 4\n[output]\ncompare = true\n").unwrap();
        let photo: toml::Table = toml::from_str("[treatment]\ndensity = 120\n").unwrap();
        let c = from_layers(&[&folder, &photo], "x").unwrap();
        assert_eq!(
            (c.treatment.density, c.treatment.seed, c.output.compare),
            (120.0, 4, true)
        );
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("smpsim.toml");
        std::fs::write(&bad, "[treatment]\ndensity = 80\ncolour = 3\n").unwrap();
        let err = read_table(&bad).unwrap_err().to_string();
        assert!(
            err.contains("smpsim.toml") && err.contains("colour") && err.contains("line 3"),
            "{err}"
        );
        std::fs::write(&bad, "[treatment]\ndensity = -1\n").unwrap();
        let err = read_table(&bad).unwrap_err().to_string();
        assert!(err.contains("density") && err.contains("-1"), "{err}");
    }
}
