//! The text console in graphics mode while the kiosk draws on the framebuffer: with the
//! console in text mode its cursor blinks over the picture and kernel messages scroll across it.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::linux_ioctl::{self, KD_GRAPHICS, KD_TEXT};

/// The console switched to graphics mode (`KDSETMODE KD_GRAPHICS`); text mode comes back when
/// it is dropped.
#[derive(Debug)]
pub struct GraphicsConsole {
    tty: File,
    path: String,
}

impl GraphicsConsole {
    /// Switches `tty` (such as `/dev/tty0`, the foreground console) to graphics mode. `Err`
    /// says why it could not, for the log: the kiosk then draws over a text console.
    pub fn enter(tty: &Path) -> Result<Self, String> {
        let path = tty.display().to_string();
        // O_NOCTTY: the service must not make the console its controlling terminal by opening it.
        let file = OpenOptions::new().write(true).custom_flags(nix::libc::O_NOCTTY).open(tty).map_err(|e| {
            format!("{e}; the service user needs write access to {path} (the `tty` group)")
        })?;
        let before = linux_ioctl::console_mode(&file)
            .map_err(|e| format!("{path} is not a virtual console (KDGETMODE: {e})"))?;
        linux_ioctl::set_console_mode(&file, KD_GRAPHICS).map_err(|e| {
            format!("KDSETMODE: {e}; switching the console needs CAP_SYS_TTY_CONFIG or the tty as the service's own")
        })?;
        tracing::info!(tty = %path, was_text = before == KD_TEXT, "console in graphics mode");
        Ok(Self { tty: file, path })
    }

    pub fn tty(&self) -> &str {
        &self.path
    }
}

impl Drop for GraphicsConsole {
    fn drop(&mut self) {
        match linux_ioctl::set_console_mode(&self.tty, KD_TEXT) {
            Ok(()) => tracing::info!(tty = %self.path, "console back in text mode"),
            Err(e) => tracing::warn!(tty = %self.path, error = %e, "the console could not be put back in text mode"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_console_is_a_reason_not_a_panic() {
        let err = GraphicsConsole::enter(Path::new("/nonexistent/tty9")).unwrap_err();
        assert!(err.contains("/nonexistent/tty9") && err.contains("tty"), "{err}");
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = GraphicsConsole::enter(file.path()).unwrap_err();
        assert!(err.contains("not a virtual console"), "{err}");
    }
}
