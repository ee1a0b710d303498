//! Command handlers, one file per chapter of Part 3. Each handler validates everything before
//! it changes any state, so that a failing command leaves the TPM as it was.

pub mod attestation;
pub mod audit;
pub mod capability;
pub mod clock;
pub mod context;
pub mod credential;
pub mod duplication;
pub mod hash;
pub mod hierarchy;
pub mod nv;
pub mod object;
pub mod pcr;
pub mod policy;
pub mod random;
pub mod rsa;
pub mod session;
pub mod signature;
pub mod startup;
pub mod storage;
pub mod symmetric;
pub mod testing;

use crate::Tpm;
use crate::dispatch::{Cmd, Params};
use crate::error::{TpmRc, TpmResult};
use crate::platform::Platform;
use crate::wire::Writer;
use crate::wire::constants::TpmCc;

impl<P: Platform> Tpm<P> {
    /// Run the handler of `c.code`: unmarshal its parameters from `p`, execute, and marshal
    /// the response parameters into `w`. Returns the response handle, if the command has one.
    pub(crate) fn handle_command(
        &mut self,
        c: &Cmd,
        p: &mut Params<'_>,
        w: &mut Writer<'_>,
    ) -> TpmResult<Option<u32>> {
        let mut rh = None;
        match c.code {
            TpmCc::STARTUP => self.startup(c, p)?,
            TpmCc::SHUTDOWN => self.shutdown(p)?,
            TpmCc::SELF_TEST => self.self_test(p)?,
            TpmCc::INCREMENTAL_SELF_TEST => self.incremental_self_test(p, w)?,
            TpmCc::GET_TEST_RESULT => self.get_test_result(p, w)?,
            TpmCc::GET_RANDOM => self.get_random(p, w)?,
            TpmCc::STIR_RANDOM => self.stir_random(p)?,
            TpmCc::GET_CAPABILITY => self.get_capability(p, w)?,
            TpmCc::TEST_PARMS => crate::commands::capability::test_parms(p)?,
            TpmCc::PCR_READ => self.pcr_read(p, w)?,
            TpmCc::PCR_EXTEND => self.pcr_extend(c, p)?,
            TpmCc::PCR_EVENT => self.pcr_event(c, p, w)?,
            TpmCc::PCR_RESET => self.pcr_reset(c, p)?,
            TpmCc::PCR_SET_AUTH_VALUE => self.pcr_set_auth_value(c, p)?,
            #[cfg(feature = "pcr-allocate")]
            TpmCc::PCR_ALLOCATE => self.pcr_allocate(p, w)?,
            TpmCc::PCR_SET_AUTH_POLICY => self.pcr_set_auth_policy(p)?,
            TpmCc::CHANGE_EPS => self.change_eps(p)?,
            TpmCc::CHANGE_PPS => self.change_pps(p)?,
            TpmCc::HASH => self.hash(p, w)?,
            TpmCc::HMAC => self.hmac(c, p, w)?,
            TpmCc::HMAC_START => rh = Some(self.hmac_start(c, p)?),
            TpmCc::HASH_SEQUENCE_START => rh = Some(self.hash_sequence_start(p)?),
            TpmCc::SEQUENCE_UPDATE => self.sequence_update(c, p)?,
            TpmCc::SEQUENCE_COMPLETE => self.sequence_complete(c, p, w)?,
            TpmCc::EVENT_SEQUENCE_COMPLETE => self.event_sequence_complete(c, p, w)?,
            TpmCc::READ_CLOCK => self.read_clock(p, w)?,
            TpmCc::CLOCK_SET => self.clock_set(p)?,
            TpmCc::CLOCK_RATE_ADJUST => self.clock_rate_adjust(p)?,
            TpmCc::SET_PRIMARY_POLICY => self.set_primary_policy(c, p)?,
            TpmCc::PP_COMMANDS => self.pp_commands(p)?,
            TpmCc::SET_ALGORITHM_SET => self.set_algorithm_set(p)?,
            TpmCc::CLEAR => self.clear(c, p)?,
            TpmCc::NV_DEFINE_SPACE => self.nv_define_space(c, p)?,
            TpmCc::NV_UNDEFINE_SPACE => self.nv_undefine_space(c, p)?,
            TpmCc::NV_READ_PUBLIC => self.nv_read_public(c, p, w)?,
            TpmCc::NV_WRITE => self.nv_write(c, p)?,
            TpmCc::NV_WRITE_LOCK => self.nv_write_lock(c, p)?,
            TpmCc::NV_INCREMENT => self.nv_increment(c, p)?,
            TpmCc::NV_EXTEND => self.nv_extend(c, p)?,
            TpmCc::NV_READ => self.nv_read(c, p, w)?,
            TpmCc::NV_READ_LOCK => self.nv_read_lock(c, p)?,
            TpmCc::NV_GLOBAL_WRITE_LOCK => self.nv_global_write_lock(p)?,
            TpmCc::NV_SET_BITS => self.nv_set_bits(c, p)?,
            TpmCc::NV_CHANGE_AUTH => self.nv_change_auth(c, p)?,
            TpmCc::NV_UNDEFINE_SPACE_SPECIAL => self.nv_undefine_space_special(c, p)?,
            TpmCc::NV_CERTIFY => self.nv_certify(c, p, w)?,
            TpmCc::DICTIONARY_ATTACK_LOCK_RESET => self.da_lock_reset(p)?,
            TpmCc::DICTIONARY_ATTACK_PARAMETERS => self.da_parameters(p)?,
            TpmCc::CLEAR_CONTROL => self.clear_control(c, p)?,
            TpmCc::HIERARCHY_CONTROL => self.hierarchy_control(c, p)?,
            TpmCc::HIERARCHY_CHANGE_AUTH => self.hierarchy_change_auth(c, p)?,
            TpmCc::FLUSH_CONTEXT => self.flush_context(p)?,
            TpmCc::CONTEXT_SAVE => self.context_save(c, p, w)?,
            TpmCc::POLICY_SECRET => self.policy_secret(c, p, w)?,
            TpmCc::POLICY_OR => self.policy_or(c, p)?,
            TpmCc::POLICY_GET_DIGEST => self.policy_get_digest(c, p, w)?,
            TpmCc::POLICY_RESTART => self.policy_restart(c, p)?,
            TpmCc::GET_SESSION_AUDIT_DIGEST => self.get_session_audit_digest(c, p, w)?,
            TpmCc::GET_COMMAND_AUDIT_DIGEST => self.get_command_audit_digest(c, p, w)?,
            TpmCc::SET_COMMAND_CODE_AUDIT_STATUS => self.set_command_code_audit_status(p)?,
            TpmCc::POLICY_COMMAND_CODE => self.policy_command_code(c, p)?,
            TpmCc::POLICY_DUPLICATION_SELECT => self.policy_duplication_select(c, p)?,
            TpmCc::POLICY_SIGNED => self.policy_signed(c, p, w)?,
            TpmCc::POLICY_TICKET => self.policy_ticket(c, p)?,
            TpmCc::POLICY_PCR => self.policy_pcr(c, p)?,
            TpmCc::POLICY_LOCALITY => self.policy_locality(c, p)?,
            TpmCc::POLICY_CP_HASH => self.policy_cp_hash(c, p, false)?,
            TpmCc::POLICY_NAME_HASH => self.policy_cp_hash(c, p, true)?,
            TpmCc::POLICY_TEMPLATE => self.policy_template(c, p)?,
            TpmCc::POLICY_NV_WRITTEN => self.policy_nv_written(c, p)?,
            TpmCc::POLICY_NV => self.policy_nv(c, p)?,
            TpmCc::POLICY_COUNTER_TIMER => self.policy_counter_timer(c, p)?,
            TpmCc::POLICY_AUTHORIZE => self.policy_authorize(c, p)?,
            TpmCc::POLICY_AUTHORIZE_NV => self.policy_authorize_nv(c, p)?,
            TpmCc::POLICY_AUTH_VALUE => self.policy_auth_value(c, p, false)?,
            TpmCc::POLICY_PASSWORD => self.policy_auth_value(c, p, true)?,
            TpmCc::POLICY_PHYSICAL_PRESENCE => self.policy_physical_presence(c, p)?,
            TpmCc::EVICT_CONTROL => self.evict_control(c, p)?,
            TpmCc::CONTEXT_LOAD => rh = Some(self.context_load(p)?),
            TpmCc::CREATE_PRIMARY => rh = Some(self.create_primary(c, p, w)?),
            TpmCc::READ_PUBLIC => self.read_public(c, p, w)?,
            TpmCc::CREATE => self.create(c, p, w)?,
            TpmCc::CREATE_LOADED => rh = Some(self.create_loaded(c, p, w)?),
            TpmCc::LOAD => rh = Some(self.load(c, p, w)?),
            TpmCc::DUPLICATE => self.duplicate(c, p, w)?,
            TpmCc::REWRAP => self.rewrap(c, p, w)?,
            TpmCc::IMPORT => self.import(c, p, w)?,
            TpmCc::UNSEAL => self.unseal(c, p, w)?,
            TpmCc::MAKE_CREDENTIAL => self.make_credential(c, p, w)?,
            TpmCc::ACTIVATE_CREDENTIAL => self.activate_credential(c, p, w)?,
            TpmCc::ECDH_KEY_GEN => self.ecdh_keygen(c, p, w)?,
            TpmCc::ECDH_ZGEN => self.ecdh_zgen(c, p, w)?,
            #[cfg(feature = "ecdaa")]
            TpmCc::COMMIT => self.commit(c, p, w)?,
            TpmCc::ZGEN_2PHASE => self.zgen_2phase(c, p, w)?,
            TpmCc::EC_EPHEMERAL => self.ec_ephemeral(p, w)?,
            TpmCc::ECC_PARAMETERS => self.ecc_parameters(p, w)?,
            TpmCc::RSA_ENCRYPT => self.rsa_encrypt(c, p, w)?,
            TpmCc::RSA_DECRYPT => self.rsa_decrypt(c, p, w)?,
            TpmCc::ENCRYPT_DECRYPT => self.encrypt_decrypt(c, p, w, false)?,
            TpmCc::ENCRYPT_DECRYPT2 => self.encrypt_decrypt(c, p, w, true)?,
            TpmCc::CERTIFY => self.certify(c, p, w)?,
            TpmCc::CERTIFY_CREATION => self.certify_creation(c, p, w)?,
            TpmCc::GET_TIME => self.get_time(c, p, w)?,
            TpmCc::OBJECT_CHANGE_AUTH => self.object_change_auth(c, p, w)?,
            TpmCc::LOAD_EXTERNAL => rh = Some(self.load_external(p, w)?),
            TpmCc::SIGN => self.sign(c, p, w)?,
            TpmCc::VERIFY_SIGNATURE => self.verify_signature(c, p, w)?,
            TpmCc::QUOTE => self.quote(c, p, w)?,
            TpmCc::START_AUTH_SESSION => {
                rh = Some(self.start_auth_session(c, p, w)?);
            }
            _ => return Err(TpmRc::COMMAND_CODE),
        }
        Ok(rh)
    }
}
