//! Linux evdev driver (`/dev/input/eventN`): touch panel and keypad.
//!
//! A reader thread does the blocking reads and passes records through a channel, so
//! `next_event` can honour its timeout with `recv_timeout` and no unsafe `poll`.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::evdev_decode::{
    parse_event, AxisRange, DeviceAxes, EventDecoder, Orientation, RawEvent, TouchAxes, ABS_X, ABS_Y, EVENT_SIZE,
};
use super::{Input, InputError, InputEvent};

/// How the touch panel and keypad are read, beyond the device itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvdevOptions {
    /// The keypad's own event node, read beside the touch device.
    pub keypad: Option<PathBuf>,
    /// Take the devices for the kiosk alone (`EVIOCGRAB`), released when the input is dropped.
    pub grab: bool,
    /// Raw ranges of the screen's edges, in place of what the device reports.
    pub calibration_x: Option<AxisRange>,
    pub calibration_y: Option<AxisRange>,
    pub orientation: Orientation,
}

/// A record from one of the nodes (its index), or why that node stopped.
type Record = (usize, Result<RawEvent, String>);

/// One event node being read.
#[derive(Debug)]
struct Node {
    name: String,
    decoder: EventDecoder,
    /// Held while grabbed, to release the grab on drop.
    grabbed: Option<::evdev::Device>,
}

/// Touch panel and keypad events from one evdev device, or a touch panel and a keypad on
/// nodes of their own.
///
/// When dropped, the grabs are released; the reader threads end after their next read (they
/// cannot be interrupted without unsafe code); each holds only its device file.
#[derive(Debug)]
pub struct EvdevInput {
    device: String,
    records: Receiver<Record>,
    nodes: Vec<Node>,
    failed: Option<String>,
}

impl EvdevInput {
    /// Opens the device; touches are scaled to the display from the axis ranges the device
    /// reports (`EVIOCGABS`: QEMU's tablet says 0..=32767, many panels 0..=4095). A file that is
    /// no input device (a recorded stream), or one without touch axes (a keypad), gets
    /// [`TouchAxes::default`].
    pub fn open(path: impl AsRef<Path>, display_width: u32, display_height: u32) -> Result<Self, InputError> {
        Self::open_with(path, display_width, display_height, &EvdevOptions::default())
    }

    /// Opens the touch device (and the keypad's node when `options` names one), calibrated,
    /// turned and grabbed as `options` say.
    pub fn open_with(
        path: impl AsRef<Path>,
        display_width: u32,
        display_height: u32,
        options: &EvdevOptions,
    ) -> Result<Self, InputError> {
        let mut paths = vec![path.as_ref().to_path_buf()];
        paths.extend(options.keypad.clone());
        let (tx, records) = mpsc::channel();
        let mut nodes = Vec::new();
        for (index, path) in paths.iter().enumerate() {
            let name = path.display().to_string();
            let opened = open_node(path, options.grab).map_err(|reason| InputError::Open { device: name.clone(), reason })?;
            let axes = opened.axes.unwrap_or_else(|| DeviceAxes::uniform(TouchAxes::default()));
            let axes = axes.calibrated(options.calibration_x, options.calibration_y);
            tracing::info!(device = %name, ?axes, grabbed = opened.grabbed.is_some(), "evdev node");
            let decoder = checked_decoder(&name, axes, display_width, display_height)?
                .oriented(options.orientation)
                .at(opened.position);
            spawn_reader(opened.file, index, tx.clone(), &name)?;
            nodes.push(Node { name, decoder, grabbed: opened.grabbed });
        }
        let device = nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(" + ");
        tracing::info!(device = %device, display_width, display_height, "evdev input opened");
        Ok(Self { device, records, nodes, failed: None })
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
        let decoder = checked_decoder(&device, axes, display_width, display_height)?;
        let (tx, records) = mpsc::channel();
        spawn_reader(reader, 0, tx, &device)?;
        tracing::info!(device = %device, display_width, display_height, "evdev input opened");
        let node = Node { name: device.clone(), decoder, grabbed: None };
        Ok(Self { device, records, nodes: vec![node], failed: None })
    }

