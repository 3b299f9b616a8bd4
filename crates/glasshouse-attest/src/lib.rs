//! Signed in-toto attestations of glasshouse receipts.
