//! Runs the real `kiosk` binary the way its users call it.

use std::process::Command;

/// Exit code (-1 when killed by a signal), stdout and stderr of `kiosk ARGS`.
pub fn kiosk(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kiosk")).args(args).output().expect("run kiosk");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
