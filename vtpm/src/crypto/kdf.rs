//! KDFa (Part 1 §11.4.10.2): SP 800-108 counter-mode KDF with HMAC.

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
        let block = m.finish();
        chunk.copy_from_slice(block.as_slice().get(..chunk.len())?);
    }
    Some(())
}
