//! [`Speaker`] through espeak-ng run as a child process.
//!
//! The text goes to the child's stdin (never its command line, where `ps` shows it, nor a
//! log); each `say` kills the utterance in progress and starts a new child. Output goes to
//! the sound card, or — for tests, the demo and kiosks without audio — to one WAV file per
//! utterance in a folder: `NNNN-<lang>.wav`, written as `.part` and renamed once espeak-ng has
//! finished, so a `.wav` there is always complete (an interrupted one is deleted).

use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{Speaker, SpeakerCheck, SpeakerError, SpeechLanguage, MAX_UTTERANCE_BYTES};

/// How long `check` lets espeak-ng synthesise its test word.
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);
/// A WAV of a spoken word is far longer than this (44-byte header + samples).
const MIN_WAV_BYTES: u64 = 1000;
const POLL: Duration = Duration::from_millis(10);

/// Where the speech goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeechOutput {
    SoundCard,
    /// One WAV file per utterance in this folder (created if missing).
    WavDir(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EspeakConfig {
    /// The program; found on `PATH` unless a path is given.
    pub program: PathBuf,
    /// espeak-ng voice names (`espeak-ng --voices`), per language.
    pub voice_ru: String,
    pub voice_en: String,
    /// Words per minute (espeak-ng `-s`, 80 to 450).
    pub rate_wpm: u32,
    /// Amplitude (espeak-ng `-a`, 0 to 200; 100 is normal).
    pub volume: u32,
    pub output: SpeechOutput,
}

impl Default for EspeakConfig {
    fn default() -> Self {
        Self {
            program: PathBuf::from("espeak-ng"),
            voice_ru: "ru".into(),
            voice_en: "en-us".into(),
            rate_wpm: 150,
            volume: 100,
            output: SpeechOutput::SoundCard,
        }
    }
}

impl EspeakConfig {
    pub fn new(voice_ru: &str, voice_en: &str, rate_wpm: u32, volume: u32, output: SpeechOutput) -> Self {
        Self {
            voice_ru: voice_ru.into(),
            voice_en: voice_en.into(),
            rate_wpm,
            volume,
            output,
            ..Self::default()
        }
    }

    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    fn voice(&self, language: SpeechLanguage) -> &str {
        match language {
            SpeechLanguage::Ru => &self.voice_ru,
            SpeechLanguage::En => &self.voice_en,
        }
    }
}

/// True when `bytes` start like a RIFF/WAVE file.
pub fn looks_like_wav(bytes: &[u8]) -> bool {
    bytes.get(0..4) == Some(b"RIFF") && bytes.get(8..12) == Some(b"WAVE")
}

/// The utterance being spoken.
struct Running {
    child: Child,
    /// `.part` file being written, and its final name (WAV output only).
    wav: Option<(PathBuf, PathBuf)>,
}

pub struct EspeakSpeaker {
    config: EspeakConfig,
    current: Option<Running>,
    /// Number of the next WAV file.
    next_seq: u32,
    last_wav: Option<PathBuf>,
}

impl EspeakSpeaker {
    /// Checks espeak-ng runs (and creates the WAV folder); speaks nothing.
    pub fn open(config: EspeakConfig) -> Result<Self, SpeakerError> {
        version(&config.program)?;
        let mut next_seq = 1;
        if let SpeechOutput::WavDir(dir) = &config.output {
            let wav_dir_error = |e: std::io::Error| SpeakerError::WavDir {
                dir: dir.display().to_string(),
                reason: e.to_string(),
            };
            std::fs::create_dir_all(dir).map_err(wav_dir_error)?;
            // Numbering continues after files already there, so nothing is overwritten.
            for entry in std::fs::read_dir(dir).map_err(wav_dir_error)?.flatten() {
                let name = entry.file_name();
                let seq = name.to_str().and_then(|n| n.get(..4)).and_then(|n| n.parse::<u32>().ok());
                if let Some(seq) = seq {
                    next_seq = next_seq.max(seq.saturating_add(1));
                }
            }
        }
        tracing::info!(program = %config.program.display(), output = ?config.output, "espeak-ng speaker ready");
        Ok(Self { config, current: None, next_seq, last_wav: None })
    }

    /// The last complete WAV file written (WAV output only).
    pub fn last_wav(&mut self) -> Option<&Path> {
        self.reap();
        self.last_wav.as_deref()
    }

    /// Waits up to `timeout` for the utterance in progress to end; true when it has.
    pub fn wait(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            self.reap();
            if self.current.is_none() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Notices a finished child: renames its WAV into place.
    fn reap(&mut self) {
        let Some(running) = &mut self.current else {
            return;
        };
        let status = match running.child.try_wait() {
            Ok(None) => return,
            Ok(Some(status)) => Some(status),
            Err(error) => {
                tracing::warn!(%error, "could not wait for espeak-ng");
                None
            }
        };
        let Some(mut running) = self.current.take() else {
            return;
        };
        let stderr = read_stderr(&mut running.child);
        let ok = status.is_some_and(|s| s.success());
        if !ok {
            // espeak-ng's own message names the problem (voice, device); it never repeats the text.
            tracing::warn!(status = ?status, error = %stderr.trim(), "espeak-ng failed");
        }
        if let Some((part, target)) = running.wav {
            let written = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
            if ok && written >= MIN_WAV_BYTES {
                match std::fs::rename(&part, &target) {
                    Ok(()) => self.last_wav = Some(target),
                    Err(error) => tracing::warn!(%error, "could not rename the utterance's WAV file"),
                }
            } else {
                tracing::warn!(bytes = written, "espeak-ng wrote no usable WAV file");
                let _ = std::fs::remove_file(&part);
            }
        }
    }

    fn kill_current(&mut self) {
        self.reap();
        if let Some(mut running) = self.current.take() {
            if let Err(error) = running.child.kill() {
                tracing::debug!(%error, "espeak-ng had already ended");
            }
            let _ = running.child.wait();
            if let Some((part, _)) = running.wav {
                let _ = std::fs::remove_file(part);
            }
            tracing::debug!("utterance interrupted");
        }
    }
}

impl Speaker for EspeakSpeaker {
    fn say(&mut self, text: &str, language: SpeechLanguage) -> Result<(), SpeakerError> {
        if text.len() > MAX_UTTERANCE_BYTES {
            return Err(SpeakerError::TooLong { len: text.len() });
        }
        self.kill_current();
        let c = &self.config;
        let mut command = Command::new(&c.program);
        command
            .args([
                "-v",
                c.voice(language),
                "-s",
                &c.rate_wpm.to_string(),
                "-a",
                &c.volume.to_string(),
                "--stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let wav = match &c.output {
            SpeechOutput::SoundCard => None,
            SpeechOutput::WavDir(dir) => {
                let name = format!("{:04}-{}.wav", self.next_seq, language.code());
                self.next_seq = self.next_seq.saturating_add(1);
                let target = dir.join(name);
                let part = target.with_extension("wav.part");
                command.arg("-w").arg(&part);
                Some((part, target))
            }
        };
        let mut child = command.spawn().map_err(|e| spawn_error(&c.program, &e))?;
        // Short texts fit the pipe's buffer: this write does not wait for the synthesis.
        let written = match child.stdin.take() {
            Some(mut stdin) => stdin.write_all(text.as_bytes()).and_then(|()| stdin.write_all(b"\n")),
            None => Err(std::io::Error::other("no stdin pipe")),
        };
        self.current = Some(Running { child, wav });
        if let Err(error) = written {
            self.kill_current();
            return Err(SpeakerError::Synthesis {
                reason: format!("could not pass the text to espeak-ng: {error}"),
            });
        }
        tracing::debug!(language = language.code(), chars = text.chars().count(), "speaking");
        Ok(())
    }

    fn stop(&mut self) -> Result<(), SpeakerError> {
        self.kill_current();
        Ok(())
    }

    fn is_speaking(&mut self) -> Result<bool, SpeakerError> {
        self.reap();
        Ok(self.current.is_some())
    }

    fn check(&mut self) -> Result<SpeakerCheck, SpeakerError> {
        let c = &self.config;
        let version = version(&c.program)?;
        for (language, word) in [(SpeechLanguage::Ru, "проверка"), (SpeechLanguage::En, "test")] {
            synthesise_test_word(c, language, word)?;
        }
        let output = match &c.output {
            SpeechOutput::WavDir(dir) => {
                let probe = dir.join(".kiosk-write-test");
                std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe)).map_err(|e| {
                    SpeakerError::WavDir { dir: dir.display().to_string(), reason: e.to_string() }
                })?;
                format!("WAV files in {}", dir.display())
            }
            SpeechOutput::SoundCard => format!("sound card {}", sound_card()?),
        };
        Ok(SpeakerCheck {
            summary: format!(
                "{version}; voices {} (ru) and {} (en) synthesise; output: {output}",
                c.voice_ru, c.voice_en
            ),
        })
    }
}

impl Drop for EspeakSpeaker {
    fn drop(&mut self) {
        self.kill_current();
    }
}

fn spawn_error(program: &Path, error: &std::io::Error) -> SpeakerError {
    if error.kind() == ErrorKind::NotFound {
        SpeakerError::NotInstalled { program: program.display().to_string() }
    } else {
        SpeakerError::Spawn { reason: error.to_string() }
    }
}

fn read_stderr(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}

/// `espeak-ng 1.51` from `--version`.
fn version(program: &Path) -> Result<String, SpeakerError> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(program, &e))?;
    if !out.status.success() {
        return Err(SpeakerError::Spawn { reason: format!("`--version` exited with {}", out.status) });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let number = text.split_whitespace().find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()));
    Ok(format!("espeak-ng {}", number.unwrap_or("(unknown version)")))
}

