//! Gas paid in an ERC-20 token (`paymasterService.erc20`): the post-op approval flow and the
//! pre-op permit flow confirm, the token balance drops by what `feePayment` said at most, and
//! what the service refuses is refused with its codes.

use crate::helpers::*;
use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{sol, SolCall, SolValue};
use sesskey_account::{decode_approve, decode_calls, TokenPermit};
use sesskey_emulator::{Emulator, GasToken, EMULATOR_PAYMASTER};
use sesskey_rpc::{WalletApiClient, WalletError};
use sesskey_signing::*;
use sesskey_types::*;

sol! {
    function balanceOf(address owner) returns (uint256);
    function allowance(address owner, address spender) returns (uint256);
    function transfer(address to, uint256 value) returns (bool);
    function bump(uint256 amount);
    function value() returns (uint256);
}

/// One token (6 decimals) = what the tests pay with; 3000 of them buy 1 ETH of gas.
const UNIT: u64 = 1_000_000;

struct TokenEnv {
    env: Env,
    token: Address,
    counter: Address,
}

/// An emulator that takes the deployer's first contract for gas, that contract (a
/// `PermitToken`), a Counter, and the owner's account delegated and holding 100 tokens.
async fn start() -> TokenEnv {
    let token = deployer().address().create(0);
    let config = sesskey_emulator::Config {
        gas_tokens: vec![format!("{token}=3000").parse::<GasToken>().unwrap()],
        ..Env::config()
    };
    let env = Env::with(Emulator::new(config)).await;
    let args =
        ("Gas Dollar".to_string(), "GUSD".to_string(), U256::from(6), U256::from(1_000_000 * UNIT))
            .abi_encode_params();
    assert_eq!(env.deploy("PermitToken", &args).await, token);
    let counter = env.deploy("Counter", &[]).await;
    env.delegate().await;
    let t = TokenEnv { env, token, counter };
    t.transfer(t.env.account(), U256::from(100 * UNIT)).await;
    t
}

impl TokenEnv {
    async fn transfer(&self, to: Address, amount: U256) {
        let data = transferCall { to, value: amount }.abi_encode();
        let tx = TransactionRequest::default().with_to(self.token).with_input(data);
        let receipt =
            self.env.provider().send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status());
    }

    async fn read(&self, to: Address, data: Vec<u8>) -> U256 {
        let out = self
            .env
            .provider()
            .call(TransactionRequest::default().to(to).input(data.into()))
            .await
            .unwrap();
        U256::abi_decode(&out).unwrap()
    }

    async fn balance(&self, who: Address) -> U256 {
        self.read(self.token, balanceOfCall { owner: who }.abi_encode()).await
    }

    async fn allowance(&self, who: Address) -> U256 {
        let call = allowanceCall { owner: who, spender: EMULATOR_PAYMASTER };
        self.read(self.token, call.abi_encode()).await
    }

    fn caps(&self, erc20: serde_json::Value) -> PrepareCallsCapabilities {
        let mut erc20 = erc20;
        erc20["tokenAddress"] = self.token.to_string().into();
        serde_json::from_value(serde_json::json!({
            "paymasterService": {"policyId": POLICY, "erc20": erc20}
        }))
        .unwrap()
    }

    fn bump(&self) -> Call {
        Call {
            to: self.counter,
            data: Some(bumpCall { amount: U256::from(1) }.abi_encode().into()),
            value: Some(U256::ZERO),
        }
    }

    async fn prepare(
        &self,
        erc20: serde_json::Value,
    ) -> std::result::Result<PreparedCalls, sesskey_rpc::Error> {
        let params = self.env.prepare_params(vec![self.bump()], self.caps(erc20));
        Ok(self.env.client.prepare_calls(params).await?)
    }

    async fn send(&self, op: PreparedUserOperationV07) -> CallsStatus {
        let sent = self.env.client.send_prepared_calls(signed(&self.env.owner, op, None).await);
        let id = CallId(sent.await.unwrap().id);
        self.env.client.get_calls_status(id).await.unwrap()
    }
}

fn one_op(p: PreparedCalls) -> PreparedUserOperationV07 {
    match p {
        PreparedCalls::UserOperationV070(op) => op,
        other => panic!("expected one op, got {other:?}"),
    }
}

