//! One `open_*` per device, from the configuration's `[card_reader]`, `[camera]`, `[display]`,
//! `[input]`, `[speaker]` and `[printer]`. The simulator branches are the `Simulator`,
//! `Replay`, `Memory` and `Scripted` drivers; the [`Simulation`] says how they behave. They
//! exist only in a demo build (feature `demo`); a production build answers a configuration
//! that asks for one with [`OpenError::SimulatorNotBuilt`].

use kiosk_config::{
    CameraDriver, CameraPixelFormat, CameraSection, CardReaderDriver, Config, ControlMode, DisplayDriver, InputDriver,
    PrinterDriver, SpeakerDriver,
};
use kiosk_hal::camera::{CameraDevice, CameraFormat, CameraSettings, Control, VideoCaptureCamera};
use kiosk_hal::card_reader::{ChipInterface, ContactlessCard, ReaderStatus, SerialCardReader};
use kiosk_hal::display::FramebufferDisplay;
use kiosk_hal::input::{AxisRange, EvdevInput, EvdevOptions, Orientation, Rotation};
use kiosk_hal::printer::EscPosPrinter;
use kiosk_hal::speaker::{EspeakConfig, EspeakSpeaker, SpeechOutput};
use kiosk_hal::{Camera, CardReader, CardReaderError, Display, DisplayError, Input, Printer, Speaker};
use embedded_graphics::{pixelcolor::Rgb888, prelude::*};

#[cfg(feature = "demo")]
use {
    super::SimulatedFault,
    kiosk_hal::camera::ReplayCamera,
    kiosk_hal::card_reader::sim::{self, Faults, SimulatorConfig, SimulatorHandle},
    kiosk_hal::display::MemoryDisplay,
    kiosk_hal::input::ScriptedInput,
    kiosk_hal::printer::sim::{PaperLevel, PrintLog, PrinterFaults, PrinterSimConfig, SimulatedPrinter},
    kiosk_hal::speaker::{SimulatedSpeaker, SpeechLog},
    kiosk_hal::{CameraError, Frame, InputError, InputEvent},
    opencv::prelude::*,
    std::path::PathBuf,
    std::time::Duration,
};

use super::{OpenError, Simulation};

/// The error of a production build asked for the simulator `driver` by `key`.
#[cfg(not(feature = "demo"))]
fn not_built(key: &'static str, driver: &'static str) -> OpenError {
    OpenError::SimulatorNotBuilt { key, driver }
}

/// The kiosk's devices, owned by the session while it runs.
pub struct Devices<D> {
    pub reader: Box<dyn CardReader>,
    pub camera: Box<dyn Camera>,
    pub display: D,
    pub input: Box<dyn Input>,
    pub speaker: Box<dyn Speaker>,
    /// `None` when the kiosk has no receipt printer.
    pub printer: Option<Box<dyn Printer>>,
}

/// Every device as configured, in the order a kiosk needs them. Touches are scaled to the
/// display as opened (a framebuffer's own geometry, not `display.width`/`height`).
pub fn open_devices(config: &Config, simulation: &Simulation) -> Result<Devices<AnyDisplay>, OpenError> {
    let reader = Box::new(open_card_reader(config, simulation)?);
    let camera = open_camera(config, simulation)?;
    let display = open_display(config, simulation)?;
    let input = open_input_sized(config, simulation, display.size())?;
    let speaker = open_speaker(config, simulation)?;
    let printer = open_printer(config, simulation)?;
    Ok(Devices { reader, camera, display, input, speaker, printer })
}

/// A card reader on its serial port; when simulated, the simulated device behind the
/// pseudo-terminal lives exactly as long as the reader.
pub struct OpenedReader {
    // Declared first: the driver closes its port before the simulated device stops.
    reader: SerialCardReader,
    port: String,
    #[cfg(feature = "demo")]
    _simulator: Option<SimulatorHandle>,
}

impl OpenedReader {
    /// The serial port (or the simulator's pseudo-terminal) the reader is on.
    pub fn port(&self) -> &str {
        &self.port
    }
}

