//! Streaming top-k candidate collection with an optional score slack.
//!
//! The exact index scans with a fast kernel whose scores may differ from the
//! canonical (reported) score by a bounded amount; the collector then keeps
//! every entry that *could* be in the canonical top-k (see `exact.rs` for the
//! argument) and the caller re-scores that small set canonically. With
//! `slack = 0` it is a plain top-k-plus-ties collector.

pub(crate) struct Collector {
    k: usize,
    slack: f32,
    cutoff: f32,
    cap: usize,
    buf: Vec<(f32, u32)>,
}

impl Collector {
    /// Keep candidates with `score >= floor` and
    /// `score >= (k-th best score seen) - slack`. `k` must be >= 1.
    pub(crate) fn new(k: usize, floor: f32, slack: f32) -> Self {
        debug_assert!(k >= 1);
        let cap = k.saturating_mul(2).max(64);
        Collector {
            k,
            slack,
            cutoff: floor,
            cap,
            buf: Vec::new(),
        }
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, score: f32, entry: u32) {
        // NaN fails the comparison and is never kept.
        if score >= self.cutoff {
            self.buf.push((score, entry));
            if self.buf.len() >= self.cap {
                self.prune();
            }
        }
    }

    fn prune(&mut self) {
        if self.buf.len() > self.k {
            let k = self.k;
            self.buf
                .select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            let kth = self.buf[k - 1].0;
            let c = kth - self.slack;
            if c > self.cutoff {
                self.cutoff = c;
            }
            let cutoff = self.cutoff;
            self.buf.retain(|&(s, _)| s >= cutoff);
        }
        // Many near-ties inside the slack: grow instead of re-pruning often.
        if self.buf.len() * 2 > self.cap {
            self.cap = self.cap.saturating_mul(2);
        }
    }

    /// The surviving candidates (unordered).
    pub(crate) fn finish(mut self) -> Vec<(f32, u32)> {
        self.prune();
        self.buf
    }
}
