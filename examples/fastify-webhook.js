// The reference guide's Sinatra receiver, in Fastify: verify the raw body, answer 200 at once,
// handle the event after the response, skip redeliveries.
import Fastify from 'fastify';
import { createWebhookHandler, fastifyWebhook } from '@herald/webhooks';

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

const app = Fastify();
// A plugin: its raw-body parser applies to this route only; other routes keep parsing JSON.
await app.register(fastifyWebhook(webhooks, { path: '/my/webhook/url' }));

const address = await app.listen({ port: Number(process.env.PORT ?? 4242), host: '127.0.0.1' });
console.log(`Listening on ${address}/my/webhook/url`);
