/** `npm run fuzz -- --minutes N`: see test/fuzz/cli.ts (kept there so tsc checks it). */
import "../test/fuzz/cli.js";
