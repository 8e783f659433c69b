//! Reading a passport: MRZ from the window; then, on the chip, Basic Access Control with the
//! key from that MRZ, EF.COM, DG1, DG2 and EF.SOD under secure messaging; then passive
//! authentication of what was read.

use std::path::Path;
use std::time::SystemTime;

use kiosk_hal::card_reader::{CardReader, CardReaderError, ChipInterface, DeviceErrorKind};
use rand::RngCore;
use zeroize::Zeroize;

use super::apdu::{transmit_apdu, transmit_chained, CommandApdu, ResponseApdu, StatusError};
use super::bac::{self, Authentication};
use super::lds::{self, FaceImage};
use super::mrz::Mrz;
use super::pa::{self, PaFailure, PassiveAuthentication};
use super::sm::{SecureChannel, SmError};
use super::tlv;
use super::trust::TrustStore;
use super::IdentityError;

/// eMRTD LDS1 application.
const EMRTD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
const FID_EF_COM: u16 = 0x011E;
const FID_DG1: u16 = 0x0101;
const FID_DG2: u16 = 0x0102;
const FID_EF_SOD: u16 = 0x011D;
/// Whole chip sessions tried: a second one recovers from a transient radio or MAC error.
const CHIP_ATTEMPTS: u32 = 2;
/// First READ BINARY size under secure messaging: the wrapped answer still fits 256 bytes.
const SM_CHUNK: usize = 0xE7;
const IFACE: ChipInterface = ChipInterface::Contactless;
/// First READ BINARY size tried (short Le `00`); lowered when the chip refuses it.
const INITIAL_CHUNK: usize = 256;
const MIN_CHUNK: usize = 16;
/// Enough for the TLV header of any LDS file (2-byte tag, `83` length).
const HEADER_PEEK: usize = 6;
/// Highest offset READ BINARY (B0) can carry in P1 P2; beyond it the odd INS (B1) is used.
const MAX_B0_OFFSET: usize = 0x7FFF;
/// Files above this are refused as corrupt: a DG2 is typically 15–100 KB.
const MAX_FILE_LEN: usize = 1 << 20;

/// How the chip was accessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChipAccess {
    /// Basic Access Control, then secure messaging for every file.
    Bac,
    /// The chip asks for no access control (plain APDUs).
    Plain,
}

/// What was read from the passport; `mrz` comes from the chip and matched the data page.
#[derive(Debug)]
pub struct PassportRead {
    pub mrz: Mrz,
    pub face_image: FaceImage,
    /// Bytes of LDS files read from the chip (EF.COM, DG1, DG2, EF.SOD).
    pub bytes_read: usize,
    pub access: ChipAccess,
    /// The verdict; [`read_passport`] only returns documents that passed.
    pub authentication: PassiveAuthentication,
}

/// Reads the passport on the reader's window and returns it only when passive authentication
/// passed; a document that fails it is [`IdentityError::NotTrusted`].
pub fn read_passport(reader: &mut dyn CardReader, trust: &TrustStore) -> Result<PassportRead, IdentityError> {
    let read = read_passport_report(reader, trust)?;
    match &read.authentication {
        PassiveAuthentication::Passed { .. } => Ok(read),
        PassiveAuthentication::Failed(failure) => Err(IdentityError::NotTrusted(failure.clone())),
    }
}

/// [`read_passport`] with the CSCA trust store loaded from `csca_dir` (`card_reader.csca_dir`).
pub fn read_trusted_passport(reader: &mut dyn CardReader, csca_dir: &Path) -> Result<PassportRead, IdentityError> {
    let trust = TrustStore::load_dir(csca_dir)?;
    read_passport(reader, &trust)
}

