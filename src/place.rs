//! Placement: where each impression goes, and what it looks like.
//!
//! The ranked blue-noise tile (`blue_noise.rs`) is laid over the photo at the scale that gives the
//! requested density, and a point is kept where its rank (as a fraction of the tile) falls below the density
//! field. Work is split into fixed cells of the tile (sized by the tile, never by thread count) and gathered in
//! cell order, and each impression's look comes from draws hashed from its own identity, so the result is
//! the same on any number of threads and does not depend on which other points were kept.

use std::sync::OnceLock;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::blue_noise::{ranked_tile, TILE_POINTS};
use crate::error::{Error, Result};
use crate::field::{DensityField, LevelBlocks};
use crate::params::Params;
use crate::pigment::Sessions;

/// One pigment impression, in photo pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Impression {
    /// Centre, pixels from the left edge (pixel centres are at +0.5).
    pub x: f32,
    /// Centre, pixels from the top edge.
    pub y: f32,
    /// Semi-axis along `angle`, in pixels.
    pub radius_major: f32,
    /// Semi-axis across `angle`, in pixels.
    pub radius_minor: f32,
    /// Orientation of the major axis, radians.
    pub angle: f32,
    /// Fraction of light absorbed at the centre of the pigment disc (0–1).
    pub opacity: f32,
    /// Lightness factor of this impression's pigment colour (1 = the shade itself).
    pub tone: f32,
    /// Rank in the blue-noise set as a fraction (0–1): the impression exists wherever density exceeds it.
    pub rank: f32,
    /// The local threshold where it sits (0–1): density fraction × foreshortening ÷ the render's largest
    /// foreshortening. It exists because `rank < threshold`; a session keeps it while `rank / threshold` is
    /// below that session's share.
    pub threshold: f32,
    /// Treatment session (1-based) that laid this impression.
    pub session: u8,
    /// Index of its shade in the treatment's shade mix.
    pub shade: u8,
}

impl Impression {
    /// Whether stamping can draw it: a finite position, size, angle and tone, and an opacity within 0–1.
    /// Placement only makes such impressions; [`stamp_impressions`](crate::stamp_impressions) refuses a list
    /// holding any other, naming it.
    #[inline]
    pub fn is_drawable(&self) -> bool {
        // Branch-free (`&`, not `&&`): checked for every impression while it is prepared for stamping.
        let finite = self
            .finite_numbers()
            .into_iter()
            .fold(true, |ok, (_, v)| ok & v.is_finite());
        finite & self.opacity_in_range()
    }

    /// The first field that makes it not [drawable](Self::is_drawable): its name, value and what is wrong
    /// with it (for the error naming it).
    pub(crate) fn fault(&self) -> Option<(&'static str, f32, &'static str)> {
        self.finite_numbers()
            .into_iter()
            .find(|(_, v)| !v.is_finite())
            .map(|(name, v)| (name, v, "must be a finite number"))
            .or_else(|| (!self.opacity_in_range()).then_some(("opacity", self.opacity, "must be within 0–1")))
    }

    /// The fields stamping needs to be finite, by name.
    #[inline]
    fn finite_numbers(&self) -> [(&'static str, f32); 6] {
        [
            ("x", self.x),
            ("y", self.y),
            ("radius_major", self.radius_major),
            ("radius_minor", self.radius_minor),
            ("angle", self.angle),
            ("tone", self.tone),
        ]
    }

    /// Opacity within 0–1 (false for NaN).
    #[inline]
    fn opacity_in_range(&self) -> bool {
        (self.opacity >= 0.0) & (self.opacity <= 1.0)
    }
}

/// Tile cells per side: units of parallel work.
const CELLS: usize = 16;

/// Largest number of impressions one render may place (about 1 GB of impressions): a guard against a scale or
/// density that would ask for far more than any photo can show.
pub const MAX_IMPRESSIONS: f64 = 30_000_000.0;

/// The tile's points under one of the square's 8 symmetries, bucketed by cell.
struct SeededTile {
    /// (u, v, rank index) in `[0,1)²`, grouped by cell, each cell's points in rank order: where a cell lies
    /// over levels no higher than L, only the prefix of ranks L keeps needs looking at. (The density field
    /// under one cell is a few kB, which stays in cache whatever the order the points read it in.)
    points: Vec<(f32, f32, u32)>,
    /// Start of each cell's points in `points`; `CELLS² + 1` entries.
    cell_start: Vec<usize>,
}

impl SeededTile {
    /// The tile for `seed`: one of the square's 8 symmetries, chosen by the seed, so different seeds give
    /// different patterns. Each symmetry is built once per process.
    fn for_seed(seed: u64) -> &'static SeededTile {
        static TILES: [OnceLock<SeededTile>; 8] = [const { OnceLock::new() }; 8];
        let symmetry = (mix(seed, 0x7113) % 8) as usize;
        TILES[symmetry].get_or_init(|| SeededTile::new(symmetry))
    }

