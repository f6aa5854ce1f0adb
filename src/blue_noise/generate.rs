//! The generator of the ranked blue-noise set. Shared, by `#[path]`, between `build.rs` (which bakes the tile
//! into the binary) and the library's tests (which check its quality); it depends only on `rand` and `rand_pcg`.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// Builds `n` ranked blue-noise points on the unit torus.
pub fn build_ranked_set(n: usize, seed: u64) -> Vec<[f32; 2]> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let pool: Vec<[f64; 2]> = (0..n * 5).map(|_| [rng.random::<f64>(), rng.random::<f64>()]).collect();
    let all: Vec<u32> = (0..pool.len() as u32).collect();
    // First pass: keep the best-spaced n; what it removes is not part of the set at all.
    let (mut survivors, _) = eliminate(&pool, &all, n);
    let mut ranked_tail: Vec<u32> = Vec::with_capacity(n);
    while survivors.len() > 1 {
        let target = survivors.len() / 2;
        let (kept, removed) = eliminate(&pool, &survivors, target);
        // Removed first = most crowded = highest rank; ranks are assigned from the back.
        ranked_tail.extend(removed);
        survivors = kept;
    }
    ranked_tail.extend(survivors);
    ranked_tail.reverse();
    ranked_tail
        .iter()
        .map(|&i| [pool[i as usize][0] as f32, pool[i as usize][1] as f32])
        .collect()
}

/// Toroidal distance between two points of the unit square.
pub fn torus_distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    let mut dx = (a[0] - b[0]).abs();
    let mut dy = (a[1] - b[1]).abs();
    dx = dx.min(1.0 - dx);
    dy = dy.min(1.0 - dy);
    (dx * dx + dy * dy).sqrt()
}

/// Removes points of `active` (indices into `pool`) until `target` remain, most crowded first.
/// Returns (survivors in ascending index order, removed in removal order).
fn eliminate(pool: &[[f64; 2]], active: &[u32], target: usize) -> (Vec<u32>, Vec<u32>) {
    // Yuksel's r_max for `target` points on unit area: the radius of densest (hexagonal) packing.
    let r_max = (1.0 / (2.0 * 3f64.sqrt() * target.max(1) as f64)).sqrt();
    let reach = 2.0 * r_max;
    let weight = |d: f64| {
        if d < reach {
            (1.0 - d / reach).powi(8)
        } else {
            0.0
        }
    };
    let neighbours = NeighbourGrid::new(pool, active, reach);
    let mut w = vec![0f64; pool.len()];
    let mut alive = vec![false; pool.len()];
    for &i in active {
        alive[i as usize] = true;
    }
    for &i in active {
        let mut sum = 0.0;
        neighbours.for_each(pool, i, |j| {
            if j != i {
                sum += weight(torus_distance(pool[i as usize], pool[j as usize]));
            }
        });
        w[i as usize] = sum;
    }
    let mut heap = WeightHeap::new(active, &w);
    let mut removed = Vec::with_capacity(active.len().saturating_sub(target));
    while heap.len() > target {
        let i = heap.pop_max(&w);
        alive[i as usize] = false;
        removed.push(i);
        neighbours.for_each(pool, i, |j| {
            if alive[j as usize] {
                let dw = weight(torus_distance(pool[i as usize], pool[j as usize]));
                if dw > 0.0 {
                    w[j as usize] -= dw;
                    heap.decreased(j, &w);
                }
            }
        });
    }
    let survivors = active.iter().copied().filter(|&i| alive[i as usize]).collect();
    (survivors, removed)
}

/// A binary max-heap of point indices keyed by their weight, with decrease-key: kept at one entry per point so
/// it stays small and in cache (a lazy heap of stale entries was 30× slower here).
struct WeightHeap {
    items: Vec<u32>,
    /// Position of each point in `items`, by pool index.
    position: Vec<u32>,
}

