//! The write stage: the receipt, then each attachment, written atomically; and the check
//! stage's test that the receipt path will take the write.

use crate::{Attachment, RunError};
use glasshouse_receipt::Receipt;
use std::path::{Path, PathBuf};

/// Refuses a receipt path the write stage could not use, before the command runs.
pub(crate) fn check_target(path: &Path) -> Result<(), RunError> {
    glasshouse_receipt::check_writable(path)
        .map_err(|e| RunError::Refused(format!("{e}; choose another --receipt path")))
}

/// The path of an attachment: the receipt's path with `suffix` appended.
pub fn attachment_path(receipt_path: &Path, suffix: &str) -> PathBuf {
    let mut name = receipt_path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes the receipt at `path`, then the attachments next to it.
pub(crate) fn write(
    receipt: &Receipt,
    path: &Path,
    attachments: &[Attachment],
) -> Result<(), RunError> {
    let failed = |e: glasshouse_receipt::ReceiptError| RunError::ReceiptNotWritten {
        message: format!("{e}; the command exited with {}", receipt.exit_code),
        command_status: receipt.exit_code,
    };
    receipt.write_atomic(path).map_err(failed)?;
    for a in attachments {
        glasshouse_receipt::write_atomic(&attachment_path(path, &a.suffix), &a.bytes)
            .map_err(failed)?;
    }
    Ok(())
}
