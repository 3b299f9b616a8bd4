//! The command's terminal: when glasshouse's stdout or stderr is a terminal, the command gets a
//! pseudo-terminal of glasshouse's in its place (its controlling terminal, in a session of its
//! own), so it still sees a terminal while glasshouse hashes what reaches it.
//!
//! glasshouse opens the pair before the command exists, gives the slave the terminal's settings
//! and window size, and copies the size again on every SIGWINCH. What the command writes is read
//! from the master, hashed and written to glasshouse's own stream. When stdin is a terminal too,
//! glasshouse's terminal is put in raw mode (restored when the run ends, on every path) and what
//! is typed is copied to the master, so that the pty's line discipline (echo, Ctrl-C, Ctrl-Z)
//! acts on it inside the command's session. See docs/terminals.md.

use crate::tee::{Tee, TeeResult};
use glasshouse_backend::{ChildControl, Terminal};
use glasshouse_receipt::OutputHash;
use rustix::io::Errno;
use rustix::termios::{OptionalActions, Termios};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Which of glasshouse's standard streams are terminals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streams {
    /// Standard input.
    pub stdin: bool,
    /// Standard output.
    pub stdout: bool,
    /// Standard error.
    pub stderr: bool,
}

impl Streams {
    /// glasshouse's own streams, as they are now.
    pub fn of_glasshouse() -> Self {
        Self {
            stdin: rustix::termios::isatty(rustix::stdio::stdin()),
            stdout: rustix::termios::isatty(rustix::stdio::stdout()),
            stderr: rustix::termios::isatty(rustix::stdio::stderr()),
        }
    }

    /// Their names, in order, as the receipt lists them.
    pub fn names(self) -> Vec<String> {
        [
            (self.stdin, "stdin"),
            (self.stdout, "stdout"),
            (self.stderr, "stderr"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| name.to_owned())
        .collect()
    }
}

/// A pseudo-terminal opened for the command, before it starts.
pub struct Pty {
    master: OwnedFd,
    slave: Option<OwnedFd>,
    /// glasshouse's terminal, raw from before the command starts (given back when this drops).
    raw: Option<RawMode>,
    /// The streams that go on the pty (the ones that are terminals).
    streams: Streams,
}

impl Pty {
    /// A pty for the command when glasshouse's stdout or stderr is a terminal (none otherwise),
    /// with that terminal's settings and window size; its slave belongs to `owner` when given
    /// (the user the command runs as, who may then reopen it by name).
    pub fn open(streams: Streams, owner: Option<u32>) -> std::io::Result<Option<Self>> {
        use rustix::pty::OpenptFlags;
        if !streams.stdout && !streams.stderr {
            return Ok(None);
        }
        let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
        let master = rustix::pty::openpt(flags)?;
        rustix::pty::grantpt(&master)?;
        rustix::pty::unlockpt(&master)?;
        let slave = match rustix::pty::ioctl_tiocgptpeer(&master, flags) {
            Ok(slave) => slave,
            // Before Linux 4.13: by name.
            Err(_) => {
                let name = rustix::pty::ptsname(&master, Vec::new())?;
                rustix::fs::open(
                    name.as_c_str(),
                    rustix::fs::OFlags::RDWR
                        | rustix::fs::OFlags::NOCTTY
                        | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )?
            }
        };
        if let Some(uid) = owner {
            rustix::fs::fchown(&slave, Some(rustix::fs::Uid::from_raw(uid)), None)?;
        }
        // The command finds the settings it would have found on the terminal itself.
        let settings_from = if streams.stdin { 0 } else { output_fd(streams) };
        if let Ok(termios) = rustix::termios::tcgetattr(std_fd(settings_from)) {
            rustix::termios::tcsetattr(&slave, OptionalActions::Now, &termios)?;
        }
        copy_window_size(std_fd(output_fd(streams)), &master);
        let raw = if streams.stdin {
            Some(RawMode::enter(rustix::stdio::stdin())?)
        } else {
            None
        };
        Ok(Some(Self {
            master,
            slave: Some(slave),
            raw,
            streams,
        }))
    }

    /// Which streams the pty carries.
    pub fn streams(&self) -> Streams {
        self.streams
    }

    /// The slave for the backend (once).
    pub fn terminal(&mut self) -> std::io::Result<Terminal> {
        let slave = self
            .slave
            .take()
            .ok_or_else(|| std::io::Error::other("the pty's slave was given away already"))?;
        Ok(Terminal::new(
            slave,
            self.streams.stdin,
            self.streams.stdout,
            self.streams.stderr,
        ))
    }

