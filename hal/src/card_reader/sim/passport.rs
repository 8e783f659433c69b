//! A simulated ICAO 9303 eMRTD chip: EF.CardAccess in the master file, SELECT of the applet and
//! of EF.COM/DG1/DG2/DG14/DG15/EF.SOD, READ BINARY (B0 with offset or short EF identifier, and
//! B1 for offsets past 0x7FFF), Basic Access Control (GET CHALLENGE, EXTERNAL AUTHENTICATE),
//! PACE (MSE:Set AT, GENERAL AUTHENTICATE; [`super::chip_pace`]) and secure messaging with 3DES
//! or AES around every command after either.
//!
//! [`VirtualPassport::new`] gives a BAC-protected chip whose EF.SOD is signed by the test DS of
//! [`super::pki::test_pki`]; builders give PACE, a plain chip, another signer, or faulty data.

use sha1::Sha1;
use sha2::Digest;

use super::ber::tlv;
use super::chip_auth::{self, ActiveAuthConfig, ChipAuthConfig};
use super::chip_crypto::{self as cc, Cipher, Key16, SmSession};
use super::chip_pace::{self, PaceConfig, PaceRun};
use super::pki::{test_pki, TestPki};

/// AID of the eMRTD LDS1 application.
pub const EMRTD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
pub const FID_EF_COM: u16 = 0x011E;
/// EF.ATR/INFO, in the master file (ISO/IEC 7816-4 §8.2.1.1).
pub const FID_ATR_INFO: u16 = 0x2F01;
pub const FID_EF_SOD: u16 = 0x011D;
pub const FID_DG1: u16 = 0x0101;
pub const FID_DG2: u16 = 0x0102;
pub const FID_DG14: u16 = 0x010E;
pub const FID_DG15: u16 = 0x010F;
/// EF.CardAccess, in the master file (short EF identifier 0x1C).
pub const FID_CARD_ACCESS: u16 = 0x011C;
const FID_MF: u16 = 0x3F00;
/// Largest short-Le read many real chips accept.
pub const DEFAULT_MAX_READ: usize = 0xE7;

const SW_OK: [u8; 2] = [0x90, 0x00];
const SW_END_OF_FILE: [u8; 2] = [0x62, 0x82];
const SW_AUTH_FAILED: [u8; 2] = [0x63, 0x00];
const SW_WRONG_LENGTH: [u8; 2] = [0x67, 0x00];
const SW_SECURITY_NOT_SATISFIED: [u8; 2] = [0x69, 0x82];
const SW_NO_EF_SELECTED: [u8; 2] = [0x69, 0x86];
const SW_SM_OBJECTS_MISSING: [u8; 2] = [0x69, 0x87];
const SW_SM_OBJECTS_WRONG: [u8; 2] = [0x69, 0x88];
const SW_FILE_NOT_FOUND: [u8; 2] = [0x6A, 0x82];
const SW_WRONG_P1P2: [u8; 2] = [0x6A, 0x86];
const SW_OFFSET_OUTSIDE: [u8; 2] = [0x6B, 0x00];
const SW_INS_UNKNOWN: [u8; 2] = [0x6D, 0x00];
const SW_CLA_UNKNOWN: [u8; 2] = [0x6E, 0x00];

/// How the chip refuses a READ BINARY asking for more than it sends at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OversizeRead {
    /// `6700`, wrong length.
    WrongLength,
    /// `6Cxx`, with xx the length it would send.
    CorrectLe,
}

/// Misbehaviour of the chip itself (the reader's line faults are [`super::Faults`]).
#[derive(Debug, Clone, Default)]
pub struct ChipFaults {
    /// This many secure-messaging answers carry a wrong MAC.
    pub wrong_mac_replies: u32,
    /// DG2 is cut to this many bytes after signing (its header still declares the full length).
    pub truncate_dg2: Option<usize>,
    /// DG2's header declares 2 MiB, far more than a passport file holds.
    pub oversize_dg2: bool,
    /// One byte of DG2's image is changed after the SOD was signed.
    pub alter_dg2_after_signing: bool,
    /// READ BINARY with Le = 256 (short Le `00`) is answered with this status word alone, as
    /// some chips do (`6B00`, `6282`, `6700`); smaller Le values work.
    pub le_256_answer: Option<[u8; 2]>,
    /// Extended-length APDUs are refused with `6700` (chips that do not support them).
    pub refuse_extended_length: bool,
    /// The field is lost at this APDU (1 = first since the simulator started): the chip loses
    /// its session and gives no answer; re-activated, it answers again.
    pub lose_field_at_apdu: Option<u32>,
    /// This many secure-messaging answers after Chip Authentication carry a wrong MAC.
    pub wrong_mac_after_ca: u32,
}

/// Where the chip is in access control.
#[derive(Clone)]
enum Access {
    /// Nothing but file selection in the master file, EF.CardAccess and access control itself.
    Locked,
    /// GET CHALLENGE answered with this RND.IC.
    Challenged([u8; 8]),
    /// PACE between MSE:Set AT and the last GENERAL AUTHENTICATE.
    Pace(Box<PaceRun>),
    /// Secure messaging established (BAC or PACE).
    Secure(SmSession),
}

/// A passport: the MRZ printed on its data page and the chip behind it.
#[derive(Clone)]
pub struct VirtualPassport {
    mrz_lines: Vec<String>,
    face_image: Vec<u8>,
    ef_com: Vec<u8>,
    dg1: Vec<u8>,
    dg2: Vec<u8>,
    sod: Vec<u8>,
    card_access: Vec<u8>,
    /// EF.ATR/INFO (2F01) in the master file and whether it announces extended length;
    /// `None`: no such file (6A82).
    atr_info: Option<(Vec<u8>, bool)>,
    uid: Vec<u8>,
    max_read: usize,
    oversize: OversizeRead,
    applet_selected: bool,
    selected: Option<u16>,
    /// BAC's K.seed; `None` for a chip without BAC.
    bac_seed: Option<Key16>,
    /// PACE as offered in EF.CardAccess; `None` for a chip without PACE.
    pace: Option<PaceConfig>,
    /// Chip Authentication (DG14); `None`: not offered.
    ca: Option<ChipAuthConfig>,
    /// Active Authentication (DG15); `None`: not offered.
    aa: Option<ActiveAuthConfig>,
    dg14: Vec<u8>,
    dg15: Vec<u8>,
    /// MSE:Set AT for Chip Authentication accepted; GENERAL AUTHENTICATE may follow.
    ca_selected: bool,
    /// The session Chip Authentication agreed, started once its answer has gone out under the
    /// old keys.
    pending_session: Option<SmSession>,
    signer: TestPki,
    access: Access,
    /// State of the chip's random generator (deterministic: reproducible tests).
    random: u64,
    faults: ChipFaults,
    /// APDUs received, for [`ChipFaults::lose_field_at_apdu`].
    apdus: u32,
}

// Holds personal data: never print it.
impl std::fmt::Debug for VirtualPassport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualPassport")
            .field("dg2_len", &self.dg2.len())
            .field("bac", &self.bac_seed.is_some())
            .field("pace", &self.pace.as_ref().map(|p| p.suite))
            .finish_non_exhaustive()
    }
}

/// Decoded command APDU header and body.
struct Apdu<'a> {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &'a [u8],
    /// Ne; `None` when absent.
    le: Option<usize>,
    extended: bool,
}

