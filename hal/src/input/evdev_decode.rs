//! Pure decoding of Linux `struct input_event` records into kiosk input events.

use super::{InputEvent, Key};

/// Size of `struct input_event` on 64-bit Linux: timeval (16) + type (2) + code (2) + value (4).
pub const EVENT_SIZE: usize = 24;

const EV_SYN: u16 = 0x00;
const EV_KEY: u16 = 0x01;
const EV_ABS: u16 = 0x03;
const SYN_REPORT: u16 = 0;
const SYN_DROPPED: u16 = 3;
pub(crate) const ABS_X: u16 = 0x00;
pub(crate) const ABS_Y: u16 = 0x01;
const ABS_MT_SLOT: u16 = 0x2f;
const ABS_MT_POSITION_X: u16 = 0x35;
const ABS_MT_POSITION_Y: u16 = 0x36;
const ABS_MT_TRACKING_ID: u16 = 0x39;
/// Multi-touch slots whose positions are remembered; a panel's further fingers are ignored.
const SLOTS: usize = 16;
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
    /// Where a raw value lies on the axis, as a fraction clamped to 0..=1.
    fn fraction(self, raw: i32) -> Fraction {
        let span = i64::from(self.max) - i64::from(self.min);
        if span <= 0 {
            return Fraction { num: 0, den: 1 };
        }
        Fraction { num: (i64::from(raw) - i64::from(self.min)).clamp(0, span), den: span }
    }

    /// Maps a raw value onto `0..pixels`, clamped so a touch never lands off-screen.
    #[cfg(test)]
    fn scale(self, raw: i32, pixels: u32) -> i32 {
        self.fraction(raw).pixel(pixels)
    }
}

/// A position along a screen axis, `num / den` of the way (0 ≤ num ≤ den, den > 0): exact, so
/// a raw value maps to the same pixel whatever the orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fraction {
    num: i64,
    den: i64,
}

impl Fraction {
    /// The other end of the axis.
    fn mirrored(self) -> Self {
        Self { num: self.den - self.num, den: self.den }
    }

    /// The pixel on a side of `pixels`, `0..pixels`.
    fn pixel(self, pixels: u32) -> i32 {
        let last = i64::from(pixels.saturating_sub(1));
        let scaled = self.num.clamp(0, self.den) * last / self.den.max(1);
        // Within 0..=last, which fits in i32 because pixels is a u32 display side.
        i32::try_from(scaled).unwrap_or(0)
    }
}

/// Clockwise turn of the touch panel's picture against the display's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rotation {
    #[default]
    None,
    Clockwise90,
    Half,
    Clockwise270,
}

impl Rotation {
    /// From degrees; `None` for anything but 0, 90, 180 and 270.
    pub fn from_degrees(degrees: u16) -> Option<Self> {
        Some(match degrees {
            0 => Self::None,
            90 => Self::Clockwise90,
            180 => Self::Half,
            270 => Self::Clockwise270,
            _ => return None,
        })
    }
}

/// How the panel lies on the display, applied in this order: swap the axes, mirror each
/// screen axis, then turn clockwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Orientation {
    pub swap_xy: bool,
    pub invert_x: bool,
    pub invert_y: bool,
    pub rotate: Rotation,
}

impl Orientation {
    /// The screen position of a panel position (fractions of each axis).
    fn apply(self, x: Fraction, y: Fraction) -> (Fraction, Fraction) {
        let (x, y) = if self.swap_xy { (y, x) } else { (x, y) };
        let x = if self.invert_x { x.mirrored() } else { x };
        let y = if self.invert_y { y.mirrored() } else { y };
        // Clockwise by 90°: the top-left corner goes to the top-right.
        match self.rotate {
            Rotation::None => (x, y),
            Rotation::Clockwise90 => (y.mirrored(), x),
            Rotation::Half => (x.mirrored(), y.mirrored()),
            Rotation::Clockwise270 => (y, x.mirrored()),
        }
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

/// The ranges a device reports for its single-touch (`ABS_X`/`ABS_Y`) and multi-touch
/// (`ABS_MT_POSITION_X`/`_Y`) axes; they may differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceAxes {
    pub single: TouchAxes,
    pub multi: TouchAxes,
}

impl DeviceAxes {
    /// The same ranges for both kinds of axes.
    pub fn uniform(axes: TouchAxes) -> Self {
        Self { single: axes, multi: axes }
    }

