/**
 * Fixed signing vectors shared by the library's tests and Herald's server tests: for each
 * (secret, timestamp, id, body), the exact headers Stripe's and the Standard Webhooks reference
 * libraries produce. The expected values were computed with stripe@23 `generateTestHeaderString`
 * and standardwebhooks@1 `Webhook.sign`, not with Herald's code.
 */
export interface SigningVector {
  name: string;
  /** `whsec_` + base64(32 bytes): valid for both schemes. */
  secret: string;
  timestamp: number;
  /** The Standard Webhooks message id (the event id). */
  id: string;
  body: string;
  expectedStripeSignature: string;
  expectedStandardSignature: string;
}

export const PRIMARY_SECRET = 'whsec_AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw=';
/** A second secret, as during a roll. */
export const ROLLED_SECRET = 'whsec_//r18Ovm4dzX0s3Iw765tK+qpaCblpGMh4J9eHNuaWQ=';

const prettyEventBody =
  '{\n  "id": "evt_1VectorTest000000000001",\n  "object": "event",\n  "api_version": "2026-10-28.endive",\n  "created": 1767225600,\n  "data": {\n    "object": {\n      "id": "pi_123",\n      "object": "payment_intent",\n      "amount": 2000,\n      "currency": "usd",\n      "status": "succeeded"\n    }\n  },\n  "livemode": false,\n  "pending_webhooks": 1,\n  "request": {\n    "id": null,\n    "idempotency_key": null\n  },\n  "type": "payment_intent.succeeded"\n}';

export const SIGNING_VECTORS: readonly SigningVector[] = [
  {
    name: 'pretty-printed event, primary secret',
    secret: PRIMARY_SECRET,
    timestamp: 1767225600,
    id: 'evt_1VectorTest000000000001',
    body: prettyEventBody,
    expectedStripeSignature: 't=1767225600,v1=9e4e28dc7475e09d121f43a684b734c5ff25ebf5181a057761ae8dfca1bee629',
    expectedStandardSignature: 'v1,XhaA3KOVsipAfZlBniRqySfhuUrm5Qja+rud9Ln5uDU=',
  },
  {
    name: 'pretty-printed event, rolled secret',
    secret: ROLLED_SECRET,
    timestamp: 1767225600,
    id: 'evt_1VectorTest000000000001',
    body: prettyEventBody,
    expectedStripeSignature: 't=1767225600,v1=19d13ac21cfb310256140896bdfad1251decef9d59c1cbfc70d9679a77f19d8a',
    expectedStandardSignature: 'v1,THFMzz0XfY38C0FYhepOUqOuf1tIYlmFeazKJN5kxVo=',
  },
  {
    name: 'compact event with non-ASCII UTF-8',
    secret: PRIMARY_SECRET,
    timestamp: 1767225601,
    id: 'evt_1VectorUnicode00000000002',
    body: '{"id":"evt_1VectorUnicode00000000002","object":"event","type":"customer.updated","created":1767225601,"livemode":true,"api_version":null,"data":{"object":{"id":"cus_1","object":"customer","name":"Zoë Café ☕ 日本 🚀"}}}',
    expectedStripeSignature: 't=1767225601,v1=70ba1e64d15114b9da80ece9abc2a62ea80f558f13de7e91643915076cd9990a',
    expectedStandardSignature: 'v1,894CLzRxJin/xv3ISr2BkQGC7zELKBeAVR88bf2XjVk=',
  },
];

/** During a roll Herald signs with every active secret, one signature each, in the order given. */
export const ROLL_VECTOR = {
  secrets: [PRIMARY_SECRET, ROLLED_SECRET] as const,
  timestamp: 1767225600,
  id: 'evt_1VectorTest000000000001',
  body: prettyEventBody,
  expectedStripeSignature:
    't=1767225600,v1=9e4e28dc7475e09d121f43a684b734c5ff25ebf5181a057761ae8dfca1bee629,v1=19d13ac21cfb310256140896bdfad1251decef9d59c1cbfc70d9679a77f19d8a',
  expectedStandardSignature: 'v1,XhaA3KOVsipAfZlBniRqySfhuUrm5Qja+rud9Ln5uDU= v1,THFMzz0XfY38C0FYhepOUqOuf1tIYlmFeazKJN5kxVo=',
};
