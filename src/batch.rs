//! Batch processing: a folder of consultation photos in, a folder of results out, nothing lost.
//!
//! Each photo is rendered with its own design, found beside it: `NAME.hairline.toml` (or `.json`),
//! `NAME.mask.png`, optionally `NAME.density.png` and `NAME.exclude.png`, and `NAME.toml` overriding the
//! folder's `smpsim.toml`, which overrides the defaults. A photo with no design is reported and skipped, never
//! guessed. Outputs keep the folder structure, named after the photo ([`result_stems`]: photos whose names
//! differ only in extension or case keep the extension, so none overwrites another's). Every photo is
//! rendered exactly as `smpsim render` would render it alone, so results are byte-identical to single runs.
//!
//! Safety: outputs are written atomically, inputs are never written, an output folder equal to the input
//! folder is refused (one inside it is left out of the scan), and a photo whose outputs are newer than every
//! file it depends on is skipped as up to date (`force` redoes it) — so a batch stopped by a crash or Ctrl-C
//! resumes where it was. `shard = (k, n)` takes a deterministic 1/n of the photos for job arrays.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use crate::config::{from_layers, read_table, Config};
use crate::error::{Error, Result};
use crate::io::{self, DecodeLimits};
use crate::pigment::ShadeSpec;

/// Extensions of photos the batch picks up (case-insensitive).
pub const PHOTO_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "tif", "tiff"];

/// What a batch run should do.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Folder of photos.
    pub input: PathBuf,
    /// Folder for results (created if missing).
    pub output: PathBuf,
    /// The folder's configuration file; default `INPUT/smpsim.toml` when it exists.
    pub config: Option<PathBuf>,
    /// Descend into sub-folders.
    pub recursive: bool,
    /// Photos rendered at once (each photo's own work is parallel too); bounds memory to about this many
    /// decoded photos.
    pub jobs: usize,
    /// Render again even when the outputs are up to date.
    pub force: bool,
    /// Take only shard `k` of `n` (1-based), chosen by a hash of the photo's relative path.
    pub shard: Option<(u32, u32)>,
    /// Decode limits per photo.
    pub limits: DecodeLimits,
}

/// What happened to one photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Rendered and written.
    Rendered,
    /// Its outputs were newer than its inputs: left as they were.
    UpToDate,
    /// No design beside it (no `NAME.hairline.*` or `NAME.mask.png`): not rendered.
    NoDesign,
    /// Something failed; see `error`.
    Failed,
}

/// One photo's line in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoReport {
    /// The photo, relative to the input folder.
    pub photo: PathBuf,
    /// What happened.
    pub status: Status,
    /// Impressions placed (rendered photos).
    pub impressions: Option<usize>,
    /// Seconds spent on this photo.
    pub seconds: f64,
    /// Files written, relative to the output folder.
    pub outputs: Vec<PathBuf>,
    /// The error, for failed photos.
    pub error: Option<String>,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchReport {
    /// Which shard this is ("1/1" for a whole folder).
    pub shard: String,
    /// Photos by relative path, sorted.
    pub photos: Vec<PhotoReport>,
}

impl BatchReport {
    /// How many photos ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.photos.iter().filter(|p| p.status == status).count()
    }

    /// The report as CSV: photo, status, impressions, seconds, outputs (`;`-separated), error.
    pub fn to_csv(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut out = String::from("photo,status,impressions,seconds,outputs,error\n");
        for p in &self.photos {
            let status = serde_json::to_value(p.status)
                .ok()
                .and_then(|v| v.as_str().map(String::from));
            let outputs: Vec<String> = p.outputs.iter().map(|o| o.display().to_string()).collect();
            out.push_str(&format!(
                "{},{},{},{:.3},{},{}\n",
                quote(&p.photo.display().to_string()),
                status.unwrap_or_default(),
                p.impressions.map(|n| n.to_string()).unwrap_or_default(),
                p.seconds,
                quote(&outputs.join(";")),
                quote(p.error.as_deref().unwrap_or("")),
            ));
        }
        out
    }

    /// Merges shard reports into one, photos sorted by path.
    pub fn merge(reports: Vec<BatchReport>) -> BatchReport {
        let mut photos: Vec<PhotoReport> = reports.into_iter().flat_map(|r| r.photos).collect();
        photos.sort_by(|a, b| a.photo.cmp(&b.photo));
        BatchReport {
            shard: "merged".into(),
            photos,
        }
    }
}

