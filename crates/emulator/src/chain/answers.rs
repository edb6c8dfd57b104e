//! What ModularAccountV2 (`SemiModularAccount7702`, the delegate of the emulator's EIP-7702
//! accounts, and `SemiModularAccountBytecode`, behind its SMA-B accounts' proxies), its account
//! factory and the EntryPoint v0.7 answer when something calls them: another contract during an
//! op, a plain transaction, `eth_call`, `eth_estimateGas`. Native Rust inside revm: an inspector
//! answers the call before any code would run, on the account model `sesskey-account` has; the
//! contracts' bytecode (GPL-3.0) is never used. Where the delegate or the EntryPoint has code (a
//! fork of a chain where they are deployed), the real code runs instead.
//!
//! A call with nothing to answer (a revert) never starts; an answer that succeeds lets revm run
//! the address's empty code (so the value moves as on chain), then gives it its output, its gas
//! and its effects (deposits, withdrawals and their logs).

use super::entry_point::deposit_slot;
use alloy_primitives::{keccak256, Address, Bytes, Log, B256, U256};
use alloy_sol_types::{sol, SolCall, SolError, SolEvent, SolValue};
use revm::context_interface::{Cfg, ContextTr, JournalTr};
use revm::handler::{EthPrecompiles, PrecompileProvider};
use revm::interpreter::{CallInputs, CallScheme, Gas, InstructionResult, InterpreterResult};
use sesskey_account::{
    replay_safe_hash, sma_b_address, sma_b_owner_of_code, sma_b_runtime_code, ERC1271_INVALID,
    ERC1271_MAGIC_VALUE, ERC1967_IMPLEMENTATION_SLOT, MODULAR_ACCOUNT_FACTORY,
    SEMI_MODULAR_ACCOUNT_BYTECODE, SMA_B_ACCOUNT_ID,
};
use sesskey_signing::ENTRY_POINT_V07;
use sesskey_types::MODULAR_ACCOUNT_V2_7702;

sol! {
    function onERC721Received(address operator, address from, uint256 id, bytes data) returns (bytes4);
    function onERC1155Received(address operator, address from, uint256 id, uint256 value, bytes data) returns (bytes4);
    function onERC1155BatchReceived(address operator, address from, uint256[] ids, uint256[] values, bytes data) returns (bytes4);
    function isValidSignature(bytes32 hash, bytes signature) returns (bytes4);
    function supportsInterface(bytes4 interfaceId) returns (bool);
    function accountId() returns (string);
    function entryPoint() returns (address);
    function getFallbackSignerData() returns (address, bool);
    function execute(address target, uint256 value, bytes data) returns (bytes);
    struct AccountCall { address target; uint256 value; bytes data; }
    function executeBatch(AccountCall[] calls) returns (bytes[]);
    function executeWithRuntimeValidation(bytes data, bytes authorization) returns (bytes);

    error UnrecognizedFunction(bytes4 selector);
    error ValidationFunctionMissing(bytes4 selector);
    error SignatureValidationInvalid(address module, uint32 entityId);
    error InvalidSignatureType();
    error FallbackSignerMismatch();

    /// EntryPoint v0.7's packed user operation.
    struct PackedUserOperation {
        address sender;
        uint256 nonce;
        bytes initCode;
        bytes callData;
        bytes32 accountGasLimits;
        uint256 preVerificationGas;
        bytes32 gasFees;
        bytes paymasterAndData;
        bytes signature;
    }
    /// EntryPoint v0.7's bundle entry.
    function handleOps(PackedUserOperation[] ops, address beneficiary);
    struct DepositInfo { uint256 deposit; bool staked; uint112 stake; uint32 unstakeDelaySec; uint48 withdrawTime; }
    function getNonce(address sender, uint192 key) returns (uint256 nonce);
    function getUserOpHash(PackedUserOperation userOp) returns (bytes32);
    function balanceOf(address account) returns (uint256);
    function depositTo(address account);
    function getDepositInfo(address account) returns (DepositInfo info);
    function withdrawTo(address withdrawAddress, uint256 withdrawAmount);
    event Deposited(address indexed account, uint256 totalDeposit);
    event Withdrawn(address indexed account, address withdrawAddress, uint256 amount);

    /// ModularAccountV2's account factory.
    function createSemiModularAccount(address owner, uint256 salt) returns (address);
    function getAddressSemiModular(address owner, uint256 salt) returns (address);
    function getSalt(address owner, uint256 salt, uint32 entityId) returns (bytes32);
    event SemiModularAccountDeployed(address indexed account, address indexed owner, uint256 salt);
}

