//! Dictionary-attack protection (Part 1 §19.8): failed authorizations of DA-protected entities
//! are counted; at maxTries the TPM is in lockout until the count heals (one per recoveryTime
//! seconds) or TPM2_DictionaryAttackLockReset. A failed lockoutAuth locks the lockout hierarchy
//! for lockoutRecovery seconds (until the next TPM Reset if that is 0).

/// The dictionary-attack state and parameters.
#[derive(Clone, Copy, Debug)]
pub struct DictionaryAttack {
    /// failedTries (TPM_PT_LOCKOUT_COUNTER).
    pub failed_tries: u32,
    /// maxTries (TPM_PT_MAX_AUTH_FAIL).
    pub max_tries: u32,
    /// recoveryTime in seconds (TPM_PT_LOCKOUT_INTERVAL); 0: no self-healing.
    pub recovery_time: u32,
    /// lockoutRecovery in seconds (TPM_PT_LOCKOUT_RECOVERY).
    pub lockout_recovery: u32,
    /// Platform time of the last change of failed_tries (for self-healing), ms.
    pub last_heal_ms: u64,
    /// While the lockout hierarchy is locked: the platform time it unlocks (None: at TPM
    /// Reset, when lockoutRecovery is 0).
    pub lockout_locked: Option<Option<u64>>,
}

impl Default for DictionaryAttack {
    fn default() -> Self {
        Self::MANUFACTURED
    }
}

impl DictionaryAttack {
    /// The parameters a TPM is manufactured with (no failures counted).
    pub const MANUFACTURED: Self = Self {
        failed_tries: 0,
        max_tries: 3,
        recovery_time: 1000,
        lockout_recovery: 1000,
        last_heal_ms: 0,
        lockout_locked: None,
    };
}

impl DictionaryAttack {
    /// Whether DA-protected entities are locked out (TPMA_PERMANENT.inLockout).
    pub fn in_lockout(&self) -> bool {
        self.failed_tries >= self.max_tries
    }

    /// Whether lockoutAuth may be used at time `now`.
    pub fn lockout_auth_locked(&self, now: u64) -> bool {
        match self.lockout_locked {
            None => false,
            Some(None) => true,
            Some(Some(until)) => now < until,
        }
    }

    /// Heal: one failure forgiven per recoveryTime seconds elapsed; unlock lockoutAuth when its
    /// time has come.
    pub fn tick(&mut self, now: u64) {
        if let Some(Some(until)) = self.lockout_locked
            && now >= until
        {
            self.lockout_locked = None;
        }
        let period = u64::from(self.recovery_time).saturating_mul(1000);
        if self.failed_tries == 0 || period == 0 {
            self.last_heal_ms = now;
            return;
        }
        let healed = now
            .saturating_sub(self.last_heal_ms)
            .checked_div(period)
            .unwrap_or(0);
        if healed > 0 {
            let n = u32::try_from(healed).unwrap_or(u32::MAX);
            self.failed_tries = self.failed_tries.saturating_sub(n);
            self.last_heal_ms = self
                .last_heal_ms
                .saturating_add(healed.saturating_mul(period));
        }
    }

    /// Count a failed authorization of a DA-protected entity (not lockoutAuth).
    pub fn fail(&mut self, now: u64) {
        if self.max_tries == 0 {
            return;
        }
        if self.failed_tries == 0 {
            self.last_heal_ms = now;
        }
        self.failed_tries = self.failed_tries.saturating_add(1).min(self.max_tries);
    }

    /// A failed lockoutAuth.
    pub fn fail_lockout(&mut self, now: u64) {
        self.lockout_locked = Some(match self.lockout_recovery {
            0 => None,
            s => Some(now.saturating_add(u64::from(s).saturating_mul(1000))),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_heal_one_per_recovery_time() {
        let mut da = DictionaryAttack {
            recovery_time: 10,
            ..DictionaryAttack::default()
        };
        da.fail(1_000);
        da.fail(2_000);
        da.fail(3_000);
        assert!(da.in_lockout());
        da.tick(10_999);
        assert_eq!(da.failed_tries, 3);
        da.tick(11_000);
        assert_eq!(da.failed_tries, 2);
        assert!(!da.in_lockout());
        da.tick(31_000);
        assert_eq!(da.failed_tries, 0);
    }

    #[test]
    fn lockout_auth_recovers_after_its_time_or_at_reset() {
        let mut da = DictionaryAttack {
            lockout_recovery: 5,
            ..DictionaryAttack::default()
        };
        da.fail_lockout(100);
        assert!(da.lockout_auth_locked(5_099));
        da.tick(5_100);
        assert!(!da.lockout_auth_locked(5_100));
        da.lockout_recovery = 0;
        da.fail_lockout(6_000);
        da.tick(u64::MAX);
        assert!(
            da.lockout_auth_locked(u64::MAX),
            "lockoutRecovery 0: until TPM Reset"
        );
    }
}
