//! Linux evdev driver (`/dev/input/eventN`): touch panel and keypad.
//!
//! A reader thread does the blocking reads and passes records through a channel, so
//! `next_event` can honour its timeout with `recv_timeout` and no unsafe `poll`.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::evdev_decode::{parse_event, DeviceAxes, EventDecoder, RawEvent, TouchAxes, EVENT_SIZE};
use super::{Input, InputError, InputEvent};

/// Touch panel and keypad events from one evdev device.
///
/// When dropped, the reader thread ends after its next read (it cannot be interrupted
/// without unsafe code); it holds only the device file.
#[derive(Debug)]
pub struct EvdevInput {
    device: String,
    records: Receiver<Result<RawEvent, String>>,
    decoder: EventDecoder,
    failed: Option<String>,
}

impl EvdevInput {
    /// Opens the device; touches are scaled to the display from the axis ranges the device
    /// reports (`EVIOCGABS`: QEMU's tablet says 0..=32767, many panels 0..=4095). A file that is
    /// no input device (a recorded stream), or one without touch axes (a keypad), gets
    /// [`TouchAxes::default`].
    pub fn open(path: impl AsRef<Path>, display_width: u32, display_height: u32) -> Result<Self, InputError> {
        let device = path.as_ref().display().to_string();
        let axes = match device_axes(path.as_ref()) {
            Ok(Some(axes)) => axes,
            Ok(None) => DeviceAxes::uniform(TouchAxes::default()),
            Err(reason) => return Err(InputError::Open { device, reason }),
        };
        tracing::info!(device = %device, ?axes, "touch axis ranges");
        Self::open_with_device_axes(path, display_width, display_height, axes)
    }

    /// Opens the device; touches are scaled from `axes` to display pixels.
    pub fn open_with_axes(
        path: impl AsRef<Path>,
        display_width: u32,
        display_height: u32,
        axes: TouchAxes,
    ) -> Result<Self, InputError> {
        Self::open_with_device_axes(path, display_width, display_height, DeviceAxes::uniform(axes))
    }

    /// Opens the device with its single- and multi-touch ranges given.
    pub fn open_with_device_axes(
        path: impl AsRef<Path>,
        display_width: u32,
        display_height: u32,
        axes: DeviceAxes,
    ) -> Result<Self, InputError> {
        let device = path.as_ref().display().to_string();
        let file = File::open(path.as_ref()).map_err(|e| InputError::Open {
            device: device.clone(),
            reason: format!("{e}; check the device exists and this user is in the `input` group"),
        })?;
        Self::from_reader_with_axes(file, device, display_width, display_height, axes)
    }

    /// Reads records from any byte source (a recorded stream in tests).
    pub fn from_reader(
        reader: impl Read + Send + 'static,
        device: String,
        display_width: u32,
        display_height: u32,
        axes: TouchAxes,
    ) -> Result<Self, InputError> {
        Self::from_reader_with_axes(reader, device, display_width, display_height, DeviceAxes::uniform(axes))
    }

    fn from_reader_with_axes(
        reader: impl Read + Send + 'static,
        device: String,
        display_width: u32,
        display_height: u32,
        axes: DeviceAxes,
    ) -> Result<Self, InputError> {
        axes.validate().map_err(|reason| InputError::Open {
            device: device.clone(),
            reason: format!("{reason} (as the device reports it: check the panel with `evtest`)"),
        })?;
        let (tx, records) = mpsc::channel();
        std::thread::Builder::new()
            .name("evdev-reader".into())
            .spawn(move || read_records(reader, &tx))
            .map_err(|e| InputError::Open {
                device: device.clone(),
                reason: format!("reader thread: {e}"),
            })?;
        tracing::info!(device = %device, display_width, display_height, "evdev input opened");
        Ok(Self {
            device,
            records,
            decoder: EventDecoder::with_axes(axes, display_width, display_height),
            failed: None,
        })
    }

    fn read_error(&self, reason: &str) -> InputError {
        InputError::Read {
            device: self.device.clone(),
            reason: format!("{reason}; check the touch panel/keypad cable and restart the kiosk"),
        }
    }
}