fn parse_apdu(bytes: &[u8]) -> Option<Apdu<'_>> {
    let (header, body) = bytes.split_at_checked(4)?;
    let [cla, ins, p1, p2] = <[u8; 4]>::try_from(header).ok()?;
    let short_le = |b: u8| if b == 0 { 256 } else { usize::from(b) };
    let ext_le = |h: u8, l: u8| match u16::from_be_bytes([h, l]) {
        0 => 65536,
        n => usize::from(n),
    };
    let (data, le, extended) = match body {
        [] => (&body[..0], None, false),
        [le] => (&body[..0], Some(short_le(*le)), false),
        [0, h, l] => (&body[..0], Some(ext_le(*h, *l)), true),
        [0, h, l, rest @ ..] => {
            let lc = usize::from(u16::from_be_bytes([*h, *l]));
            let data = rest.get(..lc)?;
            match rest.get(lc..)? {
                [] => (data, None, true),
                [h, l] => (data, Some(ext_le(*h, *l)), true),
                _ => return None,
            }
        }
        [lc, rest @ ..] => {
            let lc = usize::from(*lc);
            let data = rest.get(..lc)?;
            match rest.get(lc..)? {
                [] => (data, None, false),
                [le] => (data, Some(short_le(*le)), false),
                _ => return None,
            }
        }
    };
    Some(Apdu { cla, ins, p1, p2, data, le, extended })
}

fn with_sw(mut data: Vec<u8>, sw: [u8; 2]) -> Vec<u8> {
    data.extend_from_slice(&sw);
    data
}

impl VirtualPassport {
    /// A BAC-protected passport with this MRZ (TD3: two lines of 44) and face image (JPEG or
    /// JPEG 2000 bytes), its EF.SOD signed by the kiosk's test document signer.
    pub fn new(mrz_lines: Vec<String>, face_image: Vec<u8>) -> Self {
        let dg1 = tlv(&[0x61], &tlv(&[0x5F, 0x1F], mrz_lines.concat().as_bytes()));
        let bac_seed = Some(bac_seed(&mrz_lines));
        let mut passport = Self {
            mrz_lines,
            face_image,
            ef_com: Vec::new(),
            dg1,
            dg2: Vec::new(),
            sod: Vec::new(),
            card_access: Vec::new(),
            atr_info: None,
            uid: vec![0x08, 0x4B, 0x1D, 0x7E],
            max_read: DEFAULT_MAX_READ,
            oversize: OversizeRead::WrongLength,
            applet_selected: false,
            selected: None,
            bac_seed,
            pace: None,
            ca: None,
            aa: None,
            dg14: Vec::new(),
            dg15: Vec::new(),
            ca_selected: false,
            pending_session: None,
            signer: test_pki().clone(),
            access: Access::Locked,
            random: 0x4608_F919_8870_2212,
            faults: ChipFaults::default(),
            apdus: 0,
        };
        passport.rebuild();
        passport
    }

    /// Re-signs EF.SOD with another CSCA/DS pair (e.g. one the kiosk does not trust).
    pub fn signed_by(mut self, pki: &TestPki) -> Self {
        self.signer = pki.clone();
        self.rebuild();
        self
    }

    /// Builds the files from the chip's configuration, signs EF.SOD over every data group,
    /// then applies the data faults (after signing, so the SOD no longer matches).
    fn rebuild(&mut self) {
        self.dg2 = build_dg2(&self.face_image);
        self.card_access = self.pace.as_ref().map(chip_pace::card_access).unwrap_or_default();
        self.dg14 = match self.security_infos() {
            Ok(infos) if !infos.is_empty() => tlv(&[0x6E], &tlv(&[0x31], &infos)),
            Ok(_) => Vec::new(),
            Err(error) => {
                tracing::error!(?error, "simulated passport could not build DG14");
                Vec::new()
            }
        };
        self.dg15 = match self.aa.as_ref().map(ActiveAuthConfig::public_key_info).transpose() {
            Ok(spki) => spki.map(|k| tlv(&[0x6F], &k)).unwrap_or_default(),
            Err(error) => {
                tracing::error!(?error, "simulated passport could not build DG15");
                Vec::new()
            }
        };
        self.ef_com = build_ef_com(&self.data_group_tags());
        let groups = self.data_groups();
        let refs: Vec<(u8, &[u8])> = groups.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        self.sod = match self.signer.sign_sod(&refs) {
            Ok(sod) => sod,
            Err(error) => {
                tracing::error!(%error, "simulated passport could not sign its SOD");
                Vec::new()
            }
        };
        self.apply_data_faults();
    }

    /// DG14's SecurityInfos: PACEInfo (and the PACE-CAM key), Chip Authentication, and
    /// ActiveAuthenticationInfo for ECDSA.
    fn security_infos(&self) -> Result<Vec<u8>, chip_pace::StepError> {
        let mut infos = Vec::new();
        if let Some(pace) = &self.pace {
            infos.extend(chip_pace::pace_info(pace));
            if let Some(key) = &pace.cam_key {
                infos.extend(chip_auth::cam_public_key_info(pace.parameter_id, key)?);
            }
        }
        if let Some(ca) = &self.ca {
            infos.extend(chip_auth::ca_security_infos(ca)?);
        }
        if let Some(info) = self.aa.as_ref().and_then(ActiveAuthConfig::security_info) {
            infos.extend(info);
        }
        Ok(infos)
    }

    /// `(number, file)` of every data group the chip holds.
    fn data_groups(&self) -> Vec<(u8, Vec<u8>)> {
        let mut groups = vec![(1, self.dg1.clone()), (2, self.dg2.clone())];
        if !self.dg14.is_empty() {
            groups.push((14, self.dg14.clone()));
        }
        if !self.dg15.is_empty() {
            groups.push((15, self.dg15.clone()));
        }
        groups
    }

    fn data_group_tags(&self) -> Vec<u8> {
        let mut tags = vec![0x61, 0x75];
        if !self.dg14.is_empty() {
            tags.push(0x6E);
        }
        if !self.dg15.is_empty() {
            tags.push(0x6F);
        }
        tags
    }

    fn apply_data_faults(&mut self) {
        if let Some(len) = self.faults.truncate_dg2 {
            self.dg2.truncate(len);
        }
        if self.faults.oversize_dg2 {
            // 75 83 20 00 00: a 2 MiB DG2.
            if let Some(header) = self.dg2.get_mut(..5) {
                header.copy_from_slice(&[0x75, 0x83, 0x20, 0x00, 0x00]);
            }
        }
        if self.faults.alter_dg2_after_signing {
            if let Some(last) = self.dg2.last_mut() {
                *last ^= 0x01;
            }
        }
    }

    /// A chip without access control: files readable with plain APDUs.
    pub fn without_bac(mut self) -> Self {
        self.bac_seed = None;
        self
    }

    /// Offers PACE (EF.CardAccess in the master file); with `config.bac_too` false the chip
    /// refuses Basic Access Control, as German passports do.
    pub fn with_pace(mut self, mut config: PaceConfig) -> Self {
        if !config.bac_too {
            self.bac_seed = None;
        }
        if config.suite.mapping == chip_pace::Mapping::ChipAuthentication && config.cam_key.is_none() {
            // PACE-CAM needs a static key; DG14 publishes it with keyId = the parameter id.
            let label = sha2::Sha512::digest(b"kiosk-test/cam-key");
            config.cam_key = super::chip_groups::Group::standard(config.parameter_id)
                .and_then(|g| g.private_key(&label))
                .map(|k| k.to_vec())
                .ok();
        }
        self.pace = Some(config);
        self.rebuild();
        self
    }

