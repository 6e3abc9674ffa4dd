use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

/// `PREFIX-SUFFIX`, unique across tests running at once in this and other processes and valid as
/// a DNS label (namespace and node names). The prefix is lowercased and cut to fit.
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let seed =
        nanos ^ (u64::from(std::process::id()) << 40) ^ COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("{:08x}", mix(seed) as u32);
    let mut clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(50)
        .collect();
    clean = clean.trim_matches('-').to_owned();
    if clean.is_empty() {
        clean.push_str("e2e");
    }
    format!("{clean}-{suffix}")
}

/// SplitMix64 finaliser: spreads nearby seeds over the whole suffix.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::unique_name;

    #[test]
    fn names_are_dns_labels_and_differ() {
        let a = unique_name("Rolling_Update test!");
        let b = unique_name("Rolling_Update test!");
        assert_ne!(a, b);
        assert!(a.starts_with("rolling-update-test-"), "{a}");
        assert!(a.len() <= 63);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    }

    #[test]
    fn empty_or_symbol_prefix_still_gives_a_label() {
        assert!(unique_name("--").starts_with("e2e-"));
        assert!(unique_name(&"x".repeat(100)).len() <= 63);
    }
}