/// The configured card reader: the serial port, or the simulator holding no document.
pub fn open_card_reader(config: &Config, simulation: &Simulation) -> Result<OpenedReader, OpenError> {
    let c = &config.card_reader;
    match c.driver {
        CardReaderDriver::Serial => open_reader_at(config, &c.port),
        #[cfg(feature = "demo")]
        CardReaderDriver::Simulator => {
            let mut device = SimulatorConfig { retain_bin_count: simulation.retain_bin_count, ..SimulatorConfig::default() };
            if simulation.fault == Some(SimulatedFault::Reader) {
                device.faults = Faults { silent_first_commands: u32::MAX, ..Faults::default() };
            }
            open_simulated_reader(config, device)
        }
        #[cfg(not(feature = "demo"))]
        CardReaderDriver::Simulator => {
            let _ = simulation;
            Err(not_built("card_reader.driver", "simulator"))
        }
    }
}

/// A reader on the given serial port, at the configured speed.
pub fn open_reader_at(config: &Config, port: &str) -> Result<OpenedReader, OpenError> {
    let reader = SerialCardReader::open(port, config.card_reader.baud)?;
    Ok(OpenedReader {
        reader,
        port: port.to_owned(),
        #[cfg(feature = "demo")]
        _simulator: None,
    })
}

/// The card reader simulator holding what `device` says (a passport, a bank card), on a fresh
/// pseudo-terminal at the configured speed, and the reader's driver on it.
#[cfg(feature = "demo")]
pub fn open_simulated_reader(config: &Config, device: SimulatorConfig) -> Result<OpenedReader, OpenError> {
    let baud = config.card_reader.baud;
    let handle = sim::spawn(SimulatorConfig { baud, ..device }).map_err(|e| OpenError::ReaderSimulator(e.to_string()))?;
    let port = handle.port_path().to_owned();
    let reader = SerialCardReader::open(&port, baud)?;
    Ok(OpenedReader { reader, port, _simulator: Some(handle) })
}

impl CardReader for OpenedReader {
    fn initialise(&mut self) -> Result<ReaderStatus, CardReaderError> {
        self.reader.initialise()
    }
    fn status(&mut self) -> Result<ReaderStatus, CardReaderError> {
        self.reader.status()
    }
    fn firmware_version(&mut self) -> Result<String, CardReaderError> {
        self.reader.firmware_version()
    }
    fn retain_bin_count(&mut self) -> Result<u16, CardReaderError> {
        self.reader.retain_bin_count()
    }
    fn scan_mrz(&mut self) -> Result<Vec<String>, CardReaderError> {
        self.reader.scan_mrz()
    }
    fn activate_contactless(&mut self) -> Result<ContactlessCard, CardReaderError> {
        self.reader.activate_contactless()
    }
    fn deactivate_contactless(&mut self) -> Result<(), CardReaderError> {
        self.reader.deactivate_contactless()
    }
    fn power_on_contact(&mut self) -> Result<Vec<u8>, CardReaderError> {
        self.reader.power_on_contact()
    }
    fn power_off_contact(&mut self) -> Result<(), CardReaderError> {
        self.reader.power_off_contact()
    }
    fn transmit(&mut self, interface: ChipInterface, command: &[u8]) -> Result<Vec<u8>, CardReaderError> {
        self.reader.transmit(interface, command)
    }
    fn eject(&mut self) -> Result<(), CardReaderError> {
        self.reader.eject()
    }
    fn retain(&mut self) -> Result<(), CardReaderError> {
        self.reader.retain()
    }
}

/// The configured camera; `replay` plays every picture of `<models.dir>/faces` in name order.
pub fn open_camera(config: &Config, simulation: &Simulation) -> Result<Box<dyn Camera>, OpenError> {
    let c = &config.camera;
    match c.driver {
        CameraDriver::V4l2 => {
            let (device, settings) = camera_settings(c);
            Ok(Box::new(VideoCaptureCamera::open_with(&device, &settings)?))
        }
        #[cfg(feature = "demo")]
        CameraDriver::Replay => open_replay_camera(config, simulation.fault),
        #[cfg(not(feature = "demo"))]
        CameraDriver::Replay => {
            let _ = simulation;
            Err(not_built("camera.driver", "replay"))
        }
    }
}

/// The V4L2 device and what it is asked for, from `[camera]`: a path when one is given, else
/// the index older site files name it by.
pub fn camera_settings(c: &CameraSection) -> (CameraDevice, CameraSettings) {
    let device = if c.device.trim().is_empty() { CameraDevice::Index(c.index) } else { CameraDevice::Path(c.device.clone()) };
    let control = |mode, value: u32| match mode {
        ControlMode::Device => Control::Device,
        ControlMode::Auto => Control::Auto,
        ControlMode::Manual => Control::Manual(f64::from(value)),
    };
    let settings = CameraSettings {
        width: c.width,
        height: c.height,
        format: match c.pixel_format {
            CameraPixelFormat::Device => None,
            CameraPixelFormat::Mjpg => Some(CameraFormat::Mjpg),
            CameraPixelFormat::Yuyv => Some(CameraFormat::Yuyv),
        },
        fps: (c.fps != 0).then_some(c.fps),
        exposure: control(c.exposure_mode, c.exposure),
        focus: control(c.focus_mode, c.focus),
    };
    (device, settings)
}

