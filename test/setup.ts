/**
 * Property tests run with a fixed fast-check seed, so CI checks the same cases every time and a
 * failure is reproducible. FC_SEED=<n> picks other cases; FC_SEED=random lets fast-check choose.
 */

import fc from "fast-check";

const seed = process.env.FC_SEED;
if (seed !== "random") fc.configureGlobal({ seed: seed === undefined ? 20261125 : Number(seed) });
