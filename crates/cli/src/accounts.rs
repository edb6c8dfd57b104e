//! `sesskey account request`: the account the Wallet API gives a signer, an SMA-B smart-contract
//! account (the SDK's default) or the signer's own EIP-7702 account, checked against the
//! address sesskey computes before it is printed.

use crate::sessions::{endpoint, owner_key, OwnerArgs};
use crate::Env;
use alloy_primitives::{Address, U256};
use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use sesskey_rpc::WalletApiClient;
use sesskey_session::Account;
use sesskey_types::{CreationHint, RequestAccountParams};

/// `sesskey account …`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Ask the Wallet API for the owner's account (`wallet_requestAccount`): an SMA-B account
    /// with `--salt` (default 0), or with `--type 7702` the owner's own address. Prints its
    /// address and id; an SMA-B account's address is recomputed here and must match.
    Request(RequestArgs),
}

/// Which kind of account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AccountType {
    /// ModularAccountV2's SemiModularAccountBytecode, deployed by its first op.
    #[value(name = "sma-b")]
    SmaB,
    /// The owner's EOA, delegated to ModularAccountV2 by its first op.
    #[value(name = "7702")]
    Eip7702,
}

/// Flags of `sesskey account request`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The Wallet API endpoint (default: Alchemy's, when `ALCHEMY_API_KEY` is set).
    #[arg(long)]
    pub rpc_url: Option<String>,
    /// Which kind of account.
    #[arg(long = "type", value_enum, default_value = "sma-b")]
    pub account_type: AccountType,
    /// The SMA-B account's salt, decimal or 0x-hex.
    #[arg(long, default_value = "0")]
    pub salt: U256,
    /// The owner's address, when their key is elsewhere (default: the owner's key's).
    #[arg(long)]
    pub signer: Option<Address>,
    /// Where the owner's key is (only its address is used).
    #[command(flatten)]
    pub owner: OwnerArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sesskey account …`.
pub(crate) async fn account(cmd: AccountCommand, env: Env) -> anyhow::Result<()> {
    let AccountCommand::Request(a) = cmd;
    let signer = match a.signer {
        Some(s) => s,
        None => owner_key(&a.owner, &env)?.address(),
    };
    let (account_type, expected) = match a.account_type {
        AccountType::SmaB => ("sma-b", Account::SmaB { owner: signer, salt: a.salt }),
        AccountType::Eip7702 => ("7702", Account::Eip7702 { owner: signer }),
    };
    let client = endpoint(a.rpc_url.as_deref(), &env)?;
    let hint = CreationHint {
        account_type: Some(account_type.into()),
        salt: (a.account_type == AccountType::SmaB).then_some(a.salt),
        ..Default::default()
    };
    let answer = client
        .request_account(RequestAccountParams::BySigner {
            signer_address: signer,
            id: None,
            creation_hint: Some(hint),
            include_counterfactual_info: Some(true),
        })
        .await
        .map_err(sesskey_rpc::Error::from)?;
    if answer.account_address != expected.address() {
        bail!(
            "the server answered account {}, but the {account_type} account of {signer} is {} (an SMA-B account already requested with another salt is kept by the server: give that salt)",
            answer.account_address,
            expected.address()
        );
    }
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "account": answer.account_address,
                "id": answer.id,
                "type": account_type,
                "owner": signer,
                "salt": (a.account_type == AccountType::SmaB).then_some(a.salt),
                "counterfactualInfo": answer.counterfactual_info,
            })
        )?;
    } else {
        outln!(
            "account {} ({account_type}, owner {signer}), id {}",
            answer.account_address,
            answer.id
        )?;
        if a.account_type == AccountType::SmaB {
            outln!(
                "salt {}: give `--salt {}` to session create, request and revoke",
                a.salt,
                a.salt
            )?;
        }
    }
    Ok(())
}