/// The account's execution functions: `execute`, `executeBatch`, `executeWithRuntimeValidation`.
const EXECUTIONS: [[u8; 4]; 3] =
    [executeCall::SELECTOR, executeBatchCall::SELECTOR, executeWithRuntimeValidationCall::SELECTOR];

/// The code that makes an account's own execution calls, in its context: `AccountExecutor.sol`
/// beside this file (MIT, written for the emulator, compiled by `cargo xtask contracts`). The
/// emulator's state holds it as the delegate's code (at ModularAccountV2's address), so an
/// account's own `execute` runs it natively.
pub(crate) fn executor_code() -> Bytes {
    static CODE: std::sync::LazyLock<Bytes> = std::sync::LazyLock::new(|| {
        let hex = include_str!("account_executor.hex").trim();
        alloy_primitives::hex::decode(hex).expect("the executor's bytecode is hex").into()
    });
    CODE.clone()
}

/// `SemiModularAccount7702.accountId()`.
pub(crate) const ACCOUNT_ID: &str = "alchemy.sma-7702.1.0.0";

/// Gas of the factory's deployment of an SMA-B account: CREATE2 (32,000), the proxy's 81 bytes
/// of code (16,200), the implementation slot (22,100), the initcode's hashing and the factory's
/// own work. An estimate from the EVM's prices, not a measurement of the real factory.
pub(crate) const SMA_B_DEPLOY_GAS: u64 = 80_000;

/// The interfaces the account declares through ERC-165 (with no execution module installed):
/// ERC-165, `IERC721Receiver`, `IERC1155Receiver`.
pub(crate) const INTERFACES: [[u8; 4]; 3] =
    [[0x01, 0xff, 0xc9, 0xa7], [0x15, 0x0b, 0x7a, 0x02], [0x4e, 0x23, 0x12, 0xe0]];

/// Approximate gas of each answer, in the range the Solidity functions spend (dispatch, ABI
/// decoding, storage reads, `ecrecover`).
mod cost {
    pub(super) const CALLBACK: u64 = 700;
    pub(super) const VIEW: u64 = 500;
    pub(super) const SIGNATURE: u64 = 7_500;
    pub(super) const STORAGE_READ: u64 = 2_600;
    pub(super) const DEPOSIT: u64 = 25_000;
    pub(super) const WITHDRAW: u64 = 32_000;
    pub(super) const USER_OP_HASH: u64 = 4_000;
    pub(super) const DEPLOY: u64 = super::SMA_B_DEPLOY_GAS;
}

/// What to do once the address's (empty) code has run.
#[derive(Clone, Debug)]
enum Effect {
    None,
    /// Credit `wei` to `account`'s deposit (the value already moved to the EntryPoint).
    Deposit {
        account: Address,
        wei: U256,
    },
    /// Take `wei` from `account`'s deposit and send it to `to`.
    Withdraw {
        account: Address,
        to: Address,
        wei: U256,
    },
    /// Deploy `owner`'s SMA-B account with `salt` (nothing when it has code already).
    Deploy {
        owner: Address,
        salt: U256,
    },
}

/// A call's answer.
#[derive(Clone, Debug)]
enum Answer {
    Return { output: Bytes, gas: u64, effect: Effect },
    Revert { output: Bytes, gas: u64 },
}

fn ret(output: impl Into<Bytes>, gas: u64) -> Answer {
    Answer::Return { output: output.into(), gas, effect: Effect::None }
}

fn revert(output: impl Into<Bytes>, gas: u64) -> Answer {
    Answer::Revert { output: output.into(), gas }
}

