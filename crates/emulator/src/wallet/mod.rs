//! The Wallet API as a state machine: every method a plain function of the state ([`Core`]),
//! the clock and the id source. No I/O, no lock: [`crate::Emulator`] takes the lock, calls one
//! of these, then commits what changed or rolls it back.

mod accounts;
mod admit;
mod bundle;
pub(crate) mod controls;
pub(crate) mod errors;
mod gas;
pub(crate) mod overview;
mod policy;
mod prepare;
pub(crate) mod send;
mod sessions;
mod sign;
mod status;
mod token_gas;

pub use bundle::BUNDLER;
pub use token_gas::GasToken;
pub(crate) use token_gas::TokenPayment;

use crate::chain::{Chain, Upstream};
use crate::clock::{Clock, Ids};
use crate::state::WalletState;
use crate::ForkConfig;
use alloy_primitives::{address, Address, U256, U64};
use sesskey_rpc::WalletError;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The paymaster the emulator names on sponsored operations.
pub const EMULATOR_PAYMASTER: Address = address!("0x3f222Df6aB18C1E10d0Ec136503c3B0dfd929048");

/// `UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed
/// paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed)`.
pub const USER_OPERATION_EVENT: &str =
    "UserOperationEvent(bytes32,address,address,uint256,bool,uint256,uint256)";

/// The paymaster's deposit at genesis, from which sponsored gas is paid: 1,000,000 ETH.
const PAYMASTER_DEPOSIT: u128 = 1_000_000 * 10u128.pow(18);

/// The most calls one `wallet_prepareCalls` may hold.
pub const MAX_CALLS: usize = 1000;
/// The most permissions one `wallet_createSession` may hold.
pub const MAX_PERMISSIONS: usize = 100;
/// The most chain ids one `wallet_getCapabilities` may name.
pub const MAX_CHAIN_IDS: usize = 1000;
/// The most elements one `wallet_sendPreparedCalls` array may hold.
pub const MAX_SIGNED_ELEMENTS: usize = 16;

/// How the emulator is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// The chains served (with a fork: replaced by the upstream's chain id).
    pub chain_ids: Vec<u64>,
    /// The paymaster policies that sponsor gas.
    pub policy_ids: Vec<String>,
    /// Milliseconds between `wallet_sendPreparedCalls` and the call's final status (0 = at once).
    pub settle_after_ms: u64,
    /// Fixed start time and seeded ids, for reproducible runs (`None`: the system clock).
    pub deterministic_start: Option<u64>,
    /// Answer CORS preflights and allow any origin (for browser clients).
    pub cors: bool,
    /// Accounts funded at genesis on every chain (address, wei).
    pub genesis: Vec<(Address, U256)>,
    /// Fork the (single) chain from an upstream node.
    pub fork: Option<ForkConfig>,
    /// Also accept WebSocket connections (off by default: plain HTTP only).
    pub ws: bool,
    /// Whether the controls (`emulator_*`, `anvil_*`, `evm_*`) answer: `None` (the default)
    /// turns them on when the server is bound to loopback and off on any other address.
    pub controls: Option<bool>,
    /// Let browser pages of another origin call the controls too (with `cors`).
    pub cors_controls: bool,
    /// Host names the server answers besides its bound address and `localhost`.
    pub allowed_hosts: Vec<String>,
    /// Tokens the paymaster takes for gas (`paymasterService.erc20`), with their prices.
    pub gas_tokens: Vec<GasToken>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            chain_ids: vec![31337],
            policy_ids: vec!["00000000-0000-4000-8000-000000000000".into()],
            settle_after_ms: 0,
            deterministic_start: None,
            cors: false,
            genesis: vec![],
            fork: None,
            ws: false,
            controls: None,
            cors_controls: false,
            allowed_hosts: vec![],
            gas_tokens: vec![],
        }
    }
}

pub(crate) type R<T> = Result<T, WalletError>;

/// The whole emulator state: the Wallet API's tables, the chains, the clock and the ids. A
/// clone is cheap: it shares every table's rows until one is written.
#[derive(Clone, Debug)]
pub(crate) struct Core {
    pub(crate) config: Config,
    pub(crate) wallet: WalletState,
    pub(crate) chains: BTreeMap<u64, Chain>,
    pub(crate) clock: Clock,
    pub(crate) ids: Ids,
    /// The ids of the `evm_snapshot`s held, oldest first (not persisted, as in anvil): the
    /// tables journal what changes after each ([`crate::table::Table::mark`]).
    pub(crate) snapshots: std::collections::VecDeque<u64>,
    /// The id the next snapshot gets.
    pub(crate) next_snapshot: u64,
    /// A write outside the tables (the clock or the ids moved) to persist.
    pub(crate) meta_changed: bool,
}

/// The most `evm_snapshot`s held at once: taking another forgets the oldest.
pub const MAX_SNAPSHOTS: usize = 64;

