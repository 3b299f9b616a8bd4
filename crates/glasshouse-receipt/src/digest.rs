//! How `artifacts.stdout_hash` and `stderr_hash` name the digest they hold.
//!
//! v0.3.0 defines both as the SHA-256 in lowercase hex, and that stays the default. A run may
//! choose BLAKE3 instead (`run --output-hash blake3`: about four times faster, for commands whose
//! output is large); its value is then prefixed with the algorithm's name (`blake3:<hex>`), so a
//! reader that expects bare SHA-256 hex fails to parse it rather than compare it to the wrong
//! digest.

/// The digest of the command's output streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputHash {
    /// SHA-256, written as bare lowercase hex (v0.3.0).
    #[default]
    Sha256,
    /// BLAKE3 (32 bytes), written as `blake3:` and lowercase hex.
    Blake3,
}

impl OutputHash {
    /// The algorithm's name as digests and in-toto digest sets spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Blake3 => "blake3",
        }
    }

    /// The receipt's form of a digest given in lowercase hex.
    pub fn receipt_value(self, hex: &str) -> String {
        match self {
            Self::Sha256 => hex.to_owned(),
            Self::Blake3 => format!("blake3:{hex}"),
        }
    }

    /// Splits a receipt's `stdout_hash`/`stderr_hash` into the algorithm's name and the hex:
    /// a value without a prefix is SHA-256.
    pub fn split(value: &str) -> (&str, &str) {
        value.split_once(':').unwrap_or(("sha256", value))
    }
}

#[cfg(test)]
mod tests {
    use super::OutputHash;

    #[test]
    fn sha256_stays_bare_hex_and_blake3_is_prefixed() {
        let hex = "ab".repeat(32);
        assert_eq!(OutputHash::Sha256.receipt_value(&hex), hex);
        assert_eq!(
            OutputHash::Blake3.receipt_value(&hex),
            format!("blake3:{hex}")
        );
        for alg in [OutputHash::Sha256, OutputHash::Blake3] {
            assert_eq!(
                OutputHash::split(&alg.receipt_value(&hex)),
                (alg.name(), hex.as_str())
            );
        }
    }
}
