//! The simulated chip's key-agreement groups: the standardized PACE domain parameters of
//! Part 11 Table 12 (RFC 5114 MODP groups, NIST and brainpool curves), any named curve for Chip
//! Authentication (secp192r1 included), and the group operations PACE and CA need.
//!
//! Arithmetic is OpenSSL's (curves of every standard size, explicit parameters, big numbers);
//! only the protocol steps are written here. Group elements travel as their encoding: an
//! uncompressed point `04 ‖ x ‖ y` or a big-endian DH value.

use openssl::bn::{BigNum, BigNumContext, BigNumRef};
use openssl::dh::Dh;
use openssl::ec::{EcGroup, EcPoint, PointConversionForm};
use openssl::error::ErrorStack;
use openssl::nid::Nid;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    #[error("unknown standardized domain parameter id {0}")]
    UnknownParameterId(u8),
    #[error("the other side's public key is not an element of the group")]
    InvalidPublicKey,
    #[error("integrated mapping is not defined for this curve (p is not 3 mod 4)")]
    NoIntegratedMapping,
    #[error("group arithmetic failed: {0}")]
    Arithmetic(#[from] ErrorStack),
}

/// A prime-order group for Diffie-Hellman: an elliptic curve or a MODP subgroup.
pub enum Group {
    Ec(EcGroup),
    Dh { p: BigNum, q: BigNum, g: BigNum },
}

/// The OpenSSL curve of a standardized PACE parameter id (Table 12), if it is a curve.
fn curve_of(id: u8) -> Option<Nid> {
    Some(match id {
        8 => Nid::X9_62_PRIME192V1,
        9 => Nid::BRAINPOOL_P192R1,
        10 => Nid::SECP224R1,
        11 => Nid::BRAINPOOL_P224R1,
        12 => Nid::X9_62_PRIME256V1,
        13 => Nid::BRAINPOOL_P256R1,
        14 => Nid::BRAINPOOL_P320R1,
        15 => Nid::SECP384R1,
        16 => Nid::BRAINPOOL_P384R1,
        17 => Nid::BRAINPOOL_P512R1,
        18 => Nid::SECP521R1,
        _ => return None,
    })
}

impl Group {
    /// The standardized domain parameters with this id (Part 11 Table 12).
    pub fn standard(id: u8) -> Result<Self, GroupError> {
        if let Some(nid) = curve_of(id) {
            return Ok(Self::Ec(EcGroup::from_curve_name(nid)?));
        }
        let dh = match id {
            0 => Dh::get_1024_160()?,
            1 => Dh::get_2048_224()?,
            2 => Dh::get_2048_256()?,
            _ => return Err(GroupError::UnknownParameterId(id)),
        };
        let q = dh.prime_q().ok_or(GroupError::UnknownParameterId(id))?.to_owned()?;
        Ok(Self::Dh { p: dh.prime_p().to_owned()?, q, g: dh.generator().to_owned()? })
    }

    pub fn curve(nid: Nid) -> Result<Self, GroupError> {
        Ok(Self::Ec(EcGroup::from_curve_name(nid)?))
    }

    pub fn is_ec(&self) -> bool {
        matches!(self, Self::Ec(_))
    }

    /// The order of the generator.
    pub fn order(&self) -> Result<BigNum, GroupError> {
        match self {
            Self::Ec(group) => {
                let mut n = BigNum::new()?;
                let mut ctx = BigNumContext::new()?;
                group.order(&mut n, &mut ctx)?;
                Ok(n)
            }
            Self::Dh { q, .. } => Ok(BigNumRef::to_owned(q)?),
        }
    }

    /// Bytes of a field element (EC) or of the modulus (DH).
    pub fn field_len(&self) -> Result<usize, GroupError> {
        Ok(self.field_prime()?.num_bytes() as usize)
    }

