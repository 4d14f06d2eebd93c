//! A latency histogram with fixed log-linear buckets (the layout HdrHistogram made popular,
//! written here for this tool).
//!
//! Values below 2^[`PRECISION_BITS`] have a bucket each, so they are counted exactly. Above
//! that, every power-of-two range is cut into 2^(PRECISION_BITS − 1) equal buckets: a bucket
//! is never wider than 1/128 of the values in it. The whole `u64` range fits in
//! [`BUCKETS`] counters (58 KiB), allocated once; recording is a leading-zero count, a shift
//! and an increment — no allocation, no search.
//!
//! Percentiles use the nearest-rank definition: the value at quantile q is the smallest
//! recorded value v such that at least ⌈q·N⌉ of the N values are ≤ v. It is reported as the
//! highest value of v's bucket (exact below 2^PRECISION_BITS), never above the largest value
//! recorded.

/// Bits of precision: values below 2^PRECISION_BITS are exact; above, the relative bucket
/// width is at most 2^−(PRECISION_BITS − 1).
pub const PRECISION_BITS: u32 = 8;
/// Buckets per power of two above the exact range.
const HALF: u64 = 1 << (PRECISION_BITS - 1);
/// Number of buckets covering 0..=u64::MAX.
pub const BUCKETS: usize = (66 - PRECISION_BITS as usize) * HALF as usize;

/// Quantiles in parts per million, so that "99.9 %" is exact (no float rounding of ranks).
pub const P50: u32 = 500_000;
/// 99th percentile.
pub const P99: u32 = 990_000;
/// 99.9th percentile.
pub const P999: u32 = 999_000;

/// Counts of `u64` values (here: latencies in TSC ticks).
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// The bucket of `v`.
#[inline]
pub fn bucket_index(v: u64) -> usize {
    if v < (1 << PRECISION_BITS) {
        return v as usize;
    }
    // v ≥ 2^P, so its top bit is at P or above and shift ≥ 1; v >> shift keeps P bits,
    // the top one set: HALF ≤ v >> shift < 2·HALF.
    let shift = 63 - v.leading_zeros() - (PRECISION_BITS - 1);
    (u64::from(shift) * HALF + (v >> shift)) as usize
}

/// The lowest and highest value that fall into bucket `idx` (`idx < BUCKETS`).
pub fn bucket_bounds(idx: usize) -> (u64, u64) {
    let idx = idx as u64;
    if idx < 2 * HALF {
        return (idx, idx);
    }
    let shift = idx / HALF - 1;
    let low = (idx - shift * HALF) << shift;
    (low, low + ((1u64 << shift) - 1))
}

