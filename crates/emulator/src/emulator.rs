//! [`Emulator`]: the state machine and its store.
//!
//! The state is published as a snapshot (an `Arc<Core>`, the head). A read takes the head and
//! runs on it without holding any lock, so it never waits for another request, however long
//! that one's EVM run. A write (anything that may change the state) takes the writer's lock, so
//! writes run one at a time, runs on its own copy of the head (cheap: the tables' rows are
//! persistent maps, shared until written), then commits what it changed (queued for the disk,
//! with a data folder) and publishes its copy as the new head. A refused write publishes
//! nothing. Every answer waits until the changes it could have seen are on disk.

use crate::chain::{EthError, Upstream};
use crate::clock::{Clock, Ids};
use crate::store::{ChangeSet, Store};
use crate::wallet::{send::recover_signers, Config, Core, R};
use crate::Result;
use alloy_primitives::{Address, Bytes, U256, U64};
use sesskey_rpc::{SessionInfo, WalletError};
use sesskey_types::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

/// Group commit: each call's change set is queued in order under the writer's lock; whoever waits
/// first writes every queued set in one durable transaction (one fsync for all), and each call
/// answers only once its set is on disk. A failed write poisons the emulator: the memory then
/// holds changes the disk lacks, so every later call is refused until a restart.
struct GroupCommit {
    store: Store,
    queue: Mutex<Queue>,
    written_cv: Condvar,
}

#[derive(Default)]
struct Queue {
    pending: Vec<ChangeSet>,
    /// The sequence number of the last set queued, and of the last one on disk.
    queued: u64,
    written: u64,
    writing: bool,
    failed: Option<String>,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self) -> Result<(), WalletError> {
        match &self.lock().failed {
            Some(e) => Err(poisoned(e)),
            None => Ok(()),
        }
    }

    /// Queues a change set (under the writer's lock, so sets keep the order of the calls).
    fn enqueue(&self, set: ChangeSet) -> u64 {
        let mut q = self.lock();
        q.pending.push(set);
        q.queued += 1;
        q.queued
    }

    fn last(&self) -> u64 {
        self.lock().queued
    }

    /// Returns once every set up to `seq` is on disk (writing a batch if nobody is).
    fn wait(&self, seq: u64) -> Result<(), WalletError> {
        let mut q = self.lock();
        loop {
            if let Some(e) = &q.failed {
                return Err(poisoned(e));
            }
            if q.written >= seq {
                return Ok(());
            }
            if q.writing {
                q = self.written_cv.wait(q).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            q.writing = true;
            let batch = std::mem::take(&mut q.pending);
            let upto = q.queued;
            drop(q);
            let result = self.store.write(&batch);
            q = self.lock();
            q.writing = false;
            match result {
                Ok(()) => q.written = upto,
                Err(e) => q.failed = Some(e.to_string()),
            }
            self.written_cv.notify_all();
        }
    }
}

fn poisoned(e: &str) -> WalletError {
    WalletError::Internal(format!(
        "the data folder could not be written ({e}); restart the emulator: it resumes from the last change saved"
    ))
}

