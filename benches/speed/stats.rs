//! Percentiles of a set of samples (ms).

/// Summary of one measurement.
pub struct Stats {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Stats {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return Stats {
                n: 0,
                p50: f64::NAN,
                p95: f64::NAN,
            };
        }
        Stats {
            n: sorted.len(),
            p50: percentile(&sorted, 0.50),
            p95: percentile(&sorted, 0.95),
        }
    }
}

/// Linear interpolation between the closest ranks (numpy's default) over sorted, non-empty values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = q * (sorted.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
}

pub fn ms(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
