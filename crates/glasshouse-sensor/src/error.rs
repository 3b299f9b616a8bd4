//! The errors of starting the sensor.

use crate::OBJECT_NAME;
use std::path::PathBuf;

/// Errors starting the sensor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SensorError {
    /// The kernel exposes no BTF, which CO-RE programs need.
    #[error("the kernel has no BTF (/sys/kernel/btf/vmlinux is missing): the eBPF sensor needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf,
    /// `GLASSHOUSE_BPF_DIR` names a directory without a readable object.
    #[error("cannot read {path}: {source} (GLASSHOUSE_BPF_DIR must name a directory holding {OBJECT_NAME}; unset it to use the built-in object)")]
    Object {
        /// The object's path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `GLASSHOUSE_CAPTURE_ARGV` has a value glasshouse does not know.
    #[error("GLASSHOUSE_CAPTURE_ARGV={0:?} is not understood: use 0, 1 or force")]
    BadArgvSetting(String),
    /// `GLASSHOUSE_KEEP_PROGRAMS` has a value glasshouse does not know.
    #[error("GLASSHOUSE_KEEP_PROGRAMS={0:?} is not understood: use 1 (keep loaded programs for later runs, the default) or 0")]
    BadKeepSetting(String),
    /// The kernel refused to load the object.
    #[error("the kernel refused the eBPF sensor: {0}")]
    Load(String),
    /// The kernel refused for lack of privileges.
    #[error("not allowed to load the eBPF sensor ({0}): run as root (or with CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE), or drop --profile")]
    NotPermitted(String),
    /// Not one hook could be attached.
    #[error("no eBPF hook could be attached: {0}")]
    NoHooks(String),
    /// The kernel is older than the sensor's minimum: it lacks a feature the programs need.
    #[error("this kernel lacks {0}, which the eBPF sensor needs: it runs on Linux 5.17 or newer built with BTF (see Requirements in the README)")]
    Unsupported(String),
}
