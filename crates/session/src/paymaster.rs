//! Which paymasters a sponsored operation may name: a server that swaps in its own paymaster
//! (whose `paymasterData` it controls) gets no signature.

use alloy_primitives::{address, Address};

/// The paymaster Alchemy's Wallet API names on sponsored operations: the `paymaster` of the
/// `wallet_prepareCalls` example in Alchemy's OpenRPC document (spec §9, on Arbitrum Sepolia).
/// sesskey's emulator names the same address on every chain it serves.
pub const WALLET_API_PAYMASTER: Address = address!("0x3f222Df6aB18C1E10d0Ec136503c3B0dfd929048");

/// Alchemy's Gas Manager paymaster for EntryPoint v0.7 on mainnets
/// (`AlchemyPaymasterAddressV07Mainnet` in `@account-kit/infra`'s `gas-manager.ts`).
pub const GAS_MANAGER_V07_MAINNET: Address = address!("0x2cc0c7981D846b9F2a16276556f6e8cb52BfB633");

/// Alchemy's Gas Manager paymaster for EntryPoint v0.7 on testnets
/// (`AlchemyPaymasterAddressV07Testnet` in `@account-kit/infra`'s `gas-manager.ts`).
pub const GAS_MANAGER_V07_TESTNET: Address = address!("0xEF725Aa22d43Ea69FB22bE2EBe6ECa205a6BCf5B");

/// Mainnets Alchemy serves (chain id, name): Ethereum, OP Mainnet, Polygon PoS, Base, Arbitrum
/// One, Arbitrum Nova, Zora, Fraxtal, World Chain, Shape, Polygon zkEVM, Linea, Scroll, Blast,
/// Celo, Unichain, Soneium, Ink, Abstract, BNB Smart Chain, Avalanche C-Chain.
const MAINNETS: &[u64] = &[
    1, 10, 137, 8453, 42161, 42170, 7_777_777, 252, 480, 360, 1101, 59144, 534_352, 81457, 42220,
    130, 1868, 57073, 2741, 56, 43114,
];

/// Testnets Alchemy serves: Sepolia, Holesky, OP Sepolia, Polygon Amoy, Base Sepolia, Arbitrum
/// Sepolia, Zora Sepolia, Fraxtal Holesky, World Chain Sepolia, Shape Sepolia, Linea
/// Sepolia, Scroll Sepolia, Blast Sepolia, Celo Alfajores, Unichain Sepolia, Soneium Minato, Ink
/// Sepolia, Abstract Sepolia, BNB testnet, Avalanche Fuji, Hoodi.
const TESTNETS: &[u64] = &[
    11_155_111,
    17000,
    11_155_420,
    80002,
    84532,
    421_614,
    999_999_999,
    2522,
    4801,
    11011,
    59141,
    534_351,
    168_587_773,
    44787,
    1301,
    1946,
    763_373,
    11124,
    97,
    43113,
    560_048,
];

/// The paymasters Alchemy names on `chain_id`: the Wallet API's on every chain, and the Gas
/// Manager's v0.7 paymaster of the chain's kind where the chain is one Alchemy lists.
///
/// | chain | paymasters |
/// |---|---|
/// | any | [`WALLET_API_PAYMASTER`] (also the emulator's) |
/// | a mainnet Alchemy serves | + [`GAS_MANAGER_V07_MAINNET`] |
/// | a testnet Alchemy serves | + [`GAS_MANAGER_V07_TESTNET`] |
///
/// ```
/// use sesskey_session::{alchemy_paymasters, GAS_MANAGER_V07_TESTNET, WALLET_API_PAYMASTER};
///
/// assert_eq!(alchemy_paymasters(84532), vec![WALLET_API_PAYMASTER, GAS_MANAGER_V07_TESTNET]);
/// assert_eq!(alchemy_paymasters(31337), vec![WALLET_API_PAYMASTER]);
/// ```
pub fn alchemy_paymasters(chain_id: u64) -> Vec<Address> {
    let mut out = vec![WALLET_API_PAYMASTER];
    if MAINNETS.contains(&chain_id) {
        out.push(GAS_MANAGER_V07_MAINNET);
    } else if TESTNETS.contains(&chain_id) {
        out.push(GAS_MANAGER_V07_TESTNET);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_chain_is_both_a_mainnet_and_a_testnet() {
        for id in MAINNETS {
            assert!(!TESTNETS.contains(id), "{id}");
        }
        assert_eq!(alchemy_paymasters(1), vec![WALLET_API_PAYMASTER, GAS_MANAGER_V07_MAINNET]);
        assert_eq!(
            alchemy_paymasters(11_155_111),
            vec![WALLET_API_PAYMASTER, GAS_MANAGER_V07_TESTNET]
        );
    }
}
