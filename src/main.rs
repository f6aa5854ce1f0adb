//! `smpsim`: the command line over the library. Every command is a thin shell over `smpsim::…` calls.
//!
//! Exit codes: 0 success; 1 a file could not be read, decoded or written (the message names it);
//! 2 invalid arguments, parameters, designs or configuration; 3 a batch finished but some photos failed.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use smpsim::design::HairlineStyle;
use smpsim::pigment::ShadeSpec;
use smpsim::treatment::{FieldSources, Scale};
use smpsim::{compose, io, overlay, scale, DensityField, Params};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Scalp micropigmentation preview: stamps follicle-sized pigment impressions onto a consultation photo.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render the treatment onto a photo and write the after image.
    Render(Box<RenderArgs>),
    /// Write the density field a design makes (a greyscale mask) and, optionally, the design drawn over the photo.
    Mask(MaskArgs),
    /// Render a folder of photos, each with its own design beside it; write results, report.json and progress.
    Batch(BatchArgs),
    /// Merge the report.json files of several shards into one.
    MergeReports {
        /// Shard reports to merge.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// The merged report.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// The consultation designer in a browser: open a photo, click the hairline, paint density, see it live.
    Serve(ServeArgs),
    /// Render the bundled synthetic head with its hairline design; write after, before/after, a close-up and the design.
    Demo {
        /// Folder for the outputs (created if missing).
        #[arg(short, long, default_value = "smpsim-demo")]
        out: PathBuf,
        #[command(flatten)]
        treatment: TreatmentArgs,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8470)]
    port: u16,
    /// Address to listen on. Anything but loopback lets other computers open the page and the photos loaded
    /// in it: only on a network you trust.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    bind: std::net::IpAddr,
    /// Open the page in the default browser.
    #[arg(long)]
    open: bool,
    /// Largest photo upload, MB.
    #[arg(long, default_value_t = 64, value_name = "MB")]
    max_upload_mb: usize,
    /// Most photos open at once (each is held decoded in memory).
    #[arg(long, default_value_t = 8, value_name = "N")]
    max_photos: usize,
    /// Drop a photo unused for this many minutes.
    #[arg(long, default_value_t = 30, value_name = "MIN")]
    idle_minutes: u64,
}

#[derive(Args)]
struct RenderArgs {
    /// The consultation photo (JPEG, PNG, WebP or TIFF).
    photo: PathBuf,
    #[command(flatten)]
    design: DesignArgs,
    /// Output image; the format follows the extension (.jpg, .png, .webp, .tif).
    #[arg(short, long)]
    out: PathBuf,
    /// Also write a before/after comparison to this file (see --layout, --labels, --caption, --zoom).
    #[arg(long)]
    compare: Option<PathBuf>,
    #[command(flatten)]
    present: PresentArgs,
    /// Print a machine-readable summary (JSON) to stdout.
    #[arg(long)]
    json: bool,
    /// Treatment settings file (the `[treatment]` table of a batch's smpsim.toml or NAME.toml, e.g. the one
    /// `smpsim serve` exports); flags given as well override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    treatment: TreatmentArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

/// How comparisons, sheets and the slider page look.
#[derive(Args)]
struct PresentArgs {
    /// Comparison layout: side-by-side, stacked, or split (one image, a divider; see --split-at).
    #[arg(long, default_value = "side-by-side")]
    layout: compose::Layout,
    /// Where the split layout's divider sits, 0–1 of the width.
    #[arg(long, default_value_t = 0.5)]
    split_at: f32,
    /// The two labels, comma-separated; "," for none.
    #[arg(long, default_value = "Before,After")]
    labels: String,
    /// A caption line under the comparison (e.g. the clinic's name and the date); also the slider page's title.
    #[arg(long)]
    caption: Option<String>,
    /// Add a close-up panel: `auto` (the front edge of the treatment) or a region x,y,w,h in pixels.
    #[arg(long, value_name = "auto|X,Y,W,H")]
    zoom: Option<String>,
    /// Magnification of the close-up: 1 = 100%, 2 = 200%.
    #[arg(long, default_value_t = 2)]
    zoom_factor: u32,
    /// Largest width of comparisons, sheets and the slider page's images, in pixels (for sharing by message).
    #[arg(long)]
    max_width: Option<u32>,
    /// Also write a contact sheet: before and every variant (densities, shades, sessions, years), labelled.
    #[arg(long)]
    sheet: Option<PathBuf>,
    /// Also write a self-contained HTML page with a before/after slider.
    #[arg(long)]
    html: Option<PathBuf>,
}

impl PresentArgs {
    fn labels(&self) -> [String; 2] {
        let mut parts = self.labels.splitn(2, ',').map(|s| s.trim().to_string());
        [parts.next().unwrap_or_default(), parts.next().unwrap_or_default()]
    }

