// The seed document's portal procedures, done in the web console with a
// real browser (Debian's chromium, driven by playwright-core) against a
// real sccd.  tests/integration/test_console.py starts sccd (with a
// provider, so nodes are real), makes the customer VNet, runs this, and
// checks the end state through the API.
//
// Env: SCC_URL (https://127.0.0.1:PORT), SCC_TOKEN, SCC_SPKI (base64
// SHA-256 of the server key: the one certificate chromium accepts),
// SCC_TEMPLATE (the seed's upgrade template), SCC_OUT (screenshots on failure),
// SCC_SCCCTL and SCC_DATA (to mint a workspace-scoped token).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const { SCC_URL, SCC_TOKEN, SCC_SPKI, SCC_TEMPLATE, SCC_OUT, SCC_SCCCTL, SCC_DATA } = process.env;
const browser = await chromium.launch({
    executablePath: process.env.SCC_CHROMIUM || "/usr/bin/chromium",
    args: [`--ignore-certificate-errors-spki-list=${SCC_SPKI}`],
});
const page = await (await browser.newContext()).newPage();
page.setDefaultTimeout(30000);
const errors = [];
page.on("pageerror", e => errors.push(String(e)));
// The refusals the steps provoke (401, 409) are logged by the browser as
// failed loads.  Chromium also aborts whatever request is in flight with
// ERR_NETWORK_CHANGED when a link or address on this host changes, which
// tests running beside this one do (the netns provider's veths): noted,
// not counted, since every step below checks its own outcome.  Anything
// else on the console is a defect.
page.on("console", m => {
    if (m.type() !== "error" || /^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()))
        return;
    if (/net::ERR_NETWORK_CHANGED/.test(m.text()))
        console.log(`# ${m.text()} (a link on this host changed)`);
    else
        errors.push(m.text());
});

const text = sel => page.locator(sel).innerText();
const until = (sel, re) => page.locator(sel).filter({ hasText: re }).first().waitFor();

async function go(hash) {
    await page.goto(SCC_URL + "/" + hash);
}

async function ws1() {
    await go("#/");
    await page.locator("#home-workspaces a", { hasText: "ws1" }).click();
    await until("#ws-status", /\w/);
}

async function blade(name) {
    await page.click("#blade-" + name);
    await page.locator("#blade-" + name + ".on").waitFor();
}

async function save(npip) {
    await blade("networking");
    await page.check("#npip-" + (npip ? "yes" : "no"));
    await page.click("#net-save");
}

async function deploy(params) {
    await go("#/deploy");
    await page.click("#build-own");
    await page.fill("#template", fs.readFileSync(SCC_TEMPLATE, "utf8"));
    await page.click("#template-save");
    await page.selectOption("#dep-rg", "rg1");
    for (const [k, v] of Object.entries(params))
        if (k === "enableNoPublicIp")
            await page.selectOption("#p-" + k, v);
        else
            await page.fill("#p-" + k, v);
    await page.click("#dep-review");
    await until("#dep-validation-text", /Validation (Passed|failed)/);
}

async function vmPublicIp() {
    await blade("overview");
    await page.click("#ws-mrg a");
    const row = page.locator("#rg-resources tr", { hasText: "Microsoft.Compute/virtualMachines" });
    await row.first().waitFor();
    assert.equal(await row.count(), 1, "one VM in the managed resource group");
    await row.locator("a").click();
    await until("#vm-status", /Succeeded/);
    return (await text("#vm-public-ip")).trim();
}

