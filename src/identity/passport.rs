//! Reading a passport: MRZ from the window; then, on the chip, EF.CardAccess from the master
//! file, PACE when it offers it (password: the scanned MRZ or a CAN keyed in) and Basic Access
//! Control otherwise; EF.COM, DG1, DG2, DG14, DG15 and EF.SOD under secure messaging; passive
//! authentication of what was read; Chip Authentication (DG14) and Active Authentication (DG15)
//! against cloned chips.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use kiosk_hal::card_reader::{CardReader, CardReaderError, ChipInterface, DeviceErrorKind};
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

use super::active_auth::{self, AaEvidence};
use super::apdu::{transmit_apdu, transmit_chained, CommandApdu, ResponseApdu, StatusError};
use super::atr_info;
use super::bac::{self, Authentication};
use super::chip_auth;
use super::keys;
use super::lds::{self, FaceImage};
use super::mrz::Mrz;
use super::pa::{self, PaFailure, PassiveAuthentication};
use super::pace::{self, OsKeys, PaceError, PaceLink, Password};
use super::security_info::{self, Mapping, PaceInfo, SecurityInfos};
use super::sm::{SecureChannel, SmError};
use super::tlv;
use super::trust::TrustStore;
use super::IdentityError;

/// eMRTD LDS1 application.
const EMRTD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
/// EF.CardAccess, in the master file.
const FID_CARD_ACCESS: u16 = 0x011C;
const FID_EF_COM: u16 = 0x011E;
const FID_DG1: u16 = 0x0101;
const FID_DG2: u16 = 0x0102;
const FID_DG14: u16 = 0x010E;
const FID_DG15: u16 = 0x010F;
const FID_EF_SOD: u16 = 0x011D;
const TAG_DG14: u8 = 0x6E;
const TAG_DG15: u8 = 0x6F;
/// Whole chip sessions tried: a second one recovers from a transient radio or MAC error,
/// continuing the files already read.
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
    /// PACE, then secure messaging for every file.
    Pace,
    /// Basic Access Control, then secure messaging for every file.
    Bac,
    /// The chip asks for no access control (plain APDUs).
    Plain,
}

impl ChipAccess {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pace => "PACE",
            Self::Bac => "BAC",
            Self::Plain => "plain",
        }
    }
}

/// How PACE ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaceReport {
    pub mapping: Mapping,
    pub parameter_id: u64,
    /// `"mrz"` or `"can"`.
    pub password: &'static str,
    pub protocol: String,
}

/// The verdict of Chip or Active Authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChipCheck {
    Passed,
    Failed(String),
    /// The chip does not offer it (no DG14 key / no DG15).
    NotSupported,
}

impl ChipCheck {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed(_) => "failed",
            Self::NotSupported => "not_supported",
        }
    }
}

/// What was read from the passport; `mrz` comes from the chip and matched the data page.
#[derive(Debug)]
pub struct PassportRead {
    pub mrz: Mrz,
    pub face_image: FaceImage,
    /// Bytes of LDS files read from the chip (EF.COM, DG1, DG2, DG14, DG15, EF.SOD).
    pub bytes_read: usize,
    pub access: ChipAccess,
    /// The verdict; [`read_passport`] only returns documents that passed.
    pub authentication: PassiveAuthentication,
    pub pace: Option<PaceReport>,
    pub chip_authentication: ChipCheck,
    pub active_authentication: ChipCheck,
    /// The chip's signature over this session's challenge, to keep with the audit record.
    pub active_authentication_evidence: Option<AaEvidence>,
    /// Wall time of each step of the last chip session.
    pub timings: Vec<(&'static str, Duration)>,
}

impl PassportRead {
    /// A genuine document's data on a chip that failed to prove it is the original. Counted
    /// only when passive authentication passed (otherwise the data itself is not trusted).
    pub fn clone_suspected(&self) -> bool {
        self.authentication.passed()
            && (matches!(self.chip_authentication, ChipCheck::Failed(_))
                || matches!(self.active_authentication, ChipCheck::Failed(_)))
    }

    pub fn trusted(&self) -> bool {
        self.authentication.passed() && !self.clone_suspected()
    }

