//! Speaker: the configured speaker checks it can speak both languages (espeak-ng: the program
//! runs, each voice synthesises a test word, the sound card or WAV folder is there). Nothing
//! is played aloud.

use crate::diag::{timed, CheckResult, Context};

const ACTION: &str = "install the Debian package espeak-ng, check `speaker.voice_ru` and `speaker.voice_en` against `espeak-ng --voices`, and the sound card (`aplay -l`) or `speaker.wav_dir`; then run `kiosk diag --only speaker`";

pub(super) fn run(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    out.push(timed(|| {
        let mut speaker = match crate::wiring::open_speaker(cx.config, &cx.simulation()) {
            Ok(speaker) => speaker,
            Err(e) => return super::open_failed("speaker.ready", &e, ACTION),
        };
        match speaker.check() {
            Ok(check) => CheckResult::ok("speaker.ready", check.summary),
            Err(e) => CheckResult::fail("speaker.ready", e.to_string(), ACTION),
        }
    }));
}