/// Solidity's `Error(string)` revert.
fn revert_reason(reason: &str, gas: u64) -> Answer {
    revert(alloy_sol_types::Revert::from(reason).abi_encode(), gas)
}

/// The accounts' and the EntryPoint's answers, as revm's precompile provider: revm asks it about
/// every call frame once the value has moved, before any code runs. It answers for a delegated
/// account and for the EntryPoint (inside the frame, so a revert undoes the value and the
/// effects), lets the account's own execution functions run the executor's code (the delegate's
/// code in the emulator's state), and passes everything else to Ethereum's precompiles. Unlike
/// an inspector, it adds nothing to the instructions the EVM runs.
#[derive(Debug, Clone)]
pub(crate) struct Answers {
    eth: EthPrecompiles,
}

impl Answers {
    pub(crate) fn new(spec: revm::primitives::hardfork::SpecId) -> Self {
        Self { eth: EthPrecompiles::new(spec) }
    }
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for Answers {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec)
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        if inputs.bytecode_address != inputs.target_address
            || !matches!(inputs.scheme, CallScheme::Call | CallScheme::StaticCall)
        {
            return self.eth.run(context, inputs);
        }
        let Some(target) = which(context, inputs.target_address) else {
            return self.eth.run(context, inputs);
        };
        let input = inputs.input.bytes(context);
        let selector = input.get(..4);
        let validated_caller = inputs.caller == ENTRY_POINT_V07
            || matches!(target, Target::Account { owner, .. } if owner == inputs.caller);
        let own = inputs.caller == inputs.target_address
            || (validated_caller
                && selector != Some(&executeWithRuntimeValidationCall::SELECTOR[..]));
        if matches!(target, Target::Account { .. })
            && own
            && selector.is_some_and(|s| EXECUTIONS.iter().any(|e| s == e))
        {
            // The account's own execution functions: the executor's code (the delegate's, in
            // the emulator's state) makes the calls, in the account's context.
            return Ok(None);
        }
        let value = inputs.call_value();
        let answer = match target {
            Target::Account { owner, sma_b } => account(
                context.cfg().chain_id(),
                Me { account: inputs.target_address, owner, sma_b },
                inputs.caller,
                value,
                &input,
            ),
            Target::EntryPoint => entry_point(context, inputs, value, &input),
            Target::Factory => factory(value, &input),
        };
        Ok(Some(match answer {
            Answer::Revert { output, gas } => {
                result(inputs, InstructionResult::Revert, output, gas)
            }
            Answer::Return { gas, effect, .. }
                if inputs.is_static && !matches!(effect, Effect::None) =>
            {
                result(inputs, InstructionResult::Revert, Bytes::new(), gas)
            }
            Answer::Return { output, gas, effect } => match apply(context.journal_mut(), effect) {
                Ok(()) => result(inputs, InstructionResult::Return, output, gas),
                Err(()) => result(inputs, InstructionResult::Revert, Bytes::new(), gas),
            },
        }))
    }

    fn warm_addresses(&self) -> &revm::primitives::AddressSet {
        self.eth.warm_addresses()
    }

    fn contains(&self, address: &Address) -> bool {
        self.eth.contains(address)
    }
}

/// Applies an answer's effects to the frame's state.
fn apply<J: JournalTr>(journal: &mut J, effect: Effect) -> Result<(), ()> {
    match effect {
        Effect::None => Ok(()),
        Effect::Deposit { account, wei } => {
            let total = credit(journal, account, wei)?;
            journal.log(Log {
                address: ENTRY_POINT_V07,
                data: Deposited { account, totalDeposit: total }.encode_log_data(),
            });
            Ok(())
        }
        Effect::Withdraw { account, to, wei } => {
            debit(journal, account, wei)?;
            if !matches!(journal.transfer(ENTRY_POINT_V07, to, wei), Ok(None)) {
                return Err(());
            }
            journal.log(Log {
                address: ENTRY_POINT_V07,
                data: Withdrawn { account, withdrawAddress: to, amount: wei }.encode_log_data(),
            });
            Ok(())
        }
        Effect::Deploy { owner, salt } => {
            let account = sma_b_address(owner, salt);
            if !journal.code(account).map_err(drop)?.data.is_empty() {
                return Ok(());
            }
            journal.load_account(account).map_err(drop)?;
            journal.set_code(account, revm::bytecode::Bytecode::new_raw(sma_b_runtime_code(owner)));
            let implementation = U256::from_be_slice(SEMI_MODULAR_ACCOUNT_BYTECODE.as_slice());
            journal.sstore(account, ERC1967_IMPLEMENTATION_SLOT, implementation).map_err(drop)?;
            journal.log(Log {
                address: MODULAR_ACCOUNT_FACTORY,
                data: SemiModularAccountDeployed { account, owner, salt }.encode_log_data(),
            });
            Ok(())
        }
    }
}