    /// Why the document is not trusted, as [`IdentityError::NotTrusted`] carries it.
    pub fn distrust(&self) -> Option<PaFailure> {
        if let PassiveAuthentication::Failed(failure) = &self.authentication {
            return Some(failure.clone());
        }
        for (what, check) in [("Chip Authentication", &self.chip_authentication), ("Active Authentication", &self.active_authentication)] {
            if let ChipCheck::Failed(reason) = check {
                return Some(PaFailure::CloneSuspected(format!("{what}: {reason}")));
            }
        }
        None
    }
}

/// Choices of one read.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ReadOptions<'a> {
    /// The card access number keyed in: PACE then uses it instead of the MRZ.
    pub can: Option<&'a str>,
    /// Bound into the Active Authentication challenge (e.g. the audit chain head).
    pub session_binding: &'a [u8],
    /// The MRZ keyed in by the person on a reader without an MRZ window: the "MRZ information"
    /// (document number padded with `<` to 9, birth date, expiry date, each with its check
    /// digit; 24 characters). The window is then not scanned, PACE and BAC use it, and DG1's
    /// three fields must equal it.
    pub keyed_mrz: Option<&'a str>,
}

/// Reads the passport on the reader's window and returns it only when it is trusted: passive
/// authentication passed and neither Chip nor Active Authentication failed. Otherwise
/// [`IdentityError::NotTrusted`].
pub fn read_passport(reader: &mut dyn CardReader, trust: &TrustStore) -> Result<PassportRead, IdentityError> {
    read_passport_with(reader, trust, &ReadOptions::default())
}

/// [`read_passport`] with a CAN and the session's binding for Active Authentication.
pub fn read_passport_with(
    reader: &mut dyn CardReader,
    trust: &TrustStore,
    options: &ReadOptions<'_>,
) -> Result<PassportRead, IdentityError> {
    let read = read_passport_report_with(reader, trust, options)?;
    match read.distrust() {
        None => Ok(read),
        Some(failure) => Err(IdentityError::NotTrusted(failure)),
    }
}

/// [`read_passport`] with the CSCA trust store loaded from `csca_dir` (`card_reader.csca_dir`).
pub fn read_trusted_passport(reader: &mut dyn CardReader, csca_dir: &Path) -> Result<PassportRead, IdentityError> {
    let trust = TrustStore::load_dir(csca_dir)?;
    read_passport(reader, &trust)
}

/// [`read_trusted_passport`] with a CAN and the session's binding for Active Authentication.
pub fn read_trusted_passport_with(
    reader: &mut dyn CardReader,
    csca_dir: &Path,
    options: &ReadOptions<'_>,
) -> Result<PassportRead, IdentityError> {
    let trust = TrustStore::load_dir(csca_dir)?;
    read_passport_with(reader, &trust, options)
}

/// Reads the passport and reports the verdicts, whatever they are (for technicians' tools: the
/// flow uses [`read_passport`]).
pub fn read_passport_report(reader: &mut dyn CardReader, trust: &TrustStore) -> Result<PassportRead, IdentityError> {
    read_passport_report_with(reader, trust, &ReadOptions::default())
}

