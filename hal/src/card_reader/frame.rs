//! Pure codec of the card reader's serial framing, shared by the host driver and the simulator.
//!
//! `STX ADDR LENH LENL CMT CM PM DATA… ETX BCC`, with LEN counting CMT..DATA and BCC the XOR of
//! every byte from STX to ETX. Control bytes (ACK, NAK, EOT) travel alone between frames.

pub const STX: u8 = 0xF2;
pub const ETX: u8 = 0x03;
pub const ADDR: u8 = 0x00;
pub const ACK: u8 = 0x06;
pub const NAK: u8 = 0x15;
pub const EOT: u8 = 0x04;
/// Largest LEN the protocol allows.
pub const MAX_LEN: usize = 4096;
/// CMT of a host command.
pub const CMT_COMMAND: u8 = b'C';
/// CMT of a positive reply.
pub const CMT_POSITIVE: u8 = b'P';
/// CMT of a negative reply.
pub const CMT_NEGATIVE: u8 = b'N';

/// STX ADDR LENH LENL before the body, ETX BCC after it.
const HEADER_LEN: usize = 4;
const TRAILER_LEN: usize = 2;
/// CMT CM PM: the least a body can hold.
const MIN_LEN: usize = 3;

/// One frame's content, without the envelope.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// `'C'` command, `'P'` positive reply, `'N'` negative reply.
    pub cmt: u8,
    pub cm: u8,
    pub pm: u8,
    pub data: Vec<u8>,
}

// Frames carry APDUs and MRZs: show only their shape, never their content.
impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("cmt", &char::from(self.cmt))
            .field("cm", &format_args!("{:#04x}", self.cm))
            .field("pm", &format_args!("{:#04x}", self.pm))
            .field("data_len", &self.data.len())
            .finish()
    }
}

impl Frame {
    pub fn command(cm: u8, pm: u8, data: Vec<u8>) -> Self {
        Self { cmt: CMT_COMMAND, cm, pm, data }
    }

    /// Encodes the frame with its envelope.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let len = MIN_LEN + self.data.len();
        if len > MAX_LEN {
            return Err(FrameError::TooLong { len });
        }
        let len16 = u16::try_from(len).map_err(|_| FrameError::TooLong { len })?;
        let mut out = Vec::with_capacity(HEADER_LEN + len + TRAILER_LEN);
        out.push(STX);
        out.push(ADDR);
        out.extend_from_slice(&len16.to_be_bytes());
        out.push(self.cmt);
        out.push(self.cm);
        out.push(self.pm);
        out.extend_from_slice(&self.data);
        out.push(ETX);
        out.push(bcc(&out));
        Ok(out)
    }
}

/// XOR of all bytes.
pub fn bcc(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// A single control byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Ack,
    Nak,
    Eot,
}

impl Control {
    pub fn byte(self) -> u8 {
        match self {
            Self::Ack => ACK,
            Self::Nak => NAK,
            Self::Eot => EOT,
        }
    }
}

/// What the decoder recognised in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Control(Control),
    Frame(Frame),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    #[error("frame length {len} is over the protocol's limit of {MAX_LEN}; the sender is faulty or the line is noisy")]
    TooLong { len: usize },
    #[error("frame length {len} is too short to hold CMT, CM and PM; the line is noisy")]
    TooShort { len: usize },
    #[error("frame has {found:#04x} where ETX belongs; the line is noisy or the sender is faulty")]
    MissingEtx { found: u8 },
    #[error("frame checksum is {found:#04x}, expected {expected:#04x}; the frame was damaged on the line")]
    BadChecksum { expected: u8, found: u8 },
}

