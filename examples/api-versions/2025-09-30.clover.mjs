// 2025-09-30.clover: a customer's address became one nested object.
//   before (basil): { address_line1: '1 Main St', address_city: 'Paris', address_country: 'FR' }
//   from clover:    { address: { line1: '1 Main St', city: 'Paris', country: 'FR' } }
// `downgrade` turns clover data into basil data (for endpoints pinned to basil); `upgrade` does the
// reverse (for events a publisher still sends in basil). Both receive `{ object, previous_attributes? }`
// and return a new one; Herald passes a private copy, so changing it in place is fine too.

const FIELDS = ['line1', 'city', 'country'];

function flatten(record) {
  if (!record || !('address' in record)) return record;
  const { address, ...rest } = record;
  for (const field of FIELDS) rest[`address_${field}`] = address?.[field] ?? null;
  return rest;
}

function nest(record) {
  if (!record || !FIELDS.some((field) => `address_${field}` in record)) return record;
  const rest = { ...record };
  const address = {};
  for (const field of FIELDS) {
    address[field] = rest[`address_${field}`] ?? null;
    delete rest[`address_${field}`];
  }
  return { ...rest, address };
}

export default {
  description: 'customer.address is a nested object (was address_line1, address_city, address_country)',
  // Only these events carry customers; other events skip this step entirely.
  eventTypes: ['customer.*'],
  downgrade: (data) => ({ ...data, object: flatten(data.object), ...(data.previous_attributes && { previous_attributes: flatten(data.previous_attributes) }) }),
  upgrade: (data) => ({ ...data, object: nest(data.object), ...(data.previous_attributes && { previous_attributes: nest(data.previous_attributes) }) }),
};
