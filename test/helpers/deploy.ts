/**
 * The deployment kit of deploy/ as data for tests: the compose file's services (their command and
 * environment, with compose's ${VAR}, ${VAR:-default} and ${VAR:?message} filled in), and the
 * Dockerfile's stages and instructions. test/multi-instance.test.ts starts its instances with the
 * compose file's command and environment; test/deploy.test.ts checks the kit itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './api.js';

export const DEPLOY = join(ROOT, 'deploy');

export interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly dockerfile: string };
  readonly command?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly depends_on?: Readonly<Record<string, { readonly condition: string }>>;
  readonly healthcheck?: { readonly test: readonly string[] };
  readonly volumes?: readonly string[];
  readonly ports?: readonly string[];
}

type YamlParse = (text: string, options: { merge: boolean }) => unknown;
/**
 * The `yaml` package (a dependency of `latchkey export`/`apply`), loaded when first needed: a
 * missing package fails the tests that read the compose file, not the build of every test.
 */
let yamlParse: YamlParse | undefined;

export async function readCompose(): Promise<{ readonly services: Readonly<Record<string, ComposeService>> }> {
  const yamlModule = 'yaml';
  yamlParse ??= ((await import(yamlModule)) as { parse: YamlParse }).parse;
  // Compose files merge YAML anchors with `<<` (YAML 1.1 merge keys).
  return yamlParse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
}

/** Compose's variable substitution: `vars` are what deploy/.env would hold. */
export function interpolate(value: string, vars: Readonly<Record<string, string>>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string | undefined) => {
    const set = vars[name];
    if (set !== undefined && set !== '') return set;
    if (op === '-') return arg ?? '';
    if (op === '?') throw new Error(`compose.yaml needs ${name}: ${arg ?? ''}`);
    return '';
  });
}

/** A service's command and its environment with the variables filled in. */
export async function composeService(name: string, vars: Readonly<Record<string, string>>): Promise<{ readonly command: string[]; readonly environment: Record<string, string> }> {
  const service = (await readCompose()).services[name];
  if (service === undefined) throw new Error(`deploy/compose.yaml has no service ${name}`);
  const environment = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), vars)]));
  return { command: [...(service.command ?? [])], environment };
}

export interface DockerInstruction {
  readonly keyword: string;
  /** The text after the keyword, continuation lines joined. */
  readonly args: string;
  readonly line: number;
}

export interface DockerStage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly DockerInstruction[];
}

/** The Dockerfile's stages: comments dropped, `\` continuations joined (the subset of the syntax deploy/Dockerfile uses). */
export function readDockerfile(file = join(DEPLOY, 'Dockerfile')): DockerStage[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const stages: { from: string; name: string | undefined; instructions: DockerInstruction[] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let text = lines[i] ?? '';
    if (/^\s*(#|$)/.test(text)) continue;
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${(lines[++i] ?? '').trim()}`;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(text);
    if (m === null) throw new Error(`Dockerfile line ${start + 1}: cannot read "${text}"`);
    const keyword = (m[1] as string).toUpperCase();
    const args = (m[2] as string).trim();
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: from?.[1] ?? args, name: from?.[2], instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (stage === undefined) throw new Error(`Dockerfile line ${start + 1}: ${keyword} before FROM`);
      stage.instructions.push({ keyword, args, line: start + 1 });
    }
  }
  return stages;
}

/** An exec-form (JSON array) argument list, or a shell-form command run with sh -c. */
export function commandOf(args: string): string[] {
  return args.startsWith('[') ? (JSON.parse(args) as string[]) : ['sh', '-c', args];
}

/** ENV k=v pairs (values optionally quoted). */
export function envOf(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|(\S*))/g)) out[m[1] as string] = m[3] ?? m[4] ?? '';
  return out;
}
