//! Pure decoding of Linux `struct input_event` records into kiosk input events.

use super::{InputEvent, Key};

/// Size of `struct input_event` on 64-bit Linux: timeval (16) + type (2) + code (2) + value (4).
pub const EVENT_SIZE: usize = 24;

const EV_SYN: u16 = 0x00;
const EV_KEY: u16 = 0x01;
const EV_ABS: u16 = 0x03;
const SYN_REPORT: u16 = 0;
const SYN_DROPPED: u16 = 3;
const ABS_X: u16 = 0x00;
const ABS_Y: u16 = 0x01;
const ABS_MT_POSITION_X: u16 = 0x35;
const ABS_MT_POSITION_Y: u16 = 0x36;
const BTN_LEFT: u16 = 0x110;
const BTN_TOUCH: u16 = 0x14a;

/// One kernel input record without its timestamp (the kiosk does not need it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent {
    pub kind: u16,
    pub code: u16,
    pub value: i32,
}

/// Decodes one record in native byte order. Total: any 24 bytes give some event.
pub fn parse_event(bytes: &[u8; EVENT_SIZE]) -> RawEvent {
    let [_, _, _, _, _, _, _, _, _, _, _, _, _, _, _, _, t0, t1, c0, c1, v0, v1, v2, v3] = *bytes;
    RawEvent {
        kind: u16::from_ne_bytes([t0, t1]),
        code: u16::from_ne_bytes([c0, c1]),
        value: i32::from_ne_bytes([v0, v1, v2, v3]),
    }
}

/// Raw range a touch axis reports (inclusive); read it with `evtest` for a new panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisRange {
    pub min: i32,
    pub max: i32,
}

impl AxisRange {
    /// Maps a raw value onto `0..pixels`, clamped so a touch never lands off-screen.
    fn scale(self, raw: i32, pixels: u32) -> i32 {
        let span = i64::from(self.max) - i64::from(self.min);
        let last = i64::from(pixels.saturating_sub(1));
        if span <= 0 {
            return 0;
        }
        let scaled = (i64::from(raw) - i64::from(self.min)) * last / span;
        // Clamped to 0..=last, which fits in i32 because pixels is a u32 display side.
        i32::try_from(scaled.clamp(0, last)).unwrap_or(0)
    }
}

/// Axis ranges of the touch panel; the default fits the common 12-bit resistive/capacitive
/// controllers (0..=4095 on both axes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TouchAxes {
    pub x: AxisRange,
    pub y: AxisRange,
}

impl Default for TouchAxes {
    fn default() -> Self {
        Self { x: AxisRange { min: 0, max: 4095 }, y: AxisRange { min: 0, max: 4095 } }
    }
}

impl TouchAxes {
    /// `Err` names the empty axis so the installer can fix the configuration.
    pub fn validate(&self) -> Result<(), String> {
        for (name, r) in [("x", self.x), ("y", self.y)] {
            if r.max <= r.min {
                return Err(format!(
                    "touch {name} axis range {}..{} is empty; set max above min",
                    r.min, r.max
                ));
            }
        }
        Ok(())
    }
}

/// State machine from raw records to events. A touch is reported once, at the first
/// SYN_REPORT after the finger lands with a known position: the kiosk reacts at once and
/// a finger resting on the glass does not repeat the press.
#[derive(Debug, Clone)]
pub struct EventDecoder {
    axes: TouchAxes,
    width: u32,
    height: u32,
    x: Option<i32>,
    y: Option<i32>,
    touching: bool,
    reported: bool,
}

impl EventDecoder {
    pub fn new(axes: TouchAxes, width: u32, height: u32) -> Self {
        Self { axes, width, height, x: None, y: None, touching: false, reported: false }
    }

