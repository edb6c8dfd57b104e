//! `sesskey demo`: the seed document's flow, end to end, every step printed.

use alloy_primitives::{Address, U64};
use alloy_signer_local::PrivateKeySigner;
use anyhow::{anyhow, bail, Context};
use clap::Args;
use sesskey_emulator::{serve, Config, Emulator};
use sesskey_rpc::{WalletApiClient, WalletClient};
use sesskey_session::{Orchestrator, Outcome};
use sesskey_types::*;
use std::time::Duration;

/// Flags of `sesskey demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Run against this Wallet API endpoint instead of an in-process emulator (keys then come
    /// from `OWNER_PRIVATE_KEY` and `SESSION_PRIVATE_KEY`, chain and policy from `CHAIN_ID` and
    /// `POLICY_ID`).
    #[arg(long)]
    pub rpc_url: Option<String>,
    /// How long to wait for each call's final status, in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
    /// Print one JSON summary instead of the steps.
    #[arg(long)]
    pub json: bool,
    /// What the owner and the session key accept to sign.
    #[command(flatten)]
    pub signing: crate::sessions::SigningArgs,
}

/// The environment the commands read: the seed document's variable names, `SESSKEY_PASSWORD`
/// (keystore password), `SESSKEY_HOME` and `HOME` (where sessions are kept).
#[derive(Clone, Default)]
pub struct Env {
    vars: std::collections::HashMap<String, String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print values: they hold keys.
        f.debug_struct("Env").field("vars", &self.vars.keys().collect::<Vec<_>>()).finish()
    }
}

impl Env {
    /// `ALCHEMY_API_KEY`, `CHAIN_ID`, `POLICY_ID`, `OWNER_PRIVATE_KEY` and `SESSION_PRIVATE_KEY`
    /// from the process environment.
    pub fn from_process() -> Self {
        let names = [
            "ALCHEMY_API_KEY",
            "CHAIN_ID",
            "POLICY_ID",
            "OWNER_PRIVATE_KEY",
            "SESSION_PRIVATE_KEY",
            "SESSKEY_PASSWORD",
            "SESSKEY_OWNER_PASSWORD",
            "SESSKEY_HOME",
            "SESSKEY_DATABASE_URL",
            "HOME",
        ];
        let vars = names
            .iter()
            .filter_map(|n| {
                std::env::var(n).ok().filter(|v| !v.is_empty()).map(|v| (n.to_string(), v))
            })
            .collect();
        Self { vars }
    }

    /// An environment from explicit pairs (for tests and embedding).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect() }
    }

    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    pub(crate) fn key(&self, name: &str) -> anyhow::Result<PrivateKeySigner> {
        let value = self
            .get(name)
            .ok_or_else(|| anyhow!("set {name} (keys are never taken from flags)"))?;
        value.trim().parse().map_err(|_| anyhow!("{name} is not a private key"))
    }
}

fn parse_chain(s: &str) -> anyhow::Result<u64> {
    crate::serve::parse_chain_id(s).map_err(|e| anyhow!("CHAIN_ID: {e}"))
}

