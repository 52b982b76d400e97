// 2026-10-28.endive: `amount_cents` was renamed `amount` on charges and payment intents.
//   before (clover): { amount_cents: 2000 }     from endive: { amount: 2000 }

function rename(record, from, to) {
  if (!record || !(from in record)) return record;
  const { [from]: value, ...rest } = record;
  return { ...rest, [to]: value };
}

const both = (data, from, to) => ({
  ...data,
  object: rename(data.object, from, to),
  ...(data.previous_attributes && { previous_attributes: rename(data.previous_attributes, from, to) }),
});

export default {
  description: 'amount_cents is now amount (charges, payment intents)',
  eventTypes: ['charge.*', 'payment_intent.*'],
  downgrade: (data) => both(data, 'amount', 'amount_cents'),
  upgrade: (data) => both(data, 'amount_cents', 'amount'),
};
