//! How the sensor is started: the environment variables that tune it, read once.

use crate::SensorError;
use std::path::PathBuf;

/// `GLASSHOUSE_CAPTURE_ARGV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgvSetting {
    /// Unset: on where it works (native Linux), off on WSL.
    Default,
    /// `0`: never.
    Off,
    /// `1`: on; on WSL it stays off with a note.
    On,
    /// `force`: on, even on WSL.
    Force,
}

impl ArgvSetting {
    /// Parses the variable's value.
    pub fn parse(value: Option<&str>) -> Result<Self, SensorError> {
        match value.map(str::trim) {
            None | Some("") => Ok(Self::Default),
            Some("0") | Some("off") | Some("false") => Ok(Self::Off),
            Some("1") | Some("on") | Some("true") => Ok(Self::On),
            Some("force") => Ok(Self::Force),
            Some(other) => Err(SensorError::BadArgvSetting(other.to_owned())),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Off => "0",
            Self::On => "1",
            Self::Force => "force",
        }
    }

    /// Whether argv is captured on this kernel, and the note explaining a refusal.
    pub(crate) fn decide(self, wsl: bool) -> (bool, Option<String>) {
        match (self, wsl) {
            (Self::Off, _) => (false, Some("argv capture turned off by GLASSHOUSE_CAPTURE_ARGV=0".into())),
            (Self::Force, _) | (Self::Default | Self::On, false) => (true, None),
            (Self::Default | Self::On, true) => (
                false,
                Some("argv capture skipped on WSL (its verifier may refuse it); GLASSHOUSE_CAPTURE_ARGV=force forces it".into()),
            ),
        }
    }
}

/// How to start the sensor.
#[derive(Debug, Clone)]
pub struct SensorOptions {
    /// Where to load the object from (`GLASSHOUSE_BPF_DIR`); the built-in object when `None`.
    pub bpf_dir: Option<PathBuf>,
    /// `GLASSHOUSE_CAPTURE_ARGV`.
    pub argv: ArgvSetting,
    /// Whether loaded programs are kept for later runs (`GLASSHOUSE_KEEP_PROGRAMS`, on unless
    /// `0`).
    pub keep_programs: bool,
    /// Bytes added to the offset at which opened files' `f_path` is read: a deliberately wrong
    /// offset, for the test that proves the self-check catches one. Always 0 otherwise; a
    /// non-zero value is never kept for later runs.
    #[doc(hidden)]
    pub fault_f_path: u32,
    /// BTF to choose programs and check the minimum by, instead of the running kernel's: for
    /// the test that proves a kernel below the minimum is refused. Always `None` otherwise.
    #[doc(hidden)]
    pub kernel_btf: Option<PathBuf>,
}

impl SensorOptions {
    /// Options from `GLASSHOUSE_BPF_DIR`, `GLASSHOUSE_CAPTURE_ARGV` and
    /// `GLASSHOUSE_KEEP_PROGRAMS`.
    pub fn from_env() -> Result<Self, SensorError> {
        let argv = std::env::var("GLASSHOUSE_CAPTURE_ARGV").ok();
        let keep = std::env::var("GLASSHOUSE_KEEP_PROGRAMS").ok();
        Ok(Self {
            bpf_dir: std::env::var_os("GLASSHOUSE_BPF_DIR").map(PathBuf::from),
            argv: ArgvSetting::parse(argv.as_deref())?,
            keep_programs: parse_keep_programs(keep.as_deref())?,
            fault_f_path: 0,
            kernel_btf: None,
        })
    }
}

/// `GLASSHOUSE_KEEP_PROGRAMS`: unset or `1` keeps loaded programs for later runs, `0` does not.
fn parse_keep_programs(value: Option<&str>) -> Result<bool, SensorError> {
    match value.map(str::trim) {
        None | Some("") | Some("1") | Some("on") | Some("true") => Ok(true),
        Some("0") | Some("off") | Some("false") => Ok(false),
        Some(other) => Err(SensorError::BadKeepSetting(other.to_owned())),
    }
}

pub(crate) fn running_on_wsl() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| {
            let r = r.to_ascii_lowercase();
            r.contains("microsoft") || r.contains("wsl")
        })
        .unwrap_or(false)
}
