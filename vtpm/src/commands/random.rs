//! Random number commands (Part 3 §16).

use crate::Tpm;
use crate::dispatch::Params;
use crate::error::TpmResult;
use crate::platform::Platform;
use crate::wire::Writer;
use crate::wire::types::{MAX_DIGEST, MAX_SYM_DATA};

impl<P: Platform> Tpm<P> {
    /// TPM2_GetRandom (Part 3 §16.1): at most MAX_DIGEST bytes per call (shorter output for
    /// larger requests, as the spec allows).
    pub(crate) fn get_random(&mut self, p: &mut Params<'_>, w: &mut Writer<'_>) -> TpmResult<()> {
        let n = usize::from(p.u16()?);
        p.finish()?;
        let mut buf = [0u8; MAX_DIGEST];
        let out = buf.get_mut(..n.min(MAX_DIGEST)).unwrap_or(&mut []);
        self.random(out)?;
        w.tpm2b(out)?;
        Ok(())
    }

    /// TPM2_StirRandom (Part 3 §16.2): mix caller data into the DRBG as additional input.
    /// inData is a TPM2B_SENSITIVE_DATA: more than MAX_SYM_DATA (128) bytes is TPM_RC_SIZE at
    /// parameter 1, as the reference implementation's unmarshaling answers.
    pub(crate) fn stir_random(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        let data = p.tpm2b(MAX_SYM_DATA)?;
        p.finish()?;
        self.rng.stir(data);
        Ok(())
    }
}
