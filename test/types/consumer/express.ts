// Express middleware: `latchkey/express`, used with Express's own types.
import express from 'express';
import { latchkeyExpress, TokenRejected, type LatchkeyExpress, type VerifiedToken } from 'latchkey/express';

const auth: LatchkeyExpress = latchkeyExpress({ issuer: 'https://auth.example.com', realm: 'orders' });
const app = express();
app.get('/orders', auth.require('orders.read'), (req, res) => {
  const caller: VerifiedToken | undefined = req.latchkey;
  // @ts-expect-error: req.latchkey is a VerifiedToken, not a number (fails if req were untyped)
  const wrong: number | undefined = req.latchkey;
  void wrong;
  res.json({ user: caller?.subject, client: caller?.clientId, scopes: caller?.scopes });
});
app.get('/health-details', auth.require(), (_req, res) => {
  res.json({ ok: true });
});
export const isRejection = (e: unknown): boolean => e instanceof TokenRejected;
// @ts-expect-error: scopes are strings
auth.require(42);