impl Histogram {
    /// An empty histogram (allocates its buckets).
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }

    /// Counts one value. Never allocates or panics.
    #[inline]
    pub fn record(&mut self, v: u64) {
        // bucket_index(v) < BUCKETS for every u64 (see the test), so `get_mut` always hits;
        // it only keeps the hot path free of a panic branch.
        if let Some(c) = self.counts.get_mut(bucket_index(v)) {
            *c += 1;
        }
        self.total += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += u128::from(v);
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Smallest value recorded (exact); `None` when empty.
    pub fn min(&self) -> Option<u64> {
        (self.total > 0).then_some(self.min)
    }

    /// Largest value recorded (exact); `None` when empty.
    pub fn max(&self) -> Option<u64> {
        (self.total > 0).then_some(self.max)
    }

    /// Mean of the values recorded (exact sum); `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.total > 0).then(|| self.sum as f64 / self.total as f64)
    }

    /// The value at quantile `ppm` (parts per million: [`P50`], [`P99`], [`P999`];
    /// 1_000_000 is the maximum), nearest rank; `None` when empty.
    pub fn value_at_ppm(&self, ppm: u32) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let ppm = u128::from(ppm.min(1_000_000));
        // rank = ⌈total · ppm / 10^6⌉, at least 1.
        let rank = ((u128::from(self.total) * ppm).div_ceil(1_000_000)).max(1) as u64;
        let mut seen = 0u64;
        for (idx, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (_, high) = bucket_bounds(idx);
                return Some(high.min(self.max).max(self.min));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_hundred_exact() {
        let mut h = Histogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.value_at_ppm(P50), Some(50));
        assert_eq!(h.value_at_ppm(P99), Some(99));
        // rank ⌈99.9⌉ = 100
        assert_eq!(h.value_at_ppm(P999), Some(100));
        assert_eq!(h.value_at_ppm(0), Some(1));
        assert_eq!(h.value_at_ppm(1_000_000), Some(100));
        assert_eq!(h.min(), Some(1));
        assert_eq!(h.max(), Some(100));
        assert_eq!(h.mean(), Some(50.5));
    }

    #[test]
    fn skewed_distribution_exact() {
        // 1000 values: 900 × 10, 90 × 20, 9 × 30, 1 × 40; inserted out of order.
        let mut h = Histogram::new();
        for (v, n) in [(40, 1), (20, 90), (10, 900), (30, 9)] {
            for _ in 0..n {
                h.record(v);
            }
        }
        assert_eq!(h.value_at_ppm(P50), Some(10));
        assert_eq!(h.value_at_ppm(900_000), Some(10)); // rank 900: the last 10
        assert_eq!(h.value_at_ppm(900_001), Some(20)); // rank 901
        assert_eq!(h.value_at_ppm(P99), Some(20)); // rank 990: the last 20
        assert_eq!(h.value_at_ppm(P999), Some(30)); // rank 999: the last 30
        assert_eq!(h.value_at_ppm(1_000_000), Some(40));
    }

    #[test]
    fn percentile_rank_is_not_rounded_up_by_floats() {
        // 99.9 % of 1000 is rank 999 exactly; a float computation gives 999.0000000000001
        // and would take rank 1000.
        let mut h = Histogram::new();
        for v in 0..999 {
            h.record(v % 200);
        }
        h.record(255);
        assert_eq!(h.value_at_ppm(P999), Some(199));
        assert_eq!(h.value_at_ppm(1_000_000), Some(255));
    }

    #[test]
    fn empty() {
        let h = Histogram::new();
        assert_eq!(h.value_at_ppm(P50), None);
        assert_eq!(h.min(), None);
        assert_eq!(h.max(), None);
        assert_eq!(h.mean(), None);
    }

    #[test]
    fn large_values_within_bucket_precision() {
        // 1000, 2000, ..., 100000: p50 is 50000, reported as its bucket's top.
        let mut h = Histogram::new();
        for k in 1..=100u64 {
            h.record(k * 1000);
        }
        let p50 = h.value_at_ppm(P50).unwrap();
        assert!((50_000..=50_000 + 50_000 / HALF).contains(&p50), "{p50}");
        assert_eq!(bucket_bounds(bucket_index(50_000)).1, p50);
        // the top is clamped to the largest value recorded
        assert_eq!(h.value_at_ppm(1_000_000), Some(100_000));
        assert_eq!(h.max(), Some(100_000));
    }

    #[test]
    fn buckets_cover_u64_in_order() {
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_bounds(BUCKETS - 1).1, u64::MAX);
        assert_eq!(bucket_bounds(0), (0, 0));
        // Consecutive buckets touch: each starts one after the previous one ends.
        for idx in 1..BUCKETS {
            let (lo, _) = bucket_bounds(idx);
            let (_, prev_hi) = bucket_bounds(idx - 1);
            assert_eq!(lo, prev_hi + 1, "bucket {idx}");
        }
        // Every value lands in the bucket whose bounds hold it; widths respect the precision.
        let mut probes = vec![
            0u64,
            1,
            255,
            256,
            257,
            511,
            512,
            1000,
            123_456_789,
            u64::MAX,
        ];
        for s in 0..64 {
            let p = 1u64 << s;
            probes.extend([p - 1, p, p + 1, p | (p >> 1)]);
        }
        for v in probes {
            let (lo, hi) = bucket_bounds(bucket_index(v));
            assert!(lo <= v && v <= hi, "{v}: [{lo}, {hi}]");
            assert!(hi - lo <= lo / HALF, "{v}: [{lo}, {hi}] too wide");
        }
    }
}
