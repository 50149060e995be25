// Fastify pre-handler: `latchkey/fastify`, used with Fastify's own types.
import Fastify from 'fastify';
import { latchkeyFastify, type LatchkeyFastify, type VerifiedToken } from 'latchkey/fastify';

const auth: LatchkeyFastify = latchkeyFastify({ issuer: 'https://auth.example.com' });
const app = Fastify();
app.get('/orders', { preHandler: auth.require('orders.read') }, async (req) => {
  const caller: VerifiedToken | undefined = req.latchkey;
  // @ts-expect-error: req.latchkey is a VerifiedToken, not a number
  const wrong: number | undefined = req.latchkey;
  void wrong;
  return { user: caller?.subject };
});
// @ts-expect-error: the options need an issuer
latchkeyFastify({ audience: 'x' });
