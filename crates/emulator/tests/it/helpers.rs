//! A running emulator, dev keys, and the client-side steps of the flow (signing only after the
//! checks of `sesskey-signing`).

use alloy_primitives::{Address, U256, U64};
use alloy_signer_local::PrivateKeySigner;
use sesskey_emulator::{serve, Config, Emulator, Running};
use sesskey_rpc::{EmulatorApiClient, WalletApiClient, WalletClient};
use sesskey_signing::dev::{dev_key, dev_owner, dev_session_key};
use sesskey_signing::*;
use sesskey_types::*;

pub(crate) const CHAIN: u64 = 31337;
pub(crate) const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";
pub(crate) const START: u64 = 1_800_000_000;

/// The key that deploys test contracts with plain transactions.
pub(crate) fn deployer() -> PrivateKeySigner {
    dev_key(3)
}

/// A compiled contract of `fixtures/contracts/` (see `cargo xtask contracts`).
pub(crate) fn contract_bytecode(name: &str) -> alloy_primitives::Bytes {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../fixtures/contracts/{name}.json"));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["bytecode"].as_str().unwrap().parse().unwrap()
}

pub(crate) struct Env {
    pub(crate) server: Running,
    pub(crate) client: WalletClient,
    pub(crate) owner: PrivateKeySigner,
    pub(crate) session_key: PrivateKeySigner,
}

impl Env {
    pub(crate) fn config() -> Config {
        Config {
            chain_ids: vec![CHAIN, 0x66eee],
            policy_ids: vec![POLICY.into()],
            settle_after_ms: 0,
            deterministic_start: Some(START),
            cors: false,
            genesis: vec![(deployer().address(), U256::from(10u128.pow(21)))],
            ..Default::default()
        }
    }

    /// An alloy provider on the chain's `eth_*`, sending as the deployer (anvil's flow: fill the
    /// nonce, gas and fees, sign, `eth_sendRawTransaction`, wait for the receipt).
    pub(crate) fn provider(&self) -> impl alloy_provider::Provider {
        let wallet = alloy_network::EthereumWallet::from(deployer());
        alloy_provider::ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(self.server.url().parse().unwrap())
    }

