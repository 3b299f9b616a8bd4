//! What differs between two runs of the same task without the task doing anything different:
//! the names of temporary files and of `/proc/PID` directories. `diff` compares paths after
//! [`normalize_path`]; ids, times and pids are never compared at all.
//!
//! A path component is replaced by `*` (keeping an extension after the random part) when it is
//! (patterns documented in docs/diff.md):
//! - `tmp` followed by 6 or more of `[A-Za-z0-9_]`: Python's `tempfile` (`tmpk3j_x9ab`);
//! - `tmp.` followed by 6 or more of `[A-Za-z0-9]`: mktemp(1) (`tmp.Xq3ZbT9aPc`);
//! - `.tmp` followed by 6 or more of `[A-Za-z0-9]`: Rust's `tempfile` (`.tmpA1b2C3`);
//! - `.receipt-*.tmp` and `.glasshouse-probe-*`: glasshouse's own temporary files;
//! - right under `/tmp`, `/var/tmp` or `/dev/shm`: 8 of `[a-z0-9_]`, alone or after a prefix
//!   ending in `-` or `_`: Python's `tempfile` probing the directory (`/tmp/bu1c5c7t`) and its
//!   `mkdtemp`/`mkstemp` with a prefix (`/tmp/glasshouse-demo-k3j_x9ab`);
//! - all digits, right after `/proc/`: a process's directory (`/proc/4242/status`).

use std::borrow::Cow;

/// The placeholder a volatile component becomes.
pub const PLACEHOLDER: &str = "*";

/// `path` with every volatile component replaced by [`PLACEHOLDER`].
pub fn normalize_path(path: &str) -> Cow<'_, str> {
    let mut changed = false;
    let mut seen: Vec<&str> = Vec::new();
    let parts: Vec<Cow<'_, str>> = path
        .split('/')
        .map(|component| {
            let temp_dir = matches!(
                seen.as_slice(),
                ["", "tmp"] | ["", "var", "tmp"] | ["", "dev", "shm"]
            );
            let normalized = if temp_dir && prefixed_python_name(component) {
                Cow::Owned(PLACEHOLDER.to_owned())
            } else {
                normalize_component(seen.last().copied().unwrap_or(""), component)
            };
            changed |= matches!(normalized, Cow::Owned(_));
            seen.push(component);
            normalized
        })
        .collect();
    if changed {
        Cow::Owned(parts.join("/"))
    } else {
        Cow::Borrowed(path)
    }
}

/// `xxxxxxxx`, `PREFIX-xxxxxxxx` or `PREFIX_xxxxxxxx`: Python's 8 random characters, alone (the
/// file `tempfile` creates to probe that the directory is writable) or after a prefix.
fn prefixed_python_name(component: &str) -> bool {
    let bytes = component.as_bytes();
    let Some(split) = bytes.len().checked_sub(8) else {
        return false;
    };
    let random = &bytes[split..];
    (split == 0 || split >= 2 && matches!(bytes[split - 1], b'-' | b'_'))
        && random
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn normalize_component<'a>(parent: &str, component: &'a str) -> Cow<'a, str> {
    if parent == "proc" && !component.is_empty() && component.bytes().all(|b| b.is_ascii_digit()) {
        return Cow::Owned(PLACEHOLDER.to_owned());
    }
    if component.starts_with(".receipt-") && component.ends_with(".tmp")
        || component.starts_with(".glasshouse-probe-")
    {
        return Cow::Owned(PLACEHOLDER.to_owned());
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let alnum = |b: u8| b.is_ascii_alphanumeric();
    let random = [
        ("tmp.", alnum as fn(u8) -> bool),
        (".tmp", alnum),
        ("tmp", word),
    ]
    .into_iter()
    .find_map(|(prefix, class)| {
        let rest = component.strip_prefix(prefix)?;
        let run = rest.bytes().take_while(|&b| class(b)).count();
        (run >= 6).then(|| &rest[run..])
    });
    match random {
        Some(tail) => Cow::Owned(format!("{PLACEHOLDER}{tail}")),
        None => Cow::Borrowed(component),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_and_proc_pids_are_normalized() {
        for (path, expected) in [
            ("/tmp/tmpk3j_x9ab/run.py", "/tmp/*/run.py"),
            ("/tmp/tmpk3j_x9ab.json", "/tmp/*.json"),
            ("/tmp/tmp.Xq3ZbT9aPc", "/tmp/*"),
            ("/work/.tmpA1b2C3", "/work/*"),
            ("/out/.receipt-Ab12Cd.tmp", "/out/*"),
            ("/proc/4242/status", "/proc/*/status"),
            ("/tmp/glasshouse-demo-k3j_x9ab/id", "/tmp/*/id"),
            ("/var/tmp/build_0a1b2c3d", "/var/tmp/*"),
            (
                "/home/ada/glasshouse-demo-k3j_x9ab",
                "/home/ada/glasshouse-demo-k3j_x9ab",
            ),
            ("/tmp/my-project", "/tmp/my-project"),
            ("/tmp/bu1c5c7t", "/tmp/*"),
            ("/tmp/-abcdefgh", "/tmp/-abcdefgh"),
            ("/proc/self/status", "/proc/self/status"),
            ("/usr/lib/tmpfiles.d/x.conf", "/usr/lib/tmpfiles.d/x.conf"),
            ("/home/ada/src/main.rs", "/home/ada/src/main.rs"),
            ("/data/4242", "/data/4242"),
        ] {
            assert_eq!(normalize_path(path), expected, "{path}");
        }
        assert!(matches!(normalize_path("/etc/hosts"), Cow::Borrowed(_)));
    }
}
