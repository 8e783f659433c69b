//! Key agreement groups of PACE and Chip Authentication (ICAO 9303 Part 11 §9.5.1): the
//! standardised domain parameters (ids 0–2: RFC 5114 MODP groups; 8–18: NIST and brainpool
//! curves), curves given by explicit parameters, and a generator mapped by PACE. Arithmetic is
//! OpenSSL's (curves chosen at run time, every standard curve, big numbers for DH).

use openssl::bn::{BigNum, BigNumContext, BigNumRef};
use openssl::dh::Dh;
use openssl::ec::{EcGroup, EcGroupRef, EcPoint, PointConversionForm};
use openssl::nid::Nid;
use zeroize::Zeroizing;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    #[error("domain parameter id {0} is not a standardised one")]
    UnknownParameterId(u64),
    #[error("the chip's public key is not a valid element of the group")]
    InvalidPublicKey,
    #[error("the mapped generator is degenerate")]
    DegenerateGenerator,
    #[error("the group's arithmetic failed")]
    Arithmetic,
}

impl From<openssl::error::ErrorStack> for DomainError {
    fn from(_: openssl::error::ErrorStack) -> Self {
        DomainError::Arithmetic
    }
}

/// A prime-order DH group: modulus, generator, subgroup order.
pub struct DhGroup {
    pub p: BigNum,
    pub g: BigNum,
    pub q: BigNum,
}

/// A group with its generator (the standard one, or the one PACE mapped).
pub enum Group {
    Ec { group: EcGroup, generator: EcPoint },
    Dh(DhGroup),
}

/// A private key: a scalar in [1, order − 1], wiped when dropped.
pub struct PrivateKey(Zeroizing<Vec<u8>>);

impl PrivateKey {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    fn bn(&self) -> Result<BigNum, DomainError> {
        Ok(BigNum::from_slice(&self.0)?)
    }
}

pub fn ctx() -> Result<BigNumContext, DomainError> {
    Ok(BigNumContext::new()?)
}

