//! Seeded randomness for the chaos cases: the seed is printed, and a failing run is
//! repeated with READYROLL_CHAOS_SEED set to it.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const SEED_ENV: &str = "READYROLL_CHAOS_SEED";

/// SplitMix64: small, fast and good enough to place faults.
pub struct Random {
    seed: u64,
    state: u64,
}

impl Random {
    /// From READYROLL_CHAOS_SEED, else from the clock; prints the seed either way.
    pub fn from_env(case: &str) -> Random {
        let seed = std::env::var(SEED_ENV)
            .ok()
            .map(|s| {
                s.parse()
                    .unwrap_or_else(|_| panic!("{SEED_ENV}={s:?} is not a number"))
            })
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
            });
        eprintln!("chaos {case}: seed {seed} (repeat with {SEED_ENV}={seed})");
        Random { seed, state: seed }
    }

    pub fn seed_text(&self) -> String {
        self.seed.to_string()
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration uniformly in `[0, max)`, in whole milliseconds.
    pub fn below(&mut self, max: Duration) -> Duration {
        let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX).max(1);
        Duration::from_millis(self.next() % ms)
    }
}
