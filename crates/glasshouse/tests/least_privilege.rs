//! Least privilege (issue 11, item 1): started through sudo, the command runs as the invoking
//! user (uid, group, supplementary groups, HOME/USER/LOGNAME), the receipt records it and
//! belongs to that user; `--user` chooses another; a root command is recorded as able to
//! tamper with the sensor; bad users are refused before anything runs. Real BPF, real users:
//! the tests run as root, set SUDO_UID/SUDO_GID as sudo would, and create the users they need
//! (removed again when the test ends).

mod common;

use common::{glasshouse, read_receipt};
use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

static USERDB: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A user (and a group it is a supplementary member of) created for one test, deleted on drop.
struct TestUser {
    name: String,
    group: String,
    uid: u32,
    gid: u32,
    extra_gid: u32,
    home: PathBuf,
}

fn id_of(args: &[&str]) -> u32 {
    let out = Command::new("id").args(args).output().expect("run id");
    assert!(out.status.success(), "id {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn must(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {out:?}");
}

impl TestUser {
    /// `ghp<pid><tag>`, primary group `nogroup`, member of its own group `ghp<pid><tag>g`,
    /// home `home` (not created).
    fn create(tag: &str, home: &Path) -> Self {
        // One change of the user database at a time (useradd gives up on a locked one).
        let _one_at_a_time = USERDB.lock().unwrap_or_else(|e| e.into_inner());
        let name = format!("ghp{}{tag}", std::process::id());
        let group = format!("{name}g");
        must(Command::new("groupadd").arg(&group));
        let mut user = Self {
            name: name.clone(),
            group: group.clone(),
            uid: 0,
            gid: 65534,
            extra_gid: 0,
            home: home.to_owned(),
        };
        must(
            Command::new("useradd")
                .args([
                    "-M", "-N", "-g", "65534", "-G", &group, "-s", "/bin/sh", "-d",
                ])
                .arg(home)
                .arg(&name),
        );
        user.uid = id_of(&["-u", &name]);
        user.extra_gid = String::from_utf8_lossy(
            &Command::new("getent")
                .args(["group", &group])
                .output()
                .unwrap()
                .stdout,
        )
        .split(':')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
        user
    }

    fn groups(&self) -> Vec<u32> {
        let mut g = vec![self.gid, self.extra_gid];
        g.sort_unstable();
        g
    }

    /// What the command prints for [`WHO`] when it runs as this user with no capability.
    fn who(&self) -> Vec<String> {
        // `id -G`: the group first, then the other groups in the kernel's (sorted) order.
        let others = self.groups().into_iter().filter(|g| *g != self.gid);
        let groups: Vec<String> = std::iter::once(self.gid)
            .chain(others)
            .map(|g| g.to_string())
            .collect();
        let mut lines = vec![
            self.uid.to_string(),
            self.gid.to_string(),
            groups.join(" "),
            format!("{}|{}|{}", self.home.display(), self.name, self.name),
        ];
        lines.extend(
            ["CapInh", "CapPrm", "CapEff", "CapAmb"]
                .iter()
                .map(|c| format!("{c}: 0000000000000000")),
        );
        lines
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _one_at_a_time = USERDB.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("userdel").arg(&self.name).output();
        let _ = Command::new("groupdel").arg(&self.group).output();
    }
}

/// A directory every user may enter and write (the command's working directory).
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// `glasshouse run --profile host --quiet --receipt DIR/receipt.json ARGS -- sh -c SCRIPT` in
/// `dir`, with `sudo` as SUDO_UID/SUDO_GID when given.
fn run(dir: &Path, sudo: Option<(u32, u32)>, args: &[&str], script: &str) -> Output {
    let mut cmd = glasshouse(dir);
    cmd.args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(dir.join("receipt.json"))
        .args(args)
        .args(["--", "sh", "-c", script]);
    if let Some((uid, gid)) = sudo {
        cmd.env("SUDO_UID", uid.to_string())
            .env("SUDO_GID", gid.to_string());
    }
    cmd.output().expect("run glasshouse")
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn owner(path: &Path) -> (u32, u32) {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.uid(), meta.gid())
}

/// The script that prints the command's credentials and environment, one item a line.
const WHO: &str = "id -u; id -g; id -G; echo \"$HOME|$USER|$LOGNAME\"; \
                   grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status | tr -s '\\t' ' '";

