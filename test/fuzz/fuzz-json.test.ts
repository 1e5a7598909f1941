import { fuzzSuite } from "./suite.js";

fuzzSuite("JSON inputs", ["validate", "load", "scenario", "run", "report"]);