const steps = [
    ["a wrong token is refused on the sign-in page", async () => {
        await page.goto(SCC_URL + "/");
        await page.fill("#token", "scca1.0000000000000000.nope");
        await page.click("#sign-in");
        await until("#login-error", /InvalidAuthenticationToken/);
    }],
    ["sign in with the admin token", async () => {
        await page.fill("#token", SCC_TOKEN);
        await page.click("#sign-in");
        await page.locator("h1", { hasText: "Home" }).waitFor();
    }],
    ["create a legacy workspace in the customer VNet (Networking tab: No Public IP No)", async () => {
        await page.click("text=Create an Azure Databricks workspace");
        await page.selectOption("#create-rg", "rg1");
        await page.fill("#create-name", "ws1");
        await page.click("#tab-networking");
        await page.check("#npip-no");
        await page.check("#vnet-yes");
        await page.selectOption("#create-vnet", { label: "vnet" });
        await page.selectOption("#create-pub", "public");
        await page.selectOption("#create-priv", "private");
        await page.click("#tab-review");
        await page.click("#create-go");
        await until("#op-status", /Your deployment is complete/);
        await page.click("#go-resource");
        await until("#ws-status", /Succeeded/);
        assert.equal(await text("#ws-npip"), "Disabled");
    }],
    ["start a node: its VM has a public IP (legacy)", async () => {
        await blade("compute");
        await page.click("#nodes-start");
        await until("#nodes", /Succeeded/);
        assert.match(await vmPublicIp(), /^203\.0\.113\.\d+$/);
    }],
    ["Networking > No Public IP > Save without Microsoft.ManagedIdentity: the error says to register it", async () => {
        await ws1();
        await save(true);
        await until("#net-result", /MissingSubscriptionRegistration/);
    }],
    ["register Microsoft.ManagedIdentity on the Resource providers page", async () => {
        await go("#/providers");
        await page.click("#register-Microsoft\\.ManagedIdentity");
        await until("#state-Microsoft\\.ManagedIdentity", /^Registered$/);
    }],
    ["the upgrade with a node running fails, and the workspace says Failed and why", async () => {
        await ws1();
        await save(true);
        await until("#op-status", /Failed/);
        assert.match(await text("#op-error"), /WorkspaceUpdateFailed.*stop/is);
        await blade("overview");
        await until("#ws-status", /Failed/);
        assert.match(await text("#ws-failed"), /Failed state.*WorkspaceUpdateFailed/s);
    }],
    ["stop all nodes (step 1), then redo the update: it succeeds", async () => {
        await blade("compute");
        await page.click("#nodes-stop");
        await page.locator("p#nodes.empty").waitFor();
        await save(true);
        await until("#op-status", /Saved/);
        await blade("overview");
        await until("#ws-status", /Succeeded/);
        assert.equal(await text("#ws-npip"), "Enabled");
    }],
    ["a template that is not JSON stays in the editor with an error", async () => {
        await go("#/deploy/edit");
        await page.fill("#template", "{ not json");
        await page.click("#template-save");
        await until("#template-error", /not valid/);
    }],
    ["Custom deployment without the workspace name fails validation and cannot be created", async () => {
        await deploy({ enableNoPublicIp: "true" });
        assert.match(await text("#dep-validation"), /Validation failed.*workspaceName/s);
        assert.ok(await page.isDisabled("#dep-create"));
    }],
    ["temporary rollback with the seed's template (enableNoPublicIp false)", async () => {
        await deploy({ workspaceName: "ws1", enableNoPublicIp: "false" });
        assert.match(await text("#dep-validation"), /Validation Passed/);
        await page.click("#dep-create");
        await until("#op-status", /Your deployment is complete/);
        await page.locator("#dep-resources a", { hasText: "ws1" }).click();
        await until("#ws-npip", /Disabled/);
    }],
    ["the upgrade again with the seed's template, in the editor", async () => {
        await deploy({ workspaceName: "ws1", enableNoPublicIp: "true" });
        await page.click("#dep-create");
        await until("#op-status", /Your deployment is complete/);
        await ws1();
        await until("#ws-npip", /Enabled/);
        await until("#ws-status", /Succeeded/);
    }],
    ["validate: start a node, follow the managed resource group to its VM: no public IP", async () => {
        await blade("compute");
        await page.click("#nodes-start");
        await until("#nodes", /Succeeded/);
        assert.equal(await vmPublicIp(), "");
        assert.match(await text("#vm-private-ip"), /^10\./);
    }],
    ["sign out; a token scoped to ws1 opens ws1 by its id and reaches nothing else", async () => {
        await ws1();
        const id = decodeURIComponent(new URL(page.url()).hash.slice(3)).split("~")[0];
        const tok = execFileSync(SCC_SCCCTL, ["--data-dir", SCC_DATA, "token", "create", "--scope",
                                              "workspace/ws1"]).toString().trim();
        await page.click("#sign-out");
        await page.locator("#token").waitFor();
        await page.fill("#token", tok);
        await page.click("#sign-in");
        await until("main", /scoped to one workspace/);
        await page.fill("#open-id", id);
        await page.click("#open-go");
        await until("#ws-status", /Succeeded/);
        await blade("compute");
        await until("#nodes", /cannot list/);
        await go("#/providers");
        await until("#page-error", /AuthorizationFailed/);
    }],
];

let failed = false;
for (const [name, fn] of steps) {
    try {
        await fn();
        console.log("ok - " + name);
    } catch (e) {
        failed = true;
        console.log("not ok - " + name + "\n" + (e.stack || e));
        console.log("page text:\n" + (await page.locator("body").innerText().catch(() => "?")));
        if (SCC_OUT)
            await page.screenshot({ path: path.join(SCC_OUT, "console-failure.png"), fullPage: true })
                .catch(() => {});
        break;
    }
}
if (errors.length) {
    failed = true;
    console.log("not ok - the page logged errors:\n" + errors.join("\n"));
}
await browser.close();
process.exit(failed ? 1 : 0);