    fn compare_options(&self, field: &DensityField, photo: &image::RgbImage) -> Result<compose::CompareOptions> {
        if !(0.0..=1.0).contains(&self.split_at) {
            bail!(UsageError(format!("--split-at {}: must be from 0 to 1", self.split_at)));
        }
        if self.zoom_factor == 0 || self.zoom_factor > 16 {
            bail!(UsageError(format!(
                "--zoom-factor {}: must be from 1 to 16",
                self.zoom_factor
            )));
        }
        let layout = match self.layout {
            compose::Layout::Split { .. } => compose::Layout::Split { at: self.split_at },
            other => other,
        };
        let (w, h) = photo.dimensions();
        let closeup = match self.zoom.as_deref() {
            None => None,
            Some("auto") => {
                // Two magnified crops, at most a quarter of the photo wide each.
                let width = match layout {
                    compose::Layout::SideBySide => 2 * w + compose::GAP,
                    _ => w,
                };
                let crop_w = (width.saturating_sub(compose::GAP) / 2 / self.zoom_factor)
                    .min(w / 4)
                    .max(8);
                let crop_h = (crop_w * 3 / 4).min(h);
                Some(compose::Closeup {
                    region: compose::front_edge_region(field, crop_w, crop_h),
                    zoom: self.zoom_factor,
                })
            }
            Some(text) => {
                let v: Vec<u32> = text.split(',').filter_map(|x| x.trim().parse().ok()).collect();
                match v[..] {
                    [x, y, rw, rh] if rw > 0 && rh > 0 && x + rw <= w && y + rh <= h => Some(compose::Closeup {
                        region: smpsim::field::PixelRect {
                            x0: x,
                            y0: y,
                            x1: x + rw,
                            y1: y + rh,
                        },
                        zoom: self.zoom_factor,
                    }),
                    _ => bail!(UsageError(format!(
                        "--zoom {text:?}: expected auto or x,y,w,h inside the {w}x{h} photo"
                    ))),
                }
            }
        };
        Ok(compose::CompareOptions {
            layout,
            labels: self.labels(),
            caption: self.caption.clone(),
            closeup,
            max_width: self.max_width,
        })
    }
}

/// How large a photo may be decoded (a decompression bomb is refused from its header).
#[derive(Args)]
struct LimitArgs {
    /// Largest photo accepted, in megapixels.
    #[arg(long, value_name = "MP", default_value_t = 120)]
    max_megapixels: u64,
    /// Most memory for a decoded photo, in MB.
    #[arg(long, value_name = "MB", default_value_t = 1024)]
    max_memory_mb: u64,
}

impl LimitArgs {
    fn limits(&self) -> io::DecodeLimits {
        io::DecodeLimits {
            max_pixels: self.max_megapixels.saturating_mul(1_000_000),
            max_bytes: self.max_memory_mb.saturating_mul(1 << 20),
        }
    }
}

#[derive(Args)]
struct BatchArgs {
    /// Folder of consultation photos; beside each NAME.jpg: NAME.hairline.toml/.json or NAME.mask.png
    /// (optional NAME.density.png, NAME.exclude.png, NAME.toml).
    input: PathBuf,
    /// Folder for the results (created if missing; keeps the input's sub-folders).
    #[arg(short, long)]
    out: PathBuf,
    /// Configuration file [default: INPUT/smpsim.toml if present].
    #[arg(long)]
    config: Option<PathBuf>,
    /// Photos rendered at once; bounds memory to about this many decoded photos [default: cores].
    #[arg(long)]
    jobs: Option<usize>,
    /// Descend into sub-folders.
    #[arg(long)]
    recursive: bool,
    /// Render again even when outputs are up to date.
    #[arg(long)]
    force: bool,
    /// Take shard K of N (1-based) of the photos, for job arrays across machines.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Also write report.csv.
    #[arg(long)]
    csv: bool,
    /// No progress output.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Args)]
struct MaskArgs {
    /// The consultation photo the design belongs to.
    photo: PathBuf,
    #[command(flatten)]
    design: DesignArgs,
    /// Output: the density field as a greyscale image (white = full density).
    #[arg(short, long)]
    out: PathBuf,
    /// Also draw the design over the photo into this image, to check it before rendering.
    #[arg(long)]
    overlay: Option<PathBuf>,
    #[command(flatten)]
    scale_seed: ScaleSeedArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Where the density comes from: a design, a mask, or both, times a density map, less exclusions.
#[derive(Args)]
struct DesignArgs {
    /// Treatment mask, the photo's size: white = full density, black = none, grey = that fraction.
    #[arg(long, required_unless_present_any = ["hairline", "auto_mask"])]
    mask: Option<PathBuf>,
    /// Hairline design file (TOML, or JSON by extension): the front hairline, region and scars.
    #[arg(long)]
    hairline: Option<PathBuf>,
    /// Hairline style, overriding the design file's (and its edge numbers): soft or sharp.
    #[arg(long, value_name = "STYLE", requires = "hairline")]
    hairline_style: Option<HairlineStyle>,
    /// Density map multiplied in, the photo's size (e.g. denser at the crown, lighter at the temples).
    #[arg(long, value_name = "FILE")]
    density_map: Option<PathBuf>,
    /// Exclusion mask, the photo's size: white = no impressions (ears, long hair, moles). Repeatable.
    #[arg(long, value_name = "FILE")]
    exclude: Vec<PathBuf>,
    /// Propose the treatment region from the photo: its bare skin, found by colour (check it with
    /// `smpsim mask --overlay`).
    #[arg(long)]
    auto_mask: bool,
    /// Put pigment only on bare skin: never on remaining hair, brows or the backdrop — the density fill
    /// between thinning hairs; with a head outline (--head), nothing beyond it either (ears, neck).
    #[arg(long)]
    skin_only: bool,
}

impl DesignArgs {
    /// Every input file, to refuse an output that would overwrite one.
    fn inputs(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = Vec::new();
        v.extend(self.mask.as_deref());
        v.extend(self.hairline.as_deref());
        v.extend(self.density_map.as_deref());
        v.extend(self.exclude.iter().map(PathBuf::as_path));
        v
    }

    /// The files the density field is read from.
    fn files(&self) -> io::SourceFiles<'_> {
        io::SourceFiles {
            hairline: self.hairline.as_deref(),
            hairline_style: self.hairline_style,
            mask: self.mask.as_deref(),
            density_map: self.density_map.as_deref(),
            exclusions: self.exclude.iter().map(PathBuf::as_path).collect(),
        }
    }

    /// Whether the field needs the photo's pixels (the skin found in it), not only its size.
    fn reads_pixels(&self) -> bool {
        self.auto_mask || self.skin_only
    }

    /// Decodes the photo, reading the field's files (`files`) alongside.
    fn load(&self, photo: &Path, limits: &LimitArgs) -> Result<(io::Loaded, FieldSources)> {
        Ok(io::load_photo_with_sources(photo, &limits.limits(), &self.files())?)
    }

