//! The MAv2 nonce layout (spec §4.2): `parallelKey(152) ‖ entityId(32) ‖ options(8) ‖ seq(64)`.

use alloy_primitives::{aliases::U152, U256};

/// Option bit: validate with a global validation.
pub const OPTION_GLOBAL: u8 = 0x01;
/// Option bit: the op carries a deferred action (installs the validation first).
pub const OPTION_DEFERRED_ACTION: u8 = 0x02;
/// Option bit: direct-call validation.
pub const OPTION_DIRECT_CALL: u8 = 0x04;

/// A decoded MAv2 EntryPoint nonce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Nonce {
    /// The user's parallel key (152 bits).
    pub parallel_key: U152,
    /// The validation entity the op uses (0 = the owner).
    pub entity_id: u32,
    /// Whether the validation is global.
    pub global: bool,
    /// Whether the op carries a deferred action.
    pub deferred_action: bool,
    /// Whether the validation is a direct call.
    pub direct_call: bool,
    /// The EntryPoint sequence of this key.
    pub seq: u64,
}

impl Nonce {
    /// The option byte.
    pub fn options(&self) -> u8 {
        let mut options = 0;
        if self.global {
            options |= OPTION_GLOBAL;
        }
        if self.deferred_action {
            options |= OPTION_DEFERRED_ACTION;
        }
        if self.direct_call {
            options |= OPTION_DIRECT_CALL;
        }
        options
    }

    /// The 192-bit EntryPoint key: `parallelKey << 40 | entityId << 8 | options`.
    pub fn key(&self) -> U256 {
        (U256::from(self.parallel_key) << 40)
            | (U256::from(self.entity_id) << 8)
            | U256::from(self.options())
    }

    /// The full 256-bit nonce: `key << 64 | seq`.
    ///
    /// ```
    /// use sesskey_account::Nonce;
    ///
    /// // A fresh root session with entity 1 (spec §4.2).
    /// let n = Nonce { entity_id: 1, global: true, deferred_action: true, ..Default::default() };
    /// assert_eq!(format!("{:#x}", n.encode()), "0x1030000000000000000");
    /// assert_eq!(Nonce::decode(n.encode()), n);
    /// ```
    pub fn encode(&self) -> U256 {
        (self.key() << 64) | U256::from(self.seq)
    }

    /// Splits a nonce into its fields. Option bits other than the three known are dropped.
    pub fn decode(nonce: U256) -> Self {
        let seq = nonce.as_limbs()[0];
        let key: U256 = nonce >> 64;
        let low = key.as_limbs()[0];
        let options = low as u8;
        let entity_id = (low >> 8) as u32;
        let shifted: U256 = key >> 40;
        let parallel_key = shifted.to::<U152>();
        Self {
            parallel_key,
            entity_id,
            global: options & OPTION_GLOBAL != 0,
            deferred_action: options & OPTION_DEFERRED_ACTION != 0,
            direct_call: options & OPTION_DIRECT_CALL != 0,
            seq,
        }
    }
}