#[test]
fn under_sudo_the_command_runs_as_the_invoking_user_and_the_receipt_is_theirs() {
    let dir = open_dir();
    let home = dir.path().join("home");
    let user = TestUser::create("a", &home);
    let key = dir.path().join("ci.key");
    common::keygen(dir.path(), &key);
    let out = run(
        dir.path(),
        Some((user.uid, user.gid)),
        &["--sign-key", key.to_str().unwrap()],
        WHO,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(lines(&out), user.who(), "{out:?}");

    let receipt_path = dir.path().join("receipt.json");
    let r = read_receipt(&receipt_path);
    assert_eq!(
        r["execution"]["user"],
        json!({"uid": user.uid, "gid": user.gid, "groups": user.groups(),
               "name": user.name, "source": "sudo"}),
        "{r:#}"
    );
    assert_eq!(r["environment"]["home"], json!(home.to_str().unwrap()));
    assert_eq!(r["sensor"].get("command_privileged"), None, "{r:#}");
    // Every file glasshouse wrote is the invoking user's, mode 0600.
    let envelope = dir.path().join("receipt.json.intoto.jsonl");
    for path in [&receipt_path, &envelope] {
        assert_eq!(owner(path), (user.uid, user.gid), "{}", path.display());
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

#[test]
fn the_fallback_copy_of_the_receipt_belongs_to_the_invoking_user_too() {
    let dir = open_dir();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let fallback = tempfile::tempdir().unwrap();
    // The command (as nobody) removes the receipt's directory: the write must fall back.
    let out = glasshouse(dir.path())
        .args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(out_dir.join("receipt.json"))
        .args(["--", "rm", "-r"])
        .arg(&out_dir)
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .env("TMPDIR", fallback.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(121), "{out:?}");
    let kept: Vec<PathBuf> = std::fs::read_dir(fallback.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(owner(&kept[0]), (65534, 65534), "{}", kept[0].display());
    assert_eq!(
        read_receipt(&kept[0])["execution"]["user"]["uid"],
        json!(65534)
    );
}

#[test]
fn user_chooses_another_user_and_the_receipt_still_belongs_to_the_invoking_one() {
    let dir = open_dir();
    let user = TestUser::create("b", Path::new("/nonexistent"));
    let out = run(
        dir.path(),
        Some((65534, 65534)),
        &["--user", &user.name],
        WHO,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let got = lines(&out);
    assert_eq!(got[0], user.uid.to_string(), "{out:?}");
    let r = read_receipt(&dir.path().join("receipt.json"));
    assert_eq!(r["execution"]["user"]["uid"], json!(user.uid));
    assert_eq!(r["execution"]["user"]["groups"], json!(user.groups()));
    assert_eq!(r["execution"]["user"]["source"], json!("--user"));
    assert_eq!(owner(&dir.path().join("receipt.json")), (65534, 65534));
    // A uid works as well as a name.
    let out = run(
        dir.path(),
        None,
        &["--user", &user.uid.to_string()],
        "id -un",
    );
    assert_eq!(lines(&out), vec![user.name.clone()], "{out:?}");
}

#[test]
fn user_root_under_sudo_runs_as_root_and_the_receipt_says_it_could_tamper() {
    let dir = open_dir();
    let out = run(
        dir.path(),
        Some((65534, 65534)),
        &["--user", "root"],
        "id -u",
    );
    assert_eq!(lines(&out), vec!["0".to_owned()], "{out:?}");
    let path = dir.path().join("receipt.json");
    let r = read_receipt(&path);
    assert_eq!(r["execution"]["user"]["uid"], json!(0));
    assert_eq!(r["execution"]["user"]["source"], json!("--user"));
    assert_eq!(r["sensor"]["command_privileged"], json!(true), "{r:#}");
    let notes = r["sensor"]["notes"].to_string();
    assert!(notes.contains("could have tampered"), "{notes}");
    assert_eq!(owner(&path), (65534, 65534));
}

/// Arguments, SUDO_UID and SUDO_GID, what the message must say, whether with --profile host.
type Refusal<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>, &'a str, bool);

#[test]
fn unknown_users_and_bad_sudo_ids_are_refused_before_anything_runs() {
    let dir = open_dir();
    let marker = dir.path().join("ran");
    let script = format!("touch {}", marker.display());
    let cases: [Refusal; 5] = [
        (
            &["--user", "glasshouse-no-such-user"],
            None,
            "no such user",
            true,
        ),
        (
            &["--user", "4000000000"],
            None,
            "no entry in the passwd database",
            true,
        ),
        (
            &[],
            Some(("ada", "0")),
            "SUDO_UID is \"ada\", not a number",
            true,
        ),
        (
            &[],
            Some(("65534", "-1")),
            "SUDO_GID is \"-1\", not a number",
            true,
        ),
        (
            &["--user", "glasshouse-no-such-user"],
            None,
            "no such user",
            false,
        ),
    ];
    for (args, sudo, message, profiled) in cases {
        let mut cmd = glasshouse(dir.path());
        cmd.arg("run");
        if profiled {
            cmd.args(["--profile", "host", "--quiet", "--receipt"])
                .arg(dir.path().join("receipt.json"));
        }
        cmd.args(args).args(["--", "sh", "-c", &script]);
        if let Some((uid, gid)) = sudo {
            cmd.env("SUDO_UID", uid).env("SUDO_GID", gid);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!marker.exists(), "{args:?}: the command ran");
        assert!(!dir.path().join("receipt.json").exists(), "{args:?}");
    }
}

#[test]
fn the_namespace_backend_runs_the_command_as_the_invoking_user() {
    let dir = open_dir();
    let home = dir.path().join("home");
    let user = TestUser::create("n", &home);
    let out = run(
        dir.path(),
        Some((user.uid, user.gid)),
        &["--backend", "namespace"],
        WHO,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(lines(&out), user.who(), "{out:?}");
    let path = dir.path().join("receipt.json");
    let r = read_receipt(&path);
    assert_eq!(r["execution"]["user"]["uid"], json!(user.uid));
    assert_eq!(r["execution"]["user"]["groups"], json!(user.groups()));
    assert_eq!(r["execution"]["user"]["source"], json!("sudo"));
    assert_eq!(owner(&path), (user.uid, user.gid));
}

/// What a command can do to the glasshouse that records it: signal it, open its descriptors
/// (the sensor's BPF maps and programs among them) and read its state directory.
const BLIND: &str = "kill -0 $PPID 2>/dev/null && echo signal=yes || echo signal=no; \
     n=$(ls -l /proc/$PPID/fd 2>/dev/null | grep -c 'anon_inode:bpf'); echo bpf=$n; \
     ls /run/glasshouse >/dev/null 2>&1 && echo state=yes || echo state=no";

fn sensor_of(dir: &Path) -> Value {
    read_receipt(&dir.join("receipt.json"))["sensor"].clone()
}

#[test]
fn a_non_root_command_cannot_reach_its_recorder_and_a_root_one_is_recorded_as_able_to() {
    let dir = open_dir();
    let out = run(dir.path(), Some((65534, 65534)), &[], BLIND);
    assert_eq!(
        lines(&out),
        vec!["signal=no", "bpf=0", "state=no"],
        "{out:?}"
    );
    let sensor = sensor_of(dir.path());
    assert_eq!(sensor.get("command_privileged"), None, "{sensor:#}");
    assert_eq!(sensor["complete"], json!(true), "{sensor:#}");

    // Root started it directly: the command is root, reaches all of it, and the receipt says
    // it could have tampered (it is not marked incomplete for it: see docs/receipt.md).
    let out = run(dir.path(), None, &[], BLIND);
    let got = lines(&out);
    assert_eq!(got[0], "signal=yes", "{out:?}");
    assert_ne!(got[1], "bpf=0", "{out:?}");
    assert_eq!(got[2], "state=yes", "{out:?}");
    let sensor = sensor_of(dir.path());
    assert_eq!(sensor["command_privileged"], json!(true), "{sensor:#}");
    assert!(
        sensor["notes"].to_string().contains("ran as root"),
        "{sensor:#}"
    );
}

#[test]
fn redact_home_hides_the_home_of_the_user_the_command_runs_as() {
    let dir = open_dir();
    let home = dir.path().join("h");
    std::fs::create_dir(&home).unwrap();
    let user = TestUser::create("h", &home);
    std::os::unix::fs::chown(&home, Some(user.uid), Some(user.gid)).unwrap();
    let out = run(
        dir.path(),
        Some((user.uid, user.gid)),
        &["--redact-home"],
        "touch \"$HOME/notes.txt\"",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let r = read_receipt(&dir.path().join("receipt.json"));
    let writes = r["filesystem"]["writes"].to_string();
    assert!(writes.contains("\"~/notes.txt\""), "{writes}");
    assert!(!writes.contains(home.to_str().unwrap()), "{writes}");
}

#[test]
fn capabilities_glasshouse_inherited_do_not_reach_a_command_run_as_the_user() {
    let dir = open_dir();
    // glasshouse started with an inheritable and an ambient capability (CAP_NET_RAW): the
    // kernel does not clear the inheritable set when the uid changes, so the switch must.
    let mut cmd = Command::new("setpriv");
    cmd.args(["--inh-caps", "+net_raw", "--ambient-caps", "+net_raw", "--"])
        .arg(common::BIN)
        .args([
            "run",
            "--",
            "grep",
            "-E",
            "^Cap(Inh|Prm|Eff|Amb)",
            "/proc/self/status",
        ])
        .current_dir(dir.path())
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let caps: Vec<String> = lines(&out)
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        caps,
        [
            "CapInh: 0000000000000000",
            "CapPrm: 0000000000000000",
            "CapEff: 0000000000000000",
            "CapAmb: 0000000000000000"
        ],
        "{out:?}"
    );
}
