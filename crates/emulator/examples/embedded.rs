//! The emulator inside a test or a program: start it on a free port, ask it for an account
//! (the SDK's default SMA-B smart account), read its chain, stop it.
//!
//! `cargo run -p sesskey-emulator --example embedded`

use sesskey_emulator::{serve, Config, Emulator};
use sesskey_rpc::{EthApiClient, WalletApiClient, WalletClient};
use sesskey_types::RequestAccountParams;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::new(Config::default());
    let running = serve(emulator, "127.0.0.1:0".parse()?).await?;
    println!("serving the Wallet API at {}", running.url());
    let client = WalletClient::new(running.url())?;
    let params: RequestAccountParams = serde_json::from_value(serde_json::json!({
        "signerAddress": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "includeCounterfactualInfo": true
    }))?;
    let account = client.request_account(params).await?;
    println!("SMA-B account {} (deployed by its first op)", account.account_address);
    let code = client.get_code(account.account_address, "latest".into()).await?;
    println!("chain {}; code at the account: {} bytes", client.chain_id().await?, code.len());
    Ok(())
}
