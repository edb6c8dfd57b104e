//! ModularAccountV2's smart-contract account, SemiModularAccountBytecode (SMA-B, the SDK's
//! default account): its counterfactual address from the factory, the owner and the salt, and
//! the `factory`/`factoryData` of the op that deploys it.
//!
//! The factory deploys, with CREATE2, an ERC-1967 proxy to the SMA-B implementation that carries
//! the owner as an immutable argument (Solady's `LibClone` initcode), under the salt
//! `keccak256(owner ‖ salt ‖ uint32 0xffffffff)`. Checked against Alchemy's SDK
//! (`fixtures/external/sma-b/`).

use crate::{Error, Result};
use alloy_primitives::{address, hex, keccak256, Address, Bytes, U256};
use alloy_sol_types::{sol, SolCall};

/// ModularAccountV2's account factory (2.0.0).
pub const MODULAR_ACCOUNT_FACTORY: Address = address!("0x00000000000017c61b5bEe81050EC8eFc9c6fecd");
/// The SemiModularAccountBytecode implementation (2.0.0).
pub const SEMI_MODULAR_ACCOUNT_BYTECODE: Address =
    address!("0x000000000000c5A9089039570Dd36455b5C07383");

/// The factory's entity id for a semi-modular account's fallback signer, part of the salt.
const SMA_ENTITY_ID: u32 = u32::MAX;

/// ERC-1967's implementation slot, `keccak256("eip1967.proxy.implementation") - 1`: where an
/// SMA-B account's proxy finds [`SEMI_MODULAR_ACCOUNT_BYTECODE`].
pub const ERC1967_IMPLEMENTATION_SLOT: U256 =
    U256::from_be_bytes(hex!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"));

/// What `accountId()` answers on an SMA-B account.
pub const SMA_B_ACCOUNT_ID: &str = "alchemy.sma-bytecode.1.0.0";

/// The proxy initcode around the implementation address; the owner follows it. Its first 35
/// bytes store the implementation in [`ERC1967_IMPLEMENTATION_SLOT`] and return the rest (the
/// runtime code: `PROXY_SUFFIX[5..]` and the owner, 81 bytes).
const PROXY_PREFIX: [u8; 10] = hex!("6100513d8160233d3973");
const PROXY_SUFFIX: [u8; 66] = hex!(
    "60095155f3363d3d373d3d363d7f360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc545af43d6000803e6038573d6000fd5b3d6000f3"
);

sol! {
    /// The factory's deployment of a semi-modular account.
    function createSemiModularAccount(address owner, uint256 salt) returns (address);
}

/// The address an SMA-B account of `owner` with `salt` has before and after its deployment.
///
/// ```
/// use alloy_primitives::{address, U256};
/// use sesskey_account::sma_b_address;
///
/// // Alchemy's SDK gives the same (fixtures/external/sma-b/vectors.json).
/// let owner = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
/// assert_eq!(sma_b_address(owner, U256::ZERO), address!("0x65b5DE0251f553B2208762a4724303E750294D96"));
/// ```
pub fn sma_b_address(owner: Address, salt: U256) -> Address {
    let combined = keccak256(
        [owner.as_slice(), &salt.to_be_bytes::<32>()[..], &SMA_ENTITY_ID.to_be_bytes()[..]]
            .concat(),
    );
    let initcode = [
        &PROXY_PREFIX[..],
        SEMI_MODULAR_ACCOUNT_BYTECODE.as_slice(),
        &PROXY_SUFFIX[..],
        owner.as_slice(),
    ]
    .concat();
    MODULAR_ACCOUNT_FACTORY.create2(combined, keccak256(initcode))
}

/// The code an SMA-B account of `owner` has once deployed: the ERC-1967 proxy's runtime code
/// followed by the owner (what the implementation reads as its fallback signer).
pub fn sma_b_runtime_code(owner: Address) -> Bytes {
    [&PROXY_SUFFIX[RUNTIME_START..], owner.as_slice()].concat().into()
}

/// Where the runtime code starts in [`PROXY_SUFFIX`] (after `PUSH1 9 MLOAD SSTORE RETURN`).
const RUNTIME_START: usize = 5;

/// The owner of an SMA-B account, read from its deployed `code`; `None` when the code is not an
/// SMA-B account's.
///
/// ```
/// use alloy_primitives::address;
/// use sesskey_account::{sma_b_owner_of_code, sma_b_runtime_code};
///
/// let owner = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
/// assert_eq!(sma_b_owner_of_code(&sma_b_runtime_code(owner)), Some(owner));
/// assert_eq!(sma_b_owner_of_code(&[0xef, 0x01, 0x00]), None);
/// ```
pub fn sma_b_owner_of_code(code: &[u8]) -> Option<Address> {
    let runtime = &PROXY_SUFFIX[RUNTIME_START..];
    (code.len() == runtime.len() + 20 && code.starts_with(runtime))
        .then(|| Address::from_slice(&code[runtime.len()..]))
}

/// The `factoryData` of the op that deploys `owner`'s SMA-B account with `salt` (its `factory`
/// is [`MODULAR_ACCOUNT_FACTORY`]).
pub fn sma_b_factory_data(owner: Address, salt: U256) -> Bytes {
    createSemiModularAccountCall { owner, salt }.abi_encode().into()
}

/// The owner and the salt a deploying op's `factoryData` names, if it is the factory's
/// `createSemiModularAccount`.
pub fn decode_sma_b_factory_data(data: &[u8]) -> Result<(Address, U256)> {
    let call = createSemiModularAccountCall::abi_decode(data).map_err(|e| Error::Decode {
        what: "createSemiModularAccount call",
        reason: e.to_string(),
    })?;
    Ok((call.owner, call.salt))
}
