//! [`Speaker`] that records what it is asked to say, for tests and the demo.

use std::sync::{Arc, Mutex, PoisonError};

use super::{Speaker, SpeakerCheck, SpeakerError, SpeechLanguage, MAX_UTTERANCE_BYTES};

/// One `say`, and whether a later `say` or `stop` cut it off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utterance {
    pub language: SpeechLanguage,
    pub text: String,
    pub interrupted: bool,
}

/// The simulator's transcript; clones share it, so a test keeps one while the session owns
/// the speaker.
#[derive(Debug, Clone, Default)]
pub struct SpeechLog(Arc<Mutex<Vec<Utterance>>>);

impl SpeechLog {
    pub fn utterances(&self) -> Vec<Utterance> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// One line per utterance: `[ru] text` (`[ru, interrupted] text`).
    pub fn transcript(&self) -> String {
        self.utterances()
            .iter()
            .map(|u| {
                let cut = if u.interrupted { ", interrupted" } else { "" };
                format!("[{}{cut}] {}\n", u.language.code(), u.text)
            })
            .collect()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Vec<Utterance>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Speaks instantly and silently: the last utterance counts as "being spoken" until the next
/// `say` or `stop`, which marks it interrupted — as a real speaker would be cut off.
#[derive(Debug, Default)]
pub struct SimulatedSpeaker {
    log: SpeechLog,
    speaking: bool,
    /// When set, `say` and `check` fail with this message (diagnostics' simulated fault).
    fault: Option<String>,
}

impl SimulatedSpeaker {
    pub fn new() -> Self {
        Self::default()
    }

    /// A speaker whose every call fails, e.g. `"audio amplifier not powered"`.
    pub fn faulty(reason: &str) -> Self {
        Self { fault: Some(reason.to_owned()), ..Self::default() }
    }

    pub fn log(&self) -> SpeechLog {
        self.log.clone()
    }

    fn fault(&self) -> Result<(), SpeakerError> {
        match &self.fault {
            Some(reason) => Err(SpeakerError::Faulty(reason.clone())),
            None => Ok(()),
        }
    }

    fn interrupt(&mut self) {
        if self.speaking {
            self.log.with(|all| {
                if let Some(last) = all.last_mut() {
                    last.interrupted = true;
                }
            });
            self.speaking = false;
        }
    }
}

impl Speaker for SimulatedSpeaker {
    fn say(&mut self, text: &str, language: SpeechLanguage) -> Result<(), SpeakerError> {
        self.fault()?;
        if text.len() > MAX_UTTERANCE_BYTES {
            return Err(SpeakerError::TooLong { len: text.len() });
        }
        self.interrupt();
        self.log.with(|all| all.push(Utterance { language, text: text.to_owned(), interrupted: false }));
        self.speaking = true;
        Ok(())
    }

    fn stop(&mut self) -> Result<(), SpeakerError> {
        self.interrupt();
        Ok(())
    }

    fn is_speaking(&mut self) -> Result<bool, SpeakerError> {
        Ok(self.speaking)
    }

    fn check(&mut self) -> Result<SpeakerCheck, SpeakerError> {
        self.fault()?;
        Ok(SpeakerCheck { summary: "simulated speaker (transcript in memory)".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_utterances_and_interruptions() {
        let mut speaker = SimulatedSpeaker::new();
        let log = speaker.log();
        let boxed: &mut dyn Speaker = &mut speaker;
        boxed.say("Здравствуйте", SpeechLanguage::Ru).unwrap();
        boxed.say("Hello", SpeechLanguage::En).unwrap();
        assert!(boxed.is_speaking().unwrap());
        boxed.stop().unwrap();
        assert!(!boxed.is_speaking().unwrap());
        boxed.stop().unwrap();
        assert_eq!(
            log.utterances(),
            vec![
                Utterance {
                    language: SpeechLanguage::Ru, text: "Здравствуйте".into(), interrupted: true
                },
                Utterance { language: SpeechLanguage::En, text: "Hello".into(), interrupted: true },
            ]
        );
        boxed.say("Спасибо", SpeechLanguage::Ru).unwrap();
        assert_eq!(
            log.transcript(),
            "[ru, interrupted] Здравствуйте\n[en, interrupted] Hello\n[ru] Спасибо\n"
        );
    }

    #[test]
    fn a_faulty_speaker_fails_check_and_say() {
        let mut speaker = SimulatedSpeaker::faulty("amplifier off");
        assert!(matches!(speaker.check(), Err(SpeakerError::Faulty(_))));
        assert!(speaker.say("x", SpeechLanguage::En).is_err());
        assert!(speaker.log().utterances().is_empty());
        assert!(SimulatedSpeaker::new().check().is_ok());
    }
}
