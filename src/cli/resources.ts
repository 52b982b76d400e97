import { clientFrom, dataPairs } from './client.js';
import { COMMON_FLAGS, flagsHelp, parseFlags, type FlagSpec, type ParsedFlags } from './flags.js';
import { CliError, formatUnix, Palette, printJson, table, type CliIO } from './output.js';

/** A flag that becomes an API parameter. `array` flags take several values, also comma-separated. */
interface ParamFlag extends FlagSpec {
  param: string;
  array?: boolean;
  /** `--metadata key=value` → `metadata[key]=value`. */
  map?: boolean;
}

/** One API operation from the terminal: `herald <resource> <operation> [id] [flags]`. */
interface Operation {
  summary: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** Needs an object id as first positional. */
  id?: string;
  path: (id: string | undefined, flags: ParsedFlags) => string;
  params?: ParamFlag[];
  /** Extra flags the operation reads itself. */
  flags?: FlagSpec[];
  /** Parameters derived from the flags beyond `params`. */
  extraParams?: (flags: ParsedFlags) => [string, string][];
  human?: (result: any, palette: Palette) => string;
  examples: string[];
}

const DATA_FLAG: FlagSpec = { name: '--data', short: '-d', kind: 'list', value: 'key=value', description: 'Any API parameter, as in the Stripe CLI (e.g. -d enabled_events[]=charge.succeeded).' };
const PAGE_FLAGS: ParamFlag[] = [
  { name: '--limit', kind: 'string', value: 'n', param: 'limit', description: 'Items per page, 1-100 (default 10).' },
  { name: '--starting-after', kind: 'string', value: 'id', param: 'starting_after', description: 'Cursor: items after this id.' },
  { name: '--ending-before', kind: 'string', value: 'id', param: 'ending_before', description: 'Cursor: items before this id.' },
];

const eventsTable = (list: { data: any[] }, palette: Palette) =>
  list.data.length === 0
    ? 'No events.\n'
    : table(
        ['ID', 'TYPE', 'CREATED', 'PENDING', 'ACCOUNT'],
        list.data.map((e) => [e.id, e.type, formatUnix(e.created), String(e.pending_webhooks ?? ''), e.account ?? '']),
        palette,
      );

const endpointsTable = (list: { data: any[] }, palette: Palette) =>
  list.data.length === 0
    ? 'No webhook endpoints.\n'
    : table(
        ['ID', 'URL', 'STATUS', 'EVENTS', 'CONNECT'],
        list.data.map((e) => [e.id, e.url, e.status === 'enabled' ? palette.green(e.status) : palette.red(e.status), (e.enabled_events ?? []).join(','), e.application ? 'yes' : '']),
        palette,
      );

const attemptsTable = (list: { data: any[] }, palette: Palette) =>
  list.data.length === 0
    ? 'No delivery attempts.\n'
    : table(
        ['ID', 'EVENT', 'DESTINATION', 'RESULT', 'CREATED', 'URL'],
        list.data.map((a) => [
          a.id,
          a.event,
          a.webhook_endpoint,
          a.outcome === 'succeeded' ? palette.green(`${a.http_status}`) : palette.red(a.http_status ? `${a.http_status}` : (a.failure_kind ?? 'failed')),
          formatUnix(a.created),
          a.url,
        ]),
        palette,
      );

const endpointParams: ParamFlag[] = [
  { name: '--url', kind: 'string', value: 'url', param: 'url', description: 'Where events are POSTed.' },
  { name: '--enabled-events', short: '-e', kind: 'list', value: 'types', param: 'enabled_events', array: true, description: "Event types (comma-separated or repeated), or '*'." },
  { name: '--description', kind: 'string', value: 'text', param: 'description', description: 'A note for humans.' },
  { name: '--metadata', kind: 'list', value: 'key=value', param: 'metadata', map: true, description: 'Metadata entry.' },
];

const alertsTable = (list: { data: any[] }, palette: Palette) =>
  list.data.length === 0
    ? 'No alerts.\n'
    : table(
        ['ID', 'TYPE', 'ENDPOINT', 'CREATED', 'NOTIFIED', 'URL'],
        list.data.map((a) => [a.id, a.type === 'webhook_endpoint.recovered' ? palette.green(a.type) : palette.red(a.type), a.webhook_endpoint, formatUnix(a.created), a.notification?.status ?? '', a.url]),
        palette,
      );

