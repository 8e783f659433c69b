//! Speaker: the configured speaker checks it can speak both languages (espeak-ng: the program
//! runs, each voice synthesises a test word, the sound card or WAV folder is there). Nothing
//! is played aloud.

use kiosk_config::SpeakerDriver;
use kiosk_hal::speaker::{SimulatedSpeaker, Speaker};

use crate::app::devices;
use crate::diag::{timed, CheckResult, Context, SimulatedFault};

const ACTION: &str = "install the Debian package espeak-ng, check `speaker.voice_ru` and `speaker.voice_en` against `espeak-ng --voices`, and the sound card (`aplay -l`) or `speaker.wav_dir`; then run `kiosk diag --only speaker`";

pub(super) fn run(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    out.push(timed(|| {
        let opened: Result<Box<dyn Speaker>, String> = match cx.config.speaker.driver {
            SpeakerDriver::Simulator if cx.fault == Some(SimulatedFault::Speaker) => {
                Ok(Box::new(SimulatedSpeaker::faulty("simulated fault: the audio amplifier is not powered")))
            }
            _ => devices::open_speaker(cx.config).map_err(|e| e.to_string()),
        };
        let mut speaker = match opened {
            Ok(speaker) => speaker,
            Err(message) => return CheckResult::fail("speaker.ready", message, ACTION),
        };
        match speaker.check() {
            Ok(check) => CheckResult::ok("speaker.ready", check.summary),
            Err(e) => CheckResult::fail("speaker.ready", e.to_string(), ACTION),
        }
    }));
}