impl Core {
    /// A new state: empty tables and, on a fresh start, the chains' genesis.
    pub(crate) fn new(
        config: Config,
        clock: Clock,
        ids: Ids,
        upstream: Option<Arc<Upstream>>,
    ) -> Self {
        let chains =
            config.chain_ids.iter().map(|&id| (id, Chain::new(id, upstream.clone()))).collect();
        Self {
            config,
            wallet: WalletState::default(),
            chains,
            clock,
            ids,
            snapshots: Default::default(),
            next_snapshot: 0,
            meta_changed: false,
        }
    }

    /// Mines each chain's first block, funds the genesis accounts and puts the paymaster's
    /// deposit at the EntryPoint (what pays sponsored gas).
    pub(crate) fn genesis(&mut self) {
        let now = self.clock.now();
        let funded = self.config.genesis.clone();
        for chain in self.chains.values_mut() {
            for (a, wei) in &funded {
                chain.set_balance(*a, *wei);
            }
            chain.credit_deposit(EMULATOR_PAYMASTER, U256::from(PAYMASTER_DEPOSIT));
            chain.install_executor();
            match chain.upstream.clone() {
                Some(up) => chain
                    .meta
                    .put((), crate::chain::ChainMeta { head: up.block, next_timestamp: None }),
                None => {
                    let mut env = chain.next_block_env(now);
                    env.number = U256::ZERO;
                    chain.mine(&env, vec![]);
                }
            }
        }
        self.meta_changed = true;
    }

    /// Brings a data folder of an earlier version up to this one: EntryPoint nonces kept in
    /// the wallet's tables move into the EntryPoint's storage, and the paymaster gets its
    /// deposit there if it has none (earlier versions paid sponsored gas from its balance).
    /// Answers whether anything changed (to be committed).
    pub(crate) fn migrate(&mut self) -> bool {
        // (chain, account, nonce key, next sequence) of every nonce kept the old way.
        let legacy: Vec<(u64, Address, U256, u64)> = self
            .wallet
            .accounts
            .iter()
            .flat_map(|((chain, account), a)| {
                a.sequences.iter().map(|(key, seq)| (*chain, *account, *key, *seq))
            })
            .collect();
        for (chain, account, key, seq) in &legacy {
            if let Some(c) = self.chains.get_mut(chain) {
                let seq = (*seq).max(c.nonce_sequence(*account, *key));
                c.set_nonce_sequence(*account, *key, seq);
            }
            self.wallet.account_mut(*chain, *account).sequences.clear();
        }
        let mut changed = !legacy.is_empty();
        for c in self.chains.values_mut() {
            if c.upstream.is_none() && c.deposit_of(EMULATOR_PAYMASTER).is_zero() {
                c.credit_deposit(EMULATOR_PAYMASTER, U256::from(PAYMASTER_DEPOSIT));
                changed = true;
            }
            changed |= c.upstream.is_none() && c.install_executor();
        }
        changed
    }

    /// The chain a request names, or the -32602 Alchemy gives for an unsupported one.
    pub(crate) fn check_chain(&self, chain: U64) -> R<u64> {
        let c: u64 = chain.saturating_to();
        if chain.bit_len() <= 64 && self.chains.contains_key(&c) {
            Ok(c)
        } else {
            Err(errors::invalid(format!(
                "invalid `chainId`: chain {chain:#x} is not supported by this server (it serves {})",
                self.chains.keys().map(|c| format!("{c:#x}")).collect::<Vec<_>>().join(", ")
            )))
        }
    }

    pub(crate) fn chain(&self, id: u64) -> &Chain {
        &self.chains[&id]
    }

    pub(crate) fn chain_mut(&mut self, id: u64) -> &mut Chain {
        self.chains.get_mut(&id).expect("checked by check_chain")
    }

    /// Whether a `paymasterService` sponsors; an unknown policy is refused as Alchemy does.
    pub(crate) fn check_policy(&self, ids: &[&str]) -> R<()> {
        if ids.is_empty()
            || ids
                .iter()
                .any(|id| !self.config.policy_ids.iter().any(|p| p.eq_ignore_ascii_case(id)))
        {
            return Err(WalletError::SponsorshipFailed(
                "[invalid_argument] Policy ID(s) not found. Check that the policy exists, belongs to this app, is active and allows this network.".into(),
            ));
        }
        Ok(())
    }

    /// Whether the current call changed anything.
    pub(crate) fn is_changed(&self) -> bool {
        self.meta_changed || self.wallet.is_changed() || self.chains.values().any(Chain::is_changed)
    }

    /// Makes the current call's changes the committed state.
    pub(crate) fn apply(&mut self) {
        self.wallet.apply();
        for c in self.chains.values_mut() {
            c.apply();
        }
        self.meta_changed = false;
    }

    /// Forgets the current call's changes.
    pub(crate) fn rollback(&mut self) {
        self.wallet.rollback();
        for c in self.chains.values_mut() {
            c.rollback();
        }
        self.meta_changed = false;
    }
}