impl WeightHeap {
    fn new(active: &[u32], w: &[f64]) -> Self {
        let mut heap = WeightHeap {
            items: active.to_vec(),
            position: vec![u32::MAX; w.len()],
        };
        for (k, &i) in heap.items.iter().enumerate() {
            heap.position[i as usize] = k as u32;
        }
        for k in (0..heap.items.len() / 2).rev() {
            heap.sift_down(k, w);
        }
        heap
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the entry at `a` ranks above the one at `b`: larger weight, then larger index (deterministic).
    fn above(&self, a: usize, b: usize, w: &[f64]) -> bool {
        let (i, j) = (self.items[a], self.items[b]);
        (w[i as usize], i) > (w[j as usize], j)
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.items.swap(a, b);
        self.position[self.items[a] as usize] = a as u32;
        self.position[self.items[b] as usize] = b as u32;
    }

    fn sift_down(&mut self, mut k: usize, w: &[f64]) {
        loop {
            let (l, r) = (2 * k + 1, 2 * k + 2);
            let mut top = k;
            if l < self.items.len() && self.above(l, top, w) {
                top = l;
            }
            if r < self.items.len() && self.above(r, top, w) {
                top = r;
            }
            if top == k {
                return;
            }
            self.swap(k, top);
            k = top;
        }
    }

    fn pop_max(&mut self, w: &[f64]) -> u32 {
        let top = self.items[0];
        let last = self.items.len() - 1;
        self.swap(0, last);
        self.items.pop();
        self.position[top as usize] = u32::MAX;
        if !self.items.is_empty() {
            self.sift_down(0, w);
        }
        top
    }

    /// Point `i`'s weight went down: move it toward the leaves.
    fn decreased(&mut self, i: u32, w: &[f64]) {
        let k = self.position[i as usize];
        if k != u32::MAX {
            self.sift_down(k as usize, w);
        }
    }
}

/// Uniform grid over the torus with cells at least `reach` wide, for neighbour look-ups.
struct NeighbourGrid {
    cells_per_side: usize,
    cell_start: Vec<u32>,
    members: Vec<u32>,
}

impl NeighbourGrid {
    fn new(pool: &[[f64; 2]], active: &[u32], reach: f64) -> Self {
        // Fewer than 3 cells a side would visit a cell twice through the wrap; one cell then holds all.
        let mut g = (1.0 / reach).floor() as usize;
        if g < 3 {
            g = 1;
        }
        let cell_of = |p: [f64; 2]| {
            let cx = ((p[0] * g as f64) as usize).min(g - 1);
            let cy = ((p[1] * g as f64) as usize).min(g - 1);
            cy * g + cx
        };
        let mut counts = vec![0u32; g * g + 1];
        for &i in active {
            counts[cell_of(pool[i as usize]) + 1] += 1;
        }
        for c in 1..counts.len() {
            counts[c] += counts[c - 1];
        }
        let mut fill = counts.clone();
        let mut members = vec![0u32; active.len()];
        for &i in active {
            let c = cell_of(pool[i as usize]);
            members[fill[c] as usize] = i;
            fill[c] += 1;
        }
        NeighbourGrid {
            cells_per_side: g,
            cell_start: counts,
            members,
        }
    }

    /// Calls `f` for every member in the 3×3 cells around point `i` (including `i` itself).
    fn for_each(&self, pool: &[[f64; 2]], i: u32, mut f: impl FnMut(u32)) {
        let g = self.cells_per_side;
        let p = pool[i as usize];
        let cx = ((p[0] * g as f64) as usize).min(g - 1);
        let cy = ((p[1] * g as f64) as usize).min(g - 1);
        let span: &[usize] = if g == 1 { &[0] } else { &[g - 1, 0, 1] };
        for &oy in span {
            for &ox in span {
                let c = ((cy + oy) % g) * g + (cx + ox) % g;
                let (s, e) = (self.cell_start[c] as usize, self.cell_start[c + 1] as usize);
                for &j in &self.members[s..e] {
                    f(j);
                }
            }
        }
    }
}