    /// Deploys a contract of `fixtures/contracts/` with ABI-encoded constructor `args`.
    pub(crate) async fn deploy(&self, name: &str, args: &[u8]) -> Address {
        use alloy_network::TransactionBuilder;
        use alloy_provider::Provider;
        let code = [&contract_bytecode(name)[..], args].concat();
        let tx = alloy_rpc_types_eth::TransactionRequest::default().with_deploy_code(code);
        let receipt =
            self.provider().send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status(), "the deployment of {name} succeeds");
        receipt.contract_address.expect("a contract address")
    }

    pub(crate) async fn start() -> Self {
        Self::with(Emulator::new(Self::config())).await
    }

    pub(crate) async fn with(emulator: Emulator) -> Self {
        let server = serve(emulator, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let client = WalletClient::builder()
            .url(server.url())
            .retry(sesskey_rpc::RetryPolicy::NONE)
            .build()
            .unwrap();
        Self { server, client, owner: dev_owner(), session_key: dev_session_key() }
    }

    pub(crate) fn account(&self) -> Address {
        self.owner.address()
    }

    pub(crate) fn sponsored() -> PrepareCallsCapabilities {
        PrepareCallsCapabilities {
            paymaster_service: Some(PaymasterService {
                policy: PolicySelector::One { policy_id: POLICY.into() },
                only_estimation: None,
                erc20: None,
                webhook_data: None,
            }),
            ..Default::default()
        }
    }

    pub(crate) fn prepare_params(
        &self,
        calls: Vec<Call>,
        caps: PrepareCallsCapabilities,
    ) -> PrepareCallsParams {
        PrepareCallsParams {
            calls: Some(calls),
            from: self.account(),
            chain_id: U64::from(CHAIN),
            capabilities: Some(caps),
            paymaster_permit_signature: None,
        }
    }

    /// Delegates the owner's EOA, settling at once whatever the delay.
    pub(crate) async fn delegate_pending(&self) {
        self.delegate_inner(true).await;
    }

    /// Delegates the owner's EOA: the `array` answer, both signatures, send, confirmed.
    pub(crate) async fn delegate(&self) {
        self.delegate_inner(false).await;
    }

    /// Delegates the owner's EOA and answers the delegation's final status.
    pub(crate) async fn delegate_with_status(&self) -> CallsStatus {
        self.delegate_inner(false).await
    }

    async fn delegate_inner(&self, settle: bool) -> CallsStatus {
        let prepared = self
            .client
            .prepare_calls(self.prepare_params(vec![Call::default()], Self::sponsored()))
            .await
            .unwrap();
        let PreparedCalls::Array(array) = prepared else {
            panic!("an undelegated account gets an array")
        };
        let mut signed = vec![];
        for e in array.data {
            match e {
                PreparedElement::Authorization(a) => {
                    let signature = sign_authorization(&self.owner, &a).await.unwrap();
                    signed.push(SignedElement::Authorization(SignedAuthorization {
                        data: a.data,
                        chain_id: a.chain_id,
                        signature,
                    }));
                }
                PreparedElement::UserOperationV070(op) => {
                    let signature =
                        sign_user_op_v07(&self.owner, &op, ENTRY_POINT_V07).await.unwrap();
                    signed.push(SignedElement::UserOperationV070(SignedUserOperationV07 {
                        data: op.data,
                        chain_id: op.chain_id,
                        signature,
                    }));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let sent = self
            .client
            .send_prepared_calls(SendPreparedCallsParams {
                calls: SignedCalls::Array(SignedArray { data: signed }),
                capabilities: None,
                call_id: None,
            })
            .await
            .unwrap();
        if settle {
            sesskey_rpc::EmulatorApiClient::settle(&self.client).await.unwrap();
        }
        let status = self.client.get_calls_status(CallId(sent.id)).await.unwrap();
        assert_eq!(status.status, CallStatusCode::Confirmed);
        status
    }

    /// Creates a session and has the owner sign its `DeferredAction` (after the check).
    pub(crate) async fn session(
        &self,
        permissions: Vec<Permission>,
        expiry: Option<u64>,
    ) -> SessionRef {
        let params = CreateSessionParams {
            account: self.account(),
            chain_id: U64::from(CHAIN),
            expiry_sec: expiry,
            key: SessionKey { public_key: self.session_key.address(), ty: KeyType::Secp256k1 },
            permissions,
        };
        let created = self.client.create_session(params).await.unwrap();
        let signature = sign_request(&self.owner, &created.signature_request, None).await.unwrap();
        let SignatureData::Hex(bytes) = signature.data else { panic!() };
        SessionRef {
            session_id: created.session_id,
            signature: alloy_primitives::FixedBytes::from_slice(&bytes),
        }
    }

    /// Prepares, signs with `signer` and sends `calls` through `session`.
    pub(crate) async fn send_with(
        &self,
        signer: &PrivateKeySigner,
        session: &PermissionsCapability,
        calls: Vec<Call>,
    ) -> std::result::Result<SendPreparedCallsResult, sesskey_rpc::Error> {
        let caps =
            PrepareCallsCapabilities { permissions: Some(session.clone()), ..Self::sponsored() };
        let prepared = self.client.prepare_calls(self.prepare_params(calls, caps)).await?;
        let PreparedCalls::UserOperationV070(op) = prepared else {
            panic!("a delegated account gets one op")
        };
        Ok(self.client.send_prepared_calls(signed(signer, op, Some(session.clone())).await).await?)
    }

    pub(crate) async fn fund(&self, who: Address, wei: U256) {
        self.client.set_balance(U64::from(CHAIN), who, wei).await.unwrap();
    }

    pub(crate) fn stranger() -> PrivateKeySigner {
        dev_key(4)
    }
}

/// The wallet error of a failed call.
pub(crate) fn wallet_error<T: std::fmt::Debug>(
    r: std::result::Result<T, impl Into<sesskey_rpc::Error>>,
) -> sesskey_rpc::WalletError {
    let e: sesskey_rpc::Error =
        r.map(|v| panic!("expected an error, got {v:?}")).unwrap_err().into();
    e.wallet_error().cloned().unwrap_or_else(|| panic!("not a wallet error: {e}"))
}

/// A prepared op signed by `signer` (after the checks), as send params with the session `cap`
/// (none for an owner op).
pub(crate) async fn signed(
    signer: &PrivateKeySigner,
    op: PreparedUserOperationV07,
    cap: Option<PermissionsCapability>,
) -> SendPreparedCallsParams {
    let signature = sign_user_op_v07(signer, &op, ENTRY_POINT_V07).await.unwrap();
    SendPreparedCallsParams {
        calls: SignedCalls::UserOperationV070(SignedUserOperationV07 {
            data: op.data,
            chain_id: op.chain_id,
            signature,
        }),
        capabilities: cap.map(|c| SendPreparedCallsCapabilities {
            permissions: Some(c),
            paymaster_service: None,
        }),
        call_id: None,
    }
}