    /// Feeds one record; returns an event when this record completes one.
    pub fn feed(&mut self, ev: RawEvent) -> Option<InputEvent> {
        match (ev.kind, ev.code) {
            (EV_ABS, ABS_X | ABS_MT_POSITION_X) => self.x = Some(ev.value),
            (EV_ABS, ABS_Y | ABS_MT_POSITION_Y) => self.y = Some(ev.value),
            (EV_KEY, BTN_TOUCH | BTN_LEFT) => {
                self.touching = ev.value != 0;
                self.reported = false;
            }
            // Only presses (1); releases (0) and auto-repeat (2) would double the input.
            (EV_KEY, code) if ev.value == 1 => return keypad_key(code).map(InputEvent::Key),
            (EV_SYN, SYN_REPORT) => return self.on_report(),
            // The kernel dropped records: the touch state is unknown, start over.
            (EV_SYN, SYN_DROPPED) => {
                self.touching = false;
                self.reported = false;
            }
            _ => {}
        }
        None
    }

    fn on_report(&mut self) -> Option<InputEvent> {
        if !self.touching || self.reported {
            return None;
        }
        let (x, y) = (self.x?, self.y?);
        self.reported = true;
        Some(InputEvent::Touch { x: self.axes.x.scale(x, self.width), y: self.axes.y.scale(y, self.height) })
    }
}