    fn new(symmetry: usize) -> Self {
        let tile = ranked_tile();
        let transformed: Vec<(f32, f32, u32)> = tile
            .iter()
            .enumerate()
            .map(|(rank, &[u, v])| {
                let (u, v) = if symmetry & 1 == 1 { (v, u) } else { (u, v) };
                let u = if symmetry & 2 == 2 { flip(u) } else { u };
                let v = if symmetry & 4 == 4 { flip(v) } else { v };
                (u, v, rank as u32)
            })
            .collect();
        let cell_of = |u: f32, v: f32| {
            let cx = ((u * CELLS as f32) as usize).min(CELLS - 1);
            let cy = ((v * CELLS as f32) as usize).min(CELLS - 1);
            cy * CELLS + cx
        };
        let mut cell_start = vec![0usize; CELLS * CELLS + 1];
        for &(u, v, _) in &transformed {
            cell_start[cell_of(u, v) + 1] += 1;
        }
        for c in 1..cell_start.len() {
            cell_start[c] += cell_start[c - 1];
        }
        let mut fill = cell_start.clone();
        let mut points = vec![(0.0, 0.0, 0); transformed.len()];
        for p in transformed {
            let c = cell_of(p.0, p.1);
            points[fill[c]] = p;
            fill[c] += 1;
        }
        // Filled in rank order, so each cell's points are in rank order.
        SeededTile { points, cell_start }
    }
}

/// `1 - u`, kept inside `[0, 1)`.
fn flip(u: f32) -> f32 {
    let f = 1.0 - u;
    if f >= 1.0 {
        0.0
    } else {
        f
    }
}

/// A 64-bit mix of two values (SplitMix64 finaliser), for seeding per-identity generators.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random draws of one impression: SplitMix64 started from a hash of its identity (tile instance and
/// rank). Four draws per impression need no more; seeding a full generator per impression cost more than
/// the rest of placement together.
struct Draws(u64);

impl Draws {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0, 0)
    }
}

/// An approximately standard normal sample from one 64-bit draw: the sum of four 16-bit uniforms, centred and
/// scaled to unit variance (Irwin–Hall). Its tails stop at ±3.5σ, which suits physical variation (no
/// impression ten times the mean), and it costs a fraction of Box–Muller's logarithm and cosine.
fn normal(rng: &mut Draws) -> f32 {
    let bits = rng.next_u64();
    let sum: u32 = (0..4).map(|k| ((bits >> (16 * k)) & 0xFFFF) as u32).sum();
    (sum as f32 / 65536.0 - 2.0) * 3f32.sqrt()
}

/// Two uniforms in [0, 1) from one 64-bit draw.
fn uniform_pair(rng: &mut Draws) -> (f32, f32) {
    let bits = rng.next_u64();
    let unit = |b: u64| (b >> 8) as f32 / (1u64 << 24) as f32;
    (unit(bits & 0xFFFF_FFFF), unit(bits >> 32))
}

/// Impression shape parameters converted to pixels once per render.
struct Look {
    mean_radius_px: f32,
    log_sigma: f32,
    log_mu: f32,
    max_elongation: f32,
    opacity: f32,
    opacity_variation: f32,
    tone_variation: f32,
}

