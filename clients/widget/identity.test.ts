// @vitest-environment jsdom
// Who the visitor is: the page's settings go with StartVisitorSession, a
// later identify call with IdentifyVisitor (as the visitor, with their
// token), and an identity the server refuses does not cost the visitor the
// chat.
import { afterEach, describe, expect, it, vi } from "vitest";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { EngagementState } from "../gen/proactivechat/v1/visitor_pb";
import { VisitorService } from "../gen/proactivechat/v1/visitor_service_pb";
import { installPageAPI, toIdentity, type PageAPI } from "./identity";
import { bearer, clients, Widget, type Auth } from "./widget";

function fakeServer(refuseHash = false) {
  const log: string[] = [];
  const transport = (auth: Auth) =>
    createRouterTransport(
      ({ service }) => {
        service(VisitorService, {
          startVisitorSession(req) {
            const id = req.identity;
            if (refuseHash && id?.identityHash) {
              throw new ConnectError("identity.identity_hash: does not match external_id", Code.InvalidArgument);
            }
            log.push(`start name=${id?.name ?? ""} external=${id?.externalId ?? ""} hash=${id?.identityHash ?? ""} plan=${id?.attributes.plan ?? ""}`);
            return { visitor: { id: "visitor_1" }, token: "pcv_1" };
          },
          identifyVisitor(req, ctx) {
            log.push(`identify ${req.visitorId} as ${req.identity?.name} auth=${ctx.requestHeader.get("Authorization")}`);
            return { visitor: { id: req.visitorId } };
          },
          async *watchVisitor(_req, ctx) {
            yield { event: { case: "state", value: { engagement: EngagementState.BROWSING } } };
            await new Promise<void>((_, reject) =>
              ctx.signal.addEventListener("abort", () => reject(new ConnectError("closed", Code.Canceled))),
            );
          },
        });
      },
      { transport: { interceptors: [bearer(auth)] } },
    );
  return { transport, log };
}

const widgets: Widget[] = [];
afterEach(() => {
  for (const w of widgets.splice(0)) w.stream?.stop();
  vi.restoreAllMocks();
  document.body.replaceChildren();
  localStorage.clear();
});

function newWidget(server: ReturnType<typeof fakeServer>, identity?: unknown) {
  const w = new Widget("site_test", (auth) => clients(server.transport(auth)), toIdentity(identity));
  widgets.push(w);
  return w;
}

describe("toIdentity", () => {
  it("keeps the fields the server knows, as text", () => {
    expect(toIdentity(undefined)).toBeUndefined();
    expect(toIdentity("Jane")).toBeUndefined();
    expect(
      toIdentity({ name: "Jane", external_id: 42, identity_hash: "ab", attributes: { plan: "pro", seats: 3, trial: false, gone: null }, x: 1 }),
    ).toEqual({ name: "Jane", email: "", externalId: "42", identityHash: "ab", attributes: { plan: "pro", seats: "3", trial: "false" } });
  });
});

describe("the page's ProactiveChat", () => {
  it("runs the calls queued before the script loaded, then the later ones", () => {
    const w: PageAPI = {};
    const stub = Object.assign((...c: [string, ...unknown[]]) => void (stub.q ??= []).push(c), { q: undefined as unknown as [string, ...unknown[]][] });
    w.ProactiveChat = stub;
    w.ProactiveChat("identify", { name: "Early" });
    const got: string[] = [];
    installPageAPI(w, { identify: (i) => got.push(i.name ?? ""), attributes: () => {} });
    expect(got).toEqual(["Early"]);
    w.ProactiveChat("identify", { name: "Later" });
    expect(got).toEqual(["Early", "Later"]);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    w.ProactiveChat("boot");
    expect(warn).toHaveBeenCalledOnce();
  });
});

describe("the visitor's identity", () => {
  it("goes with StartVisitorSession, and a later identify with IdentifyVisitor as the visitor", async () => {
    const server = fakeServer();
    const w = newWidget(server, { name: "Jane", externalId: "u-42", identityHash: "ab", attributes: { plan: "pro" } });
    void w.start();
    await vi.waitFor(() => expect(w.visitorId).toBe("visitor_1"));
    expect(server.log).toEqual(["start name=Jane external=u-42 hash=ab plan=pro"]);

    await w.identify({ name: "Jane Doe" });
    expect(server.log[1]).toBe("identify visitor_1 as Jane Doe auth=Bearer pcv_1");
  });

  it("is left out when the server refuses it, so the visitor still gets the chat", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const server = fakeServer(true);
    const w = newWidget(server, { name: "Jane", externalId: "u-42", identityHash: "bad" });
    void w.start();
    await vi.waitFor(() => expect(w.visitorId).toBe("visitor_1"));
    expect(server.log).toEqual(["start name= external= hash= plan="]);
    expect(warn).toHaveBeenCalledWith("proactive chat: the visitor's identity was refused:", expect.stringContaining("identity_hash"));
  });

  it("set before the session starts goes with StartVisitorSession", async () => {
    const server = fakeServer();
    const w = newWidget(server);
    await w.identify({ name: "Early" });
    void w.start();
    await vi.waitFor(() => expect(w.visitorId).toBe("visitor_1"));
    expect(server.log).toEqual(["start name=Early external= hash= plan="]);
  });
});

