//! Lossless text: paths and argv are bytes on Linux, and a receipt must keep them exactly.
//!
//! Encoding: a value that is valid UTF-8 is a plain JSON string. Any other byte sequence is an
//! object `{"base64": "<standard base64 of the raw bytes>"}`. Readers therefore never see a
//! replacement character standing in for bytes that were lost.

use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// A byte string from the kernel (a path, an argv element) kept without loss.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct OsText(Vec<u8>);

impl OsText {
    /// Wraps raw bytes.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text when it is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// A human-readable rendering: invalid bytes become `\xNN` escapes (display only, not lossless).
    pub fn display_lossy(&self) -> Cow<'_, str> {
        match self.as_str() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(self.0.escape_ascii().to_string()),
        }
    }
}

impl From<&str> for OsText {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

impl From<String> for OsText {
    fn from(s: String) -> Self {
        Self(s.into_bytes())
    }
}

impl From<&std::path::Path> for OsText {
    fn from(p: &std::path::Path) -> Self {
        use std::os::unix::ffi::OsStrExt as _;
        Self(p.as_os_str().as_bytes().to_vec())
    }
}

impl From<&std::ffi::OsStr> for OsText {
    fn from(s: &std::ffi::OsStr) -> Self {
        use std::os::unix::ffi::OsStrExt as _;
        Self(s.as_bytes().to_vec())
    }
}

impl fmt::Debug for OsText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.display_lossy())
    }
}

impl fmt::Display for OsText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_lossy())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Wire {
    Text(String),
    Bytes { base64: String },
}

impl Serialize for OsText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_str() {
            Some(s) => serializer.serialize_str(s),
            None => Wire::Bytes {
                base64: base64::engine::general_purpose::STANDARD.encode(&self.0),
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for OsText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Wire::deserialize(deserializer)? {
            Wire::Text(s) => Ok(Self(s.into_bytes())),
            Wire::Bytes { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64.as_bytes())
                .map(Self)
                .map_err(|e| serde::de::Error::custom(format!("invalid base64 text: {e}"))),
        }
    }
}

impl JsonSchema for OsText {
    fn schema_name() -> Cow<'static, str> {
        "OsText".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Bytes from the kernel kept losslessly: a string when they are valid UTF-8, otherwise {\"base64\": standard base64 of the raw bytes}.",
            "oneOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "required": ["base64"],
                    "additionalProperties": false,
                    "properties": { "base64": { "type": "string" } }
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn utf8_is_a_plain_string() {
        let t = OsText::from("/etc/hosts");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"/etc/hosts\"");
    }

    #[test]
    fn invalid_utf8_is_base64() {
        let t = OsText::from_bytes(vec![b'/', b'a', 0xff, 0xfe]);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"base64":"L2H//g=="}"#);
        let back: OsText = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let t = OsText::from_bytes(bytes);
            let back: OsText = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
            prop_assert_eq!(back, t);
        }
    }
}