const alertSettings = (s: { email: string | null; emailed: boolean }) =>
  `Alert address: ${s.email ?? "(none: the operator's HERALD_ALERT_EMAIL)"}\nAlerts are ${s.emailed ? 'emailed' : 'logged and listed only (no SMTP server or no address)'}.\n`;

const RESOURCES: Record<string, { summary: string; operations: Record<string, Operation> }> = {
  alerts: {
    summary: 'Failure alerts about this account\'s endpoints, and where they are emailed',
    operations: {
      list: { summary: 'List alerts, newest first', method: 'GET', path: () => '/v1/webhook_alerts', params: PAGE_FLAGS, human: alertsTable, examples: ['herald alerts list', 'herald alerts list --json'] },
      settings: { summary: "Show the account's alert address", method: 'GET', path: () => '/v1/alert_settings', human: alertSettings, examples: ['herald alerts settings'] },
      'set-email': {
        summary: "Set the account's alert address (--email '' returns to the operator's HERALD_ALERT_EMAIL)",
        method: 'POST',
        path: () => '/v1/alert_settings',
        params: [{ name: '--email', kind: 'string', value: 'address', param: 'email', description: 'Where alerts about this account\'s endpoints are emailed.' }],
        human: alertSettings,
        examples: ['herald alerts set-email --email oncall@example.com', "herald alerts set-email --email ''"],
      },
    },
  },
  events: {
    summary: 'Events published to this account (last 30 days)',
    operations: {
      list: {
        summary: 'List events, newest first',
        method: 'GET',
        path: () => '/v1/events',
        params: [
          ...PAGE_FLAGS,
          { name: '--type', kind: 'string', value: 'type', param: 'type', description: "One type or a pattern with '*' (charge.*)." },
          { name: '--types', kind: 'list', value: 'types', param: 'types', array: true, description: 'Several exact types (comma-separated).' },
          { name: '--delivery-success', kind: 'string', value: 'true|false', param: 'delivery_success', description: 'false: events still pending or failed for some endpoint.' },
          { name: '--created', kind: 'string', value: 'unix', param: 'created', description: 'Created at this second (or -d created[gte]=…).' },
        ],
        human: eventsTable,
        examples: ['herald events list --limit 20', 'herald events list --type "charge.*" --delivery-success false', 'herald events list -d created[gte]=1735689600 --json'],
      },
      retrieve: {
        summary: 'Show one event',
        method: 'GET',
        id: 'evt_…',
        path: (id) => `/v1/events/${encodeURIComponent(id!)}`,
        examples: ['herald events retrieve evt_1NG8Du2eZvKYlo2CUI79vXWy'],
      },
      resend: {
        summary: 'Deliver an event again: to an endpoint, or to the open `herald listen`',
        method: 'POST',
        id: 'evt_…',
        path: (id) => `/v1/events/${encodeURIComponent(id!)}/retry`,
        params: [
          { name: '--webhook-endpoint', kind: 'string', value: 'we_…', param: 'webhook_endpoint', description: 'Endpoint to resend to (default: the running `herald listen`).' },
          { name: '--account', kind: 'string', value: 'acct_…', param: 'account', description: 'Connected account of a Connect event.' },
        ],
        extraParams: (flags) => (flags.strings['--webhook-endpoint'] || (flags.lists['--data'] ?? []).some((d) => d.startsWith('webhook_endpoint=')) ? [] : [['for_stripecli', 'true']]),
        human: (event) => `Resent ${event.id} (${event.type}).\n`,
        examples: ['herald events resend evt_1NG8Du2eZvKYlo2CUI79vXWy', 'herald events resend evt_1NG8Du2eZvKYlo2CUI79vXWy --webhook-endpoint we_1Mr5jULkdIwHu7ix1ibLTM0x'],
      },
    },
  },
  webhook_endpoints: {
    summary: 'Webhook endpoints (event destinations)',
    operations: {
      list: { summary: 'List endpoints', method: 'GET', path: () => '/v1/webhook_endpoints', params: PAGE_FLAGS, human: endpointsTable, examples: ['herald webhook_endpoints list', 'herald webhook_endpoints list --json'] },
      retrieve: { summary: 'Show one endpoint', method: 'GET', id: 'we_…', path: (id) => `/v1/webhook_endpoints/${encodeURIComponent(id!)}`, examples: ['herald webhook_endpoints retrieve we_123'] },
      create: {
        summary: 'Create an endpoint (prints its signing secret)',
        method: 'POST',
        path: () => '/v1/webhook_endpoints',
        params: [
          ...endpointParams,
          { name: '--api-version', kind: 'string', value: 'version', param: 'api_version', description: 'API version of the payloads it receives.' },
          { name: '--connect', kind: 'boolean', param: 'connect', description: "Receive connected accounts' events." },
        ],
        human: (e) => `Created ${e.id} → ${e.url}\nSigning secret: ${e.secret}\n`,
        examples: [
          'herald webhook_endpoints create --url https://example.com/webhook --enabled-events payment_intent.succeeded,charge.refunded',
          'herald webhook_endpoints create -d url=https://example.com/hook -d "enabled_events[]=*"',
        ],
      },
      update: {
        summary: 'Change an endpoint; --disabled true|false disables or re-enables it',
        method: 'POST',
        id: 'we_…',
        path: (id) => `/v1/webhook_endpoints/${encodeURIComponent(id!)}`,
        params: [...endpointParams, { name: '--disabled', kind: 'string', value: 'true|false', param: 'disabled', description: 'Disable or re-enable.' }],
        examples: ['herald webhook_endpoints update we_123 --disabled false', 'herald webhook_endpoints update we_123 --enabled-events "*"'],
      },
      delete: { summary: 'Delete an endpoint', method: 'DELETE', id: 'we_…', path: (id) => `/v1/webhook_endpoints/${encodeURIComponent(id!)}`, human: (r) => `Deleted ${r.id}.\n`, examples: ['herald webhook_endpoints delete we_123'] },
      roll_secret: {
        summary: 'New signing secret; the old one stays valid for --expires-in seconds (≤ 86400)',
        method: 'POST',
        id: 'we_…',
        path: (id) => `/v1/webhook_endpoints/${encodeURIComponent(id!)}/roll_secret`,
        params: [{ name: '--expires-in', kind: 'string', value: 'seconds', param: 'expires_in', description: 'Overlap with the old secret (default 0: now).' }],
        human: (e) => `New signing secret for ${e.id}: ${e.secret}\n`,
        examples: ['herald webhook_endpoints roll_secret we_123 --expires-in 3600'],
      },
      recover: {
        summary: 'Queue undelivered events of a time window again',
        method: 'POST',
        id: 'we_…',
        path: (id) => `/v1/webhook_endpoints/${encodeURIComponent(id!)}/recover`,
        params: [
          { name: '--since', kind: 'string', value: 'unix', param: 'since', description: 'Start of the window (Unix seconds).' },
          { name: '--until', kind: 'string', value: 'unix', param: 'until', description: 'End of the window (default: now).' },
          { name: '--dry-run', kind: 'boolean', param: 'dry_run', description: 'Only count them.' },
        ],
        human: (r) => `${r.dry_run ? 'Would queue' : 'Queued'} ${r.queued} event(s) for ${r.webhook_endpoint}.\n`,
        examples: ['herald webhook_endpoints recover we_123 --since 1735689600 --dry-run'],
      },
    },
  },
  delivery_attempts: {
    summary: 'The delivery log',
    operations: {
      list: {
        summary: 'Attempts of one endpoint or of one event, newest first',
        method: 'GET',
        path: (_id, flags) => {
          const endpoint = flags.strings['--webhook-endpoint'];
          const event = flags.strings['--event'];
          if (Boolean(endpoint) === Boolean(event)) throw new CliError('pass exactly one of --webhook-endpoint we_… or --event evt_…', 2);
          return endpoint ? `/v1/webhook_endpoints/${encodeURIComponent(endpoint)}/delivery_attempts` : `/v1/events/${encodeURIComponent(event!)}/delivery_attempts`;
        },
        flags: [
          { name: '--webhook-endpoint', kind: 'string', value: 'we_…', description: "An endpoint's attempts." },
          { name: '--event', kind: 'string', value: 'evt_…', description: "An event's attempts (endpoints and herald listen)." },
        ],
        params: PAGE_FLAGS,
        human: attemptsTable,
        examples: ['herald delivery_attempts list --event evt_1NG8Du2eZvKYlo2CUI79vXWy', 'herald delivery_attempts list --webhook-endpoint we_123 --limit 50 --json'],
      },
    },
  },
};

