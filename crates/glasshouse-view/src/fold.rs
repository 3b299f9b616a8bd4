//! Grouping paths by directory and folding long lists, shared by `show` and `diff`.

use std::collections::BTreeMap;

/// Paths grouped by their directory (with a trailing `/`), each path keeping a value.
pub(crate) fn by_directory<'a, V>(
    paths: impl IntoIterator<Item = (&'a str, V)>,
) -> BTreeMap<&'a str, Vec<(&'a str, V)>> {
    let mut groups: BTreeMap<&str, Vec<(&str, V)>> = BTreeMap::new();
    for (path, value) in paths {
        let (dir, name) = split(path);
        groups.entry(dir).or_default().push((name, value));
    }
    groups
}

/// `/a/b/c` → (`/a/b/`, `c`); a path without `/` has the empty directory.
pub(crate) fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    }
}

/// How many of `total` items to show under a limit (`None`: all), and how many are hidden.
pub(crate) fn cut(total: usize, limit: Option<usize>) -> (usize, usize) {
    match limit {
        // Hiding a single item saves no line: show it instead of "1 more".
        Some(limit) if total > limit + 1 => (limit, total - limit),
        _ => (total, 0),
    }
}

/// "1 file", "3 files".
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_parent_and_cuts_without_hiding_one() {
        let groups = by_directory([("/a/x", 1), ("/a/y", 2), ("/b", 3), ("rel", 4)]);
        assert_eq!(groups["/a/"], vec![("x", 1), ("y", 2)]);
        assert_eq!(groups["/"], vec![("b", 3)]);
        assert_eq!(groups[""], vec![("rel", 4)]);
        assert_eq!(cut(10, Some(3)), (3, 7));
        assert_eq!(cut(4, Some(3)), (4, 0));
        assert_eq!(cut(4, None), (4, 0));
        assert_eq!(plural(1, "file", "files"), "1 file");
    }
}