    /// From the device's absolute axes as `EVIOCGABS` gives them (axis code, minimum, maximum).
    /// An axis the device lacks takes its counterpart of the other kind (a panel with only
    /// `ABS_MT_*` axes), else the default 0..=4095; `None` when the device has no touch axis.
    pub fn from_absinfo(axes: impl IntoIterator<Item = (u16, i32, i32)>) -> Option<Self> {
        let (mut x, mut y, mut mt_x, mut mt_y) = (None, None, None, None);
        for (code, min, max) in axes {
            let range = Some(AxisRange { min, max });
            match code {
                ABS_X => x = range,
                ABS_Y => y = range,
                ABS_MT_POSITION_X => mt_x = range,
                ABS_MT_POSITION_Y => mt_y = range,
                _ => {}
            }
        }
        if [x, y, mt_x, mt_y].iter().all(Option::is_none) {
            return None;
        }
        let fallback = TouchAxes::default();
        let pick = |a: Option<AxisRange>, b: Option<AxisRange>, d: AxisRange| a.or(b).unwrap_or(d);
        Some(Self {
            single: TouchAxes { x: pick(x, mt_x, fallback.x), y: pick(y, mt_y, fallback.y) },
            multi: TouchAxes { x: pick(mt_x, x, fallback.x), y: pick(mt_y, y, fallback.y) },
        })
    }

    /// With the calibrated range of an axis in place of what the device reports, for both
    /// kinds of axes (`None` keeps the device's).
    pub fn calibrated(self, x: Option<AxisRange>, y: Option<AxisRange>) -> Self {
        let apply = |axes: TouchAxes| TouchAxes { x: x.unwrap_or(axes.x), y: y.unwrap_or(axes.y) };
        Self { single: apply(self.single), multi: apply(self.multi) }
    }

    /// `Err` names the empty axis.
    pub fn validate(&self) -> Result<(), String> {
        self.single.validate()?;
        self.multi.validate().map_err(|e| format!("multi-touch: {e}"))
    }
}

/// State machine from raw records to events. A touch is reported once, at the first
/// SYN_REPORT after the finger lands with a known position: the kiosk reacts at once and
/// a finger resting on the glass does not repeat the press. On a multi-touch panel (type B:
/// slots and tracking ids) the first finger down is the touch; others are ignored until every
/// finger is lifted.
#[derive(Debug, Clone)]
pub struct EventDecoder {
    axes: DeviceAxes,
    orientation: Orientation,
    width: u32,
    height: u32,
    x: Option<i32>,
    y: Option<i32>,
    /// Last position of each multi-touch slot (the kernel sends only changes).
    slots: [(Option<i32>, Option<i32>); SLOTS],
    slot: usize,
    /// The slot of the finger that makes the touch, while it is down.
    primary: Option<usize>,
    button: bool,
    reported: bool,
}

impl EventDecoder {
    pub fn new(axes: TouchAxes, width: u32, height: u32) -> Self {
        Self::with_axes(DeviceAxes::uniform(axes), width, height)
    }

    /// Single- and multi-touch positions each scaled from their own range.
    pub fn with_axes(axes: DeviceAxes, width: u32, height: u32) -> Self {
        Self {
            axes,
            orientation: Orientation::default(),
            width,
            height,
            x: None,
            y: None,
            slots: [(None, None); SLOTS],
            slot: 0,
            primary: None,
            button: false,
            reported: false,
        }
    }

    /// Starts from the pointer's position when the device was opened (`EVIOCGABS`'s values).
    /// The kernel sends an axis only when its value changes, so without it a first tap where the
    /// last one was (the next person pressing "start" where the last pressed "finish", on a
    /// device reopened for each session) would carry no position and be lost.
    pub fn at(self, (x, y): (Option<i32>, Option<i32>)) -> Self {
        Self { x: x.or(self.x), y: y.or(self.y), ..self }
    }

