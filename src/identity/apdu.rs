//! ISO 7816-4 command/response APDUs and the transmit helper that handles `61xx` and `6Cxx`.

use kiosk_hal::card_reader::{CardReader, CardReaderError, ChipInterface};

/// GET RESPONSE rounds tolerated for one command (256 × 256 bytes is far beyond any answer).
const MAX_GET_RESPONSE: usize = 256;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApduError {
    #[error("APDU of {len} data bytes is too long (at most 65535)")]
    DataTooLong { len: usize },
    #[error("expected length {0} is out of range (1..=65536)")]
    BadLe(usize),
    #[error("the chip's response has {0} bytes; it needs at least SW1 SW2. The chip or the field is unreliable: retry")]
    ResponseTooShort(usize),
    #[error("the chip kept answering 61xx after {MAX_GET_RESPONSE} GET RESPONSE rounds")]
    EndlessChaining,
    #[error(transparent)]
    Reader(#[from] CardReaderError),
}

/// A command APDU. `le` is Ne, the number of bytes expected (256 encodes as short `00`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandApdu {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    pub le: Option<usize>,
}

impl CommandApdu {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self { cla, ins, p1, p2, data: Vec::new(), le: None }
    }

    pub fn with_data(mut self, data: Vec<u8>) -> Self {
        self.data = data;
        self
    }

    pub fn with_le(mut self, le: usize) -> Self {
        self.le = Some(le);
        self
    }

    /// Short encoding when data ≤ 255 and Ne ≤ 256, extended otherwise.
    pub fn encode(&self) -> Result<Vec<u8>, ApduError> {
        let lc = self.data.len();
        if lc > 0xFFFF {
            return Err(ApduError::DataTooLong { len: lc });
        }
        if let Some(le) = self.le {
            if !(1..=65536).contains(&le) {
                return Err(ApduError::BadLe(le));
            }
        }
        let extended = lc > 0xFF || self.le.is_some_and(|le| le > 256);
        let mut out = vec![self.cla, self.ins, self.p1, self.p2];
        if extended {
            out.push(0x00);
            if lc > 0 {
                out.extend_from_slice(&(lc as u16).to_be_bytes());
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                // 65536 wraps to 0000, as the standard encodes it.
                out.extend_from_slice(&((le & 0xFFFF) as u16).to_be_bytes());
            }
        } else {
            if lc > 0 {
                out.push(lc as u8);
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                out.push((le & 0xFF) as u8);
            }
        }
        Ok(out)
    }
}

/// Status words that mean something to the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    #[error("end of file reached before the expected length (6282)")]
    EndOfFile,
    #[error("wrong length (6700)")]
    WrongLength,
    #[error("security status not satisfied (6982): the chip wants access control first")]
    SecurityNotSatisfied,
    #[error("conditions of use not satisfied (6985)")]
    ConditionsNotSatisfied,
    #[error("no file selected (6986)")]
    NoFileSelected,
    #[error("secure messaging objects missing or wrong ({0:04X})")]
    SecureMessaging(u16),
    #[error("file or application not found (6A82)")]
    FileNotFound,
    #[error("incorrect parameters P1 P2 (6A86)")]
    IncorrectP1P2,
    #[error("offset outside the file (6B00)")]
    OffsetOutsideFile,
    #[error("wrong Le, {available} bytes available (6C{available:02X})")]
    WrongLe { available: u8 },
    #[error("instruction not supported (6D00)")]
    InsNotSupported,
    #[error("class not supported (6E00)")]
    ClaNotSupported,
    #[error("status {0:04X}")]
    Other(u16),
}

impl StatusError {
    pub fn from_sw(sw: u16) -> Self {
        match sw {
            0x6282 => Self::EndOfFile,
            0x6700 => Self::WrongLength,
            0x6982 => Self::SecurityNotSatisfied,
            0x6985 => Self::ConditionsNotSatisfied,
            0x6986 => Self::NoFileSelected,
            0x6987 | 0x6988 => Self::SecureMessaging(sw),
            0x6A82 => Self::FileNotFound,
            0x6A86 => Self::IncorrectP1P2,
            0x6B00 => Self::OffsetOutsideFile,
            0x6C00..=0x6CFF => Self::WrongLe { available: (sw & 0xFF) as u8 },
            0x6D00 => Self::InsNotSupported,
            0x6E00 => Self::ClaNotSupported,
            other => Self::Other(other),
        }
    }
}

