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

    /// Splits a receipt's `stdout_hash`/`stderr_hash` into the algorithm's name and the hex. A
    /// value without the prefix of an algorithm this crate knows is SHA-256, whole (so a value
    /// no glasshouse wrote cannot invent an algorithm).
    pub fn split(value: &str) -> (&str, &str) {
        match value.split_once(':') {
            Some((name, hex)) if name == Self::Blake3.name() => (name, hex),
            _ => (Self::Sha256.name(), value),
        }
    }
}

/// A running digest of the command's output, of one of the algorithms of [`OutputHash`].
#[derive(Clone)]
pub struct OutputHasher(Running);

#[derive(Clone)]
enum Running {
    Sha256(sha2::Sha256),
    Blake3(Box<blake3::Hasher>),
}

impl OutputHasher {
    /// A digest of nothing yet.
    pub fn new(algorithm: OutputHash) -> Self {
        use sha2::Digest as _;
        Self(match algorithm {
            OutputHash::Sha256 => Running::Sha256(sha2::Sha256::new()),
            OutputHash::Blake3 => Running::Blake3(Box::default()),
        })
    }

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        use sha2::Digest as _;
        match &mut self.0 {
            Running::Sha256(h) => h.update(bytes),
            Running::Blake3(h) => {
                h.update(bytes);
            }
        }
    }

    /// The digest in the receipt's form (see [`OutputHash::receipt_value`]).
    pub fn finish(self) -> String {
        use sha2::Digest as _;
        match self.0 {
            Running::Sha256(h) => OutputHash::Sha256.receipt_value(&hex::encode(h.finalize())),
            Running::Blake3(h) => OutputHash::Blake3.receipt_value(h.finalize().to_hex().as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{OutputHash, OutputHasher};

    #[test]
    fn digests_of_nothing_and_abc_are_the_published_ones() {
        let digest = |algorithm, bytes: &[u8]| {
            let mut h = OutputHasher::new(algorithm);
            h.update(bytes);
            h.finish()
        };
        let sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(digest(OutputHash::Sha256, b"abc"), sha256);
        let blake3 = "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
        assert_eq!(digest(OutputHash::Blake3, b""), blake3);
    }

    #[test]
    fn an_unknown_prefix_is_no_algorithm() {
        let forged = format!("md5:{}", "ab".repeat(16));
        assert_eq!(OutputHash::split(&forged), ("sha256", forged.as_str()));
    }

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
