//! `wallet_requestAccount`, `wallet_listAccounts`, `wallet_getCapabilities`, and what kind of
//! account an address is: an EIP-7702 account (the default: an EOA delegated to
//! ModularAccountV2, its own owner) or an SMA-B smart-contract account (ModularAccountV2's
//! `SemiModularAccountBytecode`, deployed by the factory with its first op, owned by a signer).

use super::errors::invalid;
use super::{Core, R};
use crate::clock::uuid_v4;
use crate::state::{AccountRequest, SmaAccount};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256, U64};
use sesskey_account::{
    sma_b_address, sma_b_factory_data, sma_b_owner_of_code, MODULAR_ACCOUNT_FACTORY,
};
use sesskey_types::*;

/// `counterfactualInfo.factoryType` of an SMA-B account.
pub(crate) const SMA_B_FACTORY_TYPE: &str = "MAv2.0.0-sma-b";

/// What kind of account an address is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An EOA delegated (or to be delegated) to ModularAccountV2: its own owner.
    Eip7702,
    /// An SMA-B account of `owner`; `salt` is known when this wallet answered it (an account
    /// found deployed by someone else's factory call has none, and needs none).
    SmaB { owner: Address, salt: Option<U256> },
}

impl Kind {
    /// Who signs for `account` as its owner (its fallback signer).
    pub(crate) fn owner(self, account: Address) -> Address {
        match self {
            Self::Eip7702 => account,
            Self::SmaB { owner, .. } => owner,
        }
    }
}

/// The stable id of an account: a UUID v4 made from its address.
fn account_id(account: Address) -> String {
    uuid_v4(&keccak256(account)[..16])
}

/// The key of a request by `signer` and `id`.
fn request_key(signer: Address, id: Option<&str>) -> B256 {
    keccak256([signer.as_slice(), id.unwrap_or_default().as_bytes()].concat())
}

impl Core {
    /// What kind of account `address` is on `chain`: SMA-B when its code is an SMA-B proxy or
    /// this wallet answered it as one; EIP-7702 otherwise (the Wallet API's default).
    pub(crate) fn kind(&self, chain: u64, address: Address) -> Kind {
        let known = self.wallet.sma_accounts.get(&address);
        if let Some(owner) = sma_b_owner_of_code(&self.chain(chain).code_of(address)) {
            return Kind::SmaB { owner, salt: known.map(|k| k.salt) };
        }
        match known {
            Some(k) => Kind::SmaB { owner: k.owner, salt: Some(k.salt) },
            None => Kind::Eip7702,
        }
    }

    /// Whether `address` is an account on `chain` now: a 7702 account delegated to
    /// ModularAccountV2, an SMA-B account deployed.
    pub(crate) fn is_deployed(&self, chain: u64, address: Address, kind: Kind) -> bool {
        let c = self.chain(chain);
        match kind {
            Kind::Eip7702 => c.delegation(address).is_some(),
            Kind::SmaB { .. } => !c.code_of(address).is_empty(),
        }
    }

    /// The `factory`/`factoryData` that deploy `address` when it is an SMA-B account this
    /// wallet knows and `chain` has no code there yet.
    pub(crate) fn deployment(&self, chain: u64, address: Address) -> Option<(Address, Bytes)> {
        match self.kind(chain, address) {
            Kind::SmaB { owner, salt: Some(salt) }
                if self.chain(chain).code_of(address).is_empty() =>
            {
                Some((MODULAR_ACCOUNT_FACTORY, sma_b_factory_data(owner, salt)))
            }
            _ => None,
        }
    }

    /// `wallet_requestAccount`. By signer: `creationHint.accountType` `"7702"` answers the
    /// signer itself; absent or `"sma-b"`, an SMA-B account of the signer with
    /// `creationHint.salt` (default 0), kept under the signer and `id` so the same request
    /// answers the same account (an existing account's `creationHint` is not read again, as
    /// Alchemy documents). By account address: what that account is.
    pub(crate) fn request_account(
        &mut self,
        params: RequestAccountParams,
    ) -> R<RequestAccountResult> {
        match params {
            RequestAccountParams::BySigner {
                signer_address,
                id,
                creation_hint,
                include_counterfactual_info,
            } => {
                let hint = creation_hint.unwrap_or_default();
                if let Some(id) = &id {
                    check_uuid(id)?;
                }
                match hint.account_type.as_deref() {
                    Some("7702") => Ok(RequestAccountResult {
                        account_address: signer_address,
                        id: id.unwrap_or_else(|| account_id(signer_address)),
                        counterfactual_info: None,
                        delegation: Some(MODULAR_ACCOUNT_V2_7702),
                    }),
                    None | Some("sma-b") => {
                        // With an id, the account is the id's (a known id's creationHint is not
                        // read again); without one, the salt's: Alchemy answers the v4 client's
                        // requests (which never send an id) with the account of their salt.
                        let salt = hint.salt.unwrap_or_default();
                        let key = match id.as_deref() {
                            Some(id) => request_key(signer_address, Some(id)),
                            None => request_key(signer_address, Some(&format!("salt {salt:#x}"))),
                        };
                        let account = match self.wallet.account_requests.get(&key) {
                            Some(r) => r.account,
                            None => {
                                let account = sma_b_address(signer_address, salt);
                                let id = id.unwrap_or_else(|| account_id(account));
                                if self.wallet.sma_accounts.get(&account).is_none() {
                                    let row = SmaAccount { owner: signer_address, salt, id };
                                    self.wallet.sma_accounts.put(account, row);
                                }
                                self.wallet.account_requests.put(key, AccountRequest { account });
                                account
                            }
                        };
                        Ok(self.sma_b_answer(account, include_counterfactual_info))
                    }
                    Some(other) => Err(invalid(format!(
                        "invalid `creationHint.accountType`: the emulator serves \"sma-b\" (ModularAccountV2) and \"7702\" accounts, not {other:?}"
                    ))),
                }
            }
            RequestAccountParams::ByAccount { account_address, include_counterfactual_info } => {
                if self.wallet.sma_accounts.get(&account_address).is_some() {
                    return Ok(self.sma_b_answer(account_address, include_counterfactual_info));
                }
                Ok(RequestAccountResult {
                    account_address,
                    id: account_id(account_address),
                    counterfactual_info: None,
                    delegation: Some(MODULAR_ACCOUNT_V2_7702),
                })
            }
        }
    }