/// Reads the passport and reports the passive authentication verdict, whatever it is
/// (for technicians' tools: the flow uses [`read_passport`]).
pub fn read_passport_report(reader: &mut dyn CardReader, trust: &TrustStore) -> Result<PassportRead, IdentityError> {
    let mut lines = reader.scan_mrz().map_err(|e| match e {
        CardReaderError::Device { kind: DeviceErrorKind::NoDocument, .. } => IdentityError::NoDocument,
        other => IdentityError::Reader(other),
    })?;
    let scanned = Mrz::from_lines(&lines);
    lines.zeroize();
    let scanned = scanned.map_err(IdentityError::ScannedMrz)?;

    let mut attempt = 1;
    let files = loop {
        match read_chip(reader, &scanned) {
            Ok(files) => break files,
            Err(error) if attempt < CHIP_ATTEMPTS && is_transient(&error) => {
                tracing::warn!(%error, attempt, "chip session failed, starting it again");
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    };
    let ChipFiles { access, mut dg1, mut dg2, sod, bytes_read } = files;
    let parsed = lds::parse_dg1(&dg1)
        .map_err(|source| IdentityError::Lds { file: "DG1", source })
        .and_then(|mrz| Ok((mrz, lds::parse_dg2(&dg2).map_err(|source| IdentityError::Lds { file: "DG2", source })?)));
    let authentication = match &sod {
        Some(sod) => pa::verify(sod, &[(1, &dg1), (2, &dg2)], trust, SystemTime::now()),
        None => PassiveAuthentication::Failed(PaFailure::SodMissing),
    };
    dg1.zeroize();
    dg2.zeroize();
    let (chip_mrz, face_image) = parsed?;
    if chip_mrz.raw() != scanned.raw() {
        return Err(IdentityError::DocumentMismatch);
    }
    match &authentication {
        PassiveAuthentication::Passed { document_signer, .. } => {
            tracing::info!(bytes_read, ?access, format = ?face_image.format, %document_signer, "passport chip read, passive authentication passed");
        }
        PassiveAuthentication::Failed(failure) => {
            tracing::warn!(bytes_read, ?access, %failure, "passport chip read, passive authentication FAILED");
        }
    }
    Ok(PassportRead { mrz: chip_mrz, face_image, bytes_read, access, authentication })
}

/// Errors worth one more chip session: radio glitches and secure messaging out of step.
fn is_transient(error: &IdentityError) -> bool {
    use DeviceErrorKind as K;
    match error {
        IdentityError::SecureMessaging(_) => true,
        IdentityError::Reader(CardReaderError::Device { kind, .. })
        | IdentityError::Apdu(super::apdu::ApduError::Reader(CardReaderError::Device { kind, .. })) => {
            matches!(kind, K::ChipCommunication | K::ContactlessCommunication)
        }
        _ => false,
    }
}

/// The raw files of one chip session.
struct ChipFiles {
    access: ChipAccess,
    dg1: Vec<u8>,
    dg2: Vec<u8>,
    sod: Option<Vec<u8>>,
    bytes_read: usize,
}

/// One chip session: field on, access control, files, field off.
fn read_chip(reader: &mut dyn CardReader, scanned: &Mrz) -> Result<ChipFiles, IdentityError> {
    reader.activate_contactless().map_err(|e| match e {
        CardReaderError::Device { kind: DeviceErrorKind::ContactlessNoCard, .. } => IdentityError::NoChip,
        other => IdentityError::Reader(other),
    })?;
    let mut session = ChipSession { reader: &mut *reader, chunk: INITIAL_CHUNK, bytes_read: 0, sm: None };
    let result = session.read_all(scanned);
    let bytes_read = session.bytes_read;
    let access = if session.sm.is_some() { ChipAccess::Bac } else { ChipAccess::Plain };
    drop(session);
    if let Err(error) = reader.deactivate_contactless() {
        tracing::warn!(%error, "could not deactivate the contactless field after reading");
    }
    let (dg1, dg2, sod) = result?;
    Ok(ChipFiles { access, dg1, dg2, sod, bytes_read })
}

struct ChipSession<'r> {
    reader: &'r mut dyn CardReader,
    /// Current READ BINARY size (Le).
    chunk: usize,
    bytes_read: usize,
    /// Set once Basic Access Control succeeded: every APDU then goes through it.
    sm: Option<SecureChannel>,
}

type Files = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

impl ChipSession<'_> {
    fn read_all(&mut self, scanned: &Mrz) -> Result<Files, IdentityError> {
        self.select(
            CommandApdu::new(0x00, 0xA4, 0x04, 0x0C).with_data(EMRTD_AID.to_vec()),
            "the passport application",
        )?;
        self.basic_access_control(scanned)?;
        let com = self.read_file(FID_EF_COM, "EF.COM")?;
        let com = lds::parse_ef_com(&com).map_err(|source| IdentityError::Lds { file: "EF.COM", source })?;
        for tag in [0x61, 0x75] {
            if !com.tag_list.contains(&tag) {
                return Err(IdentityError::MissingDataGroup(tag));
            }
        }
        let mut dg1 = self.read_file(FID_DG1, "DG1")?;
        let dg2 = match self.read_file(FID_DG2, "DG2") {
            Ok(dg2) => dg2,
            Err(error) => {
                dg1.zeroize();
                return Err(error);
            }
        };
        let sod = match self.read_file(FID_EF_SOD, "EF.SOD") {
            Ok(sod) => Some(sod),
            Err(IdentityError::Chip { status: StatusError::FileNotFound, .. }) => None,
            Err(error) => {
                dg1.zeroize();
                return Err(error);
            }
        };
        Ok((dg1, dg2, sod))
    }

    /// BAC with the key from the scanned MRZ, when the chip offers it (GET CHALLENGE answers).
    fn basic_access_control(&mut self, scanned: &Mrz) -> Result<(), IdentityError> {
        let challenge = self.transmit(&CommandApdu::new(0x00, 0x84, 0x00, 0x00).with_le(8))?;
        let rnd_ic: [u8; 8] = match (challenge.sw, challenge.data.as_slice().try_into()) {
            (0x9000, Ok(rnd)) => rnd,
            (0x6D00 | 0x6E00 | 0x6A81 | 0x6A86, _) => {
                tracing::debug!("chip offers no Basic Access Control, reading in plain");
                return Ok(());
            }
            (0x9000, Err(_)) => {
                return Err(IdentityError::ChipProtocol(format!(
                    "GET CHALLENGE returned {} bytes, expected 8",
                    challenge.data.len()
                )))
            }
            (sw, _) => return Err(chip_error("a challenge", StatusError::from_sw(sw))),
        };
        let mut rnd_ifd = [0u8; 8];
        let mut k_ifd = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut rnd_ifd);
        rand::rngs::OsRng.fill_bytes(&mut k_ifd);
        let keys = bac::access_keys(&bac::mrz_information(scanned));
        let auth = Authentication::new(keys, rnd_ic, rnd_ifd, k_ifd);
        k_ifd.zeroize();
        let data = auth.command_data().map_err(IdentityError::Bac)?;
        let answer = self.transmit(&CommandApdu::new(0x00, 0x82, 0x00, 0x00).with_data(data).with_le(40))?;
        match answer.sw {
            0x9000 => {}
            // 6300: the chip's check of our cryptogram failed, i.e. the MRZ key is not its key.
            0x6300 | 0x6982 => return Err(IdentityError::AccessDenied),
            sw => return Err(chip_error("mutual authentication", StatusError::from_sw(sw))),
        }
        self.sm = Some(auth.finish(&answer.data).map_err(IdentityError::Bac)?);
        self.chunk = self.chunk.min(SM_CHUNK);
        tracing::debug!("Basic Access Control done, secure messaging on");
        Ok(())
    }

    /// Sends one command, through secure messaging once it is on. A `6Cxx` inside secure
    /// messaging is re-issued here (the outer layer never sees it).
    fn transmit(&mut self, cmd: &CommandApdu) -> Result<ResponseApdu, IdentityError> {
        let Some(sm) = self.sm.as_mut() else {
            return Ok(transmit_apdu(self.reader, IFACE, cmd)?);
        };
        let mut response = sm_exchange(self.reader, sm, cmd)?;
        if response.sw1() == 0x6C {
            let le = match response.sw2() {
                0 => 256,
                n => usize::from(n),
            };
            response = sm_exchange(self.reader, sm, &cmd.clone().with_le(le))?;
        }
        Ok(response)
    }

    fn select(&mut self, cmd: CommandApdu, what: &'static str) -> Result<(), IdentityError> {
        let response = self.transmit(&cmd)?;
        response.into_data().map(drop).map_err(|status| chip_error(what, status))
    }

    fn read_file(&mut self, fid: u16, name: &'static str) -> Result<Vec<u8>, IdentityError> {
        let select = CommandApdu::new(0x00, 0xA4, 0x02, 0x0C).with_data(fid.to_be_bytes().to_vec());
        self.select(select, name)?;
        let mut file = self.read_chunk(0, HEADER_PEEK, name)?;
        let (_, header_len, value_len) =
            tlv::parse_header(&file).map_err(|e| IdentityError::Lds { file: name, source: e.into() })?;
        let total = header_len.saturating_add(value_len);
        if total > MAX_FILE_LEN {
            return Err(IdentityError::FileTooLarge { file: name, len: total });
        }
        file.truncate(total);
        while file.len() < total {
            let mut chunk = self.read_chunk(file.len(), total - file.len(), name)?;
            chunk.truncate(total - file.len());
            file.append(&mut chunk);
        }
        self.bytes_read += file.len();
        tracing::debug!(file = name, len = total, chunk = self.chunk, "read file from chip");
        Ok(file)
    }

    /// One READ BINARY of up to `want` bytes at `offset`, lowering the chunk size when refused.
    fn read_chunk(
        &mut self,
        offset: usize,
        want: usize,
        name: &'static str,
    ) -> Result<Vec<u8>, IdentityError> {
        loop {
            let odd = offset > MAX_B0_OFFSET;
            // B1 answers inside a `53` object: room for its header on top of the data.
            let le = if odd { want.saturating_add(4).min(self.chunk) } else { want.min(self.chunk) };
            let cmd = if odd {
                let [_, o1, o2, o3] = u32::try_from(offset).unwrap_or(u32::MAX).to_be_bytes();
                CommandApdu::new(0x00, 0xB1, 0x00, 0x00).with_data(vec![0x54, 0x03, o1, o2, o3]).with_le(le)
            } else {
                let [p1, p2] = u16::try_from(offset).unwrap_or(0).to_be_bytes();
                CommandApdu::new(0x00, 0xB0, p1, p2).with_le(le)
            };
            let response = self.transmit(&cmd)?;
            match response.sw {
                0x9000 | 0x6282 => {
                    let data = if odd { unwrap_53(&response.data, name)? } else { response.data.clone() };
                    if data.is_empty() {
                        return Err(IdentityError::ChipProtocol(format!(
                            "READ BINARY of {name} returned no data"
                        )));
                    }
                    // A chip answering 6Cxx (re-issued by transmit_apdu) sends less: keep its size.
                    if !odd && response.sw == 0x9000 && data.len() < le {
                        self.chunk = data.len().max(MIN_CHUNK);
                    }
                    return Ok(data);
                }
                0x6700 => {
                    if self.chunk <= MIN_CHUNK {
                        return Err(IdentityError::ChipProtocol(format!(
                            "the chip refuses READ BINARY of {name} even {MIN_CHUNK} bytes at a time"
                        )));
                    }
                    self.chunk = smaller_chunk(self.chunk);
                    tracing::debug!(chunk = self.chunk, "chip refused the read size, lowering it");
                }
                sw => return Err(chip_error(name, StatusError::from_sw(sw))),
            }
        }
    }
}