/// The emulator: the Wallet API and the chains it serves.
pub struct Emulator {
    /// The state as of the last write: a read clones the `Arc` and lets the lock go at once.
    head: RwLock<Arc<Core>>,
    /// Held by a write from its copy of the head until it publishes the next one: writes run one
    /// at a time, in the order their change sets reach the disk.
    writer: Mutex<()>,
    /// The data folder, if any.
    durable: Option<Arc<GroupCommit>>,
    /// Failures injected into the next call of a method (`emulator_failNext`; not persisted).
    failures: Mutex<HashMap<String, (i32, String)>>,
    config: Config,
    /// The methods the server answers (what `emulator_failNext` may name).
    methods: std::sync::OnceLock<std::collections::BTreeSet<String>>,
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
        // The emulator's HTTP clients (a fork's upstream) run rustls on ring; so does any
        // reqwest client the embedding program builds with the same crate, unless it installed
        // a crypto provider of its own (reqwest would otherwise panic at `build`).
        crate::chain::ensure_tls_provider();
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
                    Some(meta) => {
                        store.load(&mut core, &meta)?;
                        if core.migrate() {
                            store.commit(&mut core)?;
                        }
                    }
                    None => {
                        core.genesis();
                        store.commit(&mut core)?;
                    }
                }
                Some(Arc::new(GroupCommit {
                    store,
                    queue: Mutex::new(Queue::default()),
                    written_cv: Condvar::new(),
                }))
            }
            None => {
                core.genesis();
                core.apply();
                None
            }
        };
        // The policies served: those given, else those the data folder kept, else one made
        // now (and kept).
        if core.config.policy_ids.is_empty() {
            let made = crate::uuid_v4(&core.ids.next_id()[..16]);
            core.config.policy_ids.push(made);
            core.meta_changed = true;
            if let Some(durable) = &store {
                durable.store.commit(&mut core)?;
            } else {
                core.apply();
            }
        }
        let config = Config { policy_ids: core.config.policy_ids.clone(), ..config };
        Ok(Self {
            head: RwLock::new(Arc::new(core)),
            writer: Mutex::new(()),
            durable: store,
            failures: Mutex::default(),
            config,
            methods: Default::default(),
        })
    }

    /// The configuration.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The chains served (with a fork: the upstream's), in increasing order.
    pub fn chain_ids(&self) -> Vec<u64> {
        self.head().chains.keys().copied().collect()
    }

    /// The chain `/` (and `/v2/<key>`) reaches: the first chain id configured (`--chain-id`, in
    /// the order given), or, when it is not served (a fork serves the upstream's), the lowest.
    pub fn default_chain_id(&self) -> u64 {
        let served = self.chain_ids();
        self.config
            .chain_ids
            .iter()
            .copied()
            .find(|c| served.contains(c))
            .or_else(|| served.first().copied())
            .unwrap_or_default()
    }

    /// The state as of the last write (a snapshot: later writes do not change it).
    fn head(&self) -> Arc<Core> {
        self.head.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Fails at once when the data folder could not be written: the memory then holds changes
    /// the disk lacks.
    fn check_durable(&self) -> Result<(), WalletError> {
        self.durable.as_ref().map_or(Ok(()), |d| d.check())
    }

    /// Waits until every change set up to `seq` is on disk.
    fn wait_durable(&self, seq: Option<u64>) -> Result<(), WalletError> {
        match (&self.durable, seq) {
            (Some(d), Some(seq)) => d.wait(seq),
            _ => Ok(()),
        }
    }

    /// Runs a function that only reads the state, on the head, beside any other request (a
    /// write in progress included). With a data folder the answer waits until every change it
    /// could have seen is on disk.
    pub(crate) fn read<T, E: From<WalletError>>(
        &self,
        f: impl FnOnce(&Core) -> Result<T, E>,
    ) -> Result<T, E> {
        self.check_durable()?;
        let head = self.head();
        // Taken after the head: at least the set of every write the head holds.
        let seq = self.durable.as_ref().map(|d| d.last());
        let result = f(&head);
        drop(head);
        self.wait_durable(seq)?;
        result
    }

    /// Runs a read-only chain function for `chain` (checked), beside any other request.
    pub(crate) fn on_chain_read<T>(
        &self,
        chain: u64,
        f: impl FnOnce(&Core, u64) -> Result<T, EthError>,
    ) -> Result<T, EthError> {
        self.read(|core| {
            if !core.chains.contains_key(&chain) {
                return Err(EthError::invalid(format!("chain {chain} is not served here")));
            }
            f(core, chain)
        })
    }

    /// Runs one state-machine function on a copy of the head, after every earlier write and
    /// before any later one, and publishes what it changed; a refusal publishes nothing. Reads
    /// go on meanwhile, on the head as it was. With a data folder the answer waits until the
    /// change (and every change it could have seen) is on disk.
    pub(crate) fn call<T, E: From<WalletError>>(
        &self,
        f: impl FnOnce(&mut Core) -> Result<T, E>,
    ) -> Result<T, E> {
        let (seq, result) = {
            let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            self.check_durable()?;
            let mut core = Core::clone(&self.head());
            let result = f(&mut core);
            // The last set queued: the one this call's change makes, or the last it could see.
            let mut seq = self.durable.as_ref().map(|d| d.last());
            if result.is_ok() {
                if let Some(d) = self.durable.as_ref().filter(|_| core.is_changed()) {
                    let set = Store::collect(&core).map_err(|e| {
                        WalletError::Internal(format!("the change could not be saved: {e}"))
                    })?;
                    seq = Some(d.enqueue(set));
                }
                core.apply();
                *self.head.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(core);
            }
            (seq, result)
        };
        self.wait_durable(seq)?;
        result
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
        match self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(method) {
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
        self.read(|c| c.get_calls_status(id))
    }
    /// `wallet_listAccounts`.
    pub fn list_accounts(&self, p: ListAccountsParams) -> R<ListAccountsResult> {
        self.read(|c| c.list_accounts(p))
    }
    /// `wallet_getCapabilities`.
    pub fn get_capabilities(&self, chain_ids: Option<Vec<U64>>) -> R<Capabilities> {
        self.read(|c| c.get_capabilities(chain_ids))
    }
    /// `wallet_prepareSign`.
    pub fn prepare_sign(&self, p: PrepareSignParams) -> R<PrepareSignResult> {
        self.read(|c| c.prepare_sign(p))
    }
    /// `wallet_formatSign`.
    pub fn format_sign(&self, p: FormatSignParams) -> R<FormatSignResult> {
        self.read(|c| c.format_sign(p))
    }

    /// The clock, in unix seconds.
    pub fn now(&self) -> u64 {
        self.head().clock.now()
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
        self.read(|c| Ok(c.chain(c.check_chain(chain)?).account(account).balance))
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
        self.read(|c| {
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
    /// What the page shows: chains, accounts, sessions and recent calls.
    pub fn overview(&self) -> crate::wallet::overview::Overview {
        self.head().overview()
    }
    /// Every session and what is left of its budgets.
    pub fn list_sessions(&self) -> Vec<SessionInfo> {
        self.head().list_sessions()
    }
    /// Revokes a session.
    pub fn revoke_session(&self, id: SessionId) -> R<()> {
        self.call(|c| c.revoke_session(id))
    }
    /// Makes the next call of `method` fail (one pending failure per method; a method the
    /// server does not answer is refused).
    pub fn fail_next(&self, method: String, code: i32, message: String) -> R<()> {
        if let Some(known) = self.methods.get() {
            if !known.contains(&method) {
                return Err(WalletError::InvalidParams(format!(
                    "invalid `method`: this server has no method {method:?}"
                )));
            }
        }
        let message = crate::wallet::controls::bounded_fail_message(message);
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).insert(method, (code, message));
        Ok(())
    }

    /// The methods the server answers, set once by [`crate::serve`].
    pub(crate) fn set_methods(&self, methods: std::collections::BTreeSet<String>) {
        let _ = self.methods.set(methods);
    }
    /// The packed `userOp.signature` of a call.
    pub fn packed_signature(&self, id: &CallId) -> R<Bytes> {
        self.read(|c| c.packed_signature(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read runs while another read is in progress (an `eth_estimateGas` or an `eth_getLogs`
    /// that takes seconds no longer holds up another client's `eth_blockNumber`).
    #[test]
    fn reads_run_beside_each_other() {
        let emulator = Arc::new(Emulator::new(Config::default()));
        let other = emulator.clone();
        let r: R<()> = emulator.read(|_| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || tx.send(other.chain_ids()).ok());
            let answered = rx.recv_timeout(std::time::Duration::from_secs(5));
            assert!(answered.is_ok(), "a second read waited for the first");
            Ok(())
        });
        r.unwrap();
    }

    /// A read runs while a write is in progress (an `eth_sendRawTransaction` whose EVM run
    /// takes seconds no longer holds up `eth_blockNumber`), and sees the state as it was before
    /// the write: never half of it.
    #[test]
    fn reads_run_beside_a_write_and_see_the_head_before_it() {
        let emulator = Arc::new(Emulator::new(Config::default()));
        let chain = U64::from(emulator.default_chain_id());
        let who = Address::repeat_byte(0x11);
        let other = emulator.clone();
        let r: R<()> = emulator.call(|core| {
            let id = core.check_chain(chain)?;
            core.chain_mut(id).set_balance(who, U256::from(7));
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                tx.send(
                    other.on_chain_read(chain.to(), |c, id| Ok(c.chain(id).account(who).balance)),
                )
            });
            let seen = rx.recv_timeout(std::time::Duration::from_secs(5));
            assert_eq!(
                seen.expect("a read waited for a write in progress"),
                Ok(U256::ZERO),
                "a read saw a write in progress"
            );
            Ok(())
        });
        r.unwrap();
        assert_eq!(emulator.balance(chain, who).unwrap(), U256::from(7));
    }

    /// Writes run one at a time: a second write starts from the state the first one left.
    #[test]
    fn writes_run_one_after_another() {
        let emulator = Arc::new(Emulator::new(Config::default()));
        let chain = U64::from(emulator.default_chain_id());
        let who = Address::repeat_byte(0x22);
        let add = move |e: &Emulator| {
            e.call(|core| {
                let id = core.check_chain(chain)?;
                let balance = core.chain(id).account(who).balance;
                std::thread::sleep(std::time::Duration::from_millis(2));
                core.chain_mut(id).set_balance(who, balance + U256::from(1));
                Ok::<_, WalletError>(())
            })
        };
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let e = emulator.clone();
                std::thread::spawn(move || (0..10).try_for_each(|_| add(&e)))
            })
            .collect();
        for w in workers {
            w.join().unwrap().unwrap();
        }
        assert_eq!(emulator.balance(chain, who).unwrap(), U256::from(40));
    }

    /// A refused write publishes nothing it changed.
    #[test]
    fn a_refused_write_leaves_nothing() {
        let emulator = Emulator::new(Config::default());
        let chain = U64::from(emulator.default_chain_id());
        let who = Address::repeat_byte(0x33);
        let r: R<()> = emulator.call(|core| {
            let id = core.check_chain(chain)?;
            core.chain_mut(id).set_balance(who, U256::from(9));
            Err(WalletError::InvalidParams("refused".into()))
        });
        assert!(r.is_err());
        assert_eq!(emulator.balance(chain, who).unwrap(), U256::ZERO);
    }
}
