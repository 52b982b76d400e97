// The reference guide's Sinatra receiver, in Express: verify the raw body, answer 200 at once,
// handle the event after the response, skip redeliveries.
import express from 'express';
import { createWebhookHandler, expressWebhook } from '@herald/webhooks';

// The endpoint's secret: returned when you create it (or printed by `herald listen`).
const endpointSecret = process.env.HERALD_WEBHOOK_SECRET; // 'whsec_...'

const webhooks = createWebhookHandler({
  secret: endpointSecret,
  handlers: {
    'payment_intent.succeeded': (event) => {
      const paymentIntent = event.data.object;
      console.log(`PaymentIntent ${paymentIntent.id} was successful!`);
    },
    'payment_method.attached': (event) => {
      const paymentMethod = event.data.object;
      console.log(`PaymentMethod ${paymentMethod.id} was attached to a Customer!`);
    },
  },
  onUnhandled: (event) => console.log(`Unhandled event type: ${event.type}`),
});

const app = express();
// Mount it before any express.json(): the signature covers the exact bytes received.
app.post('/my/webhook/url', expressWebhook(webhooks));

const server = app.listen(Number(process.env.PORT ?? 4242), () => {
  console.log(`Listening on http://localhost:${server.address().port}/my/webhook/url`);
});