    /// Builds `photo`'s density field from its `sources` (read by [`DesignArgs::load`]) and, when asked, the
    /// skin found in the photo.
    ///
    /// `photo` may be `None` (its size given) unless [`DesignArgs::reads_pixels`].
    fn field(
        &self,
        photo: Option<&image::DynamicImage>,
        (width, height): (u32, u32),
        sources: &FieldSources,
        px_per_mm: Option<f32>,
        seed: u64,
        head: Option<&smpsim::head::HeadModel>,
    ) -> Result<(DensityField, Scale)> {
        if !self.reads_pixels() {
            return Ok(sources.build(width, height, px_per_mm, seed)?);
        }
        let photo = photo.context("the skin is found in the photo's pixels, which are not decoded yet")?;
        let skin = &smpsim::skin::scalp_field(&photo.to_rgb8(), head);
        let mut sources = sources.clone();
        /// `slot` times `field`, or `field` where the slot is empty.
        fn multiply_into(slot: &mut Option<DensityField>, field: &DensityField) -> Result<()> {
            match slot {
                Some(m) => m.multiply(field)?,
                None => *slot = Some(field.clone()),
            }
            Ok(())
        }
        // Auto mask: the skin is the mask (times a given one). Skin only: multiplied in like a density map, so
        // nothing lands on hair, brows or backdrop.
        if self.auto_mask {
            multiply_into(&mut sources.mask, skin)?;
        }
        if self.skin_only {
            multiply_into(&mut sources.density_map, skin)?;
        }
        Ok(sources.build(width, height, px_per_mm, seed)?)
    }

    /// The density field, its scale and the head outline: the head given (or fitted, `--head auto`), else the
    /// design file's unless `--flat`, whose width sets the scale when `px_per_mm` (the one given) is `None`.
    /// `photo` may be `None`, its size given, unless an option reads its pixels ([`DesignArgs::reads_pixels`],
    /// [`ScaleSeedArgs::reads_pixels`]).
    fn field_scale_head(
        &self,
        scale_seed: &ScaleSeedArgs,
        px_per_mm: Option<f32>,
        seed: u64,
        photo: Option<&image::DynamicImage>,
        size: (u32, u32),
        sources: &FieldSources,
    ) -> Result<(DensityField, Scale, Option<smpsim::head::HeadModel>)> {
        let mut head = scale_seed.head(photo)?;
        let given = px_per_mm.or(head.map(|h| h.px_per_mm()));
        let (mut field, mut scale) = self.field(photo, size, sources, given, seed, head.as_ref())?;
        if let (None, false, Some(h)) = (head, scale_seed.flat, design_head(sources)) {
            // The design file's head outline: the curved-scalp model, and its scale when none was given.
            head = Some(h);
            if px_per_mm.is_none() {
                (field, scale) = self.field(photo, size, sources, Some(h.px_per_mm()), seed, Some(&h))?;
            }
        }
        let scale = Scale {
            estimated: px_per_mm.is_none(),
            ..scale
        };
        Ok((field, scale, head))
    }
}

/// Photo scale and seed, which every command that draws a design needs.
#[derive(Args)]
struct ScaleSeedArgs {
    /// Photo scale in pixels per mm [default: estimated from the treated region's width].
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    px_per_mm: Option<f32>,
    /// Seed for placement, per-impression variation and the hairline's irregularity [default: 1].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// The head's outline, an ellipse in pixels: placement follows the curved scalp (denser and foreshortened
    /// toward the silhouette), and without --px-per-mm the scale comes from the head's width (150 mm)
    /// [default: none, the photo is treated as flat].
    #[arg(long, value_name = "X,Y,RX,RY[,DEG]")]
    head: Option<String>,
    /// Treat the photo as flat even when the design file gives a head outline.
    #[arg(long, conflicts_with = "head")]
    flat: bool,
}

impl ScaleSeedArgs {
    /// Whether the head outline is fitted to the photo's pixels (`--head auto`).
    fn reads_pixels(&self) -> bool {
        !self.flat && self.head.as_deref() == Some("auto")
    }

