//! The library's one error type. Every message names the value, key or file at fault.

use std::path::PathBuf;

/// Everything that can go wrong in `smpsim`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of range, not a number, or otherwise unusable.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParam {
        /// The parameter's name as written in a config file or on the command line.
        name: &'static str,
        /// The offending value, as text.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
    /// Two images that must line up pixel for pixel do not.
    #[error("{what} is {found_w}x{found_h} pixels but the photo is {expected_w}x{expected_h}")]
    SizeMismatch {
        /// What the mismatched image is (e.g. the mask's file name).
        what: String,
        /// The photo's width.
        expected_w: u32,
        /// The photo's height.
        expected_h: u32,
        /// The mismatched image's width.
        found_w: u32,
        /// The mismatched image's height.
        found_h: u32,
    },
    /// The density field has no treated pixel, so there is nothing to render or measure.
    #[error("the treatment mask is empty (all black): nothing to treat")]
    EmptyField,
    /// An image file could not be decoded or encoded.
    #[error("{}: {source}", path.display())]
    Image {
        /// The file at fault.
        path: PathBuf,
        /// The codec's reason.
        #[source]
        source: image::ImageError,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A design (hairline file) is malformed or does not fit the photo.
    #[error("{name}: {reason}")]
    Design {
        /// The design's file name (or whatever the caller named it).
        name: String,
        /// What is wrong, naming the key (and the line, for syntax errors).
        reason: String,
    },
    /// A file was readable but its content is unusable (too large, wrong kind, ...).
    #[error("{}: {reason}", path.display())]
    BadFile {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidParam`].
    pub(crate) fn param(name: &'static str, value: impl ToString, reason: impl Into<String>) -> Self {
        Error::InvalidParam {
            name,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