/// Streaming decoder: feed it chunks as they arrive, then drain events with [`FrameDecoder::next_event`].
///
/// Bytes that neither are control bytes nor start a frame are skipped; after a bad frame only its
/// STX is dropped, so a real frame hidden behind a false start is still found (resynchronisation).
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    skipped: usize,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Forgets everything buffered, e.g. before resending after a timeout.
    pub fn reset(&mut self) {
        self.buf.clear();
    }

    /// Bytes skipped as garbage since the decoder was made.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// True when bytes of an incomplete frame wait for more input.
    pub fn is_mid_frame(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next control byte, frame or framing error; `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Option<Result<Decoded, FrameError>> {
        loop {
            let first = *self.buf.first()?;
            let control = match first {
                ACK => Some(Control::Ack),
                NAK => Some(Control::Nak),
                EOT => Some(Control::Eot),
                _ => None,
            };
            if let Some(control) = control {
                self.buf.drain(..1);
                return Some(Ok(Decoded::Control(control)));
            }
            if first != STX {
                self.skip_to_next_stx();
                continue;
            }
            // Header incomplete: wait for more.
            let header: [u8; HEADER_LEN] = self.buf.get(..HEADER_LEN)?.try_into().ok()?;
            let [_, addr, lenh, lenl] = header;
            if addr != ADDR {
                // Not a frame start after all: garbage that happened to be 0xF2.
                self.drop_stx();
                continue;
            }
            let len = usize::from(u16::from_be_bytes([lenh, lenl]));
            if len > MAX_LEN {
                self.drop_stx();
                return Some(Err(FrameError::TooLong { len }));
            }
            if len < MIN_LEN {
                self.drop_stx();
                return Some(Err(FrameError::TooShort { len }));
            }
            let total = HEADER_LEN + len + TRAILER_LEN;
            let whole = self.buf.get(..total)?;
            // In bounds: `whole` is the header, `len` ≥ MIN_LEN bytes and the two-byte trailer.
            let etx_at = HEADER_LEN + len;
            let found_etx = whole[etx_at];
            if found_etx != ETX {
                self.drop_stx();
                return Some(Err(FrameError::MissingEtx { found: found_etx }));
            }
            let expected = bcc(&whole[..=etx_at]);
            let found = whole[etx_at + 1];
            if expected != found {
                self.drop_stx();
                return Some(Err(FrameError::BadChecksum { expected, found }));
            }
            let frame = Frame {
                cmt: whole[HEADER_LEN],
                cm: whole[HEADER_LEN + 1],
                pm: whole[HEADER_LEN + 2],
                data: whole[HEADER_LEN + MIN_LEN..etx_at].to_vec(),
            };
            self.buf.drain(..total);
            return Some(Ok(Decoded::Frame(frame)));
        }
    }

    fn drop_stx(&mut self) {
        self.buf.drain(..1);
        self.skipped += 1;
    }

    /// Skips garbage up to (not including) the next STX or control byte.
    fn skip_to_next_stx(&mut self) {
        let n = self
            .buf
            .iter()
            .position(|&b| matches!(b, STX | ACK | NAK | EOT))
            .unwrap_or(self.buf.len())
            .max(1);
        self.buf.drain(..n);
        self.skipped += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8]) -> Vec<Result<Decoded, FrameError>> {
        let mut d = FrameDecoder::new();
        d.push(bytes);
        std::iter::from_fn(|| d.next_event()).collect()
    }

    #[test]
    fn encodes_status_command_by_hand() {
        // F2 00 00 03 43 31 30 03; BCC: F2^03=F1 ^43=B2 ^31=83 ^30=B3 ^03=B0
        let bytes = Frame::command(0x31, 0x30, vec![]).encode().unwrap();
        assert_eq!(bytes, [0xF2, 0x00, 0x00, 0x03, 0x43, 0x31, 0x30, 0x03, 0xB0]);
    }

    #[test]
    fn encodes_frame_with_data_by_hand() {
        // BCC: F2^05=F7, ^43=B4, ^60=D4, ^33=E7, ^AA=4D, ^55=18, ^03=1B
        let bytes = Frame::command(0x60, 0x33, vec![0xAA, 0x55]).encode().unwrap();
        assert_eq!(bytes, [0xF2, 0x00, 0x00, 0x05, 0x43, 0x60, 0x33, 0xAA, 0x55, 0x03, 0x1B]);
    }

    #[test]
    fn decodes_hand_made_negative_reply() {
        // N 70 30 '8' '0': F2 00 00 05 4E 70 30 38 30 03, BCC: F2^05=F7 ^4E=B9 ^70=C9 ^30=F9 ^38=C1 ^30=F1 ^03=F2
        let bytes = [0xF2, 0x00, 0x00, 0x05, 0x4E, 0x70, 0x30, 0x38, 0x30, 0x03, 0xF2];
        let events = decode_all(&bytes);
        assert_eq!(
            events,
            vec![Ok(Decoded::Frame(Frame { cmt: b'N', cm: 0x70, pm: 0x30, data: b"80".to_vec() }))]
        );
    }

    #[test]
    fn control_bytes_between_frames() {
        let mut bytes = vec![ACK];
        bytes.extend(Frame::command(0x31, 0x30, vec![]).encode().unwrap());
        bytes.push(NAK);
        bytes.push(EOT);
        let events = decode_all(&bytes);
        assert_eq!(events.len(), 4);
        assert_eq!(events[0], Ok(Decoded::Control(Control::Ack)));
        assert_eq!(events[2], Ok(Decoded::Control(Control::Nak)));
        assert_eq!(events[3], Ok(Decoded::Control(Control::Eot)));
    }

    #[test]
    fn rejects_len_over_limit() {
        let events = decode_all(&[0xF2, 0x00, 0x10, 0x01, 0x43]);
        assert_eq!(events, vec![Err(FrameError::TooLong { len: 4097 })]);
    }

    #[test]
    fn encode_refuses_oversized_data() {
        let err = Frame::command(0x60, 0x33, vec![0; MAX_LEN]).encode().unwrap_err();
        assert_eq!(err, FrameError::TooLong { len: MAX_LEN + 3 });
    }

    #[test]
    fn bad_checksum_is_reported_then_next_frame_found() {
        let mut bad = Frame::command(0x31, 0x30, vec![]).encode().unwrap();
        let last = bad.len() - 1;
        bad[last] ^= 0xFF;
        let good = Frame::command(0xA4, 0x30, vec![]).encode().unwrap();
        bad.extend(&good);
        let events = decode_all(&bad);
        assert!(matches!(events[0], Err(FrameError::BadChecksum { .. })));
        assert_eq!(events.last(), Some(&Ok(Decoded::Frame(Frame::command(0xA4, 0x30, vec![])))));
    }

    #[test]
    fn frame_split_in_single_bytes() {
        let frame = Frame::command(0x51, 0x39, vec![1, 2, 3, 0xF2, 0x06]);
        let bytes = frame.encode().unwrap();
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for b in bytes {
            d.push(&[b]);
            while let Some(e) = d.next_event() {
                got.push(e);
            }
        }
        assert_eq!(got, vec![Ok(Decoded::Frame(frame))]);
    }

    fn any_frame() -> impl Strategy<Value = Frame> {
        (
            prop::sample::select(vec![CMT_COMMAND, CMT_POSITIVE, CMT_NEGATIVE]),
            any::<u8>(),
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..=MAX_LEN - 3),
        )
            .prop_map(|(cmt, cm, pm, data)| Frame { cmt, cm, pm, data })
    }

    proptest! {
        #[test]
        fn roundtrip_any_payload(frame in any_frame(), chunk in 1usize..64) {
            let bytes = frame.encode().unwrap();
            let mut d = FrameDecoder::new();
            let mut got = Vec::new();
            for c in bytes.chunks(chunk) {
                d.push(c);
                while let Some(e) = d.next_event() { got.push(e); }
            }
            prop_assert_eq!(got, vec![Ok(Decoded::Frame(frame))]);
        }

        #[test]
        fn garbage_prefix_is_skipped(
            garbage in prop::collection::vec(any::<u8>().prop_filter("no STX/control", |b| !matches!(*b, STX | ACK | NAK | EOT)), 0..200),
            frame in any_frame(),
        ) {
            let mut bytes = garbage.clone();
            bytes.extend(frame.encode().unwrap());
            let events = decode_all(&bytes);
            prop_assert_eq!(events, vec![Ok(Decoded::Frame(frame))]);
        }

        #[test]
        fn garbage_with_any_bytes_still_finds_frame_most_times(
            garbage in prop::collection::vec(any::<u8>(), 0..64),
            frame in any_frame(),
        ) {
            // Garbage may hold control bytes and false starts; they may show as events or
            // errors, and (rarely) a false start may swallow the frame, but never a panic.
            let mut bytes = garbage;
            bytes.extend(frame.encode().unwrap());
            let _ = decode_all(&bytes);
        }

        #[test]
        fn never_panics(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20)) {
            let mut d = FrameDecoder::new();
            for c in &chunks {
                d.push(c);
                while d.next_event().is_some() {}
            }
        }

        #[test]
        fn flipped_byte_is_detected(frame in any_frame(), pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let mut bytes = frame.encode().unwrap();
            let i = pos.index(bytes.len());
            bytes[i] ^= flip;
            let mut d = FrameDecoder::new();
            d.push(&bytes);
            // Whatever the decoder makes of it, it never yields the original frame as if
            // nothing happened: XOR catches any single damaged byte.
            while let Some(e) = d.next_event() {
                if let Ok(Decoded::Frame(f)) = e {
                    prop_assert_ne!(f, frame.clone());
                }
            }
        }
    }
}
