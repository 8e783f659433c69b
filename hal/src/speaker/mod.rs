//! Speaker: spoken prompts for people with poor sight.
//!
//! [`Speaker::say`] starts an utterance and returns at once; a new `say` (or [`Speaker::stop`])
//! cuts off whatever is still being said, so the kiosk always speaks the current screen. The
//! real driver is [`EspeakSpeaker`] (espeak-ng as a child process, text on its stdin, to the
//! sound card or to one WAV file per utterance); the simulator is [`SimulatedSpeaker`], which
//! keeps a transcript.
//!
//! What is said can hold a person's name: no driver logs it or puts it on a command line.

mod espeak;
#[cfg(feature = "sim")]
mod simulated;

pub use espeak::{EspeakConfig, EspeakSpeaker, SpeechOutput};
#[cfg(feature = "sim")]
pub use simulated::{SimulatedSpeaker, SpeechLog, Utterance};

/// The language of an utterance; each has its own voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpeechLanguage {
    Ru,
    En,
}

impl SpeechLanguage {
    pub fn code(self) -> &'static str {
        match self {
            Self::Ru => "ru",
            Self::En => "en",
        }
    }
}

/// What [`Speaker::check`] found, for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerCheck {
    /// One line for a technician, e.g. `espeak-ng 1.51, voices ru and en-us, sound card`.
    pub summary: String,
}

/// Longest text accepted by one `say`, in bytes (a prompt, not a book).
pub const MAX_UTTERANCE_BYTES: usize = 4096;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpeakerError {
    #[error("{program} not found: install the Debian package espeak-ng (or set the program path)")]
    NotInstalled { program: String },
    #[error("espeak-ng could not be started: {reason}. Check the package espeak-ng is installed and working (`espeak-ng --version`)")]
    Spawn { reason: String },
    #[error("espeak-ng has no voice `{voice}` for {language}: run `espeak-ng --voices` and set `speaker.voice_{language}` to one of them")]
    UnknownVoice { voice: String, language: &'static str },
    #[error("espeak-ng failed ({reason}); run `espeak-ng --version` and check the voice settings")]
    Synthesis { reason: String },
    #[error("the WAV folder {dir} is not usable: {reason}. Create it or fix `speaker.wav_dir`")]
    WavDir { dir: String, reason: String },
    #[error("no sound card found (/proc/asound/cards lists none): connect the speaker's audio device, or set `speaker.wav_dir` to write WAV files instead")]
    NoSoundCard,
    #[error("utterance of {len} bytes is too long (at most {max}); split the prompt", max = MAX_UTTERANCE_BYTES)]
    TooLong { len: usize },
    #[error("the speaker is faulty: {0}")]
    Faulty(String),
}

/// The voice of the kiosk.
pub trait Speaker: Send {
    /// Starts saying `text` in `language` and returns without waiting; whatever was still
    /// being said is cut off first.
    fn say(&mut self, text: &str, language: SpeechLanguage) -> Result<(), SpeakerError>;
    /// Cuts off what is being said (nothing happens when silent).
    fn stop(&mut self) -> Result<(), SpeakerError>;
    /// True while an utterance is still being spoken.
    fn is_speaking(&mut self) -> Result<bool, SpeakerError>;
    /// Checks the speaker can speak every language (diagnostics; may take a second).
    fn check(&mut self) -> Result<SpeakerCheck, SpeakerError>;
}
