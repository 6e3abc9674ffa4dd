//! Random inputs for readyroll's property tests, shared by the unit tier
//! (the core's and `convert`'s property tests) and the API tier (the same
//! specs submitted to a real API server).
//!
//! - [`app`]: `App` specs the CRD accepts ([`app::valid_app`]) and specs
//!   that are only close to valid ([`app::wild_app`]);
//! - [`ecosystem`]: PM2 ecosystem files as JSON values, in every shape PM2
//!   reads, with keys and values of every type;
//! - [`text`]: those values written as JSON, JSON5 and YAML, and damaged;
//! - [`nodes`]: fixed Nodes (allocatable CPU, labels, taints) for the core's
//!   build tests, unit and public-API alike.
//!
//! A dev-dependency only: neither the operator nor the core links it.

pub mod app;
pub mod ecosystem;
mod names;
pub mod nodes;
pub mod text;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Cases per property: `PROPTEST_CASES` when set (the long run of
/// `make fuzz`), else `default` (the bounded run of `make test`).
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The property-test configuration with [`cases`]`(default)` cases.
pub fn config(default: u32) -> Config {
    Config {
        cases: cases(default),
        // Failures are kept in the `proptest-regressions/` file next to
        // the test, which is committed, and replayed first on every run.
        ..Config::default()
    }
}

/// `n` values of `strategy` from a fixed `seed`: the same list every run,
/// for tests that are not property tests (the API tier's).
pub fn sample<S: Strategy>(strategy: &S, n: usize, seed: u64) -> Vec<S::Value> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    (0..n)
        .map(|_| match strategy.new_tree(&mut runner) {
            Ok(tree) => tree.current(),
            Err(why) => panic!("the generator rejected every value: {why}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_the_same_every_run() {
        let strategy = app::valid_app("shop");
        let specs = |seed| -> Vec<_> {
            sample(&strategy, 5, seed)
                .into_iter()
                .map(|a| a.spec)
                .collect()
        };
        assert_eq!(specs(42), specs(42));
        assert_ne!(specs(42), specs(43));
        let first = sample(&strategy, 5, 42);
        assert!(first.iter().all(|a| a.metadata.uid.is_some()));
    }
}
