/** Edit, Disable/Enable and Delete (after a confirmation), as the list rows and the detail page offer them. */
import { api } from '../api.js';
import { fromEventDestination, type EndpointObject, type EventDestinationObject, type PageContext } from '../context.js';
import { h } from '../dom.js';
import { busy, confirmDialog, notice } from '../ui.js';

export interface ActionHandlers {
  /** After Disable/Enable succeeded, with the endpoint as it is now. */
  toggled(endpoint: EndpointObject): void | Promise<void>;
  deleted(): void;
}

export function endpointActions(ctx: PageContext, endpoint: EndpointObject, n: ReturnType<typeof notice>, on: ActionHandlers): HTMLElement {
  const where = h('span', { class: 'visually-hidden' }, ` ${endpoint.url}`);
  const toggle = h('button', { type: 'button', class: 'button' }, endpoint.status === 'enabled' ? 'Disable' : 'Enable', where.cloneNode(true));
  toggle.addEventListener('click', () =>
    busy(toggle, async () => {
      n.clear();
      try {
        const updated =
          endpoint.type === 'amazon_eventbridge'
            ? fromEventDestination(await api<EventDestinationObject>(ctx.mode, 'POST', `/v2/core/event_destinations/${endpoint.id}/${endpoint.status === 'enabled' ? 'disable' : 'enable'}`))
            : await api<EndpointObject>(ctx.mode, 'POST', `/v1/webhook_endpoints/${endpoint.id}`, { disabled: endpoint.status === 'enabled' ? 'true' : 'false' });
        n.success(updated.status === 'enabled' ? 'Enabled: new events are delivered again.' : 'Endpoint disabled.');
        await on.toggled(updated);
      } catch (err) {
        n.error(err);
      }
    }),
  );
  const remove = h('button', { type: 'button', class: 'button button-danger' }, 'Delete', where.cloneNode(true));
  remove.addEventListener('click', async () => {
    const confirmed = await confirmDialog({
      title: 'Delete this destination?',
      body: h('p', {}, 'Herald stops sending events to ', h('strong', {}, endpoint.url), ' at once and drops its pending deliveries. This cannot be undone.'),
      confirm: 'Delete destination',
      danger: true,
    });
    if (!confirmed) return;
    n.clear();
    try {
      await api(ctx.mode, 'DELETE', endpoint.type === 'amazon_eventbridge' ? `/v2/core/event_destinations/${endpoint.id}` : `/v1/webhook_endpoints/${endpoint.id}`);
      on.deleted();
    } catch (err) {
      n.error(err);
    }
  });
  // The guided form edits webhook endpoints; an EventBridge destination is edited through the v2 API.
  const edit = endpoint.type === 'amazon_eventbridge' ? null : h('a', { class: 'button', href: ctx.link(`endpoints/${endpoint.id}/edit`) }, 'Edit', where);
  return h('div', { class: 'actions' }, edit, toggle, remove);
}