    /// The command runs: output is copied and hashed, the window size followed, and when stdin
    /// is a terminal it is made raw and copied in. What could not be done is said in the notes
    /// [`Running::finish`] returns.
    pub fn start(self, command: ChildControl, algorithm: OutputHash) -> Running {
        // Only the command may hold the slave now: its last close ends the output.
        drop(self.slave);
        let master = Arc::new(self.master);
        let out = std_fd(output_fd(self.streams));
        let output = Tee::start_copied(Arc::clone(&master), out, algorithm);
        let mut notes = Vec::new();
        let winch = Winch::start(out, Arc::clone(&master))
            .map_err(|e| notes.push(format!("the terminal's window size was not followed: {e}")))
            .ok();
        let input = if let Some(raw) = self.raw {
            Input::start(raw, Arc::clone(&master), command, out)
                .map_err(|e| {
                    notes.push(format!(
                        "what was typed on the terminal was not passed to the command: {e}"
                    ))
                })
                .ok()
        } else {
            None
        };
        Running {
            output: Some(output),
            winch,
            input,
            notes,
        }
    }
}

/// 1 when stdout is on the pty, else 2.
fn output_fd(streams: Streams) -> i32 {
    if streams.stdout {
        1
    } else {
        2
    }
}

fn std_fd(fd: i32) -> BorrowedFd<'static> {
    match fd {
        0 => rustix::stdio::stdin(),
        1 => rustix::stdio::stdout(),
        _ => rustix::stdio::stderr(),
    }
}

/// The window size of `from` given to the pty (the kernel then signals SIGWINCH to the pty's
/// foreground process group when it changed).
fn copy_window_size(from: impl AsFd, master: &impl AsFd) {
    if let Ok(size) = rustix::termios::tcgetwinsize(from) {
        let _ = rustix::termios::tcsetwinsize(master, size);
    }
}

/// The pty at work while the command runs.
pub struct Running {
    output: Option<Tee>,
    winch: Option<Winch>,
    input: Option<Input>,
    notes: Vec<String>,
}

impl Running {
    /// Waits up to `deadline` for the output to end (the last slave closed), then stops
    /// following the window and the input, and gives the terminal back its settings. Returns
    /// what passed and the notes for the receipt.
    pub fn finish(mut self, deadline: Duration) -> (Option<TeeResult>, Vec<String>) {
        let result = self.output.take().map(|t| t.finish(deadline));
        self.stop();
        (result, std::mem::take(&mut self.notes))
    }

    fn stop(&mut self) {
        if let Some(winch) = self.winch.take() {
            winch.stop();
        }
        // Dropping the input restores the terminal's settings.
        self.input = None;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Follows SIGWINCH: each one copies glasshouse's terminal's size to the pty.
struct Winch {
    handle: signal_hook::iterator::Handle,
    thread: std::thread::JoinHandle<()>,
}

impl Winch {
    fn start(terminal: BorrowedFd<'static>, master: Arc<OwnedFd>) -> std::io::Result<Self> {
        let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGWINCH])?;
        let handle = signals.handle();
        let thread = std::thread::spawn(move || {
            for _ in signals.forever() {
                copy_window_size(terminal, &master);
            }
        });
        Ok(Self { handle, thread })
    }