    /// Offers Chip Authentication with this key (DG14, signed in EF.SOD).
    pub fn with_chip_authentication(mut self, config: ChipAuthConfig) -> Self {
        self.ca = Some(config);
        self.rebuild();
        self
    }

    /// Offers Active Authentication with this key (DG15, signed in EF.SOD).
    pub fn with_active_authentication(mut self, config: ActiveAuthConfig) -> Self {
        self.aa = Some(config);
        self.rebuild();
        self
    }

    /// Applies faults of the chip's data (after signing, so the SOD no longer matches).
    pub fn with_chip_faults(mut self, faults: ChipFaults) -> Self {
        self.faults = faults;
        self.rebuild();
        self
    }

    /// Serves EF.ATR/INFO (2F01) in the master file. With `extended_length` it holds the
    /// extended length information `7F66` (65 535 bytes each way) and the chip takes
    /// extended-length APDUs; without, only card capabilities `47` with the extended Lc/Le bit
    /// clear, and the chip refuses extended-length APDUs with `6700`. Without this call the
    /// chip has no EF.ATR/INFO (6A82) and takes extended length all the same (as the chips
    /// the kiosk met before it read the file).
    pub fn with_atr_info(mut self, extended_length: bool) -> Self {
        let file = if extended_length {
            vec![0x47, 0x03, 0x00, 0x00, 0x40, 0x7F, 0x66, 0x08, 0x02, 0x02, 0xFF, 0xFF, 0x02, 0x02, 0xFF, 0xFF]
        } else {
            vec![0x47, 0x03, 0x00, 0x00, 0x00]
        };
        self.atr_info = Some((file, extended_length));
        self
    }

    /// Caps the bytes one READ BINARY returns, and says how larger requests are refused.
    pub fn with_max_read(mut self, max_read: usize, oversize: OversizeRead) -> Self {
        self.max_read = max_read.clamp(1, 256);
        self.oversize = oversize;
        self
    }

    pub fn mrz_lines(&self) -> &[String] {
        &self.mrz_lines
    }

    pub fn uid(&self) -> &[u8] {
        &self.uid
    }

    /// The files as the chip stores them, for tests comparing with what the host read.
    /// EF.ATR/INFO as served, when [`Self::with_atr_info`] gave the chip one.
    pub fn atr_info(&self) -> Option<&[u8]> {
        self.atr_info.as_ref().map(|(file, _)| file.as_slice())
    }

    pub fn ef_com(&self) -> &[u8] {
        &self.ef_com
    }

    pub fn dg1(&self) -> &[u8] {
        &self.dg1
    }

    pub fn dg2(&self) -> &[u8] {
        &self.dg2
    }

    pub fn sod(&self) -> &[u8] {
        &self.sod
    }

    /// DG14 and DG15; empty when the chip offers neither Chip nor Active Authentication.
    pub fn dg14(&self) -> &[u8] {
        &self.dg14
    }

    pub fn dg15(&self) -> &[u8] {
        &self.dg15
    }

    /// EF.CardAccess; empty for a chip without PACE.
    pub fn card_access(&self) -> &[u8] {
        &self.card_access
    }

    /// Field activation: the chip starts over, nothing selected, no session.
    pub fn reset(&mut self) {
        self.applet_selected = false;
        self.selected = None;
        self.access = Access::Locked;
        self.ca_selected = false;
        self.pending_session = None;
    }

    fn access_controlled(&self) -> bool {
        self.bac_seed.is_some() || self.pace.is_some()
    }

    /// Answers one command APDU (plain, or protected by secure messaging) with data + SW1 SW2.
    /// An empty answer means the chip left the field (see [`ChipFaults::lose_field_at_apdu`]).
    pub fn process_apdu(&mut self, command: &[u8]) -> Vec<u8> {
        self.apdus = self.apdus.saturating_add(1);
        if self.faults.lose_field_at_apdu == Some(self.apdus) {
            self.reset();
            return Vec::new();
        }
        let Some(apdu) = parse_apdu(command) else {
            return SW_WRONG_LENGTH.to_vec();
        };
        let announced_none = matches!(self.atr_info, Some((_, false)));
        if apdu.extended && (self.faults.refuse_extended_length || announced_none) {
            return SW_WRONG_LENGTH.to_vec();
        }
        if apdu.cla & !0x10 == 0x0C {
            return self.process_secure(&apdu);
        }
        if apdu.cla & !0x10 != 0x00 {
            return SW_CLA_UNKNOWN.to_vec();
        }
        if self.access_controlled() {
            return self.process_locked(&apdu);
        }
        self.process_plain(&apdu)
    }

    /// A plain command to a chip with access control: only what leads to authentication.
    fn process_locked(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        let in_pace = matches!(self.access, Access::Pace(_));
        // A plain command ends any secure messaging session.
        if matches!(self.access, Access::Secure(_)) {
            self.access = Access::Locked;
        }
        match (apdu.ins, apdu.p1) {
            (0xA4, 0x04) => self.select(apdu).to_vec(),
            // Selections and reads in the master file (EF.CardAccess); none in the applet.
            (0xA4, _) if !self.applet_selected => self.select(apdu).to_vec(),
            (0xB0, _) if !self.applet_selected => self.read_binary(apdu),
            (0x84, _) if self.bac_seed.is_some() => self.get_challenge(apdu),
            (0x82, _) if self.bac_seed.is_some() => self.external_authenticate(apdu),
            (0x22, 0xC1) if self.pace.is_some() => self.pace_start(apdu),
            (0x86, _) if in_pace => self.pace_step(apdu),
            _ => SW_SECURITY_NOT_SATISFIED.to_vec(),
        }
    }

    fn process_plain(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        match apdu.ins {
            0xA4 => self.select(apdu).to_vec(),
            0xB0 => self.read_binary(apdu),
            0xB1 => self.read_binary_odd(apdu),
            0x22 if self.ca.is_some() => self.chip_authentication_mse(apdu),
            0x86 if self.ca_selected => self.chip_authentication_step(apdu),
            0x88 if self.aa.is_some() => self.internal_authenticate(apdu),
            _ => SW_INS_UNKNOWN.to_vec(),
        }
    }

    /// MSE:Set KAT (41A6, 3DES: keys agreed at once) or MSE:Set AT (41A4, then GENERAL
    /// AUTHENTICATE) for Chip Authentication.
    fn chip_authentication_mse(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        let Some(config) = self.ca.as_ref() else { return SW_INS_UNKNOWN.to_vec() };
        self.ca_selected = false;
        let result = match (apdu.p1, apdu.p2) {
            (0x41, 0xA6) => chip_auth::set_kat(config, apdu.data).map(|session| self.pending_session = Some(session)),
            (0x41, 0xA4) => chip_auth::set_at(config, apdu.data).map(|()| self.ca_selected = true),
            _ => return SW_WRONG_P1P2.to_vec(),
        };
        match result {
            Ok(()) => SW_OK.to_vec(),
            Err(chip_pace::StepError(sw)) => sw.to_vec(),
        }
    }

    fn chip_authentication_step(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        self.ca_selected = false;
        let Some(config) = self.ca.as_ref() else { return SW_INS_UNKNOWN.to_vec() };
        match chip_auth::general_authenticate(config, apdu.data) {
            Ok(session) => {
                self.pending_session = Some(session);
                with_sw(vec![0x7C, 0x00], SW_OK)
            }
            Err(chip_pace::StepError(sw)) => sw.to_vec(),
        }
    }

