//! How lines look on the wire: flat objects with a `type`, lossless text, optional fields
//! left out; and they read back.

use super::*;
use serde_json::json;

fn line(event: Event) -> Line {
    Line {
        run: "0190a0b0-0000-7000-8000-000000000000".into(),
        seq: 7,
        ts_ns: 123,
        event,
    }
}

#[test]
fn an_exec_line_is_one_flat_object() {
    let exec = Exec::new(
        42,
        41,
        OsText::from("/usr/bin/true"),
        vec![OsText::from("true"), OsText::from_bytes(vec![0xff])],
        OsText::from("/tmp"),
    );
    let value = serde_json::to_value(line(Event::Exec(exec))).unwrap();
    assert_eq!(
        value,
        json!({
            "type": "exec", "run": "0190a0b0-0000-7000-8000-000000000000", "seq": 7,
            "ts_ns": 123, "pid": 42, "ppid": 41, "exe": "/usr/bin/true",
            "argv": ["true", {"base64": "/w=="}], "working_dir": "/tmp"
        })
    );
    let back: Line = serde_json::from_value(value).unwrap();
    assert!(matches!(back.event, Event::Exec(ref e) if e.argv[1].as_bytes() == [0xff]));
}

#[test]
fn every_line_type_reads_back() {
    let mut loss = Loss::new(LossSource::Kernel, 3);
    loss.by_hook.insert("tp_btf/sys_exit".into(), 3);
    let events = vec![
        Event::Start(Start::new(vec![OsText::from("sh")], 1, "process")),
        Event::Fork(Fork::new(2, 1)),
        Event::Exit(Exit::from_status(2, 9)),
        Event::Exit(Exit::from_status(2, 3 << 8)),
        Event::File(File::new(2, OsText::from("/etc/passwd"), FileAction::Read)),
        Event::Descriptor(Descriptor::new(
            2,
            OsText::from("/dev/null"),
            "inherited",
            0,
            true,
            false,
        )),
        Event::Network(Network::new(
            2,
            OsText::from("127.0.0.1:1"),
            "tcp",
            "refused",
            Some(111),
        )),
        Event::Failure(Failure::new(2, "openat".into(), None, 2, "ENOENT".into())),
        Event::Truncated(Truncated::new(2, "path", OsText::from("/x"))),
        Event::Loss(loss),
        Event::End(End::default()),
    ];
    for event in events {
        let l = line(event);
        let text = serde_json::to_string(&l).unwrap();
        assert!(!text.contains('\n'));
        let back: Line = serde_json::from_str(&text).unwrap();
        assert_eq!(back, l, "{text}");
    }
}

#[test]
fn exit_lines_decode_the_wait_status() {
    assert_eq!(Exit::from_status(5, 9).signal, Some(9));
    assert_eq!(Exit::from_status(5, 9).exit_code, None);
    assert_eq!(Exit::from_status(5, 3 << 8).exit_code, Some(3));
}
