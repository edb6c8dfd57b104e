//! The `emulator_*` controls (through the `sesskey-rpc` trait) and the anvil-style ones
//! (`anvil_setBalance`, `anvil_setCode`, `anvil_setStorageAt`, `anvil_setNonce`,
//! `evm_increaseTime`, `evm_setNextBlockTimestamp`, `evm_mine`, `evm_snapshot`, `evm_revert`).

use super::ChainRoute;
use crate::chain::EthError;
use crate::Emulator;
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use jsonrpsee::core::{async_trait, RpcResult};
use jsonrpsee::server::RpcModule;
use jsonrpsee::types::ErrorObjectOwned;
use sesskey_rpc::{EmulatorApiServer, SessionInfo, WalletError};
use sesskey_types::{CallId, SessionId};
use std::sync::Arc;

/// The `emulator_*` controls, through the `sesskey-rpc` trait.
#[derive(Debug, Clone)]
pub struct Controls(pub Arc<Emulator>);

impl Controls {
    /// Runs `f` on a blocking thread (it may fsync).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Emulator) -> Result<T, WalletError> + Send + 'static,
    ) -> RpcResult<T> {
        let emu = self.0.clone();
        match tokio::task::spawn_blocking(move || f(&emu)).await {
            Ok(r) => r.map_err(ErrorObjectOwned::from),
            Err(e) => Err(WalletError::Internal(e.to_string()).into()),
        }
    }
}

#[async_trait]
impl EmulatorApiServer for Controls {
    async fn now(&self) -> RpcResult<u64> {
        Ok(self.0.now())
    }
    async fn set_time(&self, unix_seconds: u64) -> RpcResult<u64> {
        self.run(move |e| e.set_time(unix_seconds)).await
    }
    async fn increase_time(&self, seconds: u64) -> RpcResult<u64> {
        self.run(move |e| e.increase_time(seconds)).await
    }
    async fn set_balance(&self, chain_id: U64, account: Address, wei: U256) -> RpcResult<()> {
        self.run(move |e| e.set_balance(chain_id, account, wei)).await
    }
    async fn get_balance(&self, chain_id: U64, account: Address) -> RpcResult<U256> {
        self.run(move |e| e.balance(chain_id, account)).await
    }
    async fn set_erc20_balance(
        &self,
        chain_id: U64,
        token: Address,
        account: Address,
        amount: U256,
    ) -> RpcResult<()> {
        self.run(move |e| e.set_erc20_balance(chain_id, token, account, amount)).await
    }
    async fn get_erc20_balance(
        &self,
        chain_id: U64,
        token: Address,
        account: Address,
    ) -> RpcResult<U256> {
        self.run(move |e| e.erc20_balance(chain_id, token, account)).await
    }
    async fn settle(&self) -> RpcResult<usize> {
        self.run(Emulator::settle).await
    }
    async fn list_sessions(&self) -> RpcResult<Vec<SessionInfo>> {
        Ok(self.0.list_sessions())
    }
    async fn revoke_session(&self, session_id: SessionId) -> RpcResult<()> {
        self.run(move |e| e.revoke_session(session_id)).await
    }
    async fn fail_next(&self, method: String, code: i32, message: String) -> RpcResult<()> {
        Ok(self.0.fail_next(method, code, message)?)
    }
    async fn packed_signature(&self, call_id: CallId) -> RpcResult<Bytes> {
        self.run(move |e| e.packed_signature(&call_id)).await
    }
}

macro_rules! control {
    ($m:ident, $name:literal, |$emu:ident, $chain:ident, $p:ident| $body:expr) => {
        $m.register_blocking_method($name, |raw, emu, ext| {
            let $emu: &Emulator = &emu;
            let $chain = match ext.get::<ChainRoute>() {
                Some(ChainRoute(id)) => *id,
                None => $emu.default_chain_id(),
            };
            #[allow(unused_mut, unused_variables)]
            let mut $p = raw.sequence();
            let r: Result<_, EthError> = $body;
            r.map_err(ErrorObjectOwned::from)
        })
        .expect("method names are unique");
    };
}

fn param<T: serde::de::DeserializeOwned>(
    p: &mut jsonrpsee::types::params::ParamsSequence<'_>,
    name: &str,
) -> Result<T, EthError> {
    p.next().map_err(|e| EthError::invalid(format!("invalid `{name}`: {}", e.message())))
}

fn wallet(e: WalletError) -> EthError {
    EthError::from(e)
}

/// The anvil-style controls over `emulator`.
pub(crate) fn anvil_module(emulator: Arc<Emulator>) -> RpcModule<Emulator> {
    let mut m = RpcModule::from_arc(emulator);
    control!(m, "anvil_setBalance", |e, chain, p| {
        let (who, wei): (Address, U256) = (param(&mut p, "address")?, param(&mut p, "balance")?);
        e.on_chain(chain, |c, id| {
            c.chain_mut(id).set_balance(who, wei);
            Ok(())
        })
    });
    control!(m, "anvil_setCode", |e, chain, p| {
        let (who, code): (Address, Bytes) = (param(&mut p, "address")?, param(&mut p, "code")?);
        e.on_chain(chain, |c, id| {
            c.chain_mut(id).set_code(who, code);
            Ok(())
        })
    });
    control!(m, "anvil_setStorageAt", |e, chain, p| {
        let who: Address = param(&mut p, "address")?;
        let slot: U256 = param(&mut p, "slot")?;
        let value: B256 = param(&mut p, "value")?;
        e.on_chain(chain, |c, id| {
            c.chain_mut(id).set_storage(who, slot, value.into());
            Ok(true)
        })
    });
    control!(m, "anvil_setNonce", |e, chain, p| {
        let (who, nonce): (Address, U64) = (param(&mut p, "address")?, param(&mut p, "nonce")?);
        e.on_chain(chain, |c, id| {
            c.chain_mut(id).set_nonce(who, nonce.saturating_to());
            Ok(())
        })
    });
    control!(m, "evm_increaseTime", |e, chain, p| {
        let seconds: U64 = param(&mut p, "seconds")?;
        e.on_chain(chain, |c, _| {
            c.increase_time(seconds.saturating_to()).map_err(wallet)?;
            Ok(seconds)
        })
    });
    control!(m, "evm_setNextBlockTimestamp", |e, chain, p| {
        let t: U64 = param(&mut p, "timestamp")?;
        e.on_chain(chain, |c, id| c.set_next_block_timestamp(id, t.saturating_to()).map_err(wallet))
    });
    control!(m, "evm_mine", |e, chain, p| {
        let t: Option<U64> =
            p.optional_next().map_err(|e| EthError::invalid(e.message().to_string()))?;
        e.on_chain(chain, |c, id| {
            c.mine_block(id, t.map(|t| t.saturating_to())).map_err(wallet)?;
            Ok("0x0")
        })
    });
    control!(m, "evm_snapshot", |e, chain, p| e.on_chain(chain, |c, _| Ok(c.snapshot())));
    control!(m, "evm_revert", |e, chain, p| {
        let id: U256 = param(&mut p, "id")?;
        e.on_chain(chain, |c, _| Ok(c.revert_to(id)))
    });
    m
}