    /// Touches turned as `orientation` says before they are scaled to the display.
    pub fn oriented(self, orientation: Orientation) -> Self {
        Self { orientation, ..self }
    }

    /// Feeds one record; returns an event when this record completes one.
    pub fn feed(&mut self, ev: RawEvent) -> Option<InputEvent> {
        match (ev.kind, ev.code) {
            (EV_ABS, ABS_X) => self.x = Some(ev.value),
            (EV_ABS, ABS_Y) => self.y = Some(ev.value),
            (EV_ABS, ABS_MT_SLOT) => self.slot = usize::try_from(ev.value).unwrap_or(usize::MAX),
            (EV_ABS, ABS_MT_TRACKING_ID) => self.on_tracking_id(ev.value),
            (EV_ABS, ABS_MT_POSITION_X) => self.set_slot(|s| &mut s.0, ev.value),
            (EV_ABS, ABS_MT_POSITION_Y) => self.set_slot(|s| &mut s.1, ev.value),
            (EV_KEY, BTN_TOUCH | BTN_LEFT) => {
                self.button = ev.value != 0;
                self.reported = false;
            }
            // Only presses (1); releases (0) and auto-repeat (2) would double the input.
            (EV_KEY, code) if ev.value == 1 => return keypad_key(code).map(InputEvent::Key),
            (EV_SYN, SYN_REPORT) => return self.on_report(),
            // The kernel dropped records: the touch state is unknown, start over.
            (EV_SYN, SYN_DROPPED) => {
                self.button = false;
                self.primary = None;
                self.reported = false;
            }
            _ => {}
        }
        None
    }

    fn set_slot(&mut self, field: impl Fn(&mut (Option<i32>, Option<i32>)) -> &mut Option<i32>, value: i32) {
        if let Some(slot) = self.slots.get_mut(self.slot) {
            *field(slot) = Some(value);
        }
    }

    fn on_tracking_id(&mut self, id: i32) {
        match (id >= 0, self.primary) {
            (true, None) if self.slot < SLOTS => {
                self.primary = Some(self.slot);
                self.reported = false;
            }
            (false, Some(primary)) if primary == self.slot => self.primary = None,
            _ => {}
        }
    }

