//! Gas paid in an ERC-20 through the orchestrator: an owner's op through a permit, a session's
//! op with the approval its permissions allow, and a hostile server's permit, fee and approval
//! refused before anything is signed.

use crate::flow::{deploy, deployer, deployer_tx, request, CHAIN, POLICY};
use crate::tamper::{Edit, Tamper};
use crate::Counting;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_sol_types::{sol, SolCall, SolValue};
use jsonrpsee::core::client::ClientT;
use serde_json::Value;
use sesskey_emulator::{serve, Config, Emulator, GasToken, Running, EMULATOR_PAYMASTER};
use sesskey_rpc::WalletClient;
use sesskey_session::{Error, Orchestrator, Outcome, TokenGas, TokenGasMode};
use sesskey_signing::dev::{dev_owner, dev_session_key};
use sesskey_types::*;
use std::sync::Arc;
use std::time::Duration;

sol! {
    function balanceOf(address owner) returns (uint256);
    function transfer(address to, uint256 value) returns (bool);
    function bump(uint256 amount);
}

const UNIT: u64 = 1_000_000;

struct World {
    server: Running,
    token: Address,
    counter: Address,
}

/// An emulator pricing the deployer's first contract (a 6-decimal `PermitToken`) at 3000 per
/// ETH of gas, a Counter, and the owner's account delegated and holding 100 tokens.
async fn world() -> World {
    let token = deployer().address().create(0);
    let config = Config {
        policy_ids: vec![POLICY.into()],
        deterministic_start: Some(1_800_000_000),
        genesis: vec![(deployer().address(), U256::from(10u64.pow(18)))],
        gas_tokens: vec![format!("{token}=3000").parse::<GasToken>().unwrap()],
        ..Config::default()
    };
    let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let args =
        ("Gas Dollar".to_string(), "GUSD".to_string(), U256::from(6), U256::from(10u64.pow(12)))
            .abi_encode_params();
    assert_eq!(deploy(&server, "PermitToken", &args).await, token);
    let counter = deploy(&server, "Counter", &[]).await;
    let data = transferCall { to: dev_owner().address(), value: U256::from(100 * UNIT) };
    deployer_tx(&server, TxKind::Call(token), data.abi_encode().into()).await;
    let honest = Orchestrator::new(WalletClient::new(server.url()).unwrap(), Some(POLICY.into()));
    honest.ensure_delegated(&dev_owner(), CHAIN, Duration::from_secs(5)).await.unwrap();
    World { server, token, counter }
}

impl World {
    async fn balance(&self, who: Address) -> U256 {
        let client = WalletClient::new(self.server.url()).unwrap();
        let call = serde_json::json!({"to": self.token, "data": Bytes::from(balanceOfCall { owner: who }.abi_encode())});
        let out: Bytes =
            client.request("eth_call", jsonrpsee::rpc_params![call, "latest"]).await.unwrap();
        U256::abi_decode(&out).unwrap()
    }

    fn bump(&self) -> Call {
        Call {
            to: self.counter,
            data: Some(bumpCall { amount: U256::from(1) }.abi_encode().into()),
            value: Some(U256::ZERO),
        }
    }

    fn permit_mode(&self) -> TokenGas {
        let amount = U256::from(10 * UNIT);
        TokenGas {
            token: self.token,
            max_token_amount: Some(U256::from(20 * UNIT)),
            mode: TokenGasMode::PreOp {
                auto_permit: AutoPermit { below: amount, amount, duration_seconds: None },
            },
        }
    }

    fn approve_mode(&self) -> TokenGas {
        TokenGas {
            token: self.token,
            max_token_amount: Some(U256::from(5 * UNIT)),
            mode: TokenGasMode::PostOp { auto_approve: Some(AutoApprove::Always(true)) },
        }
    }

    /// An orchestrator paying gas with `gas`, through a client that applies `edit` to the
    /// answers of `wallet_prepareCalls`.
    fn flow(
        &self,
        gas: TokenGas,
        edit: impl Fn(&mut Value) + Send + Sync + 'static,
    ) -> Orchestrator<Tamper> {
        let edit: Edit = Arc::new(move |m, v| {
            if m == "wallet_prepareCalls" {
                edit(v)
            }
        });
        let client = Tamper { inner: WalletClient::new(self.server.url()).unwrap(), edit };
        Orchestrator::new(client, Some(POLICY.into()))
            .with_paymaster(EMULATOR_PAYMASTER)
            .with_gas_token(gas)
    }
}

#[tokio::test]
async fn the_owner_pays_through_a_permit_it_checked_then_signed() {
    let w = world().await;
    let owner = Counting::new(dev_owner());
    let flow = w.flow(w.permit_mode(), |_| {});
    let before = w.balance(dev_owner().address()).await;
    let id = flow.send_as_owner(&owner, CHAIN, vec![w.bump()]).await.unwrap();
    assert_eq!(owner.signed(), 2, "the permit, then the op");
    let outcome = flow.wait_for_status(&id, Duration::from_secs(5)).await.unwrap();
    assert!(matches!(outcome, Outcome::Confirmed(_)), "{outcome:?}");
    let paid = before - w.balance(dev_owner().address()).await;
    assert!(paid > U256::ZERO && paid < U256::from(10 * UNIT), "{paid}");
}