export const RESOURCE_NAMES = Object.keys(RESOURCES);

export function resourcesHelpLines(): string[] {
  return Object.entries(RESOURCES).map(([name, r]) => `  ${name}  ${Object.keys(r.operations).join('|')}\n${' '.repeat(15)}${r.summary}`);
}

function resourceHelp(name: string): string {
  const resource = RESOURCES[name]!;
  const ops = Object.entries(resource.operations).map(([op, o]) => `  ${op.padEnd(12)} ${o.summary}`);
  return `Usage: herald ${name} <operation> [id] [flags]\n\n${resource.summary}.\n\nOperations:\n${ops.join('\n')}\n\nRun 'herald ${name} <operation> --help' for its flags and examples.\n`;
}

function operationHelp(name: string, op: string, operation: Operation): string {
  const specs = [...(operation.flags ?? []), ...(operation.params ?? []), DATA_FLAG, ...COMMON_FLAGS];
  return (
    `Usage: herald ${name} ${op}${operation.id ? ` <${operation.id}>` : ''} [flags]\n\n${operation.summary}.\n\nFlags:\n${flagsHelp(specs)}\n\n` +
    `Examples:\n${operation.examples.map((e) => `  ${e}`).join('\n')}\n`
  );
}

/** `herald events|webhook_endpoints|delivery_attempts <operation> …`. */
export async function runResource(name: string, argv: string[], io: CliIO): Promise<number> {
  const resource = RESOURCES[name]!;
  const [op, ...rest] = argv;
  if (!op || op === '--help' || op === '-h' || op === 'help') {
    io.stdout.write(resourceHelp(name));
    return op ? 0 : 2;
  }
  const operation = resource.operations[op];
  if (!operation) throw new CliError(`unknown operation '${op}' for ${name}; expected one of ${Object.keys(resource.operations).join(', ')}`, 2);
  const specs = [...(operation.flags ?? []), ...(operation.params ?? []), DATA_FLAG, ...COMMON_FLAGS];
  const flags = parseFlags(rest, specs);
  if (flags.booleans.has('--help')) {
    io.stdout.write(operationHelp(name, op, operation));
    return 0;
  }
  const id = flags.positionals[0];
  if (operation.id && !id) throw new CliError(`herald ${name} ${op} needs an id (${operation.id})`, 2);
  if (flags.positionals.length > (operation.id ? 1 : 0)) throw new CliError(`unexpected argument '${flags.positionals.at(-1)}'`, 2);
  const client = clientFrom(flags, io);
  try {
    const path = operation.path(id, flags);
    const form = [...paramPairs(operation.params ?? [], flags), ...(operation.extraParams?.(flags) ?? []), ...dataPairs(flags.lists['--data'])];
    const result = await client.request<any>(operation.method, path, { form });
    if (flags.booleans.has('--json') || !operation.human) printJson(io, result);
    else io.stdout.write(operation.human(result, Palette.for(io.stdout, io.env)));
    return 0;
  } finally {
    await client.close();
  }
}

function paramPairs(params: readonly ParamFlag[], flags: ParsedFlags): [string, string][] {
  const pairs: [string, string][] = [];
  for (const spec of params) {
    if (spec.kind === 'boolean') {
      if (flags.booleans.has(spec.name)) pairs.push([spec.param, 'true']);
    } else if (spec.kind === 'list') {
      const values = flags.lists[spec.name] ?? [];
      if (spec.map) {
        for (const entry of values) {
          const eq = entry.indexOf('=');
          if (eq <= 0) throw new CliError(`${spec.name} expects key=value, got '${entry}'`, 2);
          pairs.push([`${spec.param}[${entry.slice(0, eq)}]`, entry.slice(eq + 1)]);
        }
      } else {
        const items = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
        items.forEach((item, i) => pairs.push([`${spec.param}[${i}]`, item]));
      }
    } else if (flags.strings[spec.name] !== undefined) {
      pairs.push([spec.param, flags.strings[spec.name]!]);
    }
  }
  return pairs;
}