/// A frame's result with `gas` spent of its limit (out of gas when the limit is short).
fn result(inputs: &CallInputs, r: InstructionResult, output: Bytes, gas: u64) -> InterpreterResult {
    let mut g = Gas::new(inputs.gas_limit);
    if !g.record_regular_cost(gas) {
        return InterpreterResult::new(
            InstructionResult::OutOfGas,
            Bytes::new(),
            Gas::new_spent_with_reservoir(inputs.gas_limit, 0),
        );
    }
    InterpreterResult::new(r, output, g)
}

/// Who answers a call to `target`.
enum Target {
    /// An account of `owner` (for EIP-7702, the account itself); `sma_b` for an SMA-B account.
    Account {
        owner: Address,
        sma_b: bool,
    },
    EntryPoint,
    Factory,
}

/// The account answers when `target` is delegated to ModularAccountV2, or is an SMA-B proxy to
/// its implementation, and that implementation has no code of its own here (the emulator's
/// executor, or none); the EntryPoint and the factory when they have no code.
fn which<CTX: ContextTr>(context: &mut CTX, target: Address) -> Option<Target> {
    let journal = context.journal_mut();
    if target == ENTRY_POINT_V07 || target == MODULAR_ACCOUNT_FACTORY {
        let code = journal.code(target).ok()?.data;
        return code.is_empty().then_some(if target == ENTRY_POINT_V07 {
            Target::EntryPoint
        } else {
            Target::Factory
        });
    }
    let code = journal.code(target).ok()?.data;
    let delegated = code.len() == 23
        && code.starts_with(&[0xef, 0x01, 0x00])
        && code[3..] == MODULAR_ACCOUNT_V2_7702[..];
    let (implementation, target) = if delegated {
        (MODULAR_ACCOUNT_V2_7702, Target::Account { owner: target, sma_b: false })
    } else {
        let owner = sma_b_owner_of_code(&code)?;
        let slot = journal.sload(target, ERC1967_IMPLEMENTATION_SLOT).ok()?.data;
        if slot != U256::from_be_slice(SEMI_MODULAR_ACCOUNT_BYTECODE.as_slice()) {
            return None;
        }
        (SEMI_MODULAR_ACCOUNT_BYTECODE, Target::Account { owner, sma_b: true })
    };
    let implementation_code = journal.code(implementation).ok()?.data;
    (implementation_code.is_empty() || implementation_code == executor_code()).then_some(target)
}

/// The account being called: its address, its owner (its fallback signer), its kind.
#[derive(Clone, Copy)]
struct Me {
    account: Address,
    owner: Address,
    sma_b: bool,
}

