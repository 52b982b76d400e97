import { readFileSync } from 'node:fs';
import { STRIPE_EVENT_TYPES } from '../domain/stripe-event-types.js';
import { ApiRequestError, clientFrom, type HeraldClient } from './client.js';
import { TRIGGERS } from './fixtures/catalog.js';
import { parseParamEdit, runFixture, validateFixture, type EventToPublish, type FixtureDocument, type PublishedRef } from './fixtures/runner.js';
import { COMMON_FLAGS, flagsHelp, parseFlags, type FlagSpec, type ParsedFlags } from './flags.js';
import { CliError, printJson, type CliIO } from './output.js';

const RUN_FLAGS: FlagSpec[] = [
  { name: '--override', kind: 'list', value: 'step:path=value', description: "Set a parameter of a step (e.g. payment_intent:amount=5000, customer:metadata[plan]=pro)." },
  { name: '--add', kind: 'list', value: 'step:path=value', description: 'Add a parameter to a step.' },
  { name: '--remove', kind: 'list', value: 'step:path', description: 'Remove a parameter from a step.' },
  { name: '--skip', kind: 'list', value: 'step', description: 'Skip a step (and its events).' },
  { name: '--stripe-account', kind: 'string', value: 'acct_…', description: "Publish as a connected account's events (Connect: the event's account field)." },
  { name: '--api-version', kind: 'string', value: 'version', description: 'API version of the published events (default: the account default).' },
];

export const TRIGGER_HELP = `Usage: herald trigger <event type> [flags]

Publishes a realistic scenario through the API: the objects and related events a real
integration produces (payment_intent.succeeded also publishes payment_intent.created and
charge.succeeded). Each step prints "Setting up fixture for:" and "Running fixture for:".

Flags:
${flagsHelp([
  ...RUN_FLAGS,
  { name: '--list', kind: 'boolean', description: 'List the event types that have a scenario.' },
  { name: '--show', kind: 'boolean', description: "Print the scenario as a fixture file (to copy and edit for 'herald fixtures')." },
  ...COMMON_FLAGS,
])}

Examples:
  herald trigger payment_intent.succeeded
  herald trigger customer.subscription.created --override price:unit_amount=4900
  herald trigger charge.refunded --stripe-account acct_1032D82eZvKYlo2C
  herald trigger payment_intent.created --add payment_intent:metadata[order]=6735 --json
  herald trigger invoice.paid --show > my-flow.json && herald fixtures my-flow.json
`;

export const FIXTURES_HELP = `Usage: herald fixtures <file.json> [flags]

Runs a fixture file: steps that build objects (realistic defaults, your params merged over
them) and publish events with them. Later steps reference earlier ones:
  {
    "_meta": { "template_version": 0 },
    "fixtures": [
      { "name": "customer", "object": "customer", "params": { "email": "ada@example.com" },
        "events": ["customer.created"] },
      { "name": "payment_intent", "object": "payment_intent",
        "params": { "customer": "\${customer:id}", "amount": 4200 }, "events": ["payment_intent.created"] },
      { "name": "payment_intent_succeeded", "update": "payment_intent",
        "params": { "status": "succeeded" }, "events": ["payment_intent.succeeded"] }
    ]
  }
"object" builds a new object (customer, payment_intent, charge, refund, dispute, invoice,
subscription, checkout.session, payout, account, …); "update" makes a new version of an
earlier step's object (*.updated events get previous_attributes). Templates: \${step:path}
(\${step:} is the whole object), \${.env:NAME}, \${.time:now}, \${.time:+3600}. An event may
be {"type": …, "account": "acct_…"} for a Connect event.

Flags:
${flagsHelp([...RUN_FLAGS, ...COMMON_FLAGS])}

Examples:
  herald fixtures my-flow.json
  herald fixtures my-flow.json --override payment_intent:amount=999 --json
`;

