//! Fuzz target: the ring-buffer record decoder takes any bytes (a record as the kernel side
//! could write it, or garbage) without panicking; an accepted record's strings lie, in order and
//! without overlap, inside the record after its header, and its flag accessors answer for every
//! string.

#![no_main]

use glasshouse_sensor::event::{decode, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(event) = decode(data) else {
        return;
    };
    assert!(data.len() >= HEADER_LEN);
    let mut offset = HEADER_LEN;
    for (i, string) in event.strings.iter().enumerate() {
        let len = u16::from_ne_bytes([data[36 + 2 * i], data[37 + 2 * i]]) as usize;
        assert_eq!(string.len(), len);
        assert_eq!(*string, &data[offset..offset + len]);
        offset += len;
        let _ = (event.truncated(i), event.detached(i), event.unlinked(i));
    }
    assert!(offset <= data.len());
    let _ = event.uring_direct();
    assert_eq!(event.kind.to_ne_bytes(), data[0..4]);
    assert_eq!(event.sock.to_ne_bytes(), data[44..48]);
});