#[cfg(feature = "demo")]
fn open_replay_camera(config: &Config, fault: Option<SimulatedFault>) -> Result<Box<dyn Camera>, OpenError> {
    if fault == Some(SimulatedFault::Camera) {
        return Err(CameraError::Open {
            device: "replay camera".into(),
            reason: "simulated fault: no camera on the bus".into(),
        }
        .into());
    }
    let faces = config.models.dir.join("faces");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&faces)
        .map_err(|e| CameraError::ReplayImage { path: faces.display().to_string(), reason: e.to_string() })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg" || x == "png"))
        .collect();
    paths.sort();
    let replay = ReplayCamera::from_files(&paths)?;
    if fault == Some(SimulatedFault::CameraDark) {
        return Ok(Box::new(DarkCamera(replay)));
    }
    Ok(Box::new(replay))
}

/// A replayed camera whose lens is covered: every frame almost black.
#[cfg(feature = "demo")]
struct DarkCamera(ReplayCamera);

#[cfg(feature = "demo")]
impl Camera for DarkCamera {
    fn capture(&mut self) -> Result<Frame, CameraError> {
        let frame = self.0.capture()?;
        let mut dark = Mat::default();
        frame
            .image
            .convert_to(&mut dark, -1, 0.02, 0.0)
            .map_err(|e| CameraError::Capture { device: self.describe(), reason: e.to_string() })?;
        Ok(Frame { image: dark, sequence: frame.sequence })
    }

    fn describe(&self) -> String {
        format!("{} (simulated fault: lens covered)", self.0.describe())
    }
}

/// Either display driver, as one type for the session (the memory display in a demo build only).
pub enum AnyDisplay {
    #[cfg(feature = "demo")]
    Memory(MemoryDisplay),
    Framebuffer(FramebufferDisplay),
}

impl OriginDimensions for AnyDisplay {
    fn size(&self) -> Size {
        match self {
            #[cfg(feature = "demo")]
            Self::Memory(d) => d.size(),
            Self::Framebuffer(d) => d.size(),
        }
    }
}

impl DrawTarget for AnyDisplay {
    type Color = Rgb888;
    type Error = DisplayError;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(&mut self, pixels: I) -> Result<(), DisplayError> {
        match self {
            #[cfg(feature = "demo")]
            Self::Memory(d) => d.draw_iter(pixels),
            Self::Framebuffer(d) => d.draw_iter(pixels),
        }
    }
}

impl Display for AnyDisplay {
    fn present(&mut self, screen_id: &str) -> Result<(), DisplayError> {
        match self {
            #[cfg(feature = "demo")]
            Self::Memory(d) => d.present(screen_id),
            Self::Framebuffer(d) => d.present(screen_id),
        }
    }
}

/// The configured display: the framebuffer, or a memory display of the configured size.
pub fn open_display(config: &Config, simulation: &Simulation) -> Result<AnyDisplay, OpenError> {
    let d = &config.display;
    match d.driver {
        DisplayDriver::Framebuffer => Ok(AnyDisplay::Framebuffer(FramebufferDisplay::open(&d.framebuffer, d.console_tty())?)),
        #[cfg(feature = "demo")]
        DisplayDriver::Memory if simulation.fault == Some(SimulatedFault::Display) => Err(DisplayError::Open {
            device: "memory display".into(),
            reason: "simulated fault: no panel connected".into(),
        }
        .into()),
        #[cfg(feature = "demo")]
        DisplayDriver::Memory => Ok(AnyDisplay::Memory(MemoryDisplay::new(d.width, d.height))),
        #[cfg(not(feature = "demo"))]
        DisplayDriver::Memory => {
            let _ = simulation;
            Err(not_built("display.driver", "memory"))
        }
    }
}

/// The configured touch screen and keypad: evdev, or the scripted touches of the simulation.
/// Touches are scaled to `display.width`×`display.height` (`open_devices` scales them to the
/// display it opened).
pub fn open_input(config: &Config, simulation: &Simulation) -> Result<Box<dyn Input>, OpenError> {
    open_input_sized(config, simulation, Size::new(config.display.width, config.display.height))
}