    /// The head outline: given, fitted to the photo (`auto`), or none. `photo` may be `None` unless
    /// [`ScaleSeedArgs::reads_pixels`].
    fn head(&self, photo: Option<&image::DynamicImage>) -> Result<Option<smpsim::head::HeadModel>> {
        if self.flat {
            return Ok(None);
        }
        Ok(match self.head.as_deref() {
            Some("auto") => {
                let photo = photo.context("the head is fitted to the photo's pixels, which are not decoded yet")?;
                let fitted = smpsim::skin::fit_head(&photo.to_rgb8())?;
                eprintln!(
                    "smpsim: head outline fitted at {:.0},{:.0} with radii {:.0},{:.0} px",
                    fitted.centre[0], fitted.centre[1], fitted.radii[0], fitted.radii[1]
                );
                Some(fitted)
            }
            Some(text) => Some(smpsim::head::HeadModel::parse(text)?),
            None => None,
        })
    }
}

/// The treatment parameters every rendering command takes (defaults: see `smpsim::Params`).
#[derive(Args)]
struct TreatmentArgs {
    /// Impressions per cm² at full mask strength; a list like 60,100 gives one output each
    /// [default: 100, about half of natural hair density].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    density: Vec<f32>,
    /// Mean impression diameter in mm [default: 0.15, a healed impression].
    #[arg(long, value_name = "MM", allow_negative_numbers = true)]
    dot_size: Option<f32>,
    /// Pigment: auto, dark, medium, light, #rrggbb, or a mix like dark:70,medium:30; repeat the flag for one
    /// output per shade [default: #26242a].
    #[arg(long, value_name = "SHADE")]
    shade: Vec<ShadeSpec>,
    /// Where the client's hair is, for --shade auto: a box x,y,w,h in pixels, or a mask image (white = hair)
    /// [default: found near the treated region].
    #[arg(long, value_name = "BOX|FILE")]
    hair_sample: Option<String>,
    /// Treatment sessions in the plan [default: 3].
    #[arg(long, value_name = "N")]
    sessions: Option<u8>,
    /// Show the result after session K (1..N), or `all` for one output per session [default: the last].
    #[arg(long, value_name = "K|all")]
    session: Option<String>,
    /// Show the day of the session (fresh: larger, darker impressions) instead of healed.
    #[arg(long)]
    fresh: bool,
    /// Years after treatment (fading, softening, blue-grey drift); a list like 0,2,5 gives one output each.
    #[arg(long, value_name = "Y[,Y…]", value_delimiter = ',', allow_negative_numbers = true)]
    years: Vec<f32>,
    #[command(flatten)]
    scale_seed: ScaleSeedArgs,
    /// JPEG quality of the outputs, 1–100.
    #[arg(long, default_value_t = io::DEFAULT_JPEG_QUALITY)]
    quality: u8,
}

impl TreatmentArgs {
    /// `base` with every treatment flag that was given applied over it.
    fn params_over(&self, base: Params) -> Result<Params> {
        let mut p = base;
        if let Some(&v) = self.density.first() {
            p.density = v;
        }
        if let Some(v) = self.dot_size {
            p.dot_size = v;
        }
        if let Some(v) = self.shade.first() {
            p.shade = v.clone();
        }
        if let Some(v) = self.sessions {
            p.sessions = v;
        }
        p.fresh |= self.fresh;
        if let Some(v) = self.scale_seed.seed {
            p.seed = v;
        }
        if let Some(v) = self.scale_seed.px_per_mm {
            p.px_per_mm = Some(v);
        }
        Ok(p)
    }
}

/// An error that is the user's to fix in the arguments (exit code 2), not a file problem (exit code 1).
#[derive(Debug)]
struct UsageError(String);
impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    hand_back_large_blocks();
    // One CPU per worker (see `smpsim::affinity`). Building the global pool fails only if it already exists.
    let _ = rayon::ThreadPoolBuilder::new()
        .start_handler(smpsim::affinity::pin_worker)
        .build_global();
    let result = match cli.command {
        Command::Render(args) => render(&args),
        Command::Mask(args) => mask(&args),
        Command::Batch(args) => batch(&args),
        Command::MergeReports { reports, out } => merge_reports(&reports, &out),
        Command::Demo { out, treatment } => demo(&out, &treatment),
        Command::Serve(args) => serve(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<SomeFailed>().is_some() => ExitCode::from(EXIT_SOME_FAILED),
        Err(e) => {
            eprintln!("smpsim: {}", message(&e));
            let usage = e.downcast_ref::<UsageError>().is_some()
                || matches!(
                    e.downcast_ref::<smpsim::Error>(),
                    Some(smpsim::Error::InvalidParam { .. } | smpsim::Error::Design { .. })
                );
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// Has glibc's allocator return every block of 4 MB or more to the system when it is freed, unless the user
/// set `MALLOC_MMAP_THRESHOLD_` themselves.
///
/// Left to itself, glibc raises that threshold to the largest block it has seen freed (up to 32 MB), after
/// which a photo's buffers come from, and stay in, the arenas of the threads that decoded and encoded it: a
/// batch then held more than its jobs × one render's peak (1.03–1.04×). The program owns its allocator's
/// policy; the library leaves its host's alone.
fn hand_back_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only sets a parameter; no allocation has been made from another thread yet.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20) };
    }
}

/// Fails if `out` is the same file as `input`: inputs are never overwritten.
fn refuse_overwrite(input: &Path, out: &Path) -> Result<()> {
    if let (Ok(a), Ok(b)) = (input.canonicalize(), out.canonicalize()) {
        if a == b {
            bail!(UsageError(format!(
                "{}: output would overwrite an input",
                out.display()
            )));
        }
    }
    Ok(())
}

/// Refuses outputs that would overwrite the photo or any design input.
fn refuse_overwrites(photo: &Path, design: &DesignArgs, outputs: &[&Path]) -> Result<()> {
    for out in outputs {
        refuse_overwrite(photo, out)?;
        for input in design.inputs() {
            refuse_overwrite(input, out)?;
        }
    }
    Ok(())
}

/// Writes the self-contained before/after slider page, its images capped at `max_width` and embedded as JPEG.
fn write_slider(
    path: &Path,
    before: &image::RgbImage,
    after: &image::RgbImage,
    labels: &[String; 2],
    title: &str,
    max_width: u32,
) -> Result<()> {
    let page = compose::slider_page(before, after, labels, title, max_width)?;
    io::write_file(path, page.as_bytes())?;
    Ok(())
}

/// The head outline a design file gives, if any.
fn design_head(sources: &FieldSources) -> Option<smpsim::head::HeadModel> {
    sources.design.as_ref().and_then(|d| d.head)
}

/// Prints where an estimated scale came from (to stderr, so stdout stays clean for `--json`).
fn report_estimated_scale(scale: Scale, field: &DensityField, from_head: bool) {
    if scale.estimated && from_head {
        eprintln!(
            "smpsim: scale {:.2} px/mm from the head's width (taken as {} mm); pass --px-per-mm to set it",
            scale.px_per_mm,
            smpsim::head::HEAD_BREADTH_MM
        );
    } else if scale.estimated {
        eprintln!(
            "smpsim: estimated scale {:.2} px/mm from the treated region's width ({} px taken as {} mm); pass --px-per-mm to set it",
            scale.px_per_mm,
            scale::treated_width_px(field),
            scale::TYPICAL_TREATED_WIDTH_MM
        );
    }
}

/// One rendering of a photo: its parameters and where it goes.
struct Variant {
    params: Params,
    out: PathBuf,
    label: String,
}

impl TreatmentArgs {
    /// Every (density, shade, session, years) combination asked for, with its output path (`OUT` for a single
    /// one; otherwise `OUT` with `_d80`, `_sh2`, `_s2`, `_5y`, … before the extension) and a label for sheets.
    fn variants(&self, base: &Params, out: &Path) -> Result<Vec<Variant>> {
        let sessions: Vec<Option<u8>> = match self.session.as_deref() {
            None => vec![base.session],
            Some("all") => (1..=base.sessions).map(Some).collect(),
            Some(k) => vec![Some(k.parse().map_err(|_| {
                UsageError(format!("--session {k:?}: expected a session number or `all`"))
            })?)],
        };
        let years: Vec<f32> = if self.years.is_empty() {
            vec![base.years]
        } else {
            self.years.clone()
        };
        let densities: Vec<f32> = if self.density.is_empty() {
            vec![base.density]
        } else {
            self.density.clone()
        };
        let shades: Vec<ShadeSpec> = if self.shade.is_empty() {
            vec![base.shade.clone()]
        } else {
            self.shade.clone()
        };
        let many = sessions.len() * years.len() * densities.len() * shades.len() > 1;
        let mut variants = Vec::new();
        for &density in &densities {
            for (si, shade) in shades.iter().enumerate() {
                for &session in &sessions {
                    for &y in &years {
                        let params = Params {
                            density,
                            shade: shade.clone(),
                            session,
                            years: y,
                            ..base.clone()
                        };
                        params.validate()?;
                        let (mut suffix, mut label) = (String::new(), Vec::new());
                        if densities.len() > 1 {
                            suffix.push_str(&format!("_d{density}"));
                            label.push(format!("{density}/cm²"));
                        }
                        if shades.len() > 1 {
                            suffix.push_str(&format!("_sh{}", si + 1));
                            label.push(shade.to_string());
                        }
                        if let Some(k) = session.filter(|_| sessions.len() > 1) {
                            suffix.push_str(&format!("_s{k}"));
                            label.push(format!("session {k}"));
                        }
                        if years.len() > 1 {
                            suffix.push_str(&format!("_{y}y"));
                            label.push(format!("{y} years"));
                        }
                        let out = if many {
                            with_suffix(out, &suffix)
                        } else {
                            out.to_path_buf()
                        };
                        let label = if label.is_empty() {
                            "After".to_string()
                        } else {
                            label.join(" · ")
                        };
                        variants.push(Variant { params, out, label });
                    }
                }
            }
        }
        Ok(variants)
    }
}

/// `dir/name.ext` → `dir/name{suffix}.ext`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}{suffix}"),
    };
    path.with_file_name(name)
}

