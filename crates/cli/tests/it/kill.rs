//! `kill -9` of `sesskey serve --data-dir` while clients send calls, then a restart: every
//! acknowledged call is still there, and none was applied twice.

use alloy_primitives::{Address, U64};
use alloy_signer_local::PrivateKeySigner;
use sesskey_rpc::{RetryPolicy, WalletApiClient, WalletClient};
use sesskey_signing::dev::dev_key;
use sesskey_signing::*;
use sesskey_types::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";
const CHAIN: u64 = 31337;

fn spawn(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesskey"))
        .args(["serve", "--addr", "127.0.0.1:0", "--policy-id", POLICY, "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("the server prints its URL").unwrap();
        if let Some(rest) = line.strip_prefix("Listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
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
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("sesskey-kill-{}-{nanos}", std::process::id()));
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
    let _ = std::fs::remove_dir_all(&dir);
}
