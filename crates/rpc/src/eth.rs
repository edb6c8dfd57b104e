//! The few `eth` methods the client reads from a node: before it signs, the chain id, an
//! account's transaction count (an EIP-7702 authorization's nonce) and its code (whether it is
//! delegated, or deployed); and `eth_call` for what it shows (a token's decimals).

use alloy_primitives::{Address, Bytes, U64};
use jsonrpsee::proc_macros::rpc;

/// Chain reads of the Ethereum JSON-RPC API (client only: the emulator serves `eth_*` itself).
#[rpc(client, namespace = "eth")]
pub trait EthApi {
    /// `eth_chainId`.
    #[method(name = "chainId")]
    async fn chain_id(&self) -> jsonrpsee::core::RpcResult<U64>;

    /// `eth_getTransactionCount` of `address` at `block` (`"latest"`, `"pending"` or a number).
    #[method(name = "getTransactionCount")]
    async fn get_transaction_count(
        &self,
        address: Address,
        block: String,
    ) -> jsonrpsee::core::RpcResult<U64>;

    /// `eth_getCode` of `address` at `block`.
    #[method(name = "getCode")]
    async fn get_code(&self, address: Address, block: String) -> jsonrpsee::core::RpcResult<Bytes>;

    /// `eth_call` of `data` to `to` at `block` (a view function: a token's `decimals()`).
    #[method(name = "call")]
    async fn call(&self, call: CallRequest, block: String) -> jsonrpsee::core::RpcResult<Bytes>;
}

/// What `eth_call` is asked to run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CallRequest {
    /// The contract.
    pub to: Address,
    /// The call data.
    pub data: Bytes,
}