/// Whether `path` names a photo (by extension), not a sidecar mask.
fn is_photo(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let sidecar = [".mask.", ".density.", ".exclude.", ".hairline."]
        .iter()
        .any(|s| name.contains(s));
    PHOTO_EXTENSIONS.contains(&ext.as_str()) && !sidecar && !name.starts_with('.')
}

/// The photos under `dir` (relative paths, sorted), leaving out `skip` (the output folder).
pub fn find_photos(dir: &Path, recursive: bool, skip: Option<&Path>) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, dir: &Path, recursive: bool, skip: Option<&Path>, out: &mut Vec<PathBuf>) -> Result<()> {
        let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| Error::Io {
                    path: dir.to_path_buf(),
                    source,
                })?
                .path();
            if path.is_dir() {
                let skipped = skip.is_some_and(|s| path.canonicalize().ok().as_deref() == Some(s));
                if recursive && !skipped {
                    walk(root, &path, recursive, skip, out)?;
                }
            } else if is_photo(&path) {
                out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, recursive, skip, &mut out)?;
    out.sort();
    Ok(out)
}

/// Where each of `photos` (relative paths, sorted) writes its results, without the extension: its own path
/// without the extension, unless another photo in the same folder has the same name but for the extension or
/// letter case (`anna.jpg`, `anna.png`, `Anna.JPG`) — those would overwrite each other's results, so each of
/// them keeps its extension after an underscore (`anna_jpg`, `anna_png`, `Anna_JPG`). Names are compared
/// ignoring case, as some filesystems do, and a name already taken (with its `.compare` result) gets `_2`,
/// `_3`… Depends only on the list, so a resumed batch and every shard name each photo alike.
pub fn result_stems(photos: &[PathBuf]) -> Vec<PathBuf> {
    use std::collections::{HashMap, HashSet};
    let plain = |rel: &Path| rel.with_extension("");
    let key = |stem: &Path| stem.to_string_lossy().to_lowercase();
    let mut same_name: HashMap<String, usize> = HashMap::new();
    for rel in photos {
        *same_name.entry(key(&plain(rel))).or_default() += 1;
    }
    let mut taken: HashSet<String> = HashSet::new();
    photos
        .iter()
        .map(|rel| {
            let mut wanted = plain(rel).into_os_string();
            if same_name[&key(&plain(rel))] > 1 {
                wanted.push("_");
                wanted.push(rel.extension().unwrap_or_default());
            }
            let mut stem = PathBuf::from(&wanted);
            for n in 2.. {
                let name = key(&stem);
                if !taken.contains(&name) && !taken.contains(&format!("{name}.compare")) {
                    break;
                }
                let mut numbered = wanted.clone();
                numbered.push(format!("_{n}"));
                stem = PathBuf::from(numbered);
            }
            let name = key(&stem);
            taken.insert(format!("{name}.compare"));
            taken.insert(name);
            stem
        })
        .collect()
}

/// Whether the photo at relative path `rel` belongs to shard `k` of `n`: FNV-1a of the path, mod n.
pub fn in_shard(rel: &Path, k: u32, n: u32) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rel.to_string_lossy().replace('\\', "/").bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % n as u64) as u32 == k - 1
}

/// The sidecar `NAME<suffix>` beside a photo, if it exists.
fn sidecar(photo: &Path, suffix: &str) -> Option<PathBuf> {
    let stem = photo.file_stem()?.to_string_lossy().into_owned();
    let p = photo.with_file_name(format!("{stem}{suffix}"));
    p.is_file().then_some(p)
}

