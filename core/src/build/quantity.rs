//! Exact parsing of Kubernetes quantities (`"500m"`, `"2"`, `"1.5"`, `"1k"`,
//! `"1Gi"`, `"1e3"`).
//!
//! Dividing node CPUs by a CPU request must not suffer float rounding
//! (`0.1 * 1000` is not `100` in binary floating point), so values are kept
//! as integers in thousandths of the unit, rounded up like Kubernetes'
//! `Quantity.MilliValue()`. Crates that parse through `f64` cannot give that.

use std::fmt;

/// Most significant digits accepted; 10^38 still fits in `u128`.
const MAX_DIGITS: usize = 38;
/// Largest decimal exponent accepted (`1e400` is not a resource amount).
const MAX_EXPONENT: i32 = 1_000;

/// Why a quantity string is not a valid non-negative Kubernetes quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError(String);

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The quantity in thousandths of its unit (millicores for CPU), rounded up,
/// saturating at `u128::MAX` for absurdly large values.
pub fn parse_milli(text: &str) -> Result<u128, QuantityError> {
    let err = |why: &str| QuantityError(format!("{text:?} is not a quantity: {why}"));
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let number_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(err("expected a number such as 2, 1.5 or 500m"));
    }
    if frac_part.contains('.') {
        return Err(err("more than one decimal point"));
    }
    let (binary_power, decimal_exponent) = suffix_scale(suffix).ok_or_else(|| {
        err("unknown suffix (use m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or e<exponent>)")
    })?;

    let digits: String = format!("{int_part}{frac_part}")
        .trim_start_matches('0')
        .to_string();
    if digits.is_empty() {
        return Ok(0);
    }
    if negative {
        return Err(err("must not be negative"));
    }
    if digits.len() > MAX_DIGITS {
        return Err(err("too many digits"));
    }
    let mantissa: u128 = digits.parse().map_err(|_| err("not a number"))?;
    // value = mantissa * 1024^binary_power * 10^(exponent - fraction digits); in milli: +3.
    let frac_digits = i32::try_from(frac_part.len()).map_err(|_| err("too many digits"))?;
    let exponent = decimal_exponent - frac_digits + 3;
    let scaled = 1024u128
        .checked_pow(binary_power)
        .and_then(|b| mantissa.checked_mul(b));
    let Some(scaled) = scaled else {
        return Ok(u128::MAX);
    };
    Ok(if exponent >= 0 {
        10u128
            .checked_pow(exponent.unsigned_abs())
            .and_then(|p| scaled.checked_mul(p))
            .unwrap_or(u128::MAX)
    } else {
        match 10u128.checked_pow(exponent.unsigned_abs()) {
            Some(divisor) => scaled.div_ceil(divisor),
            // Smaller than one thousandth but above zero: rounds up to 1.
            None => 1,
        }
    })
}

/// (power of 1024, power of 10) of a suffix.
fn suffix_scale(suffix: &str) -> Option<(u32, i32)> {
    Some(match suffix {
        "" => (0, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        "Ki" => (1, 0),
        "Mi" => (2, 0),
        "Gi" => (3, 0),
        "Ti" => (4, 0),
        "Pi" => (5, 0),
        "Ei" => (6, 0),
        _ => {
            let exponent = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))?;
            let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let value: i32 = exponent.parse().ok()?;
            if value.abs() > MAX_EXPONENT {
                return None;
            }
            (0, value)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_forms_are_exact() {
        let cases = [
            ("500m", 500),
            ("2", 2000),
            ("1.5", 1500),
            ("0.1", 100),
            (".5", 500),
            ("1.", 1000),
            ("1k", 1_000_000),
            ("1Ki", 1_024_000),
            ("1Gi", 1_073_741_824_000),
            ("1e3", 1_000_000),
            ("1E3", 1_000_000),
            ("15e-1", 1500),
            ("1E", 1_000_000_000_000_000_000_000),
            ("+3", 3000),
            ("0", 0),
            ("0m", 0),
            ("-0", 0),
            ("1930m", 1930),
        ];
        for (text, milli) in cases {
            assert_eq!(parse_milli(text), Ok(milli), "{text}");
        }
    }

    #[test]
    fn below_a_thousandth_rounds_up_like_milli_value() {
        assert_eq!(parse_milli("1n"), Ok(1));
        assert_eq!(parse_milli("1500u"), Ok(2));
        assert_eq!(parse_milli("0.0001"), Ok(1));
        assert_eq!(parse_milli("1e-900"), Ok(1));
    }

    #[test]
    fn huge_values_saturate() {
        assert_eq!(parse_milli("100Ei"), Ok(115_292_150_460_684_697_600_000));
        assert_eq!(parse_milli("1e900"), Ok(u128::MAX));
        assert_eq!(parse_milli(&format!("{}Ei", "9".repeat(38))), Ok(u128::MAX));
    }

    #[test]
    fn malformed_and_negative_are_errors() {
        for bad in [
            "", "m", "-1", "1.2.3", "1x", "1 ", " 1", "1mi", "1e", "1e+", "1e1.5", "--1", "1KiB",
            "abc", "1e5000",
        ] {
            let err = parse_milli(bad).unwrap_err();
            assert!(
                err.to_string().contains(&format!("{bad:?}")),
                "{bad}: {err}"
            );
        }
        assert!(parse_milli(&"1".repeat(39)).is_err());
    }
}

/// Any text, and every notation Kubernetes writes: never a panic, exact
/// where the value is representable, rounded up below a thousandth.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn any_text_is_a_quantity_or_a_named_error(text in "\\PC{0,40}|[-+]?[0-9.]{0,45}([numkMGTPE]|[KMGTPE]i|[eE][-+]?[0-9]{1,5})?") {
            if let Err(e) = parse_milli(&text) {
                prop_assert!(e.to_string().contains(&format!("{text:?}")), "{e}");
            }
        }

        #[test]
        fn integers_in_every_unit_are_exact(n in 0u64..=u64::from(u32::MAX), unit in 0usize..9) {
            let (suffix, milli): (&str, u128) = [
                ("m", 1), ("", 1000), ("k", 1_000_000), ("M", 1_000_000_000),
                ("Ki", 1_024_000), ("Mi", 1_048_576_000), ("Gi", 1_073_741_824_000),
                ("e3", 1_000_000), ("E", 1_000_000_000_000_000_000_000),
            ][unit];
            prop_assert_eq!(parse_milli(&format!("{n}{suffix}")), Ok(u128::from(n) * milli));
            prop_assert_eq!(parse_milli(&format!("+{n}{suffix}")), Ok(u128::from(n) * milli));
        }

        #[test]
        fn fractions_round_up_to_a_thousandth(whole in 0u32..1000, frac in "[0-9]{1,12}") {
            let exact = u128::from(whole) * 1000;
            let got = parse_milli(&format!("{whole}.{frac}")).unwrap();
            let digits: u128 = frac.parse().unwrap();
            let scale = 10u128.pow(frac.len() as u32);
            prop_assert_eq!(got, exact + (digits * 1000).div_ceil(scale));
        }
    }
}