    fn on_report(&mut self) -> Option<InputEvent> {
        if !(self.button || self.primary.is_some()) || self.reported {
            return None;
        }
        // The primary finger's slot (slot 0 on a panel without tracking ids), else ABS_X/Y.
        let (axes, x, y) = match self.slots.get(self.primary.unwrap_or(0)) {
            Some(&(Some(x), Some(y))) => (self.axes.multi, x, y),
            _ => (self.axes.single, self.x?, self.y?),
        };
        self.reported = true;
        let (x, y) = self.orientation.apply(axes.x.fraction(x), axes.y.fraction(y));
        Some(InputEvent::Touch { x: x.pixel(self.width), y: y.pixel(self.height) })
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

    /// The events a decoder makes of a stream of records: the one setup every test shares.
    fn events(mut d: EventDecoder, records: &[[u8; EVENT_SIZE]]) -> Vec<InputEvent> {
        records.iter().filter_map(|r| d.feed(parse_event(r))).collect()
    }

    /// The default 12-bit axes.
    fn decode(records: &[[u8; EVENT_SIZE]], w: u32, h: u32) -> Vec<InputEvent> {
        events(EventDecoder::new(TouchAxes::default(), w, h), records)
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

    /// A tap where the pointer already was carries no ABS_X/ABS_Y (the kernel drops unchanged
    /// values): only a decoder that starts from the device's position reports it.
    #[test]
    fn a_first_tap_at_the_last_position_is_reported_from_the_opened_position() {
        let press_only = [
            record(EV_KEY, BTN_TOUCH, 1),
            record(EV_SYN, SYN_REPORT, 0),
            record(EV_KEY, BTN_TOUCH, 0),
            record(EV_SYN, SYN_REPORT, 0),
        ];
        let fresh = EventDecoder::new(TouchAxes::default(), 800, 480);
        assert_eq!(events(fresh.clone(), &press_only), []);
        assert_eq!(events(fresh.clone().at((Some(4095), Some(0))), &press_only), [InputEvent::Touch { x: 799, y: 0 }]);
        // A position sent later still wins.
        let moved = events(fresh.at((Some(0), Some(0))), &tap(4095, 4095));
        assert_eq!(moved, [InputEvent::Touch { x: 799, y: 479 }]);
    }

    #[test]
    fn wide_and_offset_axis_ranges() {
        // QEMU's virtio tablet and many USB panels: 0..32767. The HIL run found a tap at
        // (400, 240) read at (799, 479) when 0..4095 was assumed.
        let wide = TouchAxes { x: AxisRange { min: 0, max: 32767 }, y: AxisRange { min: 0, max: 32767 } };
        assert_eq!(events(EventDecoder::new(wide, 800, 480), &tap(16384, 16384)), [InputEvent::Touch { x: 399, y: 239 }]);
        // A resistive panel whose glass starts at raw 200 and ends at 3900.
        let offset = TouchAxes { x: AxisRange { min: 200, max: 3900 }, y: AxisRange { min: 200, max: 3900 } };
        let mut stream = tap(200, 3900);
        stream.extend(tap(2050, 100));
        assert_eq!(events(EventDecoder::new(offset, 800, 480), &stream), [InputEvent::Touch { x: 0, y: 479 }, InputEvent::Touch { x: 399, y: 0 }]);
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

    fn decode_with(records: &[[u8; EVENT_SIZE]], axes: DeviceAxes, w: u32, h: u32) -> Vec<InputEvent> {
        events(EventDecoder::with_axes(axes, w, h), records)
    }

    /// Taps at the four corners and the middle of a 12-bit panel, and where they land on an
    /// 800x480 screen turned as `orientation` says.
    fn corners(orientation: Orientation) -> Vec<InputEvent> {
        let mut stream = Vec::new();
        for (x, y) in [(0, 0), (4095, 0), (4095, 4095), (0, 4095), (1024, 3071)] {
            stream.extend(tap(x, y));
        }
        events(EventDecoder::new(TouchAxes::default(), 800, 480).oriented(orientation), &stream)
    }

    fn touches(points: &[(i32, i32)]) -> Vec<InputEvent> {
        points.iter().map(|&(x, y)| InputEvent::Touch { x, y }).collect()
    }

    #[test]
    fn orientation_swaps_mirrors_and_turns_the_panel() {
        let o = Orientation::default();
        // Top-left, top-right, bottom-right, bottom-left, and a point a quarter in from the
        // left and the bottom (1024/4095 of 799 is 199, 3071/4095 of 479 is 359).
        assert_eq!(corners(o), touches(&[(0, 0), (799, 0), (799, 479), (0, 479), (199, 359)]));
        let mirrored_x = Orientation { invert_x: true, ..o };
        assert_eq!(corners(mirrored_x), touches(&[(799, 0), (0, 0), (0, 479), (799, 479), (599, 359)]));
        let mirrored_y = Orientation { invert_y: true, ..o };
        assert_eq!(corners(mirrored_y), touches(&[(0, 479), (799, 479), (799, 0), (0, 0), (199, 119)]));
        // Swapped: the panel's x runs down the screen (3071/4095 of 799 is 599, 1024/4095 of 479 is 119).
        let swapped = Orientation { swap_xy: true, ..o };
        assert_eq!(corners(swapped), touches(&[(0, 0), (0, 479), (799, 479), (799, 0), (599, 119)]));
        // Clockwise: the top-left corner goes to the top-right, and on round.
        let cw90 = Orientation { rotate: Rotation::Clockwise90, ..o };
        assert_eq!(corners(cw90), touches(&[(799, 0), (799, 479), (0, 479), (0, 0), (199, 119)]));
        let half = Orientation { rotate: Rotation::Half, ..o };
        assert_eq!(corners(half), touches(&[(799, 479), (0, 479), (0, 0), (799, 0), (599, 119)]));
        let cw270 = Orientation { rotate: Rotation::Clockwise270, ..o };
        assert_eq!(corners(cw270), touches(&[(0, 479), (0, 0), (799, 0), (799, 479), (599, 359)]));
        // Swap and mirror first, then the turn: (x, y) swapped is (y, x), mirrored in x
        // (1-y, x), turned 90° (1-x, 1-y): the panel turned half way round.
        let combined = Orientation { swap_xy: true, invert_x: true, rotate: Rotation::Clockwise90, ..o };
        assert_eq!(corners(combined), corners(Orientation { invert_y: true, invert_x: true, ..o }));
        assert_eq!(Rotation::from_degrees(270), Some(Rotation::Clockwise270));
        assert_eq!(Rotation::from_degrees(45), None);
    }

    #[test]
    fn calibration_overrides_the_device_ranges() {
        // QEMU's tablet reports 0..=32767; this panel's glass shows 1000..=31000 on x only.
        let device = DeviceAxes::from_absinfo([(ABS_X, 0, 32767), (ABS_Y, 0, 32767)]).unwrap();
        let calibrated = device.calibrated(Some(AxisRange { min: 1000, max: 31000 }), None);
        assert_eq!(calibrated.single.y, device.single.y, "an axis without calibration keeps the device's range");
        assert_eq!(calibrated.multi.x, AxisRange { min: 1000, max: 31000 });
        let mut stream = tap(1000, 0);
        stream.extend(tap(31000, 32767));
        stream.extend(tap(500, 16384));
        assert_eq!(decode_with(&stream, calibrated, 800, 480), touches(&[(0, 0), (799, 479), (0, 239)]));
        // Uncalibrated, the same first tap lands 24 pixels in.
        assert_eq!(decode_with(&tap(1000, 0), device, 800, 480), touches(&[(24, 0)]));
    }

    #[test]
    fn the_device_axis_ranges_scale_to_the_screen() {
        // QEMU's virtio tablet: 0..=32767. The tap at the middle of 800x480 is read there, not
        // at the corner the 12-bit default made of it.
        let qemu = DeviceAxes::from_absinfo([(ABS_X, 0, 32767), (ABS_Y, 0, 32767)]).unwrap();
        assert_eq!(qemu.single, qemu.multi);
        // What the tablet reports for a tap at (400, 240).
        let middle = (16405, 16418);
        assert_eq!(decode_with(&tap(middle.0, middle.1), qemu, 800, 480), [InputEvent::Touch { x: 400, y: 240 }]);
        assert_eq!(decode(&tap(middle.0, middle.1), 800, 480), [InputEvent::Touch { x: 799, y: 479 }]);
        // A minimum above zero, and a different range per axis: the ends land on the edges.
        let odd = DeviceAxes::from_absinfo([(ABS_X, 200, 3900), (ABS_Y, -100, 32767), (0x28, 0, 1)]).unwrap();
        let mut stream = tap(200, -100);
        stream.extend(tap(3900, 32767));
        stream.extend(tap(2050, 16333));
        stream.extend(tap(100, 40000));
        assert_eq!(
            decode_with(&stream, odd, 1280, 800),
            [
                InputEvent::Touch { x: 0, y: 0 },
                InputEvent::Touch { x: 1279, y: 799 },
                InputEvent::Touch { x: 639, y: 399 },
                InputEvent::Touch { x: 0, y: 799 }
            ]
        );
    }

    #[test]
    fn absinfo_without_one_kind_of_axis_borrows_the_other() {
        let mt_only = DeviceAxes::from_absinfo([(ABS_MT_POSITION_X, 0, 1919), (ABS_MT_POSITION_Y, 0, 1079)]).unwrap();
        assert_eq!(mt_only.single, mt_only.multi);
        assert_eq!(mt_only.single.x, AxisRange { min: 0, max: 1919 });
        let both = DeviceAxes::from_absinfo([
            (ABS_X, 0, 4095),
            (ABS_Y, 0, 4095),
            (ABS_MT_POSITION_X, 0, 32767),
            (ABS_MT_POSITION_Y, 0, 32767),
        ])
        .unwrap();
        assert_eq!((both.single.x.max, both.multi.x.max), (4095, 32767));
        assert_eq!(DeviceAxes::from_absinfo([(0x28, 0, 255)]), None, "a keypad has no touch axes");
        let broken = DeviceAxes::from_absinfo([(ABS_X, 0, 4095), (ABS_MT_POSITION_Y, 7, 7)]).unwrap();
        assert!(broken.validate().unwrap_err().contains("y axis"));
    }

    /// A type B multi-touch frame: slot, tracking id, position.
    fn contact(slot: i32, id: i32, pos: Option<(i32, i32)>) -> Vec<[u8; EVENT_SIZE]> {
        let mut r = vec![record(EV_ABS, ABS_MT_SLOT, slot), record(EV_ABS, ABS_MT_TRACKING_ID, id)];
        if let Some((x, y)) = pos {
            r.push(record(EV_ABS, ABS_MT_POSITION_X, x));
            r.push(record(EV_ABS, ABS_MT_POSITION_Y, y));
        }
        r
    }

    #[test]
    fn multitouch_slots_report_the_first_finger_once() {
        // Multi-touch 0..=32767, single-touch emulation 0..=4095 (the kernel's pointer emulation).
        let axes = DeviceAxes::from_absinfo([
            (ABS_X, 0, 4095),
            (ABS_Y, 0, 4095),
            (ABS_MT_POSITION_X, 0, 32767),
            (ABS_MT_POSITION_Y, 0, 32767),
        ])
        .unwrap();
        let syn = record(EV_SYN, SYN_REPORT, 0);
        let mut stream = contact(0, 10, Some((32767, 0)));
        stream.push(syn);
        // A second finger lands and moves; the first moves: no new touch.
        stream.extend(contact(1, 11, Some((0, 32767))));
        stream.push(syn);
        stream.extend([
            record(EV_ABS, ABS_MT_SLOT, 0),
            record(EV_ABS, ABS_MT_POSITION_X, 16000),
            record(EV_ABS, ABS_MT_POSITION_Y, 16000),
        ]);
        stream.push(syn);
        // The first lifts while the second rests: still no touch; then the second lifts.
        stream.extend(contact(0, -1, None));
        stream.push(syn);
        stream.extend(contact(1, -1, None));
        stream.push(syn);
        // A new finger in slot 1 at a position slot 1 already had (the kernel sends no
        // unchanged value): it is one new touch there.
        stream.extend(contact(1, 12, None));
        stream.push(syn);
        stream.extend(contact(1, -1, None));
        stream.push(syn);
        assert_eq!(
            decode_with(&stream, axes, 800, 480),
            [InputEvent::Touch { x: 799, y: 0 }, InputEvent::Touch { x: 0, y: 479 }]
        );
        // Without tracking ids (type A, or BTN_TOUCH only) slot 0's positions serve.
        let legacy = [
            record(EV_ABS, ABS_MT_POSITION_X, 16384),
            record(EV_ABS, ABS_MT_POSITION_Y, 16384),
            record(EV_KEY, BTN_TOUCH, 1),
            syn,
        ];
        assert_eq!(decode_with(&legacy, axes, 800, 480), [InputEvent::Touch { x: 399, y: 239 }]);
    }

    #[test]
    fn syn_dropped_forgets_the_finger() {
        let mut stream = contact(0, 5, Some((100, 100)));
        stream.push(record(EV_SYN, SYN_DROPPED, 0));
        stream.push(record(EV_SYN, SYN_REPORT, 0));
        assert!(decode(&stream, 800, 480).is_empty());
        // Slots out of range or negative are ignored, never indexed.
        let stream = [
            record(EV_ABS, ABS_MT_SLOT, -3),
            record(EV_ABS, ABS_MT_TRACKING_ID, 1),
            record(EV_ABS, ABS_MT_POSITION_X, 5),
            record(EV_ABS, ABS_MT_SLOT, 99),
            record(EV_ABS, ABS_MT_TRACKING_ID, 2),
            record(EV_SYN, SYN_REPORT, 0),
        ];
        assert!(decode(&stream, 800, 480).is_empty());
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