    fn read_error(&self, device: &str, reason: &str) -> InputError {
        InputError::Read {
            device: device.to_owned(),
            reason: format!("{reason}; check the touch panel/keypad cable and restart the kiosk"),
        }
    }
}

impl Drop for EvdevInput {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(device) = node.grabbed.as_mut() {
                match device.ungrab() {
                    Ok(()) => tracing::debug!(device = %node.name, "evdev grab released"),
                    Err(e) => tracing::warn!(device = %node.name, error = %e, "evdev grab could not be released"),
                }
            }
        }
    }
}

/// A decoder for these ranges, or the error naming the empty axis.
fn checked_decoder(device: &str, axes: DeviceAxes, width: u32, height: u32) -> Result<EventDecoder, InputError> {
    axes.validate().map_err(|reason| InputError::Open {
        device: device.to_owned(),
        reason: format!("{reason} (as the device reports it, or `input.x_min`..: check the panel with `evtest`)"),
    })?;
    Ok(EventDecoder::with_axes(axes, width, height))
}

fn spawn_reader(reader: impl Read + Send + 'static, index: usize, tx: Sender<Record>, device: &str) -> Result<(), InputError> {
    std::thread::Builder::new()
        .name("evdev-reader".into())
        .spawn(move || read_records(reader, index, &tx))
        .map(drop)
        .map_err(|e| InputError::Open { device: device.to_owned(), reason: format!("reader thread: {e}") })
}

/// An event node opened for reading.
struct OpenedNode {
    file: File,
    /// The touch axis ranges (`EVIOCGABS` for each axis it has); `None` when it has no touch
    /// axis (a keypad) or is no input device at all (a recorded stream in a file).
    axes: Option<DeviceAxes>,
    /// Where the pointer (ABS_X, ABS_Y) is as the node is opened.
    position: (Option<i32>, Option<i32>),
    /// The device, when it is grabbed.
    grabbed: Option<::evdev::Device>,
}

/// Opens an event node, reads its axis ranges and grabs it when asked. A grab another program
/// holds is logged, not fatal: the kiosk still reads the device.
fn open_node(path: &Path, grab: bool) -> Result<OpenedNode, String> {
    let mut device = match ::evdev::Device::open(path) {
        Ok(device) => device,
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ENOTTY as i32) => {
            let file = File::open(path).map_err(|e| format!("{e}; check the file exists"))?;
            return Ok(OpenedNode { file, axes: None, position: (None, None), grabbed: None });
        }
        Err(e) => return Err(format!("{e}; check the device exists and this user is in the `input` group")),
    };
    let info: Vec<_> = device.get_absinfo().map_err(|e| format!("reading its axis ranges (EVIOCGABS): {e}"))?.collect();
    let axes = DeviceAxes::from_absinfo(info.iter().map(|(code, abs)| (code.0, abs.minimum(), abs.maximum())));
    let value = |axis: u16| info.iter().find(|(code, _)| code.0 == axis).map(|(_, abs)| abs.value());
    let position = (value(ABS_X), value(ABS_Y));
    // The reader thread reads a duplicate of the descriptor; the grab belongs to the open
    // file both share.
    let file = device
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .map_err(|e| format!("duplicating its descriptor: {e}"))?;
    let grabbed = if grab {
        match device.grab() {
            Ok(()) => Some(device),
            Err(e) => {
                tracing::warn!(device = %path.display(), error = %e, "evdev grab refused (another program holds it); reading it shared");
                None
            }
        }
    } else {
        None
    };
    Ok(OpenedNode { file, axes, position, grabbed })
}

/// Blocking loop of the reader thread; ends on error, end of stream or a dropped receiver.
fn read_records(mut reader: impl Read, index: usize, tx: &Sender<Record>) {
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
        if tx.send((index, outcome)).is_err() || stop {
            return;
        }
    }
}