#[tokio::test]
async fn a_session_pays_with_an_approval_its_permissions_allow() {
    let w = world().await;
    let owner = dev_owner();
    let honest = Orchestrator::new(WalletClient::new(w.server.url()).unwrap(), Some(POLICY.into()));
    let permissions = vec![
        Permission::ContractAccess(ContractAccess { address: w.counter }),
        Permission::Erc20TokenTransfer(Erc20TokenTransfer {
            address: w.token,
            allowance: U256::from(5 * UNIT),
        }),
    ];
    let session = honest.create_session(&owner, &request(permissions, None)).await.unwrap();
    let key = dev_session_key();
    let flow = w.flow(w.approve_mode(), |_| {});
    let sent = flow
        .send_calls(&session, &key, vec![w.bump()], &Default::default(), 1_800_000_000)
        .await
        .unwrap();
    // The approval of the paymaster counts against the session's token allowance.
    let approved = sent.spend.erc20.get(&w.token).copied().unwrap_or_default();
    assert!(approved > U256::ZERO && approved <= U256::from(5 * UNIT), "{:?}", sent.spend);
    let outcome = flow.wait_for_status(&sent.call_id, Duration::from_secs(5)).await.unwrap();
    assert!(matches!(outcome, Outcome::Confirmed(_)), "{outcome:?}");

    // A permit is the owner's to sign: a session refuses the pre-op mode before sending.
    let flow = w.flow(w.permit_mode(), |_| panic!("nothing is sent"));
    let e = flow
        .send_calls(&session, &key, vec![w.bump()], &Default::default(), 1_800_000_000)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e}");
}

fn fired(e: &Error) -> String {
    match e {
        Error::Mismatch { field, .. } => (*field).to_string(),
        other => format!("other: {other}"),
    }
}

async fn refused_owner(
    w: &World,
    gas: TokenGas,
    name: &str,
    expected: &str,
    edit: impl Fn(&mut Value) + Send + Sync + 'static,
) {
    let owner = Counting::new(dev_owner());
    let e = w.flow(gas, edit).send_as_owner(&owner, CHAIN, vec![w.bump()]).await.expect_err(name);
    assert_eq!(fired(&e), expected, "{name}: {e}");
    assert_eq!(owner.signed(), 0, "{name}: the owner signed");
}

#[tokio::test]
async fn a_hostile_servers_permit_fee_and_approval_are_refused_before_signing() {
    let w = world().await;
    let other = Address::repeat_byte(0x66).to_string();
    let permit = |v: &Value| v["type"] == "paymaster-permit";
    let spender = other.clone();
    refused_owner(&w, w.permit_mode(), "spender", "data.message.spender", move |v| {
        if permit(v) {
            v["data"]["message"]["spender"] = spender.clone().into();
            v["signatureRequest"]["data"]["message"]["spender"] = spender.clone().into();
        }
    })
    .await;
    refused_owner(&w, w.permit_mode(), "value", "data.message.value", move |v| {
        if permit(v) {
            v["data"]["message"]["value"] = "999000000".into();
            v["signatureRequest"]["data"]["message"]["value"] = "999000000".into();
        }
    })
    .await;
    let to = other.clone();
    refused_owner(&w, w.permit_mode(), "modifiedRequest", "modifiedRequest", move |v| {
        if permit(v) {
            v["modifiedRequest"]["calls"][0]["to"] = to.clone().into();
        }
    })
    .await;
    refused_owner(&w, w.permit_mode(), "what to sign", "signatureRequest", move |v| {
        if permit(v) {
            v["signatureRequest"]["data"]["message"]["deadline"] = "99999999999".into();
        }
    })
    .await;
    let token = other.clone();
    refused_owner(&w, w.approve_mode(), "fee token", "feePayment.tokenAddress", move |v| {
        v["feePayment"]["tokenAddress"] = token.clone().into();
    })
    .await;
    refused_owner(&w, w.approve_mode(), "fee above the cap", "feePayment.maxAmount", |v| {
        v["feePayment"]["maxAmount"] = "0x5f5e100".into();
    })
    .await;
    // The approval for more than the op's most (its amount word rewritten in the call data).
    refused_owner(&w, w.approve_mode(), "approve amount", "data.callData (approve amount)", |v| {
        let most =
            v["feePayment"]["maxAmount"].as_str().unwrap().trim_start_matches("0x").to_string();
        let word = format!("{most:0>64}");
        let data = v["data"]["callData"].as_str().unwrap().to_string();
        v["data"]["callData"] = data.replacen(&word, &format!("{:0>64}", "ffffff"), 1).into();
    })
    .await;
}
