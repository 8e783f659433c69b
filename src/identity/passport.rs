//! Reading a passport: MRZ from the window, then EF.COM, DG1 and DG2 from the chip.

use kiosk_hal::card_reader::{CardReader, CardReaderError, ChipInterface, DeviceErrorKind};
use zeroize::Zeroize;

use super::apdu::{transmit_apdu, CommandApdu, ResponseApdu, StatusError};
use super::lds::{self, FaceImage};
use super::mrz::Mrz;
use super::tlv;
use super::IdentityError;

/// eMRTD LDS1 application.
const EMRTD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
const FID_EF_COM: u16 = 0x011E;
const FID_DG1: u16 = 0x0101;
const FID_DG2: u16 = 0x0102;
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

/// What was read from the passport; `mrz` comes from the chip and matched the data page.
#[derive(Debug)]
pub struct PassportRead {
    pub mrz: Mrz,
    pub face_image: FaceImage,
    /// Bytes of LDS files read from the chip.
    pub bytes_read: usize,
}

/// Reads the passport lying on the reader's window, through the [`CardReader`] trait only.
pub fn read_passport(reader: &mut dyn CardReader) -> Result<PassportRead, IdentityError> {
    let mut lines = reader.scan_mrz().map_err(|e| match e {
        CardReaderError::Device { kind: DeviceErrorKind::NoDocument, .. } => IdentityError::NoDocument,
        other => IdentityError::Reader(other),
    })?;
    let scanned = Mrz::from_lines(&lines);
    lines.zeroize();
    let scanned = scanned.map_err(IdentityError::ScannedMrz)?;
    // Seam for Basic Access Control (later issue): the document number, birth date and expiry
    // of `scanned` derive the access keys; secure messaging then wraps every APDU sent below.

    reader.activate_contactless().map_err(|e| match e {
        CardReaderError::Device { kind: DeviceErrorKind::ContactlessNoCard, .. } => IdentityError::NoChip,
        other => IdentityError::Reader(other),
    })?;
    let mut session = ChipSession { reader: &mut *reader, chunk: INITIAL_CHUNK, bytes_read: 0 };
    let result = session.read_all();
    let bytes_read = session.bytes_read;
    if let Err(error) = reader.deactivate_contactless() {
        tracing::warn!(%error, "could not deactivate the contactless field after reading");
    }
    let (chip_mrz, face_image) = result?;
    if chip_mrz.raw() != scanned.raw() {
        return Err(IdentityError::DocumentMismatch);
    }
    tracing::info!(bytes_read, format = ?face_image.format, "passport chip read");
    Ok(PassportRead { mrz: chip_mrz, face_image, bytes_read })
}

struct ChipSession<'r> {
    reader: &'r mut dyn CardReader,
    /// Current READ BINARY size (Le).
    chunk: usize,
    bytes_read: usize,
}

impl ChipSession<'_> {
    fn read_all(&mut self) -> Result<(Mrz, FaceImage), IdentityError> {
        self.select(
            CommandApdu::new(0x00, 0xA4, 0x04, 0x0C).with_data(EMRTD_AID.to_vec()),
            "the passport application",
        )?;
        let com = self.read_file(FID_EF_COM, "EF.COM")?;
        let com = lds::parse_ef_com(&com).map_err(|source| IdentityError::Lds { file: "EF.COM", source })?;
        for tag in [0x61, 0x75] {
            if !com.tag_list.contains(&tag) {
                return Err(IdentityError::MissingDataGroup(tag));
            }
        }
        let mut dg1 = self.read_file(FID_DG1, "DG1")?;
        let mrz = lds::parse_dg1(&dg1).map_err(|source| IdentityError::Lds { file: "DG1", source });
        dg1.zeroize();
        let mut dg2 = self.read_file(FID_DG2, "DG2")?;
        let face = lds::parse_dg2(&dg2).map_err(|source| IdentityError::Lds { file: "DG2", source });
        dg2.zeroize();
        Ok((mrz?, face?))
    }

    fn transmit(&mut self, cmd: &CommandApdu) -> Result<ResponseApdu, IdentityError> {
        Ok(transmit_apdu(self.reader, IFACE, cmd)?)
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

fn chip_error(what: &'static str, status: StatusError) -> IdentityError {
    match status {
        StatusError::SecurityNotSatisfied | StatusError::SecureMessaging(_) => {
            IdentityError::AccessControlRequired
        }
        status => IdentityError::Chip { what, status },
    }
}
