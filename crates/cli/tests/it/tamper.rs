//! The `sesskey` binary against a hostile Wallet API server: a proxy in front of an emulator that
//! changes one field of an answer and recomputes its digests, so only a semantic check can catch
//! it. Each command refuses before signing, naming the field, and nothing reaches
//! `wallet_sendPreparedCalls`; the same commands through the untampered proxy succeed.

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::core::ClientError;
use jsonrpsee::server::{RpcModule, Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::value::RawValue;
use serde_json::Value;
use sesskey_types::{PreparedAuthorization, UserOperationV07};
use std::sync::{Arc, Mutex};

const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";
const CHAIN: &str = "31337";

type Edit = Box<dyn Fn(&mut Value) + Send + Sync>;

/// What the proxy does: which method's answer it edits, and every method it was asked.
#[derive(Default)]
struct Hostile {
    edit: Mutex<Option<(&'static str, Edit)>>,
    seen: Mutex<Vec<String>>,
}

impl Hostile {
    fn tamper(&self, method: &'static str, edit: impl Fn(&mut Value) + Send + Sync + 'static) {
        *self.edit.lock().unwrap() = Some((method, Box::new(edit)));
        self.seen.lock().unwrap().clear();
    }

    fn honest(&self) {
        *self.edit.lock().unwrap() = None;
        self.seen.lock().unwrap().clear();
    }

    fn sent(&self) -> bool {
        self.seen.lock().unwrap().iter().any(|m| m == "wallet_sendPreparedCalls")
    }
}

/// Params forwarded as they came.
struct Raw(Option<Box<RawValue>>);

impl ToRpcParams for Raw {
    fn to_rpc_params(self) -> Result<Option<Box<RawValue>>, serde_json::Error> {
        Ok(self.0)
    }
}

const METHODS: &[&str] = &[
    "wallet_requestAccount",
    "wallet_createSession",
    "wallet_prepareCalls",
    "wallet_sendPreparedCalls",
    "wallet_getCallsStatus",
    "eth_chainId",
    "eth_getCode",
    "eth_getTransactionCount",
];

async fn proxy(upstream: String, hostile: Arc<Hostile>) -> (String, ServerHandle) {
    let client = sesskey_rpc::WalletClient::new(&upstream).unwrap();
    let mut module = RpcModule::new((client, hostile));
    for &method in METHODS {
        module
            .register_async_method(method, move |params, ctx, _| async move {
                let (client, hostile) = &*ctx;
                hostile.seen.lock().unwrap().push(method.to_string());
                let raw = params.as_str().map(|p| RawValue::from_string(p.to_string()).unwrap());
                let mut answer: Value = match client.request(method, Raw(raw)).await {
                    Ok(v) => v,
                    Err(ClientError::Call(e)) => return Err(e),
                    Err(e) => {
                        return Err(ErrorObjectOwned::owned(-32603, e.to_string(), None::<()>))
                    }
                };
                if let Some((m, edit)) = &*hostile.edit.lock().unwrap() {
                    if *m == method {
                        edit(&mut answer);
                    }
                }
                // An edit that leaves `{"__fail": message}` makes the answer an error.
                if let Some(message) = answer.get("__fail").and_then(Value::as_str) {
                    return Err(ErrorObjectOwned::owned(-32521, message.to_string(), None::<()>));
                }
                Ok::<_, ErrorObjectOwned>(answer)
            })
            .unwrap();
    }
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    (url, server.start(module))
}

/// Runs `sesskey args…` with `env`; answers (exit code, stderr).
async fn sesskey(args: Vec<String>, env: Vec<(&'static str, String)>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sesskey"))
            .args(&args)
            .env_clear()
            .envs(env)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn rehash_authorization(v: &mut Value) {
    let a: PreparedAuthorization = serde_json::from_value(v.clone()).unwrap();
    let digest = sesskey_signing::eip7702_digest(&sesskey_signing::AuthorizationTuple::from_wire(
        &a.data, a.chain_id,
    ));
    v["signatureRequest"]["rawPayload"] = Value::from(digest.to_string());
}

fn rehash_op(v: &mut Value, edit: impl FnOnce(&mut UserOperationV07)) {
    let mut op: UserOperationV07 = serde_json::from_value(v["data"].clone()).unwrap();
    edit(&mut op);
    let hash = sesskey_signing::user_op_v07_hash(&op, sesskey_signing::ENTRY_POINT_V07, 31337);
    v["data"] = serde_json::to_value(&op).unwrap();
    v["signatureRequest"]["data"]["raw"] = Value::from(hash.to_string());
    v["signatureRequest"]["rawPayload"] =
        Value::from(sesskey_signing::eip191_digest(hash.as_slice()).to_string());
}

struct World {
    hostile: Arc<Hostile>,
    url: String,
    env: Vec<(&'static str, String)>,
    store: tempfile::TempDir,
    _servers: (sesskey_emulator::Running, ServerHandle),
}

impl World {
    async fn new() -> Self {
        use sesskey_emulator::{serve, Config, Emulator};
        let config = Config { policy_ids: vec![POLICY.into()], ..Config::default() };
        let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let hostile = Arc::new(Hostile::default());
        let (url, handle) = proxy(server.url(), hostile.clone()).await;
        let owner = alloy_signer_local::PrivateKeySigner::random();
        let env = vec![
            ("OWNER_PRIVATE_KEY", alloy_primitives::hex::encode_prefixed(owner.to_bytes())),
            ("SESSKEY_PASSWORD", "correct horse".to_string()),
        ];
        Self { hostile, url, env, store: tempfile::tempdir().unwrap(), _servers: (server, handle) }
    }

    /// `sesskey args…` (with `--store` for the commands that keep sessions).
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if matches!(args.first(), Some(&"session") | Some(&"send")) {
            all.extend(["--store".to_string(), self.store.path().display().to_string()]);
        }
        sesskey(all, self.env.clone()).await
    }

    /// `--rpc-url <proxy> --policy-id …`.
    fn endpoint(&self) -> [&str; 4] {
        ["--rpc-url", &self.url, "--policy-id", POLICY]
    }

    /// A command refused before anything is signed, naming `field`.
    async fn refused(&self, name: &str, args: &[&str], field: &str) {
        let (code, out, err) = self.run(args).await;
        assert_ne!(code, 0, "{name}: exit 0\n{out}{err}");
        assert!(err.contains(field), "{name}: the error does not name `{field}`: {err}");
        assert!(err.contains("refusing"), "{name}: {err}");
        assert!(!self.hostile.sent(), "{name}: something signed reached sendPreparedCalls");
    }

    async fn session(&self) -> String {
        self.hostile.honest();
        let shop = format!("0x{}", "51".repeat(20));
        let args = [
            &["session", "create", "--chain-id", CHAIN][..],
            &self.endpoint()[..],
            &["--contract", &shop, "--json"],
        ]
        .concat();
        let (code, out, err) = self.run(&args).await;
        assert_eq!(code, 0, "{out}{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        v["session"]["sessionId"].as_str().unwrap().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_refuse_a_hostile_server_before_signing() {
    let w = World::new().await;

    // `delegate`: one authorization, with the chain's nonce, or nothing is signed.
    let delegate = [&["delegate", "--chain-id", CHAIN][..], &w.endpoint()[..]].concat();
    w.hostile.tamper("wallet_prepareCalls", |v| {
        v["data"][0]["data"]["nonce"] = Value::from("0x5");
        rehash_authorization(&mut v["data"][0]);
    });
    w.refused("nonce 5", &delegate, "authorization data.nonce").await;
    w.hostile.tamper("wallet_prepareCalls", |v| {
        let list = v["data"].as_array_mut().unwrap();
        let mut second = list[0].clone();
        second["data"]["nonce"] = Value::from("0x1");
        rehash_authorization(&mut second);
        list.insert(1, second);
    });
    w.refused("two authorizations", &delegate, "`type`").await;
    w.hostile.honest();
    let (code, out, err) = w.run(&delegate).await;
    assert_eq!(code, 0, "the untampered delegation: {out}{err}");
    assert!(w.hostile.sent());

    // `send`: the paymaster is pinned; a 7702 account has no factory; fees are capped.
    let id = w.session().await;
    let target = format!("0x{}", "51".repeat(20));
    let send =
        [&["send", "--session", &id, &target, "--data", "0x09090909"][..], &w.endpoint()[..]]
            .concat();
    w.hostile.tamper("wallet_prepareCalls", |v| {
        rehash_op(v, |op| op.paymaster = Some(alloy_primitives::Address::repeat_byte(0x42)))
    });
    w.refused("the attacker's paymaster", &send, "data.paymaster").await;
    w.hostile.tamper("wallet_prepareCalls", |v| {
        rehash_op(v, |op| {
            op.factory = Some(alloy_primitives::Address::repeat_byte(0x66));
            op.factory_data = Some(vec![1].into());
        })
    });
    w.refused("a factory", &send, "data.factory").await;
    w.hostile.tamper("wallet_prepareCalls", |v| {
        rehash_op(v, |op| op.max_fee_per_gas = alloy_primitives::U128::from(3_000_000_000u64))
    });
    let capped = [&send[..], &["--max-fee", "2gwei"]].concat();
    w.refused("a fee over --max-fee", &capped, "data.maxFeePerGas").await;
    w.hostile.honest();
    let (code, out, err) = w.run(&send).await;
    assert_eq!(code, 0, "the untampered send: {out}{err}");

    // A server's message that would act on the terminal (OSC 52 clipboard write, a window title,
    // a right-to-left override) reaches it escaped.
    w.hostile.tamper("wallet_prepareCalls", |v| {
        *v = serde_json::json!({"__fail": "execution reverted: \u{1b}]52;c;ZXZpbA==\u{7}\u{1b}]0;pwned\u{7} pay \u{202e}0001"})
    });
    let (code, _, err) = w.run(&send).await;
    assert_ne!(code, 0);
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{7}') && !err.contains('\u{202e}'),
        "{err:?}"
    );
    assert!(err.contains("\\u001b]52;c;") && err.contains("\\u202e0001"), "{err}");

    // `session revoke`: no authorization in an owner op's answer.
    let revoke = [&["session", "revoke", &id][..], &w.endpoint()[..]].concat();
    w.hostile.tamper("wallet_prepareCalls", |v| {
        let mut auth = serde_json::json!({
            "type": "authorization",
            "data": {"address": sesskey_types::MODULAR_ACCOUNT_V2_7702.to_string(), "nonce": "0x64"},
            "chainId": "0x7a69",
            "signatureRequest": {"type": "eip7702Auth", "rawPayload": format!("0x{}", "00".repeat(32))},
        });
        rehash_authorization(&mut auth);
        let mut op = v.clone();
        op["type"] = Value::from("user-operation-v070");
        *v = serde_json::json!({"type": "array", "data": [auth, op]});
    });
    w.refused("revoke with an authorization", &revoke, "authorization").await;

    // `session create`: an id already stored is refused; the stored session and its key stay.
    let keystore = w.store.path().join(format!("{id}.keystore"));
    let key_before = std::fs::read(&keystore).unwrap();
    let show = ["session", "show", &id, "--json"];
    let (_, shown_before, _) = w.run(&show).await;
    let existing = id.clone();
    w.hostile
        .tamper("wallet_createSession", move |v| v["sessionId"] = Value::from(existing.clone()));
    let create =
        [&["session", "create", "--chain-id", CHAIN, "--root"][..], &w.endpoint()[..]].concat();
    let (code, out, err) = w.run(&create).await;
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&keystore).unwrap(), key_before, "the key file was overwritten");
    let (_, shown_after, _) = w.run(&show).await;
    assert_eq!(shown_after, shown_before, "the stored session changed");

    // And the untampered revoke goes through.
    w.hostile.honest();
    let (code, out, err) = w.run(&revoke).await;
    assert_eq!(code, 0, "the untampered revoke: {out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sma_b_account_from_its_request_to_a_revoked_session() {
    let w = World::new().await;
    let request =
        [&["account", "request", "--salt", "1", "--json"][..], &w.endpoint()[..2]].concat();
    let (code, out, err) = w.run(&request).await;
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let owner: alloy_primitives::Address = v["owner"].as_str().unwrap().parse().unwrap();
    let account = sesskey_account::sma_b_address(owner, alloy_primitives::U256::from(1));
    assert_eq!(
        v["account"].as_str().unwrap().parse::<alloy_primitives::Address>().unwrap(),
        account
    );
    assert_eq!(v["counterfactualInfo"]["factoryType"], "MAv2.0.0-sma-b");

    // A session granted while the account is counterfactual; its first send deploys it.
    let shop = format!("0x{}", "51".repeat(20));
    let create =
        [
            &[
                "session",
                "create",
                "--chain-id",
                CHAIN,
                "--salt",
                "1",
                "--contract",
                &shop,
                "--json",
            ][..],
            &w.endpoint()[..],
        ]
        .concat();
    let (code, out, err) = w.run(&create).await;
    assert_eq!(code, 0, "{out}{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        s["session"]["account"].as_str().unwrap().parse::<alloy_primitives::Address>().unwrap(),
        account
    );
    let id = s["session"]["sessionId"].as_str().unwrap().to_string();
    let send = [&["send", "--session", &id, &shop][..], &w.endpoint()[..]].concat();
    // A deploying op that would deploy another account is refused before the key signs.
    w.hostile.tamper("wallet_prepareCalls", move |v| {
        rehash_op(v, |op| {
            op.factory_data =
                Some(sesskey_account::sma_b_factory_data(owner, alloy_primitives::U256::from(2)))
        })
    });
    w.refused("another salt's deployment", &send, "data.factoryData").await;
    w.hostile.honest();
    let (code, out, err) = w.run(&send).await;
    assert_eq!(code, 0, "{out}{err}");

    // Revoked by the owner of the SMA-B account.
    let revoke = [&["session", "revoke", &id, "--salt", "1"][..], &w.endpoint()[..]].concat();
    let (code, out, err) = w.run(&revoke).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, _) = w.run(&send).await;
    assert_ne!(code, 0, "a revoked session cannot send");
}
