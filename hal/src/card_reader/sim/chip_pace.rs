//! The simulated chip's side of PACE (ICAO 9303 Part 11 §4.4): MSE:Set AT, then the chain of
//! four GENERAL AUTHENTICATE steps with generic, integrated or chip-authentication mapping,
//! on DH or ECDH, with 3DES or AES. Written from the standard, independently of the host.

use openssl::bn::{BigNum, BigNumContext};

use super::ber::tlv;
use super::chip_crypto::{pad_to, Cipher, SmSession};
use super::chip_groups::{Group, GroupError};

/// id-PACE: 0.4.0.127.0.7.2.2.4, DER content bytes.
const ID_PACE: [u8; 8] = [0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x04];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    Generic,
    Integrated,
    /// Generic mapping plus encrypted chip authentication data (ECDH and AES only).
    ChipAuthentication,
}

/// Which password the terminal named in MSE:Set AT (tag 83).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Password {
    Mrz,
    Can,
}

/// A PACE protocol: mapping, key agreement and cipher (Part 11 Tables 2 and 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceSuite {
    pub mapping: Mapping,
    /// DH on a MODP group instead of ECDH (not with chip-authentication mapping).
    pub dh: bool,
    pub cipher: Cipher,
}

impl PaceSuite {
    pub const fn ecdh_gm(cipher: Cipher) -> Self {
        Self { mapping: Mapping::Generic, dh: false, cipher }
    }

    /// The protocol OID's DER content bytes.
    pub fn oid(&self) -> Vec<u8> {
        let kind = match (self.mapping, self.dh) {
            (Mapping::Generic, true) => 1,
            (Mapping::Generic, false) => 2,
            (Mapping::Integrated, true) => 3,
            (Mapping::Integrated, false) => 4,
            (Mapping::ChipAuthentication, _) => 6,
        };
        let cipher = match self.cipher {
            Cipher::Tdes => 1,
            Cipher::Aes128 => 2,
            Cipher::Aes192 => 3,
            Cipher::Aes256 => 4,
        };
        let mut oid = ID_PACE.to_vec();
        oid.extend([kind, cipher]);
        oid
    }
}

/// How a virtual passport offers PACE.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PaceConfig {
    pub suite: PaceSuite,
    /// Standardized domain parameter id (Part 11 Table 12), e.g. 13 for brainpoolP256r1.
    pub parameter_id: u8,
    /// The card access number printed on the data page.
    pub can: String,
    /// Also accept Basic Access Control (most passports do; German ones do not).
    pub bac_too: bool,
    /// PACE-CAM: the chip's static Chip Authentication private key (scalar bytes).
    pub cam_key: Option<Vec<u8>>,
    /// Fault: the chip's authentication token is wrong (a chip that does not know the password).
    pub wrong_token: bool,
}

impl PaceConfig {
    pub fn new(suite: PaceSuite, parameter_id: u8) -> Self {
        Self { suite, parameter_id, can: "123456".to_owned(), bac_too: true, cam_key: None, wrong_token: false }
    }
}

/// EF.CardAccess (a SecurityInfos SET) holding this chip's PACEInfo.
pub fn card_access(config: &PaceConfig) -> Vec<u8> {
    tlv(&[0x31], &pace_info(config))
}

/// PACEInfo ::= SEQUENCE { protocol, version 2, parameterId }.
pub fn pace_info(config: &PaceConfig) -> Vec<u8> {
    let mut body = tlv(&[0x06], &config.suite.oid());
    body.extend(tlv(&[0x02], &[0x02]));
    body.extend(tlv(&[0x02], &[config.parameter_id]));
    tlv(&[0x30], &body)
}

/// A failed PACE step, answered with this status word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepError(pub [u8; 2]);

const WRONG_DATA: StepError = StepError([0x6A, 0x80]);
const AUTH_FAILED: StepError = StepError([0x63, 0x00]);
const NOT_FOUND: StepError = StepError([0x6A, 0x88]);
const CONDITIONS: StepError = StepError([0x69, 0x85]);

