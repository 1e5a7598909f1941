import { KexecLabError } from "../../src/errors.js";

/** The KexecLabError `f` throws; any other error is rethrown, and returning normally fails the test. */
export function fail(f: () => unknown): KexecLabError {
  try {
    f();
  } catch (e) {
    if (e instanceof KexecLabError) return e;
    throw e;
  }
  throw new Error("expected a KexecLabError");
}