/// Resolves `--hair-sample` (a box or a mask file) and `--shade auto` into a concrete shade.
fn resolve_auto_shade(
    args: &TreatmentArgs,
    params: &mut Params,
    photo: &image::DynamicImage,
    field: &DensityField,
) -> Result<Option<smpsim::pigment::AutoShade>> {
    if params.shade != ShadeSpec::Auto {
        return Ok(None);
    }
    let rgb = photo.to_rgb8();
    let sample = match args.hair_sample.as_deref() {
        None => None,
        Some(text) => {
            let numbers: Vec<u32> = text.split(',').filter_map(|v| v.trim().parse().ok()).collect();
            if numbers.len() == 4 && text.split(',').count() == 4 {
                params.hair_sample = Some([numbers[0], numbers[1], numbers[2], numbers[3]]);
                None
            } else {
                Some(io::load_mask(Path::new(text), rgb.width(), rgb.height())?)
            }
        }
    };
    let auto = match sample {
        Some(sample) => smpsim::pigment::auto_shade(&rgb, field, Some(&sample))?,
        None => {
            let (resolved, auto) = smpsim::resolve_shade(&rgb, field, params)?;
            let auto = auto.expect("auto was asked for");
            *params = resolved.into_owned();
            auto
        }
    };
    params.shade = ShadeSpec::single(auto.shade);
    eprintln!("smpsim: shade auto → {}", auto.reason);
    Ok(Some(auto))
}