impl From<GroupError> for StepError {
    fn from(error: GroupError) -> Self {
        match error {
            GroupError::InvalidPublicKey => WRONG_DATA,
            _ => AUTH_FAILED,
        }
    }
}

impl From<openssl::error::ErrorStack> for StepError {
    fn from(_: openssl::error::ErrorStack) -> Self {
        AUTH_FAILED
    }
}

/// Where the chip is in the GENERAL AUTHENTICATE chain.
#[derive(Clone)]
enum Step {
    /// MSE:Set AT accepted; Kπ derived from the named password.
    Selected { k_pi: Vec<u8> },
    /// Nonce s sent encrypted.
    Nonce { s: Vec<u8> },
    /// Mapped generator agreed; `sk_map` kept for PACE-CAM.
    Mapped { generator: Vec<u8>, sk_map: Option<Vec<u8>> },
    /// Key agreement done: session keys and both ephemeral public keys.
    Agreed { sm: SmSession, pk_ifd: Vec<u8>, pk_ic: Vec<u8>, sk_map: Option<Vec<u8>> },
}

/// One run of PACE on the chip.
#[derive(Clone)]
pub struct PaceRun {
    config: PaceConfig,
    step: Step,
}

/// The chip's random source: `n` fresh bytes per call.
pub type Random<'a> = dyn FnMut(usize) -> Vec<u8> + 'a;

