/** The event type and time range filters shared by the deliveries table and the events list. */
import type { Mode } from './api.js';
import { eventTypes } from './context.js';
import { fromLocalInput, h, replace, uid } from './dom.js';
import { field } from './ui.js';

export interface TypeAndTimeFilter {
  type?: string;
  created?: { gte?: number; lt?: number };
}

export function typeAndTimeFields(mode: Mode, typePlaceholder: string) {
  const listId = uid('types');
  const type = h('input', { type: 'text', name: 'type', list: listId, placeholder: typePlaceholder, autocomplete: 'off' });
  const suggestions = h('datalist', { id: listId });
  void eventTypes(mode).then((types) => replace(suggestions, types.map((t) => h('option', { value: t }))));
  const from = h('input', { type: 'datetime-local', name: 'from' });
  const to = h('input', { type: 'datetime-local', name: 'to' });
  return {
    fields: [field('Event type', type), suggestions, field('From', from), field('To', to)],
    /** What the inputs say now, as API parameters (`type`, `created[gte]`, `created[lt]`). */
    read(): TypeAndTimeFilter {
      const filter: TypeAndTimeFilter = {};
      if (type.value.trim()) filter.type = type.value.trim();
      const gte = fromLocalInput(from.value);
      const lt = fromLocalInput(to.value);
      if (gte !== undefined || lt !== undefined) filter.created = { gte, lt };
      return filter;
    },
  };
}