impl Look {
    fn new(params: &Params, px_per_mm: f32) -> Self {
        let cv = params.size_variation;
        let log_sigma = (1.0 + cv * cv).ln().sqrt();
        Look {
            mean_radius_px: params.dot_size * px_per_mm / 2.0,
            log_sigma,
            // Log-normal with mean 1: the mean diameter is the one asked for.
            log_mu: -log_sigma * log_sigma / 2.0,
            max_elongation: params.max_elongation,
            opacity: params.opacity,
            opacity_variation: params.opacity_variation,
            tone_variation: params.tone_variation,
        }
    }

    /// The impression at (x, y) whose look is drawn from `rng`.
    fn impression(&self, rng: &mut Draws, x: f32, y: f32, rank: f32) -> Impression {
        let r = self.mean_radius_px * (self.log_mu + self.log_sigma * normal(rng)).exp();
        let (u_elongation, u_angle) = uniform_pair(rng);
        let elongation = 1.0 + (self.max_elongation - 1.0) * u_elongation;
        let stretch = elongation.sqrt(); // area-preserving
        let angle = std::f32::consts::PI * u_angle;
        let opacity = (self.opacity * (1.0 + self.opacity_variation * normal(rng))).clamp(0.0, 1.0);
        let tone = (1.0 + self.tone_variation * normal(rng)).clamp(0.25, 2.0);
        Impression {
            x,
            y,
            radius_major: r * stretch,
            radius_minor: r / stretch,
            angle,
            opacity,
            tone,
            rank,
            threshold: 1.0,
            session: 1,
            shade: 0,
        }
    }
}

/// Tile units (tile instance × cell) per piece of parallel work: enough to amortise the bookkeeping, few
/// enough to share among threads. Fixed, so the work never depends on the thread count.
const UNITS_PER_TASK: usize = 32;

/// Places impressions over `field` at `px_per_mm`, following `params` (density, size, variation, seed).
///
/// In a region where the field is 1 the count is `density × area`; where it is 0 there is none. Cost grows
/// with the number of tile points under the field's bounding box, i.e. linearly with the impressions.
pub fn place(field: &DensityField, params: &Params, px_per_mm: f32) -> Result<Vec<Impression>> {
    Ok(place_with(field, params, px_per_mm, None)?.0)
}