/// A response APDU: data and the status word.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponseApdu {
    pub data: Vec<u8>,
    pub sw: u16,
}

// Response data may be personal (MRZ, face): show only its size.
impl std::fmt::Debug for ResponseApdu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResponseApdu {{ data: {} bytes, sw: {:04X} }}", self.data.len(), self.sw)
    }
}

impl ResponseApdu {
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        match bytes {
            [data @ .., sw1, sw2] => Ok(Self { data: data.to_vec(), sw: u16::from_be_bytes([*sw1, *sw2]) }),
            _ => Err(ApduError::ResponseTooShort(bytes.len())),
        }
    }

    pub fn sw1(&self) -> u8 {
        (self.sw >> 8) as u8
    }

    pub fn sw2(&self) -> u8 {
        (self.sw & 0xFF) as u8
    }

    /// The data when the status is 9000, the typed status otherwise.
    pub fn into_data(self) -> Result<Vec<u8>, StatusError> {
        if self.sw == 0x9000 {
            Ok(self.data)
        } else {
            Err(StatusError::from_sw(self.sw))
        }
    }
}

fn send(
    reader: &mut dyn CardReader,
    iface: ChipInterface,
    cmd: &CommandApdu,
) -> Result<ResponseApdu, ApduError> {
    let bytes = cmd.encode()?;
    ResponseApdu::parse(&reader.transmit(iface, &bytes)?)
}

/// Sends `cmd`; on `6Cxx` re-issues it once with Le = xx, on `61xx` collects the rest with
/// GET RESPONSE. The final status word is returned for the caller to judge.
pub fn transmit_apdu(
    reader: &mut dyn CardReader,
    iface: ChipInterface,
    cmd: &CommandApdu,
) -> Result<ResponseApdu, ApduError> {
    let mut response = send(reader, iface, cmd)?;
    if response.sw1() == 0x6C {
        let le = match response.sw2() {
            0 => 256,
            n => usize::from(n),
        };
        tracing::debug!(ins = cmd.ins, le, "chip asked for another Le, re-issuing");
        response = send(reader, iface, &cmd.clone().with_le(le))?;
    }
    collect_chained(reader, iface, cmd, response)
}

/// Sends `cmd` and collects a `61xx` chained answer, but leaves `6Cxx` to the caller: under
/// secure messaging a re-issue must be a newly protected command (a new counter and MAC).
pub fn transmit_chained(
    reader: &mut dyn CardReader,
    iface: ChipInterface,
    cmd: &CommandApdu,
) -> Result<ResponseApdu, ApduError> {
    let response = send(reader, iface, cmd)?;
    collect_chained(reader, iface, cmd, response)
}

