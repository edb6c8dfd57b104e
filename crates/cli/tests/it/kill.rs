//! `kill -9` of `sesskey serve --data-dir` while clients send calls, then a restart: every
//! acknowledged call is still there, and none was applied twice.

use alloy_primitives::{Address, U64};
use alloy_signer_local::PrivateKeySigner;
use sesskey_rpc::{RetryPolicy, WalletApiClient, WalletClient};
use sesskey_signing::dev::dev_key;
use sesskey_signing::*;
use sesskey_types::*;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";
const CHAIN: u64 = 31337;

fn spawn(dir: &std::path::Path) -> (Child, String) {
    let args: [&std::ffi::OsStr; 6] = [
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--policy-id".as_ref(),
        POLICY.as_ref(),
        "--data-dir".as_ref(),
        dir.as_os_str(),
    ];
    let (child, url, _) = crate::serve(&args);
    (child, url)
}

fn sponsored(from: Address, calls: Vec<Call>) -> PrepareCallsParams {
    PrepareCallsParams {
        calls: Some(calls),
        from,
        chain_id: U64::from(CHAIN),
        capabilities: Some(PrepareCallsCapabilities {
            paymaster_service: Some(PaymasterService {
                policy: PolicySelector::One { policy_id: POLICY.into() },
                only_estimation: None,
                erc20: None,
                webhook_data: None,
            }),
            ..Default::default()
        }),
        paymaster_permit_signature: None,
    }
}

/// Prepares, signs (after the checks) and sends one owner op; delegates first if needed.
async fn owner_op(
    client: &WalletClient,
    owner: &PrivateKeySigner,
) -> std::result::Result<Vec<u8>, sesskey_rpc::Error> {
    let prepared = client
        .prepare_calls(sponsored(
            owner.address(),
            vec![Call { to: Address::repeat_byte(0x42), data: None, value: None }],
        ))
        .await?;
    let calls = match prepared {
        PreparedCalls::UserOperationV070(op) => {
            let signature = sign_user_op_v07(owner, &op, ENTRY_POINT_V07).await.unwrap();
            SignedCalls::UserOperationV070(SignedUserOperationV07 {
                data: op.data,
                chain_id: op.chain_id,
                signature,
            })
        }
        PreparedCalls::Array(array) => {
            let mut data = vec![];
            for e in array.data {
                match e {
                    PreparedElement::Authorization(a) => {
                        let signature = sign_authorization(owner, &a).await.unwrap();
                        data.push(SignedElement::Authorization(SignedAuthorization {
                            data: a.data,
                            chain_id: a.chain_id,
                            signature,
                        }));
                    }
                    PreparedElement::UserOperationV070(op) => {
                        let signature =
                            sign_user_op_v07(owner, &op, ENTRY_POINT_V07).await.unwrap();
                        data.push(SignedElement::UserOperationV070(SignedUserOperationV07 {
                            data: op.data,
                            chain_id: op.chain_id,
                            signature,
                        }));
                    }
                    other => panic!("{other:?}"),
                }
            }
            SignedCalls::Array(SignedArray { data })
        }
        other => panic!("{other:?}"),
    };
    let sent = client
        .send_prepared_calls(SendPreparedCallsParams { calls, capabilities: None, call_id: None })
        .await?;
    Ok(sent.id.to_vec())
}