/// The configured input, touches scaled to a screen of `screen` pixels.
pub fn open_input_sized(config: &Config, simulation: &Simulation, screen: Size) -> Result<Box<dyn Input>, OpenError> {
    match config.input.driver {
        InputDriver::Evdev => {
            let options = evdev_options(&config.input);
            Ok(Box::new(EvdevInput::open_with(&config.input.device, screen.width, screen.height, &options)?))
        }
        #[cfg(feature = "demo")]
        InputDriver::Scripted if simulation.fault == Some(SimulatedFault::Input) => Err(InputError::Open {
            device: "scripted input".into(),
            reason: "simulated fault: touch controller not found".into(),
        }
        .into()),
        #[cfg(feature = "demo")]
        InputDriver::Scripted => Ok(scripted_input(simulation.touches.clone())),
        #[cfg(not(feature = "demo"))]
        InputDriver::Scripted => {
            let _ = simulation;
            Err(not_built("input.driver", "scripted"))
        }
    }
}

/// The keypad node, grab, calibration and orientation of `[input]`.
pub fn evdev_options(i: &kiosk_config::InputSection) -> EvdevOptions {
    let range = |r: Option<(i32, i32)>| r.map(|(min, max)| AxisRange { min, max });
    EvdevOptions {
        keypad: i.keypad_device().map(std::path::Path::to_path_buf),
        grab: i.grab,
        calibration_x: range(i.x_calibration()),
        calibration_y: range(i.y_calibration()),
        orientation: Orientation {
            swap_xy: i.swap_xy,
            invert_x: i.invert_x,
            invert_y: i.invert_y,
            // Validated to be 0, 90, 180 or 270.
            rotate: Rotation::from_degrees(i.rotate).unwrap_or_default(),
        },
    }
}

/// Touches and keys in order, then a touch screen nobody touches.
#[cfg(feature = "demo")]
pub fn scripted_input(events: Vec<InputEvent>) -> Box<dyn Input> {
    Box::new(IdleInput(ScriptedInput::new(events)))
}

/// A simulated touch screen out of events waits out the timeout like a real one, so the
/// session loop does not spin.
#[cfg(feature = "demo")]
struct IdleInput(ScriptedInput);

#[cfg(feature = "demo")]
impl Input for IdleInput {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<InputEvent>, InputError> {
        let event = self.0.next_event(timeout)?;
        if event.is_none() {
            std::thread::sleep(timeout);
        }
        Ok(event)
    }
}

/// espeak-ng as `[speaker]` configures it.
fn open_espeak(config: &Config) -> Result<Box<dyn Speaker>, OpenError> {
    let s = &config.speaker;
    let output = match s.wav_output() {
        Some(dir) => SpeechOutput::WavDir(dir.to_path_buf()),
        None => SpeechOutput::SoundCard,
    };
    let espeak = EspeakConfig::new(&s.voice_ru, &s.voice_en, s.rate_wpm, s.volume, output);
    Ok(Box::new(EspeakSpeaker::open(espeak)?))
}

/// The configured speaker.
pub fn open_speaker(config: &Config, simulation: &Simulation) -> Result<Box<dyn Speaker>, OpenError> {
    #[cfg(feature = "demo")]
    return open_speaker_with_log(config, simulation).map(|(speaker, _)| speaker);
    #[cfg(not(feature = "demo"))]
    {
        let _ = simulation;
        match config.speaker.driver {
            SpeakerDriver::EspeakNg => open_espeak(config),
            SpeakerDriver::Simulator => Err(not_built("speaker.driver", "simulator")),
        }
    }
}

/// The configured speaker, and the transcript when it is the simulator.
#[cfg(feature = "demo")]
pub fn open_speaker_with_log(
    config: &Config,
    simulation: &Simulation,
) -> Result<(Box<dyn Speaker>, Option<SpeechLog>), OpenError> {
    match config.speaker.driver {
        SpeakerDriver::Simulator => {
            let speaker = match simulation.fault {
                Some(SimulatedFault::Speaker) => {
                    SimulatedSpeaker::faulty("simulated fault: the audio amplifier is not powered")
                }
                _ => SimulatedSpeaker::new(),
            };
            let log = speaker.log();
            Ok((Box::new(speaker), Some(log)))
        }
        SpeakerDriver::EspeakNg => Ok((open_espeak(config)?, None)),
    }
}

