//! KDFa (Part 1 §11.4.10.2): SP 800-108 counter-mode KDF with HMAC; KDFe (Part 1 §11.4.10.3).
//!
//! Every block is key material (symmetric keys, HMAC keys, session keys, XOR masks): blocks are
//! computed into self-wiping [`crate::wire::types::Secret`]s, and the HMAC and hash states that
//! hold the key or Z are wiped on drop by the crates' `zeroize` features. The caller's `out` is
//! the caller's to wipe.

use super::hash::HashAlg;
use super::hmac::HmacState;

/// Fill `out` with KDFa(hash, key, label, context_u, context_v, bits = out.len() * 8).
///
/// Block i = HMAC(key, i ‖ label ‖ 00 ‖ U ‖ V ‖ bits), i from 1 as a big-endian u32; the NUL
/// after the label is not doubled if the label already ends in 0. Fails only if `out` is longer
/// than the 32-bit bit count can express.
pub fn kdfa(
    alg: HashAlg,
    key: &[u8],
    label: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    out: &mut [u8],
) -> Option<()> {
    let bits = u32::try_from(out.len()).ok()?.checked_mul(8)?;
    let mut counter: u32 = 0;
    for chunk in out.chunks_mut(alg.size()) {
        counter = counter.checked_add(1)?;
        let mut m = HmacState::new(alg, key);
        m.update(&counter.to_be_bytes());
        m.update(label);
        if label.last() != Some(&0) {
            m.update(&[0]);
        }
        m.update(context_u);
        m.update(context_v);
        m.update(&bits.to_be_bytes());
        let block = m.finish_secret();
        chunk.copy_from_slice(block.expose().get(..chunk.len())?);
    }
    Some(())
}

/// Fill `out` with KDFe(hash, Z, label, U, V, bits = out.len() * 8) (Part 1 §11.4.10.3, the
/// SP 800-56A §5.8.1 concatenation KDF): block i = H(i ‖ Z ‖ label ‖ 00 ‖ U ‖ V), i from 1 as a
/// big-endian u32; the NUL after the label is not doubled.
pub fn kdfe(
    alg: HashAlg,
    z: &[u8],
    label: &[u8],
    party_u: &[u8],
    party_v: &[u8],
    out: &mut [u8],
) -> Option<()> {
    let mut counter: u32 = 0;
    for chunk in out.chunks_mut(alg.size()) {
        counter = counter.checked_add(1)?;
        let mut h = super::hash::HashState::new(alg);
        h.update(&counter.to_be_bytes());
        h.update(z);
        h.update(label);
        if label.last() != Some(&0) {
            h.update(&[0]);
        }
        h.update(party_u);
        h.update(party_v);
        let block = h.finish_secret();
        chunk.copy_from_slice(block.expose().get(..chunk.len())?);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KDFa / KDFe against the formulas written out with the hash and HMAC directly.
    #[test]
    fn kdfs_follow_part1_11_4_10() {
        let mut a = [0u8; 40];
        kdfa(HashAlg::Sha256, b"key", b"STORAGE", b"u", b"v", &mut a).unwrap();
        let b1 = crate::crypto::hmac::hmac(
            HashAlg::Sha256,
            b"key",
            &[
                &1u32.to_be_bytes(),
                b"STORAGE\0",
                b"u",
                b"v",
                &320u32.to_be_bytes(),
            ],
        );
        let b2 = crate::crypto::hmac::hmac(
            HashAlg::Sha256,
            b"key",
            &[
                &2u32.to_be_bytes(),
                b"STORAGE\0",
                b"u",
                b"v",
                &320u32.to_be_bytes(),
            ],
        );
        assert_eq!(&a[..32], b1.as_slice());
        assert_eq!(&a[32..], &b2.as_slice()[..8]);
        let mut e = [0u8; 48];
        kdfe(HashAlg::Sha384, b"Z", b"IDENTITY", b"U", b"V", &mut e).unwrap();
        let expect =
            HashAlg::Sha384.digest(&[&1u32.to_be_bytes(), b"Z", b"IDENTITY\0", b"U", b"V"]);
        assert_eq!(&e[..], expect.as_slice());
    }
}