#[tokio::test]
async fn post_op_approval_pays_in_the_token_at_most_what_fee_payment_said() {
    let t = start().await;
    let account = t.env.account();
    let op = one_op(
        t.prepare(serde_json::json!({"postOpSettings": {"autoApprove": true}})).await.unwrap(),
    );
    let fee = op.fee_payment.clone().unwrap();
    assert!(!fee.sponsored);
    assert_eq!(fee.token_address, t.token);
    assert!(fee.max_amount > U256::ZERO && fee.max_amount < U256::from(10 * UNIT), "{fee:?}");
    assert_eq!(op.data.paymaster, Some(EMULATOR_PAYMASTER));
    // The approval comes first, for exactly the op's most, then the call asked for.
    let calls = decode_calls(account, &op.data.call_data).unwrap().calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].to, t.token);
    assert_eq!(
        decode_approve(&calls[0].data_or_empty()),
        Some((EMULATOR_PAYMASTER, fee.max_amount))
    );
    assert_eq!(calls[1], t.bump());

    let (before, pm_before) = (t.balance(account).await, t.balance(EMULATOR_PAYMASTER).await);
    let status = t.send(op).await;
    assert_eq!(status.status, CallStatusCode::Confirmed, "{status:?}");
    let charged = before - t.balance(account).await;
    assert!(charged > U256::ZERO && charged <= fee.max_amount, "{charged} of {}", fee.max_amount);
    assert_eq!(t.balance(EMULATOR_PAYMASTER).await - pm_before, charged);
    assert_eq!(t.read(t.counter, valueCall {}.abi_encode()).await, U256::from(1));

    // `{below, amount}`: the allowance left is below 10 tokens, so 50 are approved; the next
    // op finds 10 or more and approves nothing.
    let (below, amount) = (U256::from(10 * UNIT), U256::from(50 * UNIT));
    let threshold =
        serde_json::json!({"postOpSettings": {"autoApprove": {"below": below, "amount": amount}}});
    let op = one_op(t.prepare(threshold.clone()).await.unwrap());
    let calls = decode_calls(account, &op.data.call_data).unwrap().calls;
    assert_eq!(decode_approve(&calls[0].data_or_empty()), Some((EMULATOR_PAYMASTER, amount)));
    assert_eq!(t.send(op).await.status, CallStatusCode::Confirmed);
    assert!(t.allowance(account).await >= below);
    let op = one_op(t.prepare(threshold).await.unwrap());
    assert_eq!(decode_calls(account, &op.data.call_data).unwrap().calls, vec![t.bump()]);
    assert_eq!(t.send(op).await.status, CallStatusCode::Confirmed);
    assert_eq!(t.read(t.counter, valueCall {}.abi_encode()).await, U256::from(3));
}

#[tokio::test]
async fn the_permit_flow_signs_the_permit_then_pays_before_the_calls() {
    let t = start().await;
    let account = t.env.account();
    let amount = U256::from(10 * UNIT);
    let erc20 =
        serde_json::json!({"preOpSettings": {"autoPermit": {"below": amount, "amount": amount}}});
    let PreparedCalls::PaymasterPermit(p) = t.prepare(erc20).await.unwrap() else {
        panic!("no allowance: a permit comes first")
    };
    let permit = TokenPermit::from_typed_data(&p.data).unwrap();
    assert_eq!(
        (permit.token, permit.owner, permit.spender, permit.value, permit.chain_id),
        (t.token, account, EMULATOR_PAYMASTER, amount, CHAIN)
    );
    assert_eq!(permit.name, "Gas Dollar");
    // What to sign is the permit's digest, and the request comes back with the permit's terms.
    assert_eq!(request_digest(&p.signature_request, None).unwrap(), permit.digest());
    let erc20 = p.modified_request.capabilities.as_ref().unwrap().paymaster_service.as_ref();
    assert_eq!(
        erc20.unwrap().erc20.as_ref().unwrap().pre_op_settings,
        Some(PreOpSettings::PermitDetails {
            permit_details: PermitDetails { deadline: permit.deadline, value: amount }
        })
    );
    let signature = sign_request(&t.env.owner, &p.signature_request, None).await.unwrap();

    // A signature by anyone else is refused.
    let mut forged = p.modified_request.clone();
    forged.paymaster_permit_signature =
        Some(sign_request(&Env::stranger(), &p.signature_request, None).await.unwrap());
    let e = wallet_error(t.env.client.prepare_calls(forged).await);
    assert!(
        matches!(&e, WalletError::InvalidParams(m) if m.contains("paymasterPermitSignature")),
        "{e}"
    );

    let mut again = p.modified_request.clone();
    again.paymaster_permit_signature = Some(signature);
    let op = one_op(t.env.client.prepare_calls(again).await.unwrap());
    let most = op.fee_payment.clone().unwrap().max_amount;
    assert_eq!(decode_calls(account, &op.data.call_data).unwrap().calls, vec![t.bump()]);
    let before = t.balance(account).await;
    let status = t.send(op).await;
    assert_eq!(status.status, CallStatusCode::Confirmed, "{status:?}");
    let charged = before - t.balance(account).await;
    assert!(charged > U256::ZERO && charged <= most, "{charged} of {most}");
    // The permit was applied, and the pull (the op's most) spent from it.
    assert_eq!(t.allowance(account).await, amount - most);
}

