//! PM2's memory strings (`max_memory_restart`): `"300M"`, `"1G"`, `"512K"` or bytes.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest memory size accepted, 1 PiB: far above any node, far below
/// where byte counts overflow.
pub const MAX_MEMORY_BYTES: u64 = 1 << 50;

/// A memory size written the PM2 way; K, M and G are powers of 1024 as in PM2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemorySize {
    bytes: u64,
    written: String,
}

impl MemorySize {
    /// Parses `"<digits>[K|M|G]"` (PM2's own pattern) into bytes.
    pub fn parse(s: &str) -> Result<Self, String> {
        let invalid = || {
            format!("{s:?} is not a PM2 memory size: expected digits with an optional K, M or G suffix, e.g. \"300M\"")
        };
        let (digits, multiplier) = match s.as_bytes().last() {
            Some(b'K') => (&s[..s.len() - 1], 1u64 << 10),
            Some(b'M') => (&s[..s.len() - 1], 1u64 << 20),
            Some(b'G') => (&s[..s.len() - 1], 1u64 << 30),
            _ => (s, 1),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let too_large =
            || format!("{s:?} is too large a memory size (at most 1 PiB, e.g. \"1048576G\")");
        // Only digits are left, so a failed parse is an overflow.
        let n: u64 = digits.parse().map_err(|_| too_large())?;
        let bytes = n
            .checked_mul(multiplier)
            .filter(|&b| b <= MAX_MEMORY_BYTES)
            .ok_or_else(too_large)?;
        if bytes == 0 {
            return Err(format!("{s:?} is zero: a memory limit must be positive"));
        }
        Ok(MemorySize {
            bytes,
            written: s.to_string(),
        })
    }

    /// From a plain byte count, as PM2 accepts numbers.
    pub fn from_bytes(bytes: u64) -> Result<Self, String> {
        Self::parse(&bytes.to_string())
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The Kubernetes quantity with the same number of bytes (`"300M"` -> `"300Mi"`).
    pub fn to_quantity(&self) -> String {
        match self.written.as_bytes().last() {
            Some(b'K' | b'M' | b'G') => format!("{}i", self.written),
            _ => self.written.clone(),
        }
    }
}

impl fmt::Display for MemorySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl Serialize for MemorySize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.written)
    }
}

impl<'de> Deserialize<'de> for MemorySize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Int(n) => MemorySize::from_bytes(n),
            Raw::Str(s) => MemorySize::parse(&s),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// The parser's rule in CEL: digits with an optional K, M or G (at most 16
/// digits, so `int()` cannot overflow), above 0 and at most
/// [`MAX_MEMORY_BYTES`], compared before multiplying.
const MEMORY_RULE: &str = "type(self) == int ? (self >= 1 && self <= 1125899906842624) : \
(self.matches('^[0-9]{1,16}[KMG]?$') && \
(self.endsWith('G') ? (int(self.substring(0, self.size() - 1)) >= 1 && int(self.substring(0, self.size() - 1)) <= 1048576) : \
self.endsWith('M') ? (int(self.substring(0, self.size() - 1)) >= 1 && int(self.substring(0, self.size() - 1)) <= 1073741824) : \
self.endsWith('K') ? (int(self.substring(0, self.size() - 1)) >= 1 && int(self.substring(0, self.size() - 1)) <= 1099511627776) : \
(int(self) >= 1 && int(self) <= 1125899906842624)))";

impl JsonSchema for MemorySize {
    fn schema_name() -> Cow<'static, str> {
        "MemorySize".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "x-kubernetes-int-or-string": true,
            "x-kubernetes-validations": [{
                "rule": MEMORY_RULE,
                "message": "spec.maxMemoryRestart must be a PM2 memory size such as \"300M\", \"1G\", \"512K\" or a byte count, above 0 and at most 1 PiB"
            }]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_powers_of_1024() {
        assert_eq!(
            MemorySize::parse("300M").unwrap().bytes(),
            300 * 1024 * 1024
        );
        assert_eq!(MemorySize::parse("1G").unwrap().bytes(), 1 << 30);
        assert_eq!(MemorySize::parse("512K").unwrap().bytes(), 512 * 1024);
        assert_eq!(MemorySize::parse("1048576").unwrap().bytes(), 1 << 20);
    }

    #[test]
    fn quantity_keeps_the_byte_count() {
        assert_eq!(MemorySize::parse("300M").unwrap().to_quantity(), "300Mi");
        assert_eq!(MemorySize::parse("2048").unwrap().to_quantity(), "2048");
    }

    #[test]
    fn malformed_strings_are_rejected_with_the_value() {
        for bad in ["", "M", "300MB", "3.5G", "-1M", "300m", " 300M", "0", "0M"] {
            let err = MemorySize::parse(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
        assert!(MemorySize::parse("99999999999999999999G").is_err());
    }

    #[test]
    fn at_most_one_pib_in_every_unit() {
        for ok in [
            "1048576G",
            "1073741824M",
            "1099511627776K",
            "1125899906842624",
        ] {
            assert_eq!(
                MemorySize::parse(ok).unwrap().bytes(),
                MAX_MEMORY_BYTES,
                "{ok}"
            );
        }
        for bad in [
            "1048577G",
            "1073741825M",
            "1099511627777K",
            "1125899906842625",
            "99999999999999999999G",
            "18446744073709551615",
        ] {
            let err = MemorySize::parse(bad).unwrap_err();
            assert!(err.contains("too large"), "{bad}: {err}");
        }
        assert!(serde_json::from_str::<MemorySize>("1125899906842625").is_err());
        assert_eq!(MEMORY_RULE.matches("1125899906842624").count(), 2);
    }

    #[test]
    fn numbers_and_strings_deserialize() {
        let m: MemorySize = serde_json::from_str("1024").unwrap();
        assert_eq!(m.bytes(), 1024);
        let m: MemorySize = serde_json::from_str("\"1G\"").unwrap();
        assert_eq!(m.to_string(), "1G");
    }
}