/// Linux key codes (input-event-codes.h) of the kiosk keypad.
fn keypad_key(code: u16) -> Option<Key> {
    Some(match code {
        28 | 96 => Key::Enter, // KEY_ENTER, KEY_KPENTER
        1 => Key::Cancel,      // KEY_ESC
        14 => Key::Clear,      // KEY_BACKSPACE
        103 => Key::Up,
        108 => Key::Down,
        105 => Key::Left,
        106 => Key::Right,
        2..=10 => Key::Digit((code - 1) as u8), // KEY_1..KEY_9
        11 => Key::Digit(0),
        71..=73 => Key::Digit((code - 64) as u8), // KEY_KP7..KEY_KP9
        75..=77 => Key::Digit((code - 71) as u8), // KEY_KP4..KEY_KP6
        79..=81 => Key::Digit((code - 78) as u8), // KEY_KP1..KEY_KP3
        82 => Key::Digit(0),                      // KEY_KP0
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Encodes a record the way the kernel writes it (zero timestamp).
    pub(crate) fn record(kind: u16, code: u16, value: i32) -> [u8; EVENT_SIZE] {
        let mut b = [0u8; EVENT_SIZE];
        b[16..18].copy_from_slice(&kind.to_ne_bytes());
        b[18..20].copy_from_slice(&code.to_ne_bytes());
        b[20..24].copy_from_slice(&value.to_ne_bytes());
        b
    }

    pub(crate) fn tap(x: i32, y: i32) -> Vec<[u8; EVENT_SIZE]> {
        vec![
            record(EV_ABS, ABS_X, x),
            record(EV_ABS, ABS_Y, y),
            record(EV_KEY, BTN_TOUCH, 1),
            record(EV_SYN, SYN_REPORT, 0),
            record(EV_ABS, ABS_X, x + 3),
            record(EV_SYN, SYN_REPORT, 0),
            record(EV_KEY, BTN_TOUCH, 0),
            record(EV_SYN, SYN_REPORT, 0),
        ]
    }

    pub(crate) fn key(code: u16) -> Vec<[u8; EVENT_SIZE]> {
        vec![
            record(EV_KEY, code, 1),
            record(EV_SYN, SYN_REPORT, 0),
            record(EV_KEY, code, 0),
            record(EV_SYN, SYN_REPORT, 0),
        ]
    }

    fn decode(records: &[[u8; EVENT_SIZE]], w: u32, h: u32) -> Vec<InputEvent> {
        let mut d = EventDecoder::new(TouchAxes::default(), w, h);
        records.iter().filter_map(|r| d.feed(parse_event(r))).collect()
    }

    #[test]
    fn parses_fields() {
        assert_eq!(parse_event(&record(3, 0x35, -7)), RawEvent { kind: 3, code: 0x35, value: -7 });
    }

    #[test]
    fn one_touch_per_tap_scaled_to_pixels() {
        let mut stream = tap(0, 0);
        stream.extend(tap(4095, 4095));
        stream.extend(tap(2048, 1024));
        assert_eq!(
            decode(&stream, 800, 480),
            [
                InputEvent::Touch { x: 0, y: 0 },
                InputEvent::Touch { x: 799, y: 479 },
                InputEvent::Touch { x: 399, y: 119 }
            ]
        );
    }

    #[test]
    fn wide_and_offset_axis_ranges() {
        // QEMU's virtio tablet and many USB panels: 0..32767. The HIL run found a tap at
        // (400, 240) read at (799, 479) when 0..4095 was assumed.
        let wide = TouchAxes { x: AxisRange { min: 0, max: 32767 }, y: AxisRange { min: 0, max: 32767 } };
        let mut d = EventDecoder::new(wide, 800, 480);
        let taps: Vec<_> = tap(16384, 16384).iter().filter_map(|r| d.feed(parse_event(r))).collect();
        assert_eq!(taps, [InputEvent::Touch { x: 399, y: 239 }]);
        // A resistive panel whose glass starts at raw 200 and ends at 3900.
        let offset = TouchAxes { x: AxisRange { min: 200, max: 3900 }, y: AxisRange { min: 200, max: 3900 } };
        let mut d = EventDecoder::new(offset, 800, 480);
        let mut stream = tap(200, 3900);
        stream.extend(tap(2050, 100));
        let taps: Vec<_> = stream.iter().filter_map(|r| d.feed(parse_event(r))).collect();
        assert_eq!(taps, [InputEvent::Touch { x: 0, y: 479 }, InputEvent::Touch { x: 399, y: 0 }]);
    }

    #[test]
    fn multitouch_positions_and_clamping() {
        let stream = [
            record(EV_KEY, BTN_TOUCH, 1),
            record(EV_SYN, SYN_REPORT, 0), // position not known yet: wait
            record(EV_ABS, ABS_MT_POSITION_X, 9000),
            record(EV_ABS, ABS_MT_POSITION_Y, -5),
            record(EV_SYN, SYN_REPORT, 0),
        ];
        assert_eq!(decode(&stream, 800, 480), [InputEvent::Touch { x: 799, y: 0 }]);
    }

    #[test]
    fn keypad_presses_only() {
        let mut stream = Vec::new();
        for code in [28, 1, 14, 11, 2, 10, 79, 103, 108, 105, 106, 30] {
            stream.extend(key(code));
        }
        stream.push(record(EV_KEY, 28, 2)); // auto-repeat ignored
        let keys: Vec<_> =
            [Key::Enter, Key::Cancel, Key::Clear, Key::Digit(0), Key::Digit(1), Key::Digit(9), Key::Digit(1)]
                .into_iter()
                .chain([Key::Up, Key::Down, Key::Left, Key::Right])
                .map(InputEvent::Key)
                .collect();
        assert_eq!(decode(&stream, 800, 480), keys);
    }

    #[test]
    fn syn_dropped_resets_touch() {
        let stream = [
            record(EV_ABS, ABS_X, 10),
            record(EV_ABS, ABS_Y, 10),
            record(EV_KEY, BTN_TOUCH, 1),
            record(EV_SYN, SYN_DROPPED, 0),
            record(EV_SYN, SYN_REPORT, 0),
        ];
        assert!(decode(&stream, 800, 480).is_empty());
    }

    #[test]
    fn empty_axis_range_is_rejected() {
        let axes = TouchAxes { x: AxisRange { min: 5, max: 5 }, ..TouchAxes::default() };
        assert!(axes.validate().unwrap_err().contains("x axis"));
        assert_eq!(AxisRange { min: 5, max: 5 }.scale(7, 800), 0);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2400),
                                           w in 0u32..5000, h in 0u32..5000,
                                           min in any::<i32>(), max in any::<i32>()) {
            let axes = TouchAxes { x: AxisRange { min, max }, y: AxisRange { min: max, max: min } };
            let mut d = EventDecoder::new(axes, w, h);
            for chunk in bytes.chunks_exact(EVENT_SIZE) {
                let mut rec = [0u8; EVENT_SIZE];
                rec.copy_from_slice(chunk);
                if let Some(InputEvent::Touch { x, y }) = d.feed(parse_event(&rec)) {
                    prop_assert!(x >= 0 && (x as u32) < w.max(1));
                    prop_assert!(y >= 0 && (y as u32) < h.max(1));
                }
            }
        }
    }
}