    /// p: the field characteristic (EC) or the modulus (DH).
    pub fn field_prime(&self) -> Result<BigNum, GroupError> {
        match self {
            Self::Ec(group) => {
                let (mut p, mut a, mut b) = (BigNum::new()?, BigNum::new()?, BigNum::new()?);
                let mut ctx = BigNumContext::new()?;
                group.components_gfp(&mut p, &mut a, &mut b, &mut ctx)?;
                Ok(p)
            }
            Self::Dh { p, .. } => Ok(BigNumRef::to_owned(p)?),
        }
    }

    /// The standard generator, encoded.
    pub fn generator(&self) -> Result<Vec<u8>, GroupError> {
        match self {
            Self::Ec(group) => encode_point(group, group.generator_opt().ok_or(GroupError::InvalidPublicKey)?),
            Self::Dh { g, .. } => Ok(g.to_vec()),
        }
    }

    /// A private key in [1, order − 1] from random bytes: reduced mod the order, 0 taken as 1
    /// (a value already below the order is kept, so worked examples can be replayed).
    pub fn private_key(&self, random: &[u8]) -> Result<BigNum, GroupError> {
        let (random, order) = (BigNum::from_slice(random)?, self.order()?);
        let mut ctx = BigNumContext::new()?;
        let mut k = BigNum::new()?;
        k.nnmod(&random, &order, &mut ctx)?;
        if k.num_bits() == 0 {
            k.add_word(1)?;
        }
        Ok(k)
    }

    /// `scalar` × `element` (EC) or `element` ^ `scalar` mod p (DH), after checking `element`.
    pub fn mul(&self, scalar: &BigNumRef, element: &[u8]) -> Result<Vec<u8>, GroupError> {
        let mut ctx = BigNumContext::new()?;
        match self {
            Self::Ec(group) => {
                let point = self.decode_point(element)?;
                let mut out = EcPoint::new(group)?;
                out.mul2(group, &point, scalar, &mut ctx)?;
                encode_point(group, &out)
            }
            Self::Dh { p, .. } => {
                let y = self.decode_dh(element)?;
                let mut out = BigNum::new()?;
                out.mod_exp(&y, scalar, p, &mut ctx)?;
                Ok(out.to_vec())
            }
        }
    }

    /// Generic mapping (§4.4.3.3.1): s × G + H, or g^s · h mod p.
    pub fn map_generic(&self, s: &[u8], h: &[u8]) -> Result<Vec<u8>, GroupError> {
        let mut ctx = BigNumContext::new()?;
        let s = BigNum::from_slice(s)?;
        match self {
            Self::Ec(group) => {
                let h = self.decode_point(h)?;
                let mut sg = EcPoint::new(group)?;
                sg.mul_generator2(group, &s, &mut ctx)?;
                let mut out = EcPoint::new(group)?;
                out.add(group, &sg, &h, &mut ctx)?;
                encode_point(group, &out)
            }
            Self::Dh { p, g, .. } => {
                let h = self.decode_dh(h)?;
                let mut gs = BigNum::new()?;
                gs.mod_exp(g, &s, p, &mut ctx)?;
                let mut out = BigNum::new()?;
                out.mod_mul(&gs, &h, p, &mut ctx)?;
                Ok(out.to_vec())
            }
        }
    }