    /// INTERNAL AUTHENTICATE: Active Authentication's signature over RND.IFD.
    fn internal_authenticate(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        let Some(config) = self.aa.clone() else { return SW_INS_UNKNOWN.to_vec() };
        if (apdu.p1, apdu.p2) != (0, 0) {
            return SW_WRONG_P1P2.to_vec();
        }
        let mut random = |n: usize| self.random_bytes(n);
        match config.sign(apdu.data, &mut random) {
            Ok(signature) => with_sw(signature, SW_OK),
            Err(chip_pace::StepError(sw)) => sw.to_vec(),
        }
    }

    fn next_random(&mut self) -> [u8; 8] {
        // xorshift64: reproducible, and a fresh value each time.
        let mut x = self.random;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random = x;
        x.to_be_bytes()
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend(self.next_random());
        }
        out.truncate(n);
        out
    }

    fn get_challenge(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        if apdu.le != Some(8) || !apdu.data.is_empty() {
            return SW_WRONG_LENGTH.to_vec();
        }
        let rnd_ic = self.next_random();
        self.access = Access::Challenged(rnd_ic);
        with_sw(rnd_ic.to_vec(), SW_OK)
    }

    /// BAC mutual authentication, chip side (Doc 9303 Part 11 §4.3).
    fn external_authenticate(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        let (Some(seed), Access::Challenged(rnd_ic)) = (self.bac_seed, self.access.clone()) else {
            return SW_SECURITY_NOT_SATISFIED.to_vec();
        };
        self.access = Access::Locked;
        let Some((e_ifd, m_ifd)) = apdu.data.split_at_checked(32).filter(|(_, m)| m.len() == 8) else {
            return SW_WRONG_LENGTH.to_vec();
        };
        let (k_enc, k_mac) = (cc::derive_key(&seed, 1), cc::derive_key(&seed, 2));
        if cc::retail_mac(&k_mac, &cc::pad(e_ifd)) != m_ifd {
            return SW_AUTH_FAILED.to_vec();
        }
        let s = cc::decrypt(&k_enc, e_ifd);
        let (Some(rnd_ifd), Some(got_ic), Some(k_ifd)) = (s.get(..8), s.get(8..16), s.get(16..32)) else {
            return SW_AUTH_FAILED.to_vec();
        };
        if got_ic != rnd_ic {
            return SW_AUTH_FAILED.to_vec();
        }
        let mut k_ic = [0u8; 16];
        k_ic[..8].copy_from_slice(&self.next_random());
        k_ic[8..].copy_from_slice(&self.next_random());
        let mut r = rnd_ic.to_vec();
        r.extend_from_slice(rnd_ifd);
        r.extend_from_slice(&k_ic);
        let e_ic = cc::encrypt(&k_enc, &r);
        let m_ic = cc::retail_mac(&k_mac, &cc::pad(&e_ic));
        let session_seed: Vec<u8> = k_ifd.iter().zip(k_ic).map(|(a, b)| a ^ b).collect();
        let mut ssc = [0u8; 8];
        ssc[..4].copy_from_slice(&rnd_ic[4..]);
        ssc[4..].copy_from_slice(rnd_ifd.get(4..8).unwrap_or(&[0; 4]));
        self.access = Access::Secure(SmSession::new(
            Cipher::Tdes,
            cc::derive_key(&session_seed, 1).to_vec(),
            cc::derive_key(&session_seed, 2).to_vec(),
            ssc.to_vec(),
        ));
        let mut out = e_ic;
        out.extend_from_slice(&m_ic);
        with_sw(out, SW_OK)
    }

    /// K = SHA-1(MRZ information), PACE's MRZ password encoding (Part 11 Table 14).
    fn mrz_key(&self) -> Vec<u8> {
        Sha1::digest(mrz_information(&self.mrz_lines)).to_vec()
    }

    /// MSE:Set AT for PACE (P1P2 C1A4).
    fn pace_start(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        self.access = Access::Locked;
        let Some(config) = self.pace.as_ref() else { return SW_SECURITY_NOT_SATISFIED.to_vec() };
        if apdu.p2 != 0xA4 {
            return SW_WRONG_P1P2.to_vec();
        }
        match PaceRun::start(config, apdu.data, &self.mrz_key()) {
            Ok(run) => {
                self.access = Access::Pace(Box::new(run));
                SW_OK.to_vec()
            }
            Err(chip_pace::StepError(sw)) => sw.to_vec(),
        }
    }

    /// One GENERAL AUTHENTICATE of the PACE chain; any failure ends PACE.
    fn pace_step(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        let Access::Pace(mut run) = std::mem::replace(&mut self.access, Access::Locked) else {
            return SW_SECURITY_NOT_SATISFIED.to_vec();
        };
        let last = apdu.cla & 0x10 == 0;
        let mut random = |n: usize| self.random_bytes(n);
        match run.general_authenticate(apdu.data, last, &mut random) {
            Ok((reply, Some(session))) => {
                self.access = Access::Secure(session);
                with_sw(reply, SW_OK)
            }
            Ok((reply, None)) => {
                self.access = Access::Pace(run);
                with_sw(reply, SW_OK)
            }
            Err(chip_pace::StepError(sw)) => sw.to_vec(),
        }
    }

    /// Unwraps a protected command, runs it, wraps the answer. Any SM error ends the session.
    fn process_secure(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        let Access::Secure(mut sm) = std::mem::replace(&mut self.access, Access::Locked) else {
            return SW_SECURITY_NOT_SATISFIED.to_vec();
        };
        let Some(objects) = parse_objects(apdu.data) else {
            return SW_SM_OBJECTS_WRONG.to_vec();
        };
        let find = |tag: u8| objects.iter().find(|(t, _, _)| *t == tag);
        let Some((_, _, mac)) = find(0x8E) else {
            return SW_SM_OBJECTS_MISSING.to_vec();
        };
        sm.increment();
        let mut n = sm.padded_header(&[apdu.cla, apdu.ins, apdu.p1, apdu.p2]);
        for (tag, raw, _) in &objects {
            if matches!(tag, 0x85 | 0x87 | 0x97) {
                n.extend_from_slice(raw);
            }
        }
        if sm.mac(&n).as_slice() != *mac {
            return SW_SM_OBJECTS_WRONG.to_vec();
        }
        let odd = apdu.ins & 1 == 1;
        let data = match (find(0x87), find(0x85)) {
            (Some((_, _, [0x01, cryptogram @ ..])), None) => sm.decrypt(cryptogram),
            (None, Some((_, _, cryptogram))) => sm.decrypt(cryptogram),
            (None, None) => Some(Vec::new()),
            _ => None,
        };
        let Some(data) = data else {
            return SW_SM_OBJECTS_WRONG.to_vec();
        };
        let le = match find(0x97).map(|(_, _, v)| *v) {
            None => None,
            Some([0]) => Some(256),
            Some([n]) => Some(usize::from(*n)),
            Some([0, 0]) => Some(65536),
            Some([h, l]) => Some(usize::from(u16::from_be_bytes([*h, *l]))),
            Some(_) => return SW_SM_OBJECTS_WRONG.to_vec(),
        };
        let plain = Apdu { cla: 0, ins: apdu.ins, p1: apdu.p1, p2: apdu.p2, data: &data, le, extended: false };
        let answer = self.process_plain(&plain);
        let Some((body, sw)) = answer.split_at_checked(answer.len().saturating_sub(2)) else {
            return SW_SM_OBJECTS_WRONG.to_vec();
        };
        sm.increment();
        let mut out = Vec::new();
        if !body.is_empty() {
            let cryptogram = sm.encrypt(body);
            if odd {
                out.extend(tlv(&[0x85], &cryptogram));
            } else {
                let mut value = vec![0x01];
                value.extend(cryptogram);
                out.extend(tlv(&[0x87], &value));
            }
        }
        out.extend(tlv(&[0x99], sw));
        let mut mac = sm.mac(&out);
        if self.faults.wrong_mac_replies > 0 {
            self.faults.wrong_mac_replies -= 1;
            mac[0] ^= 0xFF;
        }
        out.extend(tlv(&[0x8E], &mac));
        out.extend_from_slice(sw);
        // Chip Authentication answered under the old keys; the new session starts now.
        if let Some(next) = self.pending_session.take() {
            sm = next;
            self.faults.wrong_mac_replies += std::mem::take(&mut self.faults.wrong_mac_after_ca);
        }
        self.access = Access::Secure(sm);
        out
    }

    fn select(&mut self, apdu: &Apdu<'_>) -> [u8; 2] {
        let fid = match apdu.data {
            [h, l] => Some(u16::from_be_bytes([*h, *l])),
            _ => None,
        };
        match (apdu.p1, apdu.p2 & 0xF3) {
            (0x04, 0x00) => {
                if apdu.data == EMRTD_AID {
                    self.applet_selected = true;
                    self.selected = None;
                    SW_OK
                } else {
                    SW_FILE_NOT_FOUND
                }
            }
            // The master file, by empty data or its identifier.
            (0x00, 0x00) if apdu.data.is_empty() || fid == Some(FID_MF) => {
                self.applet_selected = false;
                self.selected = None;
                SW_OK
            }
            (0x00 | 0x02, 0x00) => {
                let Some(fid) = fid else { return SW_WRONG_LENGTH };
                if self.file(fid).is_some() {
                    self.selected = Some(fid);
                    SW_OK
                } else {
                    SW_FILE_NOT_FOUND
                }
            }
            _ => SW_WRONG_P1P2,
        }
    }

    /// The file `fid` in the current DF: EF.CardAccess in the master file, the data groups in
    /// the applet.
    fn file(&self, fid: u16) -> Option<&[u8]> {
        if !self.applet_selected {
            return match fid {
                FID_ATR_INFO => self.atr_info.as_ref().map(|(file, _)| file.as_slice()),
                _ => (fid == FID_CARD_ACCESS && self.pace.is_some()).then_some(self.card_access.as_slice()),
            };
        }
        let file = match fid {
            FID_EF_COM => &self.ef_com,
            FID_DG1 => &self.dg1,
            FID_DG2 => &self.dg2,
            FID_DG14 => &self.dg14,
            FID_DG15 => &self.dg15,
            FID_EF_SOD => &self.sod,
            _ => return None,
        };
        (!file.is_empty()).then_some(file.as_slice())
    }

    /// The file a short EF identifier names in the current DF.
    fn short_file_id(&self, sfi: u8) -> u16 {
        match (self.applet_selected, sfi) {
            (false, 0x1C) => FID_CARD_ACCESS,
            (true, 0x1D) => FID_EF_SOD,
            (true, 0x1E) => FID_EF_COM,
            (true, n) => 0x0100 | u16::from(n),
            (false, n) => u16::from(n),
        }
    }

    fn read_binary(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        let offset = if apdu.p1 & 0x80 != 0 {
            // Short EF identifier in P1, offset in P2: selects the file as it reads.
            let fid = self.short_file_id(apdu.p1 & 0x1F);
            if self.file(fid).is_none() {
                return SW_FILE_NOT_FOUND.to_vec();
            }
            self.selected = Some(fid);
            usize::from(apdu.p2)
        } else {
            usize::from(u16::from_be_bytes([apdu.p1, apdu.p2]))
        };
        let Some(file) = self.selected.and_then(|fid| self.file(fid)) else {
            return SW_NO_EF_SELECTED.to_vec();
        };
        let Some(le) = apdu.le else {
            return SW_WRONG_LENGTH.to_vec();
        };
        if le == 256 {
            if let Some(sw) = self.faults.le_256_answer {
                return sw.to_vec();
            }
        }
        if offset >= file.len() {
            return SW_OFFSET_OUTSIDE.to_vec();
        }
        let available = file.len() - offset;
        if le > self.max_read {
            return match self.oversize {
                OversizeRead::WrongLength => SW_WRONG_LENGTH.to_vec(),
                OversizeRead::CorrectLe => {
                    let fits = self.max_read.min(available);
                    vec![0x6C, u8::try_from(fits).unwrap_or(0)]
                }
            };
        }
        let end = offset + le.min(available);
        let data = file.get(offset..end).unwrap_or_default().to_vec();
        with_sw(data, if le > available { SW_END_OF_FILE } else { SW_OK })
    }
}

