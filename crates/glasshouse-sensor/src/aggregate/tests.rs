//! The aggregate's lists: directories resolved once per batch, full lists, and the live
//! stream seeing exactly what the lists take.

use super::*;

fn named(text: &str) -> Option<NamedPath> {
    Some(NamedPath {
        text: text.into(),
        dir_exact: false,
    })
}

#[test]
fn directories_are_looked_up_once_per_batch() {
    let dir = std::env::temp_dir().join(format!("gh-batch-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::create_dir_all(dir.join("b")).unwrap();
    let real = std::fs::canonicalize(&dir).unwrap();
    let link = dir.join("lnk");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(dir.join("a"), &link).unwrap();
    let mut agg = Aggregator::new(1, Stream::default());
    let via_link = format!("{}/lnk/f", dir.display());
    assert_eq!(
        agg.dirs.resolve(named(&via_link).unwrap()),
        format!("{}/a/f", real.display()).into_bytes()
    );
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(dir.join("b"), &link).unwrap();
    // Same batch: the directory is not looked up again.
    assert_eq!(
        agg.dirs.resolve(named(&via_link).unwrap()),
        format!("{}/a/f", real.display()).into_bytes()
    );
    agg.end_batch();
    assert_eq!(
        agg.dirs.resolve(named(&via_link).unwrap()),
        format!("{}/b/f", real.display()).into_bytes()
    );
    // A name in a directory the kernel reported is taken as it is.
    let exact = NamedPath {
        text: format!("{}/lnk/f", dir.display()).into_bytes(),
        dir_exact: true,
    };
    assert_eq!(agg.dirs.resolve(exact), via_link.into_bytes());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_list_counts_what_it_cannot_hold() {
    let mut agg = Aggregator::new(1, Stream::default());
    agg.failed.limit = 2;
    agg.deletes.limit = 1;
    for path in ["/x/a", "/x/b", "/x/a", "/x/c", "/x/d"] {
        agg.path_result(9, 2, -2, named(path), None, 0); // open, ENOENT
    }
    agg.path_result(9, 87, 0, named("/nonexistent-gh/one"), None, 0); // unlink
    agg.path_result(9, 87, 0, named("/nonexistent-gh/two"), None, 0);
    agg.path_result(9, 87, 0, named("/nonexistent-gh/one"), None, 0);
    assert_eq!(
        agg.omitted(),
        vec![("filesystem.deletes", 1), ("filesystem.failed", 2)]
    );
    let failed = agg.take_failed();
    let listed: Vec<(String, u64)> = failed
        .iter()
        .map(|f| {
            (
                f.target.as_ref().map(|t| t.to_string()).unwrap_or_default(),
                f.count,
            )
        })
        .collect();
    // The first distinct entries stay, and keep counting.
    assert_eq!(listed, vec![("/x/a".to_owned(), 2), ("/x/b".to_owned(), 1)]);
    let [_, _, deletes] = agg.take_files();
    assert_eq!(deletes, vec![OsText::from("/nonexistent-gh/one")]);
}

#[test]
fn the_stream_sees_each_new_entry_once_and_nothing_a_full_list_drops() {
    use glasshouse_events::{Event, Limits};
    let (sink, queue) = glasshouse_events::channel("run", Limits::default());
    let mut agg = Aggregator::new(1, Stream::new(Some(sink.clone())));
    agg.deletes.limit = 1;
    agg.path_result(7, 87, 0, named("/nonexistent-gh/a"), None, 0); // unlink
    agg.path_result(8, 87, 0, named("/nonexistent-gh/a"), None, 0); // again: no line
    agg.path_result(7, 87, 0, named("/nonexistent-gh/b"), None, 0); // list full: no line
    agg.path_result(7, 2, -2, named("/x/missing"), None, 0); // open, ENOENT
    agg.path_result(8, 2, -2, named("/x/missing"), None, 0); // counted, no line
    let key = |r: &'static str| (b"127.0.0.1:9".to_vec(), "tcp".to_owned(), r, None);
    agg.attempt(7, key("connected"));
    agg.attempt(8, key("connected")); // another process: a line
    agg.attempt(8, key("connected")); // the same: none
    agg.tcp_pending
        .insert(1, (9, b"127.0.0.1:10".to_vec(), "tcp".to_owned()));
    let attempts = agg.take_attempts(); // settles the pending connect: a line
    sink.close();
    let mut lines = Vec::new();
    while queue.next_batch(&mut lines) {}
    let described: Vec<String> = lines
        .iter()
        .map(|l| match &l.event {
            Event::File(f) => format!("file {} {} {:?}", f.pid, f.path, f.action),
            Event::Failure(f) => {
                format!("failure {} {} {:?} {}", f.pid, f.syscall, f.target, f.error)
            }
            Event::Network(n) => format!("network {} {} {}", n.pid, n.dst, n.result),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        described,
        vec![
            "file 7 /nonexistent-gh/a Delete",
            "failure 7 open Some(\"/x/missing\") ENOENT",
            "network 7 127.0.0.1:9 connected",
            "network 8 127.0.0.1:9 connected",
            "network 9 127.0.0.1:10 attempted",
        ]
    );
    let counts: Vec<(String, u64)> = attempts
        .iter()
        .map(|a| (a.dst.to_string(), a.count))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("127.0.0.1:10".to_owned(), 1),
            ("127.0.0.1:9".to_owned(), 2)
        ]
    );
    assert_eq!(agg.take_failed()[0].count, 2);
}
