/**
 * Signatures made in bursts: every JWT asked for during one turn of the event loop is signed at the
 * end of that turn (setImmediate), one after the other, and each caller's promise resolves with its
 * own token.
 *
 * Why: under load the token endpoint reads and parses many requests per turn. Signing each one in
 * the middle of its request interleaves OpenSSL's P-256 code and tables with Node's HTTP parsing,
 * and each signature then starts with a cold cache: measured on the benchmark machine, an ES256
 * signature cost ~28 µs in a loop and ~42 µs inside the server. Signing the turn's tokens together
 * keeps that work warm: +12 % JWT token requests per second in an interleaved A/B run
 * (docs/benchmarks.md). Alone, a request waits for nothing: its turn ends at once.
 *
 * The order of signatures is the order of requests. A signer that throws fails only its own token.
 */

export type SignFn = (claims: Readonly<Record<string, unknown>>) => string;

interface Job {
  readonly sign: SignFn;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly resolve: (token: string) => void;
  readonly reject: (error: unknown) => void;
}

export class SigningTurn {
  private queue: Job[] = [];
  private scheduled = false;
  /** How many bursts were signed and how many tokens they held (for tests and diagnostics). */
  bursts = 0;
  signed = 0;

  sign(sign: SignFn, claims: Readonly<Record<string, unknown>>): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.queue.push({ sign, claims, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.drain);
      }
    });
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const jobs = this.queue;
    this.queue = [];
    this.bursts++;
    this.signed += jobs.length;
    for (const job of jobs) {
      let token: string;
      try {
        token = job.sign(job.claims);
      } catch (error) {
        job.reject(error);
        continue;
      }
      job.resolve(token);
    }
  };
}
