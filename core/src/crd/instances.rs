//! PM2's `instances`: a count, `0`/`"max"` (one per CPU) or `-N` (CPUs minus N).

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest absolute `instances` value accepted; keeps arithmetic trivially safe.
pub const MAX_INSTANCES: i32 = 10_000;

/// How many instances an App asks for, in PM2's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instances {
    /// Exactly this many (N >= 1).
    Count(i32),
    /// One per schedulable CPU (`0` or `"max"`).
    PerCpu,
    /// One per schedulable CPU, minus this many (`-N`); stored as N > 0.
    PerCpuMinus(i32),
}

impl Default for Instances {
    fn default() -> Self {
        Instances::Count(1)
    }
}

impl Instances {
    /// Interprets a PM2 integer: N >= 1 is a count, 0 is per-CPU, -N is per-CPU minus N.
    pub fn from_pm2(n: i64) -> Result<Self, String> {
        if n.abs() > i64::from(MAX_INSTANCES) {
            return Err(format!(
                "instances {n} is out of range (-{MAX_INSTANCES}..={MAX_INSTANCES})"
            ));
        }
        // The range check above makes the narrowing lossless.
        let n = n as i32;
        Ok(match n {
            0 => Instances::PerCpu,
            n if n > 0 => Instances::Count(n),
            n => Instances::PerCpuMinus(-n),
        })
    }

    /// Parses PM2's string forms: `"max"`, or an integer written as a string.
    pub fn from_pm2_str(s: &str) -> Result<Self, String> {
        let trimmed = s.trim();
        if trimmed.eq_ignore_ascii_case("max") {
            return Ok(Instances::PerCpu);
        }
        let n: i64 = trimmed
            .parse()
            .map_err(|_| format!("instances {s:?} is neither a number nor \"max\""))?;
        Self::from_pm2(n)
    }

    /// The PM2 integer this value is written as (`PerCpu` is 0).
    pub fn as_pm2(&self) -> i32 {
        match *self {
            Instances::Count(n) => n,
            Instances::PerCpu => 0,
            Instances::PerCpuMinus(n) => -n,
        }
    }
}

impl fmt::Display for Instances {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_pm2())
    }
}

impl Serialize for Instances {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i32(self.as_pm2())
    }
}

impl<'de> Deserialize<'de> for Instances {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Str(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Int(n) => Instances::from_pm2(n),
            Raw::Str(s) => Instances::from_pm2_str(&s),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Instances {
    fn schema_name() -> Cow<'static, str> {
        "Instances".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "x-kubernetes-int-or-string": true,
            "x-kubernetes-validations": [{
                "rule": "type(self) == string ? self.trim().lowerAscii() == 'max' : (self >= -10000 && self <= 10000)",
                "message": "spec.instances must be a count N >= 1, 0 or \"max\" in any case (one per CPU), or -N (one per CPU minus N), with |N| <= 10000"
            }]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pm2_integers_map_to_their_meaning() {
        assert_eq!(Instances::from_pm2(4), Ok(Instances::Count(4)));
        assert_eq!(Instances::from_pm2(0), Ok(Instances::PerCpu));
        assert_eq!(Instances::from_pm2(-1), Ok(Instances::PerCpuMinus(1)));
        assert!(Instances::from_pm2(10_001).is_err());
        assert!(Instances::from_pm2(-10_001).is_err());
    }

    #[test]
    fn strings_accept_max_and_numbers_only() {
        assert_eq!(Instances::from_pm2_str("max"), Ok(Instances::PerCpu));
        assert_eq!(Instances::from_pm2_str("MAX"), Ok(Instances::PerCpu));
        assert_eq!(Instances::from_pm2_str("-2"), Ok(Instances::PerCpuMinus(2)));
        assert!(Instances::from_pm2_str("many")
            .unwrap_err()
            .contains("many"));
    }

    #[test]
    fn round_trips_through_json() {
        for v in [
            Instances::Count(3),
            Instances::PerCpu,
            Instances::PerCpuMinus(2),
        ] {
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::from_str::<Instances>(&json).unwrap(), v);
        }
        assert_eq!(
            serde_json::from_str::<Instances>("\"max\"").unwrap(),
            Instances::PerCpu
        );
        assert!(serde_json::from_str::<Instances>("1.5").is_err());
    }
}
