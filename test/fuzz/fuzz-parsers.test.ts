import { fuzzSuite } from "./suite.js";

fuzzSuite("parsers", ["image", "bzimage", "elf", "fdt", "iomem", "inspect", "plan"]);
