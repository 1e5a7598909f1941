import { fuzzSuite } from "./suite.js";

fuzzSuite("CLI", ["cli-validate", "cli-inspect", "cli-plan", "cli-run"]);
