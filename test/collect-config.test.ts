/**
 * kexec-lab-collect finds the running kernel's config where Debian puts it: /boot/config-$(uname -r) up to
 * 6.x, /usr/lib/modules/$(uname -r)/config from the 7.x packages (linux-base-*, which ship no /boot/config-*),
 * and /lib/modules/$(uname -r)/config on a system without merged /usr. Read through --root on a saved tree.
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseHostGates } from "../src/host/gates.js";
import { testTempDir } from "./helpers/tmp.js";

const COLLECT = fileURLToPath(new URL("../bin/kexec-lab-collect", import.meta.url));
const dir = testTempDir("collect-config");
const REL = "7.3.4+deb13-cloud-amd64";

/** A whole-looking .config (more than 100 items) with the given gate lines. */
const config = (lines: string) =>
  `${Array.from({ length: 150 }, (_, i) => `CONFIG_FILLER_${i}=y`).join("\n")}\n${lines}\n`;

function tree(name: string, files: Record<string, string>): string {
  const root = join(dir, name);
  const base: Record<string, string> = {
    "proc/sys/kernel/osrelease": `${REL}\n`,
    "proc/sys/kernel/arch": "x86_64\n",
    "proc/cmdline": "console=ttyS0\n",
    "proc/cpuinfo": "processor\t: 0\n",
    "sys/kernel/kexec/loaded": "0\n",
    ...files,
  };
  for (const [p, t] of Object.entries(base)) {
    mkdirSync(join(root, p, ".."), { recursive: true });
    writeFileSync(join(root, p), t);
  }
  return root;
}

function collect(root: string, name: string): { out: string; log: string } {
  const out = join(dir, `${name}-out`);
  const r = spawnSync("sh", [COLLECT, "--root", root, out], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return { out, log: readFileSync(join(out, "collect.log"), "utf8") };
}

describe("kexec-lab-collect: where the kernel config is", () => {
  it("reads /usr/lib/modules/R/config (Debian 7.x) when there is no /boot/config-R", () => {
    const root = tree("usr-lib", {
      [`usr/lib/modules/${REL}/config`]: config(
        "CONFIG_KEXEC=y\nCONFIG_KEXEC_FILE=y\nCONFIG_KEXEC_SIG=y\n# CONFIG_KEXEC_SIG_FORCE is not set",
      ),
    });
    const { out } = collect(root, "usr-lib");
    const cfg = readFileSync(join(out, "kernel-config.txt"), "utf8");
    expect(cfg.split("\n")[0]).toBe(`# source: /usr/lib/modules/${REL}/config`);
    expect(cfg).toContain("CONFIG_KEXEC_SIG=y\n");
    expect(cfg).toContain("# CONFIG_KEXEC_SIG_FORCE is not set\n");
    expect(readFileSync(join(out, "kexec-file.txt"), "utf8").trim()).toBe(
      `yes /usr/lib/modules/${REL}/config`,
    );
    // and the gates read it as the config's source
    const g = parseHostGates({ "kernel-config.txt": new TextEncoder().encode(cfg) }, out);
    expect(g.config?.source).toBe(`/usr/lib/modules/${REL}/config`);
    expect(g.config?.values.CONFIG_KEXEC_SIG).toBe("y");
    expect(g.config?.values.CONFIG_KEXEC_SIG_FORCE).toBe("n");
  });
  it("reads /lib/modules/R/config on a system without merged /usr", () => {
    const root = tree("lib", { [`lib/modules/${REL}/config`]: config("# CONFIG_KEXEC_FILE is not set") });
    const { out } = collect(root, "lib");
    expect(readFileSync(join(out, "kernel-config.txt"), "utf8").split("\n")[0]).toBe(
      `# source: /lib/modules/${REL}/config`,
    );
    expect(readFileSync(join(out, "kexec-file.txt"), "utf8").trim()).toBe(`no /lib/modules/${REL}/config`);
  });
  it("prefers /boot/config-R when both are there (Debian 6.x and older)", () => {
    const root = tree("both", {
      [`boot/config-${REL}`]: config("CONFIG_KEXEC_FILE=y"),
      [`usr/lib/modules/${REL}/config`]: config("# CONFIG_KEXEC_FILE is not set"),
    });
    const { out } = collect(root, "both");
    expect(readFileSync(join(out, "kexec-file.txt"), "utf8").trim()).toBe(`yes /boot/config-${REL}`);
  });
  it("a machine not booted through EFI: the log line reads as Secure Boot off", () => {
    const root = tree("no-efi", {});
    const { out, log } = collect(root, "no-efi");
    expect(log).toMatch(/missing secureboot\.txt: .*\/sys\/firmware\/efi does not exist/);
    const g = parseHostGates({ "collect.log": new TextEncoder().encode(log) }, out);
    expect(g.secureBoot?.value).toBe(false);
  });
  it("says where it looked when no config is anywhere", () => {
    const root = tree("none", {});
    const { out, log } = collect(root, "none");
    expect(log).toContain(`usr/lib/modules/${REL}/config`);
    expect(existsSync(join(out, "kernel-config.txt"))).toBe(false);
  });
});