/// The design and parameter files one photo depends on.
struct Inputs {
    hairline: Option<PathBuf>,
    mask: Option<PathBuf>,
    density: Option<PathBuf>,
    exclude: Option<PathBuf>,
    params: Option<PathBuf>,
}

impl Inputs {
    fn find(photo: &Path) -> Inputs {
        Inputs {
            hairline: sidecar(photo, ".hairline.toml").or_else(|| sidecar(photo, ".hairline.json")),
            mask: sidecar(photo, ".mask.png"),
            density: sidecar(photo, ".density.png"),
            exclude: sidecar(photo, ".exclude.png"),
            params: sidecar(photo, ".toml"),
        }
    }

    fn files(&self) -> impl Iterator<Item = &PathBuf> {
        [&self.hairline, &self.mask, &self.density, &self.exclude, &self.params]
            .into_iter()
            .flatten()
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Runs a batch, calling `progress(done, total, report)` as each photo finishes (from worker threads, in
/// completion order). The report lists photos in path order.
pub fn run(options: &BatchOptions, progress: impl Fn(usize, usize, &PhotoReport) + Sync) -> Result<BatchReport> {
    let input = options.input.canonicalize().map_err(|source| Error::Io {
        path: options.input.clone(),
        source,
    })?;
    std::fs::create_dir_all(&options.output).map_err(|source| Error::Io {
        path: options.output.clone(),
        source,
    })?;
    let output = options.output.canonicalize().map_err(|source| Error::Io {
        path: options.output.clone(),
        source,
    })?;
    // Leftovers of a run that was killed mid-write on this machine.
    io::remove_stale_temporaries(&output);
    if output == input {
        return Err(Error::param(
            "output",
            output.display(),
            "is the input folder: results would mix with the photos",
        ));
    }
    if let Some((k, n)) = options.shard {
        if n == 0 || k == 0 || k > n {
            return Err(Error::param("shard", format!("{k}/{n}"), "must be K/N with 1 ≤ K ≤ N"));
        }
    }
    let config_path = options.config.clone().or_else(|| {
        let p = input.join("smpsim.toml");
        p.is_file().then_some(p)
    });
    let folder_table = match &config_path {
        Some(p) => read_table(p)?,
        None => toml::Table::new(),
    };
    let config_time = config_path.as_deref().and_then(modified);
    let found = find_photos(&input, options.recursive, Some(&output))?;
    // Named over the whole folder before sharding, so every shard names every photo alike.
    let mut photos: Vec<(PathBuf, PathBuf)> = result_stems(&found)
        .into_iter()
        .zip(found)
        .map(|(s, p)| (p, s))
        .collect();
    if let Some((k, n)) = options.shard {
        photos.retain(|(rel, _)| in_shard(rel, k, n));
    }
    let total = photos.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<PhotoReport>> = Mutex::new(Vec::with_capacity(total));
    let jobs = options.jobs.clamp(1, total.max(1));
    // Plain worker threads pull photos one at a time, so at most `jobs` photos are decoded at once; each
    // photo's own placement and stamping run on rayon's pool.
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((rel, stem)) = photos.get(i) else { break };
                let report = process(rel, stem, &input, &output, &folder_table, config_time, options);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(n, total, &report);
                results.lock().expect("no panics hold this lock").push(report);
            });
        }
    });
    let mut photos = results.into_inner().expect("no panics hold this lock");
    photos.sort_by(|a, b| a.photo.cmp(&b.photo));
    let shard = options.shard.map_or("1/1".to_string(), |(k, n)| format!("{k}/{n}"));
    Ok(BatchReport { shard, photos })
}

