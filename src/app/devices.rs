//! The speaker and the receipt printer, built from the configuration (`[speaker]`,
//! `[printer]`). The `_with_log` forms also hand back the simulator's record of what was said
//! or printed (for the demo and tests); with real drivers it is `None`.

use kiosk_config::{Config, PrinterDriver, SpeakerDriver};
use kiosk_hal::printer::sim::{PrintLog, PrinterSimConfig, SimulatedPrinter};
use kiosk_hal::printer::EscPosPrinter;
use kiosk_hal::speaker::{EspeakConfig, EspeakSpeaker, SimulatedSpeaker, SpeechLog, SpeechOutput};
use kiosk_hal::{Printer, Speaker};

use super::AppError;

/// The configured speaker.
pub fn open_speaker(config: &Config) -> Result<Box<dyn Speaker>, AppError> {
    open_speaker_with_log(config).map(|(speaker, _)| speaker)
}

/// The configured speaker, and the transcript when it is the simulator.
pub fn open_speaker_with_log(config: &Config) -> Result<(Box<dyn Speaker>, Option<SpeechLog>), AppError> {
    let s = &config.speaker;
    match s.driver {
        SpeakerDriver::Simulator => {
            let speaker = SimulatedSpeaker::new();
            let log = speaker.log();
            Ok((Box::new(speaker), Some(log)))
        }
        SpeakerDriver::EspeakNg => {
            let output = match s.wav_output() {
                Some(dir) => SpeechOutput::WavDir(dir.to_path_buf()),
                None => SpeechOutput::SoundCard,
            };
            let espeak = EspeakConfig::new(&s.voice_ru, &s.voice_en, s.rate_wpm, s.volume, output);
            Ok((Box::new(EspeakSpeaker::open(espeak)?), None))
        }
    }
}

/// The configured receipt printer; `None` when the kiosk has none (`printer.driver = "none"`).
pub fn open_printer(config: &Config) -> Result<Option<Box<dyn Printer>>, AppError> {
    open_printer_with_log(config).map(|(printer, _)| printer)
}

/// A printer if the kiosk has one, and the simulator's record of what it printed.
pub type PrinterWithLog = (Option<Box<dyn Printer>>, Option<PrintLog>);

/// The configured receipt printer, and what came out of it when it is the simulator.
pub fn open_printer_with_log(config: &Config) -> Result<PrinterWithLog, AppError> {
    let p = &config.printer;
    match p.driver {
        PrinterDriver::None => Ok((None, None)),
        PrinterDriver::Simulator => {
            let printer = SimulatedPrinter::spawn(
                PrinterSimConfig { baud: p.baud, ..PrinterSimConfig::default() },
                p.columns,
            )?;
            let log = printer.log();
            Ok((Some(Box::new(printer)), Some(log)))
        }
        PrinterDriver::Escpos => {
            Ok((Some(Box::new(EscPosPrinter::open(&p.device, p.baud, p.columns)?)), None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_hal::{PrinterStatus, Receipt, SpeechLanguage};

    fn config(site: &str) -> Config {
        kiosk_config::load_str(Some((std::path::Path::new("site.toml"), site))).unwrap()
    }

    #[test]
    fn default_devices_are_the_simulators() {
        let c = config("");
        let (mut speaker, log) = open_speaker_with_log(&c).unwrap();
        speaker.say("Здравствуйте", SpeechLanguage::Ru).unwrap();
        assert_eq!(log.unwrap().transcript(), "[ru] Здравствуйте\n");
        let (printer, log) = open_printer_with_log(&c).unwrap();
        let mut printer = printer.unwrap();
        assert_eq!(printer.status().unwrap(), PrinterStatus::Ready);
        printer.print(&Receipt::new().title("Kiosk").qr("KA1.x.y")).unwrap();
        let receipts = log.unwrap().receipts();
        assert_eq!(receipts[0].lines(), vec!["Kiosk"]);
        assert_eq!(receipts[0].qr_payloads(), vec!["KA1.x.y"]);
    }

    #[test]
    fn no_printer_and_real_drivers() {
        assert!(open_printer(&config("[printer]\ndriver = \"none\"\n")).unwrap().is_none());
        let err = open_printer(&config("[printer]\ndriver = \"escpos\"\ndevice = \"/nonexistent/lp0\"\n"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/lp0"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let site = format!("[speaker]\ndriver = \"espeak-ng\"\nwav_dir = \"{}\"\n", dir.path().display());
        let (mut speaker, log) = open_speaker_with_log(&config(&site)).unwrap();
        assert!(log.is_none());
        assert!(speaker.check().unwrap().summary.contains("WAV files in"));
    }
}
