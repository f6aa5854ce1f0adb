//! One CPU per worker thread, for the pools that run placement and stamping.
//!
//! Why: Linux wakes a sleeping worker on a CPU it picks at that instant, and when the other CPU is busy for a
//! moment (the thread that handed out the job, a kernel thread) both of a two-worker pool's threads can land
//! on one CPU and take turns on it for many milliseconds while the other CPU idles: the scheduler leaves a
//! thread that has just run where its cache is. Measured here (2 cores, placement + stamping of 100k
//! impressions, 31 runs): unpinned, the 2-thread runs switched between the pool's own two threads 50–120 times
//! each and were only 1.45× as fast as 1 thread by the median; pinned, 1.6–1.9×. A pinned worker that loses its
//! CPU to another program does not stall the job: the others take its share of the work (rayon's stealing),
//! and every piece of work is well under a millisecond.
//!
//! The library itself never pins: it runs on the caller's rayon pool. The `smpsim` binary pins its global pool
//! with [`pin_worker`]; a program embedding the library may do the same:
//!
//! ```
//! let pool = rayon::ThreadPoolBuilder::new()
//!     .num_threads(2)
//!     .start_handler(smpsim::affinity::pin_worker)
//!     .build()
//!     .unwrap();
//! assert_eq!(pool.install(|| 1 + 1), 2);
//! ```

/// Pins the calling thread to the `index`-th of the CPUs the process may run on (counting round when there
/// are more workers than CPUs). Meant as a rayon `start_handler`, whose argument is the worker's index.
///
/// Off Linux, or where the CPUs cannot be read or set, it does nothing: pinning is a speed hint, never a
/// condition.
pub fn pin_worker(index: usize) {
    #[cfg(target_os = "linux")]
    linux::pin(index);
    #[cfg(not(target_os = "linux"))]
    let _ = index;
}

#[cfg(target_os = "linux")]
mod linux {
    use std::mem::{size_of, zeroed};
    use std::sync::OnceLock;

    /// The CPUs the process was allowed when the first worker started (before any worker narrowed its own).
    fn allowed() -> &'static [usize] {
        static ALLOWED: OnceLock<Vec<usize>> = OnceLock::new();
        ALLOWED.get_or_init(|| own_cpus().unwrap_or_default())
    }

    /// The CPUs the calling thread may run on now, or `None` if they cannot be read.
    fn own_cpus() -> Option<Vec<usize>> {
        // SAFETY: a zeroed cpu_set_t is a valid empty set, and sched_getaffinity writes at most its size.
        let mut set: libc::cpu_set_t = unsafe { zeroed() };
        if unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
            return None;
        }
        Some(
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
                .collect(),
        )
    }

    pub(super) fn pin(index: usize) {
        let cpus = allowed();
        // One CPU (or none readable): nothing to choose between.
        if cpus.len() < 2 {
            return;
        }
        // SAFETY: as above; CPU_SET takes an index below CPU_SETSIZE, which every listed CPU is.
        unsafe {
            let mut set: libc::cpu_set_t = zeroed();
            libc::CPU_SET(cpus[index % cpus.len()], &mut set);
            // Failure (a cgroup change in between, say) leaves the thread unpinned, which is only slower.
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn each_worker_runs_on_its_own_cpu_in_turn() {
            let cpus = allowed().to_vec();
            let workers = cpus.len() + 1;
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(workers)
                .start_handler(crate::affinity::pin_worker)
                .build()
                .unwrap();
            // Each worker reports its index and the CPUs it may use.
            let seen = pool.broadcast(|ctx| (ctx.index(), own_cpus().expect("readable")));
            for (index, own) in seen {
                if cpus.len() < 2 {
                    assert_eq!(own, cpus, "a single CPU is left alone");
                } else {
                    assert_eq!(own, vec![cpus[index % cpus.len()]], "worker {index}");
                }
            }
            // The thread that built the pool keeps every CPU.
            assert_eq!(own_cpus().expect("readable"), cpus);
        }
    }
}