/// Renders one photo (or decides not to), never failing the batch. Its results are named `stem` + `.EXT` and
/// `.compare.EXT`, in the output folder ([`result_stems`]).
fn process(
    rel: &Path,
    stem: &Path,
    input: &Path,
    output: &Path,
    folder: &toml::Table,
    config_time: Option<SystemTime>,
    options: &BatchOptions,
) -> PhotoReport {
    let start = Instant::now();
    let photo = input.join(rel);
    let inputs = Inputs::find(&photo);
    let mut report = PhotoReport {
        photo: rel.to_path_buf(),
        status: Status::Failed,
        impressions: None,
        seconds: 0.0,
        outputs: Vec::new(),
        error: None,
    };
    if inputs.hairline.is_none() && inputs.mask.is_none() {
        report.status = Status::NoDesign;
        report.error = Some("no NAME.hairline.toml/.json or NAME.mask.png beside it".into());
        return report;
    }
    match render_one(stem, &photo, &inputs, output, folder, config_time, options) {
        Ok((status, impressions, outputs)) => {
            report.status = status;
            report.impressions = impressions;
            report.outputs = outputs;
        }
        Err(e) => report.error = Some(e.to_string()),
    }
    report.seconds = start.elapsed().as_secs_f64();
    report
}

type Rendered = (Status, Option<usize>, Vec<PathBuf>);

