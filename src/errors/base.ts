/**
 * The one style of Latchkey's non-OAuth errors (refusals to a caller are OAuthError, in
 * oauth-error.ts): each class sets `name` to its own, carries a stable `code` where callers branch
 * on it, and passes `cause` through to Error, so the lower error stays on the chain for the log.
 */
export abstract class LatchkeyError extends Error {
  constructor(name: string, message: string, options?: { readonly cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
  }
}

/** A LatchkeyError callers branch on: `code` is stable (scripts and tests match it, messages may change). */
export abstract class CodedError<C extends string> extends LatchkeyError {
  constructor(
    name: string,
    readonly code: C,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(name, message, options);
  }
}
