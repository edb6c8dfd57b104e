//! `wallet_requestAccount`, `wallet_listAccounts`, `wallet_getCapabilities`.

use super::errors::invalid;
use super::{Core, R};
use crate::clock::uuid_v4;
use alloy_primitives::{keccak256, Address, U64};
use sesskey_types::*;

/// The stable id of an account: a UUID v4 made from its address.
fn account_id(account: Address) -> String {
    uuid_v4(&keccak256(account)[..16])
}

impl Core {
    /// `wallet_requestAccount`: EIP-7702, the account is the signer; the id is stable.
    pub(crate) fn request_account(&self, params: RequestAccountParams) -> R<RequestAccountResult> {
        let account = match params {
            RequestAccountParams::BySigner { signer_address, creation_hint, .. } => {
                if let Some(kind) =
                    creation_hint.and_then(|h| h.account_type).filter(|k| k != "7702")
                {
                    return Err(invalid(format!(
                        "invalid `creationHint.accountType`: the emulator serves EIP-7702 accounts only, not {kind:?}"
                    )));
                }
                signer_address
            }
            RequestAccountParams::ByAccount { account_address, .. } => account_address,
        };
        Ok(RequestAccountResult {
            account_address: account,
            id: account_id(account),
            counterfactual_info: None,
            delegation: Some(MODULAR_ACCOUNT_V2_7702),
        })
    }

    /// `wallet_listAccounts`: the signer's EIP-7702 account.
    pub(crate) fn list_accounts(&self, params: ListAccountsParams) -> R<ListAccountsResult> {
        if params.limit.is_some_and(|l| !(1..=100).contains(&l)) {
            return Err(invalid("invalid `limit`: must be between 1 and 100"));
        }
        if params.after.is_some() {
            // One account a signer: this server never issues a cursor, so none is valid.
            return Err(invalid("invalid `after`: not a cursor this server issued"));
        }
        let accounts = {
            vec![AccountRef {
                account_address: params.signer_address,
                id: account_id(params.signer_address),
            }]
        };
        Ok(ListAccountsResult { accounts, meta: ListAccountsMeta { total_count: 1, after: None } })
    }

    /// `wallet_getCapabilities`: per served chain asked for (duplicates and unknown chains
    /// dropped before anything is built).
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
        let caps: std::collections::BTreeMap<String, serde_json::Value> = [
            ("atomic", serde_json::json!({"status": "supported"})),
            ("paymasterService", serde_json::json!({"supported": true})),
            ("eip7702Auth", serde_json::json!({"supported": true})),
            ("permissions", serde_json::json!({"supported": true})),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Ok(chains.into_iter().map(|c| (format!("{c:#x}"), caps.clone())).collect())
    }
}
