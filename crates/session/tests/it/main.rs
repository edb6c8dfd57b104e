//! The orchestrator against the emulator over loopback, and a tamper suite: a client that alters
//! the server's answers one field at a time; the orchestrator must refuse each and sign nothing.

mod flow;
mod grant;
mod tamper;

use alloy_primitives::{Address, ChainId, Signature, B256};
use alloy_signer_local::PrivateKeySigner;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A signer that counts what it signs.
#[derive(Debug, Clone)]
pub(crate) struct Counting {
    pub(crate) inner: PrivateKeySigner,
    pub(crate) count: Arc<AtomicUsize>,
}

impl Counting {
    pub(crate) fn new(inner: PrivateKeySigner) -> Self {
        Self { inner, count: Arc::new(AtomicUsize::new(0)) }
    }

    pub(crate) fn signed(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

#[jsonrpsee::core::async_trait]
impl alloy_signer::Signer for Counting {
    async fn sign_hash(&self, hash: &B256) -> alloy_signer::Result<Signature> {
        self.count.fetch_add(1, Ordering::SeqCst);
        alloy_signer::SignerSync::sign_hash_sync(&self.inner, hash)
    }
    fn address(&self) -> Address {
        self.inner.address()
    }
    fn chain_id(&self) -> Option<ChainId> {
        None
    }
    fn set_chain_id(&mut self, _: Option<ChainId>) {}
}

mod service;
mod sma_b;
mod store;
mod token_gas;
