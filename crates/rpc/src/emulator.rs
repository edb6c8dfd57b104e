//! The `emulator` namespace: test and demo controls of sesskey's local Wallet API emulator.
//! Alchemy's server has none of these.

use alloy_primitives::{Address, Bytes, U256, U64};
// Only the server side names it (the client side rewrites the return types).
#[cfg_attr(not(feature = "server"), allow(unused_imports))]
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use serde::{Deserialize, Serialize};
use sesskey_types::{Permission, SessionId};

/// A session as the emulator keeps it, with what is left of its budgets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The session id.
    pub session_id: SessionId,
    /// The account.
    pub account: Address,
    /// The chain.
    pub chain_id: U64,
    /// The session key.
    pub session_key: Address,
    /// The validation entity.
    pub entity_id: u32,
    /// Unix seconds after which the session is void; 0 = none.
    pub expiry: u64,
    /// The permissions.
    pub permissions: Vec<Permission>,
    /// Whether its first op (installing the key) was sent.
    pub installed: bool,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Native value left (absent: unlimited).
    pub native_left: Option<U256>,
    /// Gas budget left, in wei (absent: unlimited).
    pub gas_left: Option<U256>,
    /// ERC-20 allowance left, by token.
    pub erc20_left: Vec<(Address, U256)>,
    /// When it was requested (`wallet_createSession`), unix seconds (0: unknown).
    #[serde(default)]
    pub requested_at: u64,
}

/// The emulator's controls.
#[cfg_attr(feature = "server", rpc(server, client, namespace = "emulator"))]
#[cfg_attr(not(feature = "server"), rpc(client, namespace = "emulator"))]
pub trait EmulatorApi {
    /// The emulator's clock, in unix seconds.
    #[method(name = "now")]
    async fn now(&self) -> RpcResult<u64>;

    /// Sets the clock (unix seconds).
    #[method(name = "setTime")]
    async fn set_time(&self, unix_seconds: u64) -> RpcResult<u64>;

    /// Moves the clock forward by `seconds`; answers the new time.
    #[method(name = "increaseTime")]
    async fn increase_time(&self, seconds: u64) -> RpcResult<u64>;

    /// Sets an account's native balance on a chain.
    #[method(name = "setBalance")]
    async fn set_balance(&self, chain_id: U64, account: Address, wei: U256) -> RpcResult<()>;

    /// An account's native balance on a chain.
    #[method(name = "getBalance")]
    async fn get_balance(&self, chain_id: U64, account: Address) -> RpcResult<U256>;

    /// Sets an account's balance of an ERC-20 token on a chain.
    #[method(name = "setErc20Balance")]
    async fn set_erc20_balance(
        &self,
        chain_id: U64,
        token: Address,
        account: Address,
        amount: U256,
    ) -> RpcResult<()>;

    /// An account's balance of an ERC-20 token on a chain.
    #[method(name = "getErc20Balance")]
    async fn get_erc20_balance(
        &self,
        chain_id: U64,
        token: Address,
        account: Address,
    ) -> RpcResult<U256>;

    /// Settles every pending call now; answers how many.
    #[method(name = "settle")]
    async fn settle(&self) -> RpcResult<usize>;

    /// Every session, with what is left of its budgets.
    #[method(name = "listSessions")]
    async fn list_sessions(&self) -> RpcResult<Vec<SessionInfo>>;

    /// Revokes a session: its ops are refused from now on.
    #[method(name = "revokeSession")]
    async fn revoke_session(&self, session_id: SessionId) -> RpcResult<()>;

    /// Makes the next call of `method` fail with this code and message.
    #[method(name = "failNext")]
    async fn fail_next(&self, method: String, code: i32, message: String) -> RpcResult<()>;

    /// The final `userOp.signature` the emulator packed for a call (spec §5.3).
    #[method(name = "packedSignature")]
    async fn packed_signature(&self, call_id: sesskey_types::CallId) -> RpcResult<Bytes>;
}
