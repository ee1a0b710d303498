//! One command against a started TPM: byte 0 is the locality, the rest the command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtpm::MAX_RESPONSE_SIZE;
use vtpm_fuzz::{check_response, started_tpm};

fuzz_target!(|data: &[u8]| {
    let Some((&locality, cmd)) = data.split_first() else {
        return;
    };
    // A fresh TPM per input (~10 µs): every run is independent and reproducible.
    let mut tpm = started_tpm();
    let mut rsp = [0u8; MAX_RESPONSE_SIZE];
    let n = tpm.execute(locality, cmd, &mut rsp);
    check_response(cmd, &rsp, n);
    assert!(!tpm.in_failure_mode(), "failure mode with working entropy");
});
