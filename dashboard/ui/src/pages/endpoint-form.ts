/** The guided form to add an event destination, or edit one. */
import { api } from '../api.js';
import { eventTypes, type EndpointObject, type PageContext } from '../context.js';
import { h, replace, uid } from '../dom.js';
import { busy, field, notice } from '../ui.js';

export async function endpointFormPage(ctx: PageContext, endpointId: string | null): Promise<void> {
  const [existing, catalog, account] = await Promise.all([
    endpointId ? api<EndpointObject>(ctx.mode, 'GET', `/v1/webhook_endpoints/${endpointId}`) : Promise.resolve(null),
    eventTypes(ctx.mode),
    api<{ default_api_version: string }>(ctx.mode, 'GET', '/v1/account'),
  ]);
  if (!ctx.current()) return;
  const n = notice();
  const selected = new Set(existing ? existing.enabled_events.filter((t) => t !== '*') : []);

  const url = h('input', { type: 'url', name: 'url', required: true, value: existing?.url ?? '', placeholder: ctx.mode === 'live' ? 'https://example.com/webhooks' : 'https://example.com/webhooks or http://localhost:4242/webhook', autocomplete: 'off' });
  const description = h('input', { type: 'text', name: 'description', value: existing?.description ?? '', maxlength: '5000', placeholder: 'What this endpoint is for' });
  const apiVersion = h('input', { type: 'text', name: 'api_version', value: existing?.api_version ?? '', placeholder: `Account default (${account.default_api_version})`, pattern: '\\d{4}-\\d{2}-\\d{2}(\\.[a-z]+)?', disabled: Boolean(existing) });
  const scopeName = uid('scope');
  const accountScope = h('input', { type: 'radio', name: scopeName, value: 'account', checked: !existing?.application, disabled: Boolean(existing) });
  const connectScope = h('input', { type: 'radio', name: scopeName, value: 'connect', checked: Boolean(existing?.application), disabled: Boolean(existing) });
  const allName = uid('all');
  const allEvents = h('input', { type: 'radio', name: allName, value: 'all', checked: existing ? existing.enabled_events.includes('*') : false });
  const someEvents = h('input', { type: 'radio', name: allName, value: 'some', checked: existing ? !existing.enabled_events.includes('*') : true });
  const search = h('input', { type: 'search', placeholder: 'e.g. payment_intent or invoice.paid', autocomplete: 'off' });
  const count = h('p', { class: 'muted small', 'aria-live': 'polite' });
  const list = h('div', { class: 'type-list', role: 'group', 'aria-label': 'Event types' });
  const picker = h('div', { class: 'type-picker' }, field('Search event types', search), count, list);

  const renderTypes = () => {
    const q = search.value.trim().toLowerCase();
    const shown = catalog.filter((t) => t.includes(q)).slice(0, 400);
    replace(
      list,
      shown.map((type) => {
        const id = uid('type');
        return h(
          'div',
          { class: 'type-option' },
          h('input', {
            type: 'checkbox',
            id,
            value: type,
            checked: selected.has(type),
            onchange: (e: Event) => {
              if ((e.target as HTMLInputElement).checked) selected.add(type);
              else selected.delete(type);
              updateCount();
            },
          }),
          h('label', { for: id }, type),
        );
      }),
      shown.length === 0 ? h('p', { class: 'muted' }, 'No event type matches.') : null,
    );
  };
  const updateCount = () => {
    count.textContent = `${selected.size} selected${selected.size ? `: ${[...selected].slice(0, 4).join(', ')}${selected.size > 4 ? ', …' : ''}` : ''}`;
  };
  const updatePicker = () => {
    picker.hidden = allEvents.checked;
  };
  search.addEventListener('input', renderTypes);
  allEvents.addEventListener('change', updatePicker);
  someEvents.addEventListener('change', updatePicker);
  renderTypes();
  updateCount();
  updatePicker();

  const submit = h('button', { type: 'submit', class: 'button button-primary' }, existing ? 'Save changes' : 'Add destination');
  const radio = (input: HTMLInputElement, label: string, hint: string) => {
    input.id = uid('r');
    return h('div', { class: 'radio' }, input, h('label', { for: input.id }, h('strong', {}, label), h('span', { class: 'muted small' }, hint)));
  };

  const form = h(
    'form',
    {
      class: 'card form',
      novalidate: true,
      onsubmit: async (e: Event) => {
        e.preventDefault();
        n.clear();
        if (!url.value.trim()) {
          n.info('Enter the URL Herald should send events to.');
          url.focus();
          return;
        }
        if (someEvents.checked && selected.size === 0) {
          n.info('Choose at least one event type, or select “All events”.');
          search.focus();
          return;
        }
        const enabled_events = allEvents.checked ? ['*'] : [...selected];
        try {
          const saved = await busy(submit, () =>
            existing
              ? api<EndpointObject>(ctx.mode, 'POST', `/v1/webhook_endpoints/${existing.id}`, { url: url.value.trim(), description: description.value.trim(), enabled_events })
              : api<EndpointObject>(ctx.mode, 'POST', '/v1/webhook_endpoints', {
                  url: url.value.trim(),
                  description: description.value.trim() || undefined,
                  api_version: apiVersion.value.trim() || undefined,
                  connect: connectScope.checked ? 'true' : undefined,
                  enabled_events,
                }),
          );
          ctx.navigate(ctx.link(`endpoints/${saved.id}`));
        } catch (err) {
          n.error(err);
        }
      },
    },
    h('fieldset', {}, h('legend', {}, '1. Where to send events'), field('Endpoint URL', url, ctx.mode === 'live' ? 'Live mode requires https://.' : 'Herald POSTs each event here as signed JSON.'), field('Description (optional)', description)),
    h(
      'fieldset',
      {},
      h('legend', {}, '2. Which events'),
      h('div', { class: 'radios' }, radio(accountScope, 'Events on your account', 'Published without an account.'), radio(connectScope, 'Events on connected accounts', 'Published with account=acct_…')),
      existing ? h('p', { class: 'hint' }, 'The account scope and API version are fixed once the destination exists.') : null,
      h('div', { class: 'radios' }, radio(allEvents, 'All events', 'Every current and future event type (*).'), radio(someEvents, 'Selected events', 'Only the types you pick below.')),
      picker,
    ),
    h('fieldset', {}, h('legend', {}, '3. Payload version'), field('API version (optional)', apiVersion, 'Events are rendered in this API version; empty means the account default.')),
    n.el,
    h('div', { class: 'actions' }, h('a', { class: 'button', href: existing ? ctx.link(`endpoints/${existing.id}`) : ctx.link('endpoints') }, 'Cancel'), submit),
  );
  replace(ctx.main, h('h1', {}, existing ? 'Edit destination' : 'Add an event destination'), form);
}