/// ModularAccountV2's factory's answer (SMA-B accounts only: the factory's other account kinds
/// are not served).
fn factory(value: U256, input: &[u8]) -> Answer {
    if !value.is_zero() {
        return revert(Bytes::new(), 0);
    }
    match input.get(..4).map(|s| <[u8; 4]>::try_from(s).expect("4 bytes")) {
        Some(createSemiModularAccountCall::SELECTOR) => {
            match createSemiModularAccountCall::abi_decode(input) {
                Ok(c) => Answer::Return {
                    output: sma_b_address(c.owner, c.salt).abi_encode().into(),
                    gas: cost::DEPLOY,
                    effect: Effect::Deploy { owner: c.owner, salt: c.salt },
                },
                Err(_) => revert(Bytes::new(), cost::VIEW),
            }
        }
        Some(getAddressSemiModularCall::SELECTOR) => {
            match getAddressSemiModularCall::abi_decode(input) {
                Ok(c) => ret(sma_b_address(c.owner, c.salt).abi_encode(), cost::VIEW),
                Err(_) => revert(Bytes::new(), cost::VIEW),
            }
        }
        Some(getSaltCall::SELECTOR) => match getSaltCall::abi_decode(input) {
            Ok(c) => {
                let packed = [
                    c.owner.as_slice(),
                    &c.salt.to_be_bytes::<32>()[..],
                    &c.entityId.to_be_bytes()[..],
                ]
                .concat();
                ret(keccak256(packed).abi_encode(), cost::VIEW)
            }
            Err(_) => revert(Bytes::new(), cost::VIEW),
        },
        _ => revert(Bytes::new(), cost::VIEW),
    }
}

/// ModularAccountV2's answer to `caller` calling the account `me` with `input` and `value`.
fn account(chain_id: u64, me: Me, caller: Address, value: U256, input: &[u8]) -> Answer {
    let account = me.account;
    if input.is_empty() {
        // receive()
        return ret(Bytes::new(), 0);
    }
    let selector: [u8; 4] = match input.get(..4) {
        Some(s) => s.try_into().expect("4 bytes"),
        None => {
            let mut padded = [0u8; 4];
            padded[..input.len()].copy_from_slice(input);
            return revert(UnrecognizedFunction { selector: padded.into() }.abi_encode(), 0);
        }
    };
    // Every answered function but the executions is non-payable.
    if !value.is_zero() && !EXECUTIONS.contains(&selector) {
        return revert(Bytes::new(), 0);
    }
    let selector_word = |s: [u8; 4]| {
        let mut w = [0u8; 32];
        w[..4].copy_from_slice(&s);
        Bytes::copy_from_slice(&w)
    };
    match selector {
        onERC721ReceivedCall::SELECTOR if onERC721ReceivedCall::abi_decode(input).is_ok() => {
            ret(selector_word(selector), cost::CALLBACK)
        }
        onERC1155ReceivedCall::SELECTOR if onERC1155ReceivedCall::abi_decode(input).is_ok() => {
            ret(selector_word(selector), cost::CALLBACK)
        }
        onERC1155BatchReceivedCall::SELECTOR
            if onERC1155BatchReceivedCall::abi_decode(input).is_ok() =>
        {
            ret(selector_word(selector), cost::CALLBACK)
        }
        isValidSignatureCall::SELECTOR => match isValidSignatureCall::abi_decode(input) {
            Ok(c) => is_valid_signature(chain_id, me, c.hash, &c.signature),
            Err(_) => revert(Bytes::new(), cost::VIEW),
        },
        supportsInterfaceCall::SELECTOR => match supportsInterfaceCall::abi_decode(input) {
            Ok(c) => ret(INTERFACES.contains(&c.interfaceId.0).abi_encode(), cost::VIEW),
            Err(_) => revert(Bytes::new(), cost::VIEW),
        },
        accountIdCall::SELECTOR => {
            let id = if me.sma_b { SMA_B_ACCOUNT_ID } else { ACCOUNT_ID };
            ret(id.to_string().abi_encode(), cost::VIEW)
        }
        entryPointCall::SELECTOR => ret(ENTRY_POINT_V07.abi_encode(), cost::VIEW),
        getFallbackSignerDataCall::SELECTOR => {
            ret((me.owner, false).abi_encode_params(), cost::STORAGE_READ)
        }
        // The executions reach here only from someone else than the account (its own run the
        // executor: see `run`): no validation applies to them.
        executeWithRuntimeValidationCall::SELECTOR => {
            revert(FallbackSignerMismatch {}.abi_encode(), cost::VIEW)
        }
        s if EXECUTIONS.contains(&s) => {
            revert(ValidationFunctionMissing { selector: s.into() }.abi_encode(), cost::VIEW)
        }
        // Module management and the other native functions: the account itself (an op's call
        // to its own account) or the EntryPoint may call them, and the Wallet API applies what
        // it models of them (an uninstalled session); anyone else lacks the validation.
        s if sesskey_types::privileged_selector_name(s.into()).is_some() => {
            if caller == account || caller == me.owner || caller == ENTRY_POINT_V07 {
                ret(Bytes::new(), cost::VIEW)
            } else {
                revert(ValidationFunctionMissing { selector: s.into() }.abi_encode(), cost::VIEW)
            }
        }
        _ => revert(UnrecognizedFunction { selector: selector.into() }.abi_encode(), cost::VIEW),
    }
}