impl PaceRun {
    /// MSE:Set AT (P1P2 C1A4): the protocol OID (80) must be ours, the password (83) MRZ or CAN,
    /// a parameter id (84), when sent, ours. `mrz_key` is K = SHA-1(MRZ information).
    pub fn start(config: &PaceConfig, data: &[u8], mrz_key: &[u8]) -> Result<Self, StepError> {
        let objects = parse_objects(data).ok_or(WRONG_DATA)?;
        let find = |tag: u8| objects.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v);
        if find(0x80) != Some(config.suite.oid().as_slice()) {
            return Err(WRONG_DATA);
        }
        if let Some(id) = find(0x84) {
            if id != [config.parameter_id] {
                return Err(NOT_FOUND);
            }
        }
        let password = match find(0x83) {
            Some([0x01]) => Password::Mrz,
            Some([0x02]) => Password::Can,
            _ => return Err(NOT_FOUND),
        };
        let k = match password {
            Password::Mrz => mrz_key.to_vec(),
            Password::Can => config.can.as_bytes().to_vec(),
        };
        let k_pi = config.suite.cipher.kdf(&k, 3);
        Ok(Self { config: config.clone(), step: Step::Selected { k_pi } })
    }

    fn group(&self) -> Result<Group, StepError> {
        Ok(Group::standard(self.config.parameter_id)?)
    }

    /// Nonce length: the smallest multiple of the block size holding a key (§4.4.3.3).
    fn nonce_len(&self) -> usize {
        let cipher = self.config.suite.cipher;
        let block = cipher.block_len();
        cipher.key_len().div_ceil(block) * block
    }

    /// One GENERAL AUTHENTICATE: `data` is the command's 7C object, `last` says the command
    /// ended the chain (CLA without the chaining bit). Returns the response data and, after
    /// the last step, the secure messaging session to start.
    pub fn general_authenticate(
        &mut self,
        data: &[u8],
        last: bool,
        random: &mut Random<'_>,
    ) -> Result<(Vec<u8>, Option<SmSession>), StepError> {
        let inner = match parse_objects(data).as_deref() {
            Some([(0x7C, inner)]) => parse_objects(inner).ok_or(WRONG_DATA)?,
            _ => return Err(WRONG_DATA),
        };
        let only = |tag: u8| match inner.as_slice() {
            [(t, v)] if *t == tag => Ok(*v),
            _ => Err(WRONG_DATA),
        };
        let cipher = self.config.suite.cipher;
        let step = self.step.clone();
        match step {
            Step::Selected { k_pi } if inner.is_empty() && !last => {
                let s = random(self.nonce_len());
                let z = cipher.cbc_encrypt(&k_pi, &vec![0; cipher.block_len()], &s);
                self.step = Step::Nonce { s };
                Ok((dynamic(&tlv(&[0x80], &z)), None))
            }
            Step::Nonce { s } if !last => {
                let mapping_data = only(0x81)?;
                let group = self.group()?;
                let (generator, reply, sk_map) = match self.config.suite.mapping {
                    Mapping::Generic | Mapping::ChipAuthentication => {
                        group.validate(mapping_data)?;
                        let sk = self.private_key(&group, random)?;
                        let pk = group.mul(&sk, &group.generator()?)?;
                        let h = group.mul(&sk, mapping_data)?;
                        (group.map_generic(&s, &h)?, tlv(&[0x82], &pk), Some(sk.to_vec()))
                    }
                    Mapping::Integrated => {
                        if mapping_data.len() != cipher.key_len() {
                            return Err(WRONG_DATA);
                        }
                        let x = pseudo_random(cipher, &s, mapping_data, &group.field_prime()?)?;
                        (group.map_integrated(&x)?, tlv(&[0x82], &[]), None)
                    }
                };
                self.step = Step::Mapped { generator, sk_map };
                Ok((dynamic(&reply), None))
            }
            Step::Mapped { generator, sk_map } if !last => {
                let pk_ifd = only(0x83)?;
                // Group operations take the generator as an argument: the mapped one here.
                let group = self.group()?;
                group.validate(pk_ifd)?;
                let sk = self.private_key(&group, random)?;
                let pk_ic = group.mul(&sk, &generator)?;
                if pk_ic == pk_ifd {
                    return Err(AUTH_FAILED);
                }
                let k = group.shared_secret(&group.mul(&sk, pk_ifd)?)?;
                let sm = SmSession::from_secret(cipher, &k);
                self.step = Step::Agreed { sm, pk_ifd: pk_ifd.to_vec(), pk_ic: pk_ic.clone(), sk_map };
                Ok((dynamic(&tlv(&[0x84], &pk_ic)), None))
            }
            Step::Agreed { sm, pk_ifd, pk_ic, sk_map } if last => {
                let t_ifd = only(0x85)?;
                let dh = self.config.suite.dh;
                let oid = self.config.suite.oid();
                if token(cipher, &sm.ks_mac, &oid, &pk_ic, dh) != t_ifd {
                    return Err(AUTH_FAILED);
                }
                let mut t_ic = token(cipher, &sm.ks_mac, &oid, &pk_ifd, dh);
                if self.config.wrong_token {
                    t_ic[0] ^= 0x01;
                }
                let mut reply = tlv(&[0x86], &t_ic);
                if self.config.suite.mapping == Mapping::ChipAuthentication {
                    let (Some(sk_map), Some(sk_ic)) = (sk_map, self.config.cam_key.as_ref()) else {
                        return Err(CONDITIONS);
                    };
                    let group = self.group()?;
                    reply.extend(tlv(&[0x8A], &cam_data(&group, &sm, &sk_map, sk_ic)?));
                }
                Ok((dynamic(&reply), Some(sm)))
            }
            _ => Err(CONDITIONS),
        }
    }

    fn private_key(&self, group: &Group, random: &mut Random<'_>) -> Result<BigNum, StepError> {
        let len = group.order()?.num_bytes() as usize;
        Ok(group.private_key(&random(len))?)
    }
}

fn dynamic(inner: &[u8]) -> Vec<u8> {
    tlv(&[0x7C], inner)
}

/// The authentication token (§4.4.3.4): MAC over 7F49 { 06 OID, 86 point | 84 value }.
pub fn token(cipher: Cipher, ks_mac: &[u8], oid: &[u8], public_key: &[u8], dh: bool) -> [u8; 8] {
    let mut body = tlv(&[0x06], oid);
    body.extend(tlv(&[if dh { 0x84 } else { 0x86 }], public_key));
    cipher.mac(ks_mac, &tlv(&[0x7F, 0x49], &body))
}

