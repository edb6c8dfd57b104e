//! The chain's JSON-RPC methods (`eth_*`, `net_version`, `web3_clientVersion`), so that cast,
//! forge, viem and alloy providers deploy and read contracts on the emulator.

use super::ChainRoute;
use crate::chain::{EthError, PRIORITY_FEE};
use crate::Emulator;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use alloy_rpc_types_eth::state::StateOverride;
use alloy_rpc_types_eth::{Filter, TransactionRequest};
use jsonrpsee::server::RpcModule;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::Extensions;
use serde::de::DeserializeOwned;
use std::sync::Arc;

type Answer<T> = Result<T, ErrorObjectOwned>;

/// The chain a request reaches: its path's, else the first configured.
fn chain_of(emu: &Emulator, ext: &Extensions) -> u64 {
    match ext.get::<ChainRoute>() {
        Some(ChainRoute(id)) => *id,
        None => emu.default_chain_id(),
    }
}

/// Positional params: the required ones, then optional ones.
struct Args<'a>(jsonrpsee::types::params::ParamsSequence<'a>);

impl<'a> Args<'a> {
    fn new(p: &'a Params<'a>) -> Self {
        Self(p.sequence())
    }
    fn next<T: DeserializeOwned>(&mut self, name: &str) -> Answer<T> {
        self.0
            .next()
            .map_err(|e| EthError::invalid(format!("invalid `{name}`: {}", e.message())).into())
    }
    fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Answer<Option<T>> {
        self.0
            .optional_next()
            .map_err(|e| EthError::invalid(format!("invalid `{name}`: {}", e.message())).into())
    }
}

macro_rules! eth_method {
    ($m:ident, $name:literal, |$emu:ident, $chain:ident, $args:ident| $body:expr) => {
        $m.register_blocking_method($name, |raw, emu, ext| {
            let $emu: &Emulator = &emu;
            #[allow(unused_variables)]
            let $chain = chain_of($emu, &ext);
            #[allow(unused_mut, unused_variables)]
            let mut $args = Args::new(&raw);
            $body
        })
        .expect("method names are unique");
    };
}

fn answer<T>(r: Result<T, EthError>) -> Answer<T> {
    r.map_err(ErrorObjectOwned::from)
}

