import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { BUILTIN_PROFILE_DATA } from "../src/model/builtin-profiles.js";
import { BUILTIN_PROFILES, builtinProfile, getParam, loadProfile, withParam } from "../src/model/profiles.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const profileDir = join(root, "profiles");
const files = readdirSync(profileDir)
  .filter((f) => f.endsWith(".json"))
  .sort();

function thrown(f: () => unknown): KexecLabError {
  try {
    f();
  } catch (e) {
    if (e instanceof KexecLabError) return e;
    throw e;
  }
  throw new Error("did not throw");
}

// biome-ignore lint/suspicious/noExplicitAny: the tests break parsed JSON in arbitrary ways
const base = () => structuredClone(BUILTIN_PROFILE_DATA["neoverse-n1-server"]) as Record<string, any>;

describe("shipped profiles", () => {
  it("profiles/*.json and the embedded BUILTIN_PROFILES are identical", () => {
    // UPDATE_PROFILES=1 regenerates src/model/builtin-profiles.ts from profiles/*.json.
    if (process.env.UPDATE_PROFILES === "1") {
      let out =
        "/**\n * The shipped machine profiles as data, so the library works without a file system (browser).\n" +
        " * Generated from profiles/*.json (the documented sources); test/model-profiles.test.ts checks they are\n" +
        " * identical. Regenerate after editing a profile: see docs/model.md.\n */\n\n" +
        "export const BUILTIN_PROFILE_DATA: Record<string, unknown> = {\n";
      for (const f of files) {
        const j = JSON.parse(readFileSync(join(profileDir, f), "utf8"));
        out += `  ${JSON.stringify(f.replace(/\.json$/, ""))}: ${JSON.stringify(j, null, 2).replace(/\n/g, "\n  ")},\n`;
      }
      writeFileSync(join(root, "src/model/builtin-profiles.ts"), `${out}};\n`);
      return;
    }
    expect(Object.keys(BUILTIN_PROFILE_DATA).sort()).toEqual(files.map((f) => f.replace(/\.json$/, "")));
    for (const f of files) {
      const name = f.replace(/\.json$/, "");
      expect(BUILTIN_PROFILE_DATA[name], f).toEqual(JSON.parse(readFileSync(join(profileDir, f), "utf8")));
      expect(BUILTIN_PROFILES[name]!.name).toBe(name);
    }
  });

  it("ships the four machine classes the issue asks for, each with sources", () => {
    for (const name of ["neoverse-n1-server", "thunderx2-server", "cortex-a72-board", "x86_64-server"]) {
      const p = builtinProfile(name);
      expect(p.sources.length).toBeGreaterThan(0);
      expect(p.caches.length).toBeGreaterThanOrEqual(2);
    }
    expect(builtinProfile("x86_64-server").arch).toBe("x86_64");
    expect(builtinProfile("published-25mb").free).toEqual(["uncached.loadNs", "dram.bandwidthGBps"]);
  });

  it("an unknown builtin name lists the known ones", () => {
    const e = thrown(() => builtinProfile("nope"));
    expect(e.code).toBe("E_FIELD_VALUE");
    expect(e.message).toContain("neoverse-n1-server");
  });
});

describe("loadProfile errors name the field", () => {
  it("missing field", () => {
    const p = base();
    delete p.dram.latencyNs;
    const e = thrown(() => loadProfile(p, "my.json"));
    expect(e.code).toBe("E_FIELD_MISSING");
    expect(e.where).toEqual({ file: "my.json", field: "dram.latencyNs" });
  });

  it("wrong type", () => {
    const p = base();
    p.caches[1].ways = "eight";
    const e = thrown(() => loadProfile(p));
    expect(e.code).toBe("E_FIELD_TYPE");
    expect(e.where.field).toBe("caches[1].ways");
  });

  it("bad values", () => {
    const p = base();
    p.dram.bandwidthGBps = -1;
    expect(thrown(() => loadProfile(p)).where.field).toBe("dram.bandwidthGBps");
    const q = base();
    q.lineBytes = 48;
    expect(thrown(() => loadProfile(q)).where.field).toBe("lineBytes");
    const r = base();
    r.caches[0].bytes = 65536 + 64;
    const er = thrown(() => loadProfile(r));
    expect(er.code).toBe("E_FIELD_VALUE");
    expect(er.where.field).toBe("caches[0].bytes");
    const s = base();
    s.free = ["dram.nothing"];
    expect(thrown(() => loadProfile(s)).where.field).toBe("free[0]");
    expect(thrown(() => loadProfile(null)).code).toBe("E_FIELD_TYPE");
  });

  it("property: any non-positive latency or bandwidth is refused with its field", () => {
    const fields = [
      "dram.latencyNs",
      "dram.bandwidthGBps",
      "cpu.ghz",
      "uncached.loadNs",
      "cpu.copyBytesPerCycle",
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...fields),
        fc.double({ max: 0, noNaN: true, noDefaultInfinity: true }),
        (field, v) => {
          const p = base();
          const [a, b] = field.split(".");
          p[a!][b!] = v;
          const e = thrown(() => loadProfile(p));
          expect(e.code).toBe("E_FIELD_VALUE");
          expect(e.where.field).toBe(field);
        },
      ),
    );
  });

  it("property: positive values load and read back through getParam/withParam", () => {
    const p = builtinProfile("thunderx2-server");
    fc.assert(
      fc.property(fc.double({ min: 1e-3, max: 1e4, noNaN: true }), (v) => {
        const q = withParam(p, "dram.latencyNs", v);
        expect(getParam(loadProfile(q), "dram.latencyNs")).toBe(v);
        expect(getParam(p, "dram.latencyNs")).toBe(115);
      }),
    );
  });
});

describe("resolveProfileRefs", () => {
  it("resolves names and inline objects; errors name the entry", async () => {
    const { resolveProfileRefs } = await import("../src/model/profiles.js");
    const inline = base();
    inline.name = "inline";
    const ps = resolveProfileRefs(["cortex-a72-board", inline]);
    expect(ps.map((p) => p.name)).toEqual(["cortex-a72-board", "inline"]);
    const broken = base();
    delete broken.cmo.pocNs;
    const e = thrown(() => resolveProfileRefs(["x86_64-server", broken], "profiles", "s.json"));
    expect(e.code).toBe("E_FIELD_MISSING");
    expect(e.where).toEqual({ field: "profiles[1].cmo.pocNs", file: "s.json" });
    expect(thrown(() => resolveProfileRefs(["nope"])).where.field).toBe("profiles[0]");
  });
});