/// The touch axis ranges of an evdev device (`EVIOCGABS` for each axis it has); `Ok(None)` when
/// it has no touch axis (a keypad) or is no input device at all (a recorded stream in a file).
fn device_axes(path: &Path) -> Result<Option<DeviceAxes>, String> {
    let device = match ::evdev::Device::open(path) {
        Ok(device) => device,
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ENOTTY as i32) => return Ok(None),
        Err(e) => return Err(format!("{e}; check the device exists and this user is in the `input` group")),
    };
    let info = device.get_absinfo().map_err(|e| format!("reading its axis ranges (EVIOCGABS): {e}"))?;
    Ok(DeviceAxes::from_absinfo(info.map(|(code, abs)| (code.0, abs.minimum(), abs.maximum()))))
}

/// Blocking loop of the reader thread; ends on error, end of stream or a dropped receiver.
fn read_records(mut reader: impl Read, tx: &mpsc::Sender<Result<RawEvent, String>>) {
    let mut record = [0u8; EVENT_SIZE];
    loop {
        let outcome = match reader.read_exact(&mut record) {
            Ok(()) => Ok(parse_event(&record)),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                Err("device closed (end of event stream)".to_owned())
            }
            Err(e) => Err(e.to_string()),
        };
        let stop = outcome.is_err();
        if tx.send(outcome).is_err() || stop {
            return;
        }
    }
}

impl Input for EvdevInput {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<InputEvent>, InputError> {
        if let Some(reason) = &self.failed {
            return Err(self.read_error(reason));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.records.recv_timeout(left) {
                Ok(Ok(raw)) => {
                    if let Some(event) = self.decoder.feed(raw) {
                        return Ok(Some(event));
                    }
                }
                Ok(Err(reason)) => {
                    tracing::warn!(device = %self.device, %reason, "input device failed");
                    let err = self.read_error(&reason);
                    self.failed = Some(reason);
                    return Err(err);
                }
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => {
                    self.failed = Some("reader thread ended".to_owned());
                    return Err(self.read_error("reader thread ended"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::evdev_decode::tests::{key, record, tap};
    use super::super::Key;
    use super::*;

    fn write_stream(records: &[[u8; EVENT_SIZE]], extra: &[u8]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut bytes: Vec<u8> = records.iter().flatten().copied().collect();
        bytes.extend_from_slice(extra);
        std::fs::write(file.path(), bytes).unwrap();
        file
    }

    #[test]
    fn reads_a_recorded_stream_from_a_file() {
        let mut stream = tap(1024, 2048);
        stream.extend(key(28));
        stream.extend(key(1));
        let file = write_stream(&stream, &[]);
        let mut input = EvdevInput::open(file.path(), 800, 480).unwrap();
        let t = Duration::from_secs(5);
        assert_eq!(input.next_event(t).unwrap(), Some(InputEvent::Touch { x: 199, y: 239 }));
        assert_eq!(input.next_event(t).unwrap(), Some(InputEvent::Key(Key::Enter)));
        assert_eq!(input.next_event(t).unwrap(), Some(InputEvent::Key(Key::Cancel)));
        let err = input.next_event(t).unwrap_err().to_string();
        assert!(err.contains("end of event stream"), "{err}");
        assert!(input.next_event(t).is_err(), "stays failed");
    }

    #[test]
    fn custom_axes_and_truncated_record() {
        let axes = TouchAxes {
            x: super::super::AxisRange { min: 100, max: 900 },
            y: super::super::AxisRange { min: 100, max: 500 },
        };
        let file = write_stream(&tap(500, 300), &[1, 2, 3]);
        let mut input = EvdevInput::open_with_axes(file.path(), 1280, 800, axes).unwrap();
        let t = Duration::from_secs(5);
        assert_eq!(input.next_event(t).unwrap(), Some(InputEvent::Touch { x: 639, y: 399 }));
        assert!(input.next_event(t).is_err());
    }

    #[test]
    fn times_out_when_nothing_happens() {
        /// A device that blocks until the test ends (its sender is dropped).
        struct Silent(mpsc::Receiver<()>);
        impl Read for Silent {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                let _ = self.0.recv();
                Ok(0)
            }
        }
        let (_keep_open, rx) = mpsc::channel();
        let mut input =
            EvdevInput::from_reader(Silent(rx), "silent".into(), 800, 480, TouchAxes::default()).unwrap();
        let start = Instant::now();
        assert_eq!(input.next_event(Duration::from_millis(50)).unwrap(), None);
        assert!(start.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn missing_device_names_the_fix() {
        let err = EvdevInput::open("/nonexistent/event9", 800, 480).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/event9") && err.contains("input"), "{err}");
        let _ = record(0, 0, 0);
    }
}
