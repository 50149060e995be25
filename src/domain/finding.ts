/** The shape of a configuration problem: diagnostics/ reports them, grant modules (src/grants) produce some. */

/** `info`: worth knowing, nothing is wrong (a report-only rule that would refuse nobody: it can be enforced). */
export type FindingSeverity = 'error' | 'warning' | 'info';

/** One configuration problem `latchkey doctor` (and the console home page) reports. */
export interface Finding {
  /** Stable id of the kind of problem (diagnostics/findings.ts FINDING_IDS). */
  readonly id: string;
  readonly severity: FindingSeverity;
  readonly title: string;
  /** What is wrong, naming the exact objects (application names and client ids, users, properties, routes). */
  readonly detail: string;
  /** What to change, in words. */
  readonly fix: string;
  /** The CLI command that fixes it (placeholders in <angle brackets> where only the operator can choose). */
  readonly command?: string;
  /** The console route of the object to change, e.g. '#/properties/<name>' or '#/applications/<client id>'. */
  readonly link?: string;
  /** The object concerned: a client id, a user name, a property name, an API, a key id. */
  readonly target?: string;
}