    /// The answer for a known SMA-B account.
    fn sma_b_answer(&self, account: Address, counterfactual: Option<bool>) -> RequestAccountResult {
        let row = self.wallet.sma_accounts.get(&account).expect("a known SMA-B account");
        RequestAccountResult {
            account_address: account,
            id: row.id.clone(),
            counterfactual_info: counterfactual.unwrap_or(false).then(|| CounterfactualInfo {
                factory_type: SMA_B_FACTORY_TYPE.into(),
                factory_address: MODULAR_ACCOUNT_FACTORY,
                factory_data: sma_b_factory_data(row.owner, row.salt),
            }),
            delegation: None,
        }
    }

    /// `wallet_listAccounts`: the signer's SMA-B accounts (by id), then its EIP-7702 account;
    /// `after` is the last address of the previous page.
    pub(crate) fn list_accounts(&self, params: ListAccountsParams) -> R<ListAccountsResult> {
        let limit = params.limit.unwrap_or(100);
        if !(1..=100).contains(&limit) {
            return Err(invalid("invalid `limit`: must be between 1 and 100"));
        }
        let signer = params.signer_address;
        let mut all: Vec<AccountRef> = self
            .wallet
            .sma_accounts
            .iter()
            .filter(|(_, a)| a.owner == signer)
            .map(|(address, a)| AccountRef { account_address: *address, id: a.id.clone() })
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id).then(a.account_address.cmp(&b.account_address)));
        all.push(AccountRef { account_address: signer, id: account_id(signer) });
        let start = match &params.after {
            None => 0,
            Some(after) => {
                let bad = || invalid("invalid `after`: not a cursor this server issued");
                let last: Address = after.parse().map_err(|_| bad())?;
                all.iter().position(|a| a.account_address == last).ok_or_else(bad)? + 1
            }
        };
        let total = all.len() as u64;
        let page: Vec<AccountRef> = all.into_iter().skip(start).take(limit as usize).collect();
        let more = (start + page.len()) < total as usize;
        let after = more.then(|| page.last().map(|a| a.account_address.to_string())).flatten();
        Ok(ListAccountsResult {
            accounts: page,
            meta: ListAccountsMeta { total_count: total, after },
        })
    }

    /// `wallet_getCapabilities`: per served chain asked for (duplicates and unknown chains
    /// dropped before anything is built), as Alchemy lists them.
    pub(crate) fn get_capabilities(&self, chain_ids: Option<Vec<U64>>) -> R<Capabilities> {
        let asked = chain_ids.as_ref().map_or(0, Vec::len);
        super::errors::at_most("chainIds", asked, super::MAX_CHAIN_IDS)?;
        let served: Vec<u64> = self.chains.keys().copied().collect();
        let chains: std::collections::BTreeSet<u64> = match chain_ids {
            Some(ids) => ids
                .into_iter()
                .filter(|c| c.bit_len() <= 64)
                .map(|c| c.to::<u64>())
                .filter(|c| served.contains(c))
                .collect(),
            None => served.into_iter().collect(),
        };
        let caps = capabilities();
        Ok(chains.into_iter().map(|c| (format!("{c:#x}"), caps.clone())).collect())
    }
}

/// The capabilities every served chain has.
fn capabilities() -> std::collections::BTreeMap<String, serde_json::Value> {
    use serde_json::json;
    [
        ("atomic", json!({"status": "supported"})),
        ("paymasterService", json!({"supported": true})),
        ("eip7702Auth", json!({"supported": true})),
        ("gasParamsOverride", json!({"supported": true})),
        ("nonceOverride", json!({"supported": true})),
        (
            "permissions",
            json!({
                "supported": true,
                "keyTypes": ["secp256k1"],
                "signerTypes": ["keys"],
                "permissionTypes": PERMISSION_TYPES,
            }),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A UUID v4 as Alchemy's schema takes `id` (version 4, RFC 4122 variant).
fn check_uuid(id: &str) -> R<()> {
    let b = id.as_bytes();
    let hex_at = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_hexdigit);
    let ok = b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && hex_at(0..8)
        && hex_at(9..13)
        && b[14] == b'4'
        && hex_at(15..18)
        && matches!(b[19].to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b')
        && hex_at(20..23)
        && hex_at(24..36);
    if ok {
        Ok(())
    } else {
        Err(invalid("invalid `id`: must be a UUID v4"))
    }
}