    /// Integrated mapping (§4.4.3.3.2): the point encoding f_G of Appendix B.2 (affine) or
    /// f_g(x) = x^((p−1)/q) mod p, applied to the pseudo-random field element `x`.
    pub fn map_integrated(&self, x: &BigNumRef) -> Result<Vec<u8>, GroupError> {
        let mut ctx = BigNumContext::new()?;
        match self {
            Self::Ec(group) => {
                let (mut p, mut a, mut b) = (BigNum::new()?, BigNum::new()?, BigNum::new()?);
                group.components_gfp(&mut p, &mut a, &mut b, &mut ctx)?;
                if !p.is_bit_set(0) || !p.is_bit_set(1) {
                    return Err(GroupError::NoIntegratedMapping);
                }
                let point = point_encoding(group, &p, &a, &b, x, &mut ctx)?;
                encode_point(group, &point)
            }
            Self::Dh { p, q, .. } => {
                let mut p1 = BigNumRef::to_owned(p)?;
                p1.sub_word(1)?;
                let (mut a, mut rem) = (BigNum::new()?, BigNum::new()?);
                a.div_rem(&mut rem, &p1, q, &mut ctx)?;
                let mut out = BigNum::new()?;
                out.mod_exp(x, &a, p, &mut ctx)?;
                if out.num_bits() <= 1 {
                    return Err(GroupError::InvalidPublicKey);
                }
                Ok(out.to_vec())
            }
        }
    }

    /// The shared secret of a key agreement result: the x-coordinate (EC, FE2OS) or the DH value
    /// padded to the modulus length.
    pub fn shared_secret(&self, element: &[u8]) -> Result<Vec<u8>, GroupError> {
        let len = self.field_len()?;
        match self {
            Self::Ec(_) => element.get(1..1 + len).map(<[u8]>::to_vec).ok_or(GroupError::InvalidPublicKey),
            Self::Dh { .. } => Ok(BigNum::from_slice(element)?.to_vec_padded(len as i32)?),
        }
    }

    /// Checks a received public key: on the curve and not the point at infinity, or
    /// 1 < y < p − 1 with y^q = 1 (RFC 2631).
    pub fn validate(&self, element: &[u8]) -> Result<(), GroupError> {
        match self {
            Self::Ec(_) => self.decode_point(element).map(drop),
            Self::Dh { .. } => self.decode_dh(element).map(drop),
        }
    }

    fn decode_point(&self, bytes: &[u8]) -> Result<EcPoint, GroupError> {
        let Self::Ec(group) = self else { return Err(GroupError::InvalidPublicKey) };
        let mut ctx = BigNumContext::new()?;
        if bytes.first() != Some(&0x04) {
            return Err(GroupError::InvalidPublicKey);
        }
        let point = EcPoint::from_bytes(group, bytes, &mut ctx).map_err(|_| GroupError::InvalidPublicKey)?;
        if point.is_infinity(group) || !point.is_on_curve(group, &mut ctx)? {
            return Err(GroupError::InvalidPublicKey);
        }
        Ok(point)
    }

    fn decode_dh(&self, bytes: &[u8]) -> Result<BigNum, GroupError> {
        let Self::Dh { p, q, .. } = self else { return Err(GroupError::InvalidPublicKey) };
        let y = BigNum::from_slice(bytes)?;
        let mut p1 = BigNumRef::to_owned(p)?;
        p1.sub_word(1)?;
        if y.num_bits() <= 1 || y >= p1 {
            return Err(GroupError::InvalidPublicKey);
        }
        let mut ctx = BigNumContext::new()?;
        let mut check = BigNum::new()?;
        check.mod_exp(&y, q, p, &mut ctx)?;
        if check != BigNum::from_u32(1)? {
            return Err(GroupError::InvalidPublicKey);
        }
        Ok(y)
    }
}

fn encode_point(group: &EcGroup, point: &openssl::ec::EcPointRef) -> Result<Vec<u8>, GroupError> {
    let mut ctx = BigNumContext::new()?;
    Ok(point.to_bytes(group, PointConversionForm::UNCOMPRESSED, &mut ctx)?)
}

/// Arithmetic modulo p for the point encoding.
struct Fp<'a> {
    p: &'a BigNumRef,
    ctx: BigNumContext,
}