/// The error and its causes, joined by ": " as anyhow's `{:#}` does, but without a cause that the message
/// before it already ends with (the library's file errors say their cause themselves, and also give it as
/// their `source()` for programs that walk the chain).
fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let cause = cause.to_string();
        if text.is_empty() {
            text = cause;
        } else if !text.ends_with(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

/// What `render` prepares while the photo decodes.
struct BesideDecode {
    sources: FieldSources,
    /// The field, its scale and the parameters they settle (head, scale), unless they needed the pixels.
    field: Option<(DensityField, Scale, Params)>,
    /// The one output's impressions, placed and prepared for stamping, and its parameters, when that needed
    /// the pixels neither: then the photo's bands are stamped as they are decoded, where it can be.
    planned: Option<(smpsim::Planned, Params)>,
    /// Seconds spent building the field (0 if it was not built here).
    mask_seconds: f64,
}

/// A variant's parameters at the render's settled scale and head.
fn variant_params(variant: &Variant, params: &Params, scale: Scale) -> Params {
    Params {
        px_per_mm: Some(scale.px_per_mm),
        head: params.head,
        ..variant.params.clone()
    }
}

fn render(args: &RenderArgs) -> Result<()> {
    let base = match &args.config {
        Some(path) => {
            let name = path.display().to_string();
            smpsim::config::from_layers(&[&smpsim::config::read_table(path)?], &name)?.treatment
        }
        None => Params::default(),
    };
    let mut params = args.treatment.params_over(base)?;
    params.validate()?;
    let variants = args.treatment.variants(&params, &args.out)?;
    let outputs: Vec<&Path> = variants
        .iter()
        .map(|v| v.out.as_path())
        .chain(args.compare.as_deref())
        .chain(args.present.sheet.as_deref())
        .chain(args.present.html.as_deref())
        .collect();
    refuse_overwrites(&args.photo, &args.design, &outputs)?;
    for (config, out) in args.config.iter().flat_map(|c| outputs.iter().map(move |o| (c, o))) {
        refuse_overwrite(config, out)?;
    }
    let total = Instant::now();
    let t = Instant::now();
    // While the photo decodes (on one core), the other reads the design's files, builds the field and, for a
    // single output, places the impressions and prepares them for stamping: all of it unless an option reads
    // the photo's pixels to do so.
    let field_beside = !args.design.reads_pixels() && !args.treatment.scale_seed.reads_pixels();
    let present = &args.present;
    let keep_before = variants.len() > 1 || args.compare.is_some() || present.sheet.is_some() || present.html.is_some();
    let plan_beside = field_beside && !keep_before && variants[0].params.shade != ShadeSpec::Auto;
    let files = args.design.files();
    // With the impressions placed and prepared there, each band of the photo is stamped as soon as it is
    // decoded (a baseline JPEG that needs no turn), on the core the decode leaves free.
    let stamp_band = |beside: &anyhow::Result<BesideDecode>, band: usize, pixels: &mut [u8]| match beside {
        Ok(BesideDecode {
            field: Some((field, ..)),
            planned: Some((planned, vp)),
            ..
        }) => smpsim::stamp_planned_band(planned, field, vp, band, pixels),
        _ => false,
    };
    let limits = args.limits.limits();
    let (mut loaded, beside, stamped) = io::load_photo_beside_stamping(
        &args.photo,
        &limits,
        |width, height| {
            let sources = io::load_sources(&files, width, height)?;
            let t = Instant::now();
            let (mut field, mut planned, mut mask_seconds) = (None, None, 0.0);
            if field_beside {
                let mut params = params.clone();
                let (f, scale, head) = args.design.field_scale_head(
                    &args.treatment.scale_seed,
                    params.px_per_mm,
                    params.seed,
                    None,
                    (width, height),
                    &sources,
                )?;
                params.head = head;
                mask_seconds = t.elapsed().as_secs_f64();
                if plan_beside {
                    let vp = variant_params(&variants[0], &params, scale);
                    planned = Some((smpsim::plan_and_prepare(width, height, &f, &vp)?, vp));
                }
                field = Some((f, scale, params));
            }
            anyhow::Ok(BesideDecode {
                sources,
                field,
                planned,
                mask_seconds,
            })
        },
        stamp_band,
    )?;
    let beside = beside?;
    let decode = t.elapsed().as_secs_f64();
    let (sources, mut mask) = (beside.sources, beside.mask_seconds);
    let (field, scale) = match beside.field {
        Some((field, scale, settled)) => {
            params = settled;
            (field, scale)
        }
        None => {
            let t = Instant::now();
            let size = (loaded.image.width(), loaded.image.height());
            let (field, scale, head) = args.design.field_scale_head(
                &args.treatment.scale_seed,
                params.px_per_mm,
                params.seed,
                Some(&loaded.image),
                size,
                &sources,
            )?;
            params.head = head;
            mask += t.elapsed().as_secs_f64();
            (field, scale)
        }
    };
    report_estimated_scale(scale, &field, params.head.is_some());
    params.px_per_mm = Some(scale.px_per_mm);
    if !keep_before {
        // One output and nothing to compare: stamp the decoded photo in place (no second full-size copy).
        let mut vp = variant_params(&variants[0], &params, scale);
        let auto = resolve_auto_shade(&args.treatment, &mut vp, &loaded.image, &field)?;
        let stats = match beside.planned {
            // Stamped band by band during the decode (its time is in `decode`).
            Some((planned, _)) if stamped => planned.stats().clone(),
            Some((planned, _)) => smpsim::render_planned_mut(&mut loaded.image, &field, &vp, planned)?,
            None => smpsim::render_image_mut(&mut loaded.image, &field, &vp)?,
        };
        let t = Instant::now();
        io::save_image(
            &variants[0].out,
            &loaded.image,
            loaded.icc.as_deref(),
            args.treatment.quality,
        )?;
        let encode = t.elapsed().as_secs_f64();
        let seconds = [
            decode,
            mask,
            stats.place_seconds,
            stats.stamp_seconds,
            encode,
            total.elapsed().as_secs_f64(),
        ];
        return report_render(
            args,
            &params,
            scale,
            &stats,
            auto.as_ref(),
            &[variant_json(&variants[0], &vp, &stats)],
            seconds,
        );
    }
    let (photo, icc) = (&loaded.image, loaded.icc.as_deref());
    // `auto` is resolved once, from the photo, for every variant that asks for it.
    let any_auto = variants.iter().any(|v| v.params.shade == ShadeSpec::Auto);
    let auto = if any_auto {
        let mut p = Params {
            shade: ShadeSpec::Auto,
            ..params.clone()
        };
        resolve_auto_shade(&args.treatment, &mut p, photo, &field)?.map(|a| (a, p.hair_sample))
    } else {
        None
    };
    let q = args.treatment.quality;
    let (mut encode, mut place, mut stamp) = (0.0, 0.0, 0.0);
    let mut rendered = Vec::new();
    let mut reports = Vec::new();
    for v in &variants {
        let mut vp = Params {
            px_per_mm: params.px_per_mm,
            head: params.head,
            ..v.params.clone()
        };
        if let (ShadeSpec::Auto, Some((a, sample))) = (&vp.shade, &auto) {
            vp.shade = ShadeSpec::single(a.shade);
            vp.hair_sample = *sample;
        }
        let (after, stats) = smpsim::render_image(photo, &field, &vp)?;
        let t = Instant::now();
        io::save_image(&v.out, &after, icc, q)?;
        encode += t.elapsed().as_secs_f64();
        place += stats.place_seconds;
        stamp += stats.stamp_seconds;
        reports.push(variant_json(v, &vp, &stats));
        rendered.push((v, after, stats));
    }
    let t = Instant::now();
    let before_rgb = photo.to_rgb8();
    let first_after = rendered[0].1.to_rgb8();
    if let Some(path) = &args.compare {
        let options = present.compare_options(&field, &before_rgb)?;
        let img = compose::compare(&before_rgb, &first_after, &options);
        io::save_image(path, &image::DynamicImage::ImageRgb8(img), icc, q)?;
    }
    if let Some(path) = &present.sheet {
        let mut tiles = vec![(present.labels()[0].clone(), before_rgb.clone())];
        tiles.extend(rendered.iter().map(|(v, img, _)| (v.label.clone(), img.to_rgb8())));
        let columns = (tiles.len() as f32).sqrt().ceil() as u32;
        let tile_width = present.max_width.map_or(800, |m| {
            (m.saturating_sub(compose::GAP * (columns - 1)) / columns).max(64)
        });
        let sheet = compose::contact_sheet(&tiles, columns, tile_width.min(before_rgb.width()));
        io::save_image(path, &image::DynamicImage::ImageRgb8(sheet), icc, q)?;
    }
    if let Some(path) = &present.html {
        let title = present
            .caption
            .clone()
            .unwrap_or_else(|| "Scalp micropigmentation preview".into());
        let max_width = present.max_width.unwrap_or(2400);
        write_slider(path, &before_rgb, &first_after, &present.labels(), &title, max_width)?;
    }
    encode += t.elapsed().as_secs_f64();
    let stats = &rendered[0].2;
    let seconds = [decode, mask, place, stamp, encode, total.elapsed().as_secs_f64()];
    report_render(
        args,
        &params,
        scale,
        stats,
        auto.as_ref().map(|a| &a.0),
        &reports,
        seconds,
    )
}

fn variant_json(v: &Variant, p: &Params, stats: &smpsim::RenderStats) -> serde_json::Value {
    json!({
        "output": v.out,
        "label": v.label,
        "density": p.density,
        "shade": stats.shade,
        "session": p.session_shown(),
        "years": p.years,
        "fresh": p.fresh,
        "impressions": stats.impressions,
    })
}

/// Prints what a render did: the JSON summary, or a line per output.
fn report_render(
    args: &RenderArgs,
    params: &Params,
    scale: Scale,
    stats: &smpsim::RenderStats,
    auto: Option<&smpsim::pigment::AutoShade>,
    variants: &[serde_json::Value],
    [decode, mask, place, stamp, encode, total]: [f64; 6],
) -> Result<()> {
    if args.json {
        let params = Params {
            px_per_mm: (!scale.estimated).then_some(scale.px_per_mm),
            ..params.clone()
        };
        let summary = json!({
            "photo": args.photo,
            "output": variants[0]["output"],
            "impressions": stats.impressions,
            "px_per_mm": scale.px_per_mm,
            "px_per_mm_estimated": scale.estimated,
            "treated_area_cm2": stats.treated_area_cm2,
            "shade": stats.shade,
            "auto_shade": auto,
            "params": params,
            "variants": variants,
            "seconds": { "decode": decode, "mask": mask, "place": place, "stamp": stamp, "encode": encode, "total": total },
        });
        println!("{summary}");
    } else {
        for v in variants {
            eprintln!(
                "smpsim: {} impressions over {:.1} cm² at {:.2} px/mm ({}) → {}",
                v["impressions"],
                stats.treated_area_cm2,
                scale.px_per_mm,
                v["label"].as_str().unwrap_or(""),
                v["output"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}

fn mask(args: &MaskArgs) -> Result<()> {
    let outputs: Vec<&Path> = std::iter::once(args.out.as_path())
        .chain(args.overlay.as_deref())
        .collect();
    refuse_overwrites(&args.photo, &args.design, &outputs)?;
    let (loaded, sources) = args.design.load(&args.photo, &args.limits)?;
    let seed = args.scale_seed.seed.unwrap_or(Params::default().seed);
    let size = (loaded.image.width(), loaded.image.height());
    let (field, scale, head) = args.design.field_scale_head(
        &args.scale_seed,
        args.scale_seed.px_per_mm,
        seed,
        Some(&loaded.image),
        size,
        &sources,
    )?;
    let photo = loaded.image.into_rgb8();
    report_estimated_scale(scale, &field, head.is_some());
    io::save_gray(&args.out, &field.to_image())?;
    if let Some(path) = &args.overlay {
        let drawn = overlay::overlay(&photo, &field, sources.design.as_ref(), scale.px_per_mm);
        io::save_rgb(path, &drawn, io::DEFAULT_JPEG_QUALITY)?;
    }
    eprintln!(
        "smpsim: density field over {:.1} cm² at {:.2} px/mm → {}",
        field.weighted_area_px() / (scale.px_per_mm as f64).powi(2) / 100.0,
        scale.px_per_mm,
        args.out.display()
    );
    Ok(())
}

/// Exit code of a batch in which some photo failed.
const EXIT_SOME_FAILED: u8 = 3;

/// An error whose only job is to set the exit code; already reported.
#[derive(Debug)]
struct SomeFailed(usize);
impl std::fmt::Display for SomeFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} photo(s) failed; see the report", self.0)
    }
}
impl std::error::Error for SomeFailed {}

fn batch(args: &BatchArgs) -> Result<()> {
    use smpsim::batch::{self, BatchOptions, Status};
    let shard = match &args.shard {
        None => None,
        Some(s) => {
            let parsed = s
                .split_once('/')
                .and_then(|(k, n)| Some((k.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?)));
            match parsed {
                Some((k, n)) if k >= 1 && k <= n => Some((k, n)),
                _ => bail!(UsageError(format!(
                    "--shard {s:?}: expected K/N with 1 ≤ K ≤ N, e.g. 2/8"
                ))),
            }
        }
    };
    let options = BatchOptions {
        input: args.input.clone(),
        output: args.out.clone(),
        config: args.config.clone(),
        recursive: args.recursive,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        force: args.force,
        shard,
        limits: args.limits.limits(),
    };
    let interactive = !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = indicatif::ProgressBar::hidden();
    if interactive {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} photos  {per_sec}  ETA {eta}  {msg}")
                .expect("valid template"),
        );
    }
    let report = batch::run(&options, |done, total, photo| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        let status = serde_json::to_value(photo.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from));
        let line = format!(
            "[{done}/{total}] {} {}{}",
            status.unwrap_or_default(),
            photo.photo.display(),
            photo.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
        );
        if interactive {
            if photo.status == Status::Failed {
                bar.println(line);
            }
        } else if !args.quiet {
            eprintln!("{line}");
        }
    })?;
    bar.finish_and_clear();
    let name = match shard {
        Some((k, n)) => format!("report.shard-{k}-of-{n}"),
        None => "report".to_string(),
    };
    let json_path = args.out.join(format!("{name}.json"));
    let json = serde_json::to_vec_pretty(&report).context("serialising the report")?;
    io::write_file(&json_path, &json)?;
    if args.csv {
        let csv_path = args.out.join(format!("{name}.csv"));
        let csv = report.to_csv();
        io::write_file(&csv_path, csv.as_bytes())?;
    }
    let failed = report.count(Status::Failed);
    if !args.quiet {
        eprintln!(
            "smpsim: {} rendered, {} up to date, {} without a design (skipped), {failed} failed → {}",
            report.count(Status::Rendered),
            report.count(Status::UpToDate),
            report.count(Status::NoDesign),
            json_path.display()
        );
    }
    if failed > 0 {
        return Err(SomeFailed(failed).into());
    }
    Ok(())
}