/// The configured receipt printer; `None` when the kiosk has none (`printer.driver = "none"`).
pub fn open_printer(config: &Config, simulation: &Simulation) -> Result<Option<Box<dyn Printer>>, OpenError> {
    #[cfg(feature = "demo")]
    return open_printer_with_log(config, simulation).map(|(printer, _)| printer);
    #[cfg(not(feature = "demo"))]
    {
        let _ = simulation;
        let p = &config.printer;
        match p.driver {
            PrinterDriver::None => Ok(None),
            PrinterDriver::Escpos => Ok(Some(Box::new(EscPosPrinter::open(&p.device, p.baud, p.columns)?))),
            PrinterDriver::Simulator => Err(not_built("printer.driver", "simulator")),
        }
    }
}

/// A printer if the kiosk has one, and the simulator's record of what it printed.
#[cfg(feature = "demo")]
pub type PrinterWithLog = (Option<Box<dyn Printer>>, Option<PrintLog>);

/// The configured receipt printer, and what came out of it when it is the simulator.
#[cfg(feature = "demo")]
pub fn open_printer_with_log(config: &Config, simulation: &Simulation) -> Result<PrinterWithLog, OpenError> {
    let p = &config.printer;
    match p.driver {
        PrinterDriver::None => Ok((None, None)),
        PrinterDriver::Simulator => {
            let faults = printer_faults(simulation.fault);
            let printer = SimulatedPrinter::spawn(PrinterSimConfig { baud: p.baud, faults }, p.columns)?;
            let log = printer.log();
            Ok((Some(Box::new(printer)), Some(log)))
        }
        PrinterDriver::Escpos => Ok((Some(Box::new(EscPosPrinter::open(&p.device, p.baud, p.columns)?)), None)),
    }
}