/// PACE-CAM (§4.4.3.5): CA_IC = SK_IC⁻¹ · SK_map,IC mod n, as FE2OS of the order's length,
/// encrypted with AES-CBC under KS_enc with IV = E(KS_enc, −1).
pub fn cam_data(group: &Group, sm: &SmSession, sk_map: &[u8], sk_ic: &[u8]) -> Result<Vec<u8>, StepError> {
    let mut ctx = BigNumContext::new()?;
    let n = group.order()?;
    let (sk_ic, sk_map) = (BigNum::from_slice(sk_ic)?, BigNum::from_slice(sk_map)?);
    let mut inv = BigNum::new()?;
    inv.mod_inverse(&sk_ic, &n, &mut ctx)?;
    let mut ca = BigNum::new()?;
    ca.mod_mul(&inv, &sk_map, &n, &mut ctx)?;
    let ca = ca.to_vec_padded(n.num_bytes())?;
    let cipher = sm.cipher;
    let iv = cipher.cbc_encrypt(&sm.ks_enc, &[0; 16], &[0xFF; 16]);
    Ok(cipher.cbc_encrypt(&sm.ks_enc, &iv, &pad_to(&ca, 16)))
}

/// R_p(s, t) of §4.4.3.3.2: a chain of block-cipher encryptions keyed first by t, giving
/// n·l bits with n·l ≥ log2 p + 64, taken mod p.
pub fn pseudo_random(cipher: Cipher, s: &[u8], t: &[u8], p: &BigNum) -> Result<BigNum, StepError> {
    let l = s.len();
    let (c0, c1): (&[u8], &[u8]) = if l <= 16 {
        (&C0_128, &C1_128)
    } else {
        (&C0_256, &C1_256)
    };
    let blocks = (p.num_bits() as usize + 64).div_ceil(l * 8);
    let iv = vec![0; cipher.block_len()];
    let key_len = cipher.key_len();
    let mut k = cipher.cbc_encrypt(t, &iv, s);
    let mut x = Vec::with_capacity(blocks * l);
    for _ in 0..blocks {
        let key = k.get(..key_len).ok_or(AUTH_FAILED)?.to_vec();
        x.extend(cipher.cbc_encrypt(&key, &iv, c1));
        k = cipher.cbc_encrypt(&key, &iv, c0);
    }
    let mut out = BigNum::new()?;
    let (x, mut ctx) = (BigNum::from_slice(&x)?, BigNumContext::new()?);
    out.nnmod(&x, p, &mut ctx)?;
    Ok(out)
}

const C0_128: [u8; 16] = hex16(*b"a668892a7c41e3ca739f40b057d85904");
const C1_128: [u8; 16] = hex16(*b"a4e136ac725f738b01c1f60217c188ad");
const C0_256: [u8; 32] = hex32(*b"d463d65234124ef7897054986dca0a174e28df758cbaa03f240616414d5a1676");
const C1_256: [u8; 32] = hex32(*b"54bd7255f0aaf831bec3423fcf39d69b6cbf066677d0faae5aadd99df8e53517");

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    }
}