impl Fp<'_> {
    fn mul(&mut self, x: &BigNumRef, y: &BigNumRef) -> Result<BigNum, ErrorStack> {
        let mut r = BigNum::new()?;
        r.mod_mul(x, y, self.p, &mut self.ctx)?;
        Ok(r)
    }

    fn add(&mut self, x: &BigNumRef, y: &BigNumRef) -> Result<BigNum, ErrorStack> {
        let mut r = BigNum::new()?;
        r.mod_add(x, y, self.p, &mut self.ctx)?;
        Ok(r)
    }

    fn neg(&mut self, x: &BigNumRef) -> Result<BigNum, ErrorStack> {
        let zero = BigNum::new()?;
        let mut r = BigNum::new()?;
        r.mod_sub(&zero, x, self.p, &mut self.ctx)?;
        Ok(r)
    }

    fn inverse(&mut self, x: &BigNumRef) -> Result<BigNum, ErrorStack> {
        let mut r = BigNum::new()?;
        r.mod_inverse(x, self.p, &mut self.ctx)?;
        Ok(r)
    }

    fn pow(&mut self, x: &BigNumRef, e: &BigNumRef) -> Result<BigNum, ErrorStack> {
        let mut r = BigNum::new()?;
        r.mod_exp(x, e, self.p, &mut self.ctx)?;
        Ok(r)
    }

    /// x³ + a x + b
    fn curve(&mut self, x: &BigNumRef, a: &BigNumRef, b: &BigNumRef) -> Result<BigNum, ErrorStack> {
        let x2 = self.mul(x, x)?;
        let x3 = self.mul(&x2, x)?;
        let ax = self.mul(a, x)?;
        let sum = self.add(&x3, &ax)?;
        self.add(&sum, b)
    }
}