impl Input for EvdevInput {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<InputEvent>, InputError> {
        if let Some(reason) = &self.failed {
            return Err(self.read_error(&self.device, reason));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.records.recv_timeout(left) {
                Ok((index, Ok(raw))) => {
                    // Each node has its own decoder: a keypad's reports never split a touch.
                    if let Some(event) = self.nodes.get_mut(index).and_then(|n| n.decoder.feed(raw)) {
                        return Ok(Some(event));
                    }
                }
                Ok((index, Err(reason))) => {
                    let device = self.nodes.get(index).map_or(self.device.clone(), |n| n.name.clone());
                    tracing::warn!(device = %device, %reason, "input device failed");
                    let err = self.read_error(&device, &reason);
                    self.failed = Some(format!("{device}: {reason}"));
                    return Err(err);
                }
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => {
                    self.failed = Some("reader thread ended".to_owned());
                    return Err(self.read_error(&self.device, "reader thread ended"));
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

    /// A named pipe at `dir/name` that gives `records` and then stays open, silent, as a
    /// device does, until the returned sender is dropped.
    fn live_node(dir: &Path, name: &str, records: Vec<[u8; EVENT_SIZE]>) -> (PathBuf, mpsc::Sender<()>) {
        let path = dir.join(name);
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let (keep_open, until) = mpsc::channel::<()>();
        let fifo = path.clone();
        std::thread::spawn(move || {
            let mut writer = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            std::io::Write::write_all(&mut writer, &records.concat()).unwrap();
            let _ = until.recv();
        });
        (path, keep_open)
    }

    #[test]
    fn a_keypad_on_its_own_node_and_a_turned_panel() {
        let dir = tempfile::tempdir().unwrap();
        // The touch node taps the top-left corner; the keypad's node sends Enter and 0.
        let (touch, _touch_open) = live_node(dir.path(), "touch", tap(0, 0));
        let mut keys = key(28);
        keys.extend(key(11));
        let (keypad, _keypad_open) = live_node(dir.path(), "keypad", keys);
        let options = EvdevOptions {
            keypad: Some(keypad),
            grab: true,
            calibration_x: None,
            calibration_y: None,
            orientation: Orientation { rotate: super::super::Rotation::Clockwise90, ..Orientation::default() },
        };
        let mut input = EvdevInput::open_with(&touch, 800, 480, &options).unwrap();
        assert_eq!(input.device, format!("{} + {}", touch.display(), dir.path().join("keypad").display()));
        let mut seen = Vec::new();
        while let Some(event) = input.next_event(Duration::from_millis(500)).unwrap() {
            seen.push(event);
        }
        // Each node's events in its own order; the two interleave as they come.
        let keys: Vec<_> = seen.iter().filter(|e| matches!(e, InputEvent::Key(_))).copied().collect();
        assert_eq!(keys, [InputEvent::Key(Key::Enter), InputEvent::Key(Key::Digit(0))], "{seen:?}");
        let touches: Vec<_> = seen.iter().filter(|e| matches!(e, InputEvent::Touch { .. })).copied().collect();
        assert_eq!(touches, [InputEvent::Touch { x: 799, y: 0 }], "the top-left corner turned clockwise: {seen:?}");
    }

    #[test]
    fn bad_nodes_and_calibration_are_open_errors() {
        let touch = write_stream(&tap(0, 0), &[]);
        // A missing keypad node is an open error naming it.
        let options = EvdevOptions { keypad: Some("/nonexistent/kbd".into()), ..EvdevOptions::default() };
        let err = EvdevInput::open_with(touch.path(), 800, 480, &options).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/kbd"), "{err}");
        // An empty calibrated range is refused with the key to fix.
        let options = EvdevOptions { calibration_x: Some(AxisRange { min: 9, max: 9 }), ..EvdevOptions::default() };
        let err = EvdevInput::open_with(touch.path(), 800, 480, &options).unwrap_err().to_string();
        assert!(err.contains("x axis") && err.contains("input.x_min"), "{err}");
    }

    #[test]
    fn missing_device_names_the_fix() {
        let err = EvdevInput::open("/nonexistent/event9", 800, 480).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/event9") && err.contains("input"), "{err}");
        let _ = record(0, 0, 0);
    }
}