fn render_one(
    stem: &Path,
    photo: &Path,
    inputs: &Inputs,
    output: &Path,
    folder: &toml::Table,
    config_time: Option<SystemTime>,
    options: &BatchOptions,
) -> Result<Rendered> {
    let photo_table = match &inputs.params {
        Some(p) => read_table(p)?,
        None => toml::Table::new(),
    };
    let config: Config = from_layers(&[folder, &photo_table], &photo.display().to_string())?;
    let ext = config.output.format.as_str();
    let with_suffix = |suffix: &str| {
        let mut name = stem.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let after_rel = with_suffix(&format!(".{ext}"));
    let compare_rel = with_suffix(&format!(".compare.{ext}"));
    let rel_dir = stem.parent().unwrap_or(Path::new(""));
    let mut outputs = vec![after_rel.clone()];
    if config.output.compare {
        outputs.push(compare_rel.clone());
    }
    // Up to date: every output newer than the photo, its sidecars and the folder's config.
    let newest_input = std::iter::once(photo.to_path_buf())
        .chain(inputs.files().cloned())
        .filter_map(|p| modified(&p))
        .chain(config_time)
        .max();
    let fresh = outputs.iter().all(|o| match (modified(&output.join(o)), newest_input) {
        (Some(out), Some(newest)) => out > newest,
        _ => false,
    });
    if fresh && !options.force {
        return Ok((Status::UpToDate, None, outputs));
    }
    std::fs::create_dir_all(output.join(rel_dir)).map_err(|source| Error::Io {
        path: output.join(rel_dir),
        source,
    })?;
    let files = io::SourceFiles {
        hairline: inputs.hairline.as_deref(),
        hairline_style: None,
        mask: inputs.mask.as_deref(),
        density_map: inputs.density.as_deref(),
        exclusions: inputs.exclude.as_deref().into_iter().collect(),
    };
    // The field built and the impressions placed and prepared while the photo decodes, and then, with no
    // comparison to write (which needs the photo as it was), each band stamped as soon as it is decoded (as
    // `smpsim render` does).
    let compare = config.output.compare;
    let stamp_band =
        |beside: &Result<(crate::DensityField, crate::Params, Option<crate::Planned>)>, band, pixels: &mut [u8]| {
            match beside {
                Ok((field, params, Some(planned))) if !compare => {
                    crate::stamp_planned_band(planned, field, params, band, pixels)
                }
                _ => false,
            }
        };
    let (mut loaded, beside, stamped) = io::load_photo_beside_stamping(
        photo,
        &options.limits,
        |w, h| {
            let sources = io::load_sources(&files, w, h)?;
            let mut params = config.treatment.clone();
            // A head outline (the design's, unless the config gives one) brings its scale when none is set.
            if params.head.is_none() {
                params.head = sources.design.as_ref().and_then(|d| d.head);
            }
            let given = params.px_per_mm.or(params.head.map(|h| h.px_per_mm()));
            let (field, scale) = sources.build(w, h, given, params.seed)?;
            params.px_per_mm = Some(scale.px_per_mm);
            // `auto` shade is chosen from the pixels, so that placement waits for them.
            let planned = match params.shade {
                ShadeSpec::Auto => None,
                _ => Some(crate::plan_and_prepare(w, h, &field, &params)?),
            };
            Ok::<_, Error>((field, params, planned))
        },
        stamp_band,
    )?;
    let (field, params, planned) = beside?;
    // With a comparison to write, the render goes on a copy; otherwise the decoded photo is stamped in place,
    // so a job holds one full-size copy, not two.
    let mut copy = config.output.compare.then(|| loaded.image.clone());
    let after = copy.as_mut().unwrap_or(&mut loaded.image);
    let stats = match planned {
        Some(planned) if stamped => planned.stats().clone(),
        Some(planned) => crate::render_planned_mut(after, &field, &params, planned)?,
        None => crate::render_image_mut(after, &field, &params)?,
    };
    let icc = loaded.icc.as_deref();
    io::save_image(&output.join(&after_rel), after, icc, config.output.quality)?;
    if let Some(after) = &copy {
        let pair = crate::compose::side_by_side(&loaded.image.to_rgb8(), &after.to_rgb8(), 16);
        io::save_image(
            &output.join(&compare_rel),
            &image::DynamicImage::ImageRgb8(pair),
            icc,
            config.output.quality,
        )?;
    }
    let impressions = stats.impressions;
    Ok((Status::Rendered, Some(impressions), outputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_of_photos_differing_only_in_extension_or_case_keep_the_extension() {
        // Photo → where its results go, in the sorted order `find_photos` gives.
        let expected = [
            ("Anna.JPG", "Anna_JPG"),
            // Same as the first but for case: numbered.
            ("anna.jpg", "anna_jpg_2"),
            ("anna.png", "anna_png"),
            ("ben.jpg", "ben"),
            // Another folder: no clash.
            ("day2/anna.jpg", "day2/anna"),
            ("day2/cleo.tif", "day2/cleo_tif"),
            ("day2/cleo.tiff", "day2/cleo_tiff"),
            ("eva.compare.jpg", "eva.compare"),
            // Its compare result would be eva.compare.jpg's result.
            ("eva.jpg", "eva_2"),
            ("finn.jpg", "finn_jpg"),
            ("finn.png", "finn_png"),
            // Its own name is taken by finn.jpg's results.
            ("finn_jpg.jpg", "finn_jpg_2"),
        ];
        let photos: Vec<PathBuf> = expected.iter().map(|(photo, _)| PathBuf::from(photo)).collect();
        assert!(photos.is_sorted());
        let stems = result_stems(&photos);
        for ((photo, want), got) in expected.iter().zip(&stems) {
            assert_eq!(got, Path::new(want), "{photo}");
        }
        // No two results (nor their compare images) share a name, ignoring case.
        let mut names = std::collections::HashSet::new();
        for stem in &stems {
            let name = stem.to_string_lossy().to_lowercase();
            assert!(names.insert(format!("{name}.compare")), "{name}");
            assert!(names.insert(name.clone()), "{name}");
        }
    }

    #[test]
    fn shards_partition_the_photos() {
        let paths: Vec<PathBuf> = (0..300)
            .map(|i| PathBuf::from(format!("day{}/client_{i}.jpg", i % 7)))
            .collect();
        for n in [1u32, 2, 3, 5] {
            let mut seen = 0;
            for k in 1..=n {
                seen += paths.iter().filter(|p| in_shard(p, k, n)).count();
            }
            assert_eq!(seen, paths.len(), "{n} shards");
        }
        let third = paths.iter().filter(|p| in_shard(p, 1, 3)).count();
        assert!((70..130).contains(&third), "{third}");
    }

    #[test]
    fn sidecars_are_not_photos() {
        assert!(is_photo(Path::new("a/client.JPG")));
        assert!(!is_photo(Path::new("a/client.mask.png")));
        assert!(!is_photo(Path::new("a/client.hairline.toml")));
        assert!(!is_photo(Path::new("a/.smpsim-x.part")));
        assert!(!is_photo(Path::new("a/notes.txt")));
    }
}