#[cfg(feature = "demo")]
fn printer_faults(fault: Option<SimulatedFault>) -> PrinterFaults {
    let none = PrinterFaults::default();
    match fault {
        Some(SimulatedFault::PrinterPaperLow) => PrinterFaults { paper: PaperLevel::Low, ..none },
        Some(SimulatedFault::PrinterPaperOut) => PrinterFaults { paper: PaperLevel::Out, ..none },
        Some(SimulatedFault::PrinterCoverOpen) => PrinterFaults { cover_open: true, ..none },
        Some(SimulatedFault::PrinterOffline) => PrinterFaults { silent: true, ..none },
        _ => none,
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
        let (mut speaker, log) = open_speaker_with_log(&c, &Simulation::default()).unwrap();
        speaker.say("Здравствуйте", SpeechLanguage::Ru).unwrap();
        assert_eq!(log.unwrap().transcript(), "[ru] Здравствуйте\n");
        let (printer, log) = open_printer_with_log(&c, &Simulation::default()).unwrap();
        let mut printer = printer.unwrap();
        assert_eq!(printer.status().unwrap(), PrinterStatus::Ready);
        printer.print(&Receipt::new().title("Kiosk").qr("KA1.x.y")).unwrap();
        let receipts = log.unwrap().receipts();
        assert_eq!(receipts[0].lines(), vec!["Kiosk"]);
        assert_eq!(receipts[0].qr_payloads(), vec!["KA1.x.y"]);
    }

    #[test]
    fn no_printer_and_real_drivers() {
        let none = Simulation::default();
        assert!(open_printer(&config("[printer]\ndriver = \"none\"\n"), &none).unwrap().is_none());
        let err = open_printer(&config("[printer]\ndriver = \"escpos\"\ndevice = \"/nonexistent/lp0\"\n"), &none)
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/lp0"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let site = format!("[speaker]\ndriver = \"espeak-ng\"\nwav_dir = \"{}\"\n", dir.path().display());
        let (mut speaker, log) = open_speaker_with_log(&config(&site), &none).unwrap();
        assert!(log.is_none());
        assert!(speaker.check().unwrap().summary.contains("WAV files in"));
    }

    #[test]
    fn the_simulation_makes_each_simulated_device_faulty() {
        let c = config("");
        let fault = |f| Simulation { fault: Some(f), ..Simulation::default() };
        assert!(open_camera(&c, &fault(SimulatedFault::Camera)).err().unwrap().to_string().contains("simulated fault"));
        assert!(open_display(&c, &fault(SimulatedFault::Display)).is_err());
        assert!(open_input(&c, &fault(SimulatedFault::Input)).is_err());
        assert!(open_speaker(&c, &fault(SimulatedFault::Speaker)).unwrap().check().is_err());
        let mut printer = open_printer(&c, &fault(SimulatedFault::PrinterPaperOut)).unwrap().unwrap();
        assert_eq!(printer.status().unwrap(), PrinterStatus::PaperOut);
        // Without a fault the same devices open and work.
        let none = Simulation { retain_bin_count: 3, ..Simulation::default() };
        assert!(open_camera(&c, &none).unwrap().capture().is_ok());
        let mut reader = open_card_reader(&c, &none).unwrap();
        assert_eq!(reader.retain_bin_count().unwrap(), 3);
        assert!(reader.port().starts_with('/'), "{}", reader.port());
    }

    #[test]
    fn touches_are_scaled_to_the_display_as_opened() {
        // A recorded evdev stream (a file: the default 0..=4095 ranges) tapped at the far corner.
        let dir = tempfile::tempdir().unwrap();
        let stream = dir.path().join("event0");
        let rec = |kind: u16, code: u16, value: i32| {
            let mut b = [0u8; kiosk_hal::input::EVENT_SIZE];
            b[16..18].copy_from_slice(&kind.to_ne_bytes());
            b[18..20].copy_from_slice(&code.to_ne_bytes());
            b[20..24].copy_from_slice(&value.to_ne_bytes());
            b
        };
        let tap = [rec(3, 0, 4095), rec(3, 1, 4095), rec(1, 0x14a, 1), rec(0, 0, 0)];
        std::fs::write(&stream, tap.concat()).unwrap();
        let c = config(&format!("[input]\ndriver = \"evdev\"\ndevice = \"{}\"\n", stream.display()));
        let t = Duration::from_secs(5);
        let none = Simulation::default();
        let mut configured = open_input(&c, &none).unwrap();
        assert_eq!(configured.next_event(t).unwrap(), Some(InputEvent::Touch { x: 799, y: 479 }));
        let mut opened = open_input_sized(&c, &none, Size::new(1280, 800)).unwrap();
        assert_eq!(opened.next_event(t).unwrap(), Some(InputEvent::Touch { x: 1279, y: 799 }));
    }

    #[test]
    fn camera_settings_follow_the_site_file() {
        let (device, settings) = camera_settings(&config("").camera);
        assert_eq!(device, CameraDevice::Index(0));
        assert_eq!(settings, CameraSettings::resolution(640, 480), "the defaults ask for the size alone");
        let site = "[camera]\ndevice = \"/dev/v4l/by-id/usb-cam-video-index0\"\npixel_format = \"YUYV\"\nfps = 15\nexposure_mode = \"manual\"\nexposure = 300\nfocus_mode = \"auto\"\n";
        let (device, settings) = camera_settings(&config(site).camera);
        assert_eq!(device, CameraDevice::Path("/dev/v4l/by-id/usb-cam-video-index0".into()));
        assert_eq!(
            settings,
            CameraSettings {
                width: 640,
                height: 480,
                format: Some(CameraFormat::Yuyv),
                fps: Some(15),
                exposure: Control::Manual(300.0),
                focus: Control::Auto
            }
        );
    }

    #[test]
    fn evdev_options_follow_the_site_file() {
        assert_eq!(evdev_options(&config("").input), EvdevOptions { grab: true, ..EvdevOptions::default() });
        let site = "[input]\nkeypad = \"/dev/input/event4\"\ngrab = false\ny_min = 200\ny_max = 3900\ninvert_x = true\nrotate = 180\n";
        let o = evdev_options(&config(site).input);
        assert_eq!(o.keypad.as_deref(), Some(std::path::Path::new("/dev/input/event4")));
        assert!(!o.grab);
        assert_eq!((o.calibration_x, o.calibration_y), (None, Some(AxisRange { min: 200, max: 3900 })));
        assert_eq!(o.orientation, Orientation { invert_x: true, rotate: Rotation::Half, ..Orientation::default() });
    }

    #[test]
    fn scripted_input_gives_its_events_then_waits() {
        let mut input = scripted_input(vec![InputEvent::Touch { x: 1, y: 2 }]);
        assert_eq!(input.next_event(Duration::from_millis(1)).unwrap(), Some(InputEvent::Touch { x: 1, y: 2 }));
        let started = std::time::Instant::now();
        assert_eq!(input.next_event(Duration::from_millis(30)).unwrap(), None);
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