#[tokio::test]
async fn kill_9_under_load_loses_nothing_acknowledged() {
    let tmp = tempfile::Builder::new().prefix("sesskey-kill-").tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (mut child, url) = spawn(&dir);
    let owners: Vec<PrivateKeySigner> = (0..3).map(dev_key).collect();
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = vec![];
    for owner in owners.clone() {
        let client = WalletClient::builder()
            .url(&url)
            .retry(RetryPolicy::NONE)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = vec![];
            // Bounded: at most 2000 calls per client, or until the server dies.
            for _ in 0..2000 {
                match owner_op(&client, &owner).await {
                    Ok(id) => {
                        ids.push(id);
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => break,
                }
            }
            ids
        }));
    }
    // Kill the server in the middle of the load.
    while acked.load(Ordering::SeqCst) < 60 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut acknowledged: Vec<Vec<Vec<u8>>> = vec![];
    for t in tasks {
        acknowledged.push(t.await.unwrap());
    }

    let (mut child, url) = spawn(&dir);
    let client = WalletClient::new(&url).unwrap();
    for (owner, ids) in owners.iter().zip(&acknowledged) {
        for id in ids {
            let status = client.get_calls_status(CallId(id.clone().into())).await.unwrap();
            assert_eq!(status.status, CallStatusCode::Confirmed);
        }
        // The owner's next nonce: every acknowledged op once, plus at most one committed whose
        // answer the kill cut off. Never more: nothing was applied twice.
        let PreparedCalls::UserOperationV070(op) =
            client.prepare_calls(sponsored(owner.address(), vec![])).await.unwrap()
        else {
            panic!()
        };
        let seq = op.data.nonce.as_limbs()[0] as usize;
        assert!(
            seq == ids.len() || seq == ids.len() + 1,
            "seq {seq} after {} acknowledged",
            ids.len()
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Stops the server with SIGKILL right after an acknowledged call, and starts it again.
fn kill_and_restart(child: &mut Child, dir: &std::path::Path) -> WalletClient {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (next, url) = spawn(dir);
    *child = next;
    WalletClient::builder().url(url).retry(RetryPolicy::NONE).build().unwrap()
}

/// Each kind of mutating call, acknowledged, then `kill -9`: the change is there after restart.
#[tokio::test]
async fn each_kind_of_change_survives_kill_9() {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::Encodable2718;
    use alloy_primitives::{B256, U256};
    use alloy_signer::SignerSync;
    use jsonrpsee::core::client::ClientT;
    use jsonrpsee::rpc_params;
    use sesskey_rpc::EmulatorApiClient;
    let tmp = tempfile::Builder::new().prefix("sesskey-kinds-").tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (mut child, url) = spawn(&dir);
    let mut client = WalletClient::builder().url(url).retry(RetryPolicy::NONE).build().unwrap();
    let owner = dev_key(0);
    let who = Address::repeat_byte(0x77);

    // A user operation (with its delegation).
    owner_op(&client, &owner).await.unwrap();
    client = kill_and_restart(&mut child, &dir);
    let code: alloy_primitives::Bytes =
        client.request("eth_getCode", rpc_params![owner.address(), "latest"]).await.unwrap();
    assert_eq!(code.len(), 23, "the delegation is there");

    // A session, created last.
    let created = client
        .create_session(CreateSessionParams {
            account: owner.address(),
            chain_id: U64::from(CHAIN),
            expiry_sec: None,
            key: SessionKey { public_key: dev_key(1).address(), ty: KeyType::Secp256k1 },
            permissions: vec![Permission::Root],
        })
        .await
        .unwrap();
    client = kill_and_restart(&mut child, &dir);
    let sessions = client.list_sessions().await.unwrap();
    assert!(sessions.iter().any(|s| s.session_id == created.session_id && !s.revoked));

    // Its revocation.
    client.revoke_session(created.session_id).await.unwrap();
    client = kill_and_restart(&mut child, &dir);
    let sessions = client.list_sessions().await.unwrap();
    assert!(sessions.iter().any(|s| s.session_id == created.session_id && s.revoked));

    // The controls: balance, code, storage, nonce, time.
    let _: () = client.request("anvil_setBalance", rpc_params![who, U256::from(5)]).await.unwrap();
    let _: () = client.request("anvil_setCode", rpc_params![who, "0x6001"]).await.unwrap();
    let _: bool = client
        .request("anvil_setStorageAt", rpc_params![who, U256::from(1), B256::repeat_byte(3)])
        .await
        .unwrap();
    let _: () = client.request("anvil_setNonce", rpc_params![who, U64::from(9)]).await.unwrap();
    let now = client.now().await.unwrap();
    client.set_time(now + 1000).await.unwrap();
    client = kill_and_restart(&mut child, &dir);
    let balance: U256 = client.request("eth_getBalance", rpc_params![who, "latest"]).await.unwrap();
    assert_eq!(balance, U256::from(5));
    let code: alloy_primitives::Bytes =
        client.request("eth_getCode", rpc_params![who, "latest"]).await.unwrap();
    assert_eq!(code.to_vec(), vec![0x60, 0x01]);
    let slot: B256 = client
        .request("eth_getStorageAt", rpc_params![who, U256::from(1), "latest"])
        .await
        .unwrap();
    assert_eq!(slot, B256::repeat_byte(3));
    let nonce: U64 =
        client.request("eth_getTransactionCount", rpc_params![who, "latest"]).await.unwrap();
    assert_eq!(nonce, U64::from(9));
    assert!(client.now().await.unwrap() >= now + 1000, "the clock did not go back");

    // A plain transaction, then an empty block.
    let sender = dev_key(3);
    let tx = TxEip1559 {
        chain_id: CHAIN,
        nonce: 0,
        gas_limit: 30_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to: alloy_primitives::TxKind::Call(who),
        value: U256::from(1),
        ..Default::default()
    };
    let sig = sender.sign_hash_sync(&tx.signature_hash()).unwrap();
    let raw = alloy_primitives::Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718());
    let hash: B256 = client.request("eth_sendRawTransaction", rpc_params![raw]).await.unwrap();
    client = kill_and_restart(&mut child, &dir);
    let receipt: serde_json::Value =
        client.request("eth_getTransactionReceipt", rpc_params![hash]).await.unwrap();
    assert_eq!(receipt["status"], "0x1");
    let balance: U256 = client.request("eth_getBalance", rpc_params![who, "latest"]).await.unwrap();
    assert_eq!(balance, U256::from(6));
    let head: U64 = client.request("eth_blockNumber", rpc_params![]).await.unwrap();
    let _: String = client.request("evm_mine", rpc_params![]).await.unwrap();
    client = kill_and_restart(&mut child, &dir);
    let after: U64 = client.request("eth_blockNumber", rpc_params![]).await.unwrap();
    assert_eq!(after, head + U64::from(1));
    child.kill().unwrap();
    child.wait().unwrap();
}