/// [`place`], keeping only the impressions that exist by the session shown and finishing their look for it
/// as they are drawn (what [`crate::pigment::apply`] does afterwards, without another pass over the list).
/// Also gives the field's [weighted area](DensityField::weighted_area_px), found on placement's own pass.
pub(crate) fn place_with(
    field: &DensityField,
    params: &Params,
    px_per_mm: f32,
    sessions: Option<&Sessions<'_>>,
) -> Result<(Vec<Impression>, f64)> {
    params.validate()?;
    crate::params::check_scale(px_per_mm)?;
    let blocks = LevelBlocks::new(field);
    let area = blocks.weighted_area_px;
    let Some(bbox) = blocks.bounding_box() else {
        return Ok((Vec::new(), area));
    };
    // Impressions per pixel² at full density.
    let density_px = params.density as f64 / 100.0 / (px_per_mm as f64 * px_per_mm as f64);
    let expected = density_px * bbox.width() as f64 * bbox.height() as f64;
    if expected > MAX_IMPRESSIONS {
        return Err(Error::param(
            "density",
            params.density,
            format!(
                "at {px_per_mm} px/mm this asks for about {expected:.0} impressions, more than the {MAX_IMPRESSIONS:.0} \
                 one render places; check the scale"
            ),
        ));
    }
    // On a curved head the image-space density rises by the foreshortening: lay the tile at the largest
    // factor over the treated region, and thin by factor ÷ that largest.
    let head = params.head;
    let max_factor = head.map_or(1.0, |h| {
        let mut m: f32 = 1.0;
        for j in 0..=32 {
            for i in 0..=32 {
                let x = bbox.x0 as f32 + bbox.width() as f32 * i as f32 / 32.0;
                let y = bbox.y0 as f32 + bbox.height() as f32 * j as f32 / 32.0;
                m = m.max(h.facing(x, y).factor);
            }
        }
        (m * 1.05).min(crate::head::MAX_FORESHORTENING)
    });
    let period = (TILE_POINTS as f64 / (density_px * max_factor as f64)).sqrt();
    let layout = Layout {
        field,
        blocks,
        tile: SeededTile::for_seed(params.seed),
        seed: params.seed,
        period,
        offset_x: (mix(params.seed, 0x0FF5E7) >> 11) as f64 / (1u64 << 53) as f64 * period,
        offset_y: (mix(params.seed, 0x0FF5E8) >> 11) as f64 / (1u64 << 53) as f64 * period,
        head,
        max_factor,
        look: Look::new(params, px_per_mm),
        sessions,
    };

    // Every (tile instance, cell) whose square touches the field's bounding box, in row-major order.
    let cell = period / CELLS as f64;
    let first_cell = |lo: u32, off: f64| ((lo as f64 + off) / cell).floor() as i64;
    let last_cell = |hi: u32, off: f64| ((hi as f64 + off) / cell).floor() as i64;
    let (cx0, cx1) = (
        first_cell(bbox.x0, layout.offset_x),
        last_cell(bbox.x1, layout.offset_x),
    );
    let (cy0, cy1) = (
        first_cell(bbox.y0, layout.offset_y),
        last_cell(bbox.y1, layout.offset_y),
    );
    let units: Vec<(i64, i64)> = (cy0..=cy1).flat_map(|cy| (cx0..=cx1).map(move |cx| (cx, cy))).collect();
    let tasks: Vec<&[(i64, i64)]> = units.chunks(UNITS_PER_TASK).collect();

    // Two passes: count each task's kept points, then draw each task's impressions straight into its share
    // of the result. Testing every point twice costs less than the alternative, per-task lists copied into
    // the result (40 bytes an impression written twice, and read). Rayon's own collect grows its lists and
    // joins them on one thread.
    // The first pass also records each level it read from the field, which the second replays: a field
    // larger than the caches is then read once (its reads miss the cache, one per candidate point).
    let (counts, tapes): (Vec<usize>, Vec<Vec<u8>>) = tasks
        .par_iter()
        .with_max_len(1) // one rayon task per task: tasks are uneven, see `stamp::stamp_with`
        .map(|task| {
            let (mut count, mut tape) = (0, Vec::new());
            layout.keep_units(task, &mut Levels::Record(&mut tape), |_| count += 1);
            (count, tape)
        })
        .unzip();
    let total: usize = counts.iter().sum();
    let mut impressions: Vec<Impression> = Vec::with_capacity(total);
    crate::huge_pages::prefer_huge_pages(impressions.spare_capacity_mut());
    let mut free = &mut impressions.spare_capacity_mut()[..total];
    let shares: Vec<_> = counts
        .iter()
        .map(|&count| {
            let (share, rest) = std::mem::take(&mut free).split_at_mut(count);
            free = rest;
            share
        })
        .collect();
    tasks
        .par_iter()
        .zip(shares)
        .zip(&tapes)
        .with_max_len(1) // as above
        .for_each(|((task, share), tape)| {
            let mut slots = share.iter_mut();
            layout.keep_units(task, &mut Levels::Replay(tape.iter()), |c| {
                slots
                    .next()
                    .expect("as many kept as counted")
                    .write(layout.impression(c));
            });
            assert!(slots.next().is_none(), "as many kept as counted");
        });
    // SAFETY: the first `total` slots were split into one share per task, each exactly as long as its count,
    // and the loop above wrote every slot of every share (it checks that it found neither more nor fewer).
    unsafe { impressions.set_len(total) };
    Ok((impressions, area))
}

/// Where [`Layout::keep_unit`] takes the field's levels that its squares do not give: from the field, each
/// recorded on a tape, or replayed from such a tape (the same units in the same order read the same pixels).
enum Levels<'t> {
    Record(&'t mut Vec<u8>),
    Replay(std::slice::Iter<'t, u8>),
}

impl Levels<'_> {
    /// The level at pixel (x, y).
    #[inline]
    fn read(&mut self, field: &DensityField, x: u32, y: u32) -> u8 {
        match self {
            Levels::Record(tape) => {
                let level = field.level(x, y);
                tape.push(level);
                level
            }
            Levels::Replay(tape) => *tape.next().expect("a level recorded for every read"),
        }
    }
}

