//! The page of `sesskey serve` in a real browser: headless Chromium (Debian's `chromium`,
//! which `.ci/run` installs) loads `GET /`, runs its script, and the rendered page shows the
//! session this test created, then its budget spent after the test sends a call.
//!
//! Without Chromium the test says so and passes, except under CI (`CI` set), where it fails.

use alloy_primitives::{Address, U256, U64};
use sesskey_rpc::WalletClient;
use sesskey_session::{Orchestrator, Outcome};
use sesskey_signing::dev::dev_key;
use sesskey_types::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";

/// Chromium's path: `SESSKEY_CHROMIUM`, else the first of the usual names on `PATH`.
fn chromium() -> Option<String> {
    if let Ok(p) = std::env::var("SESSKEY_CHROMIUM") {
        return Some(p);
    }
    ["chromium", "chromium-browser", "google-chrome"].into_iter().find_map(|name| {
        let found = Command::new("which").arg(name).output().ok()?;
        found.status.success().then(|| String::from_utf8_lossy(&found.stdout).trim().to_string())
    })
}

/// The page at `url` as the browser rendered it after its script ran (the markup before the
/// `<script>` element: the rendered tables, not the script's own text).
fn rendered(browser: &str, url: &str) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=3000",
            "--dump-dom",
            url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    out.split("<script>").next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_shows_a_session_and_its_budget_in_a_browser() {
    let Some(browser) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "chromium is missing (.ci/run installs it)");
        println!("skipped: no chromium (install Debian's chromium package to run this test)");
        return;
    };
    let (mut child, url, _) = crate::serve(&[
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--policy-id".as_ref(),
        POLICY.as_ref(),
    ]);
    let flow = Orchestrator::new(WalletClient::new(&url).unwrap(), Some(POLICY.into()));
    let (owner, key) = (dev_key(0), dev_key(1));
    flow.ensure_delegated(&owner, 31337, Duration::from_secs(10)).await.unwrap();
    let shop = Address::repeat_byte(0x51);
    let session = flow
        .create_session(
            &owner,
            &CreateSessionParams {
                account: owner.address(),
                chain_id: U64::from(31337),
                expiry_sec: None,
                key: SessionKey { public_key: key.address(), ty: KeyType::Secp256k1 },
                permissions: vec![
                    Permission::NativeTokenTransfer(NativeTokenTransfer {
                        allowance: U256::from(5000),
                    }),
                    Permission::ContractAccess(ContractAccess { address: shop }),
                ],
            },
        )
        .await
        .unwrap();
    let id = session.session_id.to_string();

    let page = rendered(&browser, &format!("{url}/"));
    let row = page
        .split("<tr ")
        .find(|r| r.contains(&format!("data-session=\"{id}\"")))
        .unwrap_or_else(|| panic!("the page shows session {id}: {page:.2000}"));
    assert!(row.contains("send up to 5000 wei in all"), "permissions in words: {row}");
    assert!(row.contains("spent <b class=\"spent\">0 wei</b>"), "nothing spent yet: {row}");
    assert!(row.contains("left <b class=\"left\">5000 wei</b>"), "{row}");

    let call = Call { to: shop, data: None, value: Some(U256::from(1200)) };
    let sent = flow.send_calls(&session, &key, vec![call], &Default::default(), 0).await.unwrap();
    let outcome = flow.wait_for_status(&sent.call_id, Duration::from_secs(10)).await.unwrap();
    assert!(matches!(outcome, Outcome::Confirmed(_)), "{outcome:?}");

    let page = rendered(&browser, &format!("{url}/"));
    let row = page
        .split("<tr ")
        .find(|r| r.contains(&format!("data-session=\"{id}\"")))
        .expect("the session is still shown");
    assert!(row.contains("spent <b class=\"spent\">1200 wei</b>"), "the budget moved: {row}");
    assert!(row.contains("left <b class=\"left\">3800 wei</b>"), "{row}");
    assert!(page.contains("confirmed"), "the call is listed with its status");
    child.kill().unwrap();
    child.wait().unwrap();
}