/// Synthesises `word` to a temporary WAV and checks it is one.
fn synthesise_test_word(c: &EspeakConfig, language: SpeechLanguage, word: &str) -> Result<(), SpeakerError> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let file = std::env::temp_dir().join(format!(
        "kiosk-speaker-check-{}-{}.wav",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let voice = c.voice(language);
    let mut child = Command::new(&c.program)
        .args(["-v", voice, "-s", &c.rate_wpm.to_string(), "-a", &c.volume.to_string(), "--stdin", "-w"])
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(&c.program, &e))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(word.as_bytes());
    }
    let deadline = Instant::now() + CHECK_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stderr = read_stderr(&mut child);
    let bytes = std::fs::read(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    let Some(status) = status else {
        return Err(SpeakerError::Synthesis {
            reason: format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
        });
    };
    if stderr.contains("voice does not exist") {
        return Err(SpeakerError::UnknownVoice { voice: voice.to_owned(), language: language.code() });
    }
    if !status.success() {
        return Err(SpeakerError::Synthesis { reason: format!("exit {status}: {}", stderr.trim()) });
    }
    if !looks_like_wav(&bytes) || (bytes.len() as u64) < MIN_WAV_BYTES {
        return Err(SpeakerError::Synthesis {
            reason: format!("the {} test word gave {} bytes, not a WAV file", language.code(), bytes.len()),
        });
    }
    Ok(())
}

