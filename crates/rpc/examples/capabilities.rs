//! The Wallet API client: asks a server what it supports on each chain. Point it at Alchemy
//! (`https://api.g.alchemy.com/v2/<key>`) or at `sesskey serve` (the default URL).
//!
//! `cargo run -p sesskey-rpc --example capabilities -- [URL]`

use sesskey_rpc::WalletClient;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:8545".into());
    let client = WalletClient::new(&url)?;
    let account = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse()?;
    match client.get_capabilities(account, None).await {
        Ok(caps) => println!("{}", serde_json::to_string_pretty(&caps)?),
        Err(e) => {
            println!("{e}");
            println!(
                "(start a local server with `cargo run -p sesskey-cli -- serve`, or give a URL)"
            );
        }
    }
    Ok(())
}
