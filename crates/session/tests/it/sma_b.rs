//! SMA-B accounts (the SDK's default smart-contract account) through the orchestrator: the owner's
//! first op deploys the account, a session granted while it is counterfactual deploys it with its
//! first op, later ops, revocation; a deploying op for another owner's or salt's account is
//! refused before anyone signs.

use crate::flow::{emulator, CHAIN, POLICY};
use crate::tamper::{rehash_op, Edit, Tamper};
use crate::Counting;
use alloy_primitives::{Address, U256, U64};
use sesskey_account::{sma_b_factory_data, MODULAR_ACCOUNT_FACTORY};
use sesskey_rpc::{EthApiClient, WalletApiClient, WalletClient};
use sesskey_session::{Account, Error, Orchestrator, Outcome};
use sesskey_signing::dev::{dev_owner, dev_session_key};
use sesskey_types::*;
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

/// The owner's SMA-B account with `salt`, as the server answers `wallet_requestAccount`.
async fn requested(client: &WalletClient, salt: u64) -> Account {
    let params: RequestAccountParams = serde_json::from_value(serde_json::json!({
        "signerAddress": dev_owner().address(),
        "id": format!("00000000-0000-4000-8000-{salt:012}"),
        "creationHint": {"accountType": "sma-b", "salt": format!("{salt:#x}")},
    }))
    .unwrap();
    let answer = client.request_account(params).await.unwrap();
    let account = Account::SmaB { owner: dev_owner().address(), salt: U256::from(salt) };
    assert_eq!(answer.account_address, account.address(), "the server's address is the SDK's");
    account
}

fn session_request(account: Address, permissions: Vec<Permission>) -> CreateSessionParams {
    CreateSessionParams {
        account,
        chain_id: U64::from(CHAIN),
        expiry_sec: None,
        key: SessionKey { public_key: dev_session_key().address(), ty: KeyType::Secp256k1 },
        permissions,
    }
}

fn confirmed(outcome: Outcome) {
    assert!(matches!(outcome, Outcome::Confirmed(_)), "{outcome:?}");
}

#[tokio::test]
async fn owner_ops_and_a_session_on_sma_b_accounts() {
    let server = emulator().await;
    let client = WalletClient::new(server.url()).unwrap();
    let flow = Orchestrator::new(client.clone(), Some(POLICY.into()));
    let owner = dev_owner();
    let shop = Address::repeat_byte(0x51);
    let pay = Call { to: shop, data: None, value: None };

    // The owner's first op deploys the account.
    let account = requested(&client, 0).await;
    assert!(client.get_code(account.address(), "latest".into()).await.unwrap().is_empty());
    let id = flow.send_as_owner_of(&owner, &account, CHAIN, vec![pay.clone()]).await.unwrap();
    confirmed(flow.wait_for_status(&id, WAIT).await.unwrap());
    assert!(!client.get_code(account.address(), "latest".into()).await.unwrap().is_empty());
    let id = flow.send_as_owner_of(&owner, &account, CHAIN, vec![pay.clone()]).await.unwrap();
    confirmed(flow.wait_for_status(&id, WAIT).await.unwrap());
    // Another key is not the owner: refused before anything is asked.
    let e = flow
        .send_as_owner_of(&dev_session_key(), &account, CHAIN, vec![pay.clone()])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Mismatch { field: "owner", .. }), "{e}");

    // A session on a counterfactual account: its first op deploys it.
    let second = requested(&client, 1).await;
    let perms = vec![Permission::ContractAccess(ContractAccess { address: shop })];
    let session = flow
        .create_session_for(&owner, &second, &session_request(second.address(), perms))
        .await
        .unwrap();
    let key = dev_session_key();
    for _ in 0..2 {
        let sent = flow
            .send_calls(&session, &key, vec![pay.clone()], &Default::default(), 1_800_000_000)
            .await
            .unwrap();
        confirmed(flow.wait_for_status(&sent.call_id, WAIT).await.unwrap());
    }
    assert!(!client.get_code(second.address(), "latest".into()).await.unwrap().is_empty());

    // Revoked by its owner: the account refuses the key from then on.
    confirmed(flow.revoke_session_of(&owner, &second, &session, WAIT).await.unwrap());
    let refused =
        flow.send_calls(&session, &key, vec![pay], &Default::default(), 1_800_000_000).await;
    assert!(refused.is_err());
    // A session's owner signature checked against the account's owner, not its address.
    let pending = flow
        .request_session(&session_request(second.address(), vec![Permission::Root]))
        .await
        .unwrap();
    let sig =
        sesskey_signing::sign_request(&owner, &pending.signature_request(), None).await.unwrap();
    assert!(pending.clone().complete(&sig.data).is_err(), "not a 7702 account");
    assert!(pending.complete_for(&sig.data, &second).is_ok());
}

#[tokio::test]
async fn a_deploying_op_for_another_account_is_refused_before_signing() {
    let server = emulator().await;
    let client = WalletClient::new(server.url()).unwrap();
    let account = requested(&client, 0).await;
    let stranger = Address::repeat_byte(0x77);
    let cases: Vec<(&str, &str, Edit)> = vec![
        (
            "another owner's factory call",
            "data.factoryData",
            Arc::new(move |_, v| {
                rehash_op(v, |op| op.factory_data = Some(sma_b_factory_data(stranger, U256::ZERO)))
            }),
        ),
        (
            "another salt's factory call",
            "data.factoryData",
            Arc::new(|_, v| {
                rehash_op(v, |op| {
                    op.factory_data = Some(sma_b_factory_data(dev_owner().address(), U256::from(5)))
                })
            }),
        ),
        (
            "another factory",
            "data.factory",
            Arc::new(|_, v| rehash_op(v, |op| op.factory = Some(Address::repeat_byte(0x66)))),
        ),
    ];
    for (name, field, edit) in cases {
        let edit: Edit = Arc::new(move |m, v| {
            if m == "wallet_prepareCalls" {
                edit(m, v)
            }
        });
        let flow = Orchestrator::new(
            Tamper { inner: WalletClient::new(server.url()).unwrap(), edit },
            Some(POLICY.into()),
        );
        let owner = Counting::new(dev_owner());
        let call = Call { to: Address::repeat_byte(0x51), data: None, value: None };
        let e = flow.send_as_owner_of(&owner, &account, CHAIN, vec![call]).await.unwrap_err();
        assert!(matches!(&e, Error::Mismatch { field: f, .. } if *f == field), "{name}: {e}");
        assert_eq!(owner.signed(), 0, "{name}: the owner signed");
    }
    // Untampered, the op names exactly this deployment.
    let flow = Orchestrator::new(client, Some(POLICY.into()));
    let (factory, data) = account.deployment().unwrap();
    assert_eq!(factory, MODULAR_ACCOUNT_FACTORY);
    assert_eq!(data, sma_b_factory_data(dev_owner().address(), U256::ZERO));
    let call = Call { to: Address::repeat_byte(0x51), data: None, value: None };
    let id = flow.send_as_owner_of(&dev_owner(), &account, CHAIN, vec![call]).await.unwrap();
    confirmed(flow.wait_for_status(&id, WAIT).await.unwrap());
}
