//! TPM constants as newtypes with associated constants, not exhaustive enums: an unknown value
//! on the wire is representable and rejected by the code that interprets it (Part 2 §6).

macro_rules! newtype {
    ($(#[$m:meta])* $name:ident($ty:ty) { $($(#[$cm:meta])* $c:ident = $v:expr;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub struct $name(pub $ty);
        impl $name {
            $($(#[$cm])* pub const $c: Self = Self($v);)*
        }
    };
}

newtype! {
    /// TPM_ST: structure tags (Part 2 §6.9).
    TpmSt(u16) {
        /// Tag of a response to a command with a bad tag.
        RSP_COMMAND = 0x00C4;
        /// TPM_ST_NULL.
        NULL = 0x8000;
        /// A command or response without an authorization area.
        NO_SESSIONS = 0x8001;
        /// A command or response with an authorization area.
        SESSIONS = 0x8002;
        /// TPMS_ATTEST of a quote.
        ATTEST_QUOTE = 0x8018;
        /// TPMS_ATTEST of GetCommandAuditDigest.
        ATTEST_COMMAND_AUDIT = 0x8015;
        /// TPMS_ATTEST of GetSessionAuditDigest.
        ATTEST_SESSION_AUDIT = 0x8016;
        /// TPMS_ATTEST of Certify.
        ATTEST_CERTIFY = 0x8017;
        /// TPMS_ATTEST of GetTime.
        ATTEST_TIME = 0x8019;
        /// TPMS_ATTEST of a creation.
        ATTEST_CREATION = 0x801A;
        /// TPMS_ATTEST of NV_Certify (TPMS_NV_CERTIFY_INFO).
        ATTEST_NV = 0x8014;
        /// TPMS_ATTEST of NV_Certify over the whole index (TPMS_NV_DIGEST_CERTIFY_INFO).
        ATTEST_NV_DIGEST = 0x801C;
        /// Creation ticket.
        CREATION = 0x8021;
        /// Verified ticket.
        VERIFIED = 0x8022;
        /// Auth secret ticket.
        AUTH_SECRET = 0x8023;
        /// Hash check ticket.
        HASHCHECK = 0x8024;
        /// Auth signed ticket.
        AUTH_SIGNED = 0x8025;
    }
}

newtype! {
    /// TPM_CC: command codes (Part 2 §6.5.2).
    TpmCc(u32) {
        /// TPM2_EvictControl (Part 3 §28.5).
        EVICT_CONTROL = 0x120;
        /// TPM2_ChangeEPS (Part 3 §24.4).
        CHANGE_EPS = 0x124;
        /// TPM2_ChangePPS (Part 3 §24.5).
        CHANGE_PPS = 0x125;
        /// TPM2_PCR_Allocate (Part 3 §22.5).
        PCR_ALLOCATE = 0x12B;
        /// TPM2_PCR_SetAuthPolicy (Part 3 §22.6).
        PCR_SET_AUTH_POLICY = 0x12C;
        /// TPM2_PP_Commands (Part 3 §26.2).
        PP_COMMANDS = 0x12D;
        /// TPM2_SetAlgorithmSet (Part 3 §26.3).
        SET_ALGORITHM_SET = 0x13F;
        /// TPM2_PCR_SetAuthValue (Part 3 §22.7).
        PCR_SET_AUTH_VALUE = 0x183;
        /// TPM2_GetCommandAuditDigest (Part 3 §18.6).
        GET_COMMAND_AUDIT_DIGEST = 0x133;
        /// TPM2_SetCommandCodeAuditStatus (Part 3 §21.2).
        SET_COMMAND_CODE_AUDIT_STATUS = 0x140;
        /// TPM2_GetSessionAuditDigest (Part 3 §18.5).
        GET_SESSION_AUDIT_DIGEST = 0x14D;
        /// TPM2_PolicySecret (Part 3 §23.4).
        POLICY_SECRET = 0x151;
        /// TPM2_PolicyOR (Part 3 §23.6).
        POLICY_OR = 0x171;
        /// TPM2_PolicyNV (Part 3 §23.9).
        POLICY_NV = 0x149;
        /// TPM2_PolicySigned (Part 3 §23.3).
        POLICY_SIGNED = 0x160;
        /// TPM2_PolicyAuthorize (Part 3 §23.16).
        POLICY_AUTHORIZE = 0x16A;
        /// TPM2_PolicyCounterTimer (Part 3 §23.10).
        POLICY_COUNTER_TIMER = 0x16D;
        /// TPM2_PolicyCpHash (Part 3 §23.13).
        POLICY_CP_HASH = 0x16E;
        /// TPM2_PolicyLocality (Part 3 §23.8).
        POLICY_LOCALITY = 0x16F;
        /// TPM2_PolicyNameHash (Part 3 §23.14).
        POLICY_NAME_HASH = 0x170;
        /// TPM2_PolicyTicket (Part 3 §23.5).
        POLICY_TICKET = 0x172;
        /// TPM2_PolicyPCR (Part 3 §23.7).
        POLICY_PCR = 0x17F;
        /// TPM2_PolicyNvWritten (Part 3 §23.20).
        POLICY_NV_WRITTEN = 0x18F;
        /// TPM2_PolicyTemplate (Part 3 §23.21).
        POLICY_TEMPLATE = 0x190;
        /// TPM2_PolicyAuthorizeNV (Part 3 §23.22).
        POLICY_AUTHORIZE_NV = 0x192;
        /// TPM2_PolicyAuthValue (Part 3 §23.17).
        POLICY_AUTH_VALUE = 0x16B;
        /// TPM2_PolicyCommandCode (Part 3 §23.11).
        POLICY_COMMAND_CODE = 0x16C;
        /// TPM2_PolicyPassword (Part 3 §23.18).
        POLICY_PASSWORD = 0x18C;
        /// TPM2_PolicyPhysicalPresence (Part 3 §23.13).
        POLICY_PHYSICAL_PRESENCE = 0x187;
        /// TPM2_PolicyRestart (Part 3 §23.19).
        POLICY_RESTART = 0x180;
        /// TPM2_PolicyGetDigest (Part 3 §23.12).
        POLICY_GET_DIGEST = 0x189;
        /// TPM2_ActivateCredential (Part 3 §12.5).
        ACTIVATE_CREDENTIAL = 0x147;
        /// TPM2_MakeCredential (Part 3 §12.6).
        MAKE_CREDENTIAL = 0x168;
        /// TPM2_ECDH_KeyGen (Part 3 §14.4).
        ECDH_KEY_GEN = 0x163;
        /// TPM2_ECDH_ZGen (Part 3 §14.5).
        ECDH_ZGEN = 0x154;
        /// TPM2_Commit (Part 3 §19.2).
        COMMIT = 0x18B;
        /// TPM2_ZGen_2Phase (Part 3 §14.7).
        ZGEN_2PHASE = 0x18D;
        /// TPM2_EC_Ephemeral (Part 3 §14.8).
        EC_EPHEMERAL = 0x18E;
        /// TPM2_ECC_Parameters (Part 3 §14.6).
        ECC_PARAMETERS = 0x178;
        /// TPM2_Certify (Part 3 §18.2).
        CERTIFY = 0x148;
        /// TPM2_CertifyCreation (Part 3 §18.3).
        CERTIFY_CREATION = 0x14A;
        /// TPM2_GetTime (Part 3 §18.7).
        GET_TIME = 0x14C;
        /// TPM2_ObjectChangeAuth (Part 3 §12.8).
        OBJECT_CHANGE_AUTH = 0x150;
        /// TPM2_DictionaryAttackLockReset (Part 3 §25.2).
        DICTIONARY_ATTACK_LOCK_RESET = 0x139;
        /// TPM2_DictionaryAttackParameters (Part 3 §25.3).
        DICTIONARY_ATTACK_PARAMETERS = 0x13A;
        /// TPM2_NV_UndefineSpace (Part 3 §31.4).
        NV_UNDEFINE_SPACE = 0x122;
        /// TPM2_NV_DefineSpace (Part 3 §31.3).
        NV_DEFINE_SPACE = 0x12A;
        /// TPM2_NV_Increment (Part 3 §31.8).
        NV_INCREMENT = 0x134;
        /// TPM2_NV_Extend (Part 3 §31.9).
        NV_EXTEND = 0x136;
        /// TPM2_NV_Write (Part 3 §31.7).
        NV_WRITE = 0x137;
        /// TPM2_NV_WriteLock (Part 3 §31.11).
        NV_WRITE_LOCK = 0x138;
        /// TPM2_NV_Read (Part 3 §31.13).
        NV_READ = 0x14E;
        /// TPM2_NV_UndefineSpaceSpecial (Part 3 §31.5).
        NV_UNDEFINE_SPACE_SPECIAL = 0x11F;
        /// TPM2_NV_GlobalWriteLock (Part 3 §31.12).
        NV_GLOBAL_WRITE_LOCK = 0x132;
        /// TPM2_NV_SetBits (Part 3 §31.10).
        NV_SET_BITS = 0x135;
        /// TPM2_NV_ChangeAuth (Part 3 §31.15).
        NV_CHANGE_AUTH = 0x13B;
        /// TPM2_NV_ReadLock (Part 3 §31.14).
        NV_READ_LOCK = 0x14F;
        /// TPM2_NV_Certify (Part 3 §31.16).
        NV_CERTIFY = 0x184;
        /// TPM2_NV_ReadPublic (Part 3 §31.6).
        NV_READ_PUBLIC = 0x169;
        /// TPM2_Clear (Part 3 §24.6).
        CLEAR = 0x126;
        /// TPM2_ClearControl (Part 3 §24.7).
        CLEAR_CONTROL = 0x127;
        /// TPM2_HierarchyControl (Part 3 §24.2).
        HIERARCHY_CONTROL = 0x121;
        /// TPM2_ClockSet (Part 3 §29.2).
        CLOCK_SET = 0x128;
        /// TPM2_SetPrimaryPolicy (Part 3 §24.6).
        SET_PRIMARY_POLICY = 0x12E;
        /// TPM2_ClockRateAdjust (Part 3 §29.3).
        CLOCK_RATE_ADJUST = 0x130;
        /// TPM2_HierarchyChangeAuth (Part 3 §24.8).
        HIERARCHY_CHANGE_AUTH = 0x129;
        /// TPM2_CreatePrimary (Part 3 §24.1).
        CREATE_PRIMARY = 0x131;
        /// TPM2_Create (Part 3 §12.1).
        CREATE = 0x153;
        /// TPM2_Load (Part 3 §12.2).
        LOAD = 0x157;
        /// TPM2_Unseal (Part 3 §12.7).
        UNSEAL = 0x15E;
        /// TPM2_CreateLoaded (Part 3 §12.9).
        CREATE_LOADED = 0x191;
        /// TPM2_Duplicate (Part 3 §13.1).
        DUPLICATE = 0x14B;
        /// TPM2_Rewrap (Part 3 §13.2).
        REWRAP = 0x152;
        /// TPM2_Import (Part 3 §13.3).
        IMPORT = 0x156;
        /// TPM2_PolicyDuplicationSelect (Part 3 §23.15).
        POLICY_DUPLICATION_SELECT = 0x188;
        /// TPM2_EncryptDecrypt (Part 3 §15.2).
        ENCRYPT_DECRYPT = 0x164;
        /// TPM2_EncryptDecrypt2 (Part 3 §15.3).
        ENCRYPT_DECRYPT2 = 0x193;
        /// TPM2_Quote (Part 3 §18.4).
        QUOTE = 0x158;
        /// TPM2_Sign (Part 3 §20.2).
        SIGN = 0x15D;
        /// TPM2_HMAC (Part 3 §15.5).
        HMAC = 0x155;
        /// TPM2_HMAC_Start (Part 3 §17.2).
        HMAC_START = 0x15B;
        /// TPM2_LoadExternal (Part 3 §12.3).
        LOAD_EXTERNAL = 0x167;
        /// TPM2_ReadPublic (Part 3 §12.4).
        READ_PUBLIC = 0x173;
        /// TPM2_VerifySignature (Part 3 §20.1).
        VERIFY_SIGNATURE = 0x177;
        /// TPM2_PCR_Event (Part 3 §22.3).
        PCR_EVENT = 0x13C;
        /// TPM2_PCR_Reset (Part 3 §22.8).
        PCR_RESET = 0x13D;
        /// TPM2_SequenceComplete (Part 3 §17.5).
        SEQUENCE_COMPLETE = 0x13E;
        /// TPM2_IncrementalSelfTest (Part 3 §10.3).
        INCREMENTAL_SELF_TEST = 0x142;
        /// TPM2_SelfTest (Part 3 §10.2).
        SELF_TEST = 0x143;
        /// TPM2_Startup (Part 3 §9.3).
        STARTUP = 0x144;
        /// TPM2_Shutdown (Part 3 §9.4).
        SHUTDOWN = 0x145;
        /// TPM2_StirRandom (Part 3 §16.2).
        STIR_RANDOM = 0x146;
        /// TPM2_ContextLoad (Part 3 §28.3): load a saved context.
        CONTEXT_LOAD = 0x161;
        /// TPM2_ContextSave (Part 3 §28.2).
        CONTEXT_SAVE = 0x162;
        /// TPM2_FlushContext (Part 3 §28.4).
        FLUSH_CONTEXT = 0x165;
        /// TPM2_StartAuthSession (Part 3 §11.1).
        START_AUTH_SESSION = 0x176;
        /// TPM2_GetCapability (Part 3 §30.2).
        GET_CAPABILITY = 0x17A;
        /// TPM2_GetRandom (Part 3 §16.1).
        GET_RANDOM = 0x17B;
        /// TPM2_GetTestResult (Part 3 §10.4).
        GET_TEST_RESULT = 0x17C;
        /// TPM2_Hash (Part 3 §15.4).
        HASH = 0x17D;
        /// TPM2_PCR_Read (Part 3 §22.4).
        PCR_READ = 0x17E;
        /// TPM2_ReadClock (Part 3 §29.1).
        READ_CLOCK = 0x181;
        /// TPM2_PCR_Extend (Part 3 §22.2).
        PCR_EXTEND = 0x182;
        /// TPM2_EventSequenceComplete (Part 3 §17.6).
        EVENT_SEQUENCE_COMPLETE = 0x185;
        /// TPM2_HashSequenceStart (Part 3 §17.3).
        HASH_SEQUENCE_START = 0x186;
        /// TPM2_SequenceUpdate (Part 3 §17.4).
        SEQUENCE_UPDATE = 0x15C;
        /// TPM2_TestParms (Part 3 §30.3).
        TEST_PARMS = 0x18A;
        /// TPM2_RSA_Encrypt (Part 3 §14.2).
        RSA_ENCRYPT = 0x174;
        /// TPM2_RSA_Decrypt (Part 3 §14.3).
        RSA_DECRYPT = 0x159;
    }
}

newtype! {
    /// TPM_ALG_ID (Part 2 §6.3).
    TpmAlgId(u16) {
        /// TPM_ALG_RSA (with the `rsa` feature).
        RSA = 0x0001;
        /// TPM_ALG_SHA1.
        SHA1 = 0x0004;
        /// TPM_ALG_HMAC.
        HMAC = 0x0005;
        /// TPM_ALG_AES.
        AES = 0x0006;
        /// TPM_ALG_MGF1.
        MGF1 = 0x0007;
        /// TPM_ALG_KEYEDHASH.
        KEYEDHASH = 0x0008;
        /// TPM_ALG_XOR.
        XOR = 0x000A;
        /// TPM_ALG_SHA256.
        SHA256 = 0x000B;
        /// TPM_ALG_SHA384.
        SHA384 = 0x000C;
        /// TPM_ALG_SHA512.
        SHA512 = 0x000D;
        /// TPM_ALG_NULL.
        NULL = 0x0010;
        /// TPM_ALG_RSASSA (RSASSA-PKCS1-v1_5).
        RSASSA = 0x0014;
        /// TPM_ALG_RSAES (RSAES-PKCS1-v1_5).
        RSAES = 0x0015;
        /// TPM_ALG_RSAPSS (RSASSA-PSS).
        RSAPSS = 0x0016;
        /// TPM_ALG_OAEP (RSAES-OAEP).
        OAEP = 0x0017;
        /// TPM_ALG_ECDSA.
        ECDSA = 0x0018;
        /// TPM_ALG_ECDH.
        ECDH = 0x0019;
        /// TPM_ALG_ECDAA.
        ECDAA = 0x001A;
        /// TPM_ALG_ECSCHNORR.
        ECSCHNORR = 0x001C;
        /// TPM_ALG_KDF1_SP800_56A.
        KDF1_SP800_56A = 0x0020;
        /// TPM_ALG_KDF1_SP800_108.
        KDF1_SP800_108 = 0x0022;
        /// TPM_ALG_ECC.
        ECC = 0x0023;
        /// TPM_ALG_SYMCIPHER.
        SYMCIPHER = 0x0025;
        /// TPM_ALG_CTR.
        CTR = 0x0040;
        /// TPM_ALG_OFB.
        OFB = 0x0041;
        /// TPM_ALG_CBC.
        CBC = 0x0042;
        /// TPM_ALG_CFB.
        CFB = 0x0043;
        /// TPM_ALG_ECB.
        ECB = 0x0044;
    }
}

newtype! {
    /// TPM_CAP: GetCapability selectors (Part 2 §6.12).
    TpmCap(u32) {
        /// TPM_CAP_ALGS.
        ALGS = 0;
        /// TPM_CAP_HANDLES.
        HANDLES = 1;
        /// TPM_CAP_COMMANDS.
        COMMANDS = 2;
        /// TPM_CAP_PP_COMMANDS.
        PP_COMMANDS = 3;
        /// TPM_CAP_AUDIT_COMMANDS.
        AUDIT_COMMANDS = 4;
        /// TPM_CAP_PCRS.
        PCRS = 5;
        /// TPM_CAP_TPM_PROPERTIES.
        TPM_PROPERTIES = 6;
        /// TPM_CAP_PCR_PROPERTIES.
        PCR_PROPERTIES = 7;
        /// TPM_CAP_ECC_CURVES.
        ECC_CURVES = 8;
        /// TPM_CAP_AUTH_POLICIES.
        AUTH_POLICIES = 9;
    }
}

newtype! {
    /// TPM_SU: Startup / Shutdown type (Part 2 §6.8).
    TpmSu(u16) {
        /// TPM_SU_CLEAR.
        CLEAR = 0;
        /// TPM_SU_STATE.
        STATE = 1;
    }
}

newtype! {
    /// TPM_SE: session type (Part 2 §6.11).
    TpmSe(u8) {
        /// An HMAC session.
        HMAC = 0;
        /// A policy session.
        POLICY = 1;
        /// A trial policy session.
        TRIAL = 3;
    }
}

/// TPM_HANDLE values and handle types (Part 2 §7).
pub mod handle {
    /// Handle type (most significant octet): PCR.
    pub const HT_PCR: u8 = 0x00;
    /// Handle type: NV index.
    pub const HT_NV_INDEX: u8 = 0x01;
    /// Handle type: HMAC session.
    pub const HT_HMAC_SESSION: u8 = 0x02;
    /// Handle type: policy session.
    pub const HT_POLICY_SESSION: u8 = 0x03;
    /// Handle type: permanent.
    pub const HT_PERMANENT: u8 = 0x40;
    /// Handle type: transient object.
    pub const HT_TRANSIENT: u8 = 0x80;
    /// Handle type: persistent object.
    pub const HT_PERSISTENT: u8 = 0x81;

    /// TPM_RH_OWNER.
    pub const RH_OWNER: u32 = 0x4000_0001;
    /// TPM_RH_NULL.
    pub const RH_NULL: u32 = 0x4000_0007;
    /// TPM_RH_UNASSIGNED.
    pub const RH_UNASSIGNED: u32 = 0x4000_0008;
    /// TPM_RS_PW: the password authorization session.
    pub const RS_PW: u32 = 0x4000_0009;
    /// TPM_RH_LOCKOUT.
    pub const RH_LOCKOUT: u32 = 0x4000_000A;
    /// TPM_RH_ENDORSEMENT.
    pub const RH_ENDORSEMENT: u32 = 0x4000_000B;
    /// TPM_RH_PLATFORM.
    pub const RH_PLATFORM: u32 = 0x4000_000C;
    /// TPM_RH_PLATFORM_NV.
    pub const RH_PLATFORM_NV: u32 = 0x4000_000D;

    /// The handle type of `h`.
    pub const fn handle_type(h: u32) -> u8 {
        h.to_be_bytes()[0]
    }
}

/// TPM_PT: property tags (Part 2 §6.13).
pub mod pt {
    /// PT_FIXED group start.
    pub const FIXED: u32 = 0x100;
    /// Last fixed property we report.
    pub const FIXED_LAST: u32 = 0x12F;
    /// PT_VAR group start.
    pub const VAR: u32 = 0x200;
    /// Last variable property we report.
    pub const VAR_LAST: u32 = 0x211;
    /// TPM_PT_TOTAL_COMMANDS.
    pub const TOTAL_COMMANDS: u32 = 0x129;
}

/// TPM_PT_PCR: PCR property tags (Part 2 §6.14).
pub mod pt_pcr {
    /// TPM_PT_PCR_SAVE: PCRs saved by Shutdown(STATE).
    pub const SAVE: u32 = 0x00;
    /// TPM_PT_PCR_EXTEND_L0.
    pub const EXTEND_L0: u32 = 0x01;
    /// TPM_PT_PCR_RESET_L0.
    pub const RESET_L0: u32 = 0x02;
    /// TPM_PT_PCR_EXTEND_L1.
    pub const EXTEND_L1: u32 = 0x03;
    /// TPM_PT_PCR_RESET_L1.
    pub const RESET_L1: u32 = 0x04;
    /// TPM_PT_PCR_EXTEND_L2.
    pub const EXTEND_L2: u32 = 0x05;
    /// TPM_PT_PCR_RESET_L2.
    pub const RESET_L2: u32 = 0x06;
    /// TPM_PT_PCR_EXTEND_L3.
    pub const EXTEND_L3: u32 = 0x07;
    /// TPM_PT_PCR_RESET_L3.
    pub const RESET_L3: u32 = 0x08;
    /// TPM_PT_PCR_EXTEND_L4.
    pub const EXTEND_L4: u32 = 0x09;
    /// TPM_PT_PCR_RESET_L4.
    pub const RESET_L4: u32 = 0x0A;
    /// TPM_PT_PCR_NO_INCREMENT.
    pub const NO_INCREMENT: u32 = 0x11;
    /// TPM_PT_PCR_DRTM_RESET.
    pub const DRTM_RESET: u32 = 0x12;
    /// TPM_PT_PCR_POLICY.
    pub const POLICY: u32 = 0x13;
    /// TPM_PT_PCR_AUTH.
    pub const AUTH: u32 = 0x14;
}
