//! Paths as the receipt shows them: a name made absolute by the directory the kernel reported,
//! then resolved on the file system where its directory part is not exact yet.

use std::collections::HashMap;

/// A path an operation named, made absolute but not resolved yet.
#[derive(Debug, Clone)]
pub(crate) struct NamedPath {
    pub(crate) text: Vec<u8>,
    /// The name was one component relative to a directory the kernel reported by its own path
    /// (a descriptor's or the cwd), so the directory part is already exact: nothing to resolve.
    pub(crate) dir_exact: bool,
}

/// `raw` when it is absolute, else `base/raw`.
pub(crate) fn concat(base: &[u8], raw: &[u8]) -> Vec<u8> {
    if raw.first() == Some(&b'/') || base.is_empty() {
        return raw.to_vec();
    }
    let mut out = base.to_vec();
    out.push(b'/');
    out.extend_from_slice(raw);
    out
}

/// Normalizes `.`, `..` and repeated slashes of an absolute path lexically.
pub(crate) fn normalize(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in path.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = Vec::new();
    for p in &parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Real paths of the directories named in the current batch of events. Paths are resolved when
/// their batch is drained, against the file system as it is then; within one batch (about ten
/// milliseconds of events, at most 4096) a directory is looked up once, not once per file in it.
#[derive(Debug, Default)]
pub(crate) struct DirCache {
    /// Directory as named -> its real path, or `None` when it no longer resolves.
    pub(crate) real: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl DirCache {
    /// The real path of a file that may no longer exist (deleted, renamed away): its directory
    /// is resolved on the file system, which follows symlinks before `..` as the kernel did;
    /// the path is normalized in text only when that directory is gone too.
    pub(crate) fn resolve(&mut self, path: NamedPath) -> Vec<u8> {
        use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
        if path.dir_exact {
            return path.text;
        }
        let text = &path.text;
        let Some(cut) = text.iter().rposition(|b| *b == b'/') else {
            return normalize(text);
        };
        let (dir, name) = (&text[..cut.max(1)], &text[cut + 1..]);
        if matches!(name, b"" | b"." | b"..") {
            return normalize(text);
        }
        let real = self.real.entry(dir.to_vec()).or_insert_with(|| {
            std::fs::canonicalize(std::ffi::OsStr::from_bytes(dir))
                .ok()
                .map(|real| real.into_os_string().into_vec())
        });
        match real {
            Some(real) => {
                let mut out = real.clone();
                if out.last() != Some(&b'/') {
                    out.push(b'/');
                }
                out.extend_from_slice(name);
                out
            }
            None => normalize(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(base: &[u8], raw: &[u8]) -> Vec<u8> {
        normalize(&concat(base, raw))
    }

    fn named(text: &str) -> Option<NamedPath> {
        Some(NamedPath {
            text: text.into(),
            dir_exact: false,
        })
    }

    fn resolve(text: &str) -> Vec<u8> {
        DirCache::default().resolve(named(text).unwrap())
    }

    #[test]
    fn join_normalizes() {
        assert_eq!(join(b"/a/b", b"c"), b"/a/b/c");
        assert_eq!(join(b"/a/b", b"../c/./d//e"), b"/a/c/d/e");
        assert_eq!(join(b"/a/b", b"/x/../y"), b"/y");
        assert_eq!(join(b"/", b"../../.."), b"/");
        assert_eq!(join(b"/a", b""), b"/a");
    }

    #[test]
    fn resolve_follows_symlinks_before_dotdot() {
        let dir = std::env::temp_dir().join(format!("gh-resolve-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("deep/er")).unwrap();
        let _ = std::fs::remove_file(dir.join("lnk"));
        std::os::unix::fs::symlink(dir.join("deep/er"), dir.join("lnk")).unwrap();
        let real = std::fs::canonicalize(&dir).unwrap();
        let raw = format!("{}/lnk/../h", dir.display());
        assert_eq!(
            resolve(&raw),
            format!("{}/deep/h", real.display()).into_bytes()
        );
        assert_eq!(resolve("/no/such/dir/../x"), b"/no/such/x");
        assert_eq!(resolve("/x"), b"/x");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
