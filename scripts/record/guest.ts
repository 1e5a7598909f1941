/**
 * One recording boot: QEMU run under `setpriv --pdeathsig KILL` with a timeout, and the host side that cuts
 * the console output into the fixture files. The initramfs is src/node/guest/initramfs.ts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, writeFileSync } from "node:fs";
import { M_BEGIN, M_DONE, M_END, M_EXEC } from "../../src/node/guest/initramfs.js";

export {
  buildInitramfs,
  type GuestKexec,
  type GuestPlan,
  initScript,
  M_BEGIN,
  M_DONE,
  M_END,
  M_EXEC,
} from "../../src/node/guest/initramfs.js";

export interface BootResult {
  console: string;
  timedOut: boolean;
  confirmed: boolean;
  confirmNote: string;
  seconds: number;
  /** the console from the loaded kernel's banner on ("" when it did not boot) */
  secondBoot: string;
}

const live = new Set<ChildProcess>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = (): void => {
    for (const c of live) c.kill("SIGKILL");
  };
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/**
 * Run QEMU (killed with its parent through setpriv --pdeathsig KILL, and by us on every exit path) until the
 * guest prints DONE, powers off, the loaded kernel's banner is seen after EXEC, or the timeout. The raw console
 * goes to logFile as it arrives.
 */
export function boot(
  qemu: string,
  args: string[],
  timeoutSec: number,
  crash: boolean,
  logFile: string,
  secondBootSec = 8,
): Promise<BootResult> {
  hookExit();
  writeFileSync(logFile, "");
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", qemu, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    let out = "";
    let timedOut = false;
    let bannerAt = -1;
    let finished = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (!finished) {
        finished = true;
        child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutSec * 1000);
    const onData = (b: Buffer): void => {
      out += b.toString("latin1");
      appendFileSync(logFile, b);
      const ex = execAnchor(out);
      if (ex >= 0 && bannerAt < 0) {
        const m = /Linux version \d/.exec(out.slice(ex));
        if (m) {
          bannerAt = ex + m.index;
          // a few seconds more for the banner's own line and the command line the new kernel prints
          graceTimer = setTimeout(stop, secondBootSec * 1000);
        }
      }
      if (out.includes(`${M_DONE}`) && !out.includes(M_EXEC)) setTimeout(stop, 2000);
      // the loaded kernel gave up (no root: the test initrd has no /init): nothing more will come
      if (bannerAt >= 0 && out.indexOf("---[ end Kernel panic", bannerAt) >= 0) setTimeout(stop, 1000);
      // the loaded kernel's /init printed its DTB (captureNewFdt) and powers off
      if (bannerAt >= 0 && out.indexOf("@@KXL-NEWFDT-END@@", bannerAt) >= 0) setTimeout(stop, 3000);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", () => {
      clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
      live.delete(child);
      finished = true;
      const text = out.replace(/\r/g, "");
      let confirmed = false;
      let note: string;
      let secondBoot = "";
      const ex = execAnchor(text);
      if (ex < 0) note = "not booted: the load failed or confirmation was not asked for";
      else {
        const after = text.slice(ex);
        const b = /^.*Linux version \d.*$/m.exec(after);
        const ret = /@@KXL-EXEC-RETURNED (\d+)@@/.exec(after);
        if (b) {
          confirmed = true;
          const rest = after.slice(b.index);
          secondBoot = rest;
          const cl = /^.*Kernel command line: .*$/m.exec(rest) ?? /^.*Command line: .*$/m.exec(rest);
          note = `${crash ? "after echo c > /proc/sysrq-trigger" : "after kexec -e"} the console showed: ${b[0].trim()}${cl ? ` | ${cl[0].trim()}` : ""}`;
        } else if (ret) note = `kexec -e returned ${ret[1]}; no new kernel`;
        else note = `no new kernel banner within the timeout after ${crash ? "the panic" : "kexec -e"}`;
      }
      resolve({
        console: text,
        timedOut,
        confirmed,
        confirmNote: note,
        seconds: (Date.now() - t0) / 1000,
        secondBoot,
      });
    });
  });
}

/**
 * Where to look for the loaded kernel's banner: right after the last record (kexec_crash_loaded), which /init
 * prints after dmesg (so the running kernel's own "Linux version" line inside dmesg.txt is never taken for it)
 * and before the EXEC marker and the kexec -e / panic. -1 while that record is not complete.
 */
function execAnchor(text: string): number {
  const b = text.indexOf(`${M_BEGIN}kexec_crash_loaded@@`);
  if (b < 0) return -1;
  const e = text.indexOf(M_END, b);
  return e < 0 ? -1 : e + M_END.length;
}

/** Cut the console text into records: name -> content (exactly what was printed between the markers). */
export function records(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  for (;;) {
    const b = text.indexOf(M_BEGIN, pos);
    if (b < 0) break;
    const nl = text.indexOf("@@\n", b + M_BEGIN.length);
    if (nl < 0) break;
    const name = text.slice(b + M_BEGIN.length, nl);
    const start = nl + 3;
    const e = text.indexOf(`\n${M_END}`, start);
    if (e < 0) break;
    out.set(name, text.slice(start, e));
    pos = e + M_END.length + 1;
  }
  return out;
}
