//! Plane geometry for designs: smooth curves through control points, distances to polylines, polygon fills.
//!
//! Everything is in pixels of the upright photo. Distances are only needed within a reach of the line (beyond
//! it a density ramp is flat), so a polyline buckets its segments in a grid of reach-sized cells and a query
//! looks at one cell: cost per pixel is a handful of segments, not the whole line.

/// A point in pixels.
pub type Point = [f32; 2];

/// Points along a centripetal Catmull–Rom spline through `control` (which it passes through exactly), about
/// `step` pixels apart. Centripetal parametrisation never overshoots into loops or cusps between points.
pub fn smooth_curve(control: &[Point], step: f32) -> Vec<Point> {
    if control.len() < 3 {
        return control.to_vec();
    }
    let n = control.len();
    // Mirror the end points so the curve starts and ends at the first and last control point.
    let ext = |i: isize| -> Point {
        if i < 0 {
            let (a, b) = (control[0], control[1]);
            [2.0 * a[0] - b[0], 2.0 * a[1] - b[1]]
        } else if i as usize >= n {
            let (a, b) = (control[n - 1], control[n - 2]);
            [2.0 * a[0] - b[0], 2.0 * a[1] - b[1]]
        } else {
            control[i as usize]
        }
    };
    let mut out = vec![control[0]];
    for i in 0..n - 1 {
        let (p0, p1, p2, p3) = (ext(i as isize - 1), control[i], control[i + 1], ext(i as isize + 2));
        let knot = |a: Point, b: Point| dist(a, b).max(1e-3).sqrt();
        let (t1, t2, t3) = {
            let t1 = knot(p0, p1);
            let t2 = t1 + knot(p1, p2);
            (t1, t2, t2 + knot(p2, p3))
        };
        let samples = ((dist(p1, p2) / step).ceil() as usize).clamp(2, 10_000);
        for k in 1..=samples {
            let t = t1 + (t2 - t1) * k as f32 / samples as f32;
            out.push(catmull_rom(p0, p1, p2, p3, 0.0, t1, t2, t3, t));
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn catmull_rom(p0: Point, p1: Point, p2: Point, p3: Point, t0: f32, t1: f32, t2: f32, t3: f32, t: f32) -> Point {
    let lerp = |a: Point, b: Point, ta: f32, tb: f32| {
        let w = if (tb - ta).abs() < 1e-6 {
            0.0
        } else {
            (t - ta) / (tb - ta)
        };
        [a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w]
    };
    let a1 = lerp(p0, p1, t0, t1);
    let a2 = lerp(p1, p2, t1, t2);
    let a3 = lerp(p2, p3, t2, t3);
    let b1 = lerp(a1, a2, t0, t2);
    let b2 = lerp(a2, a3, t1, t3);
    lerp(b1, b2, t1, t2)
}

/// Euclidean distance.
pub fn dist(a: Point, b: Point) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// The nearest point of a polyline to a query: distance, arc length along the line there, and on which side
/// (positive = left of the direction of travel, in image coordinates with y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearest {
    /// Distance in pixels.
    pub distance: f32,
    /// Arc length from the polyline's start to the nearest point, pixels.
    pub arc: f32,
    /// Cross product sign of the nearest segment's direction and the query offset.
    pub side: f32,
}

/// Largest distance, pixels, by which [`Polyline::new`] lets its line depart from the points given.
pub const SIMPLIFY_PX: f32 = 0.1;

/// Ramer–Douglas–Peucker: the points of `pts` needed to stay within `tolerance` of it (the ends always kept).
pub fn simplify(pts: &[Point], tolerance: f32) -> Vec<Point> {
    if pts.len() < 3 {
        return pts.to_vec();
    }
    let mut keep = vec![false; pts.len()];
    keep[0] = true;
    keep[pts.len() - 1] = true;
    let mut spans = vec![(0, pts.len() - 1)];
    while let Some((a, b)) = spans.pop() {
        let (pa, pb) = (pts[a], pts[b]);
        let (dx, dy) = (pb[0] - pa[0], pb[1] - pa[1]);
        let len = (dx * dx + dy * dy).sqrt();
        let mut far = (0.0f32, a);
        for (i, p) in pts.iter().enumerate().take(b).skip(a + 1) {
            // Distance to the chord (to pa itself when the chord is a point, as where a closed line meets).
            let d = if len > 0.0 {
                ((p[0] - pa[0]) * dy - (p[1] - pa[1]) * dx).abs() / len
            } else {
                dist(*p, pa)
            };
            if d > far.0 {
                far = (d, i);
            }
        }
        if far.0 > tolerance {
            keep[far.1] = true;
            spans.push((a, far.1));
            spans.push((far.1, b));
        }
    }
    pts.iter().zip(keep).filter(|(_, k)| *k).map(|(p, _)| *p).collect()
}

/// A polyline with its segments bucketed for distance queries within `reach`.
#[derive(Debug, Clone)]
pub struct Polyline {
    points: Vec<Point>,
    arc: Vec<f32>,
    reach: f32,
    /// Side of a grid cell, pixels.
    cell: f32,
    origin: Point,
    cols: usize,
    rows: usize,
    cell_start: Vec<u32>,
    /// Per cell: (distance from the cell's centre, segment) of every segment within reach of the cell.
    cell_segments: Vec<(f32, u32)>,
}

/// Most grid cells a [`Polyline`] makes.
const MAX_CELLS: f32 = 1_000_000.0;

/// Where `p` projects onto the segment `a`–`b`: the fraction `t` (0–1) along it, and the distance from `p`.
fn project(p: Point, a: Point, b: Point) -> (f32, f32) {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (t, dist(p, [a[0] + t * dx, a[1] + t * dy]))
}

/// Distance from `p` to the segment `a`–`b`.
fn segment_distance(p: Point, a: Point, b: Point) -> f32 {
    project(p, a, b).1
}

impl Polyline {
    /// Buckets `points` (at least 2) for queries up to `reach` pixels away. `closed` adds the segment from the
    /// last point back to the first.
    ///
    /// Points closer than [`SIMPLIFY_PX`] to the line through their neighbours are dropped first: a smooth curve
    /// sampled every couple of pixels becomes a few long segments, and every distance query tests each segment
    /// near it (at 12 MP a hairline's field took seconds before this).
    pub fn new(points: &[Point], closed: bool, reach: f32) -> Self {
        let mut pts = points.to_vec();
        if closed && pts.len() > 2 {
            pts.push(pts[0]);
        }
        let pts = simplify(&pts, SIMPLIFY_PX);
        let mut arc = vec![0f32; pts.len()];
        for i in 1..pts.len() {
            arc[i] = arc[i - 1] + dist(pts[i - 1], pts[i]);
        }
        let reach = reach.max(1.0);
        let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
        for p in &pts {
            for k in 0..2 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let origin = [lo[0] - reach, lo[1] - reach];
        let span = [hi[0] - lo[0] + 2.0 * reach, hi[1] - lo[1] + 2.0 * reach];
        // Cells a quarter of the reach, so a query can stop after the few segments nearest its cell; coarser
        // when the line spans so much (a hairline extended far past the photo) that there would be too many.
        let cell = (reach / 4.0).max((span[0] * span[1] / MAX_CELLS).sqrt()).max(1.0);
        let cols = ((span[0] / cell).ceil() as usize).max(1);
        let rows = ((span[1] / cell).ceil() as usize).max(1);
        let half_diagonal = cell * std::f32::consts::FRAC_1_SQRT_2;
        let mut buckets: Vec<Vec<(f32, u32)>> = vec![Vec::new(); cols * rows];
        for s in 0..pts.len().saturating_sub(1) {
            let (a, b) = (pts[s], pts[s + 1]);
            let to_cell = |v: f32, o: f32, n: usize| (((v - o) / cell).floor().max(0.0) as usize).min(n - 1);
            let (cx0, cx1) = (
                to_cell(a[0].min(b[0]) - reach, origin[0], cols),
                to_cell(a[0].max(b[0]) + reach, origin[0], cols),
            );
            let (cy0, cy1) = (
                to_cell(a[1].min(b[1]) - reach, origin[1], rows),
                to_cell(a[1].max(b[1]) + reach, origin[1], rows),
            );
            for cy in cy0..=cy1 {
                for cx in cx0..=cx1 {
                    let centre = [
                        origin[0] + (cx as f32 + 0.5) * cell,
                        origin[1] + (cy as f32 + 0.5) * cell,
                    ];
                    let d = segment_distance(centre, a, b);
                    // Only cells with a point within reach of the segment.
                    if d <= reach + half_diagonal {
                        buckets[cy * cols + cx].push((d, s as u32));
                    }
                }
            }
        }
        let mut cell_start = Vec::with_capacity(buckets.len() + 1);
        let mut cell_segments = Vec::new();
        cell_start.push(0);
        for mut b in buckets {
            // Nearest to the cell's centre first: a query stops once the rest cannot be nearer than its best.
            b.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            cell_segments.extend(b);
            cell_start.push(cell_segments.len() as u32);
        }
        Polyline {
            points: pts,
            arc,
            reach,
            cell,
            origin,
            cols,
            rows,
            cell_start,
            cell_segments,
        }
    }

    /// Total length in pixels.
    pub fn length(&self) -> f32 {
        *self.arc.last().unwrap_or(&0.0)
    }

    /// The points, including the closing point of a closed polyline.
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// The nearest point of the line to `p`, if it is within the reach.
    pub fn nearest(&self, p: Point) -> Option<Nearest> {
        let cx = (p[0] - self.origin[0]) / self.cell;
        let cy = (p[1] - self.origin[1]) / self.cell;
        // (Also false for NaN.) Truncation is floor here, without a libm call.
        if !(cx >= 0.0 && cy >= 0.0 && cx < self.cols as f32 && cy < self.rows as f32) {
            return None;
        }
        let c = cy as usize * self.cols + cx as usize;
        let half_diagonal = self.cell * std::f32::consts::FRAC_1_SQRT_2;
        let mut best: Option<Nearest> = None;
        for &(from_centre, s) in &self.cell_segments[self.cell_start[c] as usize..self.cell_start[c + 1] as usize] {
            // p is within half a diagonal of the centre, so this segment is at least this far from p.
            if from_centre - half_diagonal > best.map_or(self.reach, |b| b.distance) {
                break;
            }
            let (a, b) = (self.points[s as usize], self.points[s as usize + 1]);
            let (t, d) = project(p, a, b);
            if d <= self.reach && best.is_none_or(|b| d < b.distance) {
                let cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
                best = Some(Nearest {
                    distance: d,
                    arc: self.arc[s as usize] + t * dist(a, b),
                    side: cross.signum(),
                });
            }
        }
        best
    }
}

/// x positions where a closed polygon's edges cross the horizontal line at `y`, sorted. A point of that row is
/// inside (even–odd rule) when an odd number of crossings lie to its left.
pub fn row_crossings(polygon: &[Point], y: f32, out: &mut Vec<f32>) {
    out.clear();
    let n = polygon.len();
    for i in 0..n {
        let (a, b) = (polygon[i], polygon[(i + 1) % n]);
        // Half-open rule: each vertex belongs to exactly one of its edges.
        if (a[1] <= y) != (b[1] <= y) {
            out.push(a[0] + (y - a[1]) / (b[1] - a[1]) * (b[0] - a[0]));
        }
    }
    out.sort_by(f32::total_cmp);
}

/// Whether `p` is inside the closed polygon (even–odd rule).
pub fn contains(polygon: &[Point], p: Point) -> bool {
    let mut crossings = Vec::new();
    row_crossings(polygon, p[1], &mut crossings);
    crossings.iter().filter(|&&x| x < p[0]).count() % 2 == 1
}

/// Centroid of a closed polygon (area-weighted); the vertex mean for a degenerate one.
pub fn centroid(polygon: &[Point]) -> Point {
    let n = polygon.len();
    let (mut a, mut cx, mut cy) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        let (p, q) = (polygon[i], polygon[(i + 1) % n]);
        let cross = p[0] as f64 * q[1] as f64 - q[0] as f64 * p[1] as f64;
        a += cross;
        cx += (p[0] as f64 + q[0] as f64) * cross;
        cy += (p[1] as f64 + q[1] as f64) * cross;
    }
    if a.abs() < 1e-9 {
        let m = polygon.iter().fold([0.0, 0.0], |s, p| [s[0] + p[0], s[1] + p[1]]);
        return [m[0] / n as f32, m[1] / n as f32];
    }
    [(cx / (3.0 * a)) as f32, (cy / (3.0 * a)) as f32]
}

/// Whether any two non-adjacent edges of the closed polygon cross: the first such pair of edge indices.
pub fn self_intersection(polygon: &[Point]) -> Option<(usize, usize)> {
    let n = polygon.len();
    let seg = |i: usize| (polygon[i], polygon[(i + 1) % n]);
    for i in 0..n {
        for j in i + 1..n {
            if j == i + 1 || (i == 0 && j == n - 1) {
                continue; // neighbours share a vertex
            }
            let ((a, b), (c, d)) = (seg(i), seg(j));
            if segments_cross(a, b, c, d) {
                return Some((i, j));
            }
        }
    }
    None
}

fn segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool {
    let orient = |p: Point, q: Point, r: Point| (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    d1 * d2 < 0.0 && d3 * d4 < 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_agrees_with_brute_force_on_a_winding_line() {
        // A finely sampled winding curve (simplified inside) and a closed zig-zag polygon.
        let wave: Vec<Point> = (0..=600)
            .map(|i| {
                let x = i as f32 * 2.0;
                [x, 300.0 + 120.0 * (x / 97.0).sin() + 30.0 * (x / 13.0).cos()]
            })
            .collect();
        let zigzag: Vec<Point> = vec![
            [50.0, 50.0],
            [400.0, 80.0],
            [120.0, 160.0],
            [420.0, 260.0],
            [60.0, 300.0],
        ];
        for (points, closed, reach) in [(&wave, false, 90.0f32), (&zigzag, true, 40.0)] {
            let line = Polyline::new(points, closed, reach);
            let mut segments: Vec<(Point, Point)> = points.windows(2).map(|w| (w[0], w[1])).collect();
            if closed {
                segments.push((points[points.len() - 1], points[0]));
            }
            let mut checked = 0;
            for k in 0..4000u32 {
                // A scattering of query points over the line's surroundings.
                let p = [
                    (k * 7919 % 1300) as f32 * 0.97 - 20.0,
                    (k * 104_729 % 700) as f32 * 0.83 - 40.0,
                ];
                let truth = segments
                    .iter()
                    .map(|&(a, b)| segment_distance(p, a, b))
                    .fold(f32::MAX, f32::min);
                match line.nearest(p) {
                    Some(n) => {
                        assert!(
                            (n.distance - truth).abs() <= SIMPLIFY_PX + 1e-3,
                            "{p:?}: {} vs {truth}",
                            n.distance
                        );
                        checked += 1;
                    }
                    None => assert!(
                        truth > reach - SIMPLIFY_PX - 1e-3,
                        "{p:?} is {truth} away but not found"
                    ),
                }
            }
            assert!(checked > 500, "only {checked} points within reach");
        }
    }

    #[test]
    fn curve_passes_through_its_control_points_smoothly() {
        let control = [[0.0, 0.0], [100.0, 40.0], [200.0, 50.0], [300.0, 40.0], [400.0, 0.0]];
        let curve = smooth_curve(&control, 2.0);
        for c in control {
            assert!(curve.iter().any(|p| dist(*p, c) < 1e-3), "misses {c:?}");
        }
        assert!(curve.windows(2).all(|w| dist(w[0], w[1]) <= 2.5));
        // No overshoot above the highest control point.
        assert!(curve.iter().all(|p| p[1] <= 50.5));
    }

    #[test]
    fn polyline_distance_side_and_arc() {
        let line = Polyline::new(&[[0.0, 50.0], [100.0, 50.0]], false, 20.0);
        let n = line.nearest([30.0, 40.0]).unwrap();
        assert!((n.distance - 10.0).abs() < 1e-4 && (n.arc - 30.0).abs() < 1e-4);
        let below = line.nearest([30.0, 60.0]).unwrap();
        assert_eq!(n.side, -below.side);
        assert!(line.nearest([30.0, 80.0]).is_none(), "beyond the reach");
    }

    #[test]
    fn polygon_inside_and_self_intersection() {
        let square = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        assert!(contains(&square, [5.0, 5.0]));
        assert!(!contains(&square, [15.0, 5.0]));
        assert_eq!(self_intersection(&square), None);
        let bowtie = [[0.0, 0.0], [10.0, 10.0], [10.0, 0.0], [0.0, 10.0]];
        assert!(self_intersection(&bowtie).is_some());
        let c = centroid(&square);
        assert!((c[0] - 5.0).abs() < 1e-4 && (c[1] - 5.0).abs() < 1e-4);
    }
}