/// `isValidSignature(hash, signature)` through the owner's validation (entity 0, the fallback
/// signer: for a 7702 account, the account's own key; for SMA-B, the owner in its code) over the
/// replay-safe hash. Another validation is not a signature validation: the account reverts, as
/// it does for a session's.
fn is_valid_signature(chain_id: u64, me: Me, hash: B256, signature: &[u8]) -> Answer {
    let gas = cost::SIGNATURE;
    if signature.len() < 5 {
        return revert(Bytes::new(), gas);
    }
    const IS_DIRECT_CALL_VALIDATION: u8 = 0x04;
    if signature[0] & IS_DIRECT_CALL_VALIDATION != 0 {
        let module = signature.get(1..21).map(Address::from_slice).unwrap_or_default();
        return revert(SignatureValidationInvalid { module, entityId: u32::MAX }.abi_encode(), gas);
    }
    let entity = u32::from_be_bytes(signature[1..5].try_into().expect("4 bytes"));
    if entity != 0 {
        return revert(
            SignatureValidationInvalid { module: Address::ZERO, entityId: entity }.abi_encode(),
            gas,
        );
    }
    // The fallback validation has no hooks: the final segment follows at once.
    let Some((&0xff, segment)) = signature[5..].split_first() else {
        return revert(Bytes::new(), gas);
    };
    let Some((&kind, sig)) = segment.split_first() else {
        return revert(InvalidSignatureType {}.abi_encode(), gas);
    };
    let magic = |ok: bool| {
        let mut w = [0u8; 32];
        w[..4].copy_from_slice(if ok { &ERC1271_MAGIC_VALUE } else { &ERC1271_INVALID });
        Bytes::copy_from_slice(&w)
    };
    match kind {
        // An EOA signature: OpenZeppelin's `ECDSA.tryRecover` (65 bytes, v 27 or 28, low s).
        0x00 => {
            let recovered = (sig.len() == 65 && matches!(sig[64], 27 | 28))
                .then(|| {
                    let data = sesskey_types::SignatureData::Hex(Bytes::copy_from_slice(sig));
                    let digest = replay_safe_hash(chain_id, me.account, hash);
                    sesskey_signing::recover(digest, &data).ok()
                })
                .flatten();
            ret(magic(recovered == Some(me.owner)), gas)
        }
        // A contract owner: never the account itself.
        0x01 => ret(magic(false), gas),
        _ => revert(InvalidSignatureType {}.abi_encode(), gas),
    }
}

