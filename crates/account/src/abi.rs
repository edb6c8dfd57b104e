//! The Solidity interfaces sesskey encodes and decodes, and the MAv2 module addresses.

use alloy_primitives::{address, Address};

alloy_sol_types::sol! {
    /// `ModularAccountBase.installValidation`.
    function installValidation(bytes25 validationConfig, bytes4[] selectors, bytes installData, bytes[] hooks);
    /// `ModularAccountBase.uninstallValidation`.
    function uninstallValidation(bytes24 validationFunction, bytes uninstallData, bytes[] hookUninstallData);
    /// `ModularAccountBase.execute`.
    function execute(address target, uint256 value, bytes data);
    /// One call of `executeBatch`.
    struct BatchCall { address target; uint256 value; bytes data; }
    /// `ModularAccountBase.executeBatch`.
    function executeBatch(BatchCall[] calls);
    /// An `AllowlistModule` entry.
    struct AllowlistInput {
        address target;
        bool hasSelectorAllowlist;
        bool hasERC20SpendLimit;
        uint256 erc20SpendLimit;
        bytes4[] selectors;
    }
    /// ERC-20 `transfer`.
    function transfer(address to, uint256 amount);
    /// ERC-20 `approve`.
    function approve(address spender, uint256 amount);
    /// ERC-20 `transferFrom`.
    function transferFrom(address from, address to, uint256 amount);
}

/// `SingleSignerValidationModule`.
pub const SINGLE_SIGNER_VALIDATION: Address =
    address!("0x00000000000099DE0BF6fA90dEB851E2A2df7d83");
/// `TimeRangeModule`.
pub const TIME_RANGE_MODULE: Address = address!("0x00000000000082B8e2012be914dFA4f62A0573eA");
/// `NativeTokenLimitModule`.
pub const NATIVE_TOKEN_LIMIT_MODULE: Address =
    address!("0x00000000000001e541f0D090868FBe24b59Fbe06");
/// `AllowlistModule`.
pub const ALLOWLIST_MODULE: Address = address!("0x00000000003e826473A313E600b5b9B791f5a59a");

/// The `executeUserOp` selector, the call-data prefix of ops whose validation has execution hooks.
pub const EXECUTE_USER_OP_SELECTOR: [u8; 4] = [0x8d, 0xd7, 0x71, 0x2f];
