//! [`Emulator`]: the state machine behind a lock, with its store. Each method takes the lock,
//! runs one function of [`Core`], then commits what it changed (durably, with a data folder)
//! before answering, or rolls it back when it refused.

use crate::chain::{EthError, Upstream};
use crate::clock::{Clock, Ids};
use crate::store::Store;
use crate::wallet::{send::recover_signers, Config, Core, R};
use crate::Result;
use alloy_primitives::{Address, Bytes, U256, U64};
use sesskey_rpc::{SessionInfo, WalletError};
use sesskey_types::*;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

struct Inner {
    core: Core,
    store: Option<Store>,
}

impl Inner {
    /// Commits the current call's changes, or rolls them back if it failed.
    fn finish<T, E: From<WalletError>>(&mut self, r: Result<T, E>) -> Result<T, E> {
        match r {
            Ok(v) => {
                if self.core.is_changed() {
                    match &self.store {
                        Some(store) => store.commit(&mut self.core).map_err(|e| {
                            E::from(WalletError::Internal(format!(
                                "the change could not be saved: {e}"
                            )))
                        })?,
                        None => self.core.apply(),
                    }
                }
                Ok(v)
            }
            Err(e) => {
                self.core.rollback();
                Err(e)
            }
        }
    }
}

/// The emulator: the Wallet API and the chains it serves.
pub struct Emulator {
    inner: Mutex<Inner>,
    config: Config,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").field("config", &self.config).finish_non_exhaustive()
    }
}

fn clock_and_ids(config: &Config) -> (Clock, Ids) {
    match config.deterministic_start {
        Some(start) => (Clock::fixed(start), Ids::seeded(start)),
        None => (Clock::system(), Ids::random()),
    }
}

impl Emulator {
    /// A new emulator in memory. [`Config::fork`] is read only by [`Emulator::launch`].
    pub fn new(config: Config) -> Self {
        Self::assemble(config, None, None).expect("an in-memory start without a fork cannot fail")
    }

    /// An emulator whose state lives in `dir` (created if needed): it carries on where the last
    /// one stopped, and every answered call is durable. A damaged data file is refused.
    pub fn open(config: Config, dir: &Path) -> Result<Self> {
        Self::assemble(config, Some(dir), None)
    }

    /// Starts an emulator, in memory or in `dir`, forking [`Config::fork`] when set (the chain
    /// id then comes from the upstream). Needs a multi-threaded tokio runtime for a fork.
    pub async fn launch(mut config: Config, dir: Option<&Path>) -> Result<Self> {
        let Some(fork) = config.fork.clone() else { return Self::assemble(config, dir, None) };
        let mut fork = fork;
        if let Some(dir) = dir {
            // A restart forks at the block the data folder was made from.
            if let (_, Some(meta)) = Store::open(dir)? {
                fork.block = meta.fork_block.or(fork.block);
            }
        }
        let upstream = Upstream::connect(&fork).await?;
        config.chain_ids = vec![upstream.chain_id];
        Self::assemble(config, dir, Some(Arc::new(upstream)))
    }

    fn assemble(
        config: Config,
        dir: Option<&Path>,
        upstream: Option<Arc<Upstream>>,
    ) -> Result<Self> {
        if config.chain_ids.is_empty() {
            return Err(crate::Error::Config("no chain to serve".into()));
        }
        if upstream.is_none() && config.fork.is_some() && dir.is_some() {
            return Err(crate::Error::Config("a fork starts with Emulator::launch".into()));
        }
        let (clock, ids) = clock_and_ids(&config);
        let mut core = Core::new(config.clone(), clock, ids, upstream);
        let store = match dir {
            Some(dir) => {
                let (store, meta) = Store::open(dir)?;
                match meta {
                    Some(meta) => store.load(&mut core, &meta)?,
                    None => {
                        core.genesis();
                        store.commit(&mut core)?;
                    }
                }
                Some(store)
            }
            None => {
                core.genesis();
                core.apply();
                None
            }
        };
        Ok(Self { inner: Mutex::new(Inner { core, store }), config })
    }