    fn stop(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}

/// glasshouse's terminal in raw mode, what is typed on it copied to the pty, and the command's
/// stops followed (job control).
struct Input {
    raw: Arc<Mutex<RawMode>>,
    /// Closing it wakes the copying thread, which then ends.
    stop: Option<OwnedFd>,
    /// Set at the end: the stop-following thread ends.
    ended: Arc<AtomicBool>,
}

impl Input {
    /// On error `raw` is dropped, which gives the terminal its settings back.
    fn start(
        raw: RawMode,
        master: Arc<OwnedFd>,
        command: ChildControl,
        terminal: BorrowedFd<'static>,
    ) -> std::io::Result<Self> {
        let (stop_r, stop_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let raw = Arc::new(Mutex::new(raw));
        let ended = Arc::new(AtomicBool::new(false));
        // Neither thread is joined: a write into a pty nobody reads can block, and both end
        // with the process at the latest. They do nothing once `stop` is closed and `ended` set.
        {
            let master = Arc::clone(&master);
            std::thread::spawn(move || copy_input(&master, &stop_r));
        }
        {
            let (raw, ended) = (Arc::clone(&raw), Arc::clone(&ended));
            std::thread::spawn(move || follow_stops(&command, &raw, &master, terminal, &ended));
        }
        Ok(Self {
            raw,
            stop: Some(stop_w),
            ended,
        })
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.stop = None;
        self.ended.store(true, Ordering::SeqCst);
        locked(&self.raw).finish();
    }
}

fn locked(raw: &Mutex<RawMode>) -> MutexGuard<'_, RawMode> {
    raw.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How often the command is checked for a stop (Ctrl-Z typed reaches it, not glasshouse).
const STOP_POLL: Duration = Duration::from_millis(50);

/// When the command stops (Ctrl-Z on its terminal), glasshouse gives its terminal back its
/// settings and stops itself too, so that the shell that started it regains the terminal;
/// once continued (`fg`), it makes the terminal raw again, passes on the window size and
/// continues the command's group. In a process group the kernel does not stop (an orphaned
/// one, with no shell to continue it), glasshouse leaves the stopped command alone.
fn follow_stops(
    command: &ChildControl,
    raw: &Mutex<RawMode>,
    master: &OwnedFd,
    terminal: BorrowedFd<'static>,
    ended: &AtomicBool,
) {
    use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
    let (Some(pidfd), Some(group)) = (command.pidfd(), Pid::from_raw(command.pid() as i32)) else {
        return;
    };
    while !ended.load(Ordering::SeqCst) {
        let options = WaitIdOptions::STOPPED | WaitIdOptions::NOHANG;
        match rustix::process::waitid(WaitId::PidFd(pidfd), options) {
            // Where no shell could continue glasshouse, the kernel would not stop it either:
            // the command stays stopped until someone continues it, as without glasshouse.
            Ok(Some(status)) if status.stopped() && shell_can_continue_us() => {
                locked(raw).restore();
                stop_glasshouse();
                // Here once glasshouse runs again.
                if ended.load(Ordering::SeqCst) {
                    return;
                }
                locked(raw).reenter();
                copy_window_size(terminal, master);
                let _ = rustix::process::kill_process_group(group, Signal::CONT);
            }
            Ok(_) => {}
            // Reaped: nothing left to follow.
            Err(_) => return,
        }
        std::thread::sleep(STOP_POLL);
    }
}

/// Copies glasshouse's stdin to the pty until stdin ends or `stop` is closed.
fn copy_input(master: &OwnedFd, stop: &OwnedFd) {
    use rustix::event::{PollFd, PollFlags};
    let stdin = rustix::stdio::stdin();
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [
            PollFd::new(&stdin, PollFlags::IN),
            PollFd::new(stop, PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(_) => return,
        }
        if !fds[1].revents().is_empty() {
            return;
        }
        if fds[0].revents().is_empty() {
            continue;
        }
        match rustix::io::read(stdin, &mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if crate::tee::write_all(master, &buf[..n]).is_err() {
                    return;
                }
            }
            Err(Errno::INTR | Errno::AGAIN) => {}
            Err(_) => return,
        }
    }
}

/// Stops glasshouse, and returns once it has been continued: SIGSTOP (glasshouse catches
/// SIGTSTP, to stop a command without a pty with it) raised on the calling thread, so that the
/// stop happens before this returns, not later on whichever thread the kernel picks.
pub(crate) fn stop_glasshouse() {
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
}

/// Whether glasshouse's process group is not orphaned: its parent (the shell, in practice) is in
/// the same session but another group, so a stop of glasshouse is seen and can be undone with
/// `fg`. The kernel does not stop an orphaned group with SIGTSTP.
pub(crate) fn shell_can_continue_us() -> bool {
    use rustix::process::{getpgid, getpgrp, getppid, getsid};
    let Some(parent) = getppid() else {
        return false;
    };
    match (getpgid(Some(parent)), getsid(Some(parent)), getsid(None)) {
        (Ok(group), Ok(session), Ok(ours)) => group != getpgrp() && session == ours,
        _ => false,
    }
}

/// A terminal's settings while it is raw, and the settings to give back.
struct RawMode {
    fd: OwnedFd,
    saved: Termios,
    raw: Termios,
    /// The raw settings are in force.
    active: bool,
    /// The run is over: never raw again.
    finished: bool,
}

impl RawMode {
    fn enter(fd: BorrowedFd<'_>) -> std::io::Result<Self> {
        let fd = fd.try_clone_to_owned()?;
        let saved = rustix::termios::tcgetattr(&fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(&fd, OptionalActions::Now, &raw)?;
        Ok(Self {
            fd,
            saved,
            raw,
            active: true,
            finished: false,
        })
    }

    /// The terminal's own settings again.
    fn restore(&mut self) {
        if self.active {
            let _ = rustix::termios::tcsetattr(&self.fd, OptionalActions::Now, &self.saved);
            self.active = false;
        }
    }

    /// Raw again, unless the run is over.
    fn reenter(&mut self) {
        if !self.active && !self.finished {
            let _ = rustix::termios::tcsetattr(&self.fd, OptionalActions::Now, &self.raw);
            self.active = true;
        }
    }

    /// The terminal's own settings, for good.
    fn finish(&mut self) {
        self.restore();
        self.finished = true;
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.finish();
    }
}
