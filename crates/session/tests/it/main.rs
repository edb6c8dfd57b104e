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

mod store {
    use alloy_primitives::{Address, FixedBytes, U256, U64};
    use sesskey_account::Spend;
    use sesskey_session::{Session, SessionStore, StoredSession};
    use sesskey_types::{NativeTokenTransfer, Permission};

    fn session(id: u8) -> Session {
        Session {
            session_id: [id; 16].into(),
            chain_id: U64::from(31337),
            account: Address::repeat_byte(1),
            session_key: Address::repeat_byte(2),
            entity_id: 1,
            expiry: 0,
            permissions: vec![Permission::NativeTokenTransfer(NativeTokenTransfer {
                allowance: U256::from(10),
            })],
            owner_signature: FixedBytes::repeat_byte(3),
        }
    }

    #[test]
    fn saves_lists_tracks_spend_and_removes() {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir =
            std::env::temp_dir().join(format!("sesskey-store-{}-{nanos}", std::process::id()));
        let store = SessionStore::open(&dir).unwrap();
        store.save(&StoredSession::new(session(2))).unwrap();
        store.save(&StoredSession::new(session(1))).unwrap();
        let ids: Vec<_> = store.list().unwrap().into_iter().map(|s| s.session.session_id).collect();
        assert_eq!(
            ids,
            vec![
                sesskey_types::SessionId::from([1u8; 16]),
                sesskey_types::SessionId::from([2u8; 16])
            ]
        );
        let spend = Spend { native: U256::from(4), ..Default::default() };
        store.record_spend(&[1u8; 16].into(), &spend).unwrap();
        let again = store.record_spend(&[1u8; 16].into(), &spend).unwrap();
        assert_eq!(again.spent().native, U256::from(8));
        assert_eq!(store.load(&[1u8; 16].into()).unwrap(), again);
        // No temporary file is left behind.
        assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .path()
            .to_string_lossy()
            .ends_with(".tmp")));
        store.remove(&[2u8; 16].into()).unwrap();
        assert_eq!(store.list().unwrap().len(), 1);
        assert!(store
            .load(&[2u8; 16].into())
            .unwrap_err()
            .to_string()
            .starts_with("session store: reading"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