/// A tile point the field keeps, before its look is drawn.
struct Candidate {
    x: f32,
    y: f32,
    rank: u32,
    /// Identity of its tile instance, which seeds its draws together with the rank.
    instance: u64,
    threshold: f32,
    facing: Option<crate::head::Facing>,
}

/// The tile laid over the photo, and everything that decides which of its points are kept and how they look.
struct Layout<'a> {
    field: &'a DensityField,
    blocks: LevelBlocks,
    tile: &'static SeededTile,
    seed: u64,
    /// Side of one tile instance, pixels.
    period: f64,
    offset_x: f64,
    offset_y: f64,
    head: Option<crate::head::HeadModel>,
    /// The largest foreshortening over the treated region, at which the tile is laid.
    max_factor: f32,
    look: Look,
    sessions: Option<&'a Sessions<'a>>,
}

impl Layout<'_> {
    /// The tile points of unit (gx, gy): its cell of the tile, wherever the instance lies.
    fn cell_points(&self, (gx, gy): (i64, i64)) -> &'static [(f32, f32, u32)] {
        let c = gy.rem_euclid(CELLS as i64) as usize * CELLS + gx.rem_euclid(CELLS as i64) as usize;
        &self.tile.points[self.tile.cell_start[c]..self.tile.cell_start[c + 1]]
    }

    /// [`Self::keep_unit`] for each of `units` in turn, taking the field's levels from `levels`; while those
    /// are read from the field, its lines under the next unit are asked for first ([`Self::prefetch_unit`]).
    fn keep_units(&self, units: &[(i64, i64)], levels: &mut Levels, mut keep: impl FnMut(Candidate)) {
        for (i, &unit) in units.iter().enumerate() {
            if let (Some(&next), Levels::Record(_)) = (units.get(i + 1), &levels) {
                self.prefetch_unit(next);
            }
            self.keep_unit(unit, levels, &mut keep);
        }
    }

    /// Hands each point the field keeps in tile unit (gx, gy) (a cell of one tile instance) to `keep`, in
    /// rank order.
    fn keep_unit(&self, (gx, gy): (i64, i64), levels: &mut Levels, mut keep: impl FnMut(Candidate)) {
        let Some((unit_least, unit_greatest)) = self.unit_levels(gx, gy) else {
            return;
        };
        let (ti, tj) = (gx.div_euclid(CELLS as i64), gy.div_euclid(CELLS as i64));
        let instance = mix(mix(self.seed, ti as u64), tj as u64);
        for &(u, v, rank) in self.points_below((gx, gy), unit_greatest) {
            let Some((x, y)) = self.position(ti, tj, u, v) else {
                continue;
            };
            // Over a uniform unit (most of a mask: all 255) the level is known; elsewhere the point's square
            // turns most points down without reading the field, and a uniform square gives the level itself.
            let level = if unit_least == unit_greatest {
                unit_least
            } else {
                let (x_px, y_px) = (x as u32, y as u32);
                let (least, greatest) = self.blocks.at(x_px, y_px);
                if turned_down(rank, greatest) {
                    continue;
                }
                if least == greatest {
                    least
                } else {
                    levels.read(self.field, x_px, y_px)
                }
            };
            let (threshold, facing) = match &self.head {
                None => {
                    if turned_down(rank, level) {
                        continue;
                    }
                    (level as f32 / 255.0, None)
                }
                Some(hm) => {
                    let f = hm.facing(x, y);
                    let threshold = level as f32 / 255.0 * (f.factor / self.max_factor).min(1.0);
                    if rank_fraction(rank) >= threshold {
                        continue;
                    }
                    (threshold, Some(f))
                }
            };
            if self.sessions.is_some_and(|s| !s.exists(rank_fraction(rank), threshold)) {
                continue;
            }
            keep(Candidate {
                x,
                y,
                rank,
                instance,
                threshold,
                facing,
            });
        }
    }

    /// Asks the cache for the field's lines under unit (gx, gy) if [`Self::keep_unit`] will read the field
    /// there (its squares are not uniform). A unit's points lie on different pixel rows, so those reads miss
    /// the cache one after another; asked for a unit ahead (one line a row, at the unit's right end: the lines
    /// further left came with the unit before), the misses overlap. Over a smooth density map (few uniform
    /// squares) this took 20–25 % off placement (100k impressions over a 12 MP 0.2–1.0 gradient, 2 threads:
    /// 6.4 → 4.9 ms), and nothing where the squares are mostly uniform. Only a hint: nothing read here decides
    /// anything.
    fn prefetch_unit(&self, (gx, gy): (i64, i64)) {
        let Some(rect) = self.unit_rect(gx, gy) else {
            return;
        };
        let (least, greatest) = self.blocks.levels_in(rect.0, rect.1, rect.2, rect.3);
        if least == greatest {
            return;
        }
        for y in rect.1..=rect.3 {
            prefetch(&self.field.row(y)[rect.2 as usize]);
        }
    }

    /// The points of unit (gx, gy) that a level of `greatest` does not turn down: they come in rank order, so
    /// those it turns down are a suffix, never read.
    fn points_below(&self, (gx, gy): (i64, i64), greatest: u8) -> &'static [(f32, f32, u32)] {
        let points = self.cell_points((gx, gy));
        &points[..points.partition_point(|&(_, _, rank)| !turned_down(rank, greatest))]
    }

    /// Where point (u, v) of tile instance (ti, tj) lies in the photo, or `None` off it.
    fn position(&self, ti: i64, tj: i64, u: f32, v: f32) -> Option<(f32, f32)> {
        let x = ((ti as f64 + u as f64) * self.period - self.offset_x) as f32;
        let y = ((tj as f64 + v as f64) * self.period - self.offset_y) as f32;
        let (w, h) = (self.field.width(), self.field.height());
        (x >= 0.0 && y >= 0.0 && x < w as f32 && y < h as f32).then_some((x, y))
    }

    /// The least and greatest level under unit (gx, gy), from the squares its points can fall in, or `None`
    /// where it misses the field.
    fn unit_levels(&self, gx: i64, gy: i64) -> Option<(u8, u8)> {
        let (x0, y0, x1, y1) = self.unit_rect(gx, gy)?;
        Some(self.blocks.levels_in(x0, y0, x1, y1))
    }

    /// The pixels unit (gx, gy)'s points can fall on, as (x0, y0, x1, y1) inclusive, or `None` where it misses
    /// the field.
    fn unit_rect(&self, gx: i64, gy: i64) -> Option<(u32, u32, u32, u32)> {
        let cell = self.period / CELLS as f64;
        // A pixel of margin: a point's cell comes from its f32 coordinate in the tile, its position from f64.
        let span = |g: i64, offset: f64, size: u32| {
            let lo = (g as f64 * cell - offset - 1.0).max(0.0);
            let hi = ((g + 1) as f64 * cell - offset + 1.0).min(size as f64 - 1.0);
            (lo <= hi).then_some((lo as u32, hi as u32))
        };
        let (x0, x1) = span(gx, self.offset_x, self.field.width())?;
        let (y0, y1) = span(gy, self.offset_y, self.field.height())?;
        Some((x0, y0, x1, y1))
    }

    /// The impression at a kept point: its look drawn from its identity, squeezed where the scalp turns away,
    /// and finished for the session shown.
    fn impression(&self, c: Candidate) -> Impression {
        let mut rng = Draws(mix(c.instance, c.rank as u64));
        let mut imp = self.look.impression(&mut rng, c.x, c.y, rank_fraction(c.rank));
        imp.threshold = c.threshold;
        if let Some(f) = c.facing {
            // Foreshortened: squeezed by z = 1/factor along the direction the scalp turns away.
            let (a, b, angle) =
                crate::head::squeeze(imp.radius_major, imp.radius_minor, imp.angle, 1.0 / f.factor, f.radial);
            (imp.radius_major, imp.radius_minor, imp.angle) = (a, b, angle);
        }
        if let Some(sessions) = self.sessions {
            sessions.finish(&mut imp);
        }
        imp
    }
}