/// Sizes real chips accept: the secure-messaging friendly 0xE7 and 0xDF, then halves.
fn smaller_chunk(chunk: usize) -> usize {
    if chunk > 0xE7 {
        0xE7
    } else if chunk > 0xDF {
        0xDF
    } else {
        (chunk / 2).max(MIN_CHUNK)
    }
}

fn unwrap_53(data: &[u8], name: &'static str) -> Result<Vec<u8>, IdentityError> {
    let (tlv, _) = tlv::parse_one(data).map_err(|e| IdentityError::Lds { file: name, source: e.into() })?;
    if tlv.tag != 0x53 {
        return Err(IdentityError::ChipProtocol(format!(
            "odd READ BINARY of {name} answered without a 53 object"
        )));
    }
    Ok(tlv.value.to_vec())
}

fn sm_exchange(
    reader: &mut dyn CardReader,
    sm: &mut SecureChannel,
    cmd: &CommandApdu,
) -> Result<ResponseApdu, IdentityError> {
    let protected = sm.wrap(cmd)?;
    let outer = transmit_chained(reader, IFACE, &protected)?;
    sm.unwrap(&outer).map_err(|error| match error {
        // The chip dropped secure messaging to report a security problem.
        SmError::Unprotected(0x6982) => IdentityError::AccessControlRequired,
        other => IdentityError::SecureMessaging(other),
    })
}

fn chip_error(what: &'static str, status: StatusError) -> IdentityError {
    match status {
        StatusError::SecurityNotSatisfied | StatusError::SecureMessaging(_) => {
            IdentityError::AccessControlRequired
        }
        status => IdentityError::Chip { what, status },
    }
}
