//! A sequence of commands against one started TPM, to reach stateful paths (sessions,
//! sequence objects, hierarchy auth, Shutdown/Startup).
//!
//! Input: records `locality u8 ‖ length u16 (big-endian) ‖ command[length]`. A record of length
//! 0 is _TPM_Init (`Tpm::init`, a reboot), after which the TPM awaits Startup. A truncated last
//! record is sent as far as it goes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtpm::MAX_RESPONSE_SIZE;
use vtpm_fuzz::{check_response, started_tpm};

/// At most this many records per input, so that one input stays fast.
const MAX_RECORDS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let mut tpm = started_tpm();
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let mut rest = data;
    for _ in 0..MAX_RECORDS {
        let Some((&[locality, hi, lo], tail)) = rest.split_first_chunk::<3>() else {
            break;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        let (cmd, tail) = tail.split_at(len);
        rest = tail;
        if cmd.is_empty() {
            tpm.init();
            continue;
        }
        let n = tpm.execute(locality, cmd, &mut rsp);
        check_response(cmd, &rsp, n);
        assert!(!tpm.in_failure_mode(), "failure mode with working entropy");
    }
});