const fn hex16(text: [u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

const fn hex32(text: [u8; 64]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

/// Data objects with one-byte tags (all PACE and CA objects); `None` when malformed.
pub fn parse_objects(mut data: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while let [tag, rest @ ..] = data {
        let (len, header) = match rest {
            [n, ..] if *n < 0x80 => (usize::from(*n), 2),
            [0x81, n, ..] => (usize::from(*n), 3),
            [0x82, h, l, ..] => (usize::from(u16::from_be_bytes([*h, *l])), 4),
            _ => return None,
        };
        let value = data.get(header..header + len)?;
        out.push((*tag, value));
        data = data.get(header + len..)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// A random source that plays back the appendix's nonce and private keys.
    fn scripted(values: Vec<Vec<u8>>) -> impl FnMut(usize) -> Vec<u8> {
        let mut values = values.into_iter();
        move |n| {
            let v = values.next().unwrap_or_default();
            let mut out = vec![0u8; n.saturating_sub(v.len())];
            out.extend(v);
            out
        }
    }

    fn run_steps(
        config: &PaceConfig,
        mse: &str,
        mrz_key: &[u8],
        random: Vec<Vec<u8>>,
        commands: &[(&str, bool, &str)],
    ) -> SmSession {
        let mut run = PaceRun::start(config, &h(mse), mrz_key).unwrap();
        let mut random = scripted(random);
        let mut session = None;
        for (command, last, expected) in commands {
            let (reply, sm) = run.general_authenticate(&h(command), *last, &mut random).unwrap();
            assert_eq!(reply, h(expected), "reply to {command}");
            session = sm;
        }
        session.unwrap()
    }

    const G_MRZ_KEY: &str = "7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD";

    /// Appendix G.1 byte for byte, chip side: ECDH GM, brainpoolP256r1, AES-128, MRZ.
    #[test]
    fn appendix_g1_transcript() {
        let config = PaceConfig::new(PaceSuite::ecdh_gm(Cipher::Aes128), 13);
        assert_eq!(card_access(&config), h("31143012060A04007F0007020204020202010202010D"));
        let sm = run_steps(
            &config,
            "800A04007F00070202040202830101",
            &h(G_MRZ_KEY),
            vec![
                h("3F00C4D39D153F2B2A214A078D899B22"),
                h("498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560"),
                h("107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A"),
            ],
            &[
                ("7C00", false, "7C12801095A3A016522EE98D01E76CB6B98B42C3"),
                (
                    "7C438141047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E
                     544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D",
                    false,
                    "7C43824104824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57
                     30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54",
                ),
                (
                    "7C438341042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C
                     3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462",
                    false,
                    "7C438441049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB
                     7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094",
                ),
                ("7C0A8508C2B0BD78D94BA866", true, "7C0A86083ABB9674BCE93C08"),
            ],
        );
        assert_eq!(sm.ks_enc, h("F5F0E35C0D7161EE6724EE513A0D9A7F"));
    }

    /// Appendix G.2, chip side: DH GM on the RFC 5114 1024-bit group, AES-128, MRZ.
    #[test]
    fn appendix_g2_transcript() {
        let config = PaceConfig::new(PaceSuite { mapping: Mapping::Generic, dh: true, cipher: Cipher::Aes128 }, 0);
        assert_eq!(card_access(&config), h("31143012060A04007F00070202040102020102020100"));
        let pk_map_ifd = "23FB3749EA030D2A25B278D2A562047ADE3F01B74F17A15402CB7352CA7D2B3E
            B71C343DB13D1DEBCE9A3666DBCFC920B49174A602CB47965CAA73DC702489A4
            4D41DB914DE9613DC5E98C94160551C0DF86274B9359BC0490D01B03AD54022D
            CB4F57FAD6322497D7A1E28D46710F461AFE710FBBBC5F8BA166F4311975EC6C";
        let pk_map_ic = "78879F57225AA8080D52ED0FC890A4B25336F699AA89A2D3A189654AF70729E6
            23EA5738B26381E4DA19E004706FACE7B235C2DBF2F38748312F3C98C2DD4882
            A41947B324AA1259AC22579DB93F7085655AF30889DBB845D9E6783FE42C9F24
            49400306254C8AE8EE9DD812A804C0B66E8CAFC14F84D8258950A91B44126EE6";
        let pk_dh_ifd = "907D89E2D425A178AA81AF4A7774EC8E388C115CAE67031E85EECE520BD91155
            1B9AE4D04369F29A02626C86FBC6747CC7BC352645B6161A2A42D44EDA80A08F
            A8D61B76D3A154AD8A5A51786B0BC07147057871A922212C5F67F43173172236
            B7747D1671E6D692A3C7D40A0C3C5CE397545D015C175EB5130551EDBC2EE5D4";
        let pk_dh_ic = "075693D9AE941877573E634B6E644F8E60AF17A0076B8B123D9201074D36152B
            D8B3A213F53820C42ADC79AB5D0AEEC3AEFB91394DA476BD97B9B14D0A65C1FC
            71A0E019CB08AF55E1F729005FBA7E3FA5DC41899238A250767A6D46DB974064
            386CD456743585F8E5D90CC8B4004B1F6D866C79CE0584E49687FF61BC29AEA1";
        let sm = run_steps(
            &config,
            "800A04007F00070202040102830101",
            &h(G_MRZ_KEY),
            vec![
                h("FA5B7E3E49753A0DB9178B7B9BD898C8"),
                h("66DDAFEAC1609CB5B963BB0CB3FF8B3E047F336C"),
                h("A5B780126B7C980E9FCEA1D4539DA1D27C342DFA"),
            ],
            &[
                ("7C00", false, "7C128010854D8DF5827FA6852D1A4FA701CDDDCA"),
                (&format!("7C81838181 80{pk_map_ifd}"), false, &format!("7C8183828180{pk_map_ic}")),
                (&format!("7C8183838180{pk_dh_ifd}"), false, &format!("7C8183848180{pk_dh_ic}")),
                ("7C0A8508B46DD9BD4D98381F", true, "7C0A8608917F37B5C0E6D8D1"),
            ],
        );
        assert_eq!(sm.ks_mac, h("805A1D27D45A5116F73C54469462B7D8"));
    }

    /// Appendix H.1, chip side: ECDH IM, brainpoolP256r1, AES-128, Kπ from the CAN 123456.
    #[test]
    fn appendix_h1_transcript() {
        let config = PaceConfig::new(PaceSuite { mapping: Mapping::Integrated, dh: false, cipher: Cipher::Aes128 }, 13);
        let p = Group::standard(13).unwrap().field_prime().unwrap();
        let x = pseudo_random(Cipher::Aes128, &h("2923BE84E16CD6AE529049F1F1BBE9EB"), &h("5DD4CBFC96F5453B130D890A1CDBAE32"), &p)
            .unwrap();
        assert_eq!(
            x.to_vec(),
            h("A2F8FF2DF50E52C6599F386ADCB595D229F6A167ADE2BE5F2C3296ADD5B7430E")
        );
        let sm = run_steps(
            &config,
            "800A04007F00070202040402830102",
            &[],
            vec![
                h("2923BE84E16CD6AE529049F1F1BBE9EB"),
                h("107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A"),
            ],
            &[
                ("7C00", false, "7C128010143DC40C08C8E891FBED7DEDB92B64AD"),
                ("7C1281105DD4CBFC96F5453B130D890A1CDBAE32", false, "7C028200"),
                (
                    "7C4383410489CBA23FFE96AA18D824627C3E934E54A9FD0B87A95D1471DC1C0ABFDCD640D4
                     6755DE9B7B778280B6BEBD57439ADFEB0E21FD4ED6DF42578C13418A59B34C37",
                    false,
                    "7C4384410467F78E5F7F7686082B293E8D087E056916D0F74BC01A5F8957D0DE45691E51E8
                     932B69A962B52A0985AD2C0A271EE6A13A8ADDDCD1A3A994B9DED257F4D22753",
                ),
                ("7C0A8508450F02B86F6A0909", true, "7C0A860875D4D96E8D5B0308"),
            ],
        );
        assert_eq!(sm.ks_enc, h("0D3FEB33251A6370893D62AE8DAAF51B"));
        assert_eq!(sm.ks_mac, h("B01E89E3D9E8719E586B50B4A7506E0B"));
    }

    /// Appendix H.2, chip side: DH IM on the 1024-bit group, AES-128, CAN.
    #[test]
    fn appendix_h2_transcript() {
        let config = PaceConfig::new(PaceSuite { mapping: Mapping::Integrated, dh: true, cipher: Cipher::Aes128 }, 0);
        let pk_ifd = "0F0CC62945A8029251FB7EF3C094E12EC68E4EF07F27CB9D9CD04C5C4250FAE0
            E4F8A951557E929AEB48E5C6DD47F2F5CD7C351A9BD2CD722C07EDE166770F08
            FFCB370262CF308DD7B07F2E0DA9CAAA1492344C852906919538C98A4BA4187E
            76CE9D87832386D319CE2E043C3343AEAE6EDBA1A9894DC5094D22F7FE1351D5";
        let pk_ic = "928D9A0F9DBA450F13FC859C6F290D1D36E42431138A4378500BEB4E0401854C
            FF111F71CB6DC1D0335807A11388CC8EAA87B07907AAD9FBA6B169AF6D8C26AF
            8DDDC39ADC3AD2E3FF882B84D23E9768E95A80E4746FB07A9767679FE92133B4
            D379935C771BD7FBED6C7BB4B1708B275EA75679524CDC9C6A91370CC662A2F3";
        let sk_ic = h("020F018C7284B047FA7721A337EFB7ACB1440BB30C5252BD41C97C30C994BB78
            E9F0C5B32744D84017D21FFA6878396A6469CA283EF5C000DAF7D261A39AB886
            0ED4610AB5343390897AAB5A7787E4FAEFA0649C6A94FDF82D991E8E3FC332F5
            142729E7040A3F7D5A4D3CD75CBEE1F043C1CAD2DD484FEB4ED22B597D36688E");
        // The appendix's chip key is a 1024-bit exponent, not one below q: exponentiate with it
        // directly (the chip's own keys stay below q).
        let group = Group::standard(0).unwrap();
        let p = group.field_prime().unwrap();
        let x = pseudo_random(Cipher::Aes128, &h("FA5B7E3E49753A0DB9178B7B9BD898C8"), &h("B3A6DB3C870C3E99245E0D1C06B747DE"), &p)
            .unwrap();
        let g_hat = group.map_integrated(&x).unwrap();
        assert_eq!(g_hat[..16], h("1D7D767F11E333BCD6DBAEF40E799E7A")[..]);
        let mapped = BigNum::from_slice(&g_hat).unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let mut y = BigNum::new().unwrap();
        y.mod_exp(&mapped, &BigNum::from_slice(&sk_ic).unwrap(), &p, &mut ctx).unwrap();
        assert_eq!(y.to_vec(), h(pk_ic));
        let mut k = BigNum::new().unwrap();
        k.mod_exp(&BigNum::from_slice(&h(pk_ifd)).unwrap(), &BigNum::from_slice(&sk_ic).unwrap(), &p, &mut ctx).unwrap();
        let sm = SmSession::from_secret(Cipher::Aes128, &k.to_vec_padded(128).unwrap());
        assert_eq!(sm.ks_enc, h("01AFC10CF87BE36D8179E87370171F07"));
        assert_eq!(sm.ks_mac, h("23F0FBD05FD6C7B8B88F4C8309669061"));
        let oid = config.suite.oid();
        assert_eq!(token(Cipher::Aes128, &sm.ks_mac, &oid, &h(pk_ifd), true).to_vec(), h("C2F04230187E1525"));
        assert_eq!(token(Cipher::Aes128, &sm.ks_mac, &oid, &h(pk_ic), true).to_vec(), h("55D61977CBF5307E"));
        // Nonce encryption under the CAN's Kπ.
        let mut run = PaceRun::start(&config, &h("800A04007F00070202040302830102"), &[]).unwrap();
        let mut random = scripted(vec![h("FA5B7E3E49753A0DB9178B7B9BD898C8")]);
        let (reply, _) = run.general_authenticate(&h("7C00"), false, &mut random).unwrap();
        assert_eq!(reply, h("7C1280109ABB8864CA0FF1551E620D1EF4E13510"));
    }

    /// Appendix I, chip side: PACE-CAM with the chip's static key recovered from the example
    /// (SK_IC = SK_map,IC · CA_IC⁻¹), whose public key is the one of the appendix.
    #[test]
    fn appendix_i_transcript() {
        let group = Group::standard(13).unwrap();
        let n = group.order().unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let sk_map = BigNum::from_slice(&h("9E56A6B59C95D06ECE5CD10F983BB2F4F1943528E577F23881D89D8C3BBEE0AA")).unwrap();
        let ca = BigNum::from_slice(&h("85DC3FA93D0952BFA82F5FD189EE75BD82F11D1F0B8ED4BF5319AC9B53C426B3")).unwrap();
        let mut ca_inv = BigNum::new().unwrap();
        ca_inv.mod_inverse(&ca, &n, &mut ctx).unwrap();
        let mut sk_ic = BigNum::new().unwrap();
        sk_ic.mod_mul(&sk_map, &ca_inv, &n, &mut ctx).unwrap();
        let pk_ic = group.mul(&sk_ic, &group.generator().unwrap()).unwrap();
        assert_eq!(pk_ic, h("0418727094 94399E7470A6431BE25E83EEE24FEA568C2ED28DB48E05DB3A610DC8
            84D256A40E35EFCB59BF6753D3A489D28C7A4D973C2DA138A6E7A4A08F68E16F"));
        let mut config = PaceConfig::new(PaceSuite { mapping: Mapping::ChipAuthentication, dh: false, cipher: Cipher::Aes128 }, 13);
        config.cam_key = Some(sk_ic.to_vec());
        let sm = run_steps(
            &config,
            "800A04007F00070202040602830101",
            &h("894D03F148C6265E89845B218856EA34D00EF8E8"),
            vec![
                h("658B860BC94DF6F044FCE6D5C82CF8E5"),
                h("9E56A6B59C95D06ECE5CD10F983BB2F4F1943528E577F23881D89D8C3BBEE0AA"),
                h("CD626EF3C256E235FE8912CAC28279E626008EDA6B3A05C4CF862A3BDAB79E78"),
            ],
            &[
                ("7C00", false, "7C128010CB60E8E0D85B76A9BD304747C2AD42E2"),
                (
                    "7C438141047F1D410ADB7DDB3B84BF1030800981A9105D7457B4A3ADE002384F3086C67EDE
                     1AB889104A27DB6D842B019020FBF3CEACB0DC627F7BDCAC29969E19D0E553C1",
                    false,
                    "7C43824104A234236AA9B9621E8EFB73B5245C0E09D2576E5277183C1208BDD55280CAE8B3
                     04F365713A356E65A451E165ECC9AC0AC46E3771342C8FE5AEDD092685338E23",
                ),
                (
                    "7C43834104446C934084D9DAB863944F219520076C29EE3F7AE6722B11FF319EC1C7728F95
                     5483400BFF60BF0C5929270009277DC2A515E12575010AD9BA916CF1BF86FEFC",
                    false,
                    "7C4384410402AD566F3C6EC7F9324509AD50A51FA52030782A4968FCFEDF737DAEA9933331
                     11C3B9B4C2287789BD137E7F8AA882E2A3C633CCD6ECC2C63C57AD401A09C2E1",
                ),
                (
                    "7C0A8508E86BD06018A1CD3B",
                    true,
                    "7C3C86088596CF055C67C1A38A301EEA964DAAE372AC990E3EFDE6333353BFC89A6704D93DA8
                     798CF77F5B7A54BD10CBA372B42BE0B9B5F28AA8DE2F4F92",
                ),
            ],
        );
        assert_eq!(sm.ks_enc, h("0A9DA4DB03BDDE39FC5202BC44B2E89E"));
    }

    #[test]
    fn wrong_terminal_token_fails_and_wrong_oid_is_refused() {
        let config = PaceConfig::new(PaceSuite::ecdh_gm(Cipher::Aes128), 13);
        assert_eq!(PaceRun::start(&config, &h("800A04007F00070202040302830101"), &[1]).err(), Some(WRONG_DATA));
        assert_eq!(PaceRun::start(&config, &h("800A04007F00070202040202830103"), &[1]).err(), Some(NOT_FOUND));
        assert_eq!(PaceRun::start(&config, &h("800A04007F0007020204020283010184010C"), &[1]).err(), Some(NOT_FOUND));
        let mut run = PaceRun::start(&config, &h("800A04007F00070202040202830101"), &h(G_MRZ_KEY)).unwrap();
        let mut random = scripted(vec![
            h("3F00C4D39D153F2B2A214A078D899B22"),
            h("498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560"),
            h("107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A"),
        ]);
        // The last step out of order, then a point off the curve.
        assert_eq!(run.general_authenticate(&h("7C0A8508C2B0BD78D94BA866"), true, &mut random).err(), Some(CONDITIONS));
        run.general_authenticate(&h("7C00"), false, &mut random).unwrap();
        let mut bad = h("7C438141047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E
                     544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D");
        bad[68] ^= 1;
        assert_eq!(run.general_authenticate(&bad, false, &mut random).err(), Some(WRONG_DATA));
    }
}
