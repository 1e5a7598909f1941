import { fuzzSuite } from "./suite.js";

fuzzSuite("wrapped kernels", ["pe", "signature", "zboot", "decompress", "unwrap"]);
