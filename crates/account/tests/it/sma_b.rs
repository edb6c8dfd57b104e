//! SMA-B accounts against Alchemy's SDK (`fixtures/external/sma-b/`): the counterfactual address
//! and the deployment's `factoryData` for every owner and salt of the vectors, byte for byte.

use alloy_primitives::{Address, Bytes, U256};
use sesskey_account::*;

#[test]
fn addresses_and_factory_data_equal_the_sdks() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../../fixtures/external/sma-b/vectors.json"))
            .unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 24);
    for case in cases {
        let owner: Address = case["owner"].as_str().unwrap().parse().unwrap();
        let salt: U256 = case["salt"].as_str().unwrap().parse().unwrap();
        let address: Address = case["address"].as_str().unwrap().parse().unwrap();
        let factory: Address = case["factory"].as_str().unwrap().parse().unwrap();
        let data: Bytes = case["factoryData"].as_str().unwrap().parse().unwrap();
        assert_eq!(sma_b_address(owner, salt), address, "{owner} / {salt}");
        assert_eq!(factory, MODULAR_ACCOUNT_FACTORY);
        assert_eq!(sma_b_factory_data(owner, salt), data, "{owner} / {salt}");
        assert_eq!(decode_sma_b_factory_data(&data).unwrap(), (owner, salt));
    }
    // Another owner or salt: another account.
    let owner: Address = cases[0]["owner"].as_str().unwrap().parse().unwrap();
    assert_ne!(sma_b_address(owner, U256::from(1)), sma_b_address(owner, U256::ZERO));
    assert!(decode_sma_b_factory_data(&[0x8b, 0x4e, 0x46, 0x4e]).is_err());
}

/// The two counterfactual addresses Alchemy's own end-to-end test of its wallet client pins for
/// the signer `0x7a3c…f8A0` (alchemyplatform/aa-sdk,
/// `account-kit/wallet-client/src/client/client.e2e.test.ts`: `requestAccount()` and
/// `requestAccount({creationHint: {salt: "0x1"}})`, answered by Alchemy's server).
#[test]
fn addresses_equal_alchemys_server() {
    let signer: Address = "0x7a3ccbFe9DA9b53228872dd7ef3dc3fDd13Cf8A0".parse().unwrap();
    let expect = |s: &str| s.parse::<Address>().unwrap();
    assert_eq!(
        sma_b_address(signer, U256::ZERO),
        expect("0x76E765e80FFAC96ac10Aa8908a8267A3B80d606D")
    );
    assert_eq!(
        sma_b_address(signer, U256::from(1)),
        expect("0xdfdd407b9569D40BEFa503208753E59cAc9713fA")
    );
}