/// The `eth_*` methods over `emulator`.
pub(crate) fn eth_module(emulator: Arc<Emulator>) -> RpcModule<Emulator> {
    let mut m = RpcModule::from_arc(emulator);
    eth_method!(m, "eth_chainId", |e, chain, a| answer(
        e.on_chain_read(chain, |_, id| Ok(U64::from(id)))
    ));
    eth_method!(m, "net_version", |e, chain, a| answer(
        e.on_chain_read(chain, |_, id| Ok(id.to_string()))
    ));
    eth_method!(m, "web3_clientVersion", |e, chain, a| Answer::Ok(format!(
        "sesskey-emulator/{}",
        env!("CARGO_PKG_VERSION")
    )));
    eth_method!(m, "eth_accounts", |e, chain, a| Answer::Ok(Vec::<Address>::new()));
    eth_method!(m, "eth_syncing", |e, chain, a| Answer::Ok(false));
    eth_method!(m, "eth_blockNumber", |e, chain, a| answer(
        e.on_chain_read(chain, |c, id| Ok(U64::from(c.chain(id).head_number())))
    ));
    eth_method!(m, "eth_getBlockByNumber", |e, chain, a| {
        let tag: BlockNumberOrTag = a.next("block")?;
        let full: bool = a.optional("full")?.unwrap_or(false);
        answer(e.on_chain_read(chain, |c, id| Ok(c.chain(id).block_by_number(tag, full))))
    });
    eth_method!(m, "eth_getBlockByHash", |e, chain, a| {
        let hash: B256 = a.next("hash")?;
        let full: bool = a.optional("full")?.unwrap_or(false);
        answer(e.on_chain_read(chain, |c, id| Ok(c.chain(id).block_by_hash(hash, full))))
    });
    eth_method!(m, "eth_getBalance", |e, chain, a| {
        let who: Address = a.next("address")?;
        let block: Option<BlockId> = a.optional("block")?;
        answer(e.on_chain_read(chain, |c, id| {
            let ch = c.chain(id);
            ch.check_state_block(block)?;
            Ok(ch.account(who).balance)
        }))
    });
    eth_method!(m, "eth_getTransactionCount", |e, chain, a| {
        let who: Address = a.next("address")?;
        let block: Option<BlockId> = a.optional("block")?;
        answer(e.on_chain_read(chain, |c, id| {
            let ch = c.chain(id);
            ch.check_state_block(block)?;
            Ok(U64::from(ch.account(who).nonce))
        }))
    });
    eth_method!(m, "eth_getCode", |e, chain, a| {
        let who: Address = a.next("address")?;
        let block: Option<BlockId> = a.optional("block")?;
        answer(e.on_chain_read(chain, |c, id| {
            let ch = c.chain(id);
            ch.check_state_block(block)?;
            Ok(ch.code_of(who))
        }))
    });
    eth_method!(m, "eth_getStorageAt", |e, chain, a| {
        let who: Address = a.next("address")?;
        let slot: U256 = a.next("slot")?;
        let block: Option<BlockId> = a.optional("block")?;
        answer(e.on_chain_read(chain, |c, id| {
            let ch = c.chain(id);
            ch.check_state_block(block)?;
            Ok(B256::from(ch.storage_at(who, slot)))
        }))
    });
    eth_method!(m, "eth_call", |e, chain, a| {
        let req: TransactionRequest = a.next("transaction")?;
        let block: Option<BlockId> = a.optional("block")?;
        let overrides: Option<StateOverride> = a.optional("stateOverrides")?;
        answer(e.on_chain_read(chain, |c, id| {
            let now = c.clock.now();
            let ch = c.chain(id);
            ch.check_state_block(block)?;
            ch.call(now, req, overrides)
        }))
    });
    eth_method!(m, "eth_estimateGas", |e, chain, a| {
        let req: TransactionRequest = a.next("transaction")?;
        let block: Option<BlockId> = a.optional("block")?;
        let overrides: Option<StateOverride> = a.optional("stateOverrides")?;
        answer(e.on_chain_read(chain, |c, id| {
            let now = c.clock.now();
            let ch = c.chain(id);
            ch.check_state_block(block)?;
            ch.estimate_gas(now, req, overrides).map(U64::from)
        }))
    });
    eth_method!(m, "eth_gasPrice", |e, chain, a| answer(e.on_chain_read(chain, |c, id| {
        let base = c.chain(id).next_base_fee(c.clock.now());
        Ok(U256::from(base) + U256::from(PRIORITY_FEE))
    })));
    eth_method!(m, "eth_maxPriorityFeePerGas", |e, chain, a| Answer::Ok(U256::from(PRIORITY_FEE)));
    eth_method!(m, "eth_feeHistory", |e, chain, a| {
        let count: U64 = a.next("blockCount")?;
        let newest: BlockNumberOrTag = a.next("newestBlock")?;
        let percentiles: Option<Vec<f64>> = a.optional("rewardPercentiles")?;
        answer(e.on_chain_read(chain, |c, id| {
            c.chain(id).fee_history(count.saturating_to(), newest, percentiles)
        }))
    });
    eth_method!(m, "eth_sendRawTransaction", |e, chain, a| {
        let raw: Bytes = a.next("transaction")?;
        answer(e.on_chain(chain, |c, id| {
            let now = c.clock.now();
            c.chain_mut(id).send_raw_transaction(now, &raw)
        }))
    });
    eth_method!(m, "eth_getTransactionByHash", |e, chain, a| {
        let hash: B256 = a.next("hash")?;
        answer(e.on_chain_read(chain, |c, id| Ok(c.chain(id).transaction(hash))))
    });
    eth_method!(m, "eth_getTransactionReceipt", |e, chain, a| {
        let hash: B256 = a.next("hash")?;
        answer(e.on_chain_read(chain, |c, id| Ok(c.chain(id).receipt(hash))))
    });
    eth_method!(m, "eth_getLogs", |e, chain, a| {
        let filter: Filter = a.next("filter")?;
        answer(e.on_chain_read(chain, |c, id| c.chain(id).logs(&filter)))
    });
    m
}
