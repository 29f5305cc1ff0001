/*
 * scc console: one page over sccd's ARM-compatible API, for the portal
 * procedures of the seed document: create a workspace with or without
 * No Public IP, upgrade it (Settings > Networking > Save), deploy a custom
 * template from the editor, follow the managed resource group to a VM and
 * read its public IP, recover from a Failed update.
 *
 * Everything it shows comes from ordinary API calls made with the token
 * the user signs in with (kept in sessionStorage, so it dies with the
 * tab).  Pages are built with DOM calls and textContent only: nothing the
 * API returns is ever parsed as HTML.
 */
"use strict";

(() => {
    const V = { dbx: "2023-02-01", net: "2024-07-01", res: "2021-04-01", vm: "2024-07-01" };
    const RUNNING = new Set(["InProgress", "Accepted", "Running", "Updating", "Creating", "Deleting"]);
    let generation = 0; /* the page being built; older renders are dropped */

    /* ---- DOM ---- */

    function h(tag, attrs, ...kids) {
        const e = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (v === undefined || v === null || v === false)
                continue;
            if (k.startsWith("on"))
                e.addEventListener(k.slice(2), v);
            else if (k === "value")
                e.value = v;
            else if (k === "checked" || k === "disabled" || k === "selected")
                e[k] = true;
            else
                e.setAttribute(k, v === true ? "" : String(v));
        }
        for (const c of kids.flat())
            if (c !== null && c !== undefined && c !== false)
                e.append(c instanceof Node ? c : String(c));
        return e;
    }

    const banner = (kind, ...text) => h("div", { class: "banner " + kind, role: "status" }, ...text);
    const link = (href, text, attrs) => h("a", Object.assign({ href }, attrs || {}), text);
    const resLink = (id, text, attrs) => link("#/r" + id, text || nameOf(id), attrs);

    function props(rows) {
        const dl = h("dl", { class: "props" });
        for (const [label, value, id] of rows)
            dl.append(h("dt", {}, label), h("dd", { id }, value === undefined || value === null ? "" : value));
        return dl;
    }

    function table(head, rows, id) {
        if (!rows.length)
            return h("p", { class: "empty", id }, "None.");
        return h("table", { id }, h("thead", {}, h("tr", {}, head.map(t => h("th", {}, t)))),
                 h("tbody", {}, rows.map(r => h("tr", {}, r.map(c => h("td", {}, c))))));
    }

    function field(label, control, hint) {
        return h("div", { class: "field" }, h("label", { for: control.id }, label), control,
                 hint ? h("div", { class: "hint" }, hint) : null);
    }

    /* A yes/no (or any two-way) choice as radio buttons: ids NAME-VALUE. */
    function choice(name, label, options, current, onchange) {
        return h("div", { class: "field", role: "radiogroup", "aria-label": label },
                 h("span", { class: "label" }, label),
                 h("div", { class: "choices" }, options.map(([value, text]) => h("label", {},
                     h("input", { type: "radio", name, id: name + "-" + value.toLowerCase(), value,
                                  checked: value === current, onchange: () => onchange(value) }),
                     " " + text))));
    }

    function select(id, options, current, onchange) {
        return h("select", { id, onchange: onchange && (e => onchange(e.target.value)) },
                 options.map(([value, text]) => h("option", { value, selected: value === current }, text)));
    }

    /* ---- the API ---- */

    class ApiError extends Error {
        constructor(status, code, message, details) {
            super(message);
            this.status = status;
            this.code = code;
            this.details = details || [];
        }
    }

    const errText = e => e instanceof ApiError ? `${e.code}: ${e.message}` : String(e.message || e);
    const sleep = ms => new Promise(r => setTimeout(r, ms));

    function versionOf(id) {
        const t = id.toLowerCase();
        if (t.includes("/providers/microsoft.databricks/"))
            return V.dbx;
        if (t.includes("/providers/microsoft.network/"))
            return V.net;
        if (t.includes("/providers/microsoft.compute/"))
            return V.vm;
        return V.res;
    }

    /* One call.  Absolute URLs (operation headers) are followed on this
     * origin; the api-version is added when the URL has none. */
    async function api(method, path, body, version) {
        const u = new URL(path, location.origin);
        if (!u.searchParams.has("api-version"))
            u.searchParams.set("api-version", version || versionOf(u.pathname));
        const headers = { Authorization: "Bearer " + sessionStorage.getItem("scc.token") };
        if (body !== undefined)
            headers["Content-Type"] = "application/json";
        const r = await fetch(u.pathname + u.search, {
            method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await r.text();
        let json = null;
        try {
            json = text ? JSON.parse(text) : null;
        } catch (_) { /* not JSON: reported below if it was an error */ }
        if (r.status === 401 && location.hash !== "#/login") {
            sessionStorage.removeItem("scc.token");
            sessionStorage.setItem("scc.next", location.hash);
            location.hash = "#/login";
        }
        if (!r.ok) {
            const e = (json && json.error) || {};
            throw new ApiError(r.status, e.code || "HTTP " + r.status, e.message || text, e.details);
        }
        return { status: r.status, headers: r.headers, json };
    }

    /* Follow a long-running operation to its end; returns its last status
     * body ({status, error?}).  tick(status) reports progress. */
    async function follow(resp, tick) {
        const url = resp.headers.get("Azure-AsyncOperation") || resp.headers.get("Location");
        if (!url)
            return { status: "Succeeded" };
        for (let i = 0;; i++) {
            const r = await api("GET", url);
            const st = r.json && r.json.status;
            if (r.status === 204 || (r.status === 200 && !st))
                return { status: "Succeeded" };
            if (st && !RUNNING.has(st))
                return r.json;
            if (tick)
                tick(st || "InProgress");
            await sleep(Math.min(1000, 150 + 100 * i));
        }
    }

    /* The last operation started from this console on a resource, so that
     * its page can say how it ended (the seed's "status message of the
     * update operation"). */
    const opKey = id => "scc.op:" + id.toLowerCase();
    const rememberOp = (id, resp, what) =>
        sessionStorage.setItem(opKey(id), JSON.stringify({
            url: resp.headers.get("Azure-AsyncOperation") || resp.headers.get("Location"), what }));

    /* ---- ids ---- */

    const nameOf = id => id.split("/").filter(Boolean).pop();
    const segs = id => id.split("/").filter(Boolean);

    function parseId(id) {
        const s = segs(id);
        const out = { sub: s[1], rg: s[3], type: null };
        const p = s.findIndex(x => x.toLowerCase() === "providers");
        if (s.length === 4 && s[2].toLowerCase() === "resourcegroups")
            out.type = "resourcegroup";
        else if (p > 0)
            out.type = (s[p + 1] + "/" + s[p + 2]).toLowerCase();
        return out;
    }

    const rgId = (sub, rg) => `/subscriptions/${sub}/resourceGroups/${rg}`;

    /* ---- subscription ---- */

    async function subscriptions() {
        const r = await api("GET", "/subscriptions", undefined, V.res);
        const subs = (r.json && r.json.value) || [];
        const cur = sessionStorage.getItem("scc.sub");
        if (!subs.some(s => s.subscriptionId === cur) && subs.length)
            sessionStorage.setItem("scc.sub", subs[0].subscriptionId);
        return subs;
    }

    const currentSub = () => sessionStorage.getItem("scc.sub");

    function subSelect(id, subs, onchange) {
        return select(id, subs.map(s => [s.subscriptionId, `${s.displayName} (${s.subscriptionId})`]),
                      currentSub(), v => {
                          sessionStorage.setItem("scc.sub", v);
                          onchange(v);
                      });
    }

    async function groups(sub) {
        const r = await api("GET", `/subscriptions/${sub}/resourcegroups`, undefined, V.res);
        return (r.json && r.json.value) || [];
    }

    /* ---- pages ---- */

    async function pageLogin(show) {
        const input = h("input", { type: "password", id: "token", autocomplete: "off", size: 64 });
        const msg = h("div", { id: "login-error" });
        show(h("h1", {}, "Sign in"),
             h("p", { class: "sub" }, "Paste an API token: the admin token is in DIR/admin.token; " +
               "sccctl token create makes scoped ones."),
             h("form", { onsubmit: async ev => {
                 ev.preventDefault();
                 sessionStorage.setItem("scc.token", input.value.trim());
                 try {
                     await subscriptions();
                 } catch (e) {
                     sessionStorage.removeItem("scc.token");
                     msg.replaceChildren(banner("bad", errText(e)));
                     return;
                 }
                 const next = sessionStorage.getItem("scc.next") || "#/";
                 sessionStorage.removeItem("scc.next");
                 location.hash = next === "#/login" ? "#/" : next;
             } }, field("Token", input), h("button", { class: "primary", id: "sign-in" }, "Sign in")),
             msg);
        input.focus();
    }

    async function pageHome(show) {
        const subs = await subscriptions();
        if (!subs.length)
            return pageScoped(show);
        const sub = currentSub();
        const [ws, rgs] = await Promise.all([
            api("GET", `/subscriptions/${sub}/providers/Microsoft.Databricks/workspaces`),
            groups(sub)]);
        show(h("h1", {}, "Home"),
             field("Subscription", subSelect("home-sub", subs, () => route())),
             h("p", {}, h("button", { class: "primary", onclick: () => { location.hash = "#/create"; } },
                          "Create an Azure Databricks workspace"),
               h("button", { class: "secondary", onclick: () => { location.hash = "#/deploy"; } },
                 "Custom deployment")),
             h("h2", {}, "Azure Databricks workspaces"),
             table(["Name", "Resource group", "Location", "Status", "No Public IP"],
                   ((ws.json && ws.json.value) || []).map(w => [
                       resLink(w.id), parseId(w.id).rg, w.location, w.properties.provisioningState,
                       npipOf(w) ? "Enabled" : "Disabled"]), "home-workspaces"),
             h("h2", {}, "Resource groups"),
             table(["Name", "Location", "Managed by"], rgs.map(g => [
                 resLink(g.id), g.location, g.managedBy ? resLink(g.managedBy) : ""]), "home-groups"));
    }

    /* A token scoped to one workspace sees no subscription: it can only
     * open that workspace, by the id its owner was given with it. */
    function pageScoped(show) {
        const input = h("input", { id: "open-id", size: 100, autocomplete: "off",
                                   placeholder: "/subscriptions/.../workspaces/NAME" });
        show(h("h1", {}, "Home"),
             banner("info", "This token sees no subscription: it is scoped to one workspace. " +
                    "Open the workspace by its resource id."),
             h("form", { onsubmit: ev => {
                 ev.preventDefault();
                 location.hash = "#/r" + input.value.trim();
             } }, field("Workspace resource id", input),
               h("button", { class: "primary", id: "open-go" }, "Open")));
    }

    const npipOf = w => !!(w.properties.parameters && w.properties.parameters.enableNoPublicIp &&
                           w.properties.parameters.enableNoPublicIp.value);

    /* Create an Azure Databricks workspace: Basics, Networking, Review + create. */
    async function pageCreate(show) {
        const subs = await subscriptions();
        const f = { sub: currentSub(), rg: "", rgNew: "", name: "", region: "eastus", tier: "premium",
                    npip: "Yes", vnet: "No", vnetId: "", pub: "", priv: "" };
        const data = { rgs: [], vnets: [] };
        const tabs = ["Basics", "Networking", "Review + create"];
        let tab = 0;
        const body = h("div");
        const bar = h("div", { class: "tabs", role: "tablist" });
        const msg = h("div", { id: "create-result" });

        async function load() {
            const [rgs, vn] = await Promise.all([groups(f.sub), api("GET",
                `/subscriptions/${f.sub}/providers/Microsoft.Network/virtualNetworks`)]);
            data.rgs = rgs.filter(g => !g.managedBy);
            data.vnets = (vn.json && vn.json.value) || [];
            if (!data.rgs.some(g => g.name === f.rg))
                f.rg = data.rgs.length ? data.rgs[0].name : "";
        }

        const subnetsOf = () => {
            const v = data.vnets.find(x => x.id === f.vnetId);
            return v ? (v.properties.subnets || []).map(s => [s.name, s.name]) : [];
        };

        function basics() {
            return [
                field("Subscription", subSelect("create-sub", subs, async v => {
                    f.sub = v;
                    await load();
                    draw();
                })),
                field("Resource group", select("create-rg", [["", "(create new)"]].concat(
                    data.rgs.map(g => [g.name, g.name])), f.rg, v => { f.rg = v; })),
                field("New resource group", h("input", { type: "text", id: "create-rg-new", value: f.rgNew,
                                                         oninput: e => { f.rgNew = e.target.value; } }),
                      "Used when Resource group is (create new)."),
                field("Workspace name", h("input", { type: "text", id: "create-name", value: f.name,
                                                     oninput: e => { f.name = e.target.value; } })),
                field("Region", h("input", { type: "text", id: "create-region", value: f.region,
                                             oninput: e => { f.region = e.target.value; } })),
                field("Pricing Tier", select("create-tier", [["premium", "Premium"], ["standard", "Standard"],
                                                             ["trial", "Trial (Premium - 14 days free DBUs)"]],
                                             f.tier, v => { f.tier = v; }))];
        }

        function networking() {
            const out = [
                choice("npip", "Deploy Azure Databricks workspace with Secure Cluster Connectivity (No Public IP)",
                       [["Yes", "Yes"], ["No", "No"]], f.npip, v => { f.npip = v; }),
                choice("vnet", "Deploy Azure Databricks workspace in your own Virtual Network (VNet)",
                       [["Yes", "Yes"], ["No", "No"]], f.vnet, v => { f.vnet = v; draw(); })];
            if (f.vnet === "Yes") {
                if (!f.vnetId && data.vnets.length)
                    f.vnetId = data.vnets[0].id;
                out.push(field("Virtual Network", select("create-vnet", data.vnets.map(v => [v.id, v.name]),
                                                         f.vnetId, v => { f.vnetId = v; draw(); })));
                const sn = subnetsOf();
                f.pub = sn.some(s => s[0] === f.pub) ? f.pub : (sn[0] || [""])[0];
                f.priv = sn.some(s => s[0] === f.priv) ? f.priv : (sn[1] || sn[0] || [""])[0];
                out.push(field("Public Subnet Name", select("create-pub", sn, f.pub, v => { f.pub = v; })),
                         field("Private Subnet Name", select("create-priv", sn, f.priv, v => { f.priv = v; })));
            }
            return out;
        }

        const groupName = () => f.rg || f.rgNew.trim();

        function review() {
            return [props([
                ["Subscription", f.sub], ["Resource group", groupName() + (f.rg ? "" : " (new)")],
                ["Workspace name", f.name], ["Region", f.region], ["Pricing Tier", f.tier],
                ["Deploy with Secure Cluster Connectivity (No Public IP)", f.npip],
                ["Deploy in your own Virtual Network (VNet)", f.vnet === "Yes" ? nameOf(f.vnetId) : "No"]]),
                h("p", {}, h("button", { class: "primary", id: "create-go", onclick: create }, "Create"))];
        }

        function workspaceBody() {
            const p = { enableNoPublicIp: { value: f.npip === "Yes" } };
            if (f.vnet === "Yes") {
                p.customVirtualNetworkId = { value: f.vnetId };
                p.customPublicSubnetName = { value: f.pub };
                p.customPrivateSubnetName = { value: f.priv };
            }
            return { location: f.region, sku: { name: f.tier }, properties: { parameters: p } };
        }

        async function create(ev) {
            ev.target.disabled = true;
            const g = groupName();
            const id = `${rgId(f.sub, g)}/providers/Microsoft.Databricks/workspaces/${f.name.trim()}`;
            try {
                if (!g || !f.name.trim())
                    throw new Error("A resource group and a workspace name are required.");
                if (!f.rg)
                    await api("PUT", rgId(f.sub, g), { location: f.region }, V.res);
                const r = await api("PUT", id, workspaceBody());
                rememberOp(id, r, "Create");
                await progress(msg, r, id, "Your deployment is complete");
            } catch (e) {
                msg.replaceChildren(banner("bad", errText(e)));
                ev.target.disabled = false;
            }
        }

        function draw() {
            bar.replaceChildren(...tabs.map((t, i) => h("button", {
                id: "tab-" + t.split(" ")[0].toLowerCase(), class: i === tab ? "on" : "", role: "tab",
                onclick: () => { tab = i; draw(); } }, t)));
            body.replaceChildren(...[basics, networking, review][tab]());
        }

        await load();
        draw();
        show(h("h1", {}, "Create an Azure Databricks workspace"), bar, body, msg);
    }

    /* Show an operation's progress in el until it ends. */
    async function progress(el, resp, id, doneText) {
        const line = h("span", { id: "op-status" }, "Deployment is in progress");
        el.replaceChildren(banner("busy", line));
        const st = await follow(resp, s => { line.textContent = "Deployment is in progress (" + s + ")"; });
        if (st.status === "Succeeded") {
            el.replaceChildren(banner("ok", h("span", { id: "op-status" }, doneText), " ",
                                      id ? resLink(id, "Go to resource", { id: "go-resource" }) : ""));
        } else {
            el.replaceChildren(banner("bad", h("span", { id: "op-status" }, st.status), ": ",
                                      h("span", { id: "op-error" }, st.error ? errText(
                                          new ApiError(0, st.error.code, st.error.message)) : "")));
        }
        return st;
    }

    /* ---- one resource ---- */

    async function pageResource(show, id, blade) {
        const t = parseId(id).type;
        const r = await api("GET", id);
        const res = r.json;
        const head = [h("h1", { id: "res-name" }, res.name || nameOf(id)),
                      h("div", { class: "sub", id: "res-type" }, res.type || "Resource group")];
        if (t === "microsoft.databricks/workspaces")
            return show(...head, await workspaceView(id, res, blade));
        if (t === "resourcegroup")
            return show(...head, await groupView(id, res));
        if (t === "microsoft.compute/virtualmachines")
            return show(...head, await vmView(res));
        return show(...head, props([["Location", res.location],
                                    ["Provisioning state", res.properties && res.properties.provisioningState]]),
                    h("h2", {}, "JSON view"), h("pre", { class: "json" }, JSON.stringify(res, null, 2)));
    }

    async function groupView(id, g) {
        const list = await api("GET", id + "/resources");
        return [props([["Location", g.location],
                       ["Managed by", g.managedBy ? resLink(g.managedBy) : ""],
                       ["Lock", g.managedBy ? "Read-only: the workspace's deny assignment refuses changes" : ""]]),
                h("h2", {}, "Resources"),
                table(["Name", "Type", "Location"], ((list.json && list.json.value) || []).map(x => [
                    resLink(x.id), x.type, x.location || ""]), "rg-resources")];
    }

    async function vmView(vm) {
        const nics = await Promise.all(((vm.properties.networkProfile || {}).networkInterfaces || [])
            .map(n => api("GET", n.id).then(x => x.json)));
        const rows = [];
        for (const nic of nics) {
            for (const c of nic.properties.ipConfigurations || []) {
                const pip = c.properties.publicIPAddress;
                const addr = pip ? (await api("GET", pip.id)).json.properties.ipAddress || "" : "";
                rows.push({ nic, ip: c.properties.privateIPAddress, subnet: c.properties.subnet, pip: addr });
            }
        }
        const tags = vm.tags || {};
        return [h("h2", {}, "Properties"),
                props([["Computer name", (vm.properties.osProfile || {}).computerName],
                       ["Status", vm.properties.provisioningState, "vm-status"],
                       ["Size", (vm.properties.hardwareProfile || {}).vmSize],
                       ["Cluster", tags.ClusterName], ["Node", tags["scc-node"]],
                       ["Connectivity", tags["scc-mode"] === "scc" ? "Secure cluster connectivity" :
                                        tags["scc-mode"] === "legacy" ? "Legacy (inbound)" : ""]]),
                h("h2", {}, "Networking"),
                props([["Public IP address", rows.map(x => x.pip).filter(Boolean).join(", "), "vm-public-ip"],
                       ["Private IP address", rows.map(x => x.ip).filter(Boolean).join(", "), "vm-private-ip"],
                       ["Virtual network/subnet", rows.map(x => x.subnet ? subnetText(x.subnet.id) : "")
                                                      .filter(Boolean).join(", ")]]),
                table(["Network interface", "Private IP address", "Public IP address"],
                      rows.map(x => [resLink(x.nic.id), x.ip || "", x.pip || "-"]), "vm-nics")];
    }

    const subnetText = id => {
        const s = segs(id);
        return s[s.length - 3] + "/" + s[s.length - 1];
    };

    /* ---- a workspace: Overview, Settings > Networking, Compute ---- */

    async function workspaceView(id, ws, blade) {
        const blades = [["overview", "Overview"], ["group", "Settings"], ["networking", "Networking"],
                        ["compute", "Compute"]];
        const nav = h("nav", { class: "blades" }, blades.map(([k, text]) => k === "group" ?
            h("div", { class: "group" }, text) :
            link(`#/r${id}~${k}`, text, { id: "blade-" + k, class: (blade || "overview") === k ? "on" : "" })));
        const content = blade === "networking" ? networkingBlade(id, ws)
                        : blade === "compute"  ? await computeBlade(id, ws)
                                               : await overviewBlade(id, ws);
        return h("div", { class: "layout" }, nav, h("div", {}, content));
    }

    async function lastOp(id) {
        const saved = JSON.parse(sessionStorage.getItem(opKey(id)) || "null");
        if (!saved || !saved.url)
            return null;
        try {
            const r = await api("GET", saved.url);
            return Object.assign({ what: saved.what }, r.json || { status: "Succeeded" });
        } catch (_) {
            return null; /* forgotten by the server: nothing to say */
        }
    }

    async function overviewBlade(id, ws) {
        const p = ws.properties, par = p.parameters || {};
        const val = k => par[k] ? par[k].value : "";
        const op = await lastOp(id);
        const out = [];
        if (p.provisioningState === "Failed")
            out.push(banner("bad", h("span", { id: "ws-failed" },
                "The workspace is in the Failed state: it cannot run compute until an update succeeds. " +
                (op && op.error ? `The last ${op.what.toLowerCase()} said: ${errText(new ApiError(0,
                    op.error.code, op.error.message))}. ` : "") +
                "Fix what the message says, then redo the update (Settings > Networking > Save).")));
        else if (op && RUNNING.has(op.status))
            out.push(banner("busy", `${op.what} in progress (${op.status}).`));
        out.push(props([
            ["Status", h("span", { class: "state-" + p.provisioningState }, p.provisioningState), "ws-status"],
            ["Managed Resource Group", p.managedResourceGroupId ? resLink(p.managedResourceGroupId) : "", "ws-mrg"],
            ["URL", p.workspaceUrl ? "https://" + p.workspaceUrl : "", "ws-url"],
            ["Location", ws.location], ["Pricing Tier", ws.sku && ws.sku.name],
            ["Workspace ID", p.workspaceId],
            ["No Public IP (secure cluster connectivity)", npipOf(ws) ? "Enabled" : "Disabled", "ws-npip"],
            ["Virtual network", val("customVirtualNetworkId") ? resLink(val("customVirtualNetworkId")) : "(managed)"],
            ["Public subnet", val("customPublicSubnetName")], ["Private subnet", val("customPrivateSubnetName")],
            ["Public network access", p.publicNetworkAccess], ["Required NSG rules", p.requiredNsgRules]]));
        const msg = h("div");
        out.push(h("p", {}, h("button", { class: "secondary", id: "ws-delete", onclick: async ev => {
            if (!confirm(`Delete workspace ${ws.name} and its managed resource group?`))
                return;
            ev.target.disabled = true;
            try {
                await progress(msg, await api("DELETE", id), null, "Deleted");
            } catch (e) {
                msg.replaceChildren(banner("bad", errText(e)));
            }
        } }, "Delete")), msg);
        return out;
    }

    /* Settings > Networking: the seed's portal upgrade (and its rollback). */
    function networkingBlade(id, ws) {
        const p = ws.properties;
        const f = { npip: npipOf(ws) ? "Yes" : "No", pna: p.publicNetworkAccess || "Enabled",
                    nsg: p.requiredNsgRules || "AllRules" };
        const msg = h("div", { id: "net-result" });
        const save = h("button", { class: "primary", id: "net-save", onclick: async () => {
            save.disabled = true;
            const body = { location: ws.location, sku: ws.sku, tags: ws.tags || {},
                           properties: { managedResourceGroupId: p.managedResourceGroupId,
                                         parameters: { enableNoPublicIp: { value: f.npip === "Yes" } },
                                         publicNetworkAccess: f.pna, requiredNsgRules: f.nsg } };
            try {
                const r = await api("PUT", id, body);
                rememberOp(id, r, "Update");
                const st = await progress(msg, r, null, "Saved: the workspace is updated.");
                if (st.status !== "Succeeded")
                    msg.append(banner("bad", "The workspace is now Failed. Fix what the message says " +
                                      "and click Save again to redo the update."));
            } catch (e) {
                msg.replaceChildren(banner("bad", errText(e)));
            }
            save.disabled = false;
        } }, "Save");
        return [h("h2", {}, "Networking"),
                choice("npip", "Deploy Azure Databricks workspace with Secure Cluster Connectivity (No Public IP)",
                       [["Yes", "Yes"], ["No", "No"]], f.npip, v => { f.npip = v; }),
                choice("pna", "Allow Public Network Access", [["Enabled", "Enabled"], ["Disabled", "Disabled"]],
                       f.pna, v => { f.pna = v; }),
                field("Required NSG Rules", select("nsg-rules", [["AllRules", "All Rules"],
                    ["NoAzureDatabricksRules", "No Azure Databricks Rules"]], f.nsg, v => { f.nsg = v; })),
                h("p", { class: "hint" }, "Changing No Public IP needs VNet injection and no running compute; " +
                  "the update runs as a long operation."),
                save, msg];
    }

    /* Compute: the workspace's nodes (VMs in its network) stand in for
     * clusters: start some, stop them all (the upgrade's step 1). */
    async function computeBlade(id, ws) {
        const mrg = ws.properties.managedResourceGroupId;
        let list;
        try {
            const vms = await api("GET", mrg + "/providers/Microsoft.Compute/virtualMachines");
            list = table(["Name", "Cluster", "Node", "Status"], ((vms.json && vms.json.value) || []).map(v => [
                resLink(v.id), (v.tags || {}).ClusterName || "", (v.tags || {})["scc-node"] || "",
                v.properties.provisioningState]), "nodes");
        } catch (e) {
            /* A token scoped to the workspace may act on it but not read
             * the managed resource group, as in Azure. */
            if (!(e instanceof ApiError && e.status === 403))
                throw e;
            list = h("p", { class: "empty", id: "nodes" }, "This token cannot list the managed " +
                     "resource group's VMs; starting and stopping nodes still works.");
        }
        const count = h("input", { type: "number", id: "nodes-count", value: "1", min: "1", max: "100" });
        const cluster = h("input", { type: "text", id: "nodes-cluster", value: "default" });
        const msg = h("div", { id: "nodes-result" });
        const act = (path, body, doneText) => async ev => {
            ev.target.disabled = true;
            try {
                const r = await api("POST", id + path, body());
                rememberOp(id, r, "Compute operation");
                const st = await progress(msg, r, null, doneText);
                if (st.status === "Succeeded")
                    route();
            } catch (e) {
                msg.replaceChildren(banner("bad", errText(e)));
            }
            ev.target.disabled = false;
        };
        return [h("h2", {}, "Nodes"), list,
                h("h2", {}, "Start nodes"),
                field("Count", count), field("Cluster name", cluster),
                h("p", {}, h("button", { class: "primary", id: "nodes-start", onclick: act("/createNodes",
                    () => ({ count: Number(count.value), clusterName: cluster.value }), "Nodes started.") },
                    "Start"),
                  h("button", { class: "secondary", id: "nodes-stop", onclick: act("/deleteNodes",
                    () => ({ all: true }), "All nodes stopped.") }, "Stop all nodes")),
                msg];
    }

    /* ---- resource providers (Subscription > Resource providers) ---- */

    async function pageProviders(show) {
        const subs = await subscriptions();
        const sub = currentSub();
        const list = ((await api("GET", `/subscriptions/${sub}/providers`, undefined, V.res)).json || {}).value || [];
        const msg = h("div", { id: "providers-result" });
        const action = (ns, verb) => async ev => {
            ev.target.disabled = true;
            try {
                await api("POST", `/subscriptions/${sub}/providers/${ns}/${verb}`, undefined, V.res);
                route();
            } catch (e) {
                msg.replaceChildren(banner("bad", errText(e)));
                ev.target.disabled = false;
            }
        };
        show(h("h1", {}, "Resource providers"),
             field("Subscription", subSelect("providers-sub", subs, () => route())),
             h("p", { class: "sub" }, "Creating or upgrading a workspace with No Public IP needs " +
               "Microsoft.ManagedIdentity registered, once per subscription."),
             table(["Provider", "Status", ""], list.map(p => {
                 const on = p.registrationState === "Registered";
                 return [p.namespace, h("span", { id: "state-" + p.namespace }, p.registrationState),
                         h("button", { class: "secondary", id: (on ? "unregister-" : "register-") + p.namespace,
                                       onclick: action(p.namespace, on ? "unregister" : "register") },
                           on ? "Unregister" : "Register")];
             }), "providers"), msg);
    }

    /* ---- custom deployment ---- */

    function pageDeploy(show) {
        show(h("h1", {}, "Custom deployment"), h("p", { class: "sub" }, "Deploy from a custom template"),
             h("p", {}, link("#/deploy/edit", "Build your own template in the editor", { id: "build-own" })));
    }

    const SKELETON = JSON.stringify({
        $schema: "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        contentVersion: "1.0.0.0", parameters: {}, resources: [] }, null, 2);

    function pageDeployEdit(show) {
        const ta = h("textarea", { id: "template", spellcheck: "false" });
        ta.value = sessionStorage.getItem("scc.template") || SKELETON;
        const msg = h("div", { id: "template-error" });
        show(h("h1", {}, "Edit template"), h("p", { class: "sub" }, "Paste or write an ARM template."), ta,
             h("p", {}, h("button", { class: "primary", id: "template-save", onclick: () => {
                 let t;
                 try {
                     t = JSON.parse(ta.value);
                     if (!t || typeof t !== "object" || !Array.isArray(t.resources))
                         throw new Error("a template is an object with a resources array");
                 } catch (e) {
                     msg.replaceChildren(banner("bad", "The template is not valid: " + e.message));
                     return;
                 }
                 sessionStorage.setItem("scc.template", ta.value);
                 location.hash = "#/deploy/params";
             } }, "Save"), h("button", { class: "secondary", onclick: () => { location.hash = "#/deploy"; } },
                               "Discard")), msg);
    }

    /* One control per template parameter; "" means "use its default". */
    function paramControl(name, def) {
        const id = "p-" + name, type = String(def.type || "string").toLowerCase();
        const dv = def.defaultValue;
        const isExpr = typeof dv === "string" && dv.startsWith("[") && !dv.startsWith("[[");
        if (Array.isArray(def.allowedValues))
            return select(id, def.allowedValues.map(v => [JSON.stringify(v), String(v)]),
                          dv === undefined ? undefined : JSON.stringify(dv));
        if (type === "bool")
            return select(id, [["", dv === undefined ? "(choose)" : "(default)"], ["true", "true"],
                               ["false", "false"]], dv === undefined ? "" : String(dv));
        if (type === "object" || type === "array" || type === "secureobject")
            return h("textarea", { id, style: "min-height:80px", value: dv === undefined ? "" : JSON.stringify(dv) });
        return h("input", { type: type.startsWith("secure") ? "password" : type === "int" ? "number" : "text", id,
                            value: dv === undefined || isExpr ? "" : String(dv),
                            placeholder: isExpr ? dv : "" });
    }

    function paramValue(el, def) {
        const type = String(def.type || "string").toLowerCase(), v = el.value;
        if (v === "")
            return undefined;
        if (Array.isArray(def.allowedValues))
            return JSON.parse(v);
        if (type === "bool")
            return v === "true";
        if (type === "int")
            return Number(v);
        if (type === "object" || type === "array" || type === "secureobject")
            return JSON.parse(v);
        return v;
    }

    async function pageDeployParams(show) {
        const text = sessionStorage.getItem("scc.template");
        if (!text)
            return pageDeploy(show);
        const tpl = JSON.parse(text);
        const subs = await subscriptions();
        const f = { sub: currentSub(), rg: "" };
        const defs = Object.entries(tpl.parameters || {});
        const controls = {};
        const rgBox = h("div");
        const msg = h("div", { id: "dep-validation" });
        const status = h("div", { id: "dep-result" });
        const create = h("button", { class: "primary", id: "dep-create", disabled: true }, "Create");
        let name = "";

        async function loadGroups() {
            const rgs = (await groups(f.sub)).filter(g => !g.managedBy);
            f.rg = rgs.length ? rgs[0].name : "";
            rgBox.replaceChildren(field("Resource group", select("dep-rg", rgs.map(g => [g.name, g.name]), f.rg,
                                                                 v => { f.rg = v; })));
        }

        function parameters() {
            const out = {};
            for (const [k, def] of defs) {
                const v = paramValue(controls[k], def);
                if (v !== undefined)
                    out[k] = { value: v };
            }
            return out;
        }

        const depPath = () => `${rgId(f.sub, f.rg)}/providers/Microsoft.Resources/deployments/${name}`;

        async function validate() {
            create.disabled = true;
            const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
            name = "Microsoft.Template-" + stamp;
            try {
                const body = { properties: { mode: "Incremental", template: tpl, parameters: parameters() } };
                await api("POST", depPath() + "/validate", body, V.res);
                msg.replaceChildren(banner("ok", h("span", { id: "dep-validation-text" }, "Validation Passed")));
                create.disabled = false;
            } catch (e) {
                msg.replaceChildren(banner("bad", h("span", { id: "dep-validation-text" }, "Validation failed"),
                                           ": " + errText(e)));
            }
        }

        create.addEventListener("click", async () => {
            create.disabled = true;
            try {
                const body = { properties: { mode: "Incremental", template: tpl, parameters: parameters() } };
                const r = await api("PUT", depPath(), body, V.res);
                const st = await progress(status, r, null, "Your deployment is complete");
                const dep = (await api("GET", depPath(), undefined, V.res)).json;
                const made = (dep.properties.outputResources || []).map(x => h("li", {}, resLink(x.id)));
                if (made.length)
                    status.append(h("h2", {}, "Deployment details"), h("ul", { id: "dep-resources" }, made));
                for (const d of (st.error && st.error.details) || [])
                    status.append(banner("bad", `${d.code}: ${d.message}` + (d.target ? ` (${d.target})` : "")));
                status.append(h("p", {}, resLink(rgId(f.sub, f.rg), "Go to resource group")));
            } catch (e) {
                status.replaceChildren(banner("bad", errText(e)));
                create.disabled = false;
            }
        });

        const inputs = defs.map(([k, def]) => {
            controls[k] = paramControl(k, def);
            return field(k, controls[k], def.metadata && def.metadata.description);
        });
        await loadGroups();
        show(h("h1", {}, "Custom deployment"),
             h("h2", {}, "Project details"),
             field("Subscription", subSelect("dep-sub", subs, async v => { f.sub = v; await loadGroups(); })),
             rgBox, h("h2", {}, "Instance details"), ...inputs,
             h("p", {}, h("button", { class: "secondary", id: "dep-review", onclick: validate }, "Review + create"),
               create, link("#/deploy/edit", "Edit template")),
             msg, status);
    }

    /* ---- routing ---- */

    const routes = [
        [/^#\/login$/, pageLogin],
        [/^#\/?$/, pageHome],
        [/^#\/create$/, pageCreate],
        [/^#\/providers$/, pageProviders],
        [/^#\/deploy$/, pageDeploy],
        [/^#\/deploy\/edit$/, pageDeployEdit],
        [/^#\/deploy\/params$/, pageDeployParams],
        [/^#\/r(\/[^~]+)(?:~(\w+))?$/, pageResource],
    ];

    async function route() {
        const g = ++generation;
        const main = document.getElementById("main");
        const show = (...nodes) => {
            if (g === generation)
                main.replaceChildren(...nodes.flat(2));
        };
        const hash = location.hash || "#/";
        if (!sessionStorage.getItem("scc.token") && hash !== "#/login") {
            sessionStorage.setItem("scc.next", hash);
            location.hash = "#/login";
            return;
        }
        document.getElementById("who").replaceChildren(...(sessionStorage.getItem("scc.token") ? [
            "signed in · ", h("a", { href: "#/login", id: "sign-out", onclick: () => sessionStorage.clear() },
                              "Sign out")] : []));
        for (const [re, page] of routes) {
            const m = hash.match(re);
            if (!m)
                continue;
            try {
                await page(show, ...m.slice(1).map(x => x && decodeURIComponent(x)));
            } catch (e) {
                show(h("h1", {}, "Something went wrong"), banner("bad", h("span", { id: "page-error" }, errText(e))));
            }
            return;
        }
        show(h("h1", {}, "Not found"), h("p", {}, link("#/", "Home")));
    }

    window.addEventListener("hashchange", route);
    window.addEventListener("DOMContentLoaded", route);
})();
