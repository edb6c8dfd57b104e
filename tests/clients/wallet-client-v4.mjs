// Alchemy's previous official client (@account-kit/wallet-client v4, with @aa-sdk/core's
// signers) against `sesskey serve`: the flows of its own end-to-end test (alchemyplatform/aa-sdk,
// account-kit/wallet-client/src/client/client.e2e.test.ts), written again here without its test
// runner, with the same keys and the same pinned addresses (which Alchemy's server answered).
// Run by `cargo xtask clients` beside wallet-apis.mjs (URL and POLICY come from it).
import { createPublicClient, zeroAddress } from "viem";
import { LocalAccountSigner } from "@aa-sdk/core";
import { alchemy, arbitrumSepolia } from "@account-kit/infra";
import { createSmartWalletClient } from "@account-kit/wallet-client";

const policyId = process.env.POLICY;
const transport = alchemy({ rpcUrl: process.env.URL });
const signer = LocalAccountSigner.privateKeyToAccountSigner("0xd7b061ef04d29cf68b3c89356678eccec9988de8d5ed892c19461c4a9d65925d");
const client = createSmartWalletClient({ transport, chain: arbitrumSepolia, signer });
const publicClient = createPublicClient({ chain: arbitrumSepolia, transport });
let failed = 0;
async function t(name, f) {
  try { await f(); console.log("ok   v4", name); } catch (e) { failed++; console.log("FAIL v4", name, "\n   ", (e.details ? e.details + "\n" : "") + (e.shortMessage ?? e.message ?? String(e)).split("\n").slice(0, 6).join("\n    ")); }
}
function eq(a, b, what) { if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`); }
const typed = { types: { Person: [{ name: "name", type: "string" }, { name: "wallet", type: "address" }], Mail: [{ name: "from", type: "Person" }, { name: "to", type: "Person" }, { name: "contents", type: "string" }] }, primaryType: "Mail", domain: { name: "Ether Mail", version: "1", chainId: 1, verifyingContract: "0xbbc68f94D29d52EE8D4994E54d6ED0fEAeb99C2c" }, message: { from: { name: "Alice", wallet: "0xFC24e57486116026740634F629ffC4E5C95A6893" }, to: { name: "Bob", wallet: "0xe7a26f006EAA562308C5df235C02BFB9a5849177" }, contents: "Hello, Bob!" } };
const sendVariants = [
  ["sendCalls", async (c, input) => { const r = await c.sendCalls(input); return c.waitForCallsStatus({ id: r.preparedCallIds?.[0] ?? r.id }); }],
  ["prepare/sign/send", async (c, input) => { const p = await c.prepareCalls(input); const s = await c.signPreparedCalls(p); const r = await c.sendPreparedCalls({ ...s, ...(input.capabilities?.permissions != null ? { capabilities: { permissions: input.capabilities.permissions } } : {}) }); return c.waitForCallsStatus({ id: r.preparedCallIds?.[0] ?? r.id }); }],
];
const paymaster = { paymasterService: { policyId } };

await t("counterfactual address", async () => { const a = await client.requestAccount(); eq(a.address, "0x76E765e80FFAC96ac10Aa8908a8267A3B80d606D", "address"); });
await t("different salt", async () => { const a = await client.requestAccount({ id: "26b375e3-c94a-4e98-b6b7-5a97121aa583", creationHint: { salt: "0x1" } }); eq(a.address, "0xdfdd407b9569D40BEFa503208753E59cAc9713fA", "address"); });
await t("different inputs", async () => { const a = await client.requestAccount(); const b = await client.requestAccount({ id: "2a3320b4-6ed2-4833-a488-5188e9bdd9d2", creationHint: { salt: "0x2" } }); if (a.address === b.address) throw new Error("same"); });
await t("sign message", async () => { const account = await client.requestAccount(); const signature = await client.signMessage({ message: "hello world" }); if (!(await publicClient.verifyMessage({ address: account.address, message: "hello world", signature }))) throw new Error("invalid"); });
await t("sign typed data", async () => { const account = await client.requestAccount(); const signature = await client.signTypedData(typed); if (!(await publicClient.verifyTypedData({ ...typed, signature, address: account.address }))) throw new Error("invalid"); });
await t("sign message other account", async () => { const account = await client.requestAccount({ id: "26b375e3-c94a-4e98-b6b7-5a97121aa583", creationHint: { salt: "0x1" } }); const signature = await client.signMessage({ message: "hello world", account: account.address }); if (!(await publicClient.verifyMessage({ address: account.address, message: "hello world", signature }))) throw new Error("invalid"); });
await t("sign typed other account", async () => { const account = await client.requestAccount({ id: "26b375e3-c94a-4e98-b6b7-5a97121aa583", creationHint: { salt: "0x1" } }); const signature = await client.signTypedData({ ...typed, account: account.address }); if (!(await publicClient.verifyTypedData({ ...typed, signature, address: account.address }))) throw new Error("invalid"); });
for (const [n, v] of sendVariants) await t("UO with paymaster " + n, async () => { const account = await client.requestAccount(); const r = await v(client, { calls: [{ to: zeroAddress, value: "0x0" }], from: account.address, capabilities: paymaster }); eq(r.status, "success", "status"); });
for (const [n, v] of sendVariants) await t("drop and replace " + n, async () => { const account = await client.requestAccount(); for (let i = 0; i < 2; i++) { const r = await v(client, { calls: [{ to: zeroAddress, value: "0x0" }], from: account.address, capabilities: paymaster }); eq(r.status, "success", "status"); } });
for (const [n, v] of sendVariants) await t("UO 7702 " + n, async () => { const s = LocalAccountSigner.privateKeyToAccountSigner("0x00d35c6d307b5cddeb70aeed96ee27a551fee58bf1a43858477e6c11f9172ba8"); const c = createSmartWalletClient({ transport, chain: arbitrumSepolia, signer: s }); const account = await c.requestAccount({ creationHint: { accountType: "7702" } }); eq(account.address, await s.getAddress(), "address"); const r = await v(c, { calls: [{ to: zeroAddress, value: "0x0" }], from: account.address, capabilities: paymaster }); eq(r.status, "success", "status"); });
for (const [n, v] of sendVariants) await t("session " + n, async () => { const account = await client.requestAccount(); const sk = LocalAccountSigner.generatePrivateKeySigner(); const permissions = await client.grantPermissions({ account: account.address, expirySec: Math.floor(Date.now() / 1000) + 3600, key: { publicKey: await sk.getAddress(), type: "secp256k1" }, permissions: [{ type: "root" }] }); const skc = createSmartWalletClient({ transport, chain: arbitrumSepolia, signer: sk }); const r = await v(skc, { calls: [{ to: zeroAddress, value: "0x0" }], from: account.address, capabilities: { ...paymaster, permissions } }); eq(r.status, "success", "status"); });
console.log(failed ? `v4: ${failed} failed` : "v4: all passed");
process.exit(failed ? 1 : 0);