/// The first sound card ALSA knows, e.g. `0 [PCH]: HDA-Intel`.
fn sound_card() -> Result<String, SpeakerError> {
    let cards = std::fs::read_to_string("/proc/asound/cards").map_err(|_| SpeakerError::NoSoundCard)?;
    cards
        .lines()
        .map(str::trim)
        .find(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .ok_or(SpeakerError::NoSoundCard)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_speaker(dir: &Path) -> EspeakSpeaker {
        EspeakSpeaker::open(EspeakConfig::new(
            "ru",
            "en-us",
            170,
            100,
            SpeechOutput::WavDir(dir.to_path_buf()),
        ))
        .expect("espeak-ng is installed by scripts/setup")
    }

    #[test]
    fn speaks_russian_and_english_into_wav_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut speaker = wav_speaker(dir.path());
        speaker.say("Приложите паспорт к окну считывателя", SpeechLanguage::Ru).unwrap();
        assert!(speaker.wait(Duration::from_secs(20)), "espeak-ng did not finish");
        let ru = speaker.last_wav().unwrap().to_path_buf();
        assert_eq!(ru.file_name().unwrap(), "0001-ru.wav");
        speaker.say("Place your passport on the reader", SpeechLanguage::En).unwrap();
        assert!(speaker.wait(Duration::from_secs(20)));
        let en = speaker.last_wav().unwrap().to_path_buf();
        assert_eq!(en.file_name().unwrap(), "0002-en.wav");
        for file in [&ru, &en] {
            let bytes = std::fs::read(file).unwrap();
            assert!(looks_like_wav(&bytes), "{}: not RIFF/WAVE", file.display());
            // About a second of 22 kHz 16-bit speech at least.
            assert!(bytes.len() > 30_000, "{}: only {} bytes", file.display(), bytes.len());
        }
        // Longer text, longer audio: the text really reached the synthesiser.
        speaker.say("Раз", SpeechLanguage::Ru).unwrap();
        assert!(speaker.wait(Duration::from_secs(20)));
        let short = std::fs::metadata(speaker.last_wav().unwrap()).unwrap().len();
        assert!(short * 2 < std::fs::metadata(&ru).unwrap().len(), "short {short}");
    }

    #[test]
    fn a_new_utterance_interrupts_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut speaker = wav_speaker(dir.path());
        // Slow speech of a long text takes seconds to synthesise; it is cut off at once.
        let long = "Это очень длинная подсказка, которую никто не дослушает до конца. ".repeat(30);
        speaker.say(&long, SpeechLanguage::Ru).unwrap();
        assert!(speaker.is_speaking().unwrap());
        speaker.say("Стоп", SpeechLanguage::Ru).unwrap();
        assert!(speaker.wait(Duration::from_secs(20)));
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["0002-ru.wav".to_owned()], "the interrupted utterance left a file");
        speaker.say(&long, SpeechLanguage::Ru).unwrap();
        speaker.stop().unwrap();
        assert!(!speaker.is_speaking().unwrap());
        drop(speaker);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn check_reports_version_voices_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut speaker = wav_speaker(dir.path());
        let check = speaker.check().unwrap();
        assert!(check.summary.starts_with("espeak-ng 1."), "{}", check.summary);
        assert!(check.summary.contains("WAV files in"), "{}", check.summary);
    }

    #[test]
    fn unknown_voice_and_missing_program_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            EspeakConfig::new("xx-nonexistent", "en-us", 150, 100, SpeechOutput::WavDir(dir.path().into()));
        let mut speaker = EspeakSpeaker::open(config.clone()).unwrap();
        match speaker.check() {
            Err(SpeakerError::UnknownVoice { voice, language: "ru" }) => assert_eq!(voice, "xx-nonexistent"),
            other => panic!("expected an unknown voice, got {other:?}"),
        }
        let missing = EspeakSpeaker::open(config.with_program("/nonexistent/espeak-ng")).err().unwrap();
        assert!(matches!(missing, SpeakerError::NotInstalled { .. }), "{missing:?}");
        assert!(missing.to_string().contains("install the Debian package espeak-ng"), "{missing}");
    }

    #[test]
    fn text_is_not_on_the_command_line_and_length_is_capped() {
        // A stand-in program records its arguments and stdin.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let script = dir.path().join("fake-espeak");
        std::fs::write(
            &script,
            format!("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'eSpeak NG text-to-speech: 9.9'; exit 0; fi\necho \"ARGS $*\" >> {0}\ncat >> {0}\n", log.display()),
        )
        .unwrap();
        std::process::Command::new("chmod").arg("+x").arg(&script).status().unwrap();
        let mut speaker = EspeakSpeaker::open(EspeakConfig::default().with_program(&script)).unwrap();
        speaker.say("Иванов Иван", SpeechLanguage::Ru).unwrap();
        assert!(speaker.wait(Duration::from_secs(5)));
        let logged = std::fs::read_to_string(&log).unwrap();
        let args = logged.lines().next().unwrap();
        assert_eq!(args, "ARGS -v ru -s 150 -a 100 --stdin");
        assert!(logged.contains("\nИванов Иван\n"), "{logged}");
        let long = "а".repeat(MAX_UTTERANCE_BYTES);
        assert!(matches!(speaker.say(&long, SpeechLanguage::Ru), Err(SpeakerError::TooLong { .. })));
    }
}
