//! The final `userOp.signature` the server assembles (spec §5.3), and its unpacking.

use crate::deferred::DeferredAction;
use crate::{Error, Result};
use alloy_primitives::{Bytes, U256};

/// The last sparse-calldata segment marker.
pub const VALIDATION_SEGMENT: u8 = 0xff;
/// `SignatureType` EOA.
pub const SIGNATURE_TYPE_EOA: u8 = 0x00;

/// `uint32 len(E) ‖ E ‖ uint32 len(S) ‖ S` with `S = 0x00 ‖ ownerSignature`.
pub(crate) fn deferred_prefix(action: &DeferredAction, owner_signature: &[u8; 65]) -> Vec<u8> {
    let e = action.encoded_action();
    let mut out = Vec::with_capacity(8 + e.len() + 66);
    out.extend_from_slice(&(e.len() as u32).to_be_bytes());
    out.extend_from_slice(&e);
    out.extend_from_slice(&66u32.to_be_bytes());
    out.push(SIGNATURE_TYPE_EOA);
    out.extend_from_slice(owner_signature);
    out
}

/// A packed user-operation signature, unpacked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedSignature {
    /// The deferred action and the owner's 65-byte signature of it, on a session's first op.
    pub deferred: Option<(DeferredPart, [u8; 65])>,
    /// The signer's 65-byte signature of the op.
    pub signature: [u8; 65],
}

/// The deferred action carried by a first op: `E` decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredPart {
    /// The outer validation locator (21 bytes; the owner's global fallback is `0…01`).
    pub validation_locator: [u8; 21],
    /// The deadline.
    pub deadline: u64,
    /// The call.
    pub call: Bytes,
}

/// `0xFF ‖ 0x00 ‖ sig`: an op signed by an installed validation (spec §5.3).
pub fn pack_signature(signature: &[u8; 65]) -> Bytes {
    let mut out = vec![VALIDATION_SEGMENT, SIGNATURE_TYPE_EOA];
    out.extend_from_slice(signature);
    out.into()
}

/// The first op of a session: the deferred action and the owner's signature, then
/// `0xFF ‖ 0x00 ‖ sessionSig`.
pub fn pack_deferred_signature(
    action: &DeferredAction,
    owner_signature: &[u8; 65],
    session_signature: &[u8; 65],
) -> Bytes {
    let mut out = deferred_prefix(action, owner_signature);
    out.extend_from_slice(&pack_signature(session_signature));
    out.into()
}

fn take<'a>(buf: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8]> {
    if buf.len() < n {
        return Err(Error::decode(what, format!("truncated: need {n} bytes, have {}", buf.len())));
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

fn take_u32(buf: &mut &[u8], what: &'static str) -> Result<usize> {
    Ok(u32::from_be_bytes(take(buf, 4, what)?.try_into().expect("4 bytes")) as usize)
}

fn take_plain(buf: &mut &[u8]) -> Result<[u8; 65]> {
    let head = take(buf, 2, "packed signature")?;
    if head != [VALIDATION_SEGMENT, SIGNATURE_TYPE_EOA] {
        return Err(Error::decode("packed signature", "does not start with 0xff 0x00"));
    }
    let sig: [u8; 65] = take(buf, 65, "packed signature")?.try_into().expect("65 bytes");
    if !buf.is_empty() {
        return Err(Error::decode("packed signature", format!("{} trailing bytes", buf.len())));
    }
    Ok(sig)
}

/// Unpacks either form; `deferred` says which is expected (the op's nonce has the deferred bit).
pub fn unpack_signature(packed: &[u8], deferred: bool) -> Result<PackedSignature> {
    let mut buf = packed;
    if !deferred {
        return Ok(PackedSignature { deferred: None, signature: take_plain(&mut buf)? });
    }
    let e_len = take_u32(&mut buf, "deferred action")?;
    let e = take(&mut buf, e_len, "deferred action")?;
    if e.len() < 27 {
        return Err(Error::decode("deferred action", "shorter than locator and deadline"));
    }
    let validation_locator: [u8; 21] = e[..21].try_into().expect("21 bytes");
    let mut deadline = [0u8; 8];
    deadline[2..].copy_from_slice(&e[21..27]);
    let call = Bytes::copy_from_slice(&e[27..]);
    let s_len = take_u32(&mut buf, "owner signature")?;
    if s_len != 66 {
        return Err(Error::decode("owner signature", format!("{s_len} bytes, expected 66")));
    }
    let s = take(&mut buf, 66, "owner signature")?;
    if s[0] != SIGNATURE_TYPE_EOA {
        return Err(Error::decode("owner signature", "not an EOA signature"));
    }
    let owner: [u8; 65] = s[1..].try_into().expect("65 bytes");
    let signature = take_plain(&mut buf)?;
    Ok(PackedSignature {
        deferred: Some((
            DeferredPart { validation_locator, deadline: u64::from_be_bytes(deadline), call },
            owner,
        )),
        signature,
    })
}

/// The call id the Wallet API answers for an op: `uint256(chainId) ‖ userOpHash`.
pub fn call_id(chain_id: u64, user_op_hash: alloy_primitives::B256) -> Bytes {
    let mut out = U256::from(chain_id).to_be_bytes::<32>().to_vec();
    out.extend_from_slice(user_op_hash.as_slice());
    out.into()
}
