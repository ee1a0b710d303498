//! Self-test commands (Part 3 §10). The core tests its algorithms by known-answer checks in
//! its test suite; at run time every algorithm is always "tested".

use crate::Tpm;
use crate::dispatch::Params;
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::wire::Writer;
use crate::wire::constants::TpmAlgId;
use crate::wire::types::MAX_BUFFER;

/// MAX_ALG_LIST_SIZE, the bound of TPML_ALG (Part 2): 64 in the reference's and libtpms' profiles.
const MAX_ALG_LIST_SIZE: u32 = 64;

impl<P: Platform> Tpm<P> {
    /// TPM2_SelfTest (Part 3 §10.2).
    pub(crate) fn self_test(&mut self, p: &mut Params<'_>) -> TpmResult<()> {
        let full = p.u8()?;
        p.finish()?;
        if full > 1 {
            return Err(TpmRc::VALUE.at_param(1));
        }
        Ok(())
    }

    /// TPM2_IncrementalSelfTest (Part 3 §10.3): returns the (empty) list still to be tested.
    pub(crate) fn incremental_self_test(
        &mut self,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        // toTest is one parameter (TPML_ALG): a list longer than MAX_ALG_LIST_SIZE is
        // TPM_RC_SIZE, an algorithm this TPM does not implement TPM_RC_VALUE, both at
        // parameter 1 (the reference's TPML_ALG_Unmarshal, then TPM2_IncrementalSelfTest).
        let all_implemented = p.next(|r| {
            let count = r.u32()?;
            if count > MAX_ALG_LIST_SIZE {
                return Err(TpmRc::SIZE);
            }
            let mut all = true;
            for _ in 0..count {
                let alg = TpmAlgId(r.u16()?);
                all &= crate::commands::capability::alg_implemented(alg);
            }
            Ok(all)
        })?;
        p.finish()?;
        if !all_implemented {
            return Err(TpmRc::VALUE.at_param(1));
        }
        w.u32(0)?;
        Ok(())
    }

    /// TPM2_GetTestResult (Part 3 §10.4): in failure mode, a description and TPM_RC_FAILURE.
    pub(crate) fn get_test_result(
        &mut self,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<()> {
        p.finish()?;
        if self.failure {
            let msg: &[u8] = b"entropy source failed";
            w.tpm2b(msg.get(..MAX_BUFFER.min(msg.len())).unwrap_or(msg))?;
            w.u32(TpmRc::FAILURE.0)?;
        } else {
            w.u16(0)?;
            w.u32(TpmRc::SUCCESS.0)?;
        }
        Ok(())
    }
}
