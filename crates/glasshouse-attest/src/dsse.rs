//! DSSE envelopes (Dead Simple Signing Envelope, v1): the pre-authentication encoding, signing,
//! and verification against one public key.
//!
//! The signature covers `PAE(payloadType, payload)` =
//! `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where LEN is the byte length in ASCII
//! decimal without leading zeros, so neither the type nor the body can be swapped or extended.

use crate::keys::{PublicKey, Signer};
use crate::AttestError;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Serialize};

/// The payload type of in-toto Statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The pre-authentication encoding of a payload and its type.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The signing key's id (SHA-256 of its SPKI DER, hex).
    #[serde(default)]
    pub keyid: String,
    /// The Ed25519 signature over the PAE, standard base64.
    pub sig: String,
}

/// A DSSE envelope as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The payload, standard base64.
    pub payload: String,
    /// What the payload is.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures.
    pub signatures: Vec<Signature>,
}

impl Envelope {
    /// Signs `payload` of `payload_type` with `signer`.
    pub fn sign(signer: &Signer, payload_type: &str, payload: &[u8]) -> Self {
        let sig = signer.key.sign(&pae(payload_type, payload));
        let b64 = base64::engine::general_purpose::STANDARD;
        Self {
            payload: b64.encode(payload),
            payload_type: payload_type.to_owned(),
            signatures: vec![Signature {
                keyid: signer.keyid().to_owned(),
                sig: b64.encode(sig.to_bytes()),
            }],
        }
    }

    /// One line of JSON with a trailing newline (a `.jsonl` file of one envelope).
    pub fn to_line(&self) -> Result<Vec<u8>, AttestError> {
        let mut out =
            serde_json::to_vec(self).map_err(|e| AttestError::Encode(format!("envelope: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }

    /// Parses an envelope file's bytes (one envelope, JSON, surrounding whitespace allowed).
    pub fn parse(bytes: &[u8]) -> Result<Self, AttestError> {
        serde_json::from_slice(bytes)
            .map_err(|e| AttestError::Malformed(format!("not a DSSE envelope: {e}")))
    }

    /// Checks the signature made by `key` and returns the payload it covers. The payload type
    /// must be `expected_type`; a signature by another key is [`AttestError::UnknownKey`].
    pub fn verify(&self, key: &PublicKey, expected_type: &str) -> Result<Vec<u8>, AttestError> {
        if self.payload_type != expected_type {
            return Err(AttestError::UnsupportedPayloadType(
                self.payload_type.clone(),
            ));
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload = b64
            .decode(self.payload.as_bytes())
            .map_err(|e| AttestError::Malformed(format!("payload is not base64: {e}")))?;
        // A signature without a key id may be ours; one with another key's id is not tried.
        let candidates: Vec<&Signature> = self
            .signatures
            .iter()
            .filter(|s| s.keyid == key.keyid() || s.keyid.is_empty())
            .collect();
        if candidates.is_empty() {
            return Err(AttestError::UnknownKey {
                expected: key.keyid().to_owned(),
                found: self.signatures.iter().map(|s| s.keyid.clone()).collect(),
            });
        }
        let message = pae(&self.payload_type, &payload);
        for s in candidates {
            let Ok(bytes) = b64.decode(s.sig.as_bytes()) else {
                continue;
            };
            let Ok(sig) = ed25519_dalek::Signature::from_slice(&bytes) else {
                continue;
            };
            if key.key.verify_strict(&message, &sig).is_ok() {
                return Ok(payload);
            }
        }
        Err(AttestError::BadSignature {
            keyid: key.keyid().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_specification() {
        // The example of the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn round_trip_and_tampering() {
        let signer = Signer::generate().unwrap();
        let env = Envelope::sign(&signer, IN_TOTO_PAYLOAD_TYPE, b"{\"a\":1}");
        let key = signer.public_key();
        let back = Envelope::parse(&env.to_line().unwrap()).unwrap();
        assert_eq!(
            back.verify(&key, IN_TOTO_PAYLOAD_TYPE).unwrap(),
            b"{\"a\":1}"
        );

        let mut changed = env.clone();
        changed.payload = base64::engine::general_purpose::STANDARD.encode(b"{\"a\":2}");
        assert!(matches!(
            changed.verify(&key, IN_TOTO_PAYLOAD_TYPE),
            Err(AttestError::BadSignature { .. })
        ));
        let mut retyped = env.clone();
        retyped.payload_type = "text/plain".into();
        assert!(matches!(
            retyped.verify(&key, IN_TOTO_PAYLOAD_TYPE),
            Err(AttestError::UnsupportedPayloadType(_))
        ));
        let other = Signer::generate().unwrap().public_key();
        assert!(matches!(
            env.verify(&other, IN_TOTO_PAYLOAD_TYPE),
            Err(AttestError::UnknownKey { .. })
        ));
        // Another key's signature under our key id is a bad signature, not a pass.
        let mut forged = Envelope::sign(
            &Signer::generate().unwrap(),
            IN_TOTO_PAYLOAD_TYPE,
            b"{\"a\":1}",
        );
        forged.signatures[0].keyid = key.keyid().to_owned();
        assert!(matches!(
            forged.verify(&key, IN_TOTO_PAYLOAD_TYPE),
            Err(AttestError::BadSignature { .. })
        ));
    }
}