impl VirtualPassport {
    /// READ BINARY with odd INS, for offsets beyond 0x7FFF: offset in a `54` object,
    /// data returned in a `53` object whose whole encoding fits Le.
    fn read_binary_odd(&self, apdu: &Apdu<'_>) -> Vec<u8> {
        if (apdu.p1, apdu.p2) != (0, 0) {
            return SW_WRONG_P1P2.to_vec();
        }
        let Some(file) = self.selected.and_then(|fid| self.file(fid)) else {
            return SW_NO_EF_SELECTED.to_vec();
        };
        let offset = match apdu.data {
            [0x54, n, rest @ ..] if usize::from(*n) == rest.len() && (1..=3).contains(n) => {
                rest.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
            }
            _ => return SW_WRONG_LENGTH.to_vec(),
        };
        if apdu.le == Some(256) {
            if let Some(sw) = self.faults.le_256_answer {
                return sw.to_vec();
            }
        }
        let Some(le) = apdu.le.filter(|&le| (3..=self.max_read).contains(&le)) else {
            return SW_WRONG_LENGTH.to_vec();
        };
        if offset >= file.len() {
            return SW_OFFSET_OUTSIDE.to_vec();
        }
        let available = file.len() - offset;
        // Tag and a length of up to 81 xx.
        let room = le - 3;
        let end = offset + room.min(available);
        let data = tlv(&[0x53], file.get(offset..end).unwrap_or_default());
        with_sw(data, if room > available { SW_END_OF_FILE } else { SW_OK })
    }
}

/// MRZ information (Part 11 §9.7.2): the document number, birth date and expiry date, each
/// with its check digit, from a TD3 MRZ.
fn mrz_information(mrz_lines: &[String]) -> Vec<u8> {
    let line2 = mrz_lines.get(1).map(String::as_bytes).unwrap_or_default();
    let mut info = Vec::new();
    for range in [0..10, 13..20, 21..28] {
        info.extend_from_slice(line2.get(range).unwrap_or_default());
    }
    info
}

/// BAC's K.seed from the MRZ: the first 16 bytes of SHA-1 over the MRZ information. A
/// malformed MRZ gives a seed no host can reproduce, which is what such a chip would do.
fn bac_seed(mrz_lines: &[String]) -> Key16 {
    let digest = Sha1::digest(mrz_information(mrz_lines));
    let mut seed = [0u8; 16];
    seed.copy_from_slice(&digest[..16]);
    seed
}

