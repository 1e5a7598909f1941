/**
 * How a diff finding compares the real log with the plan (diff.ts, gates.ts): the same, explained by a
 * known difference, or unexplained. Its own module so diff.ts and gates.ts do not import each other.
 */
export type FindingStatus = "same" | "explained" | "unexplained";