fn curve_nid(parameter_id: u64) -> Option<Nid> {
    Some(match parameter_id {
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

/// The name of a standardised parameter id, for reports.
pub fn parameter_name(parameter_id: u64) -> &'static str {
    match parameter_id {
        0 => "MODP-1024-160",
        1 => "MODP-2048-224",
        2 => "MODP-2048-256",
        8 => "secp192r1",
        9 => "brainpoolP192r1",
        10 => "secp224r1",
        11 => "brainpoolP224r1",
        12 => "secp256r1",
        13 => "brainpoolP256r1",
        14 => "brainpoolP320r1",
        15 => "secp384r1",
        16 => "brainpoolP384r1",
        17 => "brainpoolP512r1",
        18 => "secp521r1",
        _ => "unknown",
    }
}

impl Group {
    /// The group of a standardised domain parameter id (9303-11 Table 7).
    pub fn standard(parameter_id: u64) -> Result<Self, DomainError> {
        if let Some(nid) = curve_nid(parameter_id) {
            return Self::named_curve(nid);
        }
        let dh = match parameter_id {
            0 => Dh::get_1024_160()?,
            1 => Dh::get_2048_224()?,
            2 => Dh::get_2048_256()?,
            other => return Err(DomainError::UnknownParameterId(other)),
        };
        let q = dh.prime_q().ok_or(DomainError::Arithmetic)?.to_owned()?;
        Ok(Self::Dh(DhGroup { p: dh.prime_p().to_owned()?, g: dh.generator().to_owned()?, q }))
    }

    pub fn named_curve(nid: Nid) -> Result<Self, DomainError> {
        let group = EcGroup::from_curve_name(nid)?;
        let generator = group.generator_opt().ok_or(DomainError::Arithmetic)?.to_owned(&group)?;
        Ok(Self::Ec { group, generator })
    }

    /// A curve from explicit prime-field parameters (p, a, b, G, n, h).
    pub fn explicit_curve(
        p: &[u8],
        a: &[u8],
        b: &[u8],
        generator: &[u8],
        order: &[u8],
        cofactor: &[u8],
    ) -> Result<Self, DomainError> {
        let mut ctx = ctx()?;
        let mut group = EcGroup::from_components(
            BigNum::from_slice(p)?,
            BigNum::from_slice(a)?,
            BigNum::from_slice(b)?,
            &mut ctx,
        )?;
        let g = EcPoint::from_bytes(&group, generator, &mut ctx).map_err(|_| DomainError::InvalidPublicKey)?;
        let g_copy = g.to_owned(&group)?;
        group.set_generator(g, BigNum::from_slice(order)?, BigNum::from_slice(cofactor)?)?;
        Ok(Self::Ec { group, generator: g_copy })
    }

    /// The order of the generator's subgroup.
    fn order(&self) -> Result<BigNum, DomainError> {
        match self {
            Self::Ec { group, .. } => {
                let mut order = BigNum::new()?;
                group.order(&mut order, &mut *ctx()?)?;
                Ok(order)
            }
            Self::Dh(dh) => Ok(dh.q.to_owned()?),
        }
    }

    /// Bytes of a field element (the x coordinate of a shared point, a DH value).
    pub fn field_len(&self) -> Result<usize, DomainError> {
        match self {
            Self::Ec { group, .. } => {
                let (mut p, mut a, mut b) = (BigNum::new()?, BigNum::new()?, BigNum::new()?);
                group.components_gfp(&mut p, &mut a, &mut b, &mut *ctx()?)?;
                Ok(p.num_bytes() as usize)
            }
            Self::Dh(dh) => Ok(dh.p.num_bytes() as usize),
        }
    }

    /// A fresh private key, uniform in [1, order − 1].
    pub fn generate_private(&self) -> Result<PrivateKey, DomainError> {
        let order = self.order()?;
        let one = BigNum::from_u32(1)?;
        let mut range = BigNum::new()?;
        range.checked_sub(&order, &one)?;
        let mut k = BigNum::new()?;
        range.rand_range(&mut k)?;
        let mut shifted = BigNum::new()?;
        shifted.checked_add(&k, &one)?;
        let len = order.num_bytes();
        Ok(PrivateKey(Zeroizing::new(shifted.to_vec_padded(len)?)))
    }

    /// The public key of `private` on this group's generator: an uncompressed point (04‖x‖y)
    /// or a DH value padded to the modulus length.
    pub fn public_key(&self, private: &PrivateKey) -> Result<Vec<u8>, DomainError> {
        let mut ctx = ctx()?;
        let k = private.bn()?;
        match self {
            Self::Ec { group, generator } => {
                let mut out = EcPoint::new(group)?;
                out.mul2(group, generator, &k, &mut ctx)?;
                Ok(out.to_bytes(group, PointConversionForm::UNCOMPRESSED, &mut ctx)?)
            }
            Self::Dh(dh) => {
                let mut y = BigNum::new()?;
                y.mod_exp(&dh.g, &k, &dh.p, &mut ctx)?;
                Ok(y.to_vec_padded(dh.p.num_bytes())?)
            }
        }
    }

    /// Checks a peer's public key: a point on the curve other than infinity, or 1 < y < p − 1
    /// with y^q = 1 (in the prime-order subgroup).
    pub fn check_public(&self, public: &[u8]) -> Result<(), DomainError> {
        let mut ctx = ctx()?;
        match self {
            Self::Ec { group, .. } => {
                let point = EcPoint::from_bytes(group, public, &mut ctx).map_err(|_| DomainError::InvalidPublicKey)?;
                if point.is_infinity(group) || !point.is_on_curve(group, &mut ctx)? {
                    return Err(DomainError::InvalidPublicKey);
                }
                Ok(())
            }
            Self::Dh(dh) => {
                let y = BigNum::from_slice(public)?;
                let mut p_minus_1 = BigNum::new()?;
                p_minus_1.checked_sub(&dh.p, BigNum::from_u32(1)?.as_ref())?;
                if y.num_bits() <= 1 || y.ucmp(&p_minus_1) != std::cmp::Ordering::Less {
                    return Err(DomainError::InvalidPublicKey);
                }
                let mut check = BigNum::new()?;
                check.mod_exp(&y, &dh.q, &dh.p, &mut ctx)?;
                if check != BigNum::from_u32(1)? {
                    return Err(DomainError::InvalidPublicKey);
                }
                Ok(())
            }
        }
    }

    /// The shared secret of `private` and the peer's `public`: the x coordinate of k·P, or
    /// y^k mod p, padded to the field length (9303-11 §9.6).
    pub fn shared_secret(&self, private: &PrivateKey, public: &[u8]) -> Result<Zeroizing<Vec<u8>>, DomainError> {
        self.check_public(public)?;
        let mut ctx = ctx()?;
        let k = private.bn()?;
        match self {
            Self::Ec { group, .. } => {
                let point = EcPoint::from_bytes(group, public, &mut ctx).map_err(|_| DomainError::InvalidPublicKey)?;
                let mut shared = EcPoint::new(group)?;
                shared.mul2(group, &point, &k, &mut ctx)?;
                if shared.is_infinity(group) {
                    return Err(DomainError::InvalidPublicKey);
                }
                let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
                shared.affine_coordinates(group, &mut x, &mut y, &mut ctx)?;
                Ok(Zeroizing::new(x.to_vec_padded(self.field_len()? as i32)?))
            }
            Self::Dh(dh) => {
                let y = BigNum::from_slice(public)?;
                let mut z = BigNum::new()?;
                z.mod_exp(&y, &k, &dh.p, &mut ctx)?;
                Ok(Zeroizing::new(z.to_vec_padded(dh.p.num_bytes())?))
            }
        }
    }

    /// Generic mapping (9303-11 §4.4.3.3.1): Ĝ = s·G + H with H = k·PK_map_IC (ECDH), or
    /// ĝ = g^s · h with h = PK_map_IC^k (DH).
    pub fn generic_mapping(&self, nonce: &[u8], private: &PrivateKey, chip_public: &[u8]) -> Result<Group, DomainError> {
        self.check_public(chip_public)?;
        let mut ctx = ctx()?;
        let s = BigNum::from_slice(nonce)?;
        let k = private.bn()?;
        match self {
            Self::Ec { group, generator } => {
                let chip = EcPoint::from_bytes(group, chip_public, &mut ctx).map_err(|_| DomainError::InvalidPublicKey)?;
                let mut h = EcPoint::new(group)?;
                h.mul2(group, &chip, &k, &mut ctx)?;
                let mut sg = EcPoint::new(group)?;
                sg.mul2(group, generator, &s, &mut ctx)?;
                let mut mapped = EcPoint::new(group)?;
                mapped.add(group, &sg, &h, &mut ctx)?;
                if mapped.is_infinity(group) {
                    return Err(DomainError::DegenerateGenerator);
                }
                Ok(Self::Ec { group: clone_group(group)?, generator: mapped })
            }
            Self::Dh(dh) => {
                let y = BigNum::from_slice(chip_public)?;
                let mut h = BigNum::new()?;
                h.mod_exp(&y, &k, &dh.p, &mut ctx)?;
                let mut gs = BigNum::new()?;
                gs.mod_exp(&dh.g, &s, &dh.p, &mut ctx)?;
                let mut mapped = BigNum::new()?;
                mapped.mod_mul(&gs, &h, &dh.p, &mut ctx)?;
                self.dh_with_generator(dh, mapped)
            }
        }
    }

    fn dh_with_generator(&self, dh: &DhGroup, g: BigNum) -> Result<Group, DomainError> {
        if g.num_bits() <= 1 {
            return Err(DomainError::DegenerateGenerator);
        }
        Ok(Self::Dh(DhGroup { p: dh.p.to_owned()?, g, q: dh.q.to_owned()? }))
    }

    /// Integrated mapping's last step (9303-11 §4.4.3.3.2): Ĝ = f_G(R_p) on a curve (point
    /// encoding of Appendix B), ĝ = R_p^((p−1)/q) for DH. `random` is R(s, t) before reduction.
    pub fn integrated_mapping(&self, random: &[u8]) -> Result<Group, DomainError> {
        let mut ctx = ctx()?;
        let r = BigNum::from_slice(random)?;
        match self {
            Self::Ec { group, .. } => {
                let (mut p, mut a, mut b) = (BigNum::new()?, BigNum::new()?, BigNum::new()?);
                group.components_gfp(&mut p, &mut a, &mut b, &mut ctx)?;
                let mut t = BigNum::new()?;
                t.nnmod(&r, &p, &mut ctx)?;
                let mapped = point_encoding(group, &t, &p, &a, &b, &mut ctx)?;
                Ok(Self::Ec { group: clone_group(group)?, generator: mapped })
            }
            Self::Dh(dh) => {
                let mut t = BigNum::new()?;
                t.nnmod(&r, &dh.p, &mut ctx)?;
                let mut p_minus_1 = BigNum::new()?;
                p_minus_1.checked_sub(&dh.p, BigNum::from_u32(1)?.as_ref())?;
                let mut exponent = BigNum::new()?;
                exponent.checked_div(&p_minus_1, &dh.q, &mut ctx)?;
                let mut g = BigNum::new()?;
                g.mod_exp(&t, &exponent, &dh.p, &mut ctx)?;
                self.dh_with_generator(dh, g)
            }
        }
    }

    /// Bit length of the field prime, for integrated mapping's R_p.
    pub fn prime_bits(&self) -> Result<usize, DomainError> {
        let mut ctx = ctx()?;
        Ok(match self {
            Self::Ec { group, .. } => {
                let (mut p, mut a, mut b) = (BigNum::new()?, BigNum::new()?, BigNum::new()?);
                group.components_gfp(&mut p, &mut a, &mut b, &mut ctx)?;
                p.num_bits() as usize
            }
            Self::Dh(dh) => dh.p.num_bits() as usize,
        })
    }

    /// The generator's encoding (for tests and PACE-CAM).
    pub fn generator_bytes(&self) -> Result<Vec<u8>, DomainError> {
        let mut ctx = ctx()?;
        match self {
            Self::Ec { group, generator } => Ok(generator.to_bytes(group, PointConversionForm::UNCOMPRESSED, &mut ctx)?),
            Self::Dh(dh) => Ok(dh.g.to_vec_padded(dh.p.num_bytes())?),
        }
    }

    pub fn is_ec(&self) -> bool {
        matches!(self, Self::Ec { .. })
    }

    /// PACE-CAM's check (9303-11 §4.4.3.5.2): PK_map_IC = CA_IC · PK_IC on the standard
    /// generator's group.
    pub fn check_chip_authentication_mapping(
        &self,
        ca_ic: &[u8],
        chip_static_public: &[u8],
        chip_map_public: &[u8],
    ) -> Result<bool, DomainError> {
        let mut ctx = ctx()?;
        let Self::Ec { group, .. } = self else { return Ok(false) };
        self.check_public(chip_static_public)?;
        let static_key = EcPoint::from_bytes(group, chip_static_public, &mut ctx).map_err(|_| DomainError::InvalidPublicKey)?;
        let map_key = EcPoint::from_bytes(group, chip_map_public, &mut ctx).map_err(|_| DomainError::InvalidPublicKey)?;
        let mut product = EcPoint::new(group)?;
        product.mul2(group, &static_key, &*BigNum::from_slice(ca_ic)?, &mut ctx)?;
        Ok(product.eq(group, &map_key, &mut ctx)?)
    }
}

pub(crate) fn clone_group(group: &EcGroupRef) -> Result<EcGroup, DomainError> {
    let mut ctx = ctx()?;
    if let Some(nid) = group.curve_name() {
        return Ok(EcGroup::from_curve_name(nid)?);
    }
    let (mut p, mut a, mut b) = (BigNum::new()?, BigNum::new()?, BigNum::new()?);
    group.components_gfp(&mut p, &mut a, &mut b, &mut ctx)?;
    let mut copy = EcGroup::from_components(p, a, b, &mut ctx)?;
    let g = group.generator_opt().ok_or(DomainError::Arithmetic)?.to_owned(group)?;
    let (mut order, mut cofactor) = (BigNum::new()?, BigNum::new()?);
    group.order(&mut order, &mut ctx)?;
    group.cofactor(&mut cofactor, &mut ctx)?;
    copy.set_generator(g, order, cofactor)?;
    Ok(copy)
}

/// f_G of 9303-11 Appendix B (affine), for p ≡ 3 (mod 4): maps a field element onto the
/// curve. No cryptography crate provides this PACE-specific encoding; it is written here on
/// OpenSSL's modular arithmetic.
fn point_encoding(
    group: &EcGroup,
    t: &BigNumRef,
    p: &BigNumRef,
    a: &BigNumRef,
    b: &BigNumRef,
    ctx: &mut BigNumContext,
) -> Result<EcPoint, DomainError> {
    let one = BigNum::from_u32(1)?;
    let two = BigNum::from_u32(2)?;
    let three = BigNum::from_u32(3)?;
    let zero = BigNum::new()?;
    let new = || BigNum::new();
    // α = −t² mod p
    let mut t2 = new()?;
    t2.mod_sqr(t, p, ctx)?;
    let mut alpha = new()?;
    alpha.mod_sub(&zero, &t2, p, ctx)?;
    // X2 = −b (1 + α + α²) (a (α + α²))^(p−2)
    let mut alpha2 = new()?;
    alpha2.mod_sqr(&alpha, p, ctx)?;
    let mut sum = new()?;
    sum.mod_add(&alpha, &alpha2, p, ctx)?;
    let mut one_plus = new()?;
    one_plus.mod_add(&one, &sum, p, ctx)?;
    let mut a_sum = new()?;
    a_sum.mod_mul(a, &sum, p, ctx)?;
    if a_sum.num_bits() == 0 {
        return Err(DomainError::DegenerateGenerator);
    }
    let mut p_minus_2 = new()?;
    p_minus_2.checked_sub(p, &two)?;
    let mut inverse = new()?;
    inverse.mod_exp(&a_sum, &p_minus_2, p, ctx)?;
    let mut minus_b = new()?;
    minus_b.mod_sub(&zero, b, p, ctx)?;
    let mut x2 = new()?;
    x2.mod_mul(&minus_b, &one_plus, p, ctx)?;
    let mut tmp = new()?;
    tmp.mod_mul(&x2, &inverse, p, ctx)?;
    let x2 = tmp;
    // X3 = α X2
    let mut x3 = new()?;
    x3.mod_mul(&alpha, &x2, p, ctx)?;
    // h2 = X2³ + a X2 + b
    let mut x2_cubed = new()?;
    x2_cubed.mod_exp(&x2, &three, p, ctx)?;
    let mut a_x2 = new()?;
    a_x2.mod_mul(a, &x2, p, ctx)?;
    let mut h2 = new()?;
    h2.mod_add(&x2_cubed, &a_x2, p, ctx)?;
    let mut h2b = new()?;
    h2b.mod_add(&h2, b, p, ctx)?;
    let h2 = h2b;
    // U = t³ h2
    let mut t3 = new()?;
    t3.mod_exp(t, &three, p, ctx)?;
    let mut u = new()?;
    u.mod_mul(&t3, &h2, p, ctx)?;
    // A = h2^(p − 1 − (p + 1)/4)
    let mut p_plus_1 = new()?;
    p_plus_1.checked_add(p, &one)?;
    let mut quarter = new()?;
    quarter.checked_div(&p_plus_1, &*BigNum::from_u32(4)?, ctx)?;
    let mut p_minus_1 = new()?;
    p_minus_1.checked_sub(p, &one)?;
    let mut exponent = new()?;
    exponent.checked_sub(&p_minus_1, &quarter)?;
    let mut big_a = new()?;
    big_a.mod_exp(&h2, &exponent, p, ctx)?;
    // A² h2 = 1 → (X2, A h2), else (X3, A U)
    let mut a2 = new()?;
    a2.mod_sqr(&big_a, p, ctx)?;
    let mut test = new()?;
    test.mod_mul(&a2, &h2, p, ctx)?;
    let (x, mut y) = if test == one {
        let mut y = new()?;
        y.mod_mul(&big_a, &h2, p, ctx)?;
        (x2, y)
    } else {
        let mut y = new()?;
        y.mod_mul(&big_a, &u, p, ctx)?;
        (x3, y)
    };
    let mut point = EcPoint::new(group)?;
    point.set_affine_coordinates_gfp(group, &x, &y, ctx).map_err(|_| DomainError::DegenerateGenerator)?;
    y.clear();
    let mut cofactor = new()?;
    group.cofactor(&mut cofactor, ctx)?;
    if cofactor != one {
        let mut multiplied = EcPoint::new(group)?;
        multiplied.mul2(group, &point, &cofactor, ctx)?;
        point = multiplied;
    }
    if point.is_infinity(group) {
        return Err(DomainError::DegenerateGenerator);
    }
    Ok(point)
}