/// One secure messaging data object: tag, whole encoding, value.
type DataObject<'a> = (u8, &'a [u8], &'a [u8]);

/// Secure messaging data objects; `None` when malformed.
fn parse_objects(mut data: &[u8]) -> Option<Vec<DataObject<'_>>> {
    let mut out = Vec::new();
    while let [tag, rest @ ..] = data {
        let (len, header) = match rest {
            [n, ..] if *n < 0x80 => (usize::from(*n), 2),
            [0x81, n, ..] => (usize::from(*n), 3),
            [0x82, h, l, ..] => (usize::from(u16::from_be_bytes([*h, *l])), 4),
            _ => return None,
        };
        let raw = data.get(..header + len)?;
        out.push((*tag, raw, raw.get(header..)?));
        data = data.get(header + len..)?;
    }
    Some(out)
}

fn build_ef_com(tags: &[u8]) -> Vec<u8> {
    let mut body = tlv(&[0x5F, 0x01], b"0107");
    body.extend(tlv(&[0x5F, 0x36], b"040000"));
    body.extend(tlv(&[0x5C], tags));
    tlv(&[0x60], &body)
}

/// True for a JPEG 2000 file (JP2 signature box) or raw codestream.
fn is_jpeg2000(image: &[u8]) -> bool {
    image.starts_with(&[0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20])
        || image.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
}

/// ISO/IEC 19794-5:2005 facial record with one face, no feature points.
fn build_facial_record(image: &[u8]) -> Vec<u8> {
    const HEADER: usize = 14;
    const FACIAL_INFO: usize = 20;
    const IMAGE_INFO: usize = 12;
    let block_len = FACIAL_INFO + IMAGE_INFO + image.len();
    let record_len = HEADER + block_len;
    let mut r = Vec::with_capacity(record_len);
    r.extend_from_slice(b"FAC\0");
    r.extend_from_slice(b"010\0");
    r.extend_from_slice(&(record_len as u32).to_be_bytes());
    r.extend_from_slice(&1u16.to_be_bytes()); // number of faces
                                              // Facial information block.
    r.extend_from_slice(&(block_len as u32).to_be_bytes());
    r.extend_from_slice(&0u16.to_be_bytes()); // feature points
    r.extend_from_slice(&[0x00, 0x00, 0x00]); // gender, eye colour, hair colour: unspecified
    r.extend_from_slice(&[0x00, 0x00, 0x00]); // property mask
    r.extend_from_slice(&0u16.to_be_bytes()); // expression
    r.extend_from_slice(&[0x00; 3]); // pose angle yaw, pitch, roll
    r.extend_from_slice(&[0x00; 3]); // pose angle uncertainty
                                     // Image information block.
    r.push(0x01); // face image type: full frontal
    r.push(if is_jpeg2000(image) { 0x01 } else { 0x00 });
    r.extend_from_slice(&480u16.to_be_bytes()); // width
    r.extend_from_slice(&640u16.to_be_bytes()); // height
    r.push(0x01); // colour space: 24-bit RGB
    r.push(0x02); // source type: digital camera
    r.extend_from_slice(&0u16.to_be_bytes()); // device type
    r.extend_from_slice(&0u16.to_be_bytes()); // quality
    r.extend_from_slice(image);
    r
}