/** `herald trigger <event type>`. */
export async function trigger(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, [...RUN_FLAGS, { name: '--list', kind: 'boolean', description: '' }, { name: '--show', kind: 'boolean', description: '' }, ...COMMON_FLAGS]);
  if (flags.booleans.has('--help')) {
    io.stdout.write(TRIGGER_HELP);
    return 0;
  }
  if (flags.booleans.has('--list')) {
    const types = Object.keys(TRIGGERS).sort();
    if (flags.booleans.has('--json')) printJson(io, types);
    else io.stdout.write(`${types.map((t) => `${t.padEnd(44)} ${TRIGGERS[t]!._meta?.description ?? ''}`).join('\n')}\n`);
    return 0;
  }
  const [type, ...extra] = flags.positionals;
  if (!type) throw new CliError('which event? herald trigger <event type> (herald trigger --list shows them)', 2);
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`, 2);
  const fixture = TRIGGERS[type];
  if (!fixture) {
    if (!STRIPE_EVENT_TYPES.includes(type)) throw new CliError(`unknown event type '${type}' (herald trigger --list shows the ${Object.keys(TRIGGERS).length} supported)`, 2);
    throw new CliError(`no scenario for '${type}' yet; publish it from a fixture file (herald fixtures --help)`, 2);
  }
  if (flags.booleans.has('--show')) {
    printJson(io, fixture);
    return 0;
  }
  return run(fixture, type, flags, io);
}

/** `herald fixtures <file>`. */
export async function fixtures(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv, [...RUN_FLAGS, ...COMMON_FLAGS]);
  if (flags.booleans.has('--help')) {
    io.stdout.write(FIXTURES_HELP);
    return 0;
  }
  const [file, ...extra] = flags.positionals;
  if (!file) throw new CliError('which file? herald fixtures <file.json>', 2);
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`, 2);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, 2);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${(err as Error).message}`, 2);
  }
  return run(validateFixture(parsed, file), file, flags, io);
}

async function run(doc: FixtureDocument, label: string, flags: ParsedFlags, io: CliIO): Promise<number> {
  const json = flags.booleans.has('--json');
  const client = clientFrom(flags, io);
  const stripeAccount = flags.strings['--stripe-account'];
  if (stripeAccount !== undefined && !/^acct_[A-Za-z0-9]+$/.test(stripeAccount)) throw new CliError(`--stripe-account must be a connected account id (acct_…), got '${stripeAccount}'`, 2);
  const edits = [
    ...(flags.lists['--override'] ?? []).map((t) => parseParamEdit('--override', t, false)),
    ...(flags.lists['--add'] ?? []).map((t) => parseParamEdit('--add', t, false)),
    ...(flags.lists['--remove'] ?? []).map((t) => parseParamEdit('--remove', t, true)),
  ];
  try {
    const published = await runFixture(doc, {
      context: { now: Math.floor(Date.now() / 1000), livemode: client.mode === 'live' },
      env: io.env,
      edits,
      skip: flags.lists['--skip'] ?? [],
      stripeAccount,
      apiVersion: flags.strings['--api-version'],
      publish: (event) => publish(client, event),
      log: (line) => {
        if (!json) io.stdout.write(`${line}\n`);
      },
    });
    if (json) printJson(io, { fixture: label, events: published });
    else {
      io.stdout.write(`Trigger succeeded! Published ${published.length} event${published.length === 1 ? '' : 's'}:\n`);
      for (const event of published) io.stdout.write(`  ${event.type.padEnd(40)} ${event.id}${event.account ? ` (${event.account})` : ''}\n`);
    }
    return 0;
  } finally {
    await client.close();
  }
}

async function publish(client: HeraldClient, event: EventToPublish): Promise<PublishedRef> {
  try {
    const stored = await client.request<{ id: string; type: string; account?: string }>('POST', '/v1/events', { json: event });
    return { id: stored.id, type: stored.type, account: stored.account ?? null };
  } catch (err) {
    if (err instanceof ApiRequestError) throw new CliError(`publishing ${event.type} failed: ${err.message}`);
    throw err;
  }
}