    /// The configuration.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The chains served (with a fork: the upstream's).
    pub fn chain_ids(&self) -> Vec<u64> {
        self.lock().core.chains.keys().copied().collect()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one state-machine function and commits (or rolls back) what it changed.
    pub(crate) fn call<T, E: From<WalletError>>(
        &self,
        f: impl FnOnce(&mut Core) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut inner = self.lock();
        let r = f(&mut inner.core);
        inner.finish(r)
    }

    /// Runs a chain function for `chain` (checked) and commits what it changed.
    pub(crate) fn on_chain<T>(
        &self,
        chain: u64,
        f: impl FnOnce(&mut Core, u64) -> Result<T, EthError>,
    ) -> Result<T, EthError> {
        self.call(|core| {
            if !core.chains.contains_key(&chain) {
                return Err(EthError::invalid(format!("chain {chain} is not served here")));
            }
            f(core, chain)
        })
    }

    /// Fails the call if a control asked the next call of `method` to fail.
    pub fn injected_failure(&self, method: &str) -> R<()> {
        match self.lock().core.fail_next.remove(method) {
            Some((code, message)) => Err(WalletError::from_error_object(code, &message)),
            None => Ok(()),
        }
    }

    /// `wallet_requestAccount`.
    pub fn request_account(&self, p: RequestAccountParams) -> R<RequestAccountResult> {
        self.call(|c| c.request_account(p))
    }
    /// `wallet_createSession`.
    pub fn create_session(&self, p: CreateSessionParams) -> R<CreateSessionResult> {
        self.call(|c| c.create_session(p))
    }
    /// `wallet_prepareCalls`.
    pub fn prepare_calls(&self, p: PrepareCallsParams) -> R<PreparedCalls> {
        self.call(|c| c.prepare_calls(p))
    }
    /// `wallet_sendPreparedCalls` (signers are recovered before the lock is taken).
    pub fn send_prepared_calls(&self, p: SendPreparedCallsParams) -> R<SendPreparedCallsResult> {
        let signed = recover_signers(p)?;
        self.call(|c| c.send_prepared_calls(signed))
    }
    /// `wallet_getCallsStatus`.
    pub fn get_calls_status(&self, id: CallId) -> R<CallsStatus> {
        self.call(|c| c.get_calls_status(id))
    }
    /// `wallet_listAccounts`.
    pub fn list_accounts(&self, p: ListAccountsParams) -> R<ListAccountsResult> {
        self.call(|c| c.list_accounts(p))
    }
    /// `wallet_getCapabilities`.
    pub fn get_capabilities(&self, chain_ids: Option<Vec<U64>>) -> R<Capabilities> {
        self.call(|c| c.get_capabilities(chain_ids))
    }
    /// `wallet_prepareSign`.
    pub fn prepare_sign(&self, p: PrepareSignParams) -> R<PrepareSignResult> {
        self.call(|c| c.prepare_sign(p))
    }
    /// `wallet_formatSign`.
    pub fn format_sign(&self, p: FormatSignParams) -> R<FormatSignResult> {
        self.call(|c| c.format_sign(p))
    }

    /// The clock, in unix seconds.
    pub fn now(&self) -> u64 {
        self.lock().core.clock.now()
    }
    /// Sets the clock (unix seconds); it never goes back, and an overflowing time is refused.
    pub fn set_time(&self, unix_seconds: u64) -> R<u64> {
        self.call(|c| c.set_time(unix_seconds))
    }
    /// Moves the clock forward.
    pub fn increase_time(&self, seconds: u64) -> R<u64> {
        self.call(|c| c.increase_time(seconds))
    }
    /// Sets a native balance (the EVM balance).
    pub fn set_balance(&self, chain: U64, account: Address, wei: U256) -> R<()> {
        self.call(|c| {
            let id = c.check_chain(chain)?;
            c.chain_mut(id).set_balance(account, wei);
            Ok(())
        })
    }
    /// A native balance.
    pub fn balance(&self, chain: U64, account: Address) -> R<U256> {
        self.call(|c| Ok(c.chain(c.check_chain(chain)?).account(account).balance))
    }
    /// Sets an ERC-20 balance on a token deployed in the emulator (see `emulator_setErc20Balance`).
    pub fn set_erc20_balance(
        &self,
        chain: U64,
        token: Address,
        account: Address,
        amount: U256,
    ) -> R<()> {
        self.call(|c| {
            let id = c.check_chain(chain)?;
            c.set_erc20_balance(id, token, account, amount)
        })
    }
    /// An ERC-20 balance, read with `balanceOf`.
    pub fn erc20_balance(&self, chain: U64, token: Address, account: Address) -> R<U256> {
        self.call(|c| {
            let id = c.check_chain(chain)?;
            c.erc20_balance(id, token, account)
        })
    }
    /// Sets an account's EIP-7702 delegation directly (a test shortcut for a signed one).
    pub fn set_delegation(
        &self,
        chain: U64,
        account: Address,
        delegation: Option<Address>,
    ) -> R<()> {
        self.call(|c| {
            let id = c.check_chain(chain)?;
            let code = match delegation {
                Some(d) => [&[0xef, 0x01, 0x00][..], d.as_slice()].concat().into(),
                None => Bytes::new(),
            };
            c.chain_mut(id).set_code(account, code);
            Ok(())
        })
    }
    /// Settles every pending call now.
    pub fn settle(&self) -> R<usize> {
        self.call(|c| Ok(c.settle()))
    }
    /// Every session and what is left of its budgets.
    pub fn list_sessions(&self) -> Vec<SessionInfo> {
        self.lock().core.list_sessions()
    }
    /// Revokes a session.
    pub fn revoke_session(&self, id: SessionId) -> R<()> {
        self.call(|c| c.revoke_session(id))
    }
    /// Makes the next call of `method` fail.
    pub fn fail_next(&self, method: String, code: i32, message: String) {
        self.lock().core.fail_next(method, code, message);
    }
    /// The packed `userOp.signature` of a call.
    pub fn packed_signature(&self, id: &CallId) -> R<Bytes> {
        self.call(|c| c.packed_signature(id))
    }
}