/// Whether a level turns the point of `rank` down: kept where (rank + ½) / n < level / 255 (times the
/// foreshortening, at most 1), in exact integers.
fn turned_down(rank: u32, level: u8) -> bool {
    (2 * rank as u64 + 1) * 255 >= 2 * level as u64 * TILE_POINTS as u64
}

/// Asks for the cache line holding `value`, into every level of cache.
#[inline(always)]
fn prefetch(value: &u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86-64, and a prefetch reads nothing the program sees.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((value as *const u8).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// A tile rank as a fraction of the tile: (rank + ½) / points.
fn rank_fraction(rank: u32) -> f32 {
    (rank as f32 + 0.5) / TILE_POINTS as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(density: f32) -> Params {
        Params {
            density,
            ..Params::default()
        }
    }

    #[test]
    fn full_region_count_matches_density_times_area() {
        // 10 px/mm; a 600×400 px region is 60×40 mm = 24 cm².
        let field = DensityField::from_fn(800, 600, |x, y| {
            ((100.0..700.0).contains(&x) && (100.0..500.0).contains(&y)) as u8 as f32
        });
        for density in [30.0, 50.0, 120.0] {
            let imps = place(&field, &params(density), 10.0).unwrap();
            let want = density as f64 * 24.0;
            let got = imps.len() as f64;
            assert!((got / want - 1.0).abs() < 0.05, "density {density}: {got} vs {want}");
        }
    }

    #[test]
    fn nothing_where_the_field_is_zero() {
        let field = DensityField::from_fn(400, 300, |x, _| (x < 200.0) as u8 as f32);
        let imps = place(&field, &params(80.0), 8.0).unwrap();
        assert!(!imps.is_empty());
        assert!(imps.iter().all(|i| i.x < 200.0));
    }

    #[test]
    fn grey_gives_that_fraction() {
        let full = DensityField::uniform(500, 500, 1.0);
        let half = DensityField::uniform(500, 500, 0.5);
        let n_full = place(&full, &params(60.0), 10.0).unwrap().len() as f64;
        let n_half = place(&half, &params(60.0), 10.0).unwrap().len() as f64;
        assert!((n_half / n_full - 128.0 / 255.0).abs() < 0.02, "{n_half} / {n_full}");
    }

    #[test]
    fn sessions_applied_while_placing_match_applying_them_afterwards() {
        // A gradient with a head outline, so thresholds vary and some points fall to the session cut.
        let field = DensityField::from_fn(500, 400, |x, _| x / 500.0);
        let mix = [(crate::Rgb8([40, 40, 40]), 0.7), (crate::Rgb8([70, 60, 50]), 0.3)];
        for (session, fresh, years) in [(1, true, 0.0), (2, false, 4.0), (3, false, 0.0)] {
            let p = Params {
                session: Some(session),
                fresh,
                years,
                head: Some(crate::head::HeadModel::parse("250,200,260,230,10").unwrap()),
                ..params(90.0)
            };
            let mut afterwards = place(&field, &p, 9.0).unwrap();
            let all = afterwards.len();
            crate::pigment::apply(&mut afterwards, &p, &mix);
            let (while_placing, area) = place_with(&field, &p, 9.0, Some(&Sessions::new(&p, &mix))).unwrap();
            assert_eq!(while_placing, afterwards, "session {session}");
            assert!(
                session == 3 || afterwards.len() < all * 9 / 10,
                "session {session} kept {} of {all}",
                afterwards.len()
            );
            assert_eq!(area, field.weighted_area_px());
        }
    }

    /// Placement's shortcuts (the squares table, each unit's rank cut, uniform units) keep exactly the tile
    /// points of the definition: every point of every tile instance over the photo whose rank is below the
    /// level of the pixel under it. Checked point for point on a field with everything the shortcuts meet:
    /// zeros, full density, soft edges, noise, uniform patches on and off the squares' grid, an isolated
    /// pixel, and a size that is not a multiple of the squares.
    #[test]
    fn shortcuts_keep_exactly_the_points_the_definition_keeps() {
        let (w, h) = (611u32, 437u32);
        let noise = |x: f32, y: f32| (mix(x as u64, y as u64) % 256) as f32 / 255.0;
        let field = DensityField::from_fn(w, h, |x, y| {
            if (300.0..301.0).contains(&x) && (20.0..21.0).contains(&y) {
                0.7 // an isolated pixel
            } else if y < 60.0 {
                0.0
            } else if x < 150.0 {
                1.0
            } else if x < 250.0 {
                (x - 150.0) / 100.0 // a soft edge
            } else if x < 330.0 {
                noise(x, y)
            } else if (333.0..397.0).contains(&x) && (64.0..160.0).contains(&y) {
                0.5 // on the squares' grid
            } else if (401.0..470.0).contains(&x) && (170.0..301.0).contains(&y) {
                0.25 // off it
            } else if x > 500.0 {
                1.0
            } else {
                0.0
            }
        });
        for (seed, density) in [(1u64, 100.0f32), (7, 400.0), (12345, 1000.0)] {
            let p = Params {
                seed,
                ..params(density)
            };
            let px_per_mm = 10.0f32;
            let got = place(&field, &p, px_per_mm).unwrap();
            // The definition, point by point, with placement's tile, period and offsets.
            let density_px = density as f64 / 100.0 / (px_per_mm as f64 * px_per_mm as f64);
            let period = (TILE_POINTS as f64 / density_px).sqrt();
            let offset_x = (mix(seed, 0x0FF5E7) >> 11) as f64 / (1u64 << 53) as f64 * period;
            let offset_y = (mix(seed, 0x0FF5E8) >> 11) as f64 / (1u64 << 53) as f64 * period;
            let tiles = |size: u32, offset: f64| {
                (offset / period).floor() as i64..=((size as f64 + offset) / period).floor() as i64
            };
            let n = TILE_POINTS as u64;
            let mut want = Vec::new();
            for tj in tiles(h, offset_y) {
                for ti in tiles(w, offset_x) {
                    for &(u, v, rank) in &SeededTile::for_seed(seed).points {
                        let x = ((ti as f64 + u as f64) * period - offset_x) as f32;
                        let y = ((tj as f64 + v as f64) * period - offset_y) as f32;
                        if x >= 0.0 && y >= 0.0 && x < w as f32 && y < h as f32 {
                            let level = field.level(x as u32, y as u32) as u64;
                            if (2 * rank as u64 + 1) * 255 < 2 * level * n {
                                want.push((x.to_bits(), y.to_bits(), rank_fraction(rank).to_bits()));
                            }
                        }
                    }
                }
            }
            let mut got: Vec<_> = got
                .iter()
                .map(|i| (i.x.to_bits(), i.y.to_bits(), i.rank.to_bits()))
                .collect();
            want.sort_unstable();
            got.sort_unstable();
            assert!(want.len() > 1000, "seed {seed}: only {} points", want.len());
            assert!(
                got == want,
                "seed {seed}, density {density}: {} kept, {} by the definition",
                got.len(),
                want.len()
            );
        }
    }

    #[test]
    fn a_denser_field_keeps_every_sparser_impression() {
        let p = params(60.0);
        let sparse = place(&DensityField::uniform(300, 300, 0.3), &p, 10.0).unwrap();
        let dense = place(&DensityField::uniform(300, 300, 0.9), &p, 10.0).unwrap();
        // The same impression, in place and look (only its local threshold differs).
        let same =
            |a: &Impression, b: &Impression| Impression { threshold: 0.0, ..*a } == Impression { threshold: 0.0, ..*b };
        assert!(sparse.iter().all(|s| dense.iter().any(|d| same(s, d))));
    }

    #[test]
    fn sizes_vary_around_the_mean() {
        let p = params(60.0);
        let imps = place(&DensityField::uniform(600, 600, 1.0), &p, 10.0).unwrap();
        let d: Vec<f32> = imps
            .iter()
            .map(|i| (i.radius_major * i.radius_minor).sqrt() * 2.0 / 10.0)
            .collect();
        let mean = d.iter().sum::<f32>() / d.len() as f32;
        let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / d.len() as f32).sqrt();
        assert!((mean / p.dot_size - 1.0).abs() < 0.03, "mean diameter {mean}");
        assert!((sd / mean - p.size_variation).abs() < 0.03, "cv {}", sd / mean);
        assert!(imps.iter().any(|i| i.radius_major / i.radius_minor > 1.2));
    }
}
