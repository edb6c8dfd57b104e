// Alchemy's official TypeScript client (@alchemy/wallet-apis, with viem) against `sesskey serve`:
// the flows of the client's own end-to-end test (alchemyplatform/aa-sdk,
// packages/wallet-apis/src/client.e2e.test.ts), written again here without its test runner, with
// the same keys and the same pinned addresses (which Alchemy's server answered). Run by
// `cargo xtask clients`, which installs the pinned packages and starts the emulator on
// arbitrumSepolia's chain id (URL and POLICY come from it).
import { createPublicClient, createWalletClient, encodeFunctionData, erc20Abi, http, zeroAddress } from "viem";
import { arbitrumSepolia, baseSepolia } from "viem/chains";
import { readFileSync } from "node:fs";
import { privateKeyToAccount, generatePrivateKey } from "viem/accounts";
import { createSmartWalletClient, alchemyWalletTransport } from "@alchemy/wallet-apis";

const url = process.env.URL;
const policyId = process.env.POLICY;
const transport = alchemyWalletTransport({ url });
const signer = privateKeyToAccount("0xd7b061ef04d29cf68b3c89356678eccec9988de8d5ed892c19461c4a9d65925d");
const client = createSmartWalletClient({ transport, chain: arbitrumSepolia, signer });
const publicClient = createPublicClient({ chain: arbitrumSepolia, transport: http(url) });
let failed = 0;
async function t(name, f) {
  try { await f(); console.log("ok  ", name); } catch (e) { failed++; console.log("FAIL", name, "\n   ", (e.details ? e.details + "\n" : "") + (e.shortMessage ?? e.message ?? String(e)).split("\n").slice(0, 6).join("\n    ")); }
}
function eq(a, b, what) { if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`); }
const typed = { types: { Person: [{ name: "name", type: "string" }, { name: "wallet", type: "address" }], Mail: [{ name: "from", type: "Person" }, { name: "to", type: "Person" }, { name: "contents", type: "string" }] }, primaryType: "Mail", domain: { name: "Ether Mail", version: "1", chainId: 1, verifyingContract: "0xbbc68f94D29d52EE8D4994E54d6ED0fEAeb99C2c" }, message: { from: { name: "Alice", wallet: "0xFC24e57486116026740634F629ffC4E5C95A6893" }, to: { name: "Bob", wallet: "0xe7a26f006EAA562308C5df235C02BFB9a5849177" }, contents: "Hello, Bob!" } };
const sendVariants = [
  ["sendCalls", async (c, input) => { const r = await c.sendCalls(input); return c.waitForCallsStatus({ id: r.id }); }],
  ["prepare/sign/send", async (c, input) => { const p = await c.prepareCalls(input); const s = await c.signPreparedCalls(p); const r = await c.sendPreparedCalls({ ...s, ...(input.capabilities?.permissions != null ? { capabilities: { permissions: input.capabilities.permissions } } : {}) }); return c.waitForCallsStatus({ id: r.id }); }],
];

await t("counterfactual address", async () => { const a = await client.requestAccount(); eq(a.address, "0x76E765e80FFAC96ac10Aa8908a8267A3B80d606D", "address"); });
await t("different salt", async () => { const a = await client.requestAccount({ id: "26b375e3-c94a-4e98-b6b7-5a97121aa583", creationHint: { salt: "0x1" } }); eq(a.address, "0xdfdd407b9569D40BEFa503208753E59cAc9713fA", "address"); });
await t("different inputs", async () => { const a = await client.requestAccount(); const b = await client.requestAccount({ id: "2a3320b4-6ed2-4833-a488-5188e9bdd9d2", creationHint: { salt: "0x2" } }); if (a.address === b.address) throw new Error("same"); });
await t("capabilities", async () => { const account = await client.requestAccount(); const caps = await client.getCapabilities({ account }); for (const k of ["atomic", "eip7702Auth", "gasParamsOverride", "nonceOverride", "paymaster", "permissions"]) if (!(k in caps)) throw new Error("missing " + k + ": " + JSON.stringify(caps)); eq(caps.permissions.permissionTypes, ["native-token-transfer","erc20-token-transfer","gas-limit","contract-access","account-functions","functions-on-all-contracts","functions-on-contract","root"], "types"); eq(caps.permissions.keyTypes, ["secp256k1"], "keys"); eq(caps.permissions.signerTypes, ["keys"], "signers"); });
await t("sign message sma-b", async () => { const account = await client.requestAccount(); const signature = await client.signMessage({ message: "hello world", account }); if (!(await publicClient.verifyMessage({ address: account.address, message: "hello world", signature }))) throw new Error("invalid"); });
await t("sign message 7702", async () => { const signature = await client.signMessage({ message: "hello world" }); if (!(await publicClient.verifyMessage({ address: client.account.address, message: "hello world", signature }))) throw new Error("invalid"); });
await t("sign typed sma-b", async () => { const account = await client.requestAccount(); const signature = await client.signTypedData({ ...typed, account }); if (!(await publicClient.verifyTypedData({ ...typed, signature, address: account.address }))) throw new Error("invalid"); });
await t("sign typed 7702", async () => { const signature = await client.signTypedData(typed); if (!(await publicClient.verifyTypedData({ ...typed, signature, address: client.account.address }))) throw new Error("invalid"); });
await t("sign message other account", async () => { const account = await client.requestAccount({ id: "26b375e3-c94a-4e98-b6b7-5a97121aa583", creationHint: { salt: "0x1" } }); const signature = await client.signMessage({ message: "hello world", account }); if (!(await publicClient.verifyMessage({ address: account.address, message: "hello world", signature }))) throw new Error("invalid"); });
for (const [n, v] of sendVariants) await t("UO with paymaster " + n, async () => { const account = await client.requestAccount(); const r = await v(client, { calls: [{ to: zeroAddress, value: 0n }], account, capabilities: { paymaster: { policyId } } }); eq(r.status, "success", "status"); });
for (const [n, v] of sendVariants) await t("drop and replace " + n, async () => { const account = await client.requestAccount(); for (let i = 0; i < 2; i++) { const r = await v(client, { calls: [{ to: zeroAddress, value: 0n }], account, capabilities: { paymaster: { policyId } } }); eq(r.status, "success", "status"); } });
for (const [n, v] of sendVariants) await t("UO 7702 " + n, async () => { const s = privateKeyToAccount(n === "sendCalls" ? "0x00d35c6d307b5cddeb70aeed96ee27a551fee58bf1a43858477e6c11f9172ba8" : generatePrivateKey()); const c = createSmartWalletClient({ transport, chain: arbitrumSepolia, signer: s }); const account = await c.requestAccount({ creationHint: { accountType: "7702" } }); eq(account.address, s.address, "address"); const r = await v(c, { calls: [{ to: zeroAddress, value: 0n }], account, capabilities: { paymaster: { policyId } } }); eq(r.status, "success", "status"); });
for (const [n, v] of sendVariants) await t("session " + n, async () => { const account = await client.requestAccount(); const sk = privateKeyToAccount(generatePrivateKey()); const permissions = await client.grantPermissions({ account, expirySec: Math.floor(Date.now() / 1000) + 3600, key: { publicKey: sk.address, type: "secp256k1" }, permissions: [{ type: "root" }] }); const skc = createSmartWalletClient({ transport, chain: arbitrumSepolia, signer: sk }); const r = await v(skc, { calls: [{ to: zeroAddress, value: 0n }], account, capabilities: { paymaster: { policyId }, permissions } }); eq(r.status, "success", "status"); });
await t("sign after deploy sma-b", async () => { const account = await client.requestAccount(); const signature = await client.signMessage({ message: "after", account }); if (!(await publicClient.verifyMessage({ address: account.address, message: "after", signature }))) throw new Error("invalid"); });

// The ERC-20 paymaster tests, on baseSepolia: the token is a PermitToken (6 decimals, as USDC)
// deployed by anvil's first development account where `cargo xtask clients` told the server to
// price it (GAS_TOKEN); the paymaster is the emulator's; the signer a fresh key holding 100 tokens.
const token = process.env.GAS_TOKEN;
const PAYMASTER = "0x3f222Df6aB18C1E10d0Ec136503c3B0dfd929048";
const HALF_DOLLAR = 500_000n;
const built = JSON.parse(readFileSync(process.env.PERMIT_TOKEN_JSON, "utf8"));
const deployer = createWalletClient({ chain: baseSepolia, transport: http(url + "/chain/84532"), account: privateKeyToAccount("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80") });
const basePublic = createPublicClient({ chain: baseSepolia, transport: http(url + "/chain/84532") });
const erc20Signer = privateKeyToAccount(generatePrivateKey());
const erc20Client = createSmartWalletClient({ transport, chain: baseSepolia, signer: erc20Signer });
await t("deploy the gas token", async () => {
  const hash = await deployer.deployContract({ abi: built.abi, bytecode: built.bytecode, args: ["USD Coin", "USDC", 6, 10n ** 12n] });
  const r = await basePublic.waitForTransactionReceipt({ hash }); eq(r.contractAddress.toLowerCase(), token.toLowerCase(), "token address");
  const fund = await deployer.writeContract({ address: token, abi: erc20Abi, functionName: "transfer", args: [erc20Signer.address, 100_000_000n] });
  await basePublic.waitForTransactionReceipt({ hash: fund });
});
async function resetApproval() { const { id } = await erc20Client.sendCalls({ calls: [{ to: token, data: encodeFunctionData({ abi: erc20Abi, functionName: "approve", args: [PAYMASTER, 0n] }) }], capabilities: { paymaster: { policyId } } }); eq((await erc20Client.waitForCallsStatus({ id })).status, "success", "reset"); }
const erc20Modes = [
  ["post-op ERC-20 paymaster", { postOpSettings: { autoApprove: { below: HALF_DOLLAR, amount: HALF_DOLLAR } } }],
  ["pre-op ERC-20 paymaster", { preOpSettings: { autoPermit: { below: HALF_DOLLAR, amount: HALF_DOLLAR } } }],
  ["exact approval ERC-20 paymaster", { postOpSettings: { autoApprove: true } }],
];
for (const [n, settings] of erc20Modes) await t(n, async () => {
  const before = await basePublic.readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [erc20Signer.address] });
  const { id } = await erc20Client.sendCalls({ calls: [{ to: zeroAddress, value: 0n }], capabilities: { paymaster: { policyId, erc20: { tokenAddress: token, ...settings } } } });
  eq((await erc20Client.waitForCallsStatus({ id })).status, "success", "status");
  const after = await basePublic.readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [erc20Signer.address] });
  if (!(after < before)) throw new Error(`the token balance did not drop: ${before} -> ${after}`);
  await resetApproval();
});

console.log(failed ? `${failed} failed` : "all passed");
process.exit(failed ? 1 : 0);