/// Runs the demo; answers whether the session's call was confirmed.
pub(crate) async fn demo(args: DemoArgs, env: Env) -> anyhow::Result<bool> {
    let quiet = args.json;
    macro_rules! say {
        ($($t:tt)*) => {
            if !quiet {
                outln!($($t)*)?;
            }
        };
    }
    let timeout = Duration::from_secs(args.timeout_secs);
    let alchemy_key = env.get("ALCHEMY_API_KEY");
    let (client, chain, policy, owner, key, _server) = if args.rpc_url.is_some()
        || alchemy_key.is_some()
    {
        let client = match (&args.rpc_url, &alchemy_key) {
            (Some(url), _) => WalletClient::new(url)?,
            (None, Some(k)) => WalletClient::alchemy(k)?,
            (None, None) => unreachable!(),
        };
        let missing: Vec<&str> = ["CHAIN_ID", "OWNER_PRIVATE_KEY", "SESSION_PRIVATE_KEY"]
            .into_iter()
            .filter(|name| env.get(name).is_none())
            .collect();
        if !missing.is_empty() {
            bail!(
                "set {} (the demo against a real endpoint reads them from the environment; POLICY_ID too for sponsored gas)",
                missing.join(", ")
            );
        }
        let chain = parse_chain(&env.get("CHAIN_ID").context("set CHAIN_ID")?)?;
        let policy = env.get("POLICY_ID");
        say!("Endpoint: {}", client.url());
        (
            client,
            chain,
            policy,
            env.key("OWNER_PRIVATE_KEY")?,
            env.key("SESSION_PRIVATE_KEY")?,
            None,
        )
    } else {
        let policy =
            sesskey_emulator::uuid_v4(&alloy_primitives::keccak256(b"sesskey demo policy")[..16]);
        let config = Config {
            chain_ids: vec![31337],
            policy_ids: vec![policy.clone()],
            ..Config::default()
        };
        let server = serve(Emulator::new(config), "127.0.0.1:0".parse()?).await?;
        say!("Started the Wallet API emulator in this process at {}", server.url());
        say!("Using anvil's development accounts 0 (owner) and 1 (session key): public test keys, never for real funds.");
        let client = WalletClient::new(server.url())?;
        let mut keys = crate::serve::dev_accounts(crate::serve::ANVIL_MNEMONIC, 2)?.into_iter();
        let (owner, key) = (keys.next().context("account 0")?, keys.next().context("account 1")?);
        (client, 31337, Some(policy), owner, key, Some(server))
    };
    say!(
        "Chain {chain} ({chain:#x}), paymaster policy {}",
        policy.as_deref().unwrap_or("none (gas paid by the account)")
    );
    say!("Owner {}, session key {}", owner.address(), key.address());
    say!();

    let account = client
        .request_account(RequestAccountParams::BySigner {
            signer_address: owner.address(),
            id: None,
            creation_hint: Some(CreationHint {
                account_type: Some("7702".into()),
                ..Default::default()
            }),
            include_counterfactual_info: None,
        })
        .await
        .map_err(sesskey_rpc::Error::from)?;
    say!(
        "1. wallet_requestAccount: account {} (EIP-7702: the owner's address), id {}",
        account.account_address,
        account.id
    );
    if account.account_address != owner.address() {
        bail!("the server offers a smart account at another address; this demo runs the EIP-7702 flow");
    }
    let flow = args.signing.apply(Orchestrator::new(client, policy))?;

    match flow.ensure_delegated(&owner, chain, timeout).await? {
        None => say!("2. Delegation: the account is already delegated"),
        Some(outcome) => {
            let s = outcome.status();
            say!("2. Delegation: wallet_prepareCalls answered an authorization and an op; the owner signed both after checking them (the authorization's delegate, chain and nonce as the chain reports it; the op's calls, fees, paymaster and digests)");
            say!("   wallet_sendPreparedCalls → call {}, status {}", s.id, s.status);
            if !matches!(outcome, Outcome::Confirmed(_)) {
                bail!("the delegation did not confirm (status {})", s.status);
            }
        }
    }

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let request = CreateSessionParams {
        account: owner.address(),
        chain_id: U64::from(chain),
        expiry_sec: Some(now + 3600),
        key: SessionKey { public_key: key.address(), ty: KeyType::Secp256k1 },
        permissions: vec![Permission::Root],
    };
    let session = flow.create_session(&owner, &request).await?;
    say!(
        "3. wallet_createSession → session {}, entity {}, expires at {}",
        session.session_id,
        session.entity_id,
        session.expiry
    );
    say!("   The DeferredAction was checked (domain, deadline, nonce, installed key and permissions, digest) before the owner signed it");

    let calls = vec![Call { to: Address::ZERO, data: None, value: None }];
    let sent = flow.send_calls(&session, &key, calls, &Default::default(), now).await?;
    say!("4. wallet_prepareCalls with the session; the op was checked (sender, chain, nonce, calls, paymaster, hash)");
    say!("5. The session key signed user operation {}", sent.user_op_hash);
    say!("6. wallet_sendPreparedCalls → call {}", sent.call_id.0);
    let outcome = flow.wait_for_status(&sent.call_id, timeout).await?;
    let status = outcome.status();
    say!("   wallet_getCallsStatus → status {} ({:?})", status.status, status.status.kind());
    if let Some(r) = status.receipts.as_ref().and_then(|r| r.first()) {
        say!("   included in block {} by transaction {}", r.block_number, r.transaction_hash);
    }
    if quiet {
        let summary = serde_json::json!({
            "account": owner.address().to_checksum(None),
            "chainId": format!("{chain:#x}"),
            "sessionId": session.session_id,
            "sessionKey": key.address().to_checksum(None),
            "callId": sent.call_id,
            "userOpHash": sent.user_op_hash,
            "status": status.status,
        });
        outln!("{summary}")?;
    }
    Ok(matches!(outcome, Outcome::Confirmed(_)))
}