fn merge_reports(paths: &[PathBuf], out: &Path) -> Result<()> {
    let mut reports = Vec::new();
    for p in paths {
        let text = std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?;
        let r: smpsim::batch::BatchReport =
            serde_json::from_slice(&text).with_context(|| format!("{}: not a batch report", p.display()))?;
        reports.push(r);
    }
    let merged = smpsim::batch::BatchReport::merge(reports);
    let json = serde_json::to_vec_pretty(&merged).context("serialising the report")?;
    io::write_file(out, &json)?;
    eprintln!(
        "smpsim: merged {} photos from {} reports → {}",
        merged.photos.len(),
        paths.len(),
        out.display()
    );
    Ok(())
}

/// The bundled fixture: a synthetic head photographed from the front and above, and its hairline design.
const DEMO_PHOTO: &[u8] = include_bytes!("../fixtures/head.jpg");
const DEMO_DESIGN: &str = include_str!("../fixtures/head.hairline.toml");
const DEMO_DESIGN_NAME: &str = "fixtures/head.hairline.toml";

fn demo(out: &Path, treatment: &TreatmentArgs) -> Result<()> {
    let photo = image::load_from_memory(DEMO_PHOTO)
        .context("bundled demo photo")?
        .into_rgb8();
    let design = smpsim::design::Design::parse(DEMO_DESIGN, smpsim::design::DesignFormat::Toml, DEMO_DESIGN_NAME)?;
    let sources = FieldSources {
        design: Some(design.resolve(photo.width(), photo.height(), DEMO_DESIGN_NAME)?),
        ..FieldSources::default()
    };
    let mut params = treatment.params_over(Params::default())?;
    params.validate()?;
    let (field, scale) = sources.build(photo.width(), photo.height(), params.px_per_mm, params.seed)?;
    params.px_per_mm = Some(scale.px_per_mm);
    let rendered = smpsim::render(&photo, &field, &params)?;
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create the output folder", out.display()))?;
    let q = treatment.quality;
    let after = out.join("after.jpg");
    let compare = out.join("before_after.jpg");
    let closeup = out.join("closeup.png");
    let design_overlay = out.join("design.jpg");
    io::save_rgb(&after, &rendered.image, q)?;
    let labelled = compose::compare(&photo, &rendered.image, &compose::CompareOptions::new());
    io::save_rgb(&compare, &labelled, q)?;
    // A 2× close-up of the front hairline, lossless so the impressions are seen as they are.
    let region = compose::front_edge_region(&field, 400, 300);
    io::save_rgb(
        &closeup,
        &compose::zoomed_pair(&photo, &rendered.image, region, 2, 8),
        q,
    )?;
    let drawn = overlay::overlay(&photo, &field, sources.design.as_ref(), scale.px_per_mm);
    io::save_rgb(&design_overlay, &drawn, q)?;
    println!(
        "{} impressions over {:.1} cm² at {:.2} px/mm ({}), design {DEMO_DESIGN_NAME}",
        rendered.stats.impressions,
        rendered.stats.treated_area_cm2,
        scale.px_per_mm,
        if scale.estimated { "estimated" } else { "given" }
    );
    let slider = out.join("slider.html");
    let labels = ["Before".to_string(), "After".to_string()];
    write_slider(&slider, &photo, &rendered.image, &labels, "smpsim demo", 2400)?;
    for p in [&after, &compare, &closeup, &design_overlay, &slider] {
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// `smpsim serve`: runs the designer until Ctrl-C.
fn serve(args: &ServeArgs) -> Result<()> {
    if !args.bind.is_loopback() {
        eprintln!(
            "smpsim: warning: listening on {}, not loopback: other computers on the network can open the designer \
             and the photos loaded in it",
            args.bind
        );
    }
    let options = smpsim::serve::Options {
        addr: std::net::SocketAddr::new(args.bind, args.port),
        max_upload_bytes: args.max_upload_mb << 20,
        max_sessions: args.max_photos.max(1),
        idle: std::time::Duration::from_secs(args.idle_minutes.max(1) * 60),
        ..Default::default()
    };
    let open = args.open;
    smpsim::serve::run(options, |addr| {
        let url = format!("http://{addr}/");
        // The first line of stdout is the address (tests and scripts read it); flushed before anything else.
        println!("smpsim designer: {url}");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        eprintln!("smpsim: photos stay in memory and are dropped when their page closes; Ctrl-C stops");
        if open {
            open_browser(&url);
        }
    })
    .with_context(|| format!("cannot listen on {}:{}", args.bind, args.port))
}

/// Opens `url` in the desktop's browser; says so when it cannot.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("smpsim: could not open a browser ({opener}: {e}); open {url} yourself");
    }
}

#[cfg(test)]
mod tests {
    /// With glibc, after a 20 MB block is freed (which would raise its threshold past 8 MB), an 8 MB block is
    /// still mapped on its own, so that freeing it hands it back.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn large_blocks_are_mapped_on_their_own() {
        super::hand_back_large_blocks();
        drop(std::hint::black_box(vec![1u8; 20 << 20]));
        // SAFETY: mallinfo2 only reads the allocator's statistics.
        let mapped = || unsafe { libc::mallinfo2() }.hblkhd;
        let before = mapped();
        let block = std::hint::black_box(vec![1u8; 8 << 20]);
        let during = mapped();
        drop(block);
        assert!(during >= before + (8 << 20), "mapped {before} → {during} bytes");
    }
}