/// [`read_passport_report`] with a CAN and the session's binding.
pub fn read_passport_report_with(
    reader: &mut dyn CardReader,
    trust: &TrustStore,
    options: &ReadOptions<'_>,
) -> Result<PassportRead, IdentityError> {
    let (scanned, information) = match options.keyed_mrz {
        Some(keyed) => {
            super::mrz::verify_information(keyed).map_err(IdentityError::KeyedMrz)?;
            (None, Zeroizing::new(keyed.to_owned()))
        }
        None => {
            let mut lines = reader.scan_mrz().map_err(|e| match e {
                CardReaderError::Device { kind: DeviceErrorKind::NoDocument, .. } => IdentityError::NoDocument,
                // Ordinary card readers: no window to scan, the person keys the MRZ in.
                CardReaderError::Device { kind: DeviceErrorKind::UnknownCommand, .. } => IdentityError::NoMrzWindow,
                other => IdentityError::Reader(other),
            })?;
            let scanned = Mrz::from_lines(&lines);
            lines.zeroize();
            let scanned = scanned.map_err(IdentityError::ScannedMrz)?;
            let information = bac::mrz_information(&scanned);
            (Some(scanned), information)
        }
    };

    let mut attempt = 1;
    let mut progress = Progress::default();
    let files = loop {
        match read_chip(reader, &information, options, &mut progress) {
            Ok(files) => break files,
            Err(error) if attempt < CHIP_ATTEMPTS && is_transient(&error) => {
                tracing::warn!(%error, attempt, resume_at = progress.resume_point(), "chip session failed, starting it again");
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    };
    let ChipFiles { access, mut dg1, mut dg2, dg14, dg15, sod, bytes_read, pace, chip_authentication, active_authentication, evidence, mut timings } =
        files;
    let parsed = lds::parse_dg1(&dg1)
        .map_err(|source| IdentityError::Lds { file: "DG1", source })
        .and_then(|mrz| Ok((mrz, lds::parse_dg2(&dg2).map_err(|source| IdentityError::Lds { file: "DG2", source })?)));
    let started = Instant::now();
    let mut groups: Vec<(u8, &[u8])> = vec![(1, &dg1), (2, &dg2)];
    if let Some(dg14) = &dg14 {
        groups.push((14, dg14));
    }
    if let Some(dg15) = &dg15 {
        groups.push((15, dg15));
    }
    let authentication = match &sod {
        Some(sod) => pa::verify(sod, &groups, trust, SystemTime::now()),
        None => PassiveAuthentication::Failed(PaFailure::SodMissing),
    };
    drop(groups);
    timings.push(("passive authentication", started.elapsed()));
    dg1.zeroize();
    dg2.zeroize();
    let (chip_mrz, face_image) = parsed?;
    let matches = match &scanned {
        Some(scanned) => chip_mrz.raw() == scanned.raw(),
        // Keyed in: the three fields typed are all there is to compare.
        None => *bac::mrz_information(&chip_mrz) == *information,
    };
    if !matches {
        return Err(IdentityError::DocumentMismatch);
    }
    let read = PassportRead {
        mrz: chip_mrz,
        face_image,
        bytes_read,
        access,
        authentication,
        pace,
        chip_authentication,
        active_authentication,
        active_authentication_evidence: evidence,
        timings,
    };
    let (ca, aa) = (read.chip_authentication.name(), read.active_authentication.name());
    match &read.authentication {
        PassiveAuthentication::Passed { document_signer, .. } => {
            if read.clone_suspected() {
                tracing::warn!(bytes_read, ?access, ca, aa, "passport chip read, passive authentication passed but the chip is SUSPECTED A CLONE");
            } else {
                tracing::info!(bytes_read, ?access, ca, aa, format = ?read.face_image.format, %document_signer, "passport chip read, passive authentication passed");
            }
        }
        PassiveAuthentication::Failed(failure) => {
            tracing::warn!(bytes_read, ?access, ca, aa, %failure, "passport chip read, passive authentication FAILED");
        }
    }
    Ok(read)
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

/// Files read in earlier chip sessions of this read, and the part of the one that was cut
/// off: a new session re-authenticates and continues at that offset. Wiped when dropped.
#[derive(Default)]
struct Progress {
    done: Vec<(u16, Vec<u8>)>,
    partial: Option<(u16, Vec<u8>)>,
}

impl Progress {
    fn resume_point(&self) -> usize {
        self.partial.as_ref().map_or(0, |(_, b)| b.len())
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        for (_, bytes) in &mut self.done {
            bytes.zeroize();
        }
        if let Some((_, bytes)) = &mut self.partial {
            bytes.zeroize();
        }
    }
}

/// The raw files and verdicts of one chip session.
struct ChipFiles {
    access: ChipAccess,
    dg1: Vec<u8>,
    dg2: Vec<u8>,
    dg14: Option<Vec<u8>>,
    dg15: Option<Vec<u8>>,
    sod: Option<Vec<u8>>,
    bytes_read: usize,
    pace: Option<PaceReport>,
    chip_authentication: ChipCheck,
    active_authentication: ChipCheck,
    evidence: Option<AaEvidence>,
    timings: Vec<(&'static str, Duration)>,
}

/// One chip session: field on, access control, files, chip checks, field off.
fn read_chip(
    reader: &mut dyn CardReader,
    information: &str,
    options: &ReadOptions<'_>,
    progress: &mut Progress,
) -> Result<ChipFiles, IdentityError> {
    reader.activate_contactless().map_err(|e| match e {
        CardReaderError::Device { kind: DeviceErrorKind::ContactlessNoCard, .. } => IdentityError::NoChip,
        other => IdentityError::Reader(other),
    })?;
    let mut session = ChipSession {
        reader: &mut *reader,
        chunk: INITIAL_CHUNK,
        bytes_read: 0,
        sm: None,
        extended_length: false,
        access: ChipAccess::Plain,
        progress,
        timings: Vec::new(),
    };
    let result = session.read_all(information, options);
    let bytes_read = session.bytes_read;
    let access = session.access;
    let timings = std::mem::take(&mut session.timings);
    drop(session);
    if let Err(error) = reader.deactivate_contactless() {
        tracing::warn!(%error, "could not deactivate the contactless field after reading");
    }
    let mut files = result?;
    files.access = access;
    files.bytes_read = bytes_read;
    files.timings = timings;
    Ok(files)
}

struct ChipSession<'r> {
    reader: &'r mut dyn CardReader,
    /// Current READ BINARY size (Le).
    chunk: usize,
    bytes_read: usize,
    /// Set once PACE or BAC succeeded: every APDU then goes through it.
    sm: Option<SecureChannel>,
    /// The chip announced extended-length APDUs (EF.ATR/INFO); until then, none is sent.
    extended_length: bool,
    access: ChipAccess,
    progress: &'r mut Progress,
    timings: Vec<(&'static str, Duration)>,
}

impl PaceLink for ChipSession<'_> {
    type Error = IdentityError;
    fn exchange(&mut self, cmd: &CommandApdu) -> Result<ResponseApdu, IdentityError> {
        self.transmit(cmd)
    }
}

impl ChipSession<'_> {
    fn timed<T>(&mut self, step: &'static str, f: impl FnOnce(&mut Self) -> T) -> T {
        let started = Instant::now();
        let out = f(self);
        self.timings.push((step, started.elapsed()));
        out
    }

    fn read_all(&mut self, information: &str, options: &ReadOptions<'_>) -> Result<ChipFiles, IdentityError> {
        self.extended_length = self.timed("EF.ATR/INFO", |s| s.read_atr_info())?;
        let card_access = self.timed("EF.CardAccess", |s| s.read_card_access())?;
        let pace = match card_access.as_ref().and_then(choose_pace) {
            Some(info) => self.timed("PACE", |s| s.pace(&info, information, options))?,
            None => None,
        };
        if pace.is_some() {
            self.select_application()?;
        } else {
            self.select_application()?;
            self.timed("BAC", |s| s.basic_access_control(information))?;
        }
        let com = self.timed("EF.COM", |s| s.read_file(FID_EF_COM, "EF.COM"))?;
        let com = lds::parse_ef_com(&com).map_err(|source| IdentityError::Lds { file: "EF.COM", source })?;
        for tag in [0x61, 0x75] {
            if !com.tag_list.contains(&tag) {
                return Err(IdentityError::MissingDataGroup(tag));
            }
        }
        let mut dg1 = Zeroizing::new(self.timed("DG1", |s| s.read_file(FID_DG1, "DG1"))?);
        let dg2 = self.timed("DG2", |s| s.read_file(FID_DG2, "DG2"))?;
        let dg14 = match com.tag_list.contains(&TAG_DG14) {
            true => self.timed("DG14", |s| s.read_optional(FID_DG14, "DG14"))?,
            false => None,
        };
        let dg15 = match com.tag_list.contains(&TAG_DG15) {
            true => self.timed("DG15", |s| s.read_optional(FID_DG15, "DG15"))?,
            false => None,
        };
        let sod = self.timed("EF.SOD", |s| s.read_optional(FID_EF_SOD, "EF.SOD"))?;

        let dg14_infos = dg14.as_deref().map(security_info::parse_dg14);
        let chip_authentication = self.timed("Chip Authentication", |s| s.chip_authentication(dg14_infos.as_ref(), pace.as_ref()));
        let (active_authentication, evidence) = match (&chip_authentication, &dg15) {
            (ChipCheck::Failed(_), Some(_)) => {
                (ChipCheck::Failed("not attempted: secure messaging ended with the failed Chip Authentication".into()), None)
            }
            (_, Some(dg15)) => {
                let algorithm = dg14_infos.as_ref().and_then(|r| r.as_ref().ok()).and_then(|i| i.active_authentication_algorithm()).map(|o| o.to_string());
                self.timed("Active Authentication", |s| s.active_authentication(dg15, algorithm.as_deref(), options.session_binding))?
            }
            (_, None) => (ChipCheck::NotSupported, None),
        };
        let report = pace.map(|(report, _)| report);
        Ok(ChipFiles {
            access: self.access,
            dg1: std::mem::take(&mut *dg1),
            dg2,
            dg14,
            dg15,
            sod,
            bytes_read: self.bytes_read,
            pace: report,
            chip_authentication,
            active_authentication,
            evidence,
            timings: Vec::new(),
        })
    }

    fn select_application(&mut self) -> Result<(), IdentityError> {
        self.select(CommandApdu::new(0x00, 0xA4, 0x04, 0x0C).with_data(EMRTD_AID.to_vec()), "the passport application")
    }

    /// EF.ATR/INFO from the master file (before the application is selected): whether the
    /// chip takes extended-length APDUs. No file (6A82, or any refusal: 6982 from a BAC chip),
    /// an unreadable or a malformed one: no extended length.
    fn read_atr_info(&mut self) -> Result<bool, IdentityError> {
        let select = CommandApdu::new(0x00, 0xA4, 0x02, 0x0C).with_data(atr_info::FID_ATR_INFO.to_be_bytes().to_vec());
        let answer = self.transmit(&select)?;
        if answer.sw != 0x9000 {
            tracing::debug!(sw = answer.sw, "no EF.ATR/INFO: no extended-length APDUs");
            return Ok(false);
        }
        // One read of up to 256 bytes (the file is a few data objects); the chunk size found
        // here is not kept: a short answer means a small file, not a chip limit.
        let chunk = self.chunk;
        let read = self.read_chunk(0, INITIAL_CHUNK, "EF.ATR/INFO");
        self.chunk = chunk;
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(error @ (IdentityError::Chip { .. } | IdentityError::ChipProtocol(_) | IdentityError::AccessControlRequired)) => {
                tracing::debug!(%error, "EF.ATR/INFO unreadable: no extended-length APDUs");
                return Ok(false);
            }
            Err(error) => return Err(error),
        };
        match atr_info::parse(&bytes) {
            Ok(info) => {
                tracing::debug!(extended = info.supported, max_command = ?info.max_command, max_response = ?info.max_response, "EF.ATR/INFO read");
                Ok(info.supported)
            }
            Err(error) => {
                tracing::warn!(%error, "EF.ATR/INFO is malformed: no extended-length APDUs");
                Ok(false)
            }
        }
    }

    /// EF.CardAccess from the master file (before the application is selected); `None` when
    /// the chip has none (BAC-only documents answer 6A82, or 6982 to anything before BAC).
    fn read_card_access(&mut self) -> Result<Option<SecurityInfos>, IdentityError> {
        let select = CommandApdu::new(0x00, 0xA4, 0x02, 0x0C).with_data(FID_CARD_ACCESS.to_be_bytes().to_vec());
        let answer = self.transmit(&select)?;
        if answer.sw != 0x9000 {
            tracing::debug!(sw = answer.sw, "no EF.CardAccess: the chip offers no PACE");
            return Ok(None);
        }
        let bytes = match self.read_selected(FID_CARD_ACCESS, "EF.CardAccess") {
            Ok(bytes) => bytes,
            Err(IdentityError::Chip { status, .. }) => {
                tracing::debug!(%status, "EF.CardAccess unreadable: no PACE");
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
        match security_info::parse_card_access(&bytes) {
            Ok(infos) => Ok(Some(infos)),
            Err(error) => {
                // Unsigned and only an offer: a malformed one means BAC, as if absent.
                tracing::warn!(%error, "EF.CardAccess is malformed: using Basic Access Control");
                Ok(None)
            }
        }
    }

    /// PACE with the CAN if one was keyed in, else the scanned MRZ. A chip that refuses the
    /// protocol (not the password) is read with BAC instead.
    fn pace(
        &mut self,
        info: &PaceInfo,
        information: &str,
        options: &ReadOptions<'_>,
    ) -> Result<Option<(PaceReport, pace::PaceOutcome)>, IdentityError> {
        let password = match options.can {
            Some(can) => Password::Can(Zeroizing::new(can.to_owned())),
            None => Password::Mrz(Zeroizing::new(information.to_owned())),
        };
        match pace::run(self, info, &password, &mut OsKeys) {
            Ok(mut outcome) => {
                let report = PaceReport {
                    mapping: outcome.mapping,
                    parameter_id: outcome.parameter_id,
                    password: password.kind(),
                    protocol: info.protocol.oid.to_string(),
                };
                self.sm = Some(std::mem::replace(&mut outcome.channel, SecureChannel::from_secret(info.protocol.cipher, &[])));
                self.chunk = self.chunk.min(SM_CHUNK);
                self.access = ChipAccess::Pace;
                tracing::debug!(mapping = outcome.mapping.name(), parameter_id = outcome.parameter_id, password = password.kind(), "PACE done, secure messaging on");
                Ok(Some((report, outcome)))
            }
            Err(IdentityError::Pace(PaceError::WrongPassword(_) | PaceError::BadToken)) => Err(IdentityError::AccessDenied),
            Err(IdentityError::Pace(error)) => {
                tracing::warn!(%error, "PACE failed: trying Basic Access Control");
                Ok(None)
            }
            Err(error @ IdentityError::ExtendedLengthUnsupported { .. }) => {
                tracing::warn!(%error, "PACE with this group impossible: trying Basic Access Control");
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }
    /// BAC with the key from the scanned MRZ, when the chip offers it (GET CHALLENGE answers).
    fn basic_access_control(&mut self, information: &str) -> Result<(), IdentityError> {
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
        let keys = bac::access_keys(information);
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
        self.access = ChipAccess::Bac;
        tracing::debug!("Basic Access Control done, secure messaging on");
        Ok(())
    }

    /// Sends one command, through secure messaging once it is on. A `6Cxx` inside secure
    /// messaging is re-issued here (the outer layer never sees it).
    /// A command that would need extended length (more than 255 data bytes) to a chip that
    /// did not announce it is not sent: [`IdentityError::ExtendedLengthUnsupported`]. Long
    /// answers are then asked for with a short Le (the chip chains them with `61xx`).
    fn transmit(&mut self, cmd: &CommandApdu) -> Result<ResponseApdu, IdentityError> {
        let extended = self.extended_length;
        let Some(sm) = self.sm.as_mut() else {
            if !extended && cmd.data.len() > 0xFF {
                return Err(IdentityError::ExtendedLengthUnsupported { ins: cmd.ins, lc: cmd.data.len() });
            }
            let cmd = match cmd.le {
                Some(le) if !extended && le > 256 => cmd.clone().with_le(256),
                _ => cmd.clone(),
            };
            return Ok(transmit_apdu(self.reader, IFACE, &cmd)?);
        };
        sm.set_extended_length(extended);
        let lc = sm.protected_data_len(cmd);
        if !extended && lc > 0xFF {
            return Err(IdentityError::ExtendedLengthUnsupported { ins: cmd.ins, lc });
        }
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
        if let Some(index) = self.progress.done.iter().position(|(f, _)| *f == fid) {
            // Read whole in an earlier session of this read: its hash is checked all the same.
            return Ok(self.progress.done.swap_remove(index).1);
        }
        let select = CommandApdu::new(0x00, 0xA4, 0x02, 0x0C).with_data(fid.to_be_bytes().to_vec());
        self.select(select, name)?;
        self.read_selected(fid, name)
    }

    /// A file the chip may lack (6A82): `None` then.
    fn read_optional(&mut self, fid: u16, name: &'static str) -> Result<Option<Vec<u8>>, IdentityError> {
        match self.read_file(fid, name) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(IdentityError::Chip { status: StatusError::FileNotFound, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Reads the selected file whole, continuing where an earlier session was cut off.
    fn read_selected(&mut self, fid: u16, name: &'static str) -> Result<Vec<u8>, IdentityError> {
        let mut file = match self.progress.partial.take() {
            Some((f, bytes)) if f == fid && bytes.len() >= HEADER_PEEK => {
                tracing::debug!(file = name, offset = bytes.len(), "resuming the read where the last session stopped");
                bytes
            }
            other => {
                self.progress.partial = other;
                self.read_chunk(0, HEADER_PEEK, name)?
            }
        };
        let (_, header_len, value_len) =
            tlv::parse_header(&file).map_err(|e| IdentityError::Lds { file: name, source: e.into() })?;
        let total = header_len.saturating_add(value_len);
        if total > MAX_FILE_LEN {
            return Err(IdentityError::FileTooLarge { file: name, len: total });
        }
        file.truncate(total);
        while file.len() < total {
            match self.read_chunk(file.len(), total - file.len(), name) {
                Ok(mut chunk) => {
                    chunk.truncate(total - file.len());
                    file.append(&mut chunk);
                }
                Err(error) => {
                    // Kept for the next session (lost field, MAC out of step) to continue.
                    if is_transient(&error) {
                        if let Some((_, mut old)) = self.progress.partial.replace((fid, std::mem::take(&mut file))) {
                            old.zeroize();
                        }
                    } else {
                        file.zeroize();
                    }
                    return Err(error);
                }
            }
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
            // Le = 256 (or any large Le) refused by some chips with 6B00, 6282 without data or
            // 6700: probe smaller sizes.
            let refused_size = match response.sw {
                0x6700 => true,
                0x6B00 | 0x6282 => response.data.is_empty() && le > MIN_CHUNK && offset < MAX_FILE_LEN,
                _ => false,
            };
            if refused_size {
                if self.chunk <= MIN_CHUNK {
                    return Err(IdentityError::ChipProtocol(format!(
                        "the chip refuses READ BINARY of {name} even {MIN_CHUNK} bytes at a time"
                    )));
                }
                self.chunk = smaller_chunk(self.chunk.min(le));
                tracing::debug!(chunk = self.chunk, sw = response.sw, "chip refused the read size, lowering it");
                continue;
            }
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
                sw => return Err(chip_error(name, StatusError::from_sw(sw))),
            }
        }
    }

    /// Chip Authentication: PACE-CAM's proof when PACE used that mapping, else version 1 with
    /// DG14's key, confirmed by a protected command under the new keys.
    fn chip_authentication(
        &mut self,
        dg14: Option<&Result<SecurityInfos, security_info::SecurityInfoError>>,
        pace: Option<&(PaceReport, pace::PaceOutcome)>,
    ) -> ChipCheck {
        let infos = match dg14 {
            None => return ChipCheck::NotSupported,
            Some(Err(error)) => return ChipCheck::Failed(format!("DG14 is malformed: {error}")),
            Some(Ok(infos)) => infos,
        };
        if let Some(proof) = pace.and_then(|(_, outcome)| outcome.chip_authentication.as_ref()) {
            let Some(key) = infos.chip_authentication_keys().next() else {
                return ChipCheck::Failed("PACE-CAM without a chip key in DG14".into());
            };
            return match keys::agreement_key(&key.public_key).map(|k| proof.verify(&k.public)) {
                Ok(Ok(true)) => ChipCheck::Passed,
                Ok(Ok(false)) => ChipCheck::Failed("the PACE-CAM proof does not match the DG14 key".into()),
                Ok(Err(error)) => ChipCheck::Failed(format!("PACE-CAM: {error}")),
                Err(error) => ChipCheck::Failed(format!("PACE-CAM: {error}")),
            };
        }
        let (info, key) = match chip_auth::offer(infos) {
            Some((info, key)) => (info.clone(), key.to_vec()),
            None => match chip_auth::implied_info(infos) {
                Some(found) => found,
                None => return ChipCheck::NotSupported,
            },
        };
        let prepared = match chip_auth::prepare(&info, &key, &mut OsKeys) {
            Ok(prepared) => prepared,
            Err(error) => {
                tracing::warn!(%error, "Chip Authentication not possible with DG14's key");
                return ChipCheck::Failed(error.to_string());
            }
        };
        for cmd in &prepared.commands {
            match self.transmit(cmd) {
                Ok(answer) if answer.sw == 0x9000 => {}
                Ok(answer) => return ChipCheck::Failed(format!("the chip refused Chip Authentication ({:04X})", answer.sw)),
                Err(error) => return ChipCheck::Failed(format!("Chip Authentication exchange failed: {error}")),
            }
        }
        self.sm = Some(prepared.channel());
        self.chunk = self.chunk.min(SM_CHUNK);
        // Only the chip with the private key answers this under the new keys.
        let confirm = CommandApdu::new(0x00, 0xA4, 0x02, 0x0C).with_data(FID_EF_COM.to_be_bytes().to_vec());
        match self.transmit(&confirm) {
            Ok(answer) if answer.sw == 0x9000 => {
                tracing::debug!(protocol = prepared.protocol, cipher = prepared.cipher.name(), "Chip Authentication passed, secure messaging restarted");
                ChipCheck::Passed
            }
            Ok(answer) => ChipCheck::Failed(format!("the chip answered {:04X} under the new keys", answer.sw)),
            Err(error) => {
                self.sm = None;
                ChipCheck::Failed(format!("the chip cannot continue secure messaging under the Chip Authentication keys: {error}"))
            }
        }
    }

    /// Active Authentication: INTERNAL AUTHENTICATE with a challenge bound to this session.
    fn active_authentication(
        &mut self,
        dg15: &[u8],
        algorithm: Option<&str>,
        binding: &[u8],
    ) -> Result<(ChipCheck, Option<AaEvidence>), IdentityError> {
        let key = match keys::parse_dg15(dg15) {
            Ok(key) => key,
            Err(error) => return Ok((ChipCheck::Failed(format!("DG15: {error}")), None)),
        };
        let mut nonce = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let challenge = active_auth::challenge(binding, &nonce);
        // Ask for what the key can sign (RSA: the modulus; ECDSA: at most a DER signature), not
        // 256: under secure messaging a larger Le makes the command extended length, which
        // chips that do not support it refuse (RSA-2048 needs it all the same).
        let le = key.size().clamp(1, 256);
        let cmd = CommandApdu::new(0x00, 0x88, 0x00, 0x00).with_data(challenge.to_vec()).with_le(le);
        let answer = match self.transmit(&cmd) {
            Ok(answer) => answer,
            Err(IdentityError::SecureMessaging(error)) => {
                return Ok((ChipCheck::Failed(format!("the chip's answer failed secure messaging: {error}")), None))
            }
            Err(error @ IdentityError::ExtendedLengthUnsupported { .. }) => {
                return Ok((ChipCheck::Failed(error.to_string()), None))
            }
            Err(error) => return Err(error),
        };
        if answer.sw != 0x9000 {
            return Ok((ChipCheck::Failed(format!("the chip refused INTERNAL AUTHENTICATE ({:04X})", answer.sw)), None));
        }
        let evidence = AaEvidence { challenge, nonce, signature: answer.data.clone() };
        Ok(match active_auth::verify(&key, algorithm, &challenge, &answer.data) {
            Ok(()) => (ChipCheck::Passed, Some(evidence)),
            Err(active_auth::AaFailure::Unsupported(what)) => {
                tracing::warn!(what, "Active Authentication not verifiable");
                (ChipCheck::Failed(format!("not verifiable: {what}")), Some(evidence))
            }
            Err(failure) => (ChipCheck::Failed(failure.to_string()), Some(evidence)),
        })
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

/// The PACE offer to use: the first of EF.CardAccess's (the chip's order) with a standardised
/// parameter id this reader supports. Integrated mapping needs AES-128 (see `pace`).
fn choose_pace(infos: &SecurityInfos) -> Option<PaceInfo> {
    infos
        .pace()
        .find(|info| {
            let id_ok = info.parameter_id.is_some_and(|id| super::domain::Group::standard(id).is_ok());
            let mapping_ok = info.protocol.mapping != Mapping::Integrated || info.protocol.cipher == super::cipher::Cipher::Aes128;
            id_ok && mapping_ok
        })
        .cloned()
}