/// The EntryPoint v0.7's answer.
fn entry_point<CTX: ContextTr>(
    context: &mut CTX,
    inputs: &CallInputs,
    value: U256,
    input: &[u8],
) -> Answer {
    let chain_id = context.cfg().chain_id();
    if input.is_empty() {
        // receive(): a deposit for the sender.
        return Answer::Return {
            output: Bytes::new(),
            gas: cost::DEPOSIT,
            effect: Effect::Deposit { account: inputs.caller, wei: value },
        };
    }
    let Some(selector) = input.get(..4).map(|s| <[u8; 4]>::try_from(s).expect("4 bytes")) else {
        return revert(Bytes::new(), 0);
    };
    if !value.is_zero() && selector != depositToCall::SELECTOR {
        return revert(Bytes::new(), 0);
    }
    let deposit = |context: &mut CTX, a: Address| {
        context
            .journal_mut()
            .sload(ENTRY_POINT_V07, deposit_slot(a))
            .map(|v| v.data)
            .unwrap_or_default()
    };
    match selector {
        getNonceCall::SELECTOR => match getNonceCall::abi_decode(input) {
            Ok(c) => {
                let key = U256::from(c.key);
                let slot = super::entry_point::nonce_slot(c.sender, key);
                let seq: U256 = context
                    .journal_mut()
                    .sload(ENTRY_POINT_V07, slot)
                    .map(|v| v.data)
                    .unwrap_or_default();
                let nonce: U256 = (key << 64usize) | seq;
                ret(nonce.abi_encode(), cost::STORAGE_READ)
            }
            Err(_) => revert(Bytes::new(), cost::VIEW),
        },
        getUserOpHashCall::SELECTOR => match getUserOpHashCall::abi_decode(input) {
            Ok(c) => ret(user_op_hash(&c.userOp, chain_id).abi_encode(), cost::USER_OP_HASH),
            Err(_) => revert(Bytes::new(), cost::VIEW),
        },
        balanceOfCall::SELECTOR => match balanceOfCall::abi_decode(input) {
            Ok(c) => ret(deposit(context, c.account).abi_encode(), cost::STORAGE_READ),
            Err(_) => revert(Bytes::new(), cost::VIEW),
        },
        getDepositInfoCall::SELECTOR => match getDepositInfoCall::abi_decode(input) {
            Ok(c) => {
                let info = DepositInfo {
                    deposit: deposit(context, c.account),
                    staked: false,
                    stake: Default::default(),
                    unstakeDelaySec: 0,
                    withdrawTime: Default::default(),
                };
                ret(info.abi_encode(), cost::STORAGE_READ)
            }
            Err(_) => revert(Bytes::new(), cost::VIEW),
        },
        depositToCall::SELECTOR => match depositToCall::abi_decode(input) {
            Ok(c) => Answer::Return {
                output: Bytes::new(),
                gas: cost::DEPOSIT,
                effect: Effect::Deposit { account: c.account, wei: value },
            },
            Err(_) => revert(Bytes::new(), cost::VIEW),
        },
        withdrawToCall::SELECTOR => match withdrawToCall::abi_decode(input) {
            Ok(c) if c.withdrawAmount > deposit(context, inputs.caller) => {
                revert_reason("Withdraw amount too large", cost::STORAGE_READ)
            }
            Ok(c) => Answer::Return {
                output: Bytes::new(),
                gas: cost::WITHDRAW,
                effect: Effect::Withdraw {
                    account: inputs.caller,
                    to: c.withdrawAddress,
                    wei: c.withdrawAmount,
                },
            },
            Err(_) => revert(Bytes::new(), cost::VIEW),
        },
        _ => revert(Bytes::new(), cost::VIEW),
    }
}

/// `EntryPoint.getUserOpHash`: `keccak256(abi.encode(keccak256(pack(op)), entryPoint, chainId))`.
pub(crate) fn user_op_hash(op: &PackedUserOperation, chain_id: u64) -> B256 {
    let packed = (
        op.sender,
        op.nonce,
        keccak256(&op.initCode),
        keccak256(&op.callData),
        op.accountGasLimits,
        op.preVerificationGas,
        op.gasFees,
        keccak256(&op.paymasterAndData),
    )
        .abi_encode();
    keccak256((keccak256(packed), ENTRY_POINT_V07, U256::from(chain_id)).abi_encode())
}

fn credit<J: JournalTr>(journal: &mut J, account: Address, wei: U256) -> Result<U256, ()> {
    let slot = deposit_slot(account);
    let total = journal.sload(ENTRY_POINT_V07, slot).map_err(drop)?.data.saturating_add(wei);
    journal.sstore(ENTRY_POINT_V07, slot, total).map_err(drop)?;
    Ok(total)
}

fn debit<J: JournalTr>(journal: &mut J, account: Address, wei: U256) -> Result<(), ()> {
    let slot = deposit_slot(account);
    let left =
        journal.sload(ENTRY_POINT_V07, slot).map_err(drop)?.data.checked_sub(wei).ok_or(())?;
    journal.sstore(ENTRY_POINT_V07, slot, left).map_err(drop)?;
    Ok(())
}
