import { fuzzSuite } from "./suite.js";

fuzzSuite("wrapped kernels", ["pe", "zboot", "decompress", "unwrap"]);