#[tokio::test]
async fn what_the_service_refuses_is_refused_with_its_codes() {
    let t = start().await;
    // A missing permit.
    let e = wallet_error(
        t.prepare(serde_json::json!({"preOpSettings": {"permitDetails": {"deadline": "0xffffffffff", "value": "0x1"}}}))
            .await,
    );
    assert!(
        matches!(&e, WalletError::InvalidParams(m) if m.contains("paymasterPermitSignature")),
        "{e}"
    );
    // No allowance and nothing to approve it.
    let e = wallet_error(t.prepare(serde_json::json!({"postOpSettings": {}})).await);
    assert!(matches!(&e, WalletError::PrecheckFailed(m) if m.contains("may take 0")), "{e}");
    // A most above maxTokenAmount.
    let e = wallet_error(
        t.prepare(
            serde_json::json!({"maxTokenAmount": "0x1", "postOpSettings": {"autoApprove": true}}),
        )
        .await,
    );
    assert!(matches!(&e, WalletError::PrecheckFailed(m) if m.contains("maxTokenAmount")), "{e}");
    // A token the operator did not price.
    let mut caps = t.caps(serde_json::json!({"postOpSettings": {"autoApprove": true}}));
    caps.paymaster_service.as_mut().unwrap().erc20.as_mut().unwrap().token_address = t.counter;
    let e =
        wallet_error(t.env.client.prepare_calls(t.env.prepare_params(vec![t.bump()], caps)).await);
    assert!(matches!(&e, WalletError::SponsorshipFailed(m) if m.contains("not accepted")), "{e}");
    // A short balance: the owner gives all its tokens away.
    t.env.fund(Env::stranger().address(), U256::ZERO).await;
    let all = t.balance(t.env.account()).await;
    let give = Call {
        to: t.token,
        data: Some(transferCall { to: Env::stranger().address(), value: all }.abi_encode().into()),
        value: None,
    };
    let op = one_op(
        t.env
            .client
            .prepare_calls(t.env.prepare_params(vec![give], Env::sponsored()))
            .await
            .unwrap(),
    );
    let status = t.send(op).await;
    assert_eq!(status.status, CallStatusCode::Confirmed, "{status:?}");
    let e =
        wallet_error(t.prepare(serde_json::json!({"postOpSettings": {"autoApprove": true}})).await);
    assert!(matches!(&e, WalletError::PrecheckFailed(m) if m.contains("token balance")), "{e}");
}

#[tokio::test]
async fn a_pull_that_fails_after_the_calls_undoes_them_and_the_op_fails() {
    let t = start().await;
    let account = t.env.account();
    // balanceCheck: false lets an op through whose calls spend the tokens its gas needs.
    let all = t.balance(account).await;
    let give = Call {
        to: t.token,
        data: Some(transferCall { to: Env::stranger().address(), value: all }.abi_encode().into()),
        value: None,
    };
    let caps =
        t.caps(serde_json::json!({"postOpSettings": {"autoApprove": true, "balanceCheck": false}}));
    let params = t.env.prepare_params(vec![give, t.bump()], caps);
    let op = one_op(t.env.client.prepare_calls(params).await.unwrap());
    let status = t.send(op).await;
    assert_eq!(status.status, CallStatusCode::ChainRulesFailure, "{status:?}");
    assert_eq!(t.balance(account).await, all, "the transfer was undone");
    assert_eq!(t.read(t.counter, valueCall {}.abi_encode()).await, U256::ZERO);
    assert_eq!(t.allowance(account).await, U256::ZERO, "the approval was undone too");
}