fn build_dg2(image: &[u8]) -> Vec<u8> {
    let mut header = tlv(&[0x80], &[0x01, 0x01]); // patron header version
    header.extend(tlv(&[0x81], &[0x02])); // biometric type: facial features
    header.extend(tlv(&[0x87], &[0x01, 0x01])); // format owner
    header.extend(tlv(&[0x88], &[0x00, 0x08])); // format type
    let mut bit = tlv(&[0xA1], &header);
    bit.extend(tlv(&[0x5F, 0x2E], &build_facial_record(image)));
    let mut group = tlv(&[0x02], &[0x01]); // number of instances
    group.extend(tlv(&[0x7F, 0x60], &bit));
    tlv(&[0x75], &tlv(&[0x7F, 0x61], &group))
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::chip_pace::PaceSuite;

    fn passport() -> VirtualPassport {
        let mut face = vec![0xFF, 0xD8, 0xFF, 0xE0];
        face.resize(40_000, 0x5A);
        VirtualPassport::new(vec!["A".repeat(44), "B".repeat(44)], face).without_bac()
    }

    #[test]
    fn bac_chip_refuses_plain_reads() {
        let mut p = VirtualPassport::new(vec!["A".repeat(44), "B".repeat(44)], vec![0xFF, 0xD8, 0xFF]);
        assert_eq!(
            p.process_apdu(&[0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01]),
            SW_OK
        );
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x1E]), SW_SECURITY_NOT_SATISFIED);
        assert_eq!(p.process_apdu(&[0x00, 0x84, 0x00, 0x00, 0x08]).len(), 10);
        // A wrong MAC on EXTERNAL AUTHENTICATE fails authentication.
        let mut cmd = vec![0x00, 0x82, 0x00, 0x00, 0x28];
        cmd.extend([0u8; 40]);
        cmd.push(0x28);
        assert_eq!(p.process_apdu(&cmd), SW_AUTH_FAILED);
    }

    fn select_dg1(p: &mut VirtualPassport) {
        assert_eq!(
            p.process_apdu(&[0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01]),
            SW_OK
        );
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x01]), SW_OK);
    }

    #[test]
    fn ef_com_bytes() {
        let p = passport();
        assert_eq!(
            p.ef_com(),
            [
                0x60, 0x14, 0x5F, 0x01, 0x04, b'0', b'1', b'0', b'7', 0x5F, 0x36, 0x06, b'0', b'4', b'0',
                b'0', b'0', b'0', 0x5C, 0x02, 0x61, 0x75
            ]
        );
    }

    #[test]
    fn dg1_and_dg2_headers() {
        let p = passport();
        assert_eq!(p.dg1()[..5], [0x61, 0x5B, 0x5F, 0x1F, 0x58]);
        assert_eq!(p.dg1().len(), 2 + 3 + 88);
        // 40 000 bytes of image: long-form 82 lengths.
        assert_eq!(p.dg2()[..2], [0x75, 0x82]);
        let outer = usize::from(u16::from_be_bytes([p.dg2()[2], p.dg2()[3]]));
        assert_eq!(outer + 4, p.dg2().len());
    }

    #[test]
    fn read_binary_rules() {
        let mut p = passport();
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x10]), SW_NO_EF_SELECTED);
        select_dg1(&mut p);
        let r = p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x04]);
        assert_eq!(r, [0x61, 0x5B, 0x5F, 0x1F, 0x90, 0x00]);
        // Asking past the end: what is there, then 6282.
        let r = p.process_apdu(&[0x00, 0xB0, 0x00, 0x5A, 0x10]);
        assert_eq!(r.len(), 3 + 2);
        assert_eq!(r[3..], SW_END_OF_FILE);
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x5D, 0x01]), SW_OFFSET_OUTSIDE);
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x00]), SW_WRONG_LENGTH);
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x05]), SW_FILE_NOT_FOUND);
        assert_eq!(p.process_apdu(&[0x00, 0x84, 0x00, 0x00, 0x08]), SW_INS_UNKNOWN);
    }

    #[test]
    fn oversize_read_can_answer_6c() {
        let mut p = passport().with_max_read(0x80, OversizeRead::CorrectLe);
        select_dg1(&mut p);
        // DG1 holds 93 bytes: xx is what is left, under the cap.
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0xE7]), [0x6C, 0x5D]);
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x02]), SW_OK);
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0xE7]), [0x6C, 0x80]);
    }

    #[test]
    fn odd_read_beyond_32k() {
        let mut p = passport();
        select_dg1(&mut p);
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x02]), SW_OK);
        let offset = 0x8000u32.to_be_bytes();
        let cmd = [0x00, 0xB1, 0x00, 0x00, 0x05, 0x54, 0x03, offset[1], offset[2], offset[3], 0x13];
        let r = p.process_apdu(&cmd);
        assert_eq!(r[..2], [0x53, 0x10]);
        assert_eq!(r[2..18], p.dg2()[0x8000..0x8010]);
        assert_eq!(r[18..], SW_OK);
    }

    #[test]
    fn ef_needs_applet() {
        let mut p = passport();
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x01]), SW_FILE_NOT_FOUND);
    }

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// AES secure messaging under the Appendix G.1 session keys: SELECT of the applet, the
    /// chip's unwrapping and its answer (SSC 1 and 2).
    #[test]
    fn aes_secure_messaging_after_appendix_g1() {
        let mut p = passport();
        p.bac_seed = Some([0; 16]);
        p.access = Access::Secure(SmSession::from_secret(
            Cipher::Aes128,
            &h("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925"),
        ));
        let answer = p.process_apdu(&h("0CA4040C1D871101752F676B09FAC86A87D632749A49C7CC8E08C18BA1FCE707BD9F00"));
        assert_eq!(answer, h("990290008E08BEA7B381C494A0799000"));
        assert!(p.applet_selected);
    }

    /// The terminal side of PACE GM, for driving the chip in tests (the host's own PACE lives in
    /// `identity`; this one only has to agree with the chip, the appendix tests pin both).
    fn pace_terminal(p: &mut VirtualPassport, config: &PaceConfig, password: u8) -> Result<SmSession, Vec<u8>> {
        use super::super::chip_groups::Group;
        let cipher = config.suite.cipher;
        let oid = config.suite.oid();
        let mut mse = vec![0x00, 0x22, 0xC1, 0xA4, 0x00];
        mse.extend(tlv(&[0x80], &oid));
        mse.extend(tlv(&[0x83], &[password]));
        mse[4] = (mse.len() - 5) as u8;
        let sw = p.process_apdu(&mse);
        if sw != SW_OK {
            return Err(sw);
        }
        let ga = |p: &mut VirtualPassport, cla: u8, inner: Vec<u8>| {
            let data = tlv(&[0x7C], &inner);
            let mut cmd = vec![cla, 0x86, 0x00, 0x00, data.len() as u8];
            cmd.extend(data);
            cmd.push(0);
            let r = p.process_apdu(&cmd);
            let (body, sw) = r.split_at(r.len() - 2);
            if sw != SW_OK {
                return Err(sw.to_vec());
            }
            let outer = chip_pace::parse_objects(body).unwrap();
            Ok(chip_pace::parse_objects(outer[0].1).unwrap().first().map(|(_, v)| v.to_vec()).unwrap_or_default())
        };
        let z = ga(p, 0x10, vec![])?;
        let k = if password == 2 { config.can.as_bytes().to_vec() } else { p.mrz_key() };
        let s = cipher.cbc_decrypt(&cipher.kdf(&k, 3), &vec![0; cipher.block_len()], &z);
        let group = Group::standard(config.parameter_id).unwrap();
        let sk_map = group.private_key(&[0x42; 40]).unwrap();
        let pk_map = group.mul(&sk_map, &group.generator().unwrap()).unwrap();
        let pk_map_ic = ga(p, 0x10, tlv(&[0x81], &pk_map))?;
        let shared = group.mul(&sk_map, &pk_map_ic).unwrap();
        let generator = group.map_generic(&s, &shared).unwrap();
        let sk = group.private_key(&[0x17; 40]).unwrap();
        let pk = group.mul(&sk, &generator).unwrap();
        let pk_ic = ga(p, 0x10, tlv(&[0x83], &pk))?;
        let sm = SmSession::from_secret(cipher, &group.shared_secret(&group.mul(&sk, &pk_ic).unwrap()).unwrap());
        let t_ifd = chip_pace::token(cipher, &sm.ks_mac, &oid, &pk_ic, config.suite.dh);
        let t_ic = ga(p, 0x00, tlv(&[0x85], &t_ifd))?;
        if t_ic != chip_pace::token(cipher, &sm.ks_mac, &oid, &pk, config.suite.dh) {
            return Err(b"token".to_vec());
        }
        Ok(sm)
    }

    /// A protected command under `sm`, the answer unwrapped and its MAC checked.
    fn secure(sm: &mut SmSession, p: &mut VirtualPassport, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<u8>) -> Vec<u8> {
        try_secure(sm, p, ins, p1, p2, data, le).unwrap()
    }

    /// [`secure`], with a wrong response MAC as an error.
    fn try_secure(
        sm: &mut SmSession,
        p: &mut VirtualPassport,
        ins: u8,
        p1: u8,
        p2: u8,
        data: &[u8],
        le: Option<u8>,
    ) -> Result<Vec<u8>, &'static str> {
        let mut objects = Vec::new();
        if !data.is_empty() {
            let mut v = vec![0x01];
            v.extend(sm.encrypt_next(data));
            objects.extend(tlv(&[0x87], &v));
        }
        if let Some(le) = le {
            objects.extend(tlv(&[0x97], &[le]));
        }
        sm.increment();
        let mut n = sm.padded_header(&[0x0C, ins, p1, p2]);
        n.extend(&objects);
        let mac = sm.mac(&n);
        objects.extend(tlv(&[0x8E], &mac));
        let mut cmd = vec![0x0C, ins, p1, p2, objects.len() as u8];
        cmd.extend(objects);
        cmd.push(0);
        let r = p.process_apdu(&cmd);
        sm.increment();
        let dos = parse_objects(&r[..r.len() - 2]).unwrap();
        let mut macced = Vec::new();
        for (tag, raw, _) in &dos {
            if *tag != 0x8E {
                macced.extend_from_slice(raw);
            }
        }
        let got = dos.iter().find(|(t, _, _)| *t == 0x8E).unwrap().2;
        if sm.mac(&macced).as_slice() != got {
            return Err("wrong response MAC");
        }
        let mut out = dos
            .iter()
            .find(|(t, _, _)| *t == 0x87)
            .map(|(_, _, v)| sm.decrypt(&v[1..]).unwrap())
            .unwrap_or_default();
        out.extend_from_slice(&r[r.len() - 2..]);
        Ok(out)
    }

    impl SmSession {
        /// Encrypts for the next command (the SSC is incremented before the command is sent).
        fn encrypt_next(&mut self, data: &[u8]) -> Vec<u8> {
            self.increment();
            let c = self.encrypt(data);
            self.decrement();
            c
        }

        fn decrement(&mut self) {
            for byte in self.ssc.iter_mut().rev() {
                let (next, borrow) = byte.overflowing_sub(1);
                *byte = next;
                if !borrow {
                    break;
                }
            }
        }
    }

    fn pace_passport(config: PaceConfig) -> VirtualPassport {
        VirtualPassport::new(vec![LINE1.to_owned(), LINE2.to_owned()], vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).with_pace(config)
    }

    const LINE1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
    const LINE2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";

    #[test]
    fn ef_card_access_is_readable_in_the_master_file_before_access_control() {
        let config = PaceConfig::new(PaceSuite::ecdh_gm(Cipher::Aes128), 13);
        let mut p = pace_passport(config);
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00]), SW_OK);
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x1C]), SW_OK);
        let r = p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x40]);
        assert_eq!(r, with_sw(h("31143012060A04007F0007020204020202010202010D"), SW_END_OF_FILE));
        // By short EF identifier, as JMRTD reads it.
        let r = p.process_apdu(&[0x00, 0xB0, 0x9C, 0x00, 0x10]);
        assert_eq!(r, with_sw(h("31143012060A04007F000702020402020201")[..16].to_vec(), SW_OK));
        // Not in the applet, and data groups stay locked.
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01]), SW_OK);
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x01]), SW_SECURITY_NOT_SATISFIED);
        // A chip without PACE has no EF.CardAccess.
        let mut plain = VirtualPassport::new(vec![LINE1.to_owned(), LINE2.to_owned()], vec![1]);
        assert_eq!(plain.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x1C]), SW_FILE_NOT_FOUND);
    }

    #[test]
    fn pace_then_secure_reads_for_every_cipher_and_both_passwords() {
        for (cipher, id, password) in [
            (Cipher::Aes128, 13, 1),
            (Cipher::Aes128, 12, 2),
            (Cipher::Aes192, 16, 1),
            (Cipher::Aes256, 17, 2),
            (Cipher::Tdes, 8, 1),
            (Cipher::Aes256, 18, 1),
        ] {
            let config = PaceConfig::new(PaceSuite::ecdh_gm(cipher), id);
            let mut p = pace_passport(config.clone());
            let mut sm = pace_terminal(&mut p, &config, password).unwrap_or_else(|e| panic!("{cipher:?} {id}: {e:02X?}"));
            let aid = EMRTD_AID;
            assert_eq!(secure(&mut sm, &mut p, 0xA4, 0x04, 0x0C, &aid, None), SW_OK, "{cipher:?}");
            assert_eq!(secure(&mut sm, &mut p, 0xA4, 0x02, 0x0C, &[0x01, 0x1E], None), SW_OK);
            let ef_com = secure(&mut sm, &mut p, 0xB0, 0x00, 0x00, &[], Some(0x40));
            assert_eq!(ef_com[..ef_com.len() - 2], p.ef_com()[..], "{cipher:?}");
        }
    }

    #[test]
    fn pace_with_dh_generic_mapping() {
        let config = PaceConfig::new(PaceSuite { mapping: super::super::chip_pace::Mapping::Generic, dh: true, cipher: Cipher::Aes128 }, 0);
        let mut p = pace_passport(config.clone());
        let mut sm = pace_terminal(&mut p, &config, 2).unwrap();
        assert_eq!(secure(&mut sm, &mut p, 0xA4, 0x04, 0x0C, &EMRTD_AID, None), SW_OK);
    }

    #[test]
    fn pace_faults_and_refusals() {
        // A wrong password: the chip refuses the terminal's token.
        let mut config = PaceConfig::new(PaceSuite::ecdh_gm(Cipher::Aes128), 13);
        config.can = "999999".to_owned();
        let mut p = pace_passport(config.clone());
        config.can = "123456".to_owned();
        assert_eq!(pace_terminal(&mut p, &config, 2).err(), Some(SW_AUTH_FAILED.to_vec()));
        // The wrong-token fault: the chip's token does not verify.
        let mut config = PaceConfig::new(PaceSuite::ecdh_gm(Cipher::Aes128), 13);
        config.wrong_token = true;
        let mut p = pace_passport(config.clone());
        assert_eq!(pace_terminal(&mut p, &config, 1).err(), Some(b"token".to_vec()));
        // A PACE-only chip refuses BAC.
        let mut config = PaceConfig::new(PaceSuite::ecdh_gm(Cipher::Aes128), 13);
        config.bac_too = false;
        let mut p = pace_passport(config);
        assert_eq!(p.process_apdu(&[0x00, 0x84, 0x00, 0x00, 0x08]), SW_SECURITY_NOT_SATISFIED);
    }

    #[test]
    fn le_quirks_and_lost_field() {
        let faults = ChipFaults { le_256_answer: Some([0x6B, 0x00]), refuse_extended_length: true, lose_field_at_apdu: Some(6), ..ChipFaults::default() };
        let mut p = passport().with_chip_faults(faults);
        select_dg1(&mut p);
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x00]), [0x6B, 0x00]);
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x10]).len(), 18);
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x10]), SW_WRONG_LENGTH);
        // The sixth APDU: no answer, and the chip forgot its state.
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x10]), Vec::<u8>::new());
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x10]), SW_NO_EF_SELECTED);
    }

    #[test]
    fn chip_authentication_restarts_secure_messaging_and_active_authentication_signs() {
        use super::super::chip_auth::{AaKey, ActiveAuthConfig, ChipAuthConfig};
        use super::super::chip_groups::Group;
        let pace = PaceConfig::new(PaceSuite::ecdh_gm(Cipher::Aes128), 13);
        let ca = ChipAuthConfig::secp192r1_3des();
        for wrong_mac_after_ca in [0, 1] {
            let aa = ActiveAuthConfig::new(AaKey::Rsa { bits: 1024 }).unwrap();
            let mut p = pace_passport(pace.clone())
                .with_chip_authentication(ca.clone())
                .with_active_authentication(aa)
                .with_chip_faults(ChipFaults { wrong_mac_after_ca, ..ChipFaults::default() });
            assert_eq!(p.ef_com()[p.ef_com().len() - 4..], [0x61, 0x75, 0x6E, 0x6F]);
            let mut sm = pace_terminal(&mut p, &pace, 1).unwrap();
            assert_eq!(secure(&mut sm, &mut p, 0xA4, 0x04, 0x0C, &EMRTD_AID, None), SW_OK);
            assert_eq!(secure(&mut sm, &mut p, 0xA4, 0x02, 0x0C, &[0x01, 0x0E], None), SW_OK);
            let dg14 = secure(&mut sm, &mut p, 0xB0, 0x00, 0x00, &[], Some(0x80));
            assert_eq!(dg14[..dg14.len() - 2], p.dg14()[..0x80]);
            // MSE:Set KAT with the terminal's secp192r1 key: answered under the PACE keys.
            let group = Group::standard(8).unwrap();
            let sk = group.private_key(&[0x5C; 30]).unwrap();
            let pk = group.mul(&sk, &group.generator().unwrap()).unwrap();
            assert_eq!(secure(&mut sm, &mut p, 0x22, 0x41, 0xA6, &tlv(&[0x91], &pk), None), SW_OK);
            let k = group.shared_secret(&group.mul(&sk, &ca.public_key().unwrap()).unwrap()).unwrap();
            let mut sm = SmSession::from_secret(Cipher::Tdes, &k);
            let answer = try_secure(&mut sm, &mut p, 0xA4, 0x02, 0x0C, &[0x01, 0x0F], None);
            if wrong_mac_after_ca == 1 {
                assert_eq!(answer, Err("wrong response MAC"));
                continue;
            }
            assert_eq!(answer.unwrap(), SW_OK);
            // Active Authentication under the new keys: a 1024-bit signature.
            let signature = secure(&mut sm, &mut p, 0x88, 0x00, 0x00, b"RND.IFD!", Some(0));
            assert_eq!(signature.len(), 128 + 2);
            assert_eq!(signature[128..], SW_OK);
        }
    }
}
