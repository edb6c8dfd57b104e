//! Check before sign: recompute the digest of what a server asks to be signed, refuse a
//! `rawPayload` that is not it, sign the verified digest, recover the signer.
//!
//! `cargo run -p sesskey-signing --example check_then_sign`

use alloy_signer_local::PrivateKeySigner;
use sesskey_signing::{check_request, eip191_digest, recover, sign_request};
use sesskey_types::{PersonalSignData, SignatureRequest};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = PrivateKeySigner::random();
    let message = "sign in to example.org";
    let honest = SignatureRequest::PersonalSign {
        data: PersonalSignData::Message(message.into()),
        raw_payload: eip191_digest(message.as_bytes()),
    };
    let digest = check_request(&honest, None)?;
    let signature = sign_request(&key, &honest, None).await?;
    assert_eq!(recover(digest, &signature.data)?, key.address());
    println!("signed {digest} as {}", key.address());

    // A server that asks for one message but hands over another digest is refused.
    let hostile = SignatureRequest::PersonalSign {
        data: PersonalSignData::Message(message.into()),
        raw_payload: eip191_digest(b"transfer everything"),
    };
    match sign_request(&key, &hostile, None).await {
        Ok(_) => println!("unexpected: signed"),
        Err(e) => println!("refused: {e}"),
    }
    Ok(())
}