/// Appendix B.2: the point encoding of Brier et al. for p ≡ 3 mod 4, in affine coordinates,
/// then multiplied by the cofactor.
fn point_encoding(
    group: &EcGroup,
    p: &BigNumRef,
    a: &BigNumRef,
    b: &BigNumRef,
    t: &BigNumRef,
    ctx: &mut BigNumContext,
) -> Result<EcPoint, GroupError> {
    let mut fp = Fp { p, ctx: BigNumContext::new()? };
    let one = BigNum::from_u32(1)?;
    // 1. α = −t² mod p
    let t2 = fp.mul(t, t)?;
    let alpha = fp.neg(&t2)?;
    // 2. X2 = −b (1 + α + α²) (a (α + α²))⁻¹ mod p
    let alpha2 = fp.mul(&alpha, &alpha)?;
    let s = fp.add(&alpha, &alpha2)?;
    let one_s = fp.add(&one, &s)?;
    let minus_b = fp.neg(b)?;
    let num = fp.mul(&minus_b, &one_s)?;
    let den = fp.mul(a, &s)?;
    let den_inv = fp.inverse(&den)?;
    let x2 = fp.mul(&num, &den_inv)?;
    // 3. X3 = α X2
    let x3 = fp.mul(&alpha, &x2)?;
    // 4. h2 = X2³ + a X2 + b (h3 of step 5 is not needed in affine form)
    let h2 = fp.curve(&x2, a, b)?;
    // 6. U = t³ h2
    let t3 = fp.mul(&t2, t)?;
    let u = fp.mul(&t3, &h2)?;
    // 7. A = h2^(p − 1 − (p+1)/4)
    let mut p1 = BigNumRef::to_owned(p)?;
    p1.add_word(1)?;
    let mut quarter = BigNum::new()?;
    quarter.rshift(&p1, 2)?;
    let mut pm1 = BigNumRef::to_owned(p)?;
    pm1.sub_word(1)?;
    let mut e = BigNum::new()?;
    e.checked_sub(&pm1, &quarter)?;
    let big_a = fp.pow(&h2, &e)?;
    // 8./9. (X2, A h2) when A² h2 = 1, else (X3, A U)
    let a2 = fp.mul(&big_a, &big_a)?;
    let test = fp.mul(&a2, &h2)?;
    let (x, y) = if test == one { (x2, fp.mul(&big_a, &h2)?) } else { (x3, fp.mul(&big_a, &u)?) };
    let mut point = EcPoint::new(group)?;
    point.set_affine_coordinates_gfp(group, &x, &y, ctx)?;
    // 10. [f](x, y)
    let mut f = BigNum::new()?;
    group.cofactor(&mut f, ctx)?;
    let mut out = EcPoint::new(group)?;
    out.mul2(group, &point, &f, ctx)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn scalar(s: &str) -> BigNum {
        BigNum::from_slice(&h(s)).unwrap()
    }

    /// Appendix G.1, chip side: PK_map,IC, H, the mapped generator, PK_DH,IC, the shared secret.
    #[test]
    fn appendix_g1_chip_side() {
        let g = Group::standard(13).unwrap();
        let sk_map = scalar("498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560");
        let pk_map = g.mul(&sk_map, &g.generator().unwrap()).unwrap();
        assert_eq!(pk_map, h("04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57
            30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"));
        let pk_map_ifd = h("047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E
            544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D");
        let shared_h = g.mul(&sk_map, &pk_map_ifd).unwrap();
        assert_eq!(shared_h, h("0460332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD5
            0840CA7415BAF3E43BD414D35AA4608B93A2CAF3A4E3EA4E82C9C13D03EB7181"));
        let mapped = g.map_generic(&h("3F00C4D39D153F2B2A214A078D899B22"), &shared_h).unwrap();
        assert_eq!(mapped, h("048CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2
            8C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522"));
        let sk_dh = scalar("107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A");
        let pk_dh = g.mul(&sk_dh, &mapped).unwrap();
        assert_eq!(pk_dh, h("049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB
            7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094"));
        let pk_dh_ifd = h("042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C
            3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462");
        let k = g.shared_secret(&g.mul(&sk_dh, &pk_dh_ifd).unwrap()).unwrap();
        assert_eq!(k, h("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925"));
    }

    /// Appendix G.2, chip side (DH, RFC 5114 1024-bit group).
    #[test]
    fn appendix_g2_chip_side() {
        let g = Group::standard(0).unwrap();
        let sk_map = scalar("66DDAFEAC1609CB5B963BB0CB3FF8B3E047F336C");
        let pk_map = g.mul(&sk_map, &g.generator().unwrap()).unwrap();
        assert_eq!(pk_map, h("78879F57225AA8080D52ED0FC890A4B25336F699AA89A2D3A189654AF70729E6
            23EA5738B26381E4DA19E004706FACE7B235C2DBF2F38748312F3C98C2DD4882
            A41947B324AA1259AC22579DB93F7085655AF30889DBB845D9E6783FE42C9F24
            49400306254C8AE8EE9DD812A804C0B66E8CAFC14F84D8258950A91B44126EE6"));
        let pk_map_ifd = h("23FB3749EA030D2A25B278D2A562047ADE3F01B74F17A15402CB7352CA7D2B3E
            B71C343DB13D1DEBCE9A3666DBCFC920B49174A602CB47965CAA73DC702489A4
            4D41DB914DE9613DC5E98C94160551C0DF86274B9359BC0490D01B03AD54022D
            CB4F57FAD6322497D7A1E28D46710F461AFE710FBBBC5F8BA166F4311975EC6C");
        let shared_h = g.mul(&sk_map, &pk_map_ifd).unwrap();
        assert_eq!(shared_h, h("5BABEBEF5B74E5BA94B5C063FDA15F1F1CDE94873EE0A5D3A2FCAB49F258D07F
            544F13CB66658C3AFEE9E727389BE3F6CBBBD32128A8C21DD6EEA3CF7091CDDF
            B08B8D007D40318DCCA4FFBF51208790FB4BD111E5A968ED6B6F08B26CA87C41
            0B3CE0C310CE104EABD16629AA48620C1279270CB0750C0D37C57FFFE302AE7F"));
        let mapped = g.map_generic(&h("FA5B7E3E49753A0DB9178B7B9BD898C8"), &shared_h).unwrap();
        assert_eq!(mapped, h("7C9CBFE98F9FBDDA8D143506FA7D9306F4CB17E3C71707AFF5E1C1A123702496
            84D64EE37AF44B8DBD9D45BF6023919CBAA027AB97ACC771666C8E98FF483301
            BFA4872DEDE9034EDFACB70814166B7F360676829B826BEA57291B5AD69FBC84
            EF1E779032A305803F74341793E869742D401325B37EE8565FFCDEE618342DC5"));
        let mapped_group = Group::Dh {
            p: g.field_prime().unwrap(),
            q: g.order().unwrap(),
            g: BigNum::from_slice(&mapped).unwrap(),
        };
        let sk_dh = scalar("A5B780126B7C980E9FCEA1D4539DA1D27C342DFA");
        let pk_dh = mapped_group.mul(&sk_dh, &mapped).unwrap();
        assert_eq!(pk_dh, h("075693D9AE941877573E634B6E644F8E60AF17A0076B8B123D9201074D36152B
            D8B3A213F53820C42ADC79AB5D0AEEC3AEFB91394DA476BD97B9B14D0A65C1FC
            71A0E019CB08AF55E1F729005FBA7E3FA5DC41899238A250767A6D46DB974064
            386CD456743585F8E5D90CC8B4004B1F6D866C79CE0584E49687FF61BC29AEA1"));
        let pk_dh_ifd = h("907D89E2D425A178AA81AF4A7774EC8E388C115CAE67031E85EECE520BD911
            551B9AE4D04369F29A02626C86FBC6747CC7BC352645B6161A2A42D44EDA80A0
            8FA8D61B76D3A154AD8A5A51786B0BC0714705787 1A922212C5F67F431731722
            36B7747D1671E6D692A3C7D40A0C3C5CE397545D015C175EB5130551EDBC2EE5D4");
        let k = mapped_group.shared_secret(&mapped_group.mul(&sk_dh, &pk_dh_ifd).unwrap()).unwrap();
        assert_eq!(k, h("6BABC7B3A72BCD7EA385E4C62DB2625BD8613B24149E146A629311C4CA6698E3
            8B834B6A9E9CD7184BA8834AFF5043D436950C4C1E7832367C10CB8C314D40E5
            990B0DF7013E64B4549E2270923D06F08CFF6BD3E977DDE6ABE4C31D55C0FA2E
            465E553E77BDF75E3193D3834FC26E8EB1EE2FA1E4FC97C18C3F6CFFFE2607FD"));
    }

    #[test]
    fn every_standard_id_gives_a_group() {
        for id in [0u8, 1, 2, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18] {
            let g = Group::standard(id).unwrap();
            let k = g.private_key(&[0x5A; 40]).unwrap();
            let public = g.mul(&k, &g.generator().unwrap()).unwrap();
            g.validate(&public).unwrap();
        }
        assert!(matches!(Group::standard(3), Err(GroupError::UnknownParameterId(3))));
    }

    #[test]
    fn invalid_public_keys_are_refused() {
        let ec = Group::standard(13).unwrap();
        assert!(ec.validate(&[0x04; 65]).is_err());
        assert!(ec.validate(&[]).is_err());
        let dh = Group::standard(0).unwrap();
        assert!(dh.validate(&[1]).is_err());
        // p − 1 has order 2, not q.
        let mut p1 = dh.field_prime().unwrap();
        p1.sub_word(1).unwrap();
        assert!(dh.validate(&p1.to_vec()).is_err());
    }

    #[test]
    fn p224_has_no_integrated_mapping() {
        let g = Group::standard(10).unwrap();
        assert!(matches!(g.map_integrated(&BigNum::from_u32(5).unwrap()), Err(GroupError::NoIntegratedMapping)));
    }
}