fn collect_chained(
    reader: &mut dyn CardReader,
    iface: ChipInterface,
    cmd: &CommandApdu,
    mut response: ResponseApdu,
) -> Result<ResponseApdu, ApduError> {
    let mut data = std::mem::take(&mut response.data);
    let mut rounds = 0;
    while response.sw1() == 0x61 {
        rounds += 1;
        if rounds > MAX_GET_RESPONSE {
            return Err(ApduError::EndlessChaining);
        }
        let le = match response.sw2() {
            0 => 256,
            n => usize::from(n),
        };
        let get = CommandApdu::new(cmd.cla, 0xC0, 0x00, 0x00).with_le(le);
        response = send(reader, iface, &get)?;
        data.append(&mut response.data);
    }
    Ok(ResponseApdu { data, sw: response.sw })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kiosk_hal::card_reader::{ContactlessCard, ReaderStatus};
    use std::collections::VecDeque;

    /// A reader that answers APDUs from a script and records what it was sent.
    #[derive(Default)]
    pub(crate) struct ScriptedReader {
        pub answers: VecDeque<Vec<u8>>,
        pub sent: Vec<Vec<u8>>,
    }

    impl CardReader for ScriptedReader {
        fn initialise(&mut self) -> Result<ReaderStatus, CardReaderError> {
            unimplemented!()
        }
        fn status(&mut self) -> Result<ReaderStatus, CardReaderError> {
            unimplemented!()
        }
        fn firmware_version(&mut self) -> Result<String, CardReaderError> {
            unimplemented!()
        }
        fn retain_bin_count(&mut self) -> Result<u16, CardReaderError> {
            unimplemented!()
        }
        fn scan_mrz(&mut self) -> Result<Vec<String>, CardReaderError> {
            unimplemented!()
        }
        fn activate_contactless(&mut self) -> Result<ContactlessCard, CardReaderError> {
            unimplemented!()
        }
        fn deactivate_contactless(&mut self) -> Result<(), CardReaderError> {
            unimplemented!()
        }
        fn power_on_contact(&mut self) -> Result<Vec<u8>, CardReaderError> {
            unimplemented!()
        }
        fn power_off_contact(&mut self) -> Result<(), CardReaderError> {
            unimplemented!()
        }
        fn transmit(&mut self, _: ChipInterface, command: &[u8]) -> Result<Vec<u8>, CardReaderError> {
            self.sent.push(command.to_vec());
            Ok(self.answers.pop_front().unwrap())
        }
        fn eject(&mut self) -> Result<(), CardReaderError> {
            unimplemented!()
        }
        fn retain(&mut self) -> Result<(), CardReaderError> {
            unimplemented!()
        }
    }

    #[test]
    fn short_encodings() {
        assert_eq!(CommandApdu::new(0, 0xB0, 1, 2).encode().unwrap(), [0, 0xB0, 1, 2]);
        assert_eq!(CommandApdu::new(0, 0xB0, 1, 2).with_le(256).encode().unwrap(), [0, 0xB0, 1, 2, 0]);
        assert_eq!(
            CommandApdu::new(0, 0xA4, 2, 0x0C).with_data(vec![1, 1]).encode().unwrap(),
            [0, 0xA4, 2, 0x0C, 2, 1, 1]
        );
        assert_eq!(
            CommandApdu::new(0, 0xA4, 2, 0).with_data(vec![1, 1]).with_le(0xE7).encode().unwrap(),
            [0, 0xA4, 2, 0, 2, 1, 1, 0xE7]
        );
    }

    #[test]
    fn extended_encodings() {
        assert_eq!(
            CommandApdu::new(0, 0xB0, 0, 0).with_le(257).encode().unwrap(),
            [0, 0xB0, 0, 0, 0, 0x01, 0x01]
        );
        assert_eq!(
            CommandApdu::new(0, 0xB0, 0, 0).with_le(65536).encode().unwrap(),
            [0, 0xB0, 0, 0, 0, 0, 0]
        );
        let cmd = CommandApdu::new(0, 0xD6, 0, 0).with_data(vec![7; 300]).with_le(2);
        let enc = cmd.encode().unwrap();
        assert_eq!(enc[..7], [0, 0xD6, 0, 0, 0, 0x01, 0x2C]);
        assert_eq!(enc[enc.len() - 2..], [0, 2]);
        assert!(matches!(CommandApdu::new(0, 0, 0, 0).with_le(0).encode(), Err(ApduError::BadLe(0))));
    }

    #[test]
    fn response_parse() {
        let r = ResponseApdu::parse(&[1, 2, 0x90, 0x00]).unwrap();
        assert_eq!((r.data.as_slice(), r.sw), (&[1u8, 2][..], 0x9000));
        assert!(matches!(ResponseApdu::parse(&[0x90]), Err(ApduError::ResponseTooShort(1))));
        let r = ResponseApdu::parse(&[0x6A, 0x82]).unwrap();
        assert_eq!(r.into_data(), Err(StatusError::FileNotFound));
    }

    #[test]
    fn reissues_on_6c() {
        let mut reader = ScriptedReader {
            answers: [vec![0x6C, 0x03], vec![1, 2, 3, 0x90, 0x00]].into(),
            ..Default::default()
        };
        let cmd = CommandApdu::new(0, 0xB0, 0, 0).with_le(0xE7);
        let r = transmit_apdu(&mut reader, ChipInterface::Contactless, &cmd).unwrap();
        assert_eq!(r.data, [1, 2, 3]);
        assert_eq!(reader.sent[1], [0, 0xB0, 0, 0, 3]);
    }

    #[test]
    fn chains_61xx_with_get_response() {
        let mut reader = ScriptedReader {
            answers: [vec![1, 0x61, 0x02], vec![2, 3, 0x61, 0x01], vec![4, 0x90, 0x00]].into(),
            ..Default::default()
        };
        let cmd = CommandApdu::new(0, 0xCA, 0, 0).with_le(256);
        let r = transmit_apdu(&mut reader, ChipInterface::Contact, &cmd).unwrap();
        assert_eq!((r.data, r.sw), (vec![1, 2, 3, 4], 0x9000));
        assert_eq!(reader.sent[1], [0, 0xC0, 0, 0, 2]);
        assert_eq!(reader.sent[2], [0, 0xC0, 0, 0, 1]);
    }
}
