import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kexecToolsRemoveParameter, kexecToolsReuseCmdline } from "../src/loader/kexec-tools/cmdline.js";

describe("kexec-tools --reuse-cmdline (get_command_line, remove_parameter)", () => {
  const proc = "BOOT_IMAGE=/vmlinuz root=/dev/vda1 crashkernel=1G,high crashkernel=256M,low quiet\n";

  it("2.0.29 removes the first crashkernel= only; 2.0.32 (39ba2bd) removes every one", () => {
    expect(kexecToolsReuseCmdline(proc, true, "2.0.29")).toBe("root=/dev/vda1 crashkernel=256M,low quiet");
    expect(kexecToolsReuseCmdline(proc, true, "2.0.32")).toBe("root=/dev/vda1 quiet");
  });

  it("a normal load keeps crashkernel=; BOOT_IMAGE goes in every version", () => {
    for (const v of ["2.0.25", "2.0.29", "2.0.32"])
      expect(kexecToolsReuseCmdline(proc, false, v)).toBe(
        "root=/dev/vda1 crashkernel=1G,high crashkernel=256M,low quiet",
      );
  });

  it("gives up when strstr's first hit is inside a word, and cuts a last word where it starts", () => {
    expect(kexecToolsRemoveParameter("x_crashkernel=1 crashkernel=2", "crashkernel", true)).toBe(
      "x_crashkernel=1 crashkernel=2",
    );
    expect(kexecToolsRemoveParameter("quiet crashkernel=256M", "crashkernel", false)).toBe("quiet ");
  });

  it("2.0.32 leaves no crashkernel word at a word start (property)", () => {
    const word = fc.constantFrom("quiet", "crashkernel=64M", "crashkernel=1G,high", "root=/dev/sda", "ro");
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 8 }), (ws) => {
        const out = kexecToolsReuseCmdline(`${ws.join(" ")}\n`, true, "2.0.32");
        expect(out.split(" ").some((w) => w.startsWith("crashkernel"))).toBe(false);
      }),
    );
  });
});
